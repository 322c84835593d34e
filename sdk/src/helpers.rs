//! Constructors for the generated types, so plugins and tests write less boilerplate.

use crate::types::*;

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl Message {
    /// A message with the given channel and body and everything else empty, as a
    /// connector's `decode` starts one (the hub fills in id, source and received-at).
    pub fn new(channel: Channel, body: impl Into<String>) -> Self {
        Message {
            id: String::new(),
            idempotency_key: None,
            channel,
            source: String::new(),
            received_at: 0,
            sent_at: None,
            client: Client::default(),
            subject: None,
            body: body.into(),
            attachments: Vec::new(),
            metadata: Vec::new(),
            thread: Thread {
                in_reply_to: None,
                repeat_of: None,
            },
        }
    }

    /// The first metadata value under `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Default for Client {
    fn default() -> Self {
        Client {
            kind: ClientKind::Unknown,
            name: None,
            contacts: Vec::new(),
            segments: Vec::new(),
        }
    }
}

// The generated type cannot carry a derive, so the derivable impl is written out.
#[allow(clippy::derivable_impls)]
impl Default for Classification {
    fn default() -> Self {
        Classification {
            topic: None,
            sentiment: None,
            kind: None,
            tags: Vec::new(),
            pii: Vec::new(),
        }
    }
}

impl Decision {
    pub fn new(priority: Priority) -> Self {
        Decision {
            priority,
            registration_deadline: None,
            answer_deadline: None,
            responsible: None,
            route_tags: Vec::new(),
            reasons: Vec::new(),
        }
    }
}

impl Inbound {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Inbound {
            bytes,
            content_type: None,
            metadata: Vec::new(),
        }
    }
}
