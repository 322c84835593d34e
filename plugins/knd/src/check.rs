//! Reading a document strictly: the size first, then JSON, then `type` chooses the
//! document's Rust type (unknown fields, wrong types and unknown values refused with their
//! JSON path), then what types cannot say. `encode` runs the same checks on what it
//! writes, so the portal never gets a document outside the schema.

use serde::de::DeserializeOwned;
use serde_json::Value;

use okno_sdk::prelude::*;

use crate::doc::*;
use crate::rules::{self, refuse};

/// Any document of the format, either way.
// One per call, moved once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Incoming(Incoming),
    Outgoing(Outgoing),
}

pub fn read_document(bytes: &[u8], max_bytes: usize) -> Result<Document, PluginError> {
    if bytes.len() > max_bytes {
        return Err(PluginError::invalid_input(format!(
            "$: the document is {} bytes; at most {max_bytes} are read (setting `max-document-bytes`)",
            bytes.len()
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PluginError::invalid_input(
            "$: the input is empty; expected a KND portal document (examples/formats/knd.schema.json)",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| PluginError::invalid_input(format!("$: not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| refuse("$", "expected an object with `format` and `type`"))?;
    // The schema's arrays are under these keys alone; a struct read from an array is not.
    rules::arrays_only_at(&value, &["preferred_slots", "answers", "slots"])?;
    let kind = match object.get("type") {
        None => {
            return Err(refuse(
                "$.type",
                format!("is missing; expected one of {}", type_list()),
            ))
        }
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => return Err(refuse("$.type", "expected a string")),
    };
    let document = match kind {
        "question" => Document::Incoming(Incoming::Question(typed(&value)?)),
        "visit_request" => Document::Incoming(Incoming::VisitRequest(typed(&value)?)),
        "slot_choice" => Document::Incoming(Incoming::SlotChoice(typed(&value)?)),
        "self_assessment" => Document::Incoming(Incoming::SelfAssessment(typed(&value)?)),
        "answer" => Document::Outgoing(Outgoing::Answer(typed(&value)?)),
        "slot_offer" => Document::Outgoing(Outgoing::SlotOffer(typed(&value)?)),
        "appointment_confirmation" => Document::Outgoing(Outgoing::Confirmation(typed(&value)?)),
        other => {
            return Err(refuse(
                "$.type",
                format!(
                    "`{}` is not a document type; expected one of {}",
                    rules::shown(other),
                    type_list()
                ),
            ))
        }
    };
    match &document {
        Document::Incoming(incoming) => check_incoming(incoming)?,
        Document::Outgoing(outgoing) => check_outgoing(outgoing)?,
    }
    Ok(document)
}

fn type_list() -> String {
    TYPES
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, PluginError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." || path.is_empty() {
            "$".to_string()
        } else {
            format!("$.{path}")
        };
        refuse(&path, e.into_inner())
    })
}

fn common(format: &str, id: &str, created_at: &str) -> Result<(), PluginError> {
    if format != FORMAT {
        return Err(refuse(
            "$.format",
            format!(
                "`{}` is not `{FORMAT}`, the version this plugin reads",
                rules::shown(format)
            ),
        ));
    }
    rules::id("$.id", id)?;
    rules::time("$.created_at", created_at)?;
    Ok(())
}

pub fn check_incoming(doc: &Incoming) -> Result<(), PluginError> {
    match doc {
        Incoming::Question(q) => {
            common(&q.format, &q.id, &q.created_at)?;
            applicant(&q.applicant)?;
            coded("$.control_kind", &q.control_kind)?;
            coded("$.authority", &q.authority)?;
            rules::text("$.subject", &q.subject, 1000)?;
            rules::text("$.text", &q.text, 20_000)?;
            if let Some(code) = &q.topic_code {
                rules::topic_code("$.topic_code", code)?;
            }
        }
        Incoming::VisitRequest(v) => {
            common(&v.format, &v.id, &v.created_at)?;
            applicant(&v.applicant)?;
            coded("$.control_kind", &v.control_kind)?;
            coded("$.authority", &v.authority)?;
            if let Some(object) = &v.control_object {
                if let Some(name) = &object.name {
                    rules::text("$.control_object.name", name, 1000)?;
                }
                rules::text("$.control_object.address", &object.address, 1000)?;
            }
            rules::text("$.topic", &v.topic, 1000)?;
            if let Some(text) = &v.text {
                rules::text("$.text", text, 20_000)?;
            }
            slots("$.preferred_slots", &v.preferred_slots)?;
            if v.request_kind == RequestKind::PreventiveVisit && v.control_object.is_none() {
                return Err(refuse(
                    "$.control_object",
                    "is missing; a preventive visit is made to an object of control",
                ));
            }
        }
        Incoming::SlotChoice(c) => {
            common(&c.format, &c.id, &c.created_at)?;
            rules::id("$.in_reply_to", &c.in_reply_to)?;
            applicant(&c.applicant)?;
            slot("$.slot", &c.slot)?;
        }
        Incoming::SelfAssessment(s) => {
            common(&s.format, &s.id, &s.created_at)?;
            applicant(&s.applicant)?;
            coded("$.control_kind", &s.control_kind)?;
            coded("$.authority", &s.authority)?;
            rules::id("$.checklist.id", &s.checklist.id)?;
            rules::text("$.checklist.title", &s.checklist.title, 1000)?;
            rules::count("$.answers", s.answers.len(), 1, 500)?;
            for (i, a) in s.answers.iter().enumerate() {
                rules::id(&format!("$.answers[{i}].question_id"), &a.question_id)?;
                rules::text(&format!("$.answers[{i}].question"), &a.question, 1000)?;
                if let Some(comment) = &a.comment {
                    rules::text(&format!("$.answers[{i}].comment"), comment, 1000)?;
                }
            }
        }
    }
    Ok(())
}

pub fn check_outgoing(doc: &Outgoing) -> Result<(), PluginError> {
    match doc {
        Outgoing::Answer(a) => {
            common(&a.format, &a.id, &a.created_at)?;
            rules::id("$.in_reply_to", &a.in_reply_to)?;
            if let Some(department) = &a.department {
                rules::text("$.department", department, 1000)?;
            }
            if let Some(deadline) = &a.deadline {
                rules::date("$.deadline", deadline)?;
            }
            if let Some(text) = &a.text {
                rules::text("$.text", text, 20_000)?;
            }
            if let Some(signed) = &a.signed_by {
                rules::text("$.signed_by", signed, 1000)?;
            }
            match a.status {
                AnswerStatus::Answered if a.text.is_none() => {
                    return Err(refuse(
                        "$.text",
                        "is missing; an `answered` answer has its text",
                    ))
                }
                AnswerStatus::Registered if a.deadline.is_none() => {
                    return Err(refuse(
                        "$.deadline",
                        "is missing; a `registered` notice says when the answer is due",
                    ))
                }
                _ => {}
            }
        }
        Outgoing::SlotOffer(o) => {
            common(&o.format, &o.id, &o.created_at)?;
            rules::id("$.in_reply_to", &o.in_reply_to)?;
            if let Some(place) = &o.place {
                rules::text("$.place", place, 1000)?;
            }
            slots("$.slots", &o.slots)?;
            rules::time("$.valid_until", &o.valid_until)?;
        }
        Outgoing::Confirmation(c) => {
            common(&c.format, &c.id, &c.created_at)?;
            rules::id("$.in_reply_to", &c.in_reply_to)?;
            slot("$.slot", &c.slot)?;
            if let Some(place) = &c.place {
                rules::text("$.place", place, 1000)?;
            }
            rules::id("$.confirmation_number", &c.confirmation_number)?;
        }
    }
    Ok(())
}

fn applicant(a: &Applicant) -> Result<(), PluginError> {
    rules::text("$.applicant.name", &a.name, 1000)?;
    rules::inn("$.applicant.inn", &a.inn)?;
    if let Some(ogrn) = &a.ogrn {
        if !matches!(ogrn.len(), 13 | 15) || !ogrn.bytes().all(|c| c.is_ascii_digit()) {
            return Err(refuse(
                "$.applicant.ogrn",
                "is not an ОГРН (13 digits) or ОГРНИП (15)",
            ));
        }
    }
    if let Some(person) = &a.contact_person {
        rules::text("$.applicant.contact_person", person, 1000)?;
    }
    if let Some(email) = &a.email {
        rules::email("$.applicant.email", email)?;
    }
    if let Some(phone) = &a.phone {
        rules::phone("$.applicant.phone", phone)?;
    }
    Ok(())
}

fn coded(path: &str, c: &Coded) -> Result<(), PluginError> {
    if !(1..=20).contains(&c.code.len()) || !c.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(
            &format!("{path}.code"),
            "is not a code of 1 to 20 digits",
        ));
    }
    rules::text(&format!("{path}.name"), &c.name, 1000)
}

fn slots(path: &str, list: &[Slot]) -> Result<(), PluginError> {
    rules::count(path, list.len(), 1, 10)?;
    for (i, s) in list.iter().enumerate() {
        slot(&format!("{path}[{i}]"), s)?;
    }
    Ok(())
}

/// A slot's times, and (beyond the schema) an end after its start.
pub fn slot(path: &str, s: &Slot) -> Result<(Timestamp, Timestamp), PluginError> {
    let start = rules::time(&format!("{path}.start"), &s.start)?;
    let end = rules::time(&format!("{path}.end"), &s.end)?;
    if end <= start {
        return Err(refuse(
            &format!("{path}.end"),
            "is not after the slot's start",
        ));
    }
    Ok((start, end))
}
