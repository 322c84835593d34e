//! The canonical message and what the hub records about it, as JSON-friendly Rust types.
//! `wit/types.wit` is the source of truth; `runtime::convert` maps these to and from the
//! component bindings, field for field.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Epgu,
    Sog,
    Edms,
    Knd,
    Mail,
    Phone,
    Social,
    Site,
    Reception,
    Post,
    Api,
}

impl Channel {
    pub const ALL: [Channel; 11] = [
        Channel::Epgu,
        Channel::Sog,
        Channel::Edms,
        Channel::Knd,
        Channel::Mail,
        Channel::Phone,
        Channel::Social,
        Channel::Site,
        Channel::Reception,
        Channel::Post,
        Channel::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Epgu => "epgu",
            Channel::Sog => "sog",
            Channel::Edms => "edms",
            Channel::Knd => "knd",
            Channel::Mail => "mail",
            Channel::Phone => "phone",
            Channel::Social => "social",
            Channel::Site => "site",
            Channel::Reception => "reception",
            Channel::Post => "post",
            Channel::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    Citizen,
    Business,
    Internal,
    #[default]
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub kind: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Client {
    pub kind: ClientKind,
    pub name: Option<String>,
    pub contacts: Vec<Contact>,
    pub segments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
    pub content_ref: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thread {
    pub in_reply_to: Option<String>,
    pub repeat_of: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    pub channel: Channel,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub received_at: Timestamp,
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    #[serde(default)]
    pub client: Client,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
    #[serde(default)]
    pub thread: Thread,
}

impl Message {
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub code: String,
    pub name: String,
    pub confidence: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicAssignment {
    pub best: Topic,
    #[serde(default)]
    pub alternatives: Vec<Topic>,
    #[serde(default)]
    pub low_confidence: bool,
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    pub score: f32,
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppealKind {
    Proposal,
    Statement,
    Complaint,
    Inquiry,
    Gratitude,
    Other,
}

impl AppealKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppealKind::Proposal => "proposal",
            AppealKind::Statement => "statement",
            AppealKind::Complaint => "complaint",
            AppealKind::Inquiry => "inquiry",
            AppealKind::Gratitude => "gratitude",
            AppealKind::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindAssignment {
    pub kind: AppealKind,
    #[serde(default)]
    pub repeat: bool,
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PiiSpan {
    pub kind: String,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Classification {
    pub topic: Option<TopicAssignment>,
    pub sentiment: Option<Sentiment>,
    pub kind: Option<KindAssignment>,
    pub tags: Vec<String>,
    pub pii: Vec<PiiSpan>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Decision {
    pub priority: Priority,
    pub registration_deadline: Option<Timestamp>,
    pub answer_deadline: Option<Timestamp>,
    pub responsible: Option<String>,
    pub route_tags: Vec<String>,
    pub reasons: Vec<String>,
}

/// Raw bytes for a connector's `decode`.
#[derive(Clone, Debug, Default)]
pub struct Inbound {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
}

/// What a connector's `encode` produced for a sink.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    #[serde(with = "bytes_as_text")]
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    InvalidInput,
    Unsupported,
    Config,
    Upstream,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
}

/// Shows outbound bytes as UTF-8 text when they are, as base64-free lossless hex otherwise.
mod bytes_as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_str(&format!("hex:{}", hex::encode(bytes))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        match text.strip_prefix("hex:") {
            Some(h) => hex::decode(h).map_err(serde::de::Error::custom),
            None => Ok(text.into_bytes()),
        }
    }
}
