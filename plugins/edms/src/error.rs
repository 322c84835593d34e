//! Why a МЭДО input was refused: each case names what was wrong and where (the file
//! inside the packet, the line, the element), so that whoever reads the dead letter can
//! tell the sender what to fix.

use std::fmt;

use okno_sdk::prelude::*;

/// A refusal of one input. Nothing of the input is kept when decode fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdmsError {
    /// The XML ends before its root element is closed.
    Truncated { file: String, line: usize },
    /// The XML is not well-formed.
    Malformed {
        file: String,
        line: usize,
        reason: String,
    },
    /// A `<!DOCTYPE …>`: DTDs are never processed, so no entity can be expanded.
    Dtd { file: String, line: usize },
    /// `&name;` with a name no DTD may declare here.
    UndeclaredEntity {
        file: String,
        line: usize,
        name: String,
    },
    /// An element of МЭДО in a namespace that is not МЭДО's.
    WrongNamespace {
        file: String,
        element: String,
        found: String,
        expected: &'static str,
    },
    /// The root element is none this connector reads.
    UnknownRoot { file: String, element: String },
    /// A required element or attribute is missing or empty.
    Missing { file: String, path: String },
    /// A value is there but cannot be read.
    Invalid {
        file: String,
        path: String,
        reason: String,
    },
    /// The bytes contradict the declared encoding and are not UTF-8 either.
    Charset { file: String, reason: String },
    /// A charset this connector cannot read.
    UnknownCharset { file: String, charset: String },
    /// A packet without the document it should carry.
    MissingDocument { packet: String, what: String },
    /// The zip container is broken.
    Zip { packet: String, reason: String },
    /// A bound on the container was passed (entries, sizes, nesting).
    TooLarge { packet: String, what: String },
    /// Input this connector does not read (not XML, not zip).
    NotMedo { reason: String },
}

impl fmt::Display for EdmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdmsError::Truncated { file, line } => write!(
                f,
                "{file}: the XML is truncated: it ends at line {line} before its root element is closed"
            ),
            EdmsError::Malformed { file, line, reason } => {
                write!(f, "{file}:{line}: the XML is not well-formed: {reason}")
            }
            EdmsError::Dtd { file, line } => write!(
                f,
                "{file}:{line}: a DOCTYPE declaration is refused: МЭДО documents have no DTD, and none is processed (no entity expansion, no external entities)"
            ),
            EdmsError::UndeclaredEntity { file, line, name } => write!(
                f,
                "{file}:{line}: the entity reference &{name}; is refused: only the five XML entities and character references are read"
            ),
            EdmsError::WrongNamespace {
                file,
                element,
                found,
                expected,
            } => write!(
                f,
                "{file}: element <{element}> is in namespace `{found}`, not МЭДО's `{expected}`"
            ),
            EdmsError::UnknownRoot { file, element } => write!(
                f,
                "{file}: the root element <{element}> is not a МЭДО communication (xdms:communication) or container passport (container)"
            ),
            EdmsError::Missing { file, path } => {
                write!(f, "{file}: {path} is missing or empty")
            }
            EdmsError::Invalid { file, path, reason } => write!(f, "{file}: {path}: {reason}"),
            EdmsError::Charset { file, reason } => write!(f, "{file}: {reason}"),
            EdmsError::UnknownCharset { file, charset } => write!(
                f,
                "{file} is in an unknown charset ({charset}); МЭДО files are windows-1251 or UTF-8"
            ),
            EdmsError::MissingDocument { packet, what } => {
                write!(f, "the МЭДО packet {packet} is missing its document: {what}")
            }
            EdmsError::Zip { packet, reason } => {
                write!(f, "the zip container {packet} cannot be read: {reason}")
            }
            EdmsError::TooLarge { packet, what } => {
                write!(f, "the zip container {packet} is refused: {what}")
            }
            EdmsError::NotMedo { reason } => write!(f, "not a МЭДО packet or file: {reason}"),
        }
    }
}

impl From<EdmsError> for PluginError {
    fn from(error: EdmsError) -> Self {
        PluginError::invalid_input(error.to_string())
    }
}
