//! `decode` on real third-party mail and on the crate's own examples (see data/SOURCES.md).

use okno_plugin_mail::MailConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn read(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode_with(host: &MockHost, name: &str) -> Result<Message, PluginError> {
    let bytes = read(name);
    let mut messages = host.run(|| MailConnector::decode(Inbound::from_bytes(bytes)))?;
    assert_eq!(messages.len(), 1, "{name}: one e-mail is one message");
    Ok(messages.remove(0))
}

fn decode(name: &str) -> Message {
    decode_with(&MockHost::new(), name).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn emails(message: &Message) -> Vec<&str> {
    message
        .client
        .contacts
        .iter()
        .filter(|c| c.kind == "email")
        .map(|c| c.value.as_str())
        .collect()
}

fn ts(rfc3339: &str) -> i64 {
    okno_sdk::time::timestamp_from_rfc3339(rfc3339).unwrap()
}

#[test]
fn thunderbird_cp1251_8bit_multipart_with_forwarded_message() {
    let m = decode("imaptools_attachment_8bit_cp1251_multipart_mixed.eml");
    assert_eq!(m.channel, Channel::Mail);
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("2ffd4cec-d312-60da-72f3-5b6e4406fddf@com.ru")
    );
    assert_eq!(m.subject.as_deref(), Some("S19 IZM A7-342"));
    assert_eq!(m.sent_at, Some(ts("2019-02-07T13:18:20+05:00")));
    assert_eq!(
        m.thread.in_reply_to.as_deref(),
        Some("1333139463.20190207083243@com.ru")
    );
    // The UTF-8 B-encoded display name.
    assert_eq!(m.client.name.as_deref(), Some("Каукин Владимир"));
    assert_eq!(m.client.kind, ClientKind::Citizen);
    assert_eq!(emails(&m), ["k1@yandex.ru"]);
    // text/plain is preferred to the HTML alternative; the 8-bit windows-1251 signature is decoded.
    assert!(
        m.body.starts_with("SCR\n\n/\nS19\n07FEB\nwat"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("отдел расписания\nтел. (343) 072-00-00"),
        "{}",
        m.body
    );
    assert!(!m.body.contains('<'), "no HTML in the body: {}", m.body);
    assert_eq!(m.metadata_value("mail.charset"), Some("windows-1251"));
    assert_eq!(m.metadata_value("mail.from-domain"), Some("yandex.ru"));
    assert_eq!(m.metadata_value("mail.to"), Some("rasp@wat.aero"));
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(
        (a.name.as_str(), a.media_type.as_str()),
        ("Message01.eml", "message/rfc822")
    );
    assert_eq!(a.content_ref, format!("sha256:{}", a.sha256));
    assert_eq!(a.sha256.len(), 64);
    assert!(a
        .sha256
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert!(a.size > 4000, "the whole forwarded message: {}", a.size);
}

#[test]
fn utf8_mail_with_blank_text_and_an_attached_message() {
    let m = decode("imaptools_attachment_7bit_utf8_qp_multipart_mixed.eml");
    assert_eq!(m.subject.as_deref(), Some("статус"));
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("2405271c-86ac-0a65-e50c-d1ebccfcc644@company.ru")
    );
    assert_eq!(emails(&m), ["i.kor@company.ru"]);
    assert_eq!(m.client.name, None);
    assert_eq!(m.body, "");
    assert_eq!(m.attachments.len(), 1);
    // The sender's broken encoded word inside a quoted file name is still read.
    assert_eq!(m.attachments[0].name, "Contract 25 04 2020.docx");
    assert_eq!(m.attachments[0].media_type, "message/rfc822");
}

#[test]
fn malformed_date_is_kept_as_metadata_not_an_error() {
    let m = decode("imaptools_raw_email_bad_time_cp1251_qp_malformed_date.eml");
    assert_eq!(m.sent_at, None);
    assert_eq!(
        m.metadata_value("mail.date-invalid"),
        Some("Mon, 30 Jun 3609 15:33:50 +0600")
    );
    // windows-1251 B-encoded display name in quotes; its last letter is a Latin `a`.
    assert_eq!(m.client.name.as_deref(), Some("Атиковa"));
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("86a2019dbec6$caa86cc0$390b0485@auracom.net")
    );
    // The indented boundary still splits the parts; the plain one is the body.
    assert_eq!(
        m.body,
        "Filter2: This message has been scanned for viruses and\ndangerous content by MailScanner, and is\nbelieved to be clean."
    );
    assert_eq!(m.metadata_value("mail.charset"), Some("windows-1251"));
}

#[test]
fn headerless_attachment_only_mail_has_an_unknown_client() {
    let m = decode("rspamd_next2last_doublebad_malformed_cp1251_filename.eml");
    assert_eq!(m.client.kind, ClientKind::Unknown);
    assert!(m.client.contacts.is_empty());
    assert_eq!(
        (m.subject.clone(), m.idempotency_key.clone(), m.sent_at),
        (None, None, None)
    );
    assert_eq!(m.body, "");
    let a = &m.attachments[0];
    assert_eq!(a.name, "файл.scr.xz");
    assert_eq!(a.media_type, "application/octet-stream");
    assert_eq!(a.size, 39);
    // sha256 of the base64-decoded bytes, computed independently.
    assert_eq!(
        a.sha256,
        "8b5d235586fd825d63d1ce7e4702a29de73e34b0bd7b539438b2529df0ca4b3e"
    );
}

#[test]
fn koi8r_quoted_printable_with_q_and_b_encoded_words() {
    let m = decode("own_koi8r_qp_encoded_words.eml");
    assert_eq!(m.subject.as_deref(), Some("Нет отопления третьи сутки"));
    assert_eq!(m.client.name.as_deref(), Some("Петрова Анна"));
    assert_eq!(emails(&m), ["a.petrova@example.ru"]);
    assert_eq!(m.sent_at, Some(ts("2026-01-13T07:45:12+03:00")));
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("koi8-qp-1@mail.example.ru")
    );
    assert_eq!(
        m.body,
        "Здравствуйте!\n\nВ доме N 14 по улице Заводской уже третьи сутки нет отопления.\n\
         В квартире +12 градусов, у нас маленький ребёнок. Прошу принять срочные меры.\n\n\
         Петрова Анна Сергеевна"
    );
    assert_eq!(m.metadata_value("mail.charset"), Some("koi8-r"));
    assert_eq!(m.metadata_value("mail.charset-guessed"), None);
}

