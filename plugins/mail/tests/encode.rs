//! `encode`: the acknowledgement e-mail, read back with mail-parser as a client would.

use mail_parser::{MessageParser, MimeHeaders};
use okno_plugin_mail::MailConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn host() -> MockHost {
    MockHost::new()
        .setting("from", "priemnaya@minsoc.example.ru")
        .setting("from-name", "Приёмная министерства")
        .setting("signature", "Приёмная министерства социальной защиты")
}

fn appeal() -> Message {
    let mut m = Message::new(Channel::Mail, "В доме нет отопления.");
    m.id = "01JH8Z3K6Q2W".into();
    m.idempotency_key = Some("koi8-qp-1@mail.example.ru".into());
    m.subject = Some("Нет отопления третьи сутки".into());
    m.client = Client {
        kind: ClientKind::Citizen,
        name: Some("Петрова Анна".into()),
        contacts: vec![
            Contact {
                kind: "phone".into(),
                value: "+7 900 000-00-00".into(),
            },
            Contact {
                kind: "email".into(),
                value: "a.petrova@example.ru".into(),
            },
        ],
        segments: vec![],
    };
    m
}

fn classified(low_confidence: bool) -> Classification {
    let topic = Topic {
        code: "0005.0005.0055.1122".into(),
        name: "Перебои в теплоснабжении".into(),
        confidence: 0.91,
    };
    Classification {
        topic: Some(TopicAssignment {
            best: topic,
            alternatives: vec![],
            low_confidence,
            reasons: vec![],
        }),
        ..Classification::default()
    }
}

fn decided() -> Decision {
    let mut d = Decision::new(Priority::Urgent);
    // 2026-02-11T23:59:59.999+03:00: the end of a Moscow working day.
    d.answer_deadline = okno_sdk::time::timestamp_from_rfc3339("2026-02-11T23:59:59.999+03:00");
    d
}

fn encode(
    host: &MockHost,
    m: Message,
    c: Classification,
    d: Decision,
) -> Result<Outbound, PluginError> {
    host.run(|| MailConnector::encode(m, c, d))
}

#[test]
fn writes_a_threaded_utf8_reply() {
    let out = encode(&host(), appeal(), classified(false), decided()).unwrap();
    assert_eq!(out.content_type, "message/rfc822");
    assert!(out.bytes.is_ascii(), "headers and QP body are 7-bit");
    let wire = String::from_utf8(out.bytes.clone()).unwrap();
    for line in wire.split("\r\n") {
        assert!(line.len() <= 78, "line longer than 78: {line:?}");
    }
    assert!(
        !wire.replace("\r\n", "").contains('\n'),
        "bare LF in {wire}"
    );

    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(
        reply.subject(),
        Some("Re: Нет отопления третьи сутки [№ 01JH8Z3K6Q2W в системе приёма]")
    );
    let from = reply.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("priemnaya@minsoc.example.ru"));
    assert_eq!(from.name(), Some("Приёмная министерства"));
    let to = reply.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("a.petrova@example.ru"));
    assert_eq!(to.name(), Some("Петрова Анна"));
    assert_eq!(
        reply.message_id(),
        Some("01JH8Z3K6Q2W.reply@minsoc.example.ru")
    );
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some("koi8-qp-1@mail.example.ru")
    );
    assert_eq!(
        reply.references().as_text(),
        Some("koi8-qp-1@mail.example.ru")
    );
    assert!(wire.contains("In-Reply-To: <koi8-qp-1@mail.example.ru>\r\n"));
    assert!(wire.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(wire.contains("MIME-Version: 1.0\r\n"));
    assert!(wire.contains("Content-Language: ru\r\n"), "{wire}");
    assert!(wire.contains("Content-Transfer-Encoding: quoted-printable\r\n"));
    // The MockHost clock: 2026-01-12T09:00:00+03:00.
    assert!(
        wire.contains("Date: Mon, 12 Jan 2026 09:00:00 +0300\r\n"),
        "{wire}"
    );
    let ct = reply.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype(), ct.attribute("charset")),
        ("text", Some("plain"), Some("utf-8"))
    );

    let body = reply.body_text(0).unwrap();
    assert!(body.starts_with("Здравствуйте, Петрова Анна!"), "{body}");
    assert!(
        body.contains("номер в системе приёма обращений 01JH8Z3K6Q2W."),
        "{body}"
    );
    assert!(
        body.contains("Тема обращения: «Перебои в теплоснабжении»."),
        "{body}"
    );
    assert!(body.contains("не позднее 11 февраля 2026 г."), "{body}");
    assert!(
        body.contains("С уважением,\r\nПриёмная министерства социальной защиты"),
        "{body}"
    );
    for line in body.lines() {
        assert!(line.chars().count() <= 78, "{line}");
    }

    assert!(out
        .headers
        .contains(&("smtp.rcpt-to".into(), "a.petrova@example.ru".into())));
    assert!(out.headers.contains(&(
        "smtp.mail-from".into(),
        "priemnaya@minsoc.example.ru".into()
    )));
}

