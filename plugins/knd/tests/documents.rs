//! The committed portal documents (tests/data/knd) through the plugin natively, the
//! replies it writes, and the plugin held to the committed schema
//! (examples/formats/knd.schema.json).

use std::path::{Path, PathBuf};

use okno_plugin_knd::KndConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(workspace().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn schema() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_slice(&read("examples/formats/knd.schema.json")).expect("schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

/// The hub's clock at 2026-11-30T10:00:00+03:00, a Monday.
const NOW: i64 = 1_796_022_000_000;

fn host() -> MockHost {
    MockHost::new()
        .now(NOW)
        .setting("place.video", "https://vks.example.ru/knd")
        .setting(
            "place.in_person",
            "г. Тверь, ул. Советская, д. 11, каб. 214",
        )
        .setting("department.control", "Отдел регионального контроля")
}

fn decode(host: &MockHost, bytes: &[u8]) -> Result<Vec<Message>, PluginError> {
    host.run(|| KndConnector::decode(Inbound::from_bytes(bytes.to_vec())))
}

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(workspace().join(dir))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_committed_document_is_valid_and_decodes() {
    let schema = schema();
    let docs = files("tests/data/knd");
    assert!(docs.len() >= 5);
    for (name, bytes) in docs {
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let m = decode(&host(), &bytes)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"))
            .remove(0);
        assert_eq!(m.channel, Channel::Knd);
        assert_eq!(
            m.idempotency_key,
            Some(format!("knd:{}", value["id"].as_str().unwrap()))
        );
        assert_eq!(m.metadata_value("knd.type"), value["type"].as_str());
    }
}

#[test]
fn a_self_assessment_lists_what_is_not_complied_with() {
    let m = decode(&host(), &read("tests/data/knd/self-assessment.json"))
        .unwrap()
        .remove(0);
    assert!(
        m.body
            .contains("соблюдается 2, не соблюдается 1, неприменимо 1"),
        "{}",
        m.body
    );
    assert!(m.body.contains("Ведётся ли книга учёта"), "{}", m.body);
    assert_eq!(m.metadata_value("knd.answers-no"), Some("1"));
    assert_eq!(m.metadata_value("knd.declaration-requested"), Some("true"));
    assert_eq!(m.client.kind, ClientKind::Business);
    assert!(m.client.segments.contains(&"entrepreneur".to_string()));
}

/// (file, the JSON path the error names, a word of the reason, whether the schema
/// itself refuses it: an end before the start is beyond a pattern).
const HOSTILE: &[(&str, &str, &str, bool)] = &[
    (
        "question-missing-text.json",
        "$:",
        "missing field `text`",
        true,
    ),
    (
        "visit-wrong-type-slots.json",
        "$.preferred_slots:",
        "expected a sequence",
        true,
    ),
    (
        "unknown-type.json",
        "$.type:",
        "`complaint` is not a document type",
        true,
    ),
    (
        "self-assessment-unknown-answer.json",
        "$.answers[1].answer:",
        "unknown variant `maybe`",
        true,
    ),
    (
        "visit-slot-ends-before-start.json",
        "$.preferred_slots[0].end:",
        "not after",
        false,
    ),
    (
        "preventive-visit-without-object.json",
        "$.control_object:",
        "is missing",
        true,
    ),
    (
        "question-unknown-field.json",
        "$.applicant.snils:",
        "unknown field `snils`",
        true,
    ),
    (
        "visit-bad-time.json",
        "$.preferred_slots[0].start:",
        "not a time",
        true,
    ),
];

#[test]
fn hostile_documents_are_refused_naming_the_field() {
    let schema = schema();
    assert_eq!(files("tests/data/knd/hostile").len(), HOSTILE.len());
    for (file, path, reason, schema_refuses) in HOSTILE {
        let bytes = read(&format!("tests/data/knd/hostile/{file}"));
        let e = decode(&host(), &bytes).expect_err(file);
        assert_eq!(e.kind, ErrorKind::InvalidInput, "{file}");
        assert!(e.message.starts_with(path), "{file}: {}", e.message);
        assert!(e.message.contains(reason), "{file}: {}", e.message);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            !schema.is_valid(&value),
            *schema_refuses,
            "{file}: the schema's verdict"
        );
    }
}

fn reply(host: &MockHost, m: Message, d: Decision) -> (Value, MockHost) {
    let (out, after) = host.run_and_keep(|| KndConnector::encode(m, Classification::default(), d));
    let out = out.unwrap_or_else(|e| panic!("{e:?}"));
    (serde_json::from_slice(&out.bytes).unwrap(), after)
}

fn received(bytes: &[u8], host: &MockHost, id: &str) -> Message {
    let mut m = decode(host, bytes).unwrap().remove(0);
    m.id = id.into();
    m.received_at = NOW;
    m
}

#[test]
fn a_question_is_registered_with_its_deadline_then_answered() {
    let host = host();
    let m = received(
        &read("tests/data/knd/question-scrap-licence.json"),
        &host,
        "01KB3Q",
    );
    let mut d = Decision::new(Priority::Normal);
    d.responsible = Some("control".into());
    let (answer, _) = reply(&host, m.clone(), d.clone());
    assert!(schema().is_valid(&answer), "{answer}");
    assert_eq!(answer["type"], "answer");
    assert_eq!(answer["status"], "registered");
    assert_eq!(answer["in_reply_to"], "knd-q-2026-004417");
    assert_eq!(answer["department"], "Отдел регионального контроля");
    // 30 working days from Monday 30 November 2026, by the production calendar (the
    // New Year holidays included).
    assert_eq!(answer["deadline"], "2027-01-20");

    let mut m = m;
    m.metadata
        .push(("knd.answer-text".into(), "Допускается при условии …".into()));
    let (answer, _) = reply(
        &host
            .clone()
            .setting("signed-by", "Начальник отдела И. И. Иванов"),
        m,
        d,
    );
    assert!(schema().is_valid(&answer), "{answer}");
    assert_eq!(answer["status"], "answered");
    assert_eq!(answer["signed_by"], "Начальник отдела И. И. Иванов");
}

#[test]
fn a_free_preferred_slot_is_confirmed_and_then_not_given_again() {
    let host = host();
    let bytes = read("tests/data/knd/visit-request-consultation.json");
    let first = received(&bytes, &host, "01KB3V1");
    let (confirmation, after) = reply(&host, first.clone(), Decision::new(Priority::Normal));
    assert!(schema().is_valid(&confirmation), "{confirmation}");
    assert_eq!(confirmation["type"], "appointment_confirmation");
    assert_eq!(confirmation["slot"]["start"], "2026-12-03T10:00:00+03:00");
    assert_eq!(confirmation["place"], "https://vks.example.ru/knd");
    // A retried delivery confirms the same slot under the same number.
    let (again, after) = reply(&after, first, Decision::new(Priority::Normal));
    assert_eq!(
        again["confirmation_number"],
        confirmation["confirmation_number"]
    );

    // Another business asking for the same hours gets its second choice.
    let mut other: Value = serde_json::from_slice(&bytes).unwrap();
    other["id"] = "knd-v-2026-000999".into();
    let second = received(&serde_json::to_vec(&other).unwrap(), &after, "01KB3V2");
    let (confirmation, after) = reply(&after, second, Decision::new(Priority::Normal));
    assert_eq!(
        confirmation["slot"]["start"], "2026-12-04T14:00:00+03:00",
        "{confirmation}"
    );

    // A third, with both taken, gets an offer of free slots, none of them taken.
    other["id"] = "knd-v-2026-001000".into();
    let third = received(&serde_json::to_vec(&other).unwrap(), &after, "01KB3V3");
    let (offer, _) = reply(&after, third, Decision::new(Priority::Normal));
    assert!(schema().is_valid(&offer), "{offer}");
    assert_eq!(offer["type"], "slot_offer");
    let slots = offer["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 3);
    for s in slots {
        let start = s["start"].as_str().unwrap();
        assert_ne!(start, "2026-12-03T10:00:00+03:00");
        assert_ne!(start, "2026-12-04T14:00:00+03:00");
    }
    // Two working days from Monday: Wednesday at the start of reception hours.
    assert_eq!(slots[0]["start"], "2026-12-02T09:00:00+03:00");
}

#[test]
fn slots_on_a_holiday_or_outside_hours_are_not_confirmed() {
    let host = host();
    let mut doc: Value =
        serde_json::from_slice(&read("tests/data/knd/visit-request-preventive.json")).unwrap();
    // Saturday 5 December, and 31 December (a day off in 2026), and 19:00.
    doc["preferred_slots"] = serde_json::json!([
        {"start": "2026-12-05T10:00:00+03:00", "end": "2026-12-05T12:00:00+03:00"},
        {"start": "2026-12-31T10:00:00+03:00", "end": "2026-12-31T12:00:00+03:00"},
        {"start": "2026-12-08T19:00:00+03:00", "end": "2026-12-08T20:00:00+03:00"}
    ]);
    let m = received(&serde_json::to_vec(&doc).unwrap(), &host, "01KB3P");
    let (offer, _) = reply(&host, m, Decision::new(Priority::Normal));
    assert_eq!(offer["type"], "slot_offer", "{offer}");
    assert_eq!(offer["place"], "г. Тверь, ул. Советская, д. 11, каб. 214");
    // The two hours asked for fit the morning interval.
    assert_eq!(offer["slots"][0]["start"], "2026-12-02T09:00:00+03:00");
    assert_eq!(offer["slots"][0]["end"], "2026-12-02T11:00:00+03:00");
}

#[test]
fn a_message_from_elsewhere_is_not_sent_to_the_portal() {
    let e = host()
        .run(|| {
            KndConnector::encode(
                Message::new(Channel::Mail, "..."),
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
}
