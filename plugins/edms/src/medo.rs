//! The МЭДО files read into plain structures: the transport file (`xdms:communication`,
//! МЭДО 2.x and the 2.7 transport container) and the 2.7 / 2.7.1 container passport.

use crate::error::EdmsError;
use crate::xml::{collapse, Element};

/// МЭДО 2.x transport namespace.
pub const IEDMS: &str = "http://www.infpres.com/IEDMS";
/// МЭДО 2.7.1 transport namespace.
pub const IEDMS_MESSAGE: &str = "urn:IEDMS:MESSAGE";
/// МЭДО 2.7 container passport namespace.
pub const CONTAINER: &str = "http://minsvyaz.ru/container";
/// МЭДО 2.7.1 container passport namespace.
pub const IEDMS_CONTAINER: &str = "urn:IEDMS:CONTAINER";

/// The transport header: what the packet is and who sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub version: Option<String>,
    /// `Документ`, `Квитанция`, `Уведомление`, `Транспортный контейнер`.
    pub kind: String,
    pub uid: Option<String>,
    pub created: Option<String>,
    pub source_uid: Option<String>,
    pub source_org: Option<String>,
}

/// A file a document names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRef {
    pub name: String,
    /// `Текст документа`, `Приложение`, `Подпись`...
    pub group: Option<String>,
    pub description: Option<String>,
}

/// A correspondent: the author of the original, with their number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correspondent {
    pub organization: Option<String>,
    pub person: Option<String>,
    pub number: Option<String>,
    pub date: Option<String>,
}

/// A document, from a 2.x `xdms:document` or a 2.7 passport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub uid: Option<String>,
    pub kind: Option<String>,
    pub number: Option<String>,
    pub date: Option<String>,
    pub annotation: Option<String>,
    pub addressees: Vec<String>,
    pub signatories: Vec<String>,
    pub executor: Option<String>,
    pub executor_phone: Option<String>,
    pub pages: Option<String>,
    pub correspondents: Vec<Correspondent>,
    /// The main file first, then attachments and signatures.
    pub files: Vec<FileRef>,
    /// The element it was read from, for product-specific `extra.*` paths.
    pub element: Element,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acknowledgment {
    /// The uid of the message acknowledged.
    pub uid: String,
    pub time: Option<String>,
    pub accepted: bool,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// The uid of the document notified about.
    pub uid: String,
    /// `Зарегистрирован`, `Отказано в регистрации`, a product's own type...
    pub kind: String,
    /// The body element (`documentAccepted`, `documentRefused`, ...).
    pub body: Element,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Document(Box<Document>),
    /// A 2.7 transport container: the document is in this zip inside the packet.
    Container(String),
    Acknowledgment(Acknowledgment),
    Notification(Notification),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Communication {
    pub header: Header,
    pub body: Body,
}

/// What one XML file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MedoFile {
    Communication(Communication),
    Passport(Document),
}

/// Reads a parsed XML file as a МЭДО transport file or passport.
pub fn read(root: &Element, file: &str) -> Result<MedoFile, EdmsError> {
    match root.name.as_str() {
        "communication" => {
            expect_ns(root, file, &[IEDMS, IEDMS_MESSAGE], IEDMS)?;
            communication(root, file).map(MedoFile::Communication)
        }
        "container" => {
            expect_ns(root, file, &[CONTAINER, IEDMS_CONTAINER], CONTAINER)?;
            passport(root, file).map(MedoFile::Passport)
        }
        other => Err(EdmsError::UnknownRoot {
            file: file.into(),
            element: other.chars().take(64).collect(),
        }),
    }
}

fn expect_ns(
    element: &Element,
    file: &str,
    allowed: &[&str],
    expected: &'static str,
) -> Result<(), EdmsError> {
    if allowed.contains(&element.ns.as_str()) {
        return Ok(());
    }
    Err(EdmsError::WrongNamespace {
        file: file.into(),
        element: element.name.clone(),
        found: if element.ns.is_empty() {
            "(none)".into()
        } else {
            element.ns.chars().take(128).collect()
        },
        expected,
    })
}

