//! # okno-plugin-http-json: appeals as JSON documents
//!
//! A connector for the `connector` world of `okno:plugin`, for webhook sinks (another
//! system receives every routed appeal) and for JSON sources (another system posts
//! appeals to the hub).
//!
//! **encode** writes one JSON document (content type `application/json`):
//!
//! ```json
//! {
//!   "id": "01JH8Z3K6Q2W", "idempotency_key": "koi8-qp-1@mail.example.ru",
//!   "channel": "mail", "source": "mail-in",
//!   "received_at": "2026-01-12T06:00:00Z", "sent_at": "2026-01-12T05:58:00Z",
//!   "client": {"kind": "citizen", "name": "Петрова Анна",
//!              "contacts": [{"kind": "email", "value": "a.petrova@example.ru"}], "segments": ["senior"]},
//!   "subject": "Нет отопления", "body": "…",
//!   "attachments": [{"name": "справка.pdf", "media_type": "application/pdf", "size": 77,
//!                    "sha256": "56c2…", "content_ref": "sha256:56c2…"}],
//!   "metadata": {"mail.from-domain": "example.ru"},
//!   "thread": {"in_reply_to": null, "repeat_of": null},
//!   "classification": {
//!     "topic": {"code": "0005.0005.0055.1122", "name": "…", "confidence": 0.91,
//!               "alternatives": [], "low_confidence": false, "reasons": []},
//!     "sentiment": {"label": "negative", "score": -0.7, "reasons": []},
//!     "kind": {"kind": "complaint", "repeat": false, "reasons": []},
//!     "tags": ["housing"], "pii": [{"kind": "phone", "start": 10, "end": 26}]},
//!   "decision": {"priority": "high", "registration_deadline": "…", "answer_deadline": "2026-02-11T20:59:59.999Z",
//!                "responsible": "dep-housing", "route_tags": [], "reasons": ["…"]}
//! }
//! ```
//!
//! Field names are the WIT field names with `_` for `-`; enum values are the WIT's
//! lower-case kebab names (`epgu`, `high`, `complaint`); times are RFC 3339 UTC; absent
//! values are `null`. A metadata key that occurs more than once maps to an array.
//!
//! **decode** reads the same document, or a minimal one such as
//! `{"body": "…", "subject": "…", "channel": "site", "client": {…}, "idempotency_key": "…"}`;
//! a top-level array holds several appeals. `id`, `source`, `received_at`,
//! `classification` and `decision` are ignored: the hub sets and decides those itself.
//! Errors are `invalid-input` and name the JSON path of the bad field, e.g.
//! `$.client.contacts[1].value: expected a string, found a number`.
//!
//! ## Settings
//! | key | default | meaning |
//! |---|---|---|
//! | `mask-pii` | `false` | `true`: encode replaces the body's personal-data spans (`classification.pii`) with `[kind]`, drops the client's name and contacts, and scrubs them from subject and metadata |
//! | `default-channel` | `api` | channel of decoded appeals that name none, e.g. `site` for a site's e-reception form |
//! | `allow-unknown-fields` | `false` | `true`: decode ignores fields it does not know instead of rejecting them |

mod decode;
mod encode;
mod mask;
mod rfc3339;
mod settings;

use okno_sdk::prelude::*;

use settings::Settings;

/// The JSON connector.
pub struct HttpJsonConnector;

impl Connector for HttpJsonConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        decode::decode(&input.bytes, &settings)
    }

    fn encode(
        message: Message,
        classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = Settings::from_config()?;
        let document = encode::document(message, classification, &decision, settings.mask_pii)?;
        let bytes = serde_json::to_vec(&document).map_err(|e| {
            PluginError::internal(format!("the JSON document could not be written: {e}"))
        })?;
        Ok(Outbound {
            bytes,
            content_type: "application/json".into(),
            headers: Vec::new(),
        })
    }
}

okno_sdk::export_connector!(HttpJsonConnector);
