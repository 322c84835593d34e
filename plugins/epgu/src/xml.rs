//! XML read into a small tree with namespaces resolved, and nothing else: no DTD is
//! processed at all. A DOCTYPE is refused outright, so neither an entity bomb (billion
//! laughs) nor an external entity can be declared; a reference to any entity but the
//! five predefined ones and character references is an error, never an expansion.
//!
//! The bytes are read as UTF-8 when they are valid UTF-8, whatever the declaration says
//! (SMEV 3 is UTF-8; a declaration that contradicts the bytes is reported as a warning),
//! and by the declared charset only when they are not.

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

/// Deeper than any SMEV envelope with its payload; a guard against a stack of
/// thousands of nested elements.
pub const MAX_DEPTH: usize = 128;
/// Elements in one document: a 10 MB envelope of real data holds far fewer.
pub const MAX_ELEMENTS: usize = 200_000;

/// One element: its namespace URI (empty when unbound), local name, attributes by local
/// name, child elements, and its own text (child text not included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
    /// Byte offset of the start tag in the document, for error messages.
    pub at: u64,
}

impl Element {
    /// The value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements with this local name, in any namespace.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child element with this local name, in any namespace.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of the first child with this local name, if not empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Every element below this one, depth first, with itself first.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            out.push(e);
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// `{ns}name`, as errors show it.
    pub fn qualified(&self) -> String {
        if self.ns.is_empty() {
            self.name.clone()
        } else {
            format!("{{{}}}{}", self.ns, self.name)
        }
    }
}

/// Why a document could not be read. Each says what and where (byte offset, and the
/// path of elements open there).
#[derive(Debug, Clone, PartialEq)]
pub enum XmlError {
    /// Nothing but whitespace.
    Empty,
    /// A DOCTYPE: DTDs are not processed, so the document is refused.
    Doctype { at: u64 },
    /// A reference to an entity other than `lt`, `gt`, `amp`, `apos`, `quot`.
    UndeclaredEntity { name: String, at: u64, path: String },
    /// The document ends with elements (or a tag) still open.
    Truncated { open: String, at: u64, path: String },
    /// Deeper than [`MAX_DEPTH`] or more elements than [`MAX_ELEMENTS`].
    TooLarge { what: String, at: u64, path: String },
    /// A namespace prefix that is not declared.
    UnboundPrefix {
        prefix: String,
        at: u64,
        path: String,
    },
    /// Not well-formed XML.
    Syntax {
        detail: String,
        at: u64,
        path: String,
    },
    /// The bytes are not UTF-8 and not in the declared charset either.
    Encoding { detail: String },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = |f: &mut fmt::Formatter<'_>, at: &u64, path: &str| {
            if path.is_empty() {
                write!(f, " at byte {at}")
            } else {
                write!(f, " at byte {at}, inside {path}")
            }
        };
        match self {
            XmlError::Empty => write!(f, "the input is empty: no XML document"),
            XmlError::Doctype { at } => write!(
                f,
                "a DOCTYPE declaration at byte {at} is refused: DTDs are not processed (no entity \
                 declarations, no external entities); SMEV envelopes never carry one"
            ),
            XmlError::UndeclaredEntity { name, at, path } => {
                write!(
                    f,
                    "reference to entity `&{name};` is refused: only the five predefined XML \
                     entities and character references are read"
                )?;
                place(f, at, path)
            }
            XmlError::Truncated { open, at, path } => write!(
                f,
                "the XML is truncated at byte {at}: it ends with <{open}> still open (inside {path})"
            ),
            XmlError::TooLarge { what, at, path } => {
                write!(f, "the XML is too large: {what}")?;
                place(f, at, path)
            }
            XmlError::UnboundPrefix { prefix, at, path } => {
                write!(f, "namespace prefix `{prefix}` is not declared")?;
                place(f, at, path)
            }
            XmlError::Syntax { detail, at, path } => {
                write!(f, "malformed XML: {detail}")?;
                place(f, at, path)
            }
            XmlError::Encoding { detail } => write!(f, "unreadable characters: {detail}"),
        }
    }
}

impl std::error::Error for XmlError {}

