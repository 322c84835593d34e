//! FreeSWITCH's call records: `mod_json_cdr` (one JSON object per leg; a file may hold
//! one, an array, or one per line), `mod_xml_cdr` (one `<cdr>` per leg, or several under
//! one root) and `mod_cdr_csv`'s default template (15 columns: caller_id_name,
//! caller_id_number, destination_number, context, start_stamp, answer_stamp, end_stamp,
//! duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec,
//! write_codec; a 16th column, if the template adds one, is the operator's note).
//!
//! A leg's transfers are the entries of its `transfer_history` variable (blind
//! `bl_xfer`, attended `att_xfer`, `uuid_br` bridges): FreeSWITCH appends one per transfer.
//! The operator's note is the channel variable `operator_note`.

use std::collections::BTreeMap;

use okno_sdk::prelude::*;
use quick_xml::events::Event;
use serde_json::Value;

use crate::leg::{Disposition, Leg};
use crate::rows::Row;
use crate::time;

/// Most records in one JSON or XML file.
const MAX_RECORDS: usize = 100_000;

type Variables = BTreeMap<String, String>;

fn decode_value(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The disposition a hangup cause stands for, given whether the leg was answered.
fn disposition(cause: &str, answered: bool) -> Disposition {
    if answered {
        return Disposition::Answered;
    }
    match cause {
        "USER_BUSY" => Disposition::Busy,
        "ORIGINATOR_CANCEL" | "LOSE_RACE" => Disposition::Cancelled,
        "NO_ANSWER"
        | "NO_USER_RESPONSE"
        | "ALLOTTED_TIMEOUT"
        | "NORMAL_CLEARING"
        | "RECOVERY_ON_TIMER_EXPIRE" => Disposition::NoAnswer,
        _ => Disposition::Failed,
    }
}

/// Transfers in `transfer_history`: `ARRAY::e1|:e2` or one entry, each
/// `EPOCH:UUID:KIND:TARGET`.
fn transfers(history: &str) -> u32 {
    let list = history.strip_prefix("ARRAY::").unwrap_or(history);
    list.split("|:")
        .filter(|entry| {
            [":bl_xfer:", ":att_xfer:", ":uuid_br:"]
                .iter()
                .any(|kind| entry.contains(kind))
        })
        .count() as u32
}

fn leg_from_variables(
    v: &Variables,
    record: u64,
    format: &'static str,
) -> Result<Leg, PluginError> {
    let get = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or("");
    let uuid = get("uuid");
    if uuid.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "record {record}: the variable `uuid` is missing"
        )));
    }
    let epoch = |k: &str| -> Result<Option<i64>, PluginError> {
        match get(k) {
            "" | "0" => Ok(None),
            text => time::parse(text, 0)
                .map_err(|e| PluginError::invalid_input(format!("record {record}: {k}: {e}"))),
        }
    };
    let number = |k: &str| -> Result<i64, PluginError> {
        match get(k) {
            "" => Ok(0),
            text => text.parse().map_err(|_| {
                PluginError::invalid_input(format!(
                    "record {record}: {k} `{text}` is not a number of seconds"
                ))
            }),
        }
    };
    let answer = epoch("answer_epoch")?;
    let billsec = number("billsec")?;
    let answered = answer.is_some() || billsec > 0;
    let callee = [
        "last_sent_callee_id_number",
        "callee_id_number",
        "destination_number",
    ]
    .iter()
    .map(|k| get(k))
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let name = get("caller_id_name");
    let caller = get("caller_id_number");
    Ok(Leg {
        line: record,
        call_key: Some(get("call_uuid"))
            .filter(|k| !k.is_empty())
            .map(String::from),
        id: uuid.into(),
        peer_id: ["bridge_uuid", "bleg_uuid", "originator"]
            .iter()
            .map(|k| get(k))
            .find(|s| !s.is_empty())
            .map(String::from),
        caller_name: if name == caller {
            String::new()
        } else {
            name.into()
        },
        caller_number: caller.into(),
        destination: get("destination_number").into(),
        channel: get("channel_name").into(),
        dst_channel: callee.into(),
        app: get("last_app").into(),
        app_data: get("last_arg").into(),
        start: epoch("start_epoch")?,
        answer,
        end: epoch("end_epoch")?,
        duration_s: number("duration")?,
        billsec,
        disposition: Some(disposition(get("hangup_cause"), answered)),
        note: Some(get("operator_note"))
            .filter(|n| !n.is_empty())
            .map(String::from),
        transfers: Some(transfers(get("transfer_history"))),
        format,
    })
}

/// mod_json_cdr: `{"variables": {...}, "callflow": ...}`, as one object, an array, or
/// one object per line.
pub fn json_legs(bytes: &[u8]) -> Result<Vec<Leg>, PluginError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        PluginError::invalid_input(format!(
            "the JSON call record is not UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    let mut records = Vec::new();
    for item in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let item = item.map_err(|e| {
            PluginError::invalid_input(format!("the JSON call record is broken: {e}"))
        })?;
        match item {
            Value::Array(list) => records.extend(list),
            other => records.push(other),
        }
        if records.len() > MAX_RECORDS {
            return Err(PluginError::invalid_input(format!(
                "more than {MAX_RECORDS} call records in one file; split it"
            )));
        }
    }
    let mut legs = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let n = i as u64 + 1;
        let Some(Value::Object(variables)) = record.get("variables") else {
            return Err(PluginError::invalid_input(format!(
                "record {n}: no `variables` object (is this mod_json_cdr's output?)"
            )));
        };
        let vars: Variables = variables
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => decode_value(s),
                    Value::Array(items) => format!(
                        "ARRAY::{}",
                        items
                            .iter()
                            .map(|i| i
                                .as_str()
                                .map(decode_value)
                                .unwrap_or_else(|| i.to_string()))
                            .collect::<Vec<_>>()
                            .join("|:")
                    ),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect();
        legs.push(leg_from_variables(&vars, n, "freeswitch-json")?);
    }
    Ok(legs)
}

