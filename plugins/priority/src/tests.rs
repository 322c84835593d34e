//! The policy as the hub calls it, with settings and time zone served by a mock host.

use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use okno_sdk::time::{self, timestamp_from_rfc3339};

use super::*;

fn at(text: &str) -> Timestamp {
    timestamp_from_rfc3339(text).unwrap_or_else(|| panic!("bad timestamp in test: {text}"))
}

fn message(channel: Channel, received: &str) -> Message {
    let mut m = Message::new(channel, "текст обращения");
    m.id = "01TEST".into();
    m.received_at = at(received);
    m
}

fn kind(kind: AppealKind, repeat: bool) -> Classification {
    Classification {
        kind: Some(KindAssignment {
            kind,
            repeat,
            reasons: vec![],
        }),
        ..Classification::default()
    }
}

fn with_topic(code: &str) -> Classification {
    Classification {
        topic: Some(TopicAssignment {
            best: Topic {
                code: code.into(),
                name: String::new(),
                confidence: 0.9,
            },
            alternatives: vec![],
            low_confidence: false,
            reasons: vec![],
        }),
        ..Classification::default()
    }
}

fn decide_on(
    host: &MockHost,
    message: Message,
    classification: Classification,
) -> Result<Decision, PluginError> {
    host.run(|| PriorityPolicy::decide(message, classification))
}

fn decide(message: Message, classification: Classification) -> Decision {
    decide_on(&MockHost::new(), message, classification).unwrap_or_else(|e| panic!("{}", e.message))
}

/// The hub-local date of a deadline, and whether it is the last millisecond of that day.
fn local_day(deadline: Option<Timestamp>) -> (i32, u8, u8) {
    let deadline = deadline.expect("a deadline");
    MockHost::new().run(|| {
        let date = time::local_date(deadline);
        assert_eq!(
            deadline,
            time::end_of_local_day(time::local_date(deadline)),
            "ends a day"
        );
        (date.year, date.month, date.day)
    })
}

fn has_reason(decision: &Decision, needle: &str) -> bool {
    decision.reasons.iter().any(|r| r.contains(needle))
}

#[test]
fn new_year_holidays_delay_registration() {
    // What the production calendar says about this New Year: 31 December 2026 and
    // 1–10 January 2027 are days off, 11 January is the first working day.
    let day = |d: u8, m: u8, y: i32| Date {
        year: y,
        month: m,
        day: d,
    };
    assert!(okno_sdk::calendar::is_working_day(day(30, 12, 2026)));
    assert!(!okno_sdk::calendar::is_working_day(day(31, 12, 2026)));
    for d in 1..=10 {
        assert!(
            !okno_sdk::calendar::is_working_day(day(d, 1, 2027)),
            "{d} January 2027"
        );
    }
    assert!(okno_sdk::calendar::is_working_day(day(11, 1, 2027)));

    let d = decide(
        message(Channel::Mail, "2026-12-30T10:00:00+03:00"),
        Classification::default(),
    );
    assert_eq!(
        local_day(d.registration_deadline),
        (2027, 1, 13),
        "11, 12, 13 January"
    );
    assert_eq!(
        local_day(d.answer_deadline),
        (2027, 2, 12),
        "30 days after 13 January"
    );
    assert!(has_reason(&d, "Регистрация — в течение 3 рабочих дней с даты поступления (59-ФЗ, ст. 8): не позднее 13.01.2027"), "{:?}", d.reasons);
    assert!(
        has_reason(&d, "30 дней с даты регистрации (59-ФЗ, ст. 12)"),
        "{:?}",
        d.reasons
    );
    assert!(!has_reason(&d, "нерабочий"), "12 February 2027 is a Friday");
    assert_eq!(d.route_tags, ["priority:normal", "deadline:44d"]);
}

