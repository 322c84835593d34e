//! Reading a card strictly: the bytes' size first, then JSON into the types of `card.rs`
//! (unknown fields, wrong types and unknown values refused with their JSON path), then
//! what the types cannot say. `encode` runs the same checks on what it writes, so the
//! plugin never sends SOG a card outside the schema.

use okno_sdk::prelude::*;

use crate::card::*;
use crate::rules::{self, refuse};

/// Parses and checks one card.
/// The longest `attachments[].content`: base64 of 32 MiB.
pub const MAX_CONTENT_CHARS: usize = 44_739_244;

pub fn read_card(bytes: &[u8], max_bytes: usize) -> Result<Card, PluginError> {
    if bytes.len() > max_bytes {
        return Err(PluginError::invalid_input(format!(
            "$: the card is {} bytes; at most {max_bytes} are read (setting `max-card-bytes`)",
            bytes.len()
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PluginError::invalid_input(
            "$: the input is empty; expected a SOG card (examples/formats/sog.schema.json)",
        ));
    }
    // The schema's arrays are under these keys alone; a derived read would also take a
    // struct from an array of its values. Checked on a parsed copy when the card is JSON;
    // what is not is refused by the typed read below, with its path.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        rules::arrays_only_at(&value, &["questions", "attachments", "benefits"])?;
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let card: Card = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = json_path(&e.path().to_string());
        let inner = e.into_inner();
        // serde_json's message ends with "at line L column C": keep it, it helps find
        // the spot in a long document.
        refuse(&path, inner)
    })?;
    json.end()
        .map_err(|e| PluginError::invalid_input(format!("$: after the card: {e}")))?;
    check_card(&card)?;
    Ok(card)
}

/// `questions[0].code` → `$.questions[0].code`; `.` (the root) → `$`.
fn json_path(serde_path: &str) -> String {
    if serde_path == "." || serde_path.is_empty() {
        "$".into()
    } else {
        format!("$.{serde_path}")
    }
}

/// Everything the schema says beyond types, in the schema's order.
pub fn check_card(card: &Card) -> Result<(), PluginError> {
    if card.format != FORMAT {
        return Err(refuse(
            "$.format",
            format!(
                "`{}` is not `{FORMAT}`, the version this plugin reads",
                rules::shown(&card.format)
            ),
        ));
    }
    if let Some(uid) = &card.uid {
        rules::id("$.uid", uid)?;
    }
    if let Some(revision) = card.revision {
        rules::range("$.revision", revision.into(), 1, 1_000_000)?;
    }
    if let Some(external) = &card.external_id {
        rules::id("$.external_id", external)?;
    }
    if let Some(registration) = &card.registration {
        rules::text("$.registration.number", &registration.number, 64)?;
        rules::date("$.registration.date", &registration.date)?;
    }
    if let Some(date) = &card.received_date {
        rules::date("$.received_date", date)?;
    }
    check_applicant(&card.applicant)?;
    if let Some(signatures) = card.signatures {
        rules::range("$.signatures", signatures.into(), 1, 1_000_000)?;
    }
    if let Some(sender) = &card.sender_body {
        check_forwarding("$.sender_body", sender)?;
    }
    rules::count("$.questions", card.questions.len(), 1, 20)?;
    for (i, question) in card.questions.iter().enumerate() {
        rules::topic_code(&format!("$.questions[{i}].code"), &question.code)?;
        if let Some(text) = &question.text {
            rules::text(&format!("$.questions[{i}].text"), text, 1000)?;
        }
    }
    rules::text("$.summary", &card.summary, 4000)?;
    if let Some(text) = &card.text {
        rules::text("$.text", text, 200_000)?;
    }
    if let Some(executor) = &card.executor {
        check_official("$.executor", executor)?;
    }
    if let Some(responsible) = &card.responsible {
        check_official("$.responsible", responsible)?;
    }
    if let Some(deadline) = &card.deadline {
        rules::date("$.deadline", deadline)?;
    }
    if let Some(name) = &card.status_name {
        rules::text("$.status_name", name, 1000)?;
    }
    if let Some(forwarding) = &card.forwarding {
        check_forwarding("$.forwarding", forwarding)?;
    }
    if let Some(answer) = &card.answer {
        rules::date("$.answer.date", &answer.date)?;
        rules::text("$.answer.number", &answer.number, 64)?;
        if let Some(signed) = &answer.signed_by {
            rules::text("$.answer.signed_by", signed, 1000)?;
        }
        if let Some(text) = &answer.text {
            rules::text("$.answer.text", text, 200_000)?;
        }
    }
    if let Some(repeat) = &card.repeat_of {
        rules::text("$.repeat_of", repeat, 64)?;
    }
    if let Some(attachments) = &card.attachments {
        rules::count("$.attachments", attachments.len(), 0, 100)?;
        for (i, a) in attachments.iter().enumerate() {
            let at = format!("$.attachments[{i}]");
            rules::text(&format!("{at}.name"), &a.name, 1000)?;
            rules::media_type(&format!("{at}.media_type"), &a.media_type)?;
            rules::range(&format!("{at}.size"), a.size, 0, 1 << 30)?;
            rules::sha256(&format!("{at}.sha256"), &a.sha256)?;
            if let Some(content) = &a.content {
                rules::base64(&format!("{at}.content"), content, MAX_CONTENT_CHARS)?;
            }
        }
    }
    // The schema's `allOf` of `if`/`then`.
    if card.status != Status::Received && card.registration.is_none() {
        return Err(refuse(
            "$.registration",
            format!(
                "is missing; a card in status `{}` has been registered by SOG",
                card.status.as_str()
            ),
        ));
    }
    if card.status == Status::Forwarded && card.forwarding.is_none() {
        return Err(refuse(
            "$.forwarding",
            "is missing; status `forwarded` says where the appeal went",
        ));
    }
    if card.status == Status::Answered && card.answer.is_none() {
        return Err(refuse(
            "$.answer",
            "is missing; status `answered` carries the answer's date and number",
        ));
    }
    if card.channel == ReceiptChannel::FromBody && card.sender_body.is_none() {
        return Err(refuse(
            "$.sender_body",
            "is missing; channel `from_body` names the body that forwarded the appeal",
        ));
    }
    Ok(())
}

