//! The committed cards (tests/data/sog) through the plugin natively, and the plugin held
//! to the committed schema (examples/formats/sog.schema.json): every card it accepts or
//! writes is valid there, and every card the schema refuses the plugin refuses too.

use std::path::{Path, PathBuf};

use okno_plugin_sog::SogConnector;
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
        serde_json::from_slice(&read("examples/formats/sog.schema.json")).expect("schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles")
}

fn host() -> MockHost {
    MockHost::new()
        .setting("department.ОЛ-2", "licensing")
        .setting("department.ПРОМ-3", "industry")
        .setting("department.НАУКА-1", "science")
        .setting("status-name.in_work", "На исполнении")
}

fn decode(host: &MockHost, bytes: &[u8]) -> Result<Vec<Message>, PluginError> {
    host.run(|| SogConnector::decode(Inbound::from_bytes(bytes.to_vec())))
}

fn samples(dir: &str) -> Vec<(String, Vec<u8>)> {
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
fn every_committed_card_is_valid_and_decodes() {
    let schema = schema();
    let cards = samples("tests/data/sog");
    assert!(cards.len() >= 4);
    for (name, bytes) in cards {
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let errors: Vec<String> = schema.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let messages = decode(&host(), &bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].channel, Channel::Sog);
    }
}

#[test]
fn a_registered_card_carries_its_number_and_mapped_department() {
    let m = decode(
        &host(),
        &read("tests/data/sog/card-registered-licensing.json"),
    )
    .unwrap()
    .remove(0);
    assert_eq!(
        m.metadata_value("sog.reg-number"),
        Some("МПН-ОГ-2026/01234")
    );
    assert_eq!(m.metadata_value("sog.reg-date"), Some("2026-11-27"));
    assert_eq!(m.metadata_value("sog.status"), Some("in_work"));
    assert_eq!(m.metadata_value("sog.department-code"), Some("ОЛ-2"));
    assert_eq!(m.metadata_value("sog.department"), Some("licensing"));
    assert_eq!(
        m.metadata_value("sog.topic-code"),
        Some("0001.0002.0025.0098")
    );
    assert_eq!(m.idempotency_key.as_deref(), Some("sog:sog-7f3a2c10#1"));
    assert_eq!(m.client.kind, ClientKind::Business);
    assert_eq!(m.client.name.as_deref(), Some("ООО «ВторМет-Сервис»"));
    assert!(m
        .client
        .contacts
        .iter()
        .any(|c| c.kind == "inn" && c.value == "7701234567"));
    assert!(m.body.starts_with("Уважаемый министр!"));
    assert!(m
        .subject
        .as_deref()
        .unwrap()
        .starts_with("Просит разъяснить"));
    // 2026-11-26 00:00 in Moscow.
    assert_eq!(m.sent_at, Some(1_795_640_400_000));
}

#[test]
fn the_executor_field_is_the_deployments_choice() {
    let bytes = read("tests/data/sog/card-answered.json");
    let by_default = decode(&host(), &bytes).unwrap().remove(0);
    assert_eq!(by_default.metadata_value("sog.department-code"), None);
    let responsible = decode(&host().setting("executor-field", "responsible"), &bytes)
        .unwrap()
        .remove(0);
    assert_eq!(
        responsible.metadata_value("sog.department"),
        Some("industry")
    );
    assert_eq!(
        responsible.metadata_value("sog.answer-number"),
        Some("МПН-03/6620")
    );
    assert_eq!(responsible.metadata_value("sog.final"), Some("true"));
    assert!(responsible
        .client
        .segments
        .contains(&"collective".to_string()));
}

/// (file, the JSON path the error names, a word of the reason, whether the schema itself
/// refuses it: the classifier's codes and real dates are beyond a pattern).
const HOSTILE: &[(&str, &str, &str, bool)] = &[
    (
        "missing-summary.json",
        "$:",
        "missing field `summary`",
        true,
    ),
    (
        "wrong-type-questions.json",
        "$.questions:",
        "expected a sequence",
        true,
    ),
    (
        "wrong-type-revision.json",
        "$.revision:",
        "invalid type: string",
        true,
    ),
    (
        "unknown-status.json",
        "$.status:",
        "unknown variant `closed`",
        true,
    ),
    (
        "unknown-field.json",
        "$.applicant.passport:",
        "unknown field `passport`",
        true,
    ),
    (
        "unknown-topic-code.json",
        "$.questions[0].code:",
        "not in the official",
        false,
    ),
    (
        "impossible-date.json",
        "$.registration.date:",
        "not a date",
        true,
    ),
    (
        "forwarded-without-forwarding.json",
        "$.forwarding:",
        "is missing",
        true,
    ),
    (
        "in-work-without-registration.json",
        "$.registration:",
        "is missing",
        true,
    ),
];

