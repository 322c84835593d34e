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

/// Corrections a record keeps (the latest); all of them are in the store's
/// `corrections` tree (see [`crate::store::Store::corrections`]).
pub const CORRECTIONS_IN_RECORD: usize = 10;

/// Longest `by` of a correction, in characters.
pub const MAX_CORRECTION_BY_CHARS: usize = 200;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub message: Message,
    pub state: State,
    pub classification: Option<Classification>,
    pub decision: Option<Decision>,
    pub routes: Vec<String>,
    pub deliveries: BTreeMap<String, Delivery>,
    pub trace: Vec<TraceEntry>,
    /// The latest [`CORRECTIONS_IN_RECORD`] corrections, oldest first.
    #[serde(default)]
    pub corrections: Vec<Correction>,
    /// Corrections ever made (the number of the latest).
    #[serde(default)]
    pub corrections_total: u64,
    /// The number a registering system (the EDMS, SOG) gave this appeal, carried back
    /// from its answer (see `pipeline/registration.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// An appeal's registration in the system of record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// `edms` or `sog`: whose number it is.
    pub system: String,
    pub number: String,
    /// The registration date as the system wrote it, when it did.
    pub date: Option<String>,
    /// The hub id of the answer that carried the number.
    pub by_message: String,
    /// When the number reached the hub.
    pub at: Timestamp,
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
            corrections_total: 0,
            registration: None,
        }
    }

    /// Adds a correction, with its trace entry, keeping only the latest
    /// [`CORRECTIONS_IN_RECORD`] of each in the record, so that however many corrections
    /// a message gets its record stays bounded. Returns the correction's number.
    pub fn add_correction(&mut self, mut correction: Correction, trace: TraceEntry) -> u64 {
        if let Some(by) = &mut correction.by {
            if by.chars().count() > MAX_CORRECTION_BY_CHARS {
                *by = by.chars().take(MAX_CORRECTION_BY_CHARS).collect();
            }
        }
        // A record written before the count was kept numbers from what it holds.
        self.corrections_total = self.corrections_total.max(self.corrections.len() as u64) + 1;
        self.corrections.push(correction);
        if self.corrections.len() > CORRECTIONS_IN_RECORD {
            self.corrections
                .drain(..self.corrections.len() - CORRECTIONS_IN_RECORD);
        }
        let traced = self.trace.iter().filter(|t| t.stage == "correct").count();
        if traced >= CORRECTIONS_IN_RECORD {
            if let Some(oldest) = self.trace.iter().position(|t| t.stage == "correct") {
                self.trace.remove(oldest);
            }
        }
        self.trace.push(trace);
        self.corrections_total
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
