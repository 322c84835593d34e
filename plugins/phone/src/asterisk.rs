//! Asterisk's CSV call records: `cdr_csv`'s Master.csv (16 columns, 18 with `uniqueid`
//! and `userfield`, 21 with `peeraccount`, `linkedid` and `sequence`), `cdr_custom`'s
//! sample layout (19 columns, `clid` first, `sequence` last), and CEL events in
//! `cel_custom`'s sample layout (20 columns).

use std::collections::BTreeMap;

use okno_sdk::prelude::*;

use crate::leg::{Disposition, Leg};
use crate::rows::Row;
use crate::time;

/// Where each field is in one of the CDR layouts.
struct Columns {
    clid: usize,
    src: usize,
    dst: usize,
    channel: usize,
    dstchannel: usize,
    lastapp: usize,
    lastdata: usize,
    start: usize,
    answer: usize,
    end: usize,
    duration: usize,
    billsec: usize,
    disposition: usize,
    uniqueid: Option<usize>,
    userfield: Option<usize>,
    linkedid: Option<usize>,
}

const CDR_CSV: Columns = Columns {
    clid: 4,
    src: 1,
    dst: 2,
    channel: 5,
    dstchannel: 6,
    lastapp: 7,
    lastdata: 8,
    start: 9,
    answer: 10,
    end: 11,
    duration: 12,
    billsec: 13,
    disposition: 14,
    uniqueid: None,
    userfield: None,
    linkedid: None,
};

/// `cdr_custom.conf.sample`: clid, src, dst, dcontext, channel, dstchannel, lastapp,
/// lastdata, start, answer, end, duration, billsec, disposition, amaflags,
/// accountcode, uniqueid, userfield, sequence.
const CDR_CUSTOM: Columns = Columns {
    clid: 0,
    src: 1,
    dst: 2,
    channel: 4,
    dstchannel: 5,
    lastapp: 6,
    lastdata: 7,
    start: 8,
    answer: 9,
    end: 10,
    duration: 11,
    billsec: 12,
    disposition: 13,
    uniqueid: Some(16),
    userfield: Some(17),
    linkedid: None,
};

/// The layout for a row of `count` columns, or why there is none.
fn columns(count: usize) -> Result<Columns, String> {
    match count {
        16 => Ok(CDR_CSV),
        18 => Ok(Columns {
            uniqueid: Some(16),
            userfield: Some(17),
            ..CDR_CSV
        }),
        19 => Ok(CDR_CUSTOM),
        21 => Ok(Columns {
            uniqueid: Some(16),
            userfield: Some(17),
            linkedid: Some(19),
            ..CDR_CSV
        }),
        n => Err(format!(
            "{n} columns is no Asterisk CDR layout this connector knows (16, 18, 21 for cdr_csv, 19 for cdr_custom's sample)"
        )),
    }
}

/// The caller ID's name: `"Иванов" <89245555937>` → `Иванов`; none when it is the number.
fn clid_name(clid: &str, number: &str) -> String {
    let name = match clid.rfind('<') {
        Some(at) => clid[..at].trim(),
        None => clid.trim(),
    };
    let name = name.trim_matches('"').trim();
    if name == number {
        String::new()
    } else {
        name.to_string()
    }
}

fn seconds(text: &str, line: u64, column: &str) -> Result<i64, PluginError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|_| {
        PluginError::invalid_input(format!(
            "line {line}: {column} `{text}` is not a number of seconds"
        ))
    })
}

fn at(text: &str, line: u64, column: &str, offset: i32) -> Result<Option<i64>, PluginError> {
    time::parse(text, offset)
        .map_err(|e| PluginError::invalid_input(format!("line {line}: {column}: {e}")))
}

