//! A routed message from the portal → the document the portal gets back.
//!
//! - A question or a self-assessment gets an `answer`: `answered` with the text in
//!   `knd.answer-text` when staff have written one, else `registered` with the deadline
//!   the hub decided and the responsible department.
//! - A visit or consultation request, or the business's choice of a slot, gets an
//!   `appointment_confirmation` for the first slot it asked for that the body can hold
//!   (a working day by the production calendar, within `hours`, no earlier than
//!   `lead-working-days`, not booked by another request), or else a `slot_offer` of free
//!   slots. Bookings live in the plugin's kv (`booked/<day>/<start>-<end>` = the request's
//!   portal id), so a retried delivery confirms the same slot and no slot is given twice.

use okno_sdk::prelude::*;
use okno_sdk::{calendar, clock, kv, time};

use crate::doc::*;
use crate::rules::{self, format_date, format_time, parse_time};
use crate::settings::Settings;

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 86_400_000;

pub fn reply(
    message: &Message,
    decision: &Decision,
    settings: &Settings,
) -> Result<Outgoing, PluginError> {
    let (Some(portal_id), Some(kind)) = (
        message.metadata_value("knd.id"),
        message.metadata_value("knd.type"),
    ) else {
        return Err(PluginError::unsupported(format!(
            "message {} did not come from the KND portal (no `knd.id` and `knd.type` metadata); the portal takes replies to its own documents only",
            message.id
        )));
    };
    rules::id("metadata `knd.id`", portal_id)?;
    let header = Header {
        id: reply_id(message, portal_id),
        created_at: format_time(clock::now(), clock::utc_offset_minutes()),
        in_reply_to: portal_id.to_string(),
    };
    let outgoing = match kind {
        "question" | "self_assessment" => Outgoing::Answer(answer(message, decision, settings, header)),
        "visit_request" | "slot_choice" => book(message, settings, header, portal_id)?,
        other => {
            return Err(PluginError::invalid_input(format!(
                "metadata `knd.type` is `{}`; the portal is answered for `question`, `self_assessment`, `visit_request` and `slot_choice`",
                rules::shown(other)
            )))
        }
    };
    crate::check::check_outgoing(&outgoing).map_err(|e| {
        PluginError::new(
            e.kind,
            format!(
                "the reply to {portal_id} would not fit examples/formats/knd.schema.json: {}",
                e.message
            ),
        )
    })?;
    Ok(outgoing)
}

struct Header {
    id: String,
    created_at: String,
    in_reply_to: String,
}

/// The hub's id makes the reply's id; `okno plugin run` may give a message without one.
fn reply_id(message: &Message, portal_id: &str) -> String {
    let base = if message.id.is_empty() {
        portal_id
    } else {
        message.id.as_str()
    };
    let id: String = format!("okno-{base}").chars().take(128).collect();
    if rules::id("$", &id).is_ok() {
        id
    } else {
        format!("okno-{:016x}", fnv(base))
    }
}

fn answer(message: &Message, decision: &Decision, settings: &Settings, h: Header) -> Answer {
    let department = decision
        .responsible
        .as_deref()
        .map(|id| settings.department_name(id).chars().take(1000).collect());
    let text = message
        .metadata_value("knd.answer-text")
        .map(|t| t.chars().take(20_000).collect::<String>())
        .filter(|t| !t.trim().is_empty());
    let (status, deadline) = match &text {
        Some(_) => (AnswerStatus::Answered, None),
        None => {
            let due = match decision.answer_deadline {
                Some(at) => time::local_date(at),
                None => {
                    calendar::add_working_days(received_day(message), settings.answer_working_days)
                }
            };
            (AnswerStatus::Registered, Some(format_date(due)))
        }
    };
    let signed_by = text.as_ref().and_then(|_| {
        message
            .metadata_value("knd.answer-signed-by")
            .map(str::to_string)
            .or_else(|| settings.signed_by.clone())
    });
    Answer {
        format: FORMAT.into(),
        kind: "answer".into(),
        id: h.id,
        created_at: h.created_at,
        in_reply_to: h.in_reply_to,
        status,
        department,
        deadline,
        text,
        signed_by,
    }
}

