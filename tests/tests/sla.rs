//! The SLA engine's exports checked against committed files.

use okno_tests::*;

/// The ССТУ export of three appeals of October 2026, byte for byte as the committed file:
/// UTF-8 BOM, CRLF, `;`, the 25 columns in the layout's order.
#[test]
fn the_sstu_export_is_byte_exact() {
    use okno_hub::model::*;
    use okno_hub::sla::sstu::{export, row, SstuConfig};
    use okno_hub::sla::{Appeal, AppealState};
    use okno_hub::store::Record;

    // 2026-10-02 10:00 and 2026-10-15 23:30 in Yekaterinburg (UTC+5).
    let oct2 = 1_790_881_200_000 + 10 * 3_600_000;
    let oct15 = 1_792_004_400_000 + 23 * 3_600_000 + 30 * 60_000;
    let config = SstuConfig {
        district: "Уральский федеральный округ".into(),
        region: "Свердловская область".into(),
        organ: "Министерство социальной политики Свердловской области".into(),
        organ_sstu: "Министерство социальной политики Свердловской области".into(),
        group_sstu: "Органы исполнительной власти субъектов РФ".into(),
    };
    let appeal = |id: &str, state, channel, received_at, topic: Option<&str>| Appeal {
        id: id.into(),
        state,
        channel,
        received_at,
        topic: topic.map(String::from),
        rule: "written".into(),
        registration_deadline: None,
        answer_deadline: None,
        extendable: true,
        extended: false,
        department: Some("housing".into()),
        executor: Some("Иванов И. И.".into()),
        controller: None,
        report_due: None,
        registered_at: None,
        answered_at: None,
        late: false,
        history: vec![],
        transfers: None,
    };
    let record =
        |channel, client, metadata: &[(&str, &str)], topic: (&str, &str), appeal_kind, repeat| {
            let mut r = Record::accepted(Message {
                id: String::new(),
                idempotency_key: None,
                channel,
                source: "test".into(),
                received_at: 0,
                sent_at: None,
                client: Client {
                    kind: client,
                    ..Default::default()
                },
                subject: None,
                body: "текст".into(),
                attachments: vec![],
                metadata: metadata
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                thread: Thread::default(),
            });
            r.classification = Some(Classification {
                topic: Some(TopicAssignment {
                    best: Topic {
                        code: topic.0.into(),
                        name: topic.1.into(),
                        confidence: 0.9,
                    },
                    alternatives: vec![],
                    low_confidence: false,
                    reasons: vec![],
                }),
                kind: Some(KindAssignment {
                    kind: appeal_kind,
                    repeat,
                    reasons: vec![],
                }),
                ..Default::default()
            });
            r
        };

    let mut heating = appeal(
        "0199a1",
        AppealState::Answered,
        Channel::Mail,
        oct2,
        Some("0005.0005.0056.1157"),
    );
    heating.registered_at = Some(oct2 + 3_600_000);
    let heating_record = record(
        Channel::Mail,
        ClientKind::Citizen,
        &[
            ("edms.reg-number", "01-15/2345"),
            ("address.district", "Ленинский район"),
            ("address.city", "Екатеринбург"),
        ],
        ("0005.0005.0056.1157", "Отопление; горячее водоснабжение"),
        AppealKind::Complaint,
        false,
    );
    let reception = appeal(
        "0199b2",
        AppealState::InWork,
        Channel::Reception,
        oct15,
        Some("0002.0006.0066.0393"),
    );
    let reception_record = record(
        Channel::Reception,
        ClientKind::Business,
        &[],
        ("0002.0006.0066.0393", "Социальное обеспечение"),
        AppealKind::Inquiry,
        true,
    );
    let mut forwarded = appeal(
        "0199c3",
        AppealState::Forwarded,
        Channel::Social,
        oct15,
        None,
    );
    forwarded.department = None;
    forwarded.executor = None;

    let rows = [
        row(
            &heating,
            Some(&heating_record),
            &config,
            Some("Отдел ЖКХ"),
            300,
        ),
        row(
            &reception,
            Some(&reception_record),
            &config,
            Some("Отдел ЖКХ"),
            300,
        ),
        row(&forwarded, None, &config, None, 300),
    ];
    let bytes = export(rows);
    let expected = sample("tests/data/sstu/expected-2026-10.csv");
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(bytes, expected);
}