fn check_applicant(a: &Applicant) -> Result<(), PluginError> {
    let texts = [
        ("last_name", &a.last_name),
        ("first_name", &a.first_name),
        ("middle_name", &a.middle_name),
        ("organisation", &a.organisation),
        ("address", &a.address),
    ];
    for (key, value) in texts {
        if let Some(value) = value {
            rules::text(&format!("$.applicant.{key}"), value, 1000)?;
        }
    }
    if let Some(inn) = &a.inn {
        rules::inn("$.applicant.inn", inn)?;
    }
    if let Some(email) = &a.email {
        rules::email("$.applicant.email", email)?;
    }
    if let Some(phone) = &a.phone {
        rules::phone("$.applicant.phone", phone)?;
    }
    if let Some(benefits) = &a.benefits {
        rules::count("$.applicant.benefits", benefits.len(), 0, 20)?;
        for (i, b) in benefits.iter().enumerate() {
            rules::tag(&format!("$.applicant.benefits[{i}]"), b)?;
        }
    }
    match a.kind {
        ApplicantType::Citizen => {
            if a.last_name.is_none() {
                return Err(refuse(
                    "$.applicant.last_name",
                    "is missing; a citizen's card names the applicant",
                ));
            }
            if a.first_name.is_none() {
                return Err(refuse(
                    "$.applicant.first_name",
                    "is missing; a citizen's card names the applicant",
                ));
            }
        }
        ApplicantType::Organisation => {
            if a.organisation.is_none() {
                return Err(refuse(
                    "$.applicant.organisation",
                    "is missing; an organisation's card names it",
                ));
            }
        }
    }
    Ok(())
}

fn check_official(path: &str, o: &Official) -> Result<(), PluginError> {
    let ok = (1..=32).contains(&o.department.chars().count())
        && o.department.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_' | '-' | 'Ё' | 'ё')
                || ('А'..='я').contains(&c)
        });
    if !ok {
        return Err(refuse(
            &format!("{path}.department"),
            "is not a department code: 1 to 32 letters, digits, `.`, `_` or `-`",
        ));
    }
    if let Some(name) = &o.name {
        rules::text(&format!("{path}.name"), name, 1000)?;
    }
    Ok(())
}

fn check_forwarding(path: &str, f: &Forwarding) -> Result<(), PluginError> {
    rules::text(&format!("{path}.body"), &f.body, 1000)?;
    rules::date(&format!("{path}.date"), &f.date)?;
    rules::text(&format!("{path}.number"), &f.number, 64)?;
    Ok(())
}
