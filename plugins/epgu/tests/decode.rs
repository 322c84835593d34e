//! The decoder on the committed SMEV samples (tests/data/smev, see SOURCES.md there):
//! real envelopes from other projects, the ministry's licence and appeal examples, and
//! hostile ones.

use okno_plugin_epgu::EpguConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

const MTOM_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/smev/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode_with(
    host: &MockHost,
    name: &str,
    content_type: Option<&str>,
) -> Result<Vec<Message>, PluginError> {
    let mut input = Inbound::from_bytes(sample(name));
    input.content_type = content_type.map(str::to_string);
    host.run(|| EpguConnector::decode(input))
}

fn decode(name: &str) -> Result<Vec<Message>, PluginError> {
    decode_with(&MockHost::new(), name, Some("text/xml; charset=utf-8"))
}

fn meta<'a>(m: &'a Message, key: &str) -> Option<&'a str> {
    m.metadata_value(key)
}

#[test]
fn a_real_incoming_request_becomes_one_message() {
    let messages = decode("smevclient_get_request_response_incoming.xml").unwrap();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.channel, Channel::Epgu);
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("047b500c-04a4-11eb-af32-fa163eff7bf8")
    );
    assert_eq!(meta(m, "smev.version"), Some("1.1"));
    assert!(meta(m, "smev.reply-to").is_some_and(|r| r.len() > 100));
    assert_eq!(meta(m, "smev.sender"), Some("MNSV05"));
    assert_eq!(meta(m, "smev.recipient"), Some("03UD02"));
    assert_eq!(meta(m, "epgu.order-number"), Some("73389397"));
    assert_eq!(meta(m, "epgu.service-code"), Some("7300000020000108239"));
    assert_eq!(m.client.kind, ClientKind::Citizen);
    assert_eq!(m.client.name.as_deref(), Some("Сидоренко Петр Иванович"));
    let kinds: Vec<&str> = m.client.contacts.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["email", "phone", "postal-address"]);
    assert!(m.sent_at.is_some());
    // The file left in SMEV's storage: named, typed, referenced; no credentials copied.
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.name, "SignedContent.zip");
    assert_eq!(a.media_type, "application/zip");
    assert_eq!(
        a.content_ref,
        "smev-fs:1b0d3a3a-0616-403f-946b-1c14ac384239"
    );
    assert!(!format!("{m:?}").contains("Y3oxXKp4PuStEFPWjgwL1qyX6rmGXE"));
    assert!(m.body.contains("Уфа"), "{}", m.body);
}

#[test]
fn the_scrap_metal_licence_maps_the_applicant_organisation() {
    let m = decode("own_scrap_licence_request_1.3.xml")
        .unwrap()
        .remove(0);
    assert_eq!(meta(&m, "smev.version"), Some("1.3"));
    assert_eq!(m.client.kind, ClientKind::Business);
    assert_eq!(
        m.client.name.as_deref(),
        Some("Общество с ограниченной ответственностью «Вторчермет-Восток»")
    );
    assert_eq!(meta(&m, "applicant.inn"), Some("7707083893"));
    assert_eq!(meta(&m, "applicant.inn-valid"), Some("true"));
    assert_eq!(meta(&m, "applicant.ogrn"), Some("1027700132195"));
    assert_eq!(meta(&m, "epgu.service"), Some("scrap-metal-licence"));
    assert_eq!(meta(&m, "epgu.order-number"), Some("4213007781"));
    assert!(meta(&m, "epgu.licence-kind")
        .unwrap()
        .contains("лома черных"));
    assert!(m
        .subject
        .as_deref()
        .unwrap()
        .starts_with("Лицензирование заготовки"));
    let contacts: Vec<(&str, &str)> = m
        .client
        .contacts
        .iter()
        .map(|c| (c.kind.as_str(), c.value.as_str()))
        .collect();
    assert!(contacts.contains(&("email", "office@vtorchermet-vostok.example.ru")));
    assert!(contacts.contains(&("phone", "+7 (846) 200-11-22")));
    assert_eq!(m.attachments.len(), 2);
    assert!(m
        .attachments
        .iter()
        .all(|a| a.sha256.len() == 64 && a.size > 0));
    assert_eq!(m.attachments[0].name, "scheme.pdf");
}

