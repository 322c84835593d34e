//! # okno-sdk: write Okno plugins in Rust
//!
//! An Okno plugin is a WebAssembly component that implements one world of the
//! `okno:plugin@0.1.1` contract (see `wit/` in the Okno repository):
//!
//! | world | you implement | the hub calls it to |
//! |---|---|---|
//! | `connector` | [`Connector`] | read a source's bytes into messages, and write messages for a sink |
//! | `classifier` | [`Classifier`] | add topic, sentiment, kind, tags or personal-data spans |
//! | `policy` | [`Policy`] | decide priority, deadlines and who is responsible |
//! | `poller` (0.1.1) | [`Connector`] and [`Poller`] | fetch batches from a remote system that does not push, and acknowledge them |
//!
//! A plugin is a trait impl plus one macro line. The same code runs natively, so plugin
//! logic is tested with plain `cargo test`: the host capabilities ([`config`], [`kv`],
//! [`clock`], [`calendar`], [`http`], [`log`]) are then served by
//! [`testing::MockHost`].
//!
//! Build for the hub with `okno plugin build PATH` (or `cargo build --target
//! wasm32-wasip2`), then try it with `okno plugin run FILE.wasm --input FILE`.
//!
//! ## A connector
//! ```
//! use okno_sdk::prelude::*;
//!
//! struct PlainText;
//!
//! impl Connector for PlainText {
//!     fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
//!         let body = String::from_utf8(input.bytes)
//!             .map_err(|e| PluginError::invalid_input(format!("body is not UTF-8: {e}")))?;
//!         Ok(vec![Message::new(Channel::Api, body)])
//!     }
//!
//!     fn encode(message: Message, _: Classification, decision: Decision) -> Result<Outbound, PluginError> {
//!         let text = format!("{}: {:?}", message.id, decision.priority);
//!         Ok(Outbound { bytes: text.into_bytes(), content_type: "text/plain".into(), headers: vec![] })
//!     }
//! }
//!
//! okno_sdk::export_connector!(PlainText);
//!
//! // Natively, the same code is a plain function call:
//! let messages = PlainText::decode(Inbound::from_bytes(b"hello".to_vec())).unwrap();
//! assert_eq!(messages[0].body, "hello");
//! ```
//!
//! ## A classifier
//! ```
//! use okno_sdk::prelude::*;
//!
//! struct Shouting;
//!
//! impl Classifier for Shouting {
//!     fn classify(message: Message, mut current: Classification) -> Result<Classification, PluginError> {
//!         let letters: Vec<char> = message.body.chars().filter(|c| c.is_alphabetic()).collect();
//!         if !letters.is_empty() && letters.iter().all(|c| c.is_uppercase()) {
//!             current.tags.push("caps".into());
//!         }
//!         Ok(current)
//!     }
//! }
//!
//! okno_sdk::export_classifier!(Shouting);
//!
//! let out = Shouting::classify(Message::new(Channel::Mail, "ПОЧЕМУ НЕТ ВОДЫ"), Classification::default()).unwrap();
//! assert_eq!(out.tags, vec!["caps".to_string()]);
//! ```
//!
//! ## A policy, using the host's calendar and settings
//! ```
//! use okno_sdk::prelude::*;
//! use okno_sdk::testing::MockHost;
//!
//! struct TenWorkingDays;
//!
//! impl Policy for TenWorkingDays {
//!     fn decide(message: Message, _: Classification) -> Result<Decision, PluginError> {
//!         let days: u32 = okno_sdk::config::get("days").and_then(|d| d.parse().ok()).unwrap_or(10);
//!         let received = okno_sdk::time::local_date(message.received_at);
//!         let due = okno_sdk::calendar::add_working_days(received, days);
//!         let mut decision = Decision::new(Priority::Normal);
//!         decision.answer_deadline = Some(okno_sdk::time::end_of_local_day(due));
//!         decision.reasons.push(format!("{days} working days"));
//!         Ok(decision)
//!     }
//! }
//!
//! okno_sdk::export_policy!(TenWorkingDays);
//!
//! // 2026-12-30 (Wednesday) + 3 working days skips the New Year holidays (Dec 31 – Jan 10).
//! let host = MockHost::new().setting("days", "3");
//! let mut message = Message::new(Channel::Mail, "...");
//! message.received_at = okno_sdk::time::timestamp_from_rfc3339("2026-12-30T09:00:00+03:00").unwrap();
//! let decision = host.run(|| TenWorkingDays::decide(message, Classification::default())).unwrap();
//! let due = okno_sdk::time::local_date_with_offset(decision.answer_deadline.unwrap(), 180);
//! assert_eq!((due.year, due.month, due.day), (2027, 1, 13));
//! ```

pub mod bindings;
pub mod feed;
pub mod fields;
mod helpers;
pub mod host;
pub mod names;
pub mod production_calendar;
pub mod text;
pub mod time;

