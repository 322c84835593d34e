//! encode and decode through the connector interface, as the hub calls them.

use okno_plugin_http_json::HttpJsonConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use serde_json::{json, Value};

fn ts(text: &str) -> i64 {
    okno_sdk::time::timestamp_from_rfc3339(text).unwrap()
}

const BODY: &str = "Меня зовут Петрова Анна, телефон +7 912 345-67-89. Третьи сутки нет отопления!";

fn appeal() -> Message {
    let mut m = Message::new(Channel::Mail, BODY);
    m.id = "01JH8Z3K6Q2W".into();
    m.idempotency_key = Some("koi8-qp-1@mail.example.ru".into());
    m.source = "mail-in".into();
    m.received_at = ts("2026-01-12T09:00:00+03:00");
    m.sent_at = Some(ts("2026-01-12T08:58:30.250+03:00"));
    m.subject = Some("Нет отопления — Петрова Анна".into());
    m.client = Client {
        kind: ClientKind::Citizen,
        name: Some("Петрова Анна".into()),
        contacts: vec![
            Contact {
                kind: "email".into(),
                value: "a.petrova@example.ru".into(),
            },
            Contact {
                kind: "phone".into(),
                value: "+7 912 345-67-89".into(),
            },
        ],
        segments: vec!["senior".into()],
    };
    m.attachments = vec![Attachment {
        name: "справка.pdf".into(),
        media_type: "application/pdf".into(),
        size: 77,
        sha256: "56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26".into(),
        content_ref: "sha256:56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26"
            .into(),
    }];
    m.metadata = vec![
        ("mail.from-domain".into(), "example.ru".into()),
        ("mail.reply-to".into(), "a.petrova@example.ru".into()),
    ];
    m.thread.in_reply_to = Some("earlier@example.ru".into());
    m
}

fn span(kind: &str, what: &str) -> PiiSpan {
    let start = BODY.find(what).unwrap();
    PiiSpan {
        kind: kind.into(),
        start: start as u32,
        end: (start + what.len()) as u32,
    }
}

fn classification() -> Classification {
    Classification {
        topic: Some(TopicAssignment {
            best: Topic {
                code: "0005.0005.0055.1122".into(),
                name: "Перебои в теплоснабжении".into(),
                confidence: 0.9,
            },
            alternatives: vec![Topic {
                code: "0005.0005.0055.1123".into(),
                name: "Другое".into(),
                confidence: 0.05,
            }],
            low_confidence: false,
            reasons: vec!["«отопления»".into()],
        }),
        sentiment: Some(Sentiment {
            label: SentimentLabel::Negative,
            score: -0.7,
            reasons: vec![],
        }),
        kind: Some(KindAssignment {
            kind: AppealKind::Complaint,
            repeat: false,
            reasons: vec![],
        }),
        tags: vec!["housing".into(), "urgent-words".into()],
        pii: vec![
            span("name", "Петрова Анна"),
            span("phone", "+7 912 345-67-89"),
        ],
    }
}

fn decision() -> Decision {
    let mut d = Decision::new(Priority::High);
    d.registration_deadline = Some(ts("2026-01-15T23:59:59.999+03:00"));
    d.answer_deadline = Some(ts("2026-02-11T23:59:59.999+03:00"));
    d.responsible = Some("dep-housing".into());
    d.route_tags = vec!["housing".into()];
    d.reasons = vec!["winter heating outage".into()];
    d
}

fn encode(host: &MockHost) -> Result<(Outbound, Value), PluginError> {
    let out = host.run(|| HttpJsonConnector::encode(appeal(), classification(), decision()))?;
    let value = serde_json::from_slice(&out.bytes).unwrap();
    Ok((out, value))
}

fn decode(host: &MockHost, bytes: &[u8]) -> Result<Vec<Message>, PluginError> {
    host.run(|| HttpJsonConnector::decode(Inbound::from_bytes(bytes.to_vec())))
}

