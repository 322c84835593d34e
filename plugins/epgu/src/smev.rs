//! The SMEV 3 message-exchange vocabulary: its namespaces (types 1.1, 1.2 and 1.3), the
//! SOAP envelope around each operation, and SMEV's faults as typed errors.

use std::fmt;

use crate::xml::Element;

pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const XOP: &str = "http://www.w3.org/2004/08/xop/include";

const TYPES_PREFIX: &str = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/";

/// A version of SMEV 3's message-exchange types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V1_1,
    V1_2,
    V1_3,
}

impl Version {
    pub const ALL: [Version; 3] = [Version::V1_1, Version::V1_2, Version::V1_3];

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
        }
    }

    pub fn parse(text: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == text.trim())
    }

    /// `…/types/1.x`: operations and their envelopes' elements.
    pub fn types_ns(self) -> String {
        format!("{TYPES_PREFIX}{}", self.as_str())
    }

    /// `…/types/basic/1.x`: MessagePrimaryContent, attachments, selectors.
    pub fn basic_ns(self) -> String {
        format!("{TYPES_PREFIX}basic/{}", self.as_str())
    }

    /// `…/types/faults/1.x`.
    pub fn faults_ns(self) -> String {
        format!("{TYPES_PREFIX}faults/{}", self.as_str())
    }
}

/// Which part of SMEV's vocabulary a namespace URI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Types,
    Basic,
    Faults,
}

/// The SMEV part and version of a namespace URI, or `None` for any other namespace.
pub fn classify_ns(ns: &str) -> Option<(Part, Version)> {
    let rest = ns.strip_prefix(TYPES_PREFIX)?;
    let (part, version) = match rest.split_once('/') {
        Some(("basic", v)) => (Part::Basic, v),
        Some(("faults", v)) => (Part::Faults, v),
        None => (Part::Types, rest),
        Some(_) => return None,
    };
    Some((part, Version::parse(version)?))
}

pub fn is_smev(element: &Element) -> bool {
    classify_ns(&element.ns).is_some()
}

/// An error SMEV (or the adapter speaking for it) reported: a SOAP fault, or an
/// `AsyncProcessingStatus` saying a message was rejected. `code` is SMEV's: the fault's
/// detail element (`SignatureVerificationFault`, `TargetMessageIsNotFound`, …) or the
/// status category, and `smev_code` the `Code` inside it when SMEV gives one.
#[derive(Debug, Clone, PartialEq)]
pub struct SmevError {
    pub code: String,
    pub smev_code: Option<String>,
    pub description: String,
    /// The message the error is about (`OriginalMessageId`), when SMEV names it.
    pub message_id: Option<String>,
    pub kind: SmevErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmevErrorKind {
    /// A SOAP fault answering the call itself.
    Fault,
    /// An `AsyncProcessingStatus` rejecting an earlier message.
    Rejected,
}

impl SmevError {
    /// Faults that go away on their own: SMEV is busy or a quota refills. The rest need
    /// a person (a signature, a registration, the content).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_str(),
            "DestinationOverflow"
                | "QuoteLimitExceeded"
                | "SMEVFailure"
                | "SystemFailure"
                | "ServiceUnavailable"
        )
    }
}

impl fmt::Display for SmevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SmevErrorKind::Fault => write!(f, "SMEV fault {}", self.code)?,
            SmevErrorKind::Rejected => write!(f, "SMEV rejected the message: {}", self.code)?,
        }
        if let Some(code) = &self.smev_code {
            write!(f, " (code {code})")?;
        }
        if let Some(id) = &self.message_id {
            write!(f, " for message {id}")?;
        }
        if !self.description.is_empty() {
            write!(f, ": {}", self.description)?;
        }
        Ok(())
    }
}

/// Reads a SOAP `Fault` element (SOAP 1.1 or 1.2) with SMEV's detail, if any.
pub fn read_fault(fault: &Element) -> SmevError {
    // SOAP 1.1: faultcode, faultstring, detail. SOAP 1.2: Code/Value, Reason/Text, Detail.
    let faultstring = fault
        .child_text("faultstring")
        .map(str::to_string)
        .or_else(|| {
            fault
                .child("Reason")
                .and_then(|r| r.child_text("Text"))
                .map(str::to_string)
        })
        .unwrap_or_default();
    let faultcode = fault
        .child_text("faultcode")
        .map(str::to_string)
        .or_else(|| {
            fault
                .child("Code")
                .and_then(|c| c.child_text("Value"))
                .map(str::to_string)
        });
    let detail = fault
        .child("detail")
        .or_else(|| fault.child("Detail"))
        .and_then(|d| d.children.first());
    match detail {
        Some(detail) => {
            let description = detail
                .child_text("Description")
                .map(str::to_string)
                .unwrap_or(faultstring);
            SmevError {
                code: detail.name.clone(),
                smev_code: detail.child_text("Code").map(str::to_string),
                description: bounded(&description),
                message_id: None,
                kind: SmevErrorKind::Fault,
            }
        }
        None => SmevError {
            code: faultcode
                .map(|c| c.rsplit(':').next().unwrap_or(&c).to_string())
                .unwrap_or_else(|| "Fault".into()),
            smev_code: None,
            description: bounded(&faultstring),
            message_id: None,
            kind: SmevErrorKind::Fault,
        },
    }
}

/// Text from outside, cut so that an error message stays readable.
pub fn bounded(text: &str) -> String {
    const MAX: usize = 500;
    let text = text.trim();
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_namespaces() {
        assert_eq!(
            classify_ns("urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2"),
            Some((Part::Basic, Version::V1_2))
        );
        assert_eq!(
            classify_ns("urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3"),
            Some((Part::Types, Version::V1_3))
        );
        assert_eq!(
            classify_ns("urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.4"),
            None
        );
        assert_eq!(classify_ns("urn:other"), None);
    }
}
