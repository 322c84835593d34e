//! A bounded XML tree read with quick-xml, with no DTD processing at all: a DOCTYPE is
//! refused where it stands, and an entity reference other than the five predefined
//! ones (and character references) is refused, so neither an entity bomb nor an
//! external entity can be expanded.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::error::EdmsError;

/// Deepest nesting read; МЭДО documents nest about ten deep.
const MAX_DEPTH: usize = 64;
/// Most elements read from one file; a real passport has about a hundred.
const MAX_ELEMENTS: usize = 100_000;

/// One element: its namespace, local name, attributes, text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI; empty when the name is in none.
    pub ns: String,
    pub name: String,
    /// (local name, value); attributes of any namespace (МЭДО prefixes them).
    pub attrs: Vec<(String, String)>,
    /// The element's own text, all its text nodes joined.
    pub text: String,
    pub children: Vec<Element>,
    /// Line the element starts on, for errors.
    pub line: usize,
}

impl Element {
    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The trimmed text at a `/`-separated path of local names below this element.
    pub fn text_at(&self, path: &str) -> Option<String> {
        let mut element = self;
        for step in path.split('/').filter(|s| !s.is_empty()) {
            element = element.child(step)?;
        }
        let text = collapse(&element.text);
        (!text.is_empty()).then_some(text)
    }

    /// Every leaf below this element as (path, text), paths of local names joined by `/`.
    pub fn leaves(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        fn walk(element: &Element, prefix: &str, out: &mut Vec<(String, String)>) {
            for child in &element.children {
                let path = if prefix.is_empty() {
                    child.name.clone()
                } else {
                    format!("{prefix}/{}", child.name)
                };
                let text = collapse(&child.text);
                if !text.is_empty() {
                    out.push((path.clone(), text));
                }
                walk(child, &path, out);
            }
        }
        walk(self, "", &mut out);
        out
    }
}