fn communication(root: &Element, file: &str) -> Result<Communication, EdmsError> {
    let header_el = root.child("header").ok_or_else(|| EdmsError::Missing {
        file: file.into(),
        path: "xdms:communication/xdms:header".into(),
    })?;
    expect_ns(header_el, file, &[root.ns.as_str()], IEDMS)?;
    let header = Header {
        version: root.attr("version").map(str::to_string),
        kind: header_el
            .attr("type")
            .map(collapse)
            .ok_or_else(|| EdmsError::Missing {
                file: file.into(),
                path: "xdms:header/@xdms:type".into(),
            })?,
        uid: header_el.attr("uid").map(str::to_string),
        created: header_el.attr("created").map(str::to_string),
        source_uid: header_el
            .child("source")
            .and_then(|s| s.attr("uid"))
            .map(str::to_string),
        source_org: header_el.text_at("source/organization"),
    };
    let body = if let Some(document) = root.child("document") {
        Body::Document(Box::new(document_2x(document, root.child("files"), file)?))
    } else if let Some(ack) = root.child("acknowledgment") {
        Body::Acknowledgment(acknowledgment(ack, file)?)
    } else if let Some(note) = root.child("notification") {
        Body::Notification(notification(note, file)?)
    } else if let Some(container) = root.child("container") {
        Body::Container(
            container
                .text_at("body")
                .ok_or_else(|| EdmsError::Missing {
                    file: file.into(),
                    path: "xdms:container/xdms:body (the name of the container's zip)".into(),
                })?,
        )
    } else {
        return Err(EdmsError::MissingDocument {
            packet: file.into(),
            what: format!(
                "header type «{}» but no xdms:document, xdms:container, xdms:acknowledgment or xdms:notification",
                header.kind
            ),
        });
    };
    Ok(Communication { header, body })
}

fn person(element: &Element) -> Option<String> {
    let name = element
        .text_at("person")
        .or_else(|| element.text_at("name"))
        .or_else(|| element.text_at("organization"));
    match (name, element.text_at("post")) {
        (Some(name), Some(post)) => Some(format!("{name} ({post})")),
        (name, _) => name,
    }
}

