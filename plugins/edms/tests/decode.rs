//! Decode on the real МЭДО samples and on notifications and packets built like them.

mod common;

use common::*;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

#[test]
fn the_real_acknowledgment_alone() {
    let m = decode(sample("medo20_acknowledgment_fso.xml")).unwrap();
    assert_eq!(m.channel, Channel::Edms);
    assert_eq!(meta(&m, "edms.event"), Some("acknowledged"));
    assert_eq!(meta(&m, "edms.version"), Some("2.0"));
    assert_eq!(meta(&m, "edms.packet-type"), Some("Квитанция"));
    assert_eq!(
        meta(&m, "edms.ref-uid"),
        Some("9ce238f7-18ab-48bd-9c87-2fe8abb5fede")
    );
    // A uid the hub did not write leads to no message of the hub's.
    assert_eq!(meta(&m, "edms.ref-message"), None);
    assert_eq!(
        m.thread.in_reply_to.as_deref(),
        Some("9ce238f7-18ab-48bd-9c87-2fe8abb5fede")
    );
    // The header has no uid: the key is made of what the acknowledgment says.
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("ack:9ce238f7-18ab-48bd-9c87-2fe8abb5fede:2023-06-16T11:14:28")
    );
    assert!(m.client.name.as_deref().unwrap().contains("ФСО"));
    assert!(
        m.sent_at.is_some(),
        "a time without a zone is read in the hub's zone"
    );
}

#[test]
fn the_real_passport_alone() {
    let m = decode(sample("medo27_container_passport_minvostokrazvitiya.xml")).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("document"));
    assert_eq!(
        meta(&m, "edms.doc-uid"),
        Some("4a26d46f-fe64-3d6c-90e5-3ff6731f158e")
    );
    assert_eq!(meta(&m, "edms.doc-number"), Some("ПВ-00-14/11756"));
    assert_eq!(meta(&m, "edms.doc-date"), Some("2022-08-16"));
    assert_eq!(meta(&m, "edms.doc-type"), Some("incoming"));
    assert_eq!(
        meta(&m, "edms.doc-kind"),
        Some("Служебное письмо Аппарата Правительства Российской Федерации")
    );
    assert_eq!(meta(&m, "edms.files"), Some("874070.pdf, visa1.sig"));
    assert!(meta(&m, "edms.signatories")
        .unwrap()
        .contains("Волков Павел Михайлович"));
    assert!(meta(&m, "edms.addressees")
        .unwrap()
        .contains("Федеральной службы охраны"));
    // The annotation's inner line break and doubled space collapse.
    assert!(m.body.starts_with("Об обеспечении Министра"), "{}", m.body);
    assert!(!m.body.contains('\n') && !m.body.contains("  "));
    assert_eq!(
        m.subject.as_deref(),
        Some("Служебное письмо Аппарата Правительства Российской Федерации № ПВ-00-14/11756 от 2022-08-16")
    );
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("4a26d46f-fe64-3d6c-90e5-3ff6731f158e")
    );
    assert!(
        m.attachments.is_empty(),
        "alone, the files are named, not held"
    );
}

#[test]
fn the_real_transport_file_alone() {
    let m = decode(sample("medo27_document_transport_minvostokrazvitiya.xml")).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("document"));
    assert_eq!(meta(&m, "edms.container"), Some("document.edc.zip"));
    assert_eq!(meta(&m, "edms.container-missing"), Some("true"));
    assert_eq!(
        meta(&m, "edms.packet-uid"),
        Some("4a26d46f-fe64-3d6c-90e5-3ff6731f158e")
    );
    assert_eq!(meta(&m, "edms.version"), Some("2.7"));
}