fn received_day(message: &Message) -> Date {
    let at = if message.received_at > 0 {
        message.received_at
    } else {
        clock::now()
    };
    time::local_date(at)
}

/// The window slots may fall in, and the bookings other requests hold.
struct Reception<'a> {
    settings: &'a Settings,
    offset_minutes: i32,
    earliest: Date,
    owner: &'a str,
}

impl Reception<'_> {
    fn local_day(&self, at: Timestamp) -> Date {
        time::local_date_with_offset(at, self.offset_minutes)
    }

    fn minute_of_day(&self, at: Timestamp) -> i64 {
        (at + i64::from(self.offset_minutes) * MS_PER_MINUTE).rem_euclid(MS_PER_DAY) / MS_PER_MINUTE
    }

    /// Whether the body can hold a meeting from `start` to `end`.
    fn can_hold(&self, start: Timestamp, end: Timestamp) -> Result<bool, PluginError> {
        let day = self.local_day(start);
        if time::days_from_civil(self.local_day(end - 1)) != time::days_from_civil(day)
            || time::days_from_civil(day) < time::days_from_civil(self.earliest)
            || !calendar::is_working_day(day)
        {
            return Ok(false);
        }
        let (from, to) = (self.minute_of_day(start), self.minute_of_day(end - 1) + 1);
        let within = self
            .settings
            .hours
            .iter()
            .any(|(a, b)| i64::from(*a) <= from && to <= i64::from(*b));
        Ok(within && self.is_free(day, start, end)?)
    }

    fn is_free(&self, day: Date, start: Timestamp, end: Timestamp) -> Result<bool, PluginError> {
        let prefix = format!("booked/{}/", format_date(day));
        for key in kv::list_keys(&prefix, 1000).map_err(kv_error)? {
            let Some((a, b)) = key[prefix.len()..]
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
            else {
                continue;
            };
            if a < end && start < b {
                let owner = kv::get(&key).map_err(kv_error)?.unwrap_or_default();
                if owner != self.owner.as_bytes() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn book(&self, start: Timestamp, end: Timestamp) -> Result<(), PluginError> {
        let key = format!(
            "booked/{}/{start}-{end}",
            format_date(self.local_day(start))
        );
        kv::set(&key, self.owner.as_bytes()).map_err(kv_error)
    }

    /// Free slots of `length` minutes, day by day within the search window.
    fn free_slots(&self, length: i64) -> Result<Vec<(Timestamp, Timestamp)>, PluginError> {
        let mut found = Vec::new();
        let mut day = if calendar::is_working_day(self.earliest) {
            self.earliest
        } else {
            calendar::add_working_days(self.earliest, 0)
        };
        for _ in 0..self.settings.search_working_days {
            let midnight = time::days_from_civil(day) * MS_PER_DAY
                - i64::from(self.offset_minutes) * MS_PER_MINUTE;
            for (from, to) in &self.settings.hours {
                let mut minute = i64::from(*from);
                while minute + length <= i64::from(*to) {
                    let start = midnight + minute * MS_PER_MINUTE;
                    let end = start + length * MS_PER_MINUTE;
                    if self.is_free(day, start, end)? {
                        found.push((start, end));
                        if found.len() == self.settings.offer_count {
                            return Ok(found);
                        }
                    }
                    minute += length;
                }
            }
            day = calendar::add_working_days(day, 1);
        }
        Ok(found)
    }
}

fn book(
    message: &Message,
    settings: &Settings,
    h: Header,
    portal_id: &str,
) -> Result<Outgoing, PluginError> {
    let format = message
        .metadata_value("knd.meeting-format")
        .and_then(MeetingFormat::parse)
        .ok_or_else(|| {
            PluginError::invalid_input(
                "metadata `knd.meeting-format` is missing or not `in_person`, `video` or `phone`",
            )
        })?;
    // A choice books for the request it answers, so the request's own slot stays its own.
    let owner = message.thread.in_reply_to.as_deref().unwrap_or(portal_id);
    let reception = Reception {
        settings,
        offset_minutes: clock::utc_offset_minutes(),
        earliest: calendar::add_working_days(received_day(message), settings.lead_working_days),
        owner,
    };
    let mut wanted: Vec<(Timestamp, Timestamp)> = Vec::new();
    for (i, value) in message
        .metadata
        .iter()
        .filter(|(k, _)| k == "knd.preferred-slot")
        .map(|(_, v)| v)
        .enumerate()
    {
        let parsed = value
            .split_once('/')
            .and_then(|(a, b)| Some((parse_time(a)?, parse_time(b)?)))
            .filter(|(a, b)| a < b)
            .ok_or_else(|| {
                PluginError::invalid_input(format!(
                    "metadata `knd.preferred-slot` #{} is `{}`, not START/END in RFC 3339",
                    i + 1,
                    rules::shown(value)
                ))
            })?;
        wanted.push(parsed);
    }
    let place = settings.places.get(format.as_str()).cloned();
    for (start, end) in &wanted {
        if reception.can_hold(*start, *end)? {
            reception.book(*start, *end)?;
            return Ok(Outgoing::Confirmation(Confirmation {
                format: FORMAT.into(),
                kind: "appointment_confirmation".into(),
                id: h.id,
                created_at: h.created_at,
                in_reply_to: h.in_reply_to,
                meeting_format: format,
                slot: slot(*start, *end, reception.offset_minutes),
                place,
                confirmation_number: confirmation_number(owner, *start, reception.offset_minutes),
            }));
        }
    }
    // The length the business asked for, when a reception interval can hold it.
    let longest = settings.hours.iter().map(|(a, b)| b - a).max().unwrap_or(0);
    let asked = wanted
        .first()
        .map(|(a, b)| (b - a) / MS_PER_MINUTE)
        .filter(|m| *m <= i64::from(longest));
    let length = asked.unwrap_or(i64::from(settings.slot_minutes));
    let free = reception.free_slots(length)?;
    if free.is_empty() {
        return Err(PluginError::config(format!(
            "no free {length}-minute slot within {} working days from {}; widen `hours` or `search-working-days`",
            settings.search_working_days,
            format_date(reception.earliest)
        )));
    }
    let valid_until = time::end_of_local_day(calendar::add_working_days(
        time::local_date(clock::now()),
        settings.offer_valid_working_days,
    ));
    Ok(Outgoing::SlotOffer(SlotOffer {
        format: FORMAT.into(),
        kind: "slot_offer".into(),
        id: h.id,
        created_at: h.created_at,
        in_reply_to: h.in_reply_to,
        meeting_format: format,
        place,
        slots: free
            .into_iter()
            .map(|(a, b)| slot(a, b, reception.offset_minutes))
            .collect(),
        valid_until: format_time(valid_until, reception.offset_minutes),
    }))
}

fn slot(start: Timestamp, end: Timestamp, offset: i32) -> Slot {
    Slot {
        start: format_time(start, offset),
        end: format_time(end, offset),
    }
}

/// `KND-<local start, YYYYMMDDHHMM>-<8 hex of the request>`: unique per request and slot,
/// and the same on a retried delivery.
fn confirmation_number(owner: &str, start: Timestamp, offset: i32) -> String {
    let local: String = format_time(start, offset)
        .chars()
        .take(16)
        .filter(char::is_ascii_digit)
        .collect();
    format!("KND-{local}-{:08x}", fnv(owner) as u32)
}

/// FNV-1a: a stable short digest (not for security).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn kv_error(e: kv::KvError) -> PluginError {
    match e {
        kv::KvError::QuotaExceeded(why) => PluginError::config(format!(
            "the plugin's kv is full, bookings cannot be kept: {why}; raise `kv_quota_mib`"
        )),
        kv::KvError::Store(why) => PluginError::upstream(format!("the hub's kv failed: {why}")),
    }
}