fn document_2x(
    element: &Element,
    files: Option<&Element>,
    file: &str,
) -> Result<Document, EdmsError> {
    let files = files
        .map(|f| {
            f.children_named("file")
                .map(|f| {
                    Ok(FileRef {
                        name: f.attr("localName").map(str::to_string).ok_or_else(|| {
                            EdmsError::Missing {
                                file: file.into(),
                                path: format!(
                                    "xdms:files/xdms:file (line {})/@xdms:localName",
                                    f.line
                                ),
                            }
                        })?,
                        group: f.text_at("group"),
                        description: f.text_at("description"),
                    })
                })
                .collect::<Result<Vec<_>, EdmsError>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Document {
        uid: element.attr("uid").map(str::to_string),
        kind: element.text_at("kind"),
        number: element.text_at("num/number"),
        date: element.text_at("num/date"),
        annotation: element.text_at("annotation"),
        addressees: element
            .child("addressees")
            .map(|a| {
                a.children_named("addressee")
                    .filter_map(organisation_of)
                    .collect()
            })
            .unwrap_or_default(),
        signatories: element
            .child("signatories")
            .map(|s| s.children_named("signatory").filter_map(person).collect())
            .unwrap_or_default(),
        executor: element.child("executor").and_then(person),
        executor_phone: element.text_at("executor/contactInfo"),
        pages: element.text_at("pages"),
        correspondents: element
            .child("correspondents")
            .map(|c| {
                c.children_named("correspondent")
                    .map(|c| Correspondent {
                        organization: c.text_at("organization"),
                        person: c.text_at("person"),
                        number: c.text_at("num/number"),
                        date: c.text_at("num/date"),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        files,
        element: element.clone(),
    })
}

fn organisation_of(addressee: &Element) -> Option<String> {
    let org = addressee
        .text_at("organization/title")
        .or_else(|| addressee.text_at("organization"))
        .or_else(|| addressee.text_at("person"));
    match (org, addressee.text_at("department")) {
        (Some(org), Some(dep)) => Some(format!("{org}, {dep}")),
        (org, _) => org,
    }
}

fn acknowledgment(element: &Element, file: &str) -> Result<Acknowledgment, EdmsError> {
    let uid = element.attr("uid").ok_or_else(|| EdmsError::Missing {
        file: file.into(),
        path: "xdms:acknowledgment/@xdms:uid (the message acknowledged)".into(),
    })?;
    let accepted = match element.text_at("accepted").as_deref() {
        Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(EdmsError::Invalid {
                file: file.into(),
                path: "xdms:acknowledgment/xdms:accepted".into(),
                reason: format!(
                    "`{}` is not true or false",
                    other.chars().take(32).collect::<String>()
                ),
            })
        }
        None => {
            return Err(EdmsError::Missing {
                file: file.into(),
                path: "xdms:acknowledgment/xdms:accepted".into(),
            })
        }
    };
    let errors = element
        .leaves()
        .into_iter()
        .filter(|(path, _)| path.starts_with("error") || path.starts_with("comment"))
        .map(|(_, text)| text)
        .collect();
    Ok(Acknowledgment {
        uid: uid.to_string(),
        time: element.text_at("time"),
        accepted,
        errors,
    })
}

fn notification(element: &Element, file: &str) -> Result<Notification, EdmsError> {
    let uid = element.attr("uid").ok_or_else(|| EdmsError::Missing {
        file: file.into(),
        path: "xdms:notification/@xdms:uid (the document notified about)".into(),
    })?;
    let kind = element
        .attr("type")
        .map(collapse)
        .ok_or_else(|| EdmsError::Missing {
            file: file.into(),
            path: "xdms:notification/@xdms:type".into(),
        })?;
    let body = element
        .children
        .iter()
        .find(|c| c.name != "comment")
        .cloned()
        .unwrap_or_default();
    Ok(Notification {
        uid: uid.to_string(),
        kind,
        body,
        comment: element.text_at("comment"),
    })
}

fn passport(root: &Element, file: &str) -> Result<Document, EdmsError> {
    let requisites = root.child("requisites");
    let author = root.child("authors").and_then(|a| a.child("author"));
    let main = root
        .child("document")
        .ok_or_else(|| EdmsError::MissingDocument {
            packet: file.into(),
            what: "the passport names no main document (c:document)".into(),
        })?;
    let main_name = main.attr("localName").ok_or_else(|| EdmsError::Missing {
        file: file.into(),
        path: "c:document/@c:localName".into(),
    })?;
    let mut files = vec![FileRef {
        name: main_name.to_string(),
        group: Some("Текст документа".into()),
        description: main.text_at("description"),
    }];
    if let Some(attachments) = root.child("attachments") {
        for attachment in attachments.children_named("attachment") {
            if let Some(name) = attachment.attr("localName") {
                files.push(FileRef {
                    name: name.to_string(),
                    group: Some("Приложение".into()),
                    description: attachment.text_at("description"),
                });
            }
        }
    }
    let mut signatories = Vec::new();
    for author in root
        .child("authors")
        .into_iter()
        .flat_map(|a| a.children_named("author"))
    {
        for sign in author.children_named("sign") {
            if let Some(person) = sign.child("person").and_then(person) {
                signatories.push(person);
            }
            if let Some(name) = sign
                .child("documentSignature")
                .and_then(|s| s.attr("localName"))
            {
                files.push(FileRef {
                    name: name.to_string(),
                    group: Some("Подпись".into()),
                    description: sign
                        .child("documentSignature")
                        .and_then(|s| s.attr("type"))
                        .map(str::to_string),
                });
            }
        }
    }
    Ok(Document {
        uid: root.attr("uid").map(str::to_string),
        kind: requisites.and_then(|r| r.text_at("documentKind")),
        number: author.and_then(|a| a.text_at("registration/number")),
        date: author.and_then(|a| a.text_at("registration/date")),
        annotation: requisites.and_then(|r| r.text_at("annotation")),
        addressees: root
            .child("addressees")
            .map(|a| {
                a.children_named("addressee")
                    .filter_map(organisation_of)
                    .collect()
            })
            .unwrap_or_default(),
        signatories,
        executor: author.and_then(|a| a.child("executor")).and_then(person),
        executor_phone: author.and_then(|a| a.text_at("executor/phone")),
        pages: main.text_at("pagesQuantity"),
        correspondents: author
            .and_then(|a| a.text_at("organization/title"))
            .map(|org| Correspondent {
                organization: Some(org),
                ..Correspondent::default()
            })
            .into_iter()
            .collect(),
        files,
        element: root.clone(),
    })
}
