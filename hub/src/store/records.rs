//! What the store keeps about each message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Classification, Decision, Message, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Journaled; classification and routing to come.
    Accepted,
    /// Routed; deliveries in progress.
    Routed,
    /// Delivered to every sink it was routed to.
    Delivered,
    /// A step failed for good: see the dead letters.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Accepted => "accepted",
            State::Routed => "routed",
            State::Delivered => "delivered",
            State::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, State::Delivered | State::Failed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub state: DeliveryState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

/// One step in a message's life.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraceEntry {
    pub at: Timestamp,
    /// `ingest`, `decode`, `classify`, `decide`, `route`, `deliver`, `correct`, `replay`.
    pub stage: String,
    pub plugin: Option<String>,
    /// The first 12 hex digits of the plugin's sha256.
    pub plugin_version: Option<String>,
    pub duration_us: u64,
    /// `ok` or `error`.
    pub result: String,
    pub reasons: Vec<String>,
}

/// An official's correction of the topic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Correction {
    pub at: Timestamp,
    pub code: String,
    pub name: String,
    pub previous: Option<String>,
    pub by: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub message: Message,
    pub state: State,
    pub classification: Option<Classification>,
    pub decision: Option<Decision>,
    pub routes: Vec<String>,
    pub deliveries: BTreeMap<String, Delivery>,
    pub trace: Vec<TraceEntry>,
    #[serde(default)]
    pub corrections: Vec<Correction>,
}

impl Record {
    pub fn accepted(message: Message) -> Record {
        Record {
            message,
            state: State::Accepted,
            classification: None,
            decision: None,
            routes: Vec::new(),
            deliveries: BTreeMap::new(),
            trace: Vec::new(),
            corrections: Vec::new(),
        }
    }
}

/// A delivery to make.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub sink: String,
    pub attempts: u32,
    pub due_at: Timestamp,
    /// The failed attempts so far, for the dead letter if it comes to that.
    #[serde(default)]
    pub errors: Vec<Attempt>,
}

/// A step that failed for good.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    /// `sink:NAME` for a delivery, `stage:NAME` for a pipeline step.
    pub target: String,
    pub reason: String,
    pub attempts: Vec<Attempt>,
    pub at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Timestamp,
    pub error: String,
}
