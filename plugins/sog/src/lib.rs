//! # okno-plugin-sog: the appeals system «Обращения граждан» (SOG)
//!
//! A connector for the `connector` world of `okno:plugin`. SOG speaks HTTP+JSON; its
//! card, with the fields the federal reporting on appeals (ССТУ) records, is defined in
//! `examples/formats/sog.schema.json` and this plugin follows it strictly.
//!
//! **decode** reads one card (content type `application/json`) into one message of
//! channel `sog`: the applicant as the client (a citizen or an organisation, with e-mail,
//! phone, postal address and ИНН as contacts, `benefits` as segments), the text (or the
//! summary) as the body, the summary as the subject, the attachments' references, and the
//! card's facts as metadata: `sog.reg-number`, `sog.reg-date`, `sog.uid`, `sog.revision`,
//! `sog.status`, `sog.status-name`, `sog.form`, `sog.channel`, `sog.topic-code` (one per
//! question), `sog.department-code` and `sog.department` (mapped), `sog.deadline`,
//! `sog.forwarded-to`, `sog.forwarding-date`, `sog.forwarding-number`, `sog.sender-*`,
//! `sog.answer-date`, `sog.answer-number`, `sog.signatures`, and `sog.final = true` once
//! consideration is over. The idempotency key is `sog:<uid>#<revision>`: each change of a
//! card is one message. `thread.in-reply-to` is the card's `external_id` (the hub's id of
//! the appeal SOG registered), `thread.repeat-of` its `repeat_of`.
//!
//! Every refusal is `invalid-input` and names the JSON path: `$.questions: invalid type:
//! string "…", expected a sequence`, `$.status: unknown variant `closed`, expected one of
//! …`, `$.applicant: unknown field `passport``, `$.questions[0].code: … is not in the
//! official thematic classifier`. A card over `max-card-bytes` is refused before parsing.
//!
//! **encode** writes a card (`application/json`). A message with `sog.reg-number` becomes
//! that card brought up to date (executor from the decision's `responsible`, deadline from
//! its answer deadline, status, answer and forwarding from the metadata); any other
//! message a new card for SOG to register, with `external_id` = the hub's message id. The
//! card is checked against the schema before it leaves. Attachments are listed by name,
//! type, size and SHA-256, with their `content` (base64) when the sink hands it over
//! (`attachments = true`: metadata `okno.attachment.<sha256>`).
//!
//! **poll** (the `poller` world) reads SOG's feed of cards registered or changed there
//! (setting `feed-url`, `GET <feed-url>?after=N`) after the cursor kept in kv; **ack**
//! moves the cursor once the hub has journaled the batch and tells SOG (`POST
//! <feed-url>/ack`). See `okno_sdk::feed`.
//!
//! ## Settings (one deployment's mapping)
//! | key | default | meaning |
//! |---|---|---|
//! | `department.<SOG code>` | none | the hub's department id for a SOG department code, both ways |
//! | `status-name.<status>` | none | the deployment's wording of a status, written into `status_name` |
//! | `executor-field` | `executor` | which card field holds the executor: `executor` or `responsible` |
//! | `default-topic-code` | none | the question code of a new card when the hub found no topic |
//! | `max-card-bytes` | 2097152 | larger inputs are refused unread |

mod card;
mod check;
mod decode;
mod encode;
mod rules;
mod settings;

use okno_sdk::prelude::*;

pub use card::{Card, Status, FORMAT};
use settings::Settings;

/// The SOG connector.
pub struct SogConnector;

impl Connector for SogConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        let card = check::read_card(&input.bytes, settings.max_card_bytes)?;
        Ok(vec![decode::message(card, &settings)])
    }

    fn encode(
        message: Message,
        classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = Settings::from_config()?;
        let card = encode::card(&message, &classification, &decision, &settings)?;
        let bytes = serde_json::to_vec(&card)
            .map_err(|e| PluginError::internal(format!("the card could not be written: {e}")))?;
        Ok(Outbound {
            bytes,
            content_type: "application/json".into(),
            headers: Vec::new(),
        })
    }
}

/// SOG's feed of cards registered or changed there (`feed-url`, e.g.
/// `http://sog.minprom.local/api/feed`), read after the cursor kept in kv.
fn feed_url() -> Result<String, PluginError> {
    okno_sdk::config::get("feed-url")
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| {
            PluginError::config(
                "setting `feed-url` is missing or not an http(s) URL: SOG's feed of cards, e.g. `http://sog.example.local/api/feed`",
            )
        })
}

impl Poller for SogConnector {
    fn poll() -> Result<Batch, PluginError> {
        let settings = Settings::from_config()?;
        let url = feed_url()?;
        let feed = okno_sdk::feed::Feed {
            url: &url,
            field: "card",
            limit: 100,
        };
        okno_sdk::feed::poll(&feed, |bytes| {
            let card = check::read_card(bytes, settings.max_card_bytes)?;
            Ok(vec![decode::message(card, &settings)])
        })
    }

    fn ack(token: String) -> Result<(), PluginError> {
        let url = feed_url()?;
        let feed = okno_sdk::feed::Feed {
            url: &url,
            field: "card",
            limit: 100,
        };
        okno_sdk::feed::ack(&feed, &token)
    }
}

okno_sdk::export_poller!(SogConnector);