pub fn cdr_legs(rows: &[Row], offset: i32) -> Result<Vec<Leg>, PluginError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let c = columns(first.fields.len())
        .map_err(|e| PluginError::invalid_input(format!("line {}: {e}", first.line)))?;
    let mut legs = Vec::with_capacity(rows.len());
    for row in rows {
        let f = |i: usize| row.fields[i].trim();
        let line = row.line;
        let disposition = match f(c.disposition) {
            "ANSWERED" => Disposition::Answered,
            "NO ANSWER" => Disposition::NoAnswer,
            "BUSY" => Disposition::Busy,
            "FAILED" | "CONGESTION" => Disposition::Failed,
            other => {
                return Err(PluginError::invalid_input(format!(
                    "line {line}: disposition `{other}` is none of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION"
                )))
            }
        };
        let src = f(c.src).to_string();
        legs.push(Leg {
            line,
            call_key: c
                .linkedid
                .map(|i| f(i).to_string())
                .filter(|k| !k.is_empty()),
            id: c
                .uniqueid
                .map(|i| f(i).to_string())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("line-{line}")),
            peer_id: None,
            caller_name: clid_name(f(c.clid), &src),
            caller_number: src,
            destination: f(c.dst).into(),
            channel: f(c.channel).into(),
            dst_channel: f(c.dstchannel).into(),
            app: f(c.lastapp).into(),
            app_data: f(c.lastdata).into(),
            start: at(f(c.start), line, "start", offset)?,
            answer: at(f(c.answer), line, "answer", offset)?,
            end: at(f(c.end), line, "end", offset)?,
            duration_s: seconds(f(c.duration), line, "duration")?,
            billsec: seconds(f(c.billsec), line, "billsec")?,
            disposition: Some(disposition),
            note: c
                .userfield
                .map(|i| f(i).to_string())
                .filter(|n| !n.is_empty()),
            transfers: None,
            format: "asterisk-cdr",
        });
    }
    Ok(legs)
}

/// CEL event names, to tell a CEL file from a CDR file by its first field.
pub const CEL_EVENTS: &[&str] = &[
    "CHAN_START",
    "CHAN_END",
    "ANSWER",
    "HANGUP",
    "BRIDGE_ENTER",
    "BRIDGE_EXIT",
    "APP_START",
    "APP_END",
    "PARK_START",
    "PARK_END",
    "LINKEDID_END",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
    "PICKUP",
    "FORWARD",
    "LOCAL_OPTIMIZE",
    "USER_DEFINED",
];

