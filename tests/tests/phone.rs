//! The phone connector on the committed call records (tests/data/phone, see SOURCES.md
//! there): through `okno plugin run` on its WASM build, and through the hub, with the
//! calls and transfers counted by hand, the over-limit tag, the operator's note as an
//! oral appeal, the hourly missed and abandoned counts, and bad files refused with
//! nothing stored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use okno_tests::connector_hub::ConnectorHub;
use okno_tests::*;
use serde_json::Value;

/// The plugins these tests need, built for wasm32-wasip2 once per test binary.
fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin("phone", &["phone", "http-json", "priority"], name)
}

fn record(name: &str) -> PathBuf {
    workspace().join("tests/data/phone").join(name)
}

/// `okno plugin run` on the phone connector: the messages, or the error text.
fn plugin_run(input: &Path, settings: &[&str]) -> Result<Vec<Value>, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okno-under-test"));
    command
        .args(["plugin", "run"])
        .arg(built("phone"))
        .arg("--input")
        .arg(input)
        .args(["--config", "utc-offset-minutes=180"]);
    for s in settings {
        command.args(["--config", s]);
    }
    let out = command.output().expect("running okno plugin run");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let messages: Value = serde_json::from_slice(&out.stdout).expect("messages as JSON");
    Ok(messages.as_array().expect("a list").clone())
}

fn meta(message: &Value, key: &str) -> Option<String> {
    message["metadata"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)
        .and_then(|pair| pair[1].as_str().map(str::to_string))
}

fn transfers(messages: &[Value]) -> Vec<u32> {
    messages
        .iter()
        .map(|m| meta(m, "phone.transfers").unwrap().parse().unwrap())
        .collect()
}

fn outcomes(messages: &[Value], outcome: &str) -> usize {
    messages
        .iter()
        .filter(|m| meta(m, "phone.outcome").as_deref() == Some(outcome))
        .count()
}

fn by_call<'a>(messages: &'a [Value], id: &str) -> &'a Value {
    messages
        .iter()
        .find(|m| meta(m, "phone.call-id").as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no call {id}"))
}

#[test]
fn third_party_records_group_into_calls_with_hand_counted_transfers() {
    // The ring-group PBX (21 columns, linkedid): 84 rows, 36 distinct linkedids (counted
    // with a plain CSV reader). Every call rang a ring group (SIP/301 & SIP/200, or
    // Local/ch1..ch3 each dialing a phone) and reached at most one party: SIP/301 or the
    // upstream SIP/stadionpbx, never one after another, so no call was transferred.
    // Its caller ID names hold bytes that are not UTF-8, first on line 41.
    let file = record("asterisk_master_linkedid_ringgroup_ru_dj-asterisk-cdr.csv");
    let refused = plugin_run(&file, &[]).unwrap_err();
    assert!(refused.contains("line 41, column 5"), "{refused}");
    let calls = plugin_run(&file, &["charset=windows-1251"]).unwrap();
    assert_eq!(calls.len(), 36);
    assert!(transfers(&calls).iter().all(|t| *t == 0));
    assert!(calls.iter().all(|c| meta(c, "tag").is_none()));
    // 16:16:36: SIP/211553 dials Local/ch1..ch3 (timeout 40), whose ;2 halves dial
    // SIP/301 (15 s), SIP/154 (30 s) and SIP/158 & SIP/200 twice: 3 + 4 rows, rang the
    // full 40 s, nobody answered.
    let ring_group = by_call(&calls, "1706372196.12");
    assert_eq!(meta(ring_group, "phone.legs").as_deref(), Some("7"));
    assert_eq!(meta(ring_group, "phone.outcome").as_deref(), Some("missed"));
    // 00:18:21: the same ring group, the caller gone after 23 of its 40 s.
    let gone = by_call(&calls, "1706401101.30");
    assert_eq!(meta(gone, "phone.outcome").as_deref(), Some("abandoned"));
    // 02:04:06: SIP/301 picked up through Local/ch1, then the call was bridged to SIP/301
    // directly: one party, no transfer.
    let picked = by_call(&calls, "1706407446.50");
    assert_eq!(meta(picked, "phone.operator").as_deref(), Some("SIP/301"));
    assert_eq!(meta(picked, "phone.transfers").as_deref(), Some("0"));

    // Classic 18 columns: 105 rows, 105 distinct uniqueids, one leg per call; 2 BUSY rows.
    let calls = plugin_run(
        &record("asterisk_master_ivr_voicemail_busy_failed_TelephonySwitching.csv"),
        &[],
    )
    .unwrap();
    assert_eq!(calls.len(), 105);
    assert!(transfers(&calls).iter().all(|t| *t == 0));
    assert_eq!(outcomes(&calls, "busy"), 2);
    assert_eq!(outcomes(&calls, "failed"), 2);

    // cdr_custom (19 columns): 14 rows, 14 uniqueids; 3 NO ANSWER (lines 2, 5, 10).
    let calls = plugin_run(
        &record("asterisk_cdr_custom_pjsip_Master_KelySaina.csv"),
        &[],
    )
    .unwrap();
    assert_eq!(calls.len(), 14);
    assert!(transfers(&calls).iter().all(|t| *t == 0));
    assert_eq!(outcomes(&calls, "missed"), 3);

    // FreeSWITCH CSV: 10 rows, 8 uuids. 7adced1a… is there three times: twice the same
    // row, once with USER_BUSY where the others say NORMAL_CLEARING, all three answered
    // at 11:13 with 20 s billed: one call, one leg.
    let calls = plugin_run(
        &record("freeswitch_cdr_csv_Master_freeswitch_tools.csv"),
        &[],
    )
    .unwrap();
    assert_eq!(calls.len(), 8);
    let repeated = by_call(&calls, "7adced1a-4c7c-11ea-b08c-2bfc2a06d67d");
    assert_eq!(meta(repeated, "phone.legs").as_deref(), Some("1"));
    assert_eq!(meta(repeated, "phone.outcome").as_deref(), Some("answered"));
}

