//! SMEV 3 answers read into messages: `GetRequestResponse` (a request from EPGU for this
//! ministry) and `GetResponseResponse` (an answer to a request the ministry sent), with
//! SOAP faults and rejections as [`DecodeError::Smev`] carrying SMEV's code.

use std::fmt;

use okno_sdk::prelude::*;

use crate::application;
use crate::attachments;
use crate::mtom;
use crate::settings::DecodeSettings;
use crate::smev::{self, Part, SmevError, SmevErrorKind, Version};
use crate::xml::{self, Element, XmlError};

/// Why an input is not a message. Each says what was wrong and where.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeError {
    /// Not readable XML (truncated, an entity, a DOCTYPE, bad bytes).
    Xml(XmlError),
    /// The MTOM container could not be read.
    Mtom(String),
    /// Not a SOAP envelope, or an element in a namespace other than SMEV's.
    Namespace {
        what: String,
        found: String,
        expected: String,
    },
    /// An element SMEV requires is missing or malformed.
    Structure { path: String, problem: String },
    /// An attachment too large, claimed too large, or whose content is missing.
    Attachment { which: String, problem: String },
    /// A well-formed SMEV envelope of an operation this connector does not read.
    Unsupported(String),
    /// SMEV said no: a SOAP fault or a rejection.
    Smev(SmevError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Xml(e) => write!(f, "{e}"),
            DecodeError::Mtom(e) => write!(f, "MTOM container: {e}"),
            DecodeError::Namespace {
                what,
                found,
                expected,
            } => write!(
                f,
                "wrong namespace: {what} is in `{found}`, expected {expected}"
            ),
            DecodeError::Structure { path, problem } => write!(f, "{path}: {problem}"),
            DecodeError::Attachment { which, problem } => {
                write!(f, "attachment {which}: {problem}")
            }
            DecodeError::Unsupported(e) => write!(f, "{e}"),
            DecodeError::Smev(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<XmlError> for DecodeError {
    fn from(e: XmlError) -> Self {
        DecodeError::Xml(e)
    }
}

impl From<DecodeError> for PluginError {
    fn from(e: DecodeError) -> Self {
        let kind = match &e {
            DecodeError::Smev(s) if s.is_transient() => ErrorKind::Upstream,
            DecodeError::Smev(s) if s.kind == SmevErrorKind::Fault => ErrorKind::Upstream,
            DecodeError::Unsupported(_) => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        };
        PluginError::new(kind, e.to_string())
    }
}

/// One decoded answer: its messages, and warnings for the trace (also logged).
#[derive(Debug, Default)]
pub struct Decoded {
    pub messages: Vec<Message>,
    pub warnings: Vec<String>,
    /// The SMEV MessageIDs to acknowledge once the messages are journaled.
    pub message_ids: Vec<String>,
}

/// Reads one SMEV answer as the adapter hands it over: a SOAP envelope, or an MTOM
/// `multipart/related` package around one.
pub fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    settings: &DecodeSettings,
) -> Result<Decoded, DecodeError> {
    let package = if mtom::is_multipart(content_type) {
        mtom::split(content_type.unwrap_or_default(), bytes).map_err(DecodeError::Mtom)?
    } else {
        mtom::Package {
            root: bytes.to_vec(),
            parts: Vec::new(),
        }
    };
    let text = xml::decode_text(&package.root)?;
    let mut warnings = Vec::new();
    if let Some(warning) = text.warning {
        warnings.push(warning);
    }
    let root = xml::parse(&text.text)?;
    let operation = operation(&root)?;
    let (part, version) = smev::classify_ns(&operation.ns)
        .filter(|(part, _)| *part == Part::Types)
        .ok_or_else(|| DecodeError::Namespace {
            what: format!("<{}> in the SOAP Body", operation.name),
            found: operation.ns.clone(),
            expected:
                "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.1, 1.2 or 1.3"
                    .into(),
        })?;
    debug_assert_eq!(part, Part::Types);

    let mut decoded = Decoded {
        warnings,
        ..Decoded::default()
    };
    match operation.name.as_str() {
        "GetRequestResponse" => {
            let Some(request_message) = operation.child("RequestMessage") else {
                // An empty answer: the queue holds nothing for this system.
                return Ok(decoded);
            };
            let message = read_request(request_message, version, &package, settings, &mut decoded)?;
            decoded.messages.push(message);
        }
        "GetResponseResponse" => {
            let Some(response_message) = operation.child("ResponseMessage") else {
                return Ok(decoded);
            };
            let message =
                read_response(response_message, version, &package, settings, &mut decoded)?;
            decoded.messages.push(message);
        }
        other => {
            return Err(DecodeError::Unsupported(format!(
                "this is an SMEV {other} (types {}); the epgu connector decodes GetRequestResponse \
                 and GetResponseResponse",
                version.as_str()
            )))
        }
    }
    for message in &mut decoded.messages {
        for warning in &decoded.warnings {
            message
                .metadata
                .push(("smev.warning".into(), warning.clone()));
        }
    }
    Ok(decoded)
}

/// The element inside the SOAP Body, or the fault it carries.
fn operation(root: &Element) -> Result<&Element, DecodeError> {
    if root.name != "Envelope" || (root.ns != smev::SOAP11 && root.ns != smev::SOAP12) {
        return Err(DecodeError::Namespace {
            what: format!("the root element <{}>", root.name),
            found: root.ns.clone(),
            expected: format!("a SOAP Envelope ({} or {})", smev::SOAP11, smev::SOAP12),
        });
    }
    let body = root
        .children
        .iter()
        .find(|c| c.name == "Body" && c.ns == root.ns)
        .ok_or_else(|| DecodeError::Structure {
            path: "Envelope".into(),
            problem: "no SOAP Body".into(),
        })?;
    let first = body
        .children
        .first()
        .ok_or_else(|| DecodeError::Structure {
            path: "Envelope/Body".into(),
            problem: "the SOAP Body is empty".into(),
        })?;
    if first.name == "Fault" && first.ns == root.ns {
        return Err(DecodeError::Smev(smev::read_fault(first)));
    }
    Ok(first)
}

/// A child that must be there, in one of SMEV's namespaces.
fn required<'a>(parent: &'a Element, name: &str, path: &str) -> Result<&'a Element, DecodeError> {
    let child = parent.child(name).ok_or_else(|| DecodeError::Structure {
        path: path.into(),
        problem: format!("no {name}"),
    })?;
    smev_ns(child, &format!("{path}/{name}"))?;
    Ok(child)
}