/// CEL in `cel_custom.conf.sample`'s layout: eventtype, eventtime, cid_name, cid_num,
/// cid_ani, cid_rdnis, cid_dnid, exten, context, channame, appname, appdata, amaflags,
/// accountcode, uniqueid, linkedid, peer, userfield, userdeftype, eventextra.
///
/// Events become one leg per channel other than the call's first (the caller's): the
/// caller's channel towards it, answered when that channel answered. The caller's own
/// leg carries the outcome `Dial` reported in its HANGUP event (`dialstatus`), and every
/// leg the call's count of BLINDTRANSFER and ATTENDEDTRANSFER events.
pub fn cel_legs(rows: &[Row], offset: i32) -> Result<Vec<Leg>, PluginError> {
    if let Some(first) = rows.first() {
        if first.fields.len() != 20 {
            return Err(PluginError::invalid_input(format!(
                "line {}: a CEL row has 20 columns (cel_custom's sample layout), this one {}",
                first.line,
                first.fields.len()
            )));
        }
    }
    #[derive(Default)]
    struct Channel {
        line: u64,
        name: String,
        number: String,
        cid_name: String,
        exten: String,
        start: Option<i64>,
        answer: Option<i64>,
        end: Option<i64>,
        dialstatus: Option<String>,
        note: Option<String>,
    }
    // linkedid → (channels by uniqueid in order of appearance, transfers)
    let mut calls: BTreeMap<String, (Vec<(String, Channel)>, u32)> = BTreeMap::new();
    for row in rows {
        let f = |i: usize| row.fields[i].trim();
        let line = row.line;
        let event = f(0);
        if !CEL_EVENTS.contains(&event) {
            return Err(PluginError::invalid_input(format!(
                "line {line}: `{event}` is no CEL event type"
            )));
        }
        let when = at(f(1), line, "eventtime", offset)?;
        let (uniqueid, linkedid) = (f(14), f(15));
        if uniqueid.is_empty() || linkedid.is_empty() {
            return Err(PluginError::invalid_input(format!(
                "line {line}: a CEL event needs its uniqueid and linkedid (columns 15 and 16)"
            )));
        }
        let (channels, transfers) = calls.entry(linkedid.to_string()).or_default();
        let index = match channels.iter().position(|(id, _)| id == uniqueid) {
            Some(i) => i,
            None => {
                channels.push((
                    uniqueid.to_string(),
                    Channel {
                        line,
                        ..Channel::default()
                    },
                ));
                channels.len() - 1
            }
        };
        let channel = &mut channels[index].1;
        if channel.name.is_empty() {
            channel.name = f(9).to_string();
        }
        if !f(17).is_empty() {
            channel.note = Some(f(17).to_string());
        }
        match event {
            "CHAN_START" => {
                channel.start = when;
                channel.number = f(3).to_string();
                channel.cid_name = f(2).to_string();
                channel.exten = f(7).to_string();
            }
            "ANSWER" => channel.answer = channel.answer.or(when),
            "HANGUP" => {
                channel.end = when;
                if let Ok(extra) = serde_json::from_str::<serde_json::Value>(f(19)) {
                    channel.dialstatus = extra
                        .get("dialstatus")
                        .and_then(|d| d.as_str())
                        .filter(|d| !d.is_empty())
                        .map(String::from);
                }
            }
            "CHAN_END" => channel.end = channel.end.or(when),
            "BLINDTRANSFER" | "ATTENDEDTRANSFER" => *transfers += 1,
            _ => {}
        }
    }
    let mut legs = Vec::new();
    for (linkedid, (channels, transfers)) in calls {
        let Some((caller_id, caller)) = channels
            .iter()
            .find(|(id, _)| *id == linkedid)
            .or(channels.first())
        else {
            continue;
        };
        let disposition = match caller.dialstatus.as_deref() {
            Some("ANSWER") | None if caller.answer.is_some() => Disposition::Answered,
            Some("BUSY") => Disposition::Busy,
            Some("CANCEL") => Disposition::Cancelled,
            Some("CONGESTION") | Some("CHANUNAVAIL") => Disposition::Failed,
            _ => Disposition::NoAnswer,
        };
        let base = Leg {
            line: caller.line,
            call_key: Some(linkedid.clone()),
            id: caller_id.clone(),
            caller_number: caller.number.clone(),
            caller_name: clid_name(&caller.cid_name, &caller.number),
            destination: caller.exten.clone(),
            channel: caller.name.clone(),
            start: caller.start,
            end: caller.end,
            transfers: Some(transfers),
            format: "asterisk-cel",
            note: channels.iter().find_map(|(_, c)| c.note.clone()),
            ..Leg::default()
        };
        let span = |start: Option<i64>, end: Option<i64>| match (start, end) {
            (Some(s), Some(e)) => (e - s).max(0) / 1000,
            _ => 0,
        };
        legs.push(Leg {
            disposition: Some(disposition),
            duration_s: span(caller.start, caller.end),
            answer: caller.answer,
            billsec: span(caller.answer, caller.end),
            ..base.clone()
        });
        for (id, callee) in channels.iter().filter(|(id, _)| id != caller_id) {
            legs.push(Leg {
                line: callee.line,
                id: id.clone(),
                dst_channel: callee.name.clone(),
                start: callee.start,
                answer: callee.answer,
                end: callee.end,
                duration_s: span(callee.start, callee.end),
                billsec: span(callee.answer, callee.end),
                disposition: Some(if callee.answer.is_some() {
                    Disposition::Answered
                } else {
                    Disposition::NoAnswer
                }),
                ..base.clone()
            });
        }
    }
    Ok(legs)
}
