//! SendResponseRequest written for a decoded request, read back with the same parser.

use okno_plugin_epgu::{xml, EpguConnector};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn licence_request() -> Message {
    let path = format!(
        "{}/../../tests/data/smev/own_scrap_licence_request_1.3.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let input = Inbound::from_bytes(std::fs::read(path).unwrap());
    let mut m = MockHost::new()
        .run(|| EpguConnector::decode(input))
        .unwrap()
        .remove(0);
    m.id = "01JDEMO0000000000000000001".into();
    m.received_at = 1_796_000_000_000;
    m
}

fn decision() -> Decision {
    let mut d = Decision::new(Priority::Normal);
    d.answer_deadline = Some(1_796_000_000_000 + 30 * 86_400_000);
    d.responsible = Some("licensing".into());
    d.reasons.push("лицензирование: 30 дней".into());
    d
}

fn text_of<'a>(e: &'a xml::Element, path: &[&str]) -> &'a str {
    let mut at = e;
    for name in path {
        at = at
            .child(name)
            .unwrap_or_else(|| panic!("no {name} in {}", at.name));
    }
    at.text.trim()
}

#[test]
fn a_status_goes_back_to_the_reply_to() {
    let m = licence_request();
    let out = MockHost::new()
        .setting("status-code", "2")
        .run(|| EpguConnector::encode(m.clone(), Classification::default(), decision()))
        .unwrap();
    assert_eq!(out.content_type, "text/xml; charset=utf-8");
    assert!(out
        .headers
        .contains(&("SOAPAction".into(), "urn:SendResponse".into())));
    let root = xml::parse(std::str::from_utf8(&out.bytes).unwrap()).unwrap();
    let request = &root.child("Body").unwrap().children[0];
    assert_eq!(request.name, "SendResponseRequest");
    assert_eq!(
        request.ns,
        "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3"
    );
    let data = request.child("SenderProvidedResponseData").unwrap();
    assert_eq!(data.attr("Id"), Some("SIGNED_BY_CALLER"));
    assert_eq!(
        text_of(data, &["To"]),
        m.metadata_value("smev.reply-to").unwrap()
    );
    let id = text_of(data, &["MessageID"]);
    assert_eq!(&id[14..15], "1", "a version 1 UUID: {id}");
    assert_eq!(text_of(data, &["RequestStatus", "StatusCode"]), "2");
    let description = text_of(data, &["RequestStatus", "StatusDescription"]);
    assert!(
        description.contains("01JDEMO0000000000000000001"),
        "{description}"
    );
    assert!(description.contains("до"), "{description}");

    // A retried delivery writes the same MessageID, so SMEV drops the repeat.
    let again = MockHost::new()
        .setting("status-code", "2")
        .run(|| EpguConnector::encode(m, Classification::default(), decision()))
        .unwrap();
    assert_eq!(again.bytes, out.bytes);
}

#[test]
fn a_result_carries_the_registration_and_decision() {
    let mut m = licence_request();
    m.metadata
        .push(("registration.number".into(), "ЛЦ-2026/0457".into()));
    let out = MockHost::new()
        .setting("response", "result")
        .run(|| EpguConnector::encode(m, Classification::default(), decision()))
        .unwrap();
    let root = xml::parse(std::str::from_utf8(&out.bytes).unwrap()).unwrap();
    let data = root.child("Body").unwrap().children[0]
        .child("SenderProvidedResponseData")
        .unwrap();
    let result = &data.child("MessagePrimaryContent").unwrap().children[0];
    assert_eq!(result.name, "ServiceResult");
    assert_eq!(text_of(result, &["RegistrationNumber"]), "ЛЦ-2026/0457");
    assert_eq!(text_of(result, &["Responsible"]), "licensing");
    assert_eq!(
        text_of(result, &["OriginalMessageId"]),
        "1c16b6d2-0b1a-11ef-9876-0242ac120002"
    );
}

#[test]
fn a_message_from_elsewhere_cannot_be_answered_through_smev() {
    let m = Message::new(Channel::Mail, "Здравствуйте");
    let err = MockHost::new()
        .run(|| EpguConnector::encode(m, Classification::default(), decision()))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("smev.reply-to"), "{}", err.message);
}
