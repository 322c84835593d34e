//! Registration numbers carried back onto the appeal they number.
//!
//! The hub sends an appeal to a registering system (the EDMS over МЭДО, SOG); that system
//! answers later with the number it registered the appeal under — a МЭДО «Зарегистрирован»
//! notification, a registered SOG card — and the connector decoding the answer points it at
//! the appeal with `thread.in_reply_to` (the hub id carried in the packet's uid or the
//! card's `external_id`). Here the number goes onto the original appeal's record, where
//! `GET /v1/messages/{id}` and `GET /v1/appeals/{id}` show it, and every later encode of
//! the appeal sees it as `edms.reg-number` / `sog.reg-number`, so that a reply quotes the
//! registration number rather than the hub's id. A sink with `hold_for_registration_ms`
//! waits that long for the number before it encodes.

use std::borrow::Cow;

use crate::config::SinkConfig;
use crate::model::Message;
use crate::store::{Record, Registration, TraceEntry};

use super::Hub;

/// Registering systems: the system, and the metadata keys of its number and date.
const SYSTEMS: [(&str, &str, &str); 2] = [
    ("edms", "edms.reg-number", "edms.reg-date"),
    ("sog", "sog.reg-number", "sog.reg-date"),
];

/// How often a held delivery looks again for the number.
const HOLD_STEP_MS: i64 = 250;

/// A registration number a message carries: (system, number, date).
fn carried(message: &Message) -> Option<(&'static str, String, Option<String>)> {
    SYSTEMS.iter().find_map(|(system, number, date)| {
        let n = message
            .metadata_value(number)
            .map(str::trim)
            .filter(|n| !n.is_empty())?;
        let d = message
            .metadata_value(date)
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        Some((*system, n.to_string(), d))
    })
}

/// Writes the registration number `message` carries onto the appeal it answers. Returns
/// the trace entry for `message`, or `None` when it carries no number for another
/// message the hub keeps. Idempotent: a second run (after a crash, or a repeated event
/// such as an assignment repeating the number) changes nothing.
pub fn carry(hub: &Hub, message: &Message) -> anyhow::Result<Option<TraceEntry>> {
    let Some(target) = message
        .thread
        .in_reply_to
        .as_deref()
        .filter(|t| *t != message.id)
    else {
        return Ok(None);
    };
    let Some((system, number, date)) = carried(message) else {
        return Ok(None);
    };
    if hub.store.get(target)?.is_none() {
        // An answer about something the hub did not send (or no longer keeps).
        return Ok(None);
    }
    let registration = Registration {
        system: system.into(),
        number: number.clone(),
        date: date.clone(),
        by_message: message.id.clone(),
        at: crate::sla::now_millis(),
    };
    let on_date = date.map(|d| format!(" on {d}")).unwrap_or_default();
    let written = hub.store.update_if(target, |r| {
        let same = r
            .registration
            .as_ref()
            .is_some_and(|g| g.system == system && g.number == number);
        if same {
            return false;
        }
        r.registration = Some(registration.clone());
        r.trace.push(super::trace_entry(
            "registration",
            &format!(
                "registered in {system} under number {number}{on_date} (answer {})",
                message.id
            ),
        ));
        true
    })?;
    if written.is_some() {
        tracing::info!(message_id = %target, system, by = %message.id, "registration number carried onto the appeal");
        // A delivery held for the number may go now.
        hub.delivery_wake.notify_one();
    }
    Ok(Some(super::trace_entry(
        "registration",
        &format!("carries {system} registration number {number} for message {target}"),
    )))
}

/// The message as a sink's connector encodes it: with the registration number the record
/// holds as `<system>.reg-number` (and `-date`) when the message does not carry it itself.
pub fn for_encode(record: &Record) -> Cow<'_, Message> {
    let Some(g) = &record.registration else {
        return Cow::Borrowed(&record.message);
    };
    if carried(&record.message).is_some() {
        return Cow::Borrowed(&record.message);
    }
    let mut message = record.message.clone();
    message
        .metadata
        .push((format!("{}.reg-number", g.system), g.number.clone()));
    if let Some(date) = &g.date {
        message
            .metadata
            .push((format!("{}.reg-date", g.system), date.clone()));
    }
    Cow::Owned(message)
}

/// When a delivery to `sink` that waits for the registration number should look again, or
/// `None` to deliver now: the number is there, the sink does not wait, or it has waited
/// `hold_for_registration_ms` since the message arrived.
pub fn held_until(sink: &SinkConfig, record: &Record, now: i64) -> Option<i64> {
    if sink.hold_for_registration_ms == 0
        || record.registration.is_some()
        || carried(&record.message).is_some()
    {
        return None;
    }
    let until = record
        .message
        .received_at
        .saturating_add(sink.hold_for_registration_ms as i64);
    (now < until).then(|| until.min(now + HOLD_STEP_MS))
}