fn decode_err(json: Value) -> String {
    let err = decode(&MockHost::new(), json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    err.message
}

#[test]
fn encodes_the_documented_shape() {
    let (out, doc) = encode(&MockHost::new()).unwrap();
    assert_eq!(out.content_type, "application/json");
    assert_eq!(doc["id"], "01JH8Z3K6Q2W");
    assert_eq!(doc["channel"], "mail");
    assert_eq!(doc["received_at"], "2026-01-12T06:00:00Z");
    assert_eq!(doc["sent_at"], "2026-01-12T05:58:30.250Z");
    assert_eq!(doc["client"]["kind"], "citizen");
    assert_eq!(
        doc["client"]["contacts"][1],
        json!({"kind": "phone", "value": "+7 912 345-67-89"})
    );
    assert_eq!(doc["body"], BODY);
    assert_eq!(doc["attachments"][0]["media_type"], "application/pdf");
    assert_eq!(doc["metadata"]["mail.from-domain"], "example.ru");
    assert_eq!(doc["thread"]["in_reply_to"], "earlier@example.ru");
    let c = &doc["classification"];
    assert_eq!(c["topic"]["code"], "0005.0005.0055.1122");
    assert_eq!(c["topic"]["confidence"], json!(0.9));
    assert_eq!(c["topic"]["alternatives"][0]["confidence"], json!(0.05));
    assert_eq!(
        c["sentiment"],
        json!({"label": "negative", "score": -0.7, "reasons": []})
    );
    assert_eq!(c["kind"]["kind"], "complaint");
    assert_eq!(c["tags"], json!(["housing", "urgent-words"]));
    assert_eq!(c["pii"][1]["kind"], "phone");
    let d = &doc["decision"];
    assert_eq!(d["priority"], "high");
    assert_eq!(d["registration_deadline"], "2026-01-15T20:59:59.999Z");
    assert_eq!(d["answer_deadline"], "2026-02-11T20:59:59.999Z");
    assert_eq!(d["responsible"], "dep-housing");
    assert_eq!(d["route_tags"], json!(["housing"]));
}

#[test]
fn absent_values_are_null() {
    let out = MockHost::new()
        .run(|| {
            HttpJsonConnector::encode(
                Message::new(Channel::Epgu, "x"),
                Classification::default(),
                Decision::new(Priority::Low),
            )
        })
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(doc["channel"], "epgu");
    assert_eq!(doc["idempotency_key"], Value::Null);
    assert_eq!(doc["client"]["name"], Value::Null);
    assert_eq!(doc["classification"]["topic"], Value::Null);
    assert_eq!(doc["decision"]["answer_deadline"], Value::Null);
    assert_eq!(doc["decision"]["priority"], "low");
}

#[test]
fn round_trips_through_decode() {
    let (out, _) = encode(&MockHost::new()).unwrap();
    let decoded = decode(&MockHost::new(), &out.bytes).unwrap();
    assert_eq!(decoded.len(), 1);
    let mut expected = appeal();
    // The hub assigns these on ingest.
    expected.id = String::new();
    expected.source = String::new();
    expected.received_at = 0;
    // The generated types have no PartialEq; their Debug output shows every field.
    assert_eq!(format!("{:#?}", decoded[0]), format!("{expected:#?}"));
}

#[test]
fn masking_replaces_spans_and_drops_contacts() {
    let host = MockHost::new().setting("mask-pii", "true");
    let (_, doc) = encode(&host).unwrap();
    let body = doc["body"].as_str().unwrap();
    assert_eq!(
        body,
        "Меня зовут [name], телефон [phone]. Третьи сутки нет отопления!"
    );
    for pii in doc["classification"]["pii"].as_array().unwrap() {
        let (start, end) = (
            pii["start"].as_u64().unwrap() as usize,
            pii["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            &body[start..end],
            format!("[{}]", pii["kind"].as_str().unwrap())
        );
    }
    assert_eq!(doc["client"]["name"], Value::Null);
    assert_eq!(doc["client"]["contacts"], json!([]));
    assert_eq!(doc["client"]["kind"], "citizen");
    assert_eq!(doc["client"]["segments"], json!(["senior"]));
    assert_eq!(doc["subject"], "Нет отопления — [masked]");
    assert_eq!(doc["metadata"]["mail.reply-to"], "[masked]");
    assert_eq!(doc["metadata"]["mail.from-domain"], "example.ru");
    let text = doc.to_string();
    for secret in ["Петрова", "+7 912", "a.petrova@"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn masking_refuses_spans_outside_the_body() {
    let host = MockHost::new().setting("mask-pii", "true");
    let mut c = classification();
    c.pii.push(PiiSpan {
        kind: "inn".into(),
        start: 5000,
        end: 5012,
    });
    let err = host
        .run(|| HttpJsonConnector::encode(appeal(), c, decision()))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message.contains("classification.pii[2]"),
        "{}",
        err.message
    );
}

#[test]
fn decodes_a_minimal_appeal_with_the_default_channel() {
    let host = MockHost::new().setting("default-channel", "site");
    let messages = decode(
        &host,
        r#"{"body": "Прошу установить скамейку у подъезда."}"#.as_bytes(),
    )
    .unwrap();
    let m = &messages[0];
    assert_eq!(m.channel, Channel::Site);
    assert_eq!(m.body, "Прошу установить скамейку у подъезда.");
    assert_eq!(m.client.kind, ClientKind::Unknown);
    assert_eq!((m.subject.clone(), m.idempotency_key.clone()), (None, None));

    let messages = decode(
        &MockHost::new(),
        json!({"body": "b", "subject": " Тема ", "channel": "social", "idempotency_key": 90210,
               "client": {"kind": "business", "name": "ООО «Ромашка»",
                          "contacts": [{"kind": "phone", "value": "+7 900 000-00-00"}]}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let m = &messages[0];
    assert_eq!(m.channel, Channel::Social);
    assert_eq!(m.subject.as_deref(), Some("Тема"));
    assert_eq!(m.idempotency_key.as_deref(), Some("90210"));
    assert_eq!(m.client.kind, ClientKind::Business);
    assert_eq!(m.client.contacts[0].kind, "phone");
}

#[test]
fn decodes_an_array_of_appeals() {
    let messages = decode(
        &MockHost::new(),
        br#"[{"body": "one"}, {"body": "two", "channel": "post"}]"#,
    )
    .unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].channel, Channel::Post);
    assert!(decode(&MockHost::new(), b"[]").unwrap().is_empty());
}

#[test]
fn errors_name_the_json_path() {
    let cases = [
        (json!({"subject": "x"}), "$: `body` is missing"),
        (
            json!({"body": 5}),
            "$.body: expected a string, found a number",
        ),
        (
            json!({"body": "  "}),
            "$.body: is empty and there are no attachments",
        ),
        (
            json!({"body": "b", "channel": "fax"}),
            "$.channel: `fax` is not one of `epgu`",
        ),
        (
            json!({"body": "b", "client": {"contacts": [{"kind": "email", "value": "a@b.ru"}, {"kind": "phone", "value": 7}]}}),
            "$.client.contacts[1].value: expected a string, found a number",
        ),
        (
            json!({"body": "b", "client": {"kind": "person"}}),
            "$.client.kind: `person` is not one of `citizen`",
        ),
        (
            json!({"body": "b", "client": []}),
            "$.client: expected an object, found an array",
        ),
        (
            json!({"body": "b", "sent_at": "12.01.2026"}),
            "$.sent_at: `12.01.2026` is not an RFC 3339 time",
        ),
        (
            json!({"body": "b", "attachments": [{"name": "a", "size": -1, "sha256": "00"}]}),
            "$.attachments[0].size: expected a whole number of bytes, found a number",
        ),
        (
            json!({"body": "b", "attachments": [{"name": "a", "size": 1, "sha256": "ABC"}]}),
            "$.attachments[0].sha256: expected 64 lower-case hex digits",
        ),
        (
            json!({"body": "b", "metadata": {"x.y": 1}}),
            "$.metadata[\"x.y\"]: expected a string or an array of strings",
        ),
        (
            json!({"body": "b", "metadata": {"k": ["a", null]}}),
            "$.metadata.k[1]: expected a string, found null",
        ),
        (
            json!({"body": "b", "subjcet": "typo"}),
            "$.subjcet: unknown field; expected one of",
        ),
        (
            json!([{"body": "ok"}, {"body": false}]),
            "$[1].body: expected a string, found a boolean",
        ),
        (json!("just text"), "$: expected an object, found a string"),
        (
            json!({"body": "b", "idempotency_key": ""}),
            "$.idempotency_key: is empty",
        ),
    ];
    for (input, expected) in cases {
        let message = decode_err(input.clone());
        assert!(
            message.starts_with(expected),
            "{input}\n  got: {message}\n  want: {expected}"
        );
    }
}

#[test]
fn syntax_errors_and_empty_input_say_where() {
    let err = decode(&MockHost::new(), b"{\"body\": \"unterminated}").unwrap_err();
    assert!(
        err.message.contains("not valid JSON") && err.message.contains("line 1"),
        "{}",
        err.message
    );
    let err = decode(&MockHost::new(), b"  \n").unwrap_err();
    assert!(err.message.contains("empty"), "{}", err.message);
    let err = decode(&MockHost::new(), b"\xff\xfe{}").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
}

#[test]
fn unknown_fields_can_be_allowed() {
    let host = MockHost::new().setting("allow-unknown-fields", "true");
    let messages = decode(
        &host,
        br#"{"body": "b", "form_id": 7, "client": {"kind": "citizen", "age": 70}}"#,
    )
    .unwrap();
    assert_eq!(messages[0].body, "b");
}