/// mod_xml_cdr: the children of each `<cdr>`'s `<variables>`, values URL-encoded. A
/// document that is not well-formed is refused with the byte where it breaks.
pub fn xml_legs(bytes: &[u8]) -> Result<Vec<Leg>, PluginError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut records: Vec<Variables> = Vec::new();
    let mut current: Option<Variables> = None;
    let mut value = String::new();
    let broken = |reader: &quick_xml::Reader<&[u8]>, what: String| {
        PluginError::invalid_input(format!(
            "the XML call record is not well-formed at byte {}: {what}",
            reader.buffer_position()
        ))
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| broken(&reader, e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if name == "cdr" {
                    current = Some(Variables::new());
                }
                path.push(name);
                value.clear();
            }
            Event::Text(t) => value.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(String::from)
                };
                match resolved {
                    Some(text) => value.push_str(&text),
                    None => return Err(broken(&reader, "an unknown entity".into())),
                }
            }
            Event::CData(c) => value.push_str(&c.xml10_content()),
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                let depth = path.len();
                // <cdr><variables><NAME>value</NAME>
                if depth >= 3 && path[depth - 2] == "variables" && path[depth - 3] == "cdr" {
                    if let Some(vars) = current.as_mut() {
                        vars.insert(name.clone(), decode_value(value.trim()));
                    }
                }
                path.pop();
                value.clear();
                if name == "cdr" {
                    if let Some(vars) = current.take() {
                        records.push(vars);
                        if records.len() > MAX_RECORDS {
                            return Err(PluginError::invalid_input(format!(
                                "more than {MAX_RECORDS} call records in one file; split it"
                            )));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err(PluginError::invalid_input(format!(
            "the XML call record is not well-formed: it ends inside <{}>",
            path.last().map(String::as_str).unwrap_or_default()
        )));
    }
    if records.is_empty() {
        return Err(PluginError::invalid_input(
            "the XML holds no <cdr> record (is this mod_xml_cdr's output?)",
        ));
    }
    records
        .iter()
        .enumerate()
        .map(|(i, vars)| leg_from_variables(vars, i as u64 + 1, "freeswitch-xml"))
        .collect()
}

/// mod_cdr_csv's default template (see the module docs).
pub fn csv_legs(rows: &[Row], offset: i32) -> Result<Vec<Leg>, PluginError> {
    let mut legs = Vec::with_capacity(rows.len());
    for row in rows {
        let line = row.line;
        let f = |i: usize| row.fields.get(i).map(|s| s.trim()).unwrap_or("");
        let stamp = |i: usize, what: &str| {
            time::parse(f(i), offset)
                .map_err(|e| PluginError::invalid_input(format!("line {line}: {what}: {e}")))
        };
        let secs = |i: usize, what: &str| -> Result<i64, PluginError> {
            match f(i) {
                "" => Ok(0),
                t => t.parse().map_err(|_| {
                    PluginError::invalid_input(format!(
                        "line {line}: {what} `{t}` is not a number of seconds"
                    ))
                }),
            }
        };
        let answer = stamp(5, "answer_stamp")?;
        let billsec = secs(8, "billsec")?;
        let uuid = f(10);
        if uuid.is_empty() {
            return Err(PluginError::invalid_input(format!(
                "line {line}: column 11 (uuid) is empty"
            )));
        }
        let (name, number) = (f(0), f(1));
        legs.push(Leg {
            line,
            call_key: None,
            id: uuid.into(),
            peer_id: Some(f(11)).filter(|b| !b.is_empty()).map(String::from),
            caller_name: if name == number {
                String::new()
            } else {
                name.into()
            },
            caller_number: number.into(),
            destination: f(2).into(),
            channel: String::new(),
            dst_channel: f(2).into(),
            app: String::new(),
            app_data: String::new(),
            start: stamp(4, "start_stamp")?,
            answer,
            end: stamp(6, "end_stamp")?,
            duration_s: secs(7, "duration")?,
            billsec,
            disposition: Some(disposition(f(9), answer.is_some() && billsec > 0)),
            note: Some(f(15)).filter(|n| !n.is_empty()).map(String::from),
            transfers: None,
            format: "freeswitch-csv",
        });
    }
    Ok(legs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_history_counts_its_transfers() {
        assert_eq!(transfers(""), 0);
        assert_eq!(
            transfers("1280163045:8e5d4f0c-99b2-11df-b2d5-b5d3a1b6d5b4:bl_xfer:1002/default/XML"),
            1
        );
        assert_eq!(
            transfers("ARRAY::1:a:bl_xfer:1002/default/XML|:2:b:att_xfer:1003|:3:c:uuid_br:d"),
            3
        );
    }

    #[test]
    fn xml_that_is_not_well_formed_is_refused() {
        let e = xml_legs(b"<cdr><variables><uuid>a</uuid></variables>").unwrap_err();
        assert!(e.message.contains("not well-formed"), "{}", e.message);
        let e = xml_legs(b"<cdr><variables><uuid>a</uid></variables></cdr>").unwrap_err();
        assert!(e.message.contains("not well-formed"), "{}", e.message);
    }
}