#[cfg(not(target_arch = "wasm32"))]
pub mod eval;
#[cfg(all(feature = "fuzz", not(target_arch = "wasm32")))]
pub mod fuzz;
#[cfg(all(feature = "json-fuzz", not(target_arch = "wasm32")))]
pub mod json_fuzz;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use host::{calendar, clock, config, http, kv, log};

/// The contract version this SDK implements (the `okno:plugin` WIT package version).
/// 0.1.1 added the `poller` world; plugins built against 0.1.0 load unchanged.
pub const CONTRACT_VERSION: &str = "0.1.1";

/// The canonical types of `okno:plugin/types`.
pub mod types {
    pub use crate::bindings::host::okno::plugin::types::*;
}

/// Implement this for a classifier plugin; export it with [`export_classifier!`].
pub use bindings::classifier::Guest as Classifier;
/// Implement this for a connector plugin; export it with [`export_connector!`].
pub use bindings::connector::Guest as Connector;
/// Implement this for a policy plugin; export it with [`export_policy!`].
pub use bindings::policy::Guest as Policy;

/// The data of the `poller` world (`okno:plugin/polling`).
pub mod polling {
    pub use crate::bindings::poller::exports::okno::plugin::polling::Batch;
}

/// Implement this, with [`Connector`], for a poller plugin; export both with
/// [`export_poller!`].
///
/// The hub calls [`Poller::poll`] on the source's schedule, journals every message of the
/// batch durably, and then calls [`Poller::ack`] with the batch's token. If the hub stops
/// between the two, the next `poll` must hand the same items out again (keep the cursor
/// in [`kv`] and move it in `ack`, or let the remote system re-deliver what it was not
/// acknowledged), and each message should carry the remote system's id as its
/// `idempotency_key`, so that the second journal is a duplicate.
pub trait Poller {
    /// Fetches the next batch from the remote system (through [`http`]). Return an
    /// `upstream` error when the remote system fails: the hub backs off and retries.
    fn poll() -> Result<polling::Batch, types::PluginError>;

    /// Acknowledges the batch whose `ack` token this is, once the hub has journaled it.
    fn ack(token: String) -> Result<(), types::PluginError>;
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::names::WitName;
    pub use crate::polling::Batch;
    pub use crate::types::{
        AppealKind, Attachment, Channel, Classification, Client, ClientKind, Contact, Date,
        Decision, ErrorKind, Inbound, KindAssignment, Message, Outbound, PiiSpan, PluginError,
        Priority, Sentiment, SentimentLabel, Thread, Timestamp, Topic, TopicAssignment,
    };
    pub use crate::{Classifier, Connector, Policy, Poller};
}

/// Exports a type implementing [`Connector`] as this component's `connector` world.
#[macro_export]
macro_rules! export_connector {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::connector::export_connector_bindings!($plugin);
        // Natively nothing is exported; naming the impl keeps the plugin type "used".
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$plugin as $crate::Connector>::decode;
        };
    };
}

/// Exports a type implementing [`Classifier`] as this component's `classifier` world.
#[macro_export]
macro_rules! export_classifier {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::classifier::export_classifier_bindings!($plugin);
        // Natively nothing is exported; naming the impl keeps the plugin type "used".
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$plugin as $crate::Classifier>::classify;
        };
    };
}

/// Exports a type implementing [`Policy`] as this component's `policy` world.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::policy::export_policy_bindings!($plugin);
        // Natively nothing is exported; naming the impl keeps the plugin type "used".
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$plugin as $crate::Policy>::decide;
        };
    };
}

/// Exports a type implementing both [`Connector`] and [`Poller`] as this component's
/// `poller` world.
#[macro_export]
macro_rules! export_poller {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::bindings::poller::Guest for $plugin {
                fn decode(
                    input: $crate::types::Inbound,
                ) -> Result<Vec<$crate::types::Message>, $crate::types::PluginError> {
                    <$plugin as $crate::Connector>::decode(input)
                }
                fn encode(
                    message: $crate::types::Message,
                    classification: $crate::types::Classification,
                    decision: $crate::types::Decision,
                ) -> Result<$crate::types::Outbound, $crate::types::PluginError> {
                    <$plugin as $crate::Connector>::encode(message, classification, decision)
                }
            }
            impl $crate::bindings::poller::exports::okno::plugin::polling::Guest for $plugin {
                fn poll() -> Result<$crate::polling::Batch, $crate::types::PluginError> {
                    <$plugin as $crate::Poller>::poll()
                }
                fn ack(token: String) -> Result<(), $crate::types::PluginError> {
                    <$plugin as $crate::Poller>::ack(token)
                }
            }
            $crate::bindings::poller::export_poller_bindings!($plugin);
        };
        // Natively nothing is exported; naming the impls keeps the plugin type "used".
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = <$plugin as $crate::Connector>::decode;
            let _ = <$plugin as $crate::Poller>::poll;
        };
    };
}