#[test]
fn calls_transferred_more_than_twice_are_tagged() {
    // CEL: 101 answers; BLINDTRANSFER (to 102), ATTENDEDTRANSFER (to 103), BLINDTRANSFER
    // (to 104): three transfer events in linkedid 1795670400.1.
    let calls = plugin_run(&record("asterisk_cel_transfers_written.csv"), &[]).unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(transfers(&calls), [3, 0, 0]);
    assert_eq!(
        meta(&calls[0], "tag").as_deref(),
        Some("phone.transfers-over-limit")
    );
    assert_eq!(
        meta(&calls[0], "phone.operator").as_deref(),
        Some("SIP/104")
    );
    assert_eq!(meta(&calls[0], "phone.appeal").as_deref(), Some("oral"));
    assert!(calls[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Гражданка просит"));
    assert_eq!(
        meta(&calls[1], "phone.outcome").as_deref(),
        Some("abandoned")
    );
    assert_eq!(meta(&calls[2], "phone.outcome").as_deref(), Some("missed"));

    // Classic CDRs, one uniqueid: answered by 101, 102, (103 did not answer), 104, 105:
    // the answering party changed three times.
    let calls = plugin_run(&record("asterisk_cdr_uniqueid_transfers_written.csv"), &[]).unwrap();
    assert_eq!(transfers(&calls), [3, 0, 0]);
    assert_eq!(
        meta(&calls[0], "tag").as_deref(),
        Some("phone.transfers-over-limit")
    );
    assert_eq!(
        meta(&calls[0], "phone.operators").as_deref(),
        Some("SIP/101,SIP/102,SIP/104,SIP/105")
    );
    assert_eq!(meta(&calls[2], "phone.outcome").as_deref(), Some("busy"));
    // The limit is a setting: with three allowed, nothing is tagged.
    let calls = plugin_run(
        &record("asterisk_cdr_uniqueid_transfers_written.csv"),
        &["max-transfers=3"],
    )
    .unwrap();
    assert!(meta(&calls[0], "tag").is_none());

    // FreeSWITCH JSON: transfer_history has bl_xfer, att_xfer, bl_xfer; the b-leg names
    // the a-leg (call_uuid), so two records are one call.
    let calls = plugin_run(&record("freeswitch_json_transfers_written.json"), &[]).unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(transfers(&calls), [3, 0]);
    assert_eq!(calls[0]["client"]["name"], "Сидорова Елена");
    assert_eq!(calls[0]["body"], "Просит пересчитать пенсию.");
    assert_eq!(
        meta(&calls[1], "phone.outcome").as_deref(),
        Some("abandoned")
    );

    // FreeSWITCH XML: one bl_xfer.
    let calls = plugin_run(&record("freeswitch_xml_cdr_written.xml"), &[]).unwrap();
    assert_eq!(transfers(&calls), [1]);
    assert_eq!(calls[0]["client"]["name"], "Кузнецов");
}

#[test]
fn bad_records_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let good = std::fs::read(record("asterisk_cdr_uniqueid_transfers_written.csv")).unwrap();
    let text = String::from_utf8(good).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    // A quote never closed on line 3: the field runs into line 4.
    let broken = lines[2].replacen("\"103\",", "\"103,", 1);
    lines[2] = &broken;
    let e = plugin_run(&write("quote.csv", lines.join("\n").as_bytes()), &[]).unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    let e = plugin_run(&write("bytes.csv", b"\"\",\"100\",\"700\",\"phones\",\"\"\"\xCF\xE5\xF2\xF0\"\" <100>\",\"SIP/100-00000000\",\"\",\"Hangup\",\"\",\"2015-03-24 15:44:40\",\"2015-03-24 15:44:40\",\"2015-03-24 15:44:43\",3,3,\"ANSWERED\",\"DOCUMENTATION\",\"1427211880.0\",\"\"\n"), &[]).unwrap_err();
    assert!(
        e.contains("line 1, column 5: byte 0xCF is not UTF-8"),
        "{e}"
    );
    let xml = std::fs::read_to_string(record("freeswitch_xml_cdr_written.xml")).unwrap();
    let e = plugin_run(
        &write("cut.xml", xml.replace("</variables>", "").as_bytes()),
        &[],
    )
    .unwrap_err();
    assert!(e.contains("not well-formed"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = ConnectorHub::start(
        dir.path(),
        "pbx",
        "phone",
        built,
        "utc_offset_minutes = 180",
    )
    .await;

    let (status, body) = hub
        .post(
            "text/csv",
            std::fs::read(record("asterisk_cel_transfers_written.csv")).unwrap(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let ids: Vec<String> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    let first = hub.hub.store.get(&ids[0]).unwrap().unwrap().message;
    assert_eq!(
        first.metadata_value("tag"),
        Some("phone.transfers-over-limit")
    );
    assert_eq!(first.metadata_value("phone.appeal"), Some("oral"));
    // The calls of 10:00–10:59 Moscow time: one abandoned (10:10), one missed (10:20);
    // the last call's message carries the hour's totals.
    let last = hub.hub.store.get(&ids[2]).unwrap().unwrap().message;
    assert_eq!(last.metadata_value("phone.hour"), Some("2026-11-26T10"));
    assert_eq!(last.metadata_value("phone.hour-missed"), Some("1"));
    assert_eq!(last.metadata_value("phone.hour-abandoned"), Some("1"));

    // The same file again: every call a repeat, none counted twice.
    let (status, body) = hub
        .post(
            "text/csv",
            std::fs::read(record("asterisk_cel_transfers_written.csv")).unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicates"].as_array().unwrap().len(), 3);

    // More calls in another file for the same hour add to its counts.
    let (status, body) = hub
        .post(
            "text/csv",
            std::fs::read(record("asterisk_cdr_uniqueid_transfers_written.csv")).unwrap(),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let missed = body["ids"][1].as_str().unwrap();
    let message = hub.hub.store.get(missed).unwrap().unwrap().message;
    assert_eq!(message.metadata_value("phone.hour"), Some("2026-11-26T11"));
    assert_eq!(message.metadata_value("phone.hour-missed"), Some("1"));

    // Bad files: a 422 that names the line, nothing stored, the hub serving on.
    let stored = hub.hub.store.message_count();
    let (status, body) = hub
        .post("text/csv", b"\"a\",\"b\n\"c\",\"d\"\n".to_vec())
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{body}"
    );
    let (status, body) = hub
        .post("text/csv", b"<cdr><variables><uuid>x</uuid></cdr>".to_vec())
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not well-formed"),
        "{body}"
    );
    assert_eq!(hub.hub.store.message_count(), stored);

    let all = [ids, vec![missed.to_string()]].concat();
    eventually("the calls are routed", Duration::from_secs(60), || {
        all.iter().all(|id| {
            hub.hub
                .store
                .get(id)
                .ok()
                .flatten()
                .is_some_and(|r| r.state.is_finished())
        })
    })
    .await;
}
