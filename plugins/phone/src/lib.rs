//! # okno-plugin-phone: call detail records
//!
//! A connector for the `connector` world of `okno:plugin`: a PBX's call records, as a
//! file the `dir` transport picks up or a body posted to
//! `POST /v1/sources/{source}/messages`, become one message per call (channel `phone`).
//!
//! | format | how it is told | |
//! |---|---|---|
//! | Asterisk `cdr_csv` Master.csv | 16, 18 or 21 columns (21: with `peeraccount`, `linkedid`, `sequence`) | `asterisk::cdr_legs` |
//! | Asterisk `cdr_custom` (the sample mapping: `clid` first, `sequence` last) | 19 columns | `asterisk::cdr_legs` |
//! | Asterisk CEL (`cel_custom`'s sample mapping) | 20 columns, an event type first | `asterisk::cel_legs` |
//! | FreeSWITCH `mod_json_cdr` | `{` or `[` first | `freeswitch::json_legs` |
//! | FreeSWITCH `mod_xml_cdr` | `<` first | `freeswitch::xml_legs` |
//! | FreeSWITCH `mod_cdr_csv` (default template) | 15 or 16 columns | `freeswitch::csv_legs` |
//!
//! The legs of one call are grouped, its transfers counted and its outcome told as
//! `calls` explains. A call with more than `max-transfers` (2, order 6.5.2) transfers
//! has the metadata `tag = phone.transfers-over-limit`.
//!
//! **The message.** The caller (number as a `phone` contact, caller ID name), the
//! subject `Звонок с НОМЕР: ИСХОД`, `sent-at` the call's start, and metadata
//! `phone.call-id`, `phone.format`, `phone.caller`, `phone.operator` (the last party that
//! answered), `phone.operators`, `phone.outcome` (answered, missed, abandoned, busy,
//! failed), `phone.duration-s`, `phone.talk-s`, `phone.transfers`, `phone.legs`, and the
//! hour's missed and abandoned counts (`report`). The idempotency key is
//! `phone:CALL-ID`, so a file delivered twice stores each call once.
//!
//! **The operator's note.** A note the operator wrote about the call makes the message
//! an oral appeal (`phone.appeal = oral`) with the note as its body: Asterisk's CDR
//! `userfield` (the dialplan or the agent's desk sets it with `Set(CDR(userfield)=…)`;
//! the `userfield` column of CEL), FreeSWITCH's channel variable `operator_note` (JSON
//! and XML records), or a 16th column of mod_cdr_csv's template. A call without a note
//! has a one-line summary as its body.
//!
//! **Bad input** is refused whole, nothing stored, with the line (or record) and column:
//! a quote never closed, rows of different widths, bytes that are not UTF-8 (unless
//! `charset` says otherwise), a time or number that is not one, XML that is not
//! well-formed.
//!
//! ## Settings
//! | key | default | meaning |
//! |---|---|---|
//! | `charset` | `utf-8` | the CSV's charset: `utf-8`, `windows-1251`, `koi8-r` |
//! | `utc-offset-minutes` | the hub's | the PBX's time zone, for CSV times without one |
//! | `max-transfers` | `2` | more transfers than this tag the call |
//! | `layout` | `auto` | `asterisk-cdr`, `asterisk-cel`, `freeswitch-csv`, `freeswitch-json`, `freeswitch-xml` |

pub mod asterisk;
pub mod calls;
pub mod freeswitch;
pub mod leg;
pub mod report;
pub mod rows;
pub mod time;

use okno_sdk::config;
use okno_sdk::prelude::*;

use calls::Call;
use rows::Charset;

/// The tag a call transferred too often carries (metadata `tag`).
pub const OVER_LIMIT_TAG: &str = "phone.transfers-over-limit";

#[derive(Clone, Debug)]
pub struct Settings {
    pub charset: Charset,
    pub offset_minutes: i32,
    pub max_transfers: u32,
    pub layout: Option<String>,
}

impl Settings {
    pub fn from_config() -> Result<Settings, PluginError> {
        let charset = match config::get("charset") {
            None => Charset::Utf8,
            Some(name) => Charset::parse(&name).ok_or_else(|| {
                PluginError::config(format!(
                    "setting `charset` is `{name}`; use `utf-8`, `windows-1251` or `koi8-r`"
                ))
            })?,
        };
        let offset_minutes = match config::get("utc-offset-minutes") {
            None => okno_sdk::clock::utc_offset_minutes(),
            Some(v) => v.trim().parse().ok().filter(|m: &i32| (-720..=840).contains(m)).ok_or_else(|| {
                PluginError::config(format!(
                    "setting `utc-offset-minutes` is `{v}`; write minutes from -720 to 840, e.g. `180` for Moscow"
                ))
            })?,
        };
        let max_transfers = match config::get("max-transfers") {
            None => 2,
            Some(v) => v.trim().parse().map_err(|_| {
                PluginError::config(format!(
                    "setting `max-transfers` is `{v}`; write a whole number, e.g. `2`"
                ))
            })?,
        };
        let layout = config::get("layout")
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| l != "auto");
        if let Some(l) = &layout {
            if !LAYOUTS.contains(&l.as_str()) {
                return Err(PluginError::config(format!(
                    "setting `layout` is `{l}`; use `auto` or one of {}",
                    LAYOUTS.join(", ")
                )));
            }
        }
        Ok(Settings {
            charset,
            offset_minutes,
            max_transfers,
            layout,
        })
    }
}

const LAYOUTS: &[&str] = &[
    "asterisk-cdr",
    "asterisk-cel",
    "freeswitch-csv",
    "freeswitch-json",
    "freeswitch-xml",
];