/// A document read as UTF-8, with a warning when its declaration said otherwise.
#[derive(Debug)]
pub struct Text<'a> {
    pub text: Cow<'a, str>,
    /// E.g. "declared encoding windows-1251, but the bytes are valid UTF-8: read as UTF-8".
    pub warning: Option<String>,
}

/// Reads the bytes as text: UTF-8 when they are valid UTF-8 (a BOM dropped), else the
/// charset the XML declaration names, else an error naming the first bad byte.
pub fn decode_text(bytes: &[u8]) -> Result<Text<'_>, XmlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let declared = declared_encoding(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let warning = declared
                .filter(|d| {
                    let agrees = d.eq_ignore_ascii_case("utf-8")
                        || d.eq_ignore_ascii_case("utf8")
                        || (d.eq_ignore_ascii_case("us-ascii") && text.is_ascii());
                    !agrees
                })
                .map(|d| {
                    format!("declared encoding `{d}`, but the bytes are valid UTF-8: read as UTF-8")
                });
            Ok(Text {
                text: Cow::Borrowed(text),
                warning,
            })
        }
        Err(e) => {
            let bad = e.valid_up_to();
            let Some(label) = declared else {
                return Err(XmlError::Encoding {
                    detail: format!(
                        "the bytes are not valid UTF-8 (first bad byte at {bad}) and the XML \
                         declaration names no other encoding"
                    ),
                });
            };
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
                .filter(|e| *e != encoding_rs::UTF_8)
                .ok_or_else(|| XmlError::Encoding {
                    detail: format!(
                        "the bytes are not valid UTF-8 (first bad byte at {bad}) and the declared \
                         encoding `{label}` is {}",
                        if label.to_ascii_lowercase().starts_with("utf") {
                            "UTF-8 too"
                        } else {
                            "not one this connector knows"
                        }
                    ),
                })?;
            let text = encoding
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or_else(|| XmlError::Encoding {
                    detail: format!("the bytes are neither UTF-8 nor valid `{label}`"),
                })?;
            Ok(Text {
                text: Cow::Owned(text.into_owned()),
                warning: None,
            })
        }
    }
}

/// The `encoding` of an XML declaration at the very start, read from ASCII bytes.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = bytes.get(..bytes.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = false;
    config.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let path = |stack: &[Element]| -> String {
        stack
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join("/")
    };

    loop {
        let at = reader.buffer_position();
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (namespace_of(resolved), event),
            Err(e) => {
                let detail = e.to_string();
                let at = reader.error_position();
                // A tag or comment cut off by the end of the input: the document was cut.
                if detail.contains("end of input") {
                    if let Some(open) = stack.last() {
                        return Err(XmlError::Truncated {
                            open: open.name.clone(),
                            at,
                            path: path(&stack),
                        });
                    }
                }
                return Err(XmlError::Syntax {
                    detail,
                    at,
                    path: path(&stack),
                });
            }
        };
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype { at }),
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::Syntax {
                    detail: "content after the root element".into(),
                    at,
                    path: String::new(),
                });
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge {
                        what: format!("more than {MAX_ELEMENTS} elements"),
                        at,
                        path: path(&stack),
                    });
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooLarge {
                        what: format!("elements nested deeper than {MAX_DEPTH}"),
                        at,
                        path: path(&stack),
                    });
                }
                let local = start.local_name().as_ref().to_string();
                let ns = match resolved {
                    Ok(ns) => ns,
                    Err(prefix) => {
                        return Err(XmlError::UnboundPrefix {
                            prefix,
                            at,
                            path: path(&stack),
                        })
                    }
                };
                let mut element = Element {
                    ns,
                    name: local,
                    at,
                    ..Element::default()
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| XmlError::Syntax {
                        detail: format!("attribute of <{}>: {e}", element.name),
                        at,
                        path: path(&stack),
                    })?;
                    let key: &str = attr.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| {
                            entity_error(&e.to_string(), at, &path(&stack), &element.name)
                        })?;
                    let name = attr.key.local_name().as_ref().to_string();
                    element.attrs.push((name, value.into_owned()));
                }
                if matches!(event, Event::Empty(_)) {
                    close(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| XmlError::Syntax {
                    detail: "a closing tag without an opening one".into(),
                    at,
                    path: String::new(),
                })?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Syntax {
                            detail: "text outside the root element".into(),
                            at,
                            path: String::new(),
                        })
                    }
                }
            }
            Event::CData(t) => {
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        name => {
                            return Err(XmlError::UndeclaredEntity {
                                name: name.chars().take(64).collect(),
                                at,
                                path: path(&stack),
                            })
                        }
                    },
                    Err(e) => {
                        return Err(XmlError::Syntax {
                            detail: format!("bad character reference `&{};`: {e}", &*r),
                            at,
                            path: path(&stack),
                        })
                    }
                };
                match stack.last_mut() {
                    Some(open) => open.text.push(c),
                    None => {
                        return Err(XmlError::Syntax {
                            detail: "a reference outside the root element".into(),
                            at,
                            path: String::new(),
                        })
                    }
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::Truncated {
            open: open.name.clone(),
            at: text.len() as u64,
            path: path(&stack),
        });
    }
    root.ok_or(XmlError::Syntax {
        detail: "no root element".into(),
        at: 0,
        path: String::new(),
    })
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// The namespace URI of a resolved name, or the unknown prefix.
fn namespace_of(resolved: ResolveResult<'_>) -> Result<String, String> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(ns.0.to_string()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(prefix),
    }
}

