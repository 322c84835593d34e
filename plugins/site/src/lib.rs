//! # okno-plugin-site: the official site's e-reception form
//!
//! A connector for the `connector` world of `okno:plugin`: the appeal form of the
//! ministry's site («интернет-приёмная»), posted by the site to
//! `POST /v1/sources/{source}/messages` as `application/json` or as
//! `application/x-www-form-urlencoded` (the form's own encoding).
//!
//! | field | | what |
//! |---|---|---|
//! | `surname`, `name` | required | фамилия, имя (at most 100 characters, no digits) |
//! | `patronymic` | optional | отчество |
//! | `email`, `postal_address` | one of them required | where the answer goes |
//! | `phone` | optional | 10 to 15 digits, with `+`, spaces, brackets, dashes |
//! | `organisation` | optional | on whose behalf; makes the client a `business` |
//! | `subject` | optional | the appeal's subject |
//! | `text` | required | the appeal, at most `max-text-chars` characters |
//! | `consent` | required | consent to the processing of personal data (152-FZ): `true`, `on`, `yes`, `1` |
//! | `attachments` | optional, JSON only | `[{"name", "media_type", "content": BASE64}]`, within the limits below |
//! | `id` | optional | the site's number of the submission: the idempotency key `site:ID` |
//!
//! Other fields (a captcha's token, the submit button) are ignored. Every missing or
//! invalid field is reported at once, by name, in Russian and in English: one
//! `invalid-input` error whose text is `{"message", "fields": [{"field", "problem",
//! "ru", "en"}]}`, which the hub answers as `422 invalid_fields` with the list in
//! `details.fields`. A body that is not a form at all (not JSON, another Content-Type)
//! is a plain `invalid-input`.
//!
//! The message: channel `site`, the client's full name and contacts (`email`,
//! `postal-address`, `phone`), the text as the body, the attachments by digest (their
//! bytes stay in the raw input the hub keeps), metadata `site.consent = true`,
//! `site.format`, `site.organisation`, `site.form-id`.
//!
//! ## Settings
//! | key | default | meaning |
//! |---|---|---|
//! | `max-text-chars` | `20000` | longest text |
//! | `max-attachments` | `5` | most files |
//! | `max-attachment-bytes` | `5242880` | largest file (decoded) |
//! | `max-total-attachment-bytes` | `10485760` | all files together |
//! | `attachment-types` | PDF, JPEG, PNG, TIFF, text, Word, RTF, ODT | media types taken, comma-separated |

mod form;
mod problems;
mod validate;

use okno_sdk::prelude::*;

pub use problems::{FieldProblem, Problem};
pub use validate::Limits;

/// The e-reception form connector.
pub struct SiteConnector;

impl Connector for SiteConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let limits = Limits::from_config()?;
        let format = form::format_of(input.content_type.as_deref(), &input.bytes)?;
        let (fields, problems) = form::parse(format, &input.bytes)?;
        let message = validate::appeal(&fields, problems, &limits, format)?;
        Ok(vec![message])
    }

    fn encode(_: Message, _: Classification, _: Decision) -> Result<Outbound, PluginError> {
        Err(PluginError::unsupported(
            "the site connector reads the e-reception form; answers go out through the mail or http-json connectors",
        ))
    }
}

okno_sdk::export_connector!(SiteConnector);
