//! The form through the connector interface, as the hub calls it: JSON and urlencoded,
//! every missing field reported at once, attachments within limits.

use okno_plugin_site::SiteConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use serde_json::{json, Value};

fn decode(content_type: &str, body: &[u8]) -> Result<Vec<Message>, PluginError> {
    decode_with(MockHost::new(), content_type, body)
}

fn decode_with(
    host: MockHost,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<Message>, PluginError> {
    let mut input = Inbound::from_bytes(body.to_vec());
    input.content_type = Some(content_type.into());
    host.run(|| SiteConnector::decode(input))
}

/// The fields the hub's 422 lists, as (field, problem).
fn fields(error: PluginError) -> Vec<(String, String)> {
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    let v: Value = serde_json::from_str(&error.message).expect("a structured error");
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["ru"].as_str().unwrap().is_empty() && !f["en"].as_str().unwrap().is_empty());
            (
                f["field"].as_str().unwrap().to_string(),
                f["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn full() -> Value {
    json!({
        "id": 48213,
        "surname": "Петрова", "name": "Анна", "patronymic": "Сергеевна",
        "email": "a.petrova@example.ru", "phone": "+7 (912) 345-67-89",
        "subject": "Нет отопления",
        "text": "Третьи сутки нет отопления в доме по ул. Ленина, 5. Прошу принять меры.",
        "consent": true,
        "captcha": "03AFcWeA"
    })
}

#[test]
fn a_full_json_form_is_one_appeal() {
    let out = decode("application/json", full().to_string().as_bytes()).unwrap();
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert_eq!(m.channel, Channel::Site);
    assert_eq!(m.client.kind, ClientKind::Citizen);
    assert_eq!(m.client.name.as_deref(), Some("Петрова Анна Сергеевна"));
    assert_eq!(m.client.contacts.len(), 2);
    assert_eq!(m.subject.as_deref(), Some("Нет отопления"));
    assert!(m.body.starts_with("Третьи сутки"));
    assert_eq!(m.idempotency_key.as_deref(), Some("site:48213"));
    assert_eq!(m.metadata_value("site.consent"), Some("true"));
}

#[test]
fn an_urlencoded_form_is_read_the_same() {
    let body = "surname=%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2%D0%B0&name=%D0%90%D0%BD%D0%BD%D0%B0&postal_address=%D0%B3.+%D0%A2%D0%B2%D0%B5%D1%80%D1%8C&text=%D0%9D%D0%B5%D1%82+%D0%B2%D0%BE%D0%B4%D1%8B&consent=on&organisation=%D0%A2%D0%A1%D0%96+%C2%AB%D0%9B%D1%83%D1%87%C2%BB";
    let out = decode(
        "application/x-www-form-urlencoded; charset=UTF-8",
        body.as_bytes(),
    )
    .unwrap();
    let m = &out[0];
    assert_eq!(m.client.name.as_deref(), Some("Петрова Анна"));
    assert_eq!(m.client.kind, ClientKind::Business);
    assert_eq!(m.body, "Нет воды");
    assert_eq!(m.client.contacts[0].kind, "postal-address");
    assert_eq!(m.metadata_value("site.organisation"), Some("ТСЖ «Луч»"));
    assert_eq!(m.metadata_value("site.format"), Some("urlencoded"));
}

#[test]
fn an_empty_form_names_every_required_field() {
    let got = fields(decode("application/json", b"{}").unwrap_err());
    assert_eq!(
        got,
        [
            ("surname", "missing"),
            ("name", "missing"),
            ("email", "missing"),
            ("text", "missing"),
            ("consent", "missing")
        ]
        .map(|(f, p)| (f.to_string(), p.to_string()))
    );
    let got = fields(decode("application/x-www-form-urlencoded", b"captcha=1").unwrap_err());
    assert_eq!(got.len(), 5);
}

#[test]
fn a_form_without_consent_is_refused() {
    let mut form = full();
    form["consent"] = json!(false);
    let got = fields(decode("application/json", form.to_string().as_bytes()).unwrap_err());
    assert_eq!(got, vec![("consent".to_string(), "missing".to_string())]);
}

#[test]
fn invalid_values_are_named() {
    let mut form = full();
    form["email"] = json!("not-an-address");
    form["phone"] = json!("12");
    form["name"] = json!(42);
    form["surname"] = json!("Петрова7");
    let got = fields(decode("application/json", form.to_string().as_bytes()).unwrap_err());
    let names: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["surname", "name", "email", "phone"]);
    assert!(got.iter().all(|(_, p)| p == "invalid"));
}

#[test]
fn attachments_within_limits_are_kept_by_digest() {
    let mut form = full();
    form["attachments"] = json!([{"name": "справка.pdf", "media_type": "application/pdf", "content": "JVBERi0xLjQK"}]);
    let m = &decode("application/json", form.to_string().as_bytes()).unwrap()[0];
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].size, 9);
    assert_eq!(
        m.attachments[0].content_ref,
        format!("sha256:{}", m.attachments[0].sha256)
    );
}

#[test]
fn attachments_over_limits_are_named() {
    let mut form = full();
    form["attachments"] = json!([
        {"name": "a.exe", "media_type": "application/x-msdownload", "content": "TVo="},
        {"name": "b.pdf", "media_type": "application/pdf", "content": "not base64!"},
        {"name": "c.pdf", "media_type": "application/pdf", "content": "JVBERi0xLjQKJVBERi0xLjQK"}
    ]);
    let host = MockHost::new().setting("max-attachment-bytes", "10");
    let got =
        fields(decode_with(host, "application/json", form.to_string().as_bytes()).unwrap_err());
    assert_eq!(
        got,
        [
            ("attachments[0].media_type", "invalid"),
            ("attachments[1].content", "invalid"),
            ("attachments[2].content", "too-large")
        ]
        .map(|(f, p)| (f.to_string(), p.to_string()))
    );
    let host = MockHost::new().setting("max-attachments", "1");
    let got =
        fields(decode_with(host, "application/json", form.to_string().as_bytes()).unwrap_err());
    assert_eq!(
        got,
        vec![("attachments".to_string(), "too-large".to_string())]
    );
}

#[test]
fn bytes_that_are_not_a_form_are_a_plain_error() {
    let e = decode("application/json", b"{\"surname\": ").unwrap_err();
    assert!(
        e.message.starts_with("the form is not JSON"),
        "{}",
        e.message
    );
    let e = decode("text/plain", b"hello").unwrap_err();
    assert!(e.message.contains("application/json"), "{}", e.message);
}

#[test]
fn a_field_that_is_not_utf8_is_named() {
    let got = fields(
        decode(
            "application/x-www-form-urlencoded",
            b"surname=%CF%E5%F2%F0%EE%E2%E0&name=A&email=a@b.ru&text=t&consent=1",
        )
        .unwrap_err(),
    );
    assert_eq!(got, vec![("surname".to_string(), "invalid".to_string())]);
}