fn smev_ns(element: &Element, path: &str) -> Result<(), DecodeError> {
    if smev::is_smev(element) {
        Ok(())
    } else {
        Err(DecodeError::Namespace {
            what: path.to_string(),
            found: element.ns.clone(),
            expected: "an SMEV 3 message-exchange namespace (types or basic, 1.1–1.3)".into(),
        })
    }
}

/// A MessageID: SMEV's are UUIDs (version 1), 36 characters.
fn message_id(element: &Element, path: &str) -> Result<String, DecodeError> {
    let id = element.text.trim();
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if !ok {
        return Err(DecodeError::Structure {
            path: path.into(),
            problem: format!("`{}` is not a UUID", smev::bounded(id)),
        });
    }
    Ok(id.to_ascii_lowercase())
}

fn read_request(
    request_message: &Element,
    version: Version,
    package: &mtom::Package,
    settings: &DecodeSettings,
    decoded: &mut Decoded,
) -> Result<Message, DecodeError> {
    let path = "GetRequestResponse/RequestMessage";
    let request = required(request_message, "Request", path)?;
    let path = format!("{path}/Request");
    let data = required(request, "SenderProvidedRequestData", &path)?;
    let data_path = format!("{path}/SenderProvidedRequestData");
    let id = message_id(
        required(data, "MessageID", &data_path)?,
        &format!("{data_path}/MessageID"),
    )?;

    let mut message = Message::new(Channel::Epgu, String::new());
    message.idempotency_key = Some(id.clone());
    let mut meta = vec![
        ("smev.message-id".to_string(), id.clone()),
        ("smev.version".to_string(), version.as_str().to_string()),
        ("smev.operation".to_string(), "request".to_string()),
    ];
    for (name, key) in [
        ("ReferenceMessageID", "smev.reference-message-id"),
        ("TransactionCode", "smev.transaction-code"),
        ("NodeID", "smev.node-id"),
        ("EOL", "smev.eol"),
    ] {
        if let Some(value) = data.child_text(name) {
            meta.push((key.into(), smev::bounded(value)));
        }
    }
    if let Some(reference) = data.child_text("ReferenceMessageID") {
        message.thread.in_reply_to = Some(smev::bounded(reference));
    }
    if data.child("TestMessage").is_some() {
        meta.push(("smev.test-message".into(), "true".into()));
    }
    // The address the answer goes to; the adapter needs it back in SendResponseRequest.
    match request.child_text("ReplyTo") {
        Some(reply_to) => meta.push(("smev.reply-to".into(), reply_to.to_string())),
        None => decoded.warnings.push(format!(
            "{path} has no ReplyTo: no status or result can be sent back for message {id}"
        )),
    }
    read_metadata(
        request.child("MessageMetadata"),
        settings,
        &mut message,
        &mut meta,
    );

    let content = data.child("MessagePrimaryContent");
    let attachments = attachments::read(
        data,
        request,
        request_message,
        package,
        settings.max_attachment_bytes,
        &mut meta,
    )?;
    match content.and_then(|c| c.children.first()) {
        Some(payload) => {
            let app = application::read(
                payload,
                &settings.fields,
                &settings.subjects,
                settings.client_kind,
            );
            message.client = app.client;
            message.subject = app.subject;
            message.body = app.body;
            meta.extend(app.metadata);
        }
        None if !attachments.is_empty() => {
            message.subject = Some("Заявление с ЕПГУ (только вложения)".into());
        }
        None => {
            return Err(DecodeError::Structure {
                path: data_path,
                problem: "no MessagePrimaryContent with a payload element and no attachments: \
                          the request carries nothing"
                    .into(),
            })
        }
    }
    message.attachments = attachments;
    message.metadata = meta;
    decoded.message_ids.push(id);
    Ok(message)
}