/// An attribute value's unescaping failed: an undeclared entity or a bad reference.
fn entity_error(detail: &str, at: u64, path: &str, element: &str) -> XmlError {
    if let Some(name) = detail
        .split('`')
        .nth(1)
        .filter(|_| detail.contains("nrecognized") || detail.contains("entity"))
    {
        return XmlError::UndeclaredEntity {
            name: name.trim_matches(|c| c == '&' || c == ';').to_string(),
            at,
            path: format!("{path}/{element}@attribute"),
        };
    }
    XmlError::Syntax {
        detail: format!("attribute of <{element}>: {detail}"),
        at,
        path: path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_text_and_attributes() {
        let root = parse(
            r#"<?xml version="1.0"?><a:r xmlns:a="urn:a" xmlns="urn:d"><b id="1">x &amp; y &#1046;</b><c/></a:r>"#,
        )
        .unwrap();
        assert_eq!((root.ns.as_str(), root.name.as_str()), ("urn:a", "r"));
        let b = root.child("b").unwrap();
        assert_eq!(b.ns, "urn:d");
        assert_eq!(b.text, "x & y Ж");
        assert_eq!(b.attr("id"), Some("1"));
        assert!(root.child("c").is_some());
    }

    #[test]
    fn refuses_doctype_entities_and_truncation() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert!(matches!(parse(bomb), Err(XmlError::Doctype { .. })));
        let undeclared = parse("<a><b>&xxe;</b></a>").unwrap_err();
        assert!(
            matches!(&undeclared, XmlError::UndeclaredEntity { name, path, .. } if name == "xxe" && path == "a/b"),
            "{undeclared:?}"
        );
        let cut = parse("<a><b><c>text").unwrap_err();
        assert!(
            matches!(&cut, XmlError::Truncated { open, path, .. } if open == "c" && path == "a/b/c"),
            "{cut:?}"
        );
        assert!(matches!(parse("<a><b></a>"), Err(XmlError::Syntax { .. })));
        assert!(matches!(
            parse("<x:a/>"),
            Err(XmlError::UnboundPrefix { .. })
        ));
    }

    #[test]
    fn reads_utf8_bytes_despite_a_wrong_declaration() {
        let bytes = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Привет</a>".as_bytes();
        let text = decode_text(bytes).unwrap();
        assert!(text.warning.unwrap().contains("windows-1251"));
        assert_eq!(parse(&text.text).unwrap().text, "Привет");
        let cp1251 = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>\xcf\xf0\xe8</a>";
        let text = decode_text(cp1251).unwrap();
        assert!(text.warning.is_none());
        assert_eq!(parse(&text.text).unwrap().text, "При");
        assert!(matches!(
            decode_text(b"<a>\xff</a>"),
            Err(XmlError::Encoding { .. })
        ));
    }
}