#[test]
fn the_real_packet_as_a_zip_container() {
    let host = MockHost::new();
    let m = decode_with(&host, real_packet(), Some("application/zip")).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("document"));
    assert_eq!(meta(&m, "edms.packet-type"), Some("Транспортный контейнер"));
    assert_eq!(meta(&m, "edms.doc-number"), Some("ПВ-00-14/11756"));
    assert_eq!(
        meta(&m, "edms.envelope-subject"),
        Some("№ ПВ-00-14/11756 от 16/08/2022 Исходящий")
    );
    assert_eq!(
        meta(&m, "edms.envelope-addresses"),
        Some("M_VOSTOK_S~MEDOGU")
    );
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("4a26d46f-fe64-3d6c-90e5-3ff6731f158e")
    );
    assert_eq!(
        m.client.name.as_deref(),
        Some("Министерство Российской Федерации по развитию Дальнего Востока и Арктики")
    );
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["874070.pdf", "visa1.sig"]);
    let pdf = &m.attachments[0];
    assert_eq!(pdf.media_type, "application/pdf");
    assert_eq!(pdf.size, 39);
    assert_eq!(pdf.content_ref, format!("sha256:{}", pdf.sha256));
    assert_eq!(meta(&m, "edms.charset-mismatch"), None);
}

#[test]
fn a_registration_notification_carries_the_number_back() {
    let uid = okno_plugin_edms::uid::for_message("019ad1c2e3f400000007");
    let xml = notification(
        "Зарегистрирован",
        &uid,
        r#"    <xdms:documentAccepted>
      <xdms:time>2026-03-30T10:41:12.503</xdms:time>
      <xdms:foundation>
        <xdms:organization>Министерство промышленности и науки</xdms:organization>
        <xdms:num><xdms:number>019ad1c2e3f400000007</xdms:number><xdms:date>2026-03-28</xdms:date></xdms:num>
      </xdms:foundation>
      <xdms:num><xdms:number>33306/МС</xdms:number><xdms:date>2026-03-30</xdms:date></xdms:num>
    </xdms:documentAccepted>"#,
    );
    let m = decode(xml.into_bytes()).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("registered"));
    assert_eq!(meta(&m, "edms.reg-number"), Some("33306/МС"));
    assert_eq!(meta(&m, "edms.reg-date"), Some("2026-03-30"));
    assert_eq!(meta(&m, "edms.ref-message"), Some("019ad1c2e3f400000007"));
    assert_eq!(
        m.thread.in_reply_to.as_deref(),
        Some("019ad1c2e3f400000007")
    );
    assert!(m.body.contains("33306/МС"), "{}", m.body);
}

#[test]
fn a_refusal_carries_its_reason_and_one_without_is_refused() {
    let refused = notification(
        "Отказано в регистрации",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        r#"<xdms:documentRefused><xdms:time>2026-03-30T10:10:39</xdms:time>
        <xdms:foundation><xdms:num><xdms:number>01-01-15/5160</xdms:number><xdms:date>2026-03-30</xdms:date></xdms:num></xdms:foundation>
        <xdms:reason>Не подлежит регистрации</xdms:reason></xdms:documentRefused>
        <xdms:comment>по договоренности</xdms:comment>"#,
    );
    let m = decode(refused.into_bytes()).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("refused"));
    assert_eq!(meta(&m, "edms.reason"), Some("Не подлежит регистрации"));
    assert_eq!(meta(&m, "edms.comment"), Some("по договоренности"));

    let without = notification(
        "Отказано в регистрации",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        "<xdms:documentRefused><xdms:time>2026-03-30T10:10:39</xdms:time></xdms:documentRefused>",
    );
    let err = decode(without.into_bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.contains("reason"), "{}", err.message);
}