/// Sender, recipient, timestamps and status of `MessageMetadata`.
fn read_metadata(
    metadata: Option<&Element>,
    settings: &DecodeSettings,
    message: &mut Message,
    meta: &mut Vec<(String, String)>,
) {
    let Some(metadata) = metadata else {
        return;
    };
    if let Some(sender) = metadata.child("Sender") {
        if let Some(m) = sender.child_text("Mnemonic") {
            meta.push(("smev.sender".into(), smev::bounded(m)));
        }
        if let Some(n) = sender.child_text("HumanReadableName") {
            meta.push(("smev.sender-name".into(), smev::bounded(n)));
        }
    }
    if let Some(recipient) = metadata
        .child("Recipient")
        .and_then(|r| r.child_text("Mnemonic"))
    {
        meta.push(("smev.recipient".into(), smev::bounded(recipient)));
        if let Some(ours) = &settings.mnemonic {
            if ours != recipient {
                meta.push(("smev.recipient-mismatch".into(), "true".into()));
                okno_sdk::log::warn(&format!(
                    "SMEV message addressed to mnemonic {recipient}, this system is {ours}"
                ));
            }
        }
    }
    if let Some(sent) = metadata.child_text("SendingTimestamp") {
        message.sent_at = okno_sdk::time::timestamp_from_rfc3339(sent);
        meta.push(("smev.sending-timestamp".into(), smev::bounded(sent)));
    }
    for (name, key) in [
        ("MessageType", "smev.message-type"),
        ("Status", "smev.status"),
        ("DeliveryTimestamp", "smev.delivery-timestamp"),
    ] {
        if let Some(value) = metadata.child_text(name) {
            meta.push((key.into(), smev::bounded(value)));
        }
    }
}