#[test]
fn hostile_cards_are_refused_naming_the_field() {
    let schema = schema();
    let files = samples("tests/data/sog/hostile");
    assert_eq!(
        files.len(),
        HOSTILE.len(),
        "every hostile card has an expectation"
    );
    for (file, path, reason, schema_refuses) in HOSTILE {
        let bytes = read(&format!("tests/data/sog/hostile/{file}"));
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

#[test]
fn a_huge_card_is_refused_before_parsing() {
    let mut card: Value =
        serde_json::from_slice(&read("tests/data/sog/card-registered-licensing.json")).unwrap();
    card["text"] = Value::String("я".repeat(1_100_000));
    let bytes = serde_json::to_vec(&card).unwrap();
    let e = decode(&host(), &bytes).unwrap_err();
    assert!(e.message.starts_with("$: the card is"), "{}", e.message);
    // Let in by a larger limit, the text is still over the schema's length.
    let e = decode(&host().setting("max-card-bytes", "10000000"), &bytes).unwrap_err();
    assert!(
        e.message.starts_with("$.text: is longer than 200000"),
        "{}",
        e.message
    );
}

fn decision(responsible: &str) -> Decision {
    let mut d = Decision::new(Priority::Normal);
    d.responsible = Some(responsible.into());
    // 2026-12-25T20:59:59.999Z: the end of 25 December in Moscow.
    d.answer_deadline = Some(1_798_232_399_999);
    d
}

fn encode(
    host: &MockHost,
    m: Message,
    c: Classification,
    d: Decision,
) -> Result<Value, PluginError> {
    host.run(|| SogConnector::encode(m, c, d))
        .map(|out| serde_json::from_slice(&out.bytes).unwrap())
}

#[test]
fn a_registered_card_is_written_back_with_the_hubs_decision() {
    let host = host();
    let mut m = decode(
        &host,
        &read("tests/data/sog/card-registered-licensing.json"),
    )
    .unwrap()
    .remove(0);
    m.id = "01KB2A0000000000000000000A".into();
    let card = encode(
        &host,
        m.clone(),
        Classification::default(),
        decision("industry"),
    )
    .unwrap();
    assert!(schema().is_valid(&card), "{card}");
    assert_eq!(card["registration"]["number"], "МПН-ОГ-2026/01234");
    assert_eq!(card["uid"], "sog-7f3a2c10");
    assert_eq!(card["executor"]["department"], "ПРОМ-3");
    assert_eq!(card["deadline"], "2026-12-25");
    assert_eq!(card["status"], "in_work");
    assert_eq!(card["status_name"], "На исполнении");

    // An answer the message carries makes the card answered.
    m.metadata
        .push(("sog.answer-date".into(), "2026-12-10".into()));
    m.metadata
        .push(("sog.answer-number".into(), "МПН-02/9001".into()));
    m.metadata
        .push(("sog.answer-text".into(), "Разъяснено.".into()));
    let card = encode(&host, m, Classification::default(), decision("licensing")).unwrap();
    assert!(schema().is_valid(&card), "{card}");
    assert_eq!(card["status"], "answered");
    assert_eq!(card["answer"]["number"], "МПН-02/9001");
    assert_eq!(card["executor"]["department"], "ОЛ-2");
}

#[test]
fn a_mail_appeal_becomes_a_card_for_registration() {
    let mut m = Message::new(
        Channel::Mail,
        "Прошу разъяснить порядок получения субсидии на модернизацию производства.",
    );
    m.id = "01KB2A0000000000000000000B".into();
    m.received_at = 1_796_022_000_000;
    m.subject = Some("Субсидия на модернизацию".into());
    m.client = Client {
        kind: ClientKind::Citizen,
        name: Some("Петрова Анна Сергеевна".into()),
        contacts: vec![Contact {
            kind: "email".into(),
            value: "a.petrova@example.ru".into(),
        }],
        segments: vec!["senior".into()],
    };
    let c = industry_topic();
    let card = encode(
        &host(),
        m.clone(),
        c.clone(),
        Decision::new(Priority::Normal),
    )
    .unwrap();
    assert!(schema().is_valid(&card), "{card}");
    assert_eq!(card["status"], "received");
    assert!(card.get("registration").is_none());
    assert_eq!(card["external_id"], "01KB2A0000000000000000000B");
    assert_eq!(card["applicant"]["last_name"], "Петрова");
    assert_eq!(card["applicant"]["middle_name"], "Сергеевна");
    assert_eq!(card["channel"], "email");
    assert_eq!(card["questions"][0]["code"], "0003.0009.0093.0630");
    assert_eq!(card["received_date"], "2026-11-30");

    // Without a topic, and with no default, the card cannot be written: a config error.
    let e = encode(
        &host(),
        m.clone(),
        Classification::default(),
        Decision::new(Priority::Normal),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("default-topic-code"), "{}", e.message);

    // A department the deployment has no SOG code for is named in the error.
    let e = encode(&host(), m, c, decision("housing")).unwrap_err();
    assert!(
        e.message.contains("`housing` has no SOG code"),
        "{}",
        e.message
    );
}

fn industry_topic() -> Classification {
    Classification {
        topic: Some(TopicAssignment {
            best: Topic {
                code: "0003.0009.0093.0630".into(),
                name: "Деятельность в сфере промышленности".into(),
                confidence: 0.8,
            },
            alternatives: vec![],
            low_confidence: false,
            reasons: vec![],
        }),
        ..Classification::default()
    }
}
