//! A connector built against `okno:plugin@0.1.0`, the contract as it first shipped: `wit/`
//! here is a copy of that version, frozen. Later hubs must load and run it unchanged.
//!
//! `decode` takes UTF-8 text as one message's body (idempotency key from the
//! `file.name` metadata if any) and logs through the 0.1.0 `log` import; `encode` writes
//! `ID: BODY`.

wit_bindgen::generate!({
    world: "connector",
    path: "wit",
});

// The world's `use types.{…}` puts `Message`, `Inbound`, `PluginError`… at the crate root.
use okno::plugin::types::{Channel, Client, ClientKind, ErrorKind, Thread};

struct Frozen;

impl Guest for Frozen {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let body = String::from_utf8(input.bytes).map_err(|e| PluginError {
            kind: ErrorKind::InvalidInput,
            message: format!("the body is not UTF-8: {e}"),
        })?;
        okno::plugin::log::log(okno::plugin::log::Level::Debug, "decoded by a 0.1.0 plugin");
        let key = input
            .metadata
            .iter()
            .find(|(k, _)| k == "file.name")
            .map(|(_, v)| format!("file:{v}"));
        Ok(vec![Message {
            id: String::new(),
            idempotency_key: key,
            channel: Channel::Api,
            source: String::new(),
            received_at: 0,
            sent_at: None,
            client: Client {
                kind: ClientKind::Unknown,
                name: None,
                contacts: Vec::new(),
                segments: Vec::new(),
            },
            subject: None,
            body,
            attachments: Vec::new(),
            metadata: vec![("contract".into(), "0.1.0".into())],
            thread: Thread {
                in_reply_to: None,
                repeat_of: None,
            },
        }])
    }

    fn encode(
        message: Message,
        _classification: Classification,
        _decision: Decision,
    ) -> Result<Outbound, PluginError> {
        Ok(Outbound {
            bytes: format!("{}: {}", message.id, message.body).into_bytes(),
            content_type: "text/plain".into(),
            headers: Vec::new(),
        })
    }
}

export!(Frozen);