/// The layout of a file: the setting, or what its first bytes and columns say.
fn layout_of(bytes: &[u8], settings: &Settings) -> Result<&'static str, PluginError> {
    if let Some(forced) = &settings.layout {
        return Ok(LAYOUTS
            .iter()
            .find(|l| **l == forced.as_str())
            .copied()
            .unwrap_or("asterisk-cdr"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => "freeswitch-xml",
        Some(b'{') | Some(b'[') => "freeswitch-json",
        _ => "csv",
    })
}

/// The legs of a file, in whatever layout it is.
pub fn legs(bytes: &[u8], settings: &Settings) -> Result<Vec<leg::Leg>, PluginError> {
    let layout = layout_of(bytes, settings)?;
    match layout {
        "freeswitch-xml" => freeswitch::xml_legs(bytes),
        "freeswitch-json" => freeswitch::json_legs(bytes),
        _ => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            let rows = rows::read(body, settings.charset)?;
            let Some(first) = rows.first() else {
                return Err(PluginError::invalid_input("the call record file is empty"));
            };
            let offset = settings.offset_minutes;
            let is_cel = asterisk::CEL_EVENTS.contains(&first.fields[0].trim());
            match (layout, first.fields.len()) {
                ("asterisk-cel", _) => asterisk::cel_legs(&rows, offset),
                ("asterisk-cdr", _) => asterisk::cdr_legs(&rows, offset),
                ("freeswitch-csv", _) | ("csv", 15) | ("csv", 16) => {
                    freeswitch::csv_legs(&rows, offset)
                }
                ("csv", 20) if is_cel => asterisk::cel_legs(&rows, offset),
                _ => asterisk::cdr_legs(&rows, offset),
            }
        }
    }
}

/// RFC 3339 in UTC, for metadata.
fn rfc3339(at: i64) -> String {
    let date = okno_sdk::time::local_date_with_offset(at, 0);
    let seconds = at.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        date.year,
        date.month,
        date.day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The message for one call (see the crate docs).
pub fn message(call: &Call, settings: &Settings, hour: Option<(&str, report::Hour)>) -> Message {
    let caller = call.caller_leg();
    let number = caller.caller_number.trim();
    let operator = call.operators.last().cloned();
    let note = call.note();
    let summary = format!(
        "Звонок с {}{}: {}, {} с{}{}.",
        if number.is_empty() {
            "скрытого номера"
        } else {
            number
        },
        match caller.destination.trim() {
            "" => String::new(),
            d => format!(" на {d}"),
        },
        call.outcome.in_russian(),
        call.duration_s,
        match &operator {
            Some(o) => format!(", оператор {o}"),
            None => String::new(),
        },
        match call.transfers {
            0 => String::new(),
            n => format!(", переводов: {n}"),
        }
    );
    let mut m = Message::new(
        Channel::Phone,
        note.map(String::from).unwrap_or_else(|| summary.clone()),
    );
    m.idempotency_key = Some(format!("phone:{}", call.id));
    m.sent_at = call.start;
    m.client.kind = ClientKind::Citizen;
    if !caller.caller_name.is_empty() {
        m.client.name = Some(caller.caller_name.clone());
    }
    if !number.is_empty() {
        m.client.contacts.push(Contact {
            kind: "phone".into(),
            value: number.into(),
        });
    }
    m.subject = Some(if note.is_some() {
        format!("Устное обращение по телефону. {summary}")
    } else {
        summary
    });
    let meta = &mut m.metadata;
    meta.push(("phone.call-id".into(), call.id.clone()));
    meta.push(("phone.format".into(), caller.format.into()));
    meta.push(("phone.caller".into(), number.into()));
    if let Some(o) = &operator {
        meta.push(("phone.operator".into(), o.clone()));
    }
    if !call.operators.is_empty() {
        meta.push(("phone.operators".into(), call.operators.join(",")));
    }
    meta.push(("phone.outcome".into(), call.outcome.as_str().into()));
    meta.push(("phone.duration-s".into(), call.duration_s.to_string()));
    meta.push(("phone.talk-s".into(), call.talk_s.to_string()));
    meta.push(("phone.transfers".into(), call.transfers.to_string()));
    meta.push(("phone.legs".into(), call.legs.len().to_string()));
    if let Some(start) = call.start {
        meta.push(("phone.started-at".into(), rfc3339(start)));
    }
    if call.transfers > settings.max_transfers {
        meta.push(("tag".into(), OVER_LIMIT_TAG.into()));
    }
    if note.is_some() {
        meta.push(("phone.appeal".into(), "oral".into()));
    }
    if let Some((hour, totals)) = hour {
        meta.push(("phone.hour".into(), hour.into()));
        meta.push(("phone.hour-missed".into(), totals.missed.to_string()));
        meta.push(("phone.hour-abandoned".into(), totals.abandoned.to_string()));
    }
    m
}

/// The call record connector.
pub struct PhoneConnector;

impl Connector for PhoneConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        // Everything is read and checked before anything is counted.
        let calls = calls::group(legs(&input.bytes, &settings)?);
        let mut out = Vec::with_capacity(calls.len());
        for call in &calls {
            let hour = call
                .start
                .map(|s| time::hour_key(s, settings.offset_minutes));
            let totals = match &hour {
                Some(h) => Some((h.as_str(), report::count(call, h)?)),
                None => None,
            };
            out.push(message(call, &settings, totals));
        }
        Ok(out)
    }

    fn encode(_: Message, _: Classification, _: Decision) -> Result<Outbound, PluginError> {
        Err(PluginError::unsupported(
            "the phone connector reads call records; it writes nothing to a PBX",
        ))
    }
}

okno_sdk::export_connector!(PhoneConnector);