#[test]
fn cp1251_base64_with_reply_to_and_thread() {
    let m = decode("own_cp1251_base64_reply_to.eml");
    assert_eq!(m.subject.as_deref(), Some("Перерасчёт за горячую воду"));
    assert_eq!(m.client.name.as_deref(), Some("Сидоров Игорь"));
    // Reply-To first: that is where the answer goes.
    assert_eq!(
        emails(&m),
        ["sidorov.home@example.ru", "i.sidorov@example.ru"]
    );
    assert_eq!(m.sent_at, Some(ts("2026-01-14T10:02:00+05:00")));
    assert_eq!(
        m.thread.in_reply_to.as_deref(),
        Some("earlier-7@minsoc.example.ru")
    );
    assert!(m.body.contains(
        "Прошу сделать перерасчёт платы за горячую воду за декабрь 2025 года:\nс 3 по 20"
    ));
    assert!(m.body.ends_with("Лицевой счёт 123456."), "{}", m.body);
    assert_eq!(
        m.metadata_value("mail.to"),
        Some("priemnaya@minsoc.example.ru, zhkh@minsoc.example.ru")
    );
}

#[test]
fn html_only_mail_becomes_readable_text() {
    let m = decode("own_html_only_utf8_qp.eml");
    assert_eq!(m.subject.as_deref(), Some("Новый маршрут"));
    assert_eq!(m.client.name.as_deref(), Some("Kuznetsov P."));
    assert_eq!(
        m.body,
        "Уважаемые сотрудники министерства!\n\n\
         Прошу добавить автобусный маршрут «Микрорайон Солнечный — центр».\n\
         Сейчас дорога занимает больше часа.\n\nС уважением,\nКузнецов П. А."
    );
    assert_eq!(m.metadata_value("mail.body-from-html"), Some("true"));
}

#[test]
fn blank_plain_alternative_falls_back_to_html() {
    let m = decode("own_alternative_blank_plain.eml");
    assert_eq!(m.subject.as_deref(), Some("Благодарность"));
    assert_eq!(m.body, "Спасибо социальному работнику Марине за помощь!");
    assert!(
        m.attachments.is_empty(),
        "alternatives are not attachments: {:?}",
        m.attachments
    );
}