fn read_response(
    response_message: &Element,
    version: Version,
    package: &mtom::Package,
    settings: &DecodeSettings,
    decoded: &mut Decoded,
) -> Result<Message, DecodeError> {
    let path = "GetResponseResponse/ResponseMessage";
    let response = required(response_message, "Response", path)?;
    let path = format!("{path}/Response");
    let original = response
        .child("OriginalMessageId")
        .map(|e| message_id(e, &format!("{path}/OriginalMessageId")))
        .transpose()?;
    let data = required(response, "SenderProvidedResponseData", &path)?;
    let data_path = format!("{path}/SenderProvidedResponseData");
    let id = message_id(
        required(data, "MessageID", &data_path)?,
        &format!("{data_path}/MessageID"),
    )?;

    if let Some(status) = data.child("AsyncProcessingStatus") {
        let category = status.child_text("StatusCategory").unwrap_or("");
        let rejected = category.ends_with("IsRejectedBySmev")
            || category == "doesNotExist"
            || category == "cancelled"
            || status.child("SmevFault").is_some();
        if rejected {
            let fault = status.child("SmevFault");
            return Err(DecodeError::Smev(SmevError {
                code: if category.is_empty() {
                    "SmevFault".into()
                } else {
                    category.to_string()
                },
                smev_code: fault.and_then(|f| f.child_text("Code")).map(str::to_string),
                description: smev::bounded(
                    fault
                        .and_then(|f| f.child_text("Description"))
                        .or(status.child_text("StatusDetails"))
                        .unwrap_or(""),
                ),
                message_id: status
                    .child_text("OriginalMessageId")
                    .map(str::to_string)
                    .or(original.clone()),
                kind: SmevErrorKind::Rejected,
            }));
        }
    }

    let mut message = Message::new(Channel::Epgu, String::new());
    message.idempotency_key = Some(id.clone());
    message.thread.in_reply_to = original.clone();
    let mut meta = vec![
        ("smev.message-id".to_string(), id.clone()),
        ("smev.version".to_string(), version.as_str().to_string()),
        ("smev.operation".to_string(), "response".to_string()),
    ];
    if let Some(original) = &original {
        meta.push(("smev.original-message-id".into(), original.clone()));
    }
    read_metadata(
        response.child("MessageMetadata"),
        settings,
        &mut message,
        &mut meta,
    );
    let attachments = attachments::read(
        data,
        response,
        response_message,
        package,
        settings.max_attachment_bytes,
        &mut meta,
    )?;

    if let Some(status) = data.child("AsyncProcessingStatus") {
        let category = status.child_text("StatusCategory").unwrap_or("unknown");
        message.subject = Some(format!("Статус запроса в СМЭВ: {category}"));
        message.body = status
            .child_text("StatusDetails")
            .map(str::to_string)
            .unwrap_or_else(|| category.to_string());
        meta.push(("smev.status-category".into(), smev::bounded(category)));
    } else if let Some(status) = data.child("RequestStatus") {
        let code = status.child_text("StatusCode").unwrap_or("");
        message.subject = Some(format!("Статус заявления: {code}"));
        message.body = status
            .child_text("StatusDescription")
            .unwrap_or(code)
            .to_string();
        meta.push(("smev.status-code".into(), smev::bounded(code)));
    } else if let Some(rejected) = data.child("RequestRejected") {
        let code = rejected.child_text("RejectionReasonCode").unwrap_or("");
        message.subject = Some(format!("Отказ в предоставлении сведений: {code}"));
        message.body = rejected
            .child_text("RejectionReasonDescription")
            .unwrap_or(code)
            .to_string();
        meta.push(("smev.rejection-code".into(), smev::bounded(code)));
    } else if let Some(payload) = data
        .child("MessagePrimaryContent")
        .and_then(|c| c.children.first())
    {
        let app = application::read(
            payload,
            &settings.fields,
            &settings.subjects,
            settings.client_kind,
        );
        message.client = app.client;
        message.subject = app.subject;
        message.body = app.body;
        meta.extend(app.metadata);
    } else if attachments.is_empty() {
        return Err(DecodeError::Structure {
            path: data_path,
            problem: "no MessagePrimaryContent, status, rejection or attachments".into(),
        });
    }
    message.attachments = attachments;
    message.metadata = meta;
    decoded.message_ids.push(id);
    Ok(message)
}