#[test]
fn mtom_parts_become_attachments_with_their_digest() {
    let plain = decode("own_scrap_licence_request_1.3.xml")
        .unwrap()
        .remove(0);
    let mtom = decode_with(
        &MockHost::new(),
        "own_scrap_licence_request_1.3.mtom",
        Some(MTOM_TYPE),
    )
    .unwrap()
    .remove(0);
    // The same PDF, once inline as base64 and once as a binary MIME part.
    assert_eq!(
        format!("{:?}", mtom.attachments),
        format!("{:?}", plain.attachments)
    );
    assert_eq!(mtom.idempotency_key, plain.idempotency_key);
    // Without the package the reference leads nowhere: a typed error, not a guess.
    let err =
        decode_with(&MockHost::new(), "own_scrap_licence_request_1.3.mtom", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{}", err.message);
}

#[test]
fn an_appeal_keeps_its_text_and_author() {
    let m = decode("own_appeal_request_1.2.xml").unwrap().remove(0);
    assert_eq!(m.client.kind, ClientKind::Citizen);
    assert_eq!(m.client.name.as_deref(), Some("Смирнова Ольга Викторовна"));
    assert!(m
        .body
        .contains("Прошу разъяснить порядок получения субсидии"));
    assert_eq!(meta(&m, "epgu.service"), Some("appeal"));
}

#[test]
fn an_empty_queue_is_no_message() {
    assert!(decode("smevka_empty_get_response.xml").unwrap().is_empty());
}

#[test]
fn a_real_response_is_threaded_to_the_request() {
    let m = decode("smevclient_get_response_response.xml")
        .unwrap()
        .remove(0);
    assert_eq!(
        m.thread.in_reply_to.as_deref(),
        Some("39f52a38-9a54-11ea-b23a-3316e2108089")
    );
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("c0938f39-9a55-11ea-8ec7-2dd0b486eb66")
    );
    assert_eq!(meta(&m, "smev.operation"), Some("response"));
}

#[test]
fn faults_and_rejections_carry_smevs_code() {
    let err = decode("own_fault_signature_verification.xml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Upstream);
    assert!(
        err.message.contains("SignatureVerificationFault") && err.message.contains("SMEV-100003"),
        "{}",
        err.message
    );
    let err = decode("own_fault_target_message_not_found.xml").unwrap_err();
    assert!(
        err.message.contains("TargetMessageIsNotFound"),
        "{}",
        err.message
    );
    let err = decode("own_get_response_rejected.xml").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message.contains("requestIsRejectedBySmev")
            && err.message.contains("SMEV-300005")
            && err.message.contains("39f52a38-9a54-11ea-b23a-3316e2108089"),
        "{}",
        err.message
    );
}

#[test]
fn other_operations_are_unsupported() {
    for name in [
        "smevka_ack_response.xml",
        "smevka_send_request_response.xml",
        "smevclient_send_request_response.xml",
        "smevclient_ack_request.xml",
        "smevclient_send_request_request_v1.2.xml",
    ] {
        let err = decode(name).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported, "{name}: {}", err.message);
        assert!(
            err.message.contains("GetRequestResponse"),
            "{name}: {}",
            err.message
        );
    }
}

#[test]
fn hostile_inputs_are_refused_saying_what_and_where() {
    let cases = [
        ("hostile_entity_bomb.xml", "DOCTYPE"),
        ("hostile_external_entity.xml", "DOCTYPE"),
        ("hostile_undeclared_entity.xml", "&xxe;"),
        ("hostile_truncated.xml", "truncated"),
        ("hostile_wrong_namespace.xml", "types/9.9"),
        ("hostile_attachment_50gb.xml", "53687091200"),
    ];
    for (name, says) in cases {
        let err = decode(name).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{name}: {}", err.message);
        assert!(err.message.contains(says), "{name}: {}", err.message);
    }
    let err = decode("hostile_undeclared_entity.xml").unwrap_err();
    assert!(err.message.contains("AppealText"), "where: {}", err.message);
    let err = decode("hostile_truncated.xml").unwrap_err();
    assert!(
        err.message.contains("inside Envelope/Body"),
        "where: {}",
        err.message
    );
    let err = decode("hostile_attachment_50gb.xml").unwrap_err();
    assert!(
        err.message.contains("max-attachment-bytes"),
        "{}",
        err.message
    );
}

#[test]
fn a_wrong_declared_encoding_is_read_by_the_bytes_with_a_warning() {
    let (result, host) = MockHost::new().run_and_keep(|| {
        let mut input = Inbound::from_bytes(sample("own_declared_cp1251_bytes_utf8.xml"));
        input.content_type = Some("text/xml".into());
        EpguConnector::decode(input)
    });
    let m = result.unwrap().remove(0);
    assert!(m.body.contains("Прошу разъяснить"));
    assert!(meta(&m, "smev.warning").unwrap().contains("windows-1251"));
    assert!(
        format!("{:?}", host.logs).contains("windows-1251"),
        "the warning is logged"
    );
}

#[test]
fn a_mnemonic_mismatch_is_marked() {
    let host = MockHost::new().setting("mnemonic", "MINPROM01");
    let m = decode_with(&host, "own_appeal_request_1.2.xml", None)
        .unwrap()
        .remove(0);
    assert_eq!(meta(&m, "smev.recipient-mismatch"), None);
    let host = MockHost::new().setting("mnemonic", "OTHER01");
    let m = decode_with(&host, "own_appeal_request_1.2.xml", None)
        .unwrap()
        .remove(0);
    assert_eq!(meta(&m, "smev.recipient-mismatch"), Some("true"));
}
