//! # okno-plugin-knd: the control-and-supervision (KND) portal
//!
//! A connector for the `connector` world of `okno:plugin`. The portal speaks HTTP+JSON;
//! its documents are defined in `examples/formats/knd.schema.json` and this plugin
//! follows it strictly.
//!
//! **decode** reads one document from the portal into one message of channel `knd`:
//! a `question` (the FAQ service), a `visit_request` (a preventive visit or a
//! consultation, with the slots the business chose), a `slot_choice` (the business took
//! one of the offered slots) or a `self_assessment` (a checklist filled in by the
//! business; the body lists what it does not comply with). The business is the client
//! (kind `business`, segment `entrepreneur`; a citizen stays a citizen) with e-mail,
//! phone, ИНН, ОГРН and the contact person as contacts. Metadata: `knd.id`, `knd.type`,
//! `knd.control-kind-code`, `knd.control-kind`, `knd.authority-code`, `knd.topic-code`,
//! `knd.request-kind`, `knd.meeting-format`, `knd.object-address`, `knd.object-name`,
//! `knd.preferred-slot` (one per slot, `START/END`), `knd.checklist-id`,
//! `knd.answers-yes|no|not-applicable`, `knd.declaration-requested`. The idempotency key
//! is `knd:<id>`. The portal's replies (`answer`, `slot_offer`,
//! `appointment_confirmation`) are checked as strictly and refused as `unsupported`:
//! they go to the portal, not to the hub.
//!
//! Every refusal is `invalid-input` and names the JSON path:
//! `$.preferred_slots: invalid type: map, expected a sequence`,
//! `$.answers[1].answer: unknown variant `maybe``, `$.type: `complaint` is not a
//! document type`. A document over `max-document-bytes` is refused before parsing.
//!
//! **encode** answers a message that came from the portal (see `encode.rs`): an `answer`
//! (registered with its deadline and department, or answered with the text in
//! `knd.answer-text`), an `appointment_confirmation` for the first requested slot the
//! body can hold, or a `slot_offer` of free ones. Slots follow the production calendar
//! (the host's `calendar`) and the reception `hours`; bookings are kept in the plugin's
//! kv, so none is given twice.
//!
//! **poll** (the `poller` world) reads the portal's queue of businesses' documents
//! (setting `outbox-url`, `GET <outbox-url>?after=N`) after the cursor kept in kv; **ack**
//! moves the cursor once the hub has journaled the batch and tells the portal (`POST
//! <outbox-url>/ack`). See `okno_sdk::feed`.
//!
//! ## Settings
//! | key | default | meaning |
//! |---|---|---|
//! | `hours` | `09:00-13:00, 14:00-18:00` | reception intervals of a working day, local time |
//! | `lead-working-days` | 2 | the earliest meeting, in working days after the request came |
//! | `search-working-days` | 10 | how many working days an offer searches |
//! | `offer-count` | 3 | slots in an offer |
//! | `slot-minutes` | 60 | an offered slot's length when the request's own does not fit |
//! | `offer-valid-working-days` | 3 | how long an offer stands |
//! | `answer-working-days` | 30 | a registered question's deadline when the decision has none |
//! | `place.in_person`, `place.video`, `place.phone` | none | the address, link or number of a meeting |
//! | `department.<hub id>` | the id | the department's name as the portal shows it |
//! | `signed-by` | none | who signs answers when `knd.answer-signed-by` is not set |
//! | `max-document-bytes` | 1048576 | larger inputs are refused unread |

mod check;
mod decode;
mod doc;
mod encode;
mod rules;
mod settings;

use okno_sdk::prelude::*;

pub use check::Document;
pub use doc::{Incoming, Outgoing, FORMAT};
use settings::Settings;

/// The KND portal connector.
pub struct KndConnector;

impl Connector for KndConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        match check::read_document(&input.bytes, settings.max_document_bytes)? {
            Document::Incoming(doc) => Ok(vec![decode::message(doc)]),
            Document::Outgoing(_) => Err(PluginError::unsupported(
                "$.type: this is a document the hub sends to the portal (`answer`, `slot_offer`, `appointment_confirmation`), not one it receives",
            )),
        }
    }

    fn encode(
        message: Message,
        _classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = Settings::from_config()?;
        let reply = encode::reply(&message, &decision, &settings)?;
        let bytes = serde_json::to_vec(&reply)
            .map_err(|e| PluginError::internal(format!("the reply could not be written: {e}")))?;
        Ok(Outbound {
            bytes,
            content_type: "application/json".into(),
            headers: Vec::new(),
        })
    }
}

/// The portal's queue of businesses' documents (`outbox-url`, e.g.
/// `http://knd.minprom.local/api/outbox`), read after the cursor kept in kv.
fn outbox_url() -> Result<String, PluginError> {
    okno_sdk::config::get("outbox-url")
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| {
            PluginError::config(
                "setting `outbox-url` is missing or not an http(s) URL: the portal's queue of documents, e.g. `http://knd.example.local/api/outbox`",
            )
        })
}

impl Poller for KndConnector {
    fn poll() -> Result<Batch, PluginError> {
        let url = outbox_url()?;
        let feed = okno_sdk::feed::Feed {
            url: &url,
            field: "document",
            limit: 100,
        };
        okno_sdk::feed::poll(&feed, |bytes| {
            <KndConnector as Connector>::decode(Inbound {
                bytes: bytes.to_vec(),
                content_type: Some("application/json".into()),
                metadata: Vec::new(),
            })
        })
    }

    fn ack(token: String) -> Result<(), PluginError> {
        let url = outbox_url()?;
        let feed = okno_sdk::feed::Feed {
            url: &url,
            field: "document",
            limit: 100,
        };
        okno_sdk::feed::ack(&feed, &token)
    }
}

okno_sdk::export_poller!(KndConnector);

/// Reads and checks one document of the format, either way, as the plugin does: for the
/// portal's simulator and tests that hold replies to the schema.
pub fn read_document(bytes: &[u8]) -> Result<Document, PluginError> {
    check::read_document(bytes, 1024 * 1024)
}