#[test]
fn deadline_is_a_hub_local_date() {
    let mut d = Decision::new(Priority::Normal);
    // 22:30 UTC is already the next day in Moscow.
    d.answer_deadline = okno_sdk::time::timestamp_from_rfc3339("2026-03-02T22:30:00Z");
    let out = encode(&host(), appeal(), Classification::default(), d).unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(reply
        .body_text(0)
        .unwrap()
        .contains("не позднее 3 марта 2026 г."));
}

#[test]
fn unsure_topic_and_missing_deadline_are_left_out() {
    let out = encode(
        &host(),
        appeal(),
        classified(true),
        Decision::new(Priority::Normal),
    )
    .unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    let body = reply.body_text(0).unwrap();
    assert!(!body.contains("Тема обращения"), "{body}");
    assert!(!body.contains("не позднее"), "{body}");
}

#[test]
fn base64_bodies_when_configured() {
    let host = host().setting("transfer-encoding", "base64");
    let out = encode(&host, appeal(), classified(false), decided()).unwrap();
    let wire = String::from_utf8(out.bytes.clone()).unwrap();
    assert!(wire.contains("Content-Transfer-Encoding: base64\r\n"));
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(reply.body_text(0).unwrap().contains("01JH8Z3K6Q2W"));
}

#[test]
fn long_subjects_are_folded_and_other_channels_are_not_threaded() {
    let mut m = appeal();
    m.channel = Channel::Epgu;
    m.idempotency_key = Some("c0a80b1e-0000-4000-8000-000000000001".into());
    m.subject = Some("О предоставлении мер социальной поддержки по оплате жилого помещения и коммунальных услуг многодетной семье".into());
    let out = encode(&host(), m.clone(), Classification::default(), decided()).unwrap();
    let wire = String::from_utf8(out.bytes.clone()).unwrap();
    assert!(!wire.contains("In-Reply-To"), "{wire}");
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(
        reply.subject().map(str::to_string),
        Some(format!(
            "Re: {} [№ 01JH8Z3K6Q2W в системе приёма]",
            m.subject.unwrap()
        ))
    );
}

#[test]
fn keeps_an_existing_reply_prefix_and_handles_no_subject() {
    let mut m = appeal();
    m.subject = Some("Re: отопление".into());
    let out = encode(&host(), m.clone(), Classification::default(), decided()).unwrap();
    assert_eq!(
        MessageParser::default()
            .parse(&out.bytes)
            .unwrap()
            .subject(),
        Some("Re: отопление [№ 01JH8Z3K6Q2W в системе приёма]")
    );

    m.subject = None;
    let out = encode(&host(), m, Classification::default(), decided()).unwrap();
    assert_eq!(
        MessageParser::default()
            .parse(&out.bytes)
            .unwrap()
            .subject(),
        Some("Обращение принято, № 01JH8Z3K6Q2W в системе приёма")
    );
}