#[test]
fn multipart_with_pdf_attachment() {
    let m = decode("own_multipart_koi8r_pdf_attachment.eml");
    assert_eq!(m.client.name.as_deref(), Some("Орлова Вера"));
    assert_eq!(
        m.body,
        "Направляю копию справки об инвалидности.\nПрошу разъяснить порядок получения компенсации."
    );
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.name, "справка.pdf");
    assert_eq!(a.media_type, "application/pdf");
    assert_eq!(a.size, 77);
    assert_eq!(
        a.sha256,
        "56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26"
    );
    assert_eq!(
        a.content_ref,
        "sha256:56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26"
    );
}

#[test]
fn undeclared_8bit_windows_1251_is_recognised() {
    let m = decode("own_undeclared_8bit_cp1251.eml");
    assert_eq!(m.subject.as_deref(), Some("Вопрос по земельному налогу"));
    assert_eq!(
        m.body,
        "Прошу разъяснить, почему мне начислен земельный налог за участок, который я продал в 2024 году."
    );
    assert_eq!(
        m.metadata_value("mail.header-charset"),
        Some("windows-1251")
    );
    assert_eq!(m.metadata_value("mail.charset"), Some("windows-1251"));
    assert_eq!(m.metadata_value("mail.charset-guessed"), Some("true"));
}

#[test]
fn undeclared_8bit_koi8r_and_a_date_that_is_not_a_date() {
    let m = decode("own_undeclared_8bit_koi8r_bad_date.eml");
    assert_eq!(
        m.body,
        "Когда мой ребёнок получит место в детском саду? Стоим в очереди с марта."
    );
    assert_eq!(m.metadata_value("mail.charset"), Some("koi8-r"));
    assert_eq!(m.sent_at, None);
    assert_eq!(
        m.metadata_value("mail.date-invalid"),
        Some("yesterday evening")
    );
}

#[test]
fn fallback_charset_setting_overrides_the_guess() {
    let host = MockHost::new().setting("fallback-charset", "koi8-r");
    let m = decode_with(&host, "own_undeclared_8bit_cp1251.eml").unwrap();
    assert_eq!(m.metadata_value("mail.charset"), Some("koi8-r"));
    assert_ne!(m.subject.as_deref(), Some("Вопрос по земельному налогу"));
}

#[test]
fn client_kind_setting_applies_to_senders() {
    let host = MockHost::new().setting("client-kind", "business");
    let m = decode_with(&host, "own_koi8r_qp_encoded_words.eml").unwrap();
    assert_eq!(m.client.kind, ClientKind::Business);

    let err = decode_with(
        &MockHost::new().setting("client-kind", "robot"),
        "own_koi8r_qp_encoded_words.eml",
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
}

#[test]
fn malformed_mail_is_invalid_input_with_a_reason() {
    for (name, reason) in [
        (
            "own_malformed_headers_only.eml",
            "no body text and no attachments",
        ),
        (
            "own_malformed_no_headers.eml",
            "line 1 is not a header field",
        ),
    ] {
        let err = decode_with(&MockHost::new(), name).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{name}");
        assert!(err.message.contains(reason), "{name}: {}", err.message);
    }
}

#[test]
fn never_panics_on_truncated_or_mangled_input() {
    for name in [
        "imaptools_attachment_8bit_cp1251_multipart_mixed.eml",
        "imaptools_raw_email_bad_time_cp1251_qp_malformed_date.eml",
        "own_multipart_koi8r_pdf_attachment.eml",
        "own_cp1251_base64_reply_to.eml",
    ] {
        let bytes = read(name);
        for cut in (0..bytes.len()).step_by(7) {
            let prefix = bytes[..cut].to_vec();
            // Either a message or an error: both are fine, a panic is not.
            let _ = MockHost::new().run(|| MailConnector::decode(Inbound::from_bytes(prefix)));
        }
        let mut flipped = bytes.clone();
        for i in (0..flipped.len()).step_by(13) {
            flipped[i] ^= 0x80;
        }
        let _ = MockHost::new().run(|| MailConnector::decode(Inbound::from_bytes(flipped)));
    }
}

#[test]
fn auto_responders_are_marked() {
    let raw = b"From: robot@example.ru\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nI am away.\r\n";
    let m = MockHost::new()
        .run(|| MailConnector::decode(Inbound::from_bytes(raw.to_vec())))
        .unwrap();
    assert_eq!(
        m[0].metadata_value("mail.auto-submitted"),
        Some("auto-replied")
    );
}
