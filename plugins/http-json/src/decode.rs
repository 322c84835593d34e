//! Appeals posted as JSON: the document `encode` writes, or a minimal one with just
//! `body`. A top-level array holds several appeals. Every error names the JSON path of
//! the field at fault, e.g. `$.client.contacts[1].value`.

use serde_json::{Map, Value};

use okno_sdk::prelude::*;
use okno_sdk::time;

use crate::settings::Settings;

/// Top-level fields. `id`, `source` and `received_at` are the hub's to set, and the hub
/// classifies and decides again, so those fields are accepted and ignored.
const MESSAGE_FIELDS: &[&str] = &[
    "id",
    "idempotency_key",
    "channel",
    "source",
    "received_at",
    "sent_at",
    "client",
    "subject",
    "body",
    "attachments",
    "metadata",
    "thread",
    "classification",
    "decision",
];
const CLIENT_FIELDS: &[&str] = &["kind", "name", "contacts", "segments"];
const CONTACT_FIELDS: &[&str] = &["kind", "value"];
const ATTACHMENT_FIELDS: &[&str] = &["name", "media_type", "size", "sha256", "content_ref"];
const THREAD_FIELDS: &[&str] = &["in_reply_to", "repeat_of"];

/// The messages in `bytes`: one for an object, one per element for an array.
pub fn decode(bytes: &[u8], settings: &Settings) -> Result<Vec<Message>, PluginError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PluginError::invalid_input(
            "the input is empty; expected a JSON object with at least `body`, e.g. {\"body\": \"...\"}",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| PluginError::invalid_input(format!("the input is not valid JSON: {e}")))?;
    let root = Node {
        value: &value,
        path: "$".into(),
    };
    match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                message(
                    &Node {
                        value: item,
                        path: format!("$[{i}]"),
                    },
                    settings,
                )
            })
            .collect(),
        _ => Ok(vec![message(&root, settings)?]),
    }
}

fn message(node: &Node<'_>, settings: &Settings) -> Result<Message, PluginError> {
    node.check_fields(MESSAGE_FIELDS, settings)?;

    let attachments = match node.field("attachments") {
        None => Vec::new(),
        Some(list) => list
            .array()?
            .iter()
            .map(|a| attachment(a, settings))
            .collect::<Result<_, _>>()?,
    };
    let body_node = node
        .field("body")
        .ok_or_else(|| node.error("`body` is missing; it holds the appeal's text"))?;
    let body = body_node.string()?.to_string();
    if body.trim().is_empty() && attachments.is_empty() {
        return Err(
            body_node.error("is empty and there are no attachments: there is nothing to register")
        );
    }

    let mut message = Message::new(settings.default_channel, body);
    message.attachments = attachments;
    if let Some(channel) = node.field("channel") {
        message.channel = channel.enumerated()?;
    }
    message.idempotency_key = node.field("idempotency_key").map(|k| k.id()).transpose()?;
    message.subject = node.optional_text("subject")?;
    if let Some(sent_at) = node.field("sent_at") {
        let text = sent_at.string()?;
        message.sent_at = Some(time::timestamp_from_rfc3339(text).ok_or_else(|| {
            sent_at.error(&format!(
                "`{text}` is not an RFC 3339 time; write e.g. `2026-01-12T09:00:00+03:00`"
            ))
        })?);
    }
    if let Some(client) = node.field("client") {
        message.client = client_from(&client, settings)?;
    }
    if let Some(metadata) = node.field("metadata") {
        message.metadata = metadata_from(&metadata)?;
    }
    if let Some(thread) = node.field("thread") {
        thread.check_fields(THREAD_FIELDS, settings)?;
        message.thread.in_reply_to = thread.optional_text("in_reply_to")?;
        message.thread.repeat_of = thread.optional_text("repeat_of")?;
    }
    Ok(message)
}

fn client_from(node: &Node<'_>, settings: &Settings) -> Result<Client, PluginError> {
    node.check_fields(CLIENT_FIELDS, settings)?;
    let mut client = Client::default();
    if let Some(kind) = node.field("kind") {
        client.kind = kind.enumerated()?;
    }
    client.name = node.optional_text("name")?;
    if let Some(contacts) = node.field("contacts") {
        for contact in contacts.array()? {
            contact.check_fields(CONTACT_FIELDS, settings)?;
            client.contacts.push(Contact {
                kind: contact.required_text("kind")?,
                value: contact.required_text("value")?,
            });
        }
    }
    if let Some(segments) = node.field("segments") {
        for segment in segments.array()? {
            let text = segment.string()?.trim();
            if text.is_empty() {
                return Err(segment.error("is empty; a segment is a tag like `senior`"));
            }
            client.segments.push(text.to_string());
        }
    }
    Ok(client)
}