/// Whitespace runs (line breaks, indentation inside a value) as one space, trimmed.
pub fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses `text` (already in UTF-8) into its root element.
pub fn parse(text: &str, file: &str) -> Result<Element, EdmsError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let line_at = |pos: u64| -> usize {
        let pos = (pos as usize).min(text.len());
        text.as_bytes()[..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let before = reader.buffer_position();
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (namespace_of(&ns), event),
            Err(e) => {
                let line = line_at(reader.error_position());
                if stack.is_empty() && root.is_none() && is_eof_error(&e) {
                    return Err(EdmsError::Truncated {
                        file: file.into(),
                        line,
                    });
                }
                if !stack.is_empty() && is_eof_error(&e) {
                    return Err(EdmsError::Truncated {
                        file: file.into(),
                        line,
                    });
                }
                return Err(EdmsError::Malformed {
                    file: file.into(),
                    line,
                    reason: e.to_string(),
                });
            }
        };
        match event {
            Event::DocType(_) => {
                return Err(EdmsError::Dtd {
                    file: file.into(),
                    line: line_at(before),
                })
            }
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(EdmsError::Malformed {
                    file: file.into(),
                    line: line_at(before),
                    reason: "content after the root element".into(),
                });
            }
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(EdmsError::Malformed {
                        file: file.into(),
                        line: line_at(before),
                        reason: format!(
                            "more than {MAX_DEPTH} levels or {MAX_ELEMENTS} elements: not a МЭДО document"
                        ),
                    });
                }
                stack.push(element(&reader, &start, resolved, line_at(before), file)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(EdmsError::Malformed {
                        file: file.into(),
                        line: line_at(before),
                        reason: format!("more than {MAX_ELEMENTS} elements: not a МЭДО document"),
                    });
                }
                let element = element(&reader, &start, resolved, line_at(before), file)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| EdmsError::Malformed {
                    file: file.into(),
                    line: line_at(before),
                    reason: "a closing tag without its opening tag".into(),
                })?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(EdmsError::Malformed {
                            file: file.into(),
                            line: line_at(before),
                            reason: "text outside the root element".into(),
                        })
                    }
                }
            }
            Event::CData(t) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let line = line_at(before);
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            return Err(EdmsError::Malformed {
                                file: file.into(),
                                line,
                                reason: format!("a bad character reference &{};", &*r),
                            })
                        }
                    }
                } else {
                    let name = r.xml10_content();
                    match resolve_predefined_entity(&name) {
                        Some(s) => s.to_string(),
                        None => {
                            return Err(EdmsError::UndeclaredEntity {
                                file: file.into(),
                                line,
                                name: name.chars().take(64).collect(),
                            })
                        }
                    }
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::Eof => {
                if !stack.is_empty() || root.is_none() {
                    return Err(EdmsError::Truncated {
                        file: file.into(),
                        line: line_at(text.len() as u64),
                    });
                }
                break;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    root.ok_or_else(|| EdmsError::Truncated {
        file: file.into(),
        line: 1,
    })
}

fn is_eof_error(e: &quick_xml::Error) -> bool {
    use quick_xml::errors::{Error, IllFormedError, SyntaxError};
    matches!(
        e,
        Error::Syntax(
            SyntaxError::UnclosedTag
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
        ) | Error::IllFormed(IllFormedError::MissingEndTag(_))
    )
}

fn namespace_of(ns: &ResolveResult) -> Result<String, String> {
    match ns {
        ResolveResult::Bound(ns) => Ok(ns.as_ref().to_string()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(prefix.clone()),
    }
}

fn element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart,
    ns: Result<String, String>,
    line: usize,
    file: &str,
) -> Result<Element, EdmsError> {
    let name = start.local_name().as_ref().to_string();
    let ns = ns.map_err(|prefix| EdmsError::Malformed {
        file: file.into(),
        line,
        reason: format!("<{name}> uses the prefix `{prefix}`, which no xmlns declares"),
    })?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| EdmsError::Malformed {
            file: file.into(),
            line,
            reason: format!("an attribute of <{name}>: {e}"),
        })?;
        let key = attr.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (_, local) = reader.resolver().resolve_attribute(key);
        let value =
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => EdmsError::UndeclaredEntity {
                        file: file.into(),
                        line,
                        name: name.chars().take(64).collect(),
                    },
                    other => EdmsError::Malformed {
                        file: file.into(),
                        line,
                        reason: format!("an attribute of <{name}>: {other}"),
                    },
                })?;
        attrs.push((local.as_ref().to_string(), value.into_owned()));
    }
    Ok(Element {
        ns,
        name,
        attrs,
        text: String::new(),
        children: Vec::new(),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_text_and_attributes() {
        let root = parse(
            r#"<?xml version="1.0"?><x:a xmlns:x="urn:t" x:uid="1"><x:b>one &amp; two</x:b><x:c><x:d> 3
            </x:d></x:c></x:a>"#,
            "t.xml",
        )
        .unwrap();
        assert_eq!(root.ns, "urn:t");
        assert_eq!(root.attr("uid"), Some("1"));
        assert_eq!(root.text_at("b").as_deref(), Some("one & two"));
        assert_eq!(root.text_at("c/d").as_deref(), Some("3"));
        assert_eq!(root.leaves().len(), 2);
    }

    #[test]
    fn refuses_a_doctype_and_undeclared_entities() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
        assert!(matches!(
            parse(bomb, "b.xml"),
            Err(EdmsError::Dtd { line: 2, .. })
        ));
        let external = "<a>&xxe;</a>";
        assert!(matches!(
            parse(external, "x.xml"),
            Err(EdmsError::UndeclaredEntity { .. })
        ));
    }

    #[test]
    fn a_cut_document_is_truncated() {
        let err = parse("<a>\n<b>text</b>\n<c>", "cut.xml").unwrap_err();
        assert!(matches!(err, EdmsError::Truncated { .. }), "{err:?}");
    }
}
