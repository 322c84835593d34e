//! Encode, read back through decode: what the hub sends is what a МЭДО participant reads.

mod common;

use common::*;
use okno_plugin_edms::EdmsConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn host() -> MockHost {
    MockHost::new()
        .setting("organization", "Министерство промышленности и науки")
        .setting("source-uid", "0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b")
        .setting(
            "addressee",
            "Министерство промышленности и науки (СЭД «Дело»)",
        )
        .setting("medo-address", "MINPROM~MEDOGU")
}

fn appeal() -> Message {
    let mut m = Message::new(Channel::Mail, "Прошу разъяснить порядок получения лицензии на заготовку лома черных металлов.\nС уважением, Иванов И. И.");
    m.id = "019ad1c2e3f400000007".into();
    m.subject = Some("Лицензия на лом & отходы".into());
    m.received_at = 1_790_000_000_000;
    m.idempotency_key = Some("abc@example.ru".into());
    m.client.name = Some("Иванов Иван Иванович".into());
    m.client.kind = ClientKind::Citizen;
    m.client.contacts.push(Contact {
        kind: "email".into(),
        value: "ivanov@example.ru".into(),
    });
    m
}

#[test]
fn an_appeal_becomes_a_document_packet_that_reads_back() {
    let mut decision = Decision::new(Priority::Normal);
    decision.responsible = Some("licensing".into());
    decision.answer_deadline = Some(1_792_000_000_000);
    let out = host()
        .run(|| EdmsConnector::encode(appeal(), Classification::default(), decision))
        .unwrap();
    assert_eq!(out.content_type, "application/zip");
    assert!(out
        .headers
        .iter()
        .any(|(k, v)| k == "filename" && v == "okno-019ad1c2e3f400000007.zip"));

    let m = decode_with(&MockHost::new(), out.bytes.clone(), Some("application/zip")).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("document"));
    assert_eq!(meta(&m, "edms.packet-type"), Some("Документ"));
    assert_eq!(meta(&m, "edms.doc-number"), Some("019ad1c2e3f400000007"));
    assert_eq!(meta(&m, "edms.doc-kind"), Some("Обращение гражданина"));
    assert_eq!(meta(&m, "edms.envelope-addresses"), Some("MINPROM~MEDOGU"));
    assert_eq!(
        meta(&m, "edms.source-uid"),
        Some("0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b")
    );
    assert!(meta(&m, "edms.addressees")
        .unwrap()
        .ends_with(", licensing"));
    assert!(m.body.contains("Лицензия на лом & отходы"), "{}", m.body);
    assert!(m.body.contains("Срок ответа"), "{}", m.body);
    // The citizen's appeal: its author is the client, as the EDMS will register it.
    assert_eq!(m.client.kind, ClientKind::Citizen);
    assert_eq!(m.client.name.as_deref(), Some("Иванов Иван Иванович"));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name, "appeal.txt");
    // The document's uid leads back to the hub's message.
    let uid = meta(&m, "edms.doc-uid").unwrap();
    assert_eq!(
        okno_plugin_edms::uid::message_of(uid).as_deref(),
        Some("019ad1c2e3f400000007")
    );

    // The same message encodes to the same bytes (a retried delivery is the same packet).
    let again = host()
        .run(|| {
            EdmsConnector::encode(
                appeal(),
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    let once_more = host()
        .run(|| {
            EdmsConnector::encode(
                appeal(),
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    assert_eq!(again.bytes, once_more.bytes);
}

#[test]
fn an_incoming_document_is_answered_with_a_registration_notification() {
    let mut incoming = decode(real_packet()).unwrap();
    incoming.id = "019ad1c2e3f400000009".into();
    incoming.received_at = 1_790_000_000_000;
    incoming
        .metadata
        .push(("sog.reg-number".into(), "ОГ-77/2026".into()));
    let out = host()
        .run(|| {
            EdmsConnector::encode(
                incoming,
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    let m = decode(out.bytes).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("registered"));
    assert_eq!(meta(&m, "edms.reg-number"), Some("ОГ-77/2026"));
    assert_eq!(meta(&m, "edms.doc-number"), Some("ПВ-00-14/11756"));
    assert_eq!(
        meta(&m, "edms.ref-uid"),
        Some("4a26d46f-fe64-3d6c-90e5-3ff6731f158e")
    );
}

#[test]
fn encode_names_the_settings_it_lacks() {
    let err = MockHost::new()
        .run(|| {
            EdmsConnector::encode(
                appeal(),
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message.contains("`source-uid` is missing"),
        "{}",
        err.message
    );
    let err = host()
        .setting("source-uid", "not-a-uid")
        .run(|| {
            EdmsConnector::encode(
                appeal(),
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap_err();
    assert!(err.message.contains("not a МЭДО uid"), "{}", err.message);
}