#[test]
fn a_thirtieth_day_off_moves_to_the_next_working_day() {
    // Registered by Thursday 14 January 2027; the 30th day is Saturday 13 February.
    let d = decide(
        message(Channel::Epgu, "2027-01-11T12:00:00+03:00"),
        Classification::default(),
    );
    assert_eq!(local_day(d.registration_deadline), (2027, 1, 14));
    assert_eq!(local_day(d.answer_deadline), (2027, 2, 15));
    assert!(
        has_reason(&d, "30-й день, 13.02.2027, — нерабочий: срок ответа перенесён на следующий рабочий день, 15.02.2027"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn hub_local_date_decides_the_day_of_receipt() {
    // 22:30 UTC on Friday is already Saturday in Moscow: counting starts on Monday.
    let d = decide(
        message(Channel::Mail, "2026-01-16T22:30:00Z"),
        Classification::default(),
    );
    assert_eq!(
        local_day(d.registration_deadline),
        (2026, 1, 22),
        "Monday 19 + 3 working days"
    );
}

#[test]
fn social_appeal_and_comment_two_hours_mention_four() {
    let received = at("2026-01-12T09:00:00+03:00");
    for (social_kind, hours) in [
        (None, 2),
        (Some("appeal"), 2),
        (Some("comment"), 2),
        (Some("mention"), 4),
    ] {
        let mut m = message(Channel::Social, "2026-01-12T09:00:00+03:00");
        if let Some(k) = social_kind {
            m.metadata.push(("social.kind".into(), k.into()));
        }
        let d = decide(m, Classification::default());
        assert_eq!(
            d.answer_deadline,
            Some(received + hours * 3_600_000),
            "{social_kind:?}"
        );
        assert!(
            d.route_tags.contains(&format!("deadline:{hours}h")),
            "{:?}",
            d.route_tags
        );
        assert!(
            d.route_tags.contains(&"deadline:0d".to_string()),
            "{:?}",
            d.route_tags
        );
        if social_kind == Some("mention") {
            assert_eq!(d.registration_deadline, None, "mentions are not registered");
            assert!(has_reason(&d, "ответ в течение 4 часов"), "{:?}", d.reasons);
            assert!(
                has_reason(&d, "до 13:00 12.01.2026; регистрация не требуется"),
                "{:?}",
                d.reasons
            );
        } else {
            assert_eq!(
                d.registration_deadline, d.answer_deadline,
                "registered no later than answered"
            );
            assert!(has_reason(&d, "ответ в течение 2 часов"), "{:?}", d.reasons);
            assert!(
                has_reason(&d, "зарегистрировать до 11:00 12.01.2026"),
                "{:?}",
                d.reasons
            );
        }
    }
}

#[test]
fn social_hours_come_from_settings() {
    let host = MockHost::new().setting("social.appeal-hours", "1");
    let d = decide_on(
        &host,
        message(Channel::Social, "2026-01-12T09:00:00+03:00"),
        Classification::default(),
    )
    .unwrap();
    assert_eq!(d.answer_deadline, Some(at("2026-01-12T10:00:00+03:00")));
}

#[test]
fn unknown_social_kind_is_invalid_input() {
    let mut m = message(Channel::Social, "2026-01-12T09:00:00+03:00");
    m.metadata.push(("social.kind".into(), "repost".into()));
    let err = decide_on(&MockHost::new(), m, Classification::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(
        err.message.contains("social.kind") && err.message.contains("repost"),
        "{}",
        err.message
    );
}

#[test]
fn deputy_minister_by_the_next_working_day_and_high() {
    // Friday 16 January 2026: the next working day is Monday 19 January.
    let mut m = message(Channel::Mail, "2026-01-16T11:00:00+03:00");
    m.metadata
        .push(("addressee.role".into(), "deputy-minister".into()));
    let d = decide(m, kind(AppealKind::Inquiry, false));
    assert_eq!(local_day(d.answer_deadline), (2026, 1, 19));
    assert_eq!(d.priority, Priority::High);
    assert_eq!(
        d.registration_deadline, d.answer_deadline,
        "registration cannot lag the answer"
    );
    assert!(
        has_reason(
            &d,
            "заместителю министра: рассматривается в день поступления"
        ),
        "{:?}",
        d.reasons
    );
    assert!(
        has_reason(&d, "заместителю министра: приоритет повышен до высокого"),
        "{:?}",
        d.reasons
    );
    assert!(
        d.route_tags.contains(&"deadline:3d".to_string()),
        "{:?}",
        d.route_tags
    );
}

#[test]
fn deputy_minister_by_addressee_id_from_settings() {
    let host = MockHost::new().setting("deputy-minister.addressees", "zam-social, zam-housing");
    let mut m = message(Channel::Site, "2026-01-13T11:00:00+03:00");
    m.metadata
        .push(("addressee.id".into(), "zam-housing".into()));
    let d = decide_on(&host, m.clone(), kind(AppealKind::Complaint, false)).unwrap();
    assert_eq!(local_day(d.answer_deadline), (2026, 1, 14));
    assert_eq!(d.priority, Priority::High, "a complaint is high already");
    assert!(
        !has_reason(&d, "приоритет повышен до высокого"),
        "{:?}",
        d.reasons
    );

    let d = decide(m, kind(AppealKind::Complaint, false));
    assert_eq!(
        local_day(d.answer_deadline),
        (2026, 2, 16),
        "without the setting: 30 days"
    );
}

#[test]
fn deputy_minister_keeps_an_earlier_social_deadline() {
    let mut m = message(Channel::Social, "2026-01-12T09:00:00+03:00");
    m.metadata
        .push(("addressee.role".into(), "deputy-minister".into()));
    let d = decide(m, Classification::default());
    assert_eq!(d.answer_deadline, Some(at("2026-01-12T11:00:00+03:00")));
}

#[test]
fn phone_and_reception() {
    let d = decide(
        message(Channel::Phone, "2026-01-12T09:00:00+03:00"),
        Classification::default(),
    );
    assert_eq!(
        local_day(d.answer_deadline),
        (2026, 2, 16),
        "15 January + 30 = Saturday 14 February → Monday"
    );

    let mut m = message(Channel::Phone, "2026-01-12T09:00:00+03:00");
    m.metadata
        .push(("phone.answered-on-call".into(), "true".into()));
    let d = decide(m, Classification::default());
    assert_eq!(d.answer_deadline, None);
    assert!(d.registration_deadline.is_some());
    assert!(
        !d.route_tags.iter().any(|t| t.starts_with("deadline:")),
        "{:?}",
        d.route_tags
    );
    assert!(
        has_reason(&d, "ответ дан во время звонка"),
        "{:?}",
        d.reasons
    );

    let d = decide(
        message(Channel::Reception, "2026-01-12T09:00:00+03:00"),
        Classification::default(),
    );
    assert_eq!(local_day(d.answer_deadline), (2026, 2, 16));
    assert!(
        has_reason(
            &d,
            "Устное обращение на личном приёме: письменный ответ в течение 30 дней"
        ),
        "{:?}",
        d.reasons
    );

    let mut m = message(Channel::Reception, "2026-01-12T09:00:00+03:00");
    m.metadata
        .push(("reception.answered-on-spot".into(), "TRUE".into()));
    assert_eq!(decide(m, Classification::default()).answer_deadline, None);

    let mut m = message(Channel::Phone, "2026-01-12T09:00:00+03:00");
    m.metadata
        .push(("phone.answered-on-call".into(), "да".into()));
    let err = decide_on(&MockHost::new(), m, Classification::default()).unwrap_err();
    assert!(
        err.message.contains("phone.answered-on-call"),
        "{}",
        err.message
    );
}

#[test]
fn priority_from_kind() {
    let received = "2026-01-12T09:00:00+03:00";
    for (k, expected) in [
        (AppealKind::Complaint, Priority::High),
        (AppealKind::Gratitude, Priority::Low),
        (AppealKind::Proposal, Priority::Normal),
        (AppealKind::Inquiry, Priority::Normal),
        (AppealKind::Statement, Priority::Normal),
    ] {
        let d = decide(message(Channel::Mail, received), kind(k, false));
        assert_eq!(d.priority, expected, "{k:?}");
    }
    let d = decide(
        message(Channel::Mail, received),
        kind(AppealKind::Gratitude, false),
    );
    assert_eq!(
        d.reasons[0],
        "Вид обращения — благодарность: приоритет низкий"
    );
    assert_eq!(d.route_tags[0], "priority:low");
}

#[test]
fn segments_raise_one_level_once() {
    let mut m = message(Channel::Mail, "2026-01-12T09:00:00+03:00");
    m.client.segments = vec!["senior".into(), "disabled".into(), "entrepreneur".into()];
    let d = decide(m.clone(), kind(AppealKind::Inquiry, false));
    assert_eq!(d.priority, Priority::High, "two segments, still one level");
    assert!(
        has_reason(&d, "Категория заявителя: гражданин старшего возраста, инвалидность: приоритет повышен до высокого"),
        "{:?}",
        d.reasons
    );

    let host = MockHost::new().setting("priority-segments", "entrepreneur");
    let d = decide_on(&host, m.clone(), kind(AppealKind::Gratitude, false)).unwrap();
    assert_eq!(
        d.priority,
        Priority::Normal,
        "only the configured segment counts"
    );
    assert!(
        has_reason(&d, "Категория заявителя: предприниматель"),
        "{:?}",
        d.reasons
    );

    m.client.segments = vec!["representative".into()];
    assert_eq!(
        decide(m, kind(AppealKind::Inquiry, false)).priority,
        Priority::Normal
    );
}

#[test]
fn segments_read_from_the_text_count_like_the_clients() {
    // examples/appeals/03-…: the body as the mail connector decodes it. The connector
    // leaves `client.segments` empty; `kind` tags what the author says of herself.
    let mut m = message(Channel::Mail, "2026-01-12T09:00:00+03:00");
    m.subject = Some("Вопрос о ежемесячной выплате".into());
    m.body = "Уважаемые сотрудники министерства!\n\nЯ пенсионер, мне 74 года, инвалид 2 группы. \
              С января мне перестали\nначислять ежемесячную денежную выплату на оплату \
              коммунальных услуг,\nкоторую я получала с 2019 года.\n\nПрошу разъяснить, почему \
              выплата прекращена и какие документы мне нужно\nпредставить, чтобы её восстановить."
        .into();
    let classification =
        okno_plugin_kind::Kind::classify(m.clone(), Classification::default()).expect("kind");
    assert!(m.client.segments.is_empty());
    let d = decide(m.clone(), classification.clone());
    assert_eq!(d.priority, Priority::High, "{:?}", d.reasons);
    assert!(
        has_reason(
            &d,
            "Категория заявителя: гражданин старшего возраста, инвалидность"
        ),
        "{:?}",
        d.reasons
    );

    // The same segment from the connector and from the text is named once; settings apply.
    m.client.segments = vec!["senior".into()];
    let d = decide(m.clone(), classification.clone());
    assert!(
        has_reason(
            &d,
            "Категория заявителя: гражданин старшего возраста, инвалидность:"
        ),
        "{:?}",
        d.reasons
    );
    let host = MockHost::new().setting("priority-segments", "large-family");
    let d = decide_on(&host, m, classification).unwrap();
    assert_eq!(d.priority, Priority::Normal, "{:?}", d.reasons);
}

#[test]
fn raises_stop_at_urgent() {
    let mut m = message(Channel::Mail, "2026-01-12T09:00:00+03:00");
    m.client.segments = vec!["veteran".into()];
    let mut c = kind(AppealKind::Complaint, true);
    c.sentiment = Some(Sentiment {
        label: SentimentLabel::Negative,
        score: -0.8,
        reasons: vec![],
    });
    let d = decide(m, c);
    assert_eq!(d.priority, Priority::Urgent);
    assert!(
        has_reason(
            &d,
            "Резко негативная тональность (оценка -0,80): приоритет повышен до срочного"
        ),
        "{:?}",
        d.reasons
    );
    assert!(
        has_reason(&d, "Категория заявителя: ветеран: приоритет уже срочный"),
        "{:?}",
        d.reasons
    );
    assert!(
        has_reason(&d, "Повторное обращение: приоритет уже срочный"),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.route_tags, ["priority:urgent", "deadline:35d", "repeat"]);
}

#[test]
fn mild_negativity_does_not_raise() {
    let mut c = kind(AppealKind::Inquiry, false);
    c.sentiment = Some(Sentiment {
        label: SentimentLabel::Negative,
        score: -0.59,
        reasons: vec![],
    });
    assert_eq!(
        decide(message(Channel::Mail, "2026-01-12T09:00:00+03:00"), c).priority,
        Priority::Normal
    );
}

#[test]
fn repeat_from_the_thread_counts_too() {
    let mut m = message(Channel::Mail, "2026-01-12T09:00:00+03:00");
    m.thread.repeat_of = Some("01EARLIER".into());
    let d = decide(m, kind(AppealKind::Proposal, false));
    assert_eq!(d.priority, Priority::High);
    assert!(d.route_tags.contains(&"repeat".to_string()));
}

#[test]
fn urgent_tag_makes_it_urgent() {
    let mut c = kind(AppealKind::Gratitude, false);
    c.tags = vec!["housing".into(), "emergency".into()];
    let d = decide(message(Channel::Mail, "2026-01-12T09:00:00+03:00"), c);
    assert_eq!(d.priority, Priority::Urgent);
    assert!(
        has_reason(&d, "Метка «emergency»: приоритет срочный"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn responsible_by_longest_prefix() {
    let host = MockHost::new()
        .setting("responsible.0005", "dept-housing-all")
        .setting("responsible.0005.0005", "dept-housing")
        .setting("responsible.0005.0005.0056", "dept-utilities")
        .setting("responsible.0003.0008", "dept-finance")
        .setting("responsible.default", "dept-general");
    let received = "2026-01-12T09:00:00+03:00";
    for (code, expected) in [
        ("0005.0005.0056.1156", "dept-utilities"),
        ("0005.0005.0054.0000", "dept-housing"),
        ("0005.0001.0000.0000", "dept-housing-all"),
        ("0003.0008.0086.0568.0092", "dept-finance"),
        ("0001.0001.0001.0001", "dept-general"),
    ] {
        let d = decide_on(&host, message(Channel::Mail, received), with_topic(code)).unwrap();
        assert_eq!(d.responsible.as_deref(), Some(expected), "{code}");
    }
    let d = decide_on(
        &host,
        message(Channel::Mail, received),
        with_topic("0005.0005.0056.1156"),
    )
    .unwrap();
    assert!(
        has_reason(&d, "Ответственный — dept-utilities: тема 0005.0005.0056.1156 относится к разделу 0005.0005.0056 (настройка responsible.0005.0005.0056)"),
        "{:?}",
        d.reasons
    );
    let d = decide_on(
        &host,
        message(Channel::Mail, received),
        Classification::default(),
    )
    .unwrap();
    assert_eq!(d.responsible.as_deref(), Some("dept-general"));
    assert!(has_reason(&d, "тема не определена"), "{:?}", d.reasons);

    let d = decide(
        message(Channel::Mail, received),
        with_topic("0005.0005.0056.1156"),
    );
    assert_eq!(d.responsible, None);
    assert!(
        has_reason(&d, "Ответственный не назначен"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_prefix_matches_whole_blocks_only() {
    let host = MockHost::new().setting("responsible.0005.0005.0056", "dept-utilities");
    let d = decide_on(
        &host,
        message(Channel::Mail, "2026-01-12T09:00:00+03:00"),
        with_topic("0005.0005.0056"),
    )
    .unwrap();
    assert_eq!(
        d.responsible.as_deref(),
        Some("dept-utilities"),
        "the prefix itself"
    );
    let d = decide_on(
        &host,
        message(Channel::Mail, "2026-01-12T09:00:00+03:00"),
        with_topic("0005.0005.00561.0000"),
    )
    .unwrap();
    assert_eq!(d.responsible, None);
}

#[test]
fn wrong_settings_are_config_errors() {
    let host = MockHost::new().setting("responsible.housing", "dept-housing");
    let err = decide_on(
        &host,
        message(Channel::Mail, "2026-01-12T09:00:00+03:00"),
        Classification::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(
        err.message.contains("responsible.housing"),
        "{}",
        err.message
    );
}

#[test]
fn a_message_without_received_at_is_refused() {
    let err = decide_on(
        &MockHost::new(),
        Message::new(Channel::Mail, "..."),
        Classification::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.contains("received-at"), "{}", err.message);
}

#[test]
fn deadlines_are_never_before_receipt_nor_answer_before_registration() {
    // Every channel, with and without a deputy minister, at every hour of a year that
    // spans the New Year and May holidays.
    let host = MockHost::new();
    let start = at("2026-12-01T00:00:00+03:00");
    let channels = [
        Channel::Epgu,
        Channel::Sog,
        Channel::Edms,
        Channel::Knd,
        Channel::Mail,
        Channel::Phone,
        Channel::Social,
        Channel::Site,
        Channel::Reception,
        Channel::Post,
        Channel::Api,
    ];
    for step in (0..200 * 24).step_by(7) {
        let received = start + step * 3_600_000;
        for channel in channels {
            for deputy in [false, true] {
                let mut m = Message::new(channel, "...");
                m.received_at = received;
                if deputy {
                    m.metadata
                        .push(("addressee.role".into(), "deputy-minister".into()));
                }
                let settings = PolicySettings::default();
                let d = host
                    .run(|| decide_with_settings(&settings, &m, &Classification::default()))
                    .unwrap_or_else(|e| panic!("{channel:?} at {received}: {}", e.message));
                let answer = d
                    .answer_deadline
                    .expect("every channel here owes an answer");
                assert!(answer >= received, "{channel:?} at {received}");
                if let Some(registration) = d.registration_deadline {
                    assert!(
                        registration >= received && registration <= answer,
                        "{channel:?} at {received}"
                    );
                }
            }
        }
    }
}