/// A product's own notification types and fields come from the settings.
#[test]
fn report_events_of_a_product_come_from_settings() {
    let xml = notification(
        "Доклад отклонён",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        r#"<xdms:reportRejected><xdms:time>2026-04-02T12:00:00+03:00</xdms:time>
        <xdms:control><xdms:fio>Петрова А. А.</xdms:fio></xdms:control>
        <xdms:reason>Нет ответа по существу</xdms:reason><xdms:newTerm>10.04.2026</xdms:newTerm>
        <xdms:resolution>Доработать</xdms:resolution></xdms:reportRejected>"#,
    );
    // Without the product's settings it is a notification like any other.
    let plain = decode(xml.clone().into_bytes()).unwrap();
    assert_eq!(meta(&plain, "edms.event"), Some("notification"));
    assert_eq!(
        meta(&plain, "edms.notification-type"),
        Some("Доклад отклонён")
    );

    let host = MockHost::new()
        .setting("event.report-rejected", "Доклад отклонён, Доклад не принят")
        .setting("field.controller", "control/fio")
        .setting("field.deadline", "newTerm")
        .setting("extra.resolution", "resolution");
    let m = decode_with(&host, xml.into_bytes(), None).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("report-rejected"));
    assert_eq!(meta(&m, "edms.controller"), Some("Петрова А. А."));
    assert_eq!(meta(&m, "edms.reason"), Some("Нет ответа по существу"));
    assert_eq!(meta(&m, "edms.deadline"), Some("2026-04-10"));
    assert_eq!(meta(&m, "edms.x.resolution"), Some("Доработать"));

    let bad = MockHost::new().setting("event.report-lost", "x");
    let err = decode_with(&bad, sample("medo20_acknowledgment_fso.xml"), None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("event.report-lost"), "{}", err.message);
}

#[test]
fn an_assignment_names_executor_controller_and_deadline() {
    let xml = notification(
        "Назначен исполнитель",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        r#"<xdms:executorAssigned><xdms:time>2026-04-01T09:00:00+03:00</xdms:time>
        <xdms:executor><xdms:person>Сидоров И. И.</xdms:person><xdms:post>консультант</xdms:post></xdms:executor>
        <xdms:controller><xdms:person>Петрова А. А.</xdms:person></xdms:controller>
        <xdms:deadline>2026-04-30</xdms:deadline></xdms:executorAssigned>"#,
    );
    let m = decode(xml.into_bytes()).unwrap();
    assert_eq!(meta(&m, "edms.event"), Some("assignment"));
    assert_eq!(meta(&m, "edms.executor"), Some("Сидоров И. И."));
    assert_eq!(meta(&m, "edms.controller"), Some("Петрова А. А."));
    assert_eq!(meta(&m, "edms.deadline"), Some("2026-04-30"));
}

#[test]
fn declared_windows_1251_written_in_utf8_is_read_with_a_warning() {
    let xml = notification(
        "Зарегистрирован",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        "<xdms:documentAccepted><xdms:num><xdms:number>12/ВХ</xdms:number><xdms:date>2026-03-30</xdms:date></xdms:num></xdms:documentAccepted>",
    )
    .replace("encoding=\"utf-8\"", "encoding=\"windows-1251\"");
    let (result, host) = MockHost::new().run_and_keep(|| {
        okno_plugin_edms::EdmsConnector::decode(Inbound::from_bytes(xml.into_bytes()))
    });
    let m = result.unwrap().remove(0);
    assert_eq!(meta(&m, "edms.reg-number"), Some("12/ВХ"));
    assert!(meta(&m, "edms.charset-mismatch")
        .unwrap()
        .contains("windows-1251"));
    assert!(host.logs.iter().any(
        |(level, line)| matches!(level, okno_sdk::log::Level::Warn) && line.contains("charset")
    ));
}

#[test]
fn the_same_in_windows_1251_as_declared() {
    let xml = notification(
        "Зарегистрирован",
        "e175cfcf-8ba9-6f4a-88df-eab5f390c0f2",
        "<xdms:documentAccepted><xdms:num><xdms:number>12/ВХ</xdms:number></xdms:num></xdms:documentAccepted>",
    )
    .replace("encoding=\"utf-8\"", "encoding=\"windows-1251\"");
    let bytes = encoding_rs::WINDOWS_1251.encode(&xml).0.into_owned();
    let m = decode(bytes).unwrap();
    assert_eq!(meta(&m, "edms.reg-number"), Some("12/ВХ"));
    assert_eq!(meta(&m, "edms.charset-mismatch"), None);
}