fn attachment(node: &Node<'_>, settings: &Settings) -> Result<Attachment, PluginError> {
    node.check_fields(ATTACHMENT_FIELDS, settings)?;
    let size_node = node
        .field("size")
        .ok_or_else(|| node.error("`size` is missing"))?;
    let size = size_node.value.as_u64().ok_or_else(|| {
        size_node.error(&format!(
            "expected a whole number of bytes, found {}",
            describe(size_node.value)
        ))
    })?;
    let sha_node = node
        .field("sha256")
        .ok_or_else(|| node.error("`sha256` is missing"))?;
    let sha256 = sha_node.string()?.to_string();
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(sha_node.error("expected 64 lower-case hex digits"));
    }
    let content_ref = node
        .optional_text("content_ref")?
        .unwrap_or_else(|| format!("sha256:{sha256}"));
    Ok(Attachment {
        name: node.required_text("name")?,
        media_type: node
            .optional_text("media_type")?
            .unwrap_or_else(|| "application/octet-stream".into()),
        size,
        sha256,
        content_ref,
    })
}

/// An object of strings, or of arrays of strings for repeated keys (as `encode` writes).
fn metadata_from(node: &Node<'_>) -> Result<Vec<(String, String)>, PluginError> {
    let mut pairs = Vec::new();
    for (key, value) in node.object()? {
        let child = node.child(key, value);
        match value {
            Value::String(text) => pairs.push((key.clone(), text.clone())),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item = Node {
                        value: item,
                        path: format!("{}[{i}]", child.path),
                    };
                    pairs.push((key.clone(), item.string()?.to_string()));
                }
            }
            other => {
                return Err(child.error(&format!(
                    "expected a string or an array of strings, found {}",
                    describe(other)
                )))
            }
        }
    }
    Ok(pairs)
}

/// A JSON value and where it is in the document.
struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    fn error(&self, what: &str) -> PluginError {
        PluginError::invalid_input(format!("{}: {what}", self.path))
    }

    fn child(&self, key: &str, value: &'a Value) -> Node<'a> {
        let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let path = if simple {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{}]", self.path, Value::String(key.to_string()))
        };
        Node { value, path }
    }

    fn object(&self) -> Result<&'a Map<String, Value>, PluginError> {
        self.value.as_object().ok_or_else(|| {
            self.error(&format!(
                "expected an object, found {}",
                describe(self.value)
            ))
        })
    }

    /// The field `key`; `None` when it is absent or `null`.
    fn field(&self, key: &str) -> Option<Node<'a>> {
        let value = self.value.as_object()?.get(key)?;
        (!value.is_null()).then(|| self.child(key, value))
    }

    fn check_fields(&self, known: &[&str], settings: &Settings) -> Result<(), PluginError> {
        let object = self.object()?;
        if settings.allow_unknown_fields {
            return Ok(());
        }
        match object.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(self.child(key, &Value::Null).error(&format!(
                "unknown field; expected one of {} (or set `allow-unknown-fields = \"true\"`)",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn array(&self) -> Result<Vec<Node<'a>>, PluginError> {
        let items = self.value.as_array().ok_or_else(|| {
            self.error(&format!(
                "expected an array, found {}",
                describe(self.value)
            ))
        })?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    fn string(&self) -> Result<&'a str, PluginError> {
        self.value.as_str().ok_or_else(|| {
            self.error(&format!(
                "expected a string, found {}",
                describe(self.value)
            ))
        })
    }

    /// A string field, trimmed; `None` when absent, `null` or blank.
    fn optional_text(&self, key: &str) -> Result<Option<String>, PluginError> {
        match self.field(key) {
            None => Ok(None),
            Some(node) => Ok(Some(node.string()?.trim().to_string()).filter(|s| !s.is_empty())),
        }
    }

    fn required_text(&self, key: &str) -> Result<String, PluginError> {
        let node = self
            .field(key)
            .ok_or_else(|| self.error(&format!("`{key}` is missing")))?;
        let text = node.string()?.trim();
        if text.is_empty() {
            return Err(node.error("is empty"));
        }
        Ok(text.to_string())
    }

    /// An id: a non-empty string, or a whole number as other systems often send.
    fn id(&self) -> Result<String, PluginError> {
        let text = match self.value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            other => {
                return Err(self.error(&format!(
                    "expected a string or a whole number, found {}",
                    describe(other)
                )))
            }
        };
        if text.is_empty() {
            return Err(self.error("is empty"));
        }
        Ok(text)
    }

    fn enumerated<T: WitName>(&self) -> Result<T, PluginError> {
        let name = self.string()?;
        T::parse(name).map_err(|known| self.error(&format!("`{name}` is not one of {known}")))
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