#[test]
fn a_client_without_email_cannot_be_answered_by_mail() {
    let mut m = appeal();
    m.client.contacts.retain(|c| c.kind != "email");
    let err = encode(&host(), m, Classification::default(), decided()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(
        err.message.contains("no `email` contact"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("phone"),
        "names the kinds present: {}",
        err.message
    );
    assert!(
        !err.message.contains("+7 900"),
        "no personal data in errors: {}",
        err.message
    );
}

#[test]
fn a_malformed_client_address_cannot_inject_headers() {
    let mut m = appeal();
    m.client.contacts = vec![Contact {
        kind: "email".into(),
        value: "a@example.ru\r\nBcc: all@example.ru".into(),
    }];
    let err = encode(&host(), m, Classification::default(), decided()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
}

#[test]
fn missing_from_setting_is_a_config_error() {
    let err = encode(
        &MockHost::new(),
        appeal(),
        Classification::default(),
        decided(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("`from`"), "{}", err.message);
}

#[test]
fn a_decoded_appeal_can_be_answered() {
    let path = format!(
        "{}/tests/data/own_cp1251_base64_reply_to.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let mut m = host()
        .run(|| MailConnector::decode(Inbound::from_bytes(bytes)))
        .unwrap()
        .remove(0);
    m.id = "01JH9000000A".into();
    let out = encode(&host(), m, Classification::default(), decided()).unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    // Reply-To wins over From.
    assert_eq!(
        reply.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("sidorov.home@example.ru")
    );
    assert_eq!(
        reply.subject(),
        Some("Re: Перерасчёт за горячую воду [№ 01JH9000000A в системе приёма]")
    );
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some("cp1251-b64-2@mail.example.ru")
    );
}

#[test]
fn the_registration_number_of_edms_or_sog_is_named_as_such() {
    let mut m = appeal();
    m.metadata
        .push(("sog.reg-number".into(), "ОГ-1234/26".into()));
    let out = encode(&host(), m.clone(), Classification::default(), decided()).unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(
        reply.subject(),
        Some("Re: Нет отопления третьи сутки [рег. № ОГ-1234/26]")
    );
    let body = reply.body_text(0).unwrap();
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("зарегистрировано, регистрационный номер ОГ-1234/26."),
        "{body}"
    );
    assert!(!body.contains("01JH8Z3K6Q2W"), "{body}");

    // EDMS's number comes first; a subject that already carries it is kept as it is.
    m.metadata
        .push(("edms.reg-number".into(), "01-15/778".into()));
    m.subject = Some("Re: отопление [рег. № 01-15/778]".into());
    let out = encode(&host(), m, Classification::default(), decided()).unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(reply.subject(), Some("Re: отопление [рег. № 01-15/778]"));
}

#[test]
fn an_appeal_in_english_is_answered_in_english() {
    let mut m = appeal();
    m.metadata.push(("mail.language".into(), "en".into()));
    let english = host().setting("signature-en", "Ministry reception office");
    let out = encode(&english, m.clone(), classified(false), decided()).unwrap();
    let wire = String::from_utf8(out.bytes.clone()).unwrap();
    assert!(wire.contains("Content-Language: en\r\n"), "{wire}");
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert_eq!(
        reply.subject(),
        Some("Re: Нет отопления третьи сутки [intake no. 01JH8Z3K6Q2W]")
    );
    let body = reply.body_text(0).unwrap();
    assert!(body.starts_with("Dear Петрова Анна,"), "{body}");
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("its number in our intake system is 01JH8Z3K6Q2W."),
        "{body}"
    );
    assert!(body.contains("by 11 February 2026."), "{body}");
    assert!(
        body.contains("Kind regards,\r\nMinistry reception office"),
        "{body}"
    );

    // The setting wins over the appeal's language.
    let out = encode(
        &english.setting("reply-language", "ru"),
        m,
        Classification::default(),
        decided(),
    )
    .unwrap();
    let reply = MessageParser::default().parse(&out.bytes).unwrap();
    assert!(reply.body_text(0).unwrap().starts_with("Здравствуйте"));
    let err = encode(
        &host().setting("reply-language", "fr"),
        appeal(),
        Classification::default(),
        decided(),
    )
    .unwrap_err();
    assert!(
        err.message.contains("`reply-language` is `fr`"),
        "{}",
        err.message
    );
}

#[test]
fn a_decoded_english_appeal_carries_its_language_and_envelope() {
    let mail = "From: John Smith <john@example.com>\r\nTo: priemnaya@minsoc.example.ru\r\nSubject: Heating\r\nMessage-ID: <en-1@example.com>\r\n\r\nThere has been no heating in my flat for three days.\r\n";
    let mut inbound = Inbound::from_bytes(mail.as_bytes().to_vec());
    inbound.metadata = vec![
        (
            "smtp.rcpt-to".into(),
            "priemnaya@minsoc.example.ru, minister@minsoc.example.ru".into(),
        ),
        ("smtp.mail-from".into(), "john@example.com".into()),
        ("http.header.x-other".into(), "not kept".into()),
    ];
    let m = host()
        .run(|| MailConnector::decode(inbound))
        .unwrap()
        .remove(0);
    assert_eq!(m.metadata_value("mail.language"), Some("en"));
    assert_eq!(
        m.metadata_value("smtp.rcpt-to"),
        Some("priemnaya@minsoc.example.ru, minister@minsoc.example.ru")
    );
    assert_eq!(m.metadata_value("smtp.mail-from"), Some("john@example.com"));
    assert_eq!(m.metadata_value("http.header.x-other"), None);
}
