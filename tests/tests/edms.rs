//! The `edms` connector over МЭДО: the real samples and hostile ones through `okno plugin
//! run` (the WASM build, in the sandbox), and end to end: an appeal by e-mail through the
//! hub into the simulated EDMS as a МЭДО packet, and the EDMS's receipt, registration,
//! assignment and report events back through the hub's `edms` source, each carrying its
//! registration number and pointing at the appeal it is about.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use okno_hub::cli::serve;
use okno_tests::connector_hub::post_source;
use okno_tests::hub_config::{http_sink, http_source, hub_table, plugin_entry, source_token};
use okno_tests::simulators::{assigning_edms, edms_behind_gateway, EDMS_CONNECTOR_SETTINGS};
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

/// The plugins these tests run, built for wasm32-wasip2 once per test binary: only these,
/// so that a plugin elsewhere in the tree that does not build cannot stop them.
fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin("edms", &["edms", "mail", "http-json", "priority"], name)
}

fn medo(name: &str) -> PathBuf {
    workspace().join("tests/data/medo").join(name)
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The real 2.7 packet as a gateway's folder, zipped: the real envelope.ltr, document.xml
/// and passport.xml, with stand-ins for its PDF, signature and stamps (not published).
fn real_packet() -> Vec<u8> {
    let files: Vec<(String, Vec<u8>)> = real_packet_files()
        .into_iter()
        .map(|(name, bytes)| (format!("38773995_1/{name}"), bytes))
        .collect();
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip(&entries)
}

/// `okno plugin run` on the WASM build of the connector: (exit ok, stdout, stderr).
fn plugin_run(input: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(built("edms"))
        .arg("--input")
        .arg(input)
        .args(args)
        .output()
        .expect("running okno plugin run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn metadata(message: &serde_json::Value, key: &str) -> Option<String> {
    message["metadata"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)
        .and_then(|pair| pair[1].as_str().map(str::to_string))
}

#[test]
fn plugin_run_reads_the_real_samples() {
    let dir = tempfile::tempdir().unwrap();
    let run = |path: &Path, args: &[&str]| -> serde_json::Value {
        let (ok, stdout, stderr) = plugin_run(path, args);
        assert!(ok, "{}: {stderr}", path.display());
        let messages: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        messages[0].clone()
    };

    let ack = run(&medo("medo20_acknowledgment_fso.xml"), &[]);
    assert_eq!(ack["channel"], "edms");
    assert_eq!(
        metadata(&ack, "edms.event").as_deref(),
        Some("acknowledged")
    );
    assert_eq!(
        ack["thread"]["in_reply_to"],
        "9ce238f7-18ab-48bd-9c87-2fe8abb5fede"
    );

    let passport = run(
        &medo("medo27_container_passport_minvostokrazvitiya.xml"),
        &[],
    );
    assert_eq!(
        metadata(&passport, "edms.doc-number").as_deref(),
        Some("ПВ-00-14/11756")
    );
    assert_eq!(
        metadata(&passport, "edms.doc-date").as_deref(),
        Some("2022-08-16")
    );

    let transport = run(
        &medo("medo27_document_transport_minvostokrazvitiya.xml"),
        &[],
    );
    assert_eq!(
        metadata(&transport, "edms.container").as_deref(),
        Some("document.edc.zip")
    );

    let packet = dir.path().join("38773995_1.zip");
    std::fs::write(&packet, real_packet()).unwrap();
    let whole = run(&packet, &["--content-type", "application/zip"]);
    assert_eq!(
        metadata(&whole, "edms.doc-number").as_deref(),
        Some("ПВ-00-14/11756")
    );
    assert_eq!(
        metadata(&whole, "edms.envelope-subject").as_deref(),
        Some("№ ПВ-00-14/11756 от 16/08/2022 Исходящий")
    );
    assert_eq!(whole["attachments"][0]["name"], "874070.pdf");
    assert_eq!(whole["attachments"][0]["media_type"], "application/pdf");
}

#[test]
fn plugin_run_refuses_hostile_samples_naming_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let read = |n: &str| std::fs::read(medo(n)).unwrap();
    let transport = read("medo27_document_transport_minvostokrazvitiya.xml");
    let envelope = read("medo_envelope_cp1251_minvostokrazvitiya.ltr");
    let koi8 = encoding_rs::KOI8_R
        .encode(&encoding_rs::WINDOWS_1251.decode(&envelope).0)
        .0
        .into_owned();
    let mut truncated = read("medo27_container_passport_minvostokrazvitiya.xml");
    truncated.truncate(900);
    let mut claims_gigabytes = zip(&[("document.xml", &read("medo20_acknowledgment_fso.xml"))]);
    let central = claims_gigabytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .unwrap();
    claims_gigabytes[22..26].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    claims_gigabytes[central + 24..central + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bomb.xml",
            br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol1;</lolz>"#
                .to_vec(),
            "a DOCTYPE declaration is refused",
        ),
        (
            "xxe.xml",
            b"<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><c>&x;</c>".to_vec(),
            "a DOCTYPE declaration is refused",
        ),
        ("truncated.xml", truncated, "truncated"),
        (
            "namespace.xml",
            String::from_utf8(read("medo20_acknowledgment_fso.xml"))
                .unwrap()
                .replace("http://www.infpres.com/IEDMS", "urn:not-medo")
                .into_bytes(),
            "namespace `urn:not-medo`",
        ),
        (
            "no-container.zip",
            zip(&[("envelope.ltr", &envelope), ("document.xml", &transport)]),
            "missing its document",
        ),
        (
            "koi8.zip",
            zip(&[("envelope.ltr", &koi8), ("document.xml", &transport)]),
            "envelope.ltr is in an unknown charset",
        ),
        (
            "claims-4gb.zip",
            claims_gigabytes,
            "declares 4294967280 bytes",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (ok, stdout, stderr) = plugin_run(&path, &[]);
        assert!(!ok, "{name} was accepted: {stdout}");
        assert!(
            stderr.contains(expected),
            "{name}: expected «{expected}» in: {stderr}"
        );
        assert!(
            stderr.contains("invalid") || stderr.contains("Invalid"),
            "{name}: {stderr}"
        );
    }
}

async fn post_packet(hub: &str, token: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    post_source(hub, "edms", token, "application/zip", bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appeal_goes_to_the_edms_and_its_registration_number_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let edms = edms_behind_gateway(dir.path(), assigning_edms()).await;
    let simulator = &edms.simulator;
    let registry_port = free_port();
    let registry = Sink::start(registry_port).await;
    // The citizen's reply, held until the EDMS's number is there to quote.
    let replies_port = free_port();
    let replies = Sink::start(replies_port).await;

    let listen = format!("127.0.0.1:{}", free_port());
    let entry =
        |name: &str, kind: &str, settings: &str| plugin_entry(name, kind, &built(name), settings);
    let text = [
        hub_table(dir.path(), &listen, "workers = 2"),
        entry(
            "mail",
            "connector",
            "[plugins.settings]\nfrom = \"priemnaya@minprom.example.ru\"",
        ),
        entry("http-json", "connector", ""),
        entry("priority", "policy", ""),
        entry("edms", "connector", EDMS_CONNECTOR_SETTINGS),
        http_source("mail", "mail"),
        http_source("edms", "edms"),
        "[pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n".into(),
        http_sink("edms-out", &edms.gateway_url, "edms"),
        format!(
            "[[sinks]]\nname = \"reply\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"mail\"\nhold_for_registration_ms = 60000\n\n",
            Sink::url(replies_port, "reply")
        ),
        http_sink("registry", &Sink::url(registry_port, "registry"), "http-json"),
        "[[routes]]\nname = \"appeals-to-edms\"\nmatch = { channel = [\"mail\"] }\nsinks = [\"edms-out\", \"reply\"]\n\n\
         [[routes]]\nname = \"edms-events\"\nmatch = { channel = [\"edms\"] }\nsinks = [\"registry\"]\n"
            .into(),
    ]
    .concat();
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&dir.path().join("data"), &listen);
    let token = source_token(&dir.path().join("data"), "medo-gateway", "edms");
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let addr = addr.to_string();

    // A citizen's appeal by e-mail: routed to the EDMS as a МЭДО packet.
    let (status, body) = post_mail(
        &addr,
        mail(
            "edms-appeal@example.ru",
            "Лицензия на заготовку лома",
            "Прошу разъяснить, какие документы нужны для лицензии на заготовку и переработку лома чёрных металлов.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let appeal = body["ids"][0].as_str().unwrap().to_string();

    // The EDMS registers it and answers: receipt, «Зарегистрирован», «Назначен исполнитель».
    eventually("the EDMS answers the packet", LIMIT, || {
        simulator.written().len() >= 3
    })
    .await;
    assert_eq!(simulator.errors(), Vec::<String>::new());
    let registered = simulator.registered();
    assert_eq!(registered.len(), 1);
    let card = &registered[0];
    assert_eq!(
        card.doc_number, appeal,
        "the hub's id is the sender's number"
    );
    assert_eq!(card.kind, "Обращение гражданина");
    assert!(
        card.annotation.contains("Лицензия на заготовку лома"),
        "{}",
        card.annotation
    );
    assert_eq!(card.files, ["appeal.txt"]);
    let reg_number = card.reg_number.clone().expect("registered");
    assert_eq!(
        okno_plugin_edms_uid_of(&card.doc_uid).as_deref(),
        Some(appeal.as_str())
    );

    assert!(
        replies.keys().is_empty(),
        "the reply waits for the registration number"
    );

    // The answers come back through the hub's edms source.
    let mut back = Vec::new();
    for packet in simulator.written() {
        let (status, body) = post_packet(&addr, &token, std::fs::read(&packet).unwrap()).await;
        assert_eq!(status, 202, "{}: {body}", packet.display());
        back.push(body["ids"][0].as_str().unwrap().to_string());
    }
    let message = |id: &str| {
        hub.store
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("message {id} is stored"))
            .message
    };
    let meta = |m: &okno_hub::model::Message, key: &str| {
        m.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let receipt = message(&back[0]);
    assert_eq!(
        meta(&receipt, "edms.event").as_deref(),
        Some("acknowledged")
    );
    let registration = message(&back[1]);
    assert_eq!(
        meta(&registration, "edms.event").as_deref(),
        Some("registered")
    );
    assert_eq!(
        meta(&registration, "edms.reg-number"),
        Some(reg_number.clone())
    );
    assert_eq!(
        meta(&registration, "edms.ref-message"),
        Some(appeal.clone())
    );
    assert_eq!(
        registration.thread.in_reply_to.as_deref(),
        Some(appeal.as_str())
    );

    // The number is carried onto the appeal's own record, shown by the API ...
    eventually("the registration number reaches the appeal", LIMIT, || {
        hub.store
            .get(&appeal)
            .unwrap()
            .and_then(|r| r.registration)
            .is_some()
    })
    .await;
    let (status, record) = get_json(&format!("http://{addr}/v1/messages/{appeal}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["registration"]["system"], "edms", "{record}");
    assert_eq!(record["registration"]["number"], reg_number.as_str());
    assert_eq!(record["registration"]["by_message"], back[1].as_str());
    let (status, watched) = get_json(&format!("http://{addr}/v1/appeals/{appeal}")).await;
    assert_eq!(status, 200, "{watched}");
    assert_eq!(watched["registration"]["number"], reg_number.as_str());
    // ... and the citizen's reply, held for it, quotes it rather than the hub's id.
    eventually("the reply goes out", LIMIT, || !replies.keys().is_empty()).await;
    let sent = replies.received.lock().unwrap()[0].1.clone();
    let parsed = mail_parser::MessageParser::default()
        .parse(sent.as_bytes())
        .expect("the reply is an e-mail");
    let subject = parsed.subject().unwrap_or_default().to_string();
    assert!(
        subject.contains(&format!("рег. № {reg_number}")),
        "{subject}"
    );
    assert!(!subject.contains(&appeal), "{subject}");
    assert_eq!(replies.keys().len(), 1);
    let assignment = message(&back[2]);
    assert_eq!(
        meta(&assignment, "edms.event").as_deref(),
        Some("assignment")
    );
    assert_eq!(
        meta(&assignment, "edms.executor").as_deref(),
        Some("Сидоров И. И.")
    );
    assert_eq!(
        meta(&assignment, "edms.controller").as_deref(),
        Some("Петрова А. А.")
    );
    assert_eq!(
        meta(&assignment, "edms.reg-number"),
        Some(reg_number.clone())
    );
    assert!(meta(&assignment, "edms.deadline").is_some());

    // The report cycle: submitted, rejected with a reason and a new deadline, accepted.
    let cycle = [
        simulator.submit_report(&reg_number).unwrap(),
        simulator
            .reject_report(&reg_number, "Нет ответа по существу", "2026-12-15")
            .unwrap(),
        simulator.submit_report(&reg_number).unwrap(),
        simulator.accept_report(&reg_number).unwrap(),
    ];
    let mut events = Vec::new();
    for packet in cycle {
        let (status, body) = post_packet(&addr, &token, std::fs::read(&packet).unwrap()).await;
        assert_eq!(status, 202, "{body}");
        events.push(message(body["ids"][0].as_str().unwrap()));
    }
    let names: Vec<String> = events
        .iter()
        .map(|m| meta(m, "edms.event").unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "report-submitted",
            "report-rejected",
            "report-submitted",
            "report-accepted"
        ]
    );
    assert_eq!(
        meta(&events[1], "edms.reason").as_deref(),
        Some("Нет ответа по существу")
    );
    assert_eq!(
        meta(&events[1], "edms.deadline").as_deref(),
        Some("2026-12-15")
    );
    assert_eq!(
        meta(&events[1], "edms.controller").as_deref(),
        Some("Петрова А. А.")
    );
    assert!(events
        .iter()
        .all(|m| m.thread.in_reply_to.as_deref() == Some(appeal.as_str())));

    // The same packet again is a repeat, not a second event.
    let first = simulator.written()[1].clone();
    let (status, body) = post_packet(&addr, &token, std::fs::read(&first).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"][0].as_str(), Some(back[1].as_str()));

    // A hostile packet is refused at the door, and nothing is stored.
    let (status, body) = post_packet(&addr, &token, b"PK\x03\x04broken".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(edms.delivered.lock().unwrap().len(), 1);
    eventually("the EDMS events reach their route", LIMIT, || {
        registry.keys().len() >= 7
    })
    .await;
}

fn okno_plugin_edms_uid_of(uid: &str) -> Option<String> {
    okno_plugin_edms::uid::message_of(uid)
}

/// The real 2.7 packet's files, as the gateway lays them out in a folder.
fn real_packet_files() -> Vec<(&'static str, Vec<u8>)> {
    let read = |n: &str| std::fs::read(medo(n)).unwrap();
    let container = zip(&[
        (
            "passport.xml",
            &read("medo27_container_passport_minvostokrazvitiya.xml"),
        ),
        ("874070.pdf", b"%PDF-1.4 stand-in\n%%EOF\n"),
        ("visa1.sig", b"stand-in signature"),
    ]);
    vec![
        (
            "envelope.ltr",
            read("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
        ),
        (
            "document.xml",
            read("medo27_document_transport_minvostokrazvitiya.xml"),
        ),
        ("document.edc.zip", container),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_delivered_as_a_folder_is_one_message_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("medo-in");
    std::fs::create_dir_all(&inbox).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    let text = format!(
        "{}{}{}\
         [[sources]]\nname = \"medo-in\"\ntransport = \"dir\"\nconnector = \"edms\"\n[sources.dir]\npath = \"{}\"\nscan_interval_ms = 100\n\n\
         [pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n\
         [[sinks]]\nname = \"registry\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"edms\"\nmax_attempts = 1\n\n\
         [[routes]]\nname = \"all\"\nsinks = [\"registry\"]\n",
        hub_table(dir.path(), &listen, "workers = 2"),
        plugin_entry("edms", "connector", &built("edms"), ""),
        plugin_entry("priority", "policy", &built("priority"), ""),
        inbox.display(),
    );
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&data, &listen);
    let (_hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let listed = || async {
        let (status, body) = get_json(&format!("http://{addr}/v1/messages?limit=100")).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    };

    // Built under a dot name, file by file, slower than a scan: never read half.
    let building = inbox.join(".38773995_1");
    std::fs::create_dir_all(&building).unwrap();
    for (name, bytes) in real_packet_files() {
        std::fs::write(building.join(name), bytes).unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(file_names(&inbox), [".38773995_1", "done", "failed"]);
    std::fs::rename(&building, inbox.join("38773995_1")).unwrap();
    eventually("the folder moves to done", LIMIT, || {
        file_names(&inbox.join("done")) == ["38773995_1"]
    })
    .await;
    assert_eq!(
        file_names(&inbox.join("done/38773995_1")),
        ["document.edc.zip", "document.xml", "envelope.ltr"],
        "moved whole"
    );
    let items = listed().await;
    assert_eq!(items.len(), 1, "one message for the folder: {items:?}");
    let (status, record) = get_json(&format!(
        "http://{addr}/v1/messages/{}",
        items[0]["id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(status, 200, "{record}");
    let message = &record["message"];
    assert_eq!(
        metadata(message, "edms.doc-number").as_deref(),
        Some("ПВ-00-14/11756")
    );
    assert_eq!(message["attachments"][0]["name"], "874070.pdf");

    // The same folder again is the same message (kept beside the first in done/).
    let again = inbox.join(".again");
    std::fs::create_dir_all(&again).unwrap();
    for (name, bytes) in real_packet_files() {
        std::fs::write(again.join(name), bytes).unwrap();
    }
    std::fs::rename(&again, inbox.join("38773995_1")).unwrap();
    eventually("the repeat moves to done", LIMIT, || {
        file_names(&inbox.join("done")) == ["38773995_1", "38773995_1.1"]
    })
    .await;
    assert_eq!(listed().await.len(), 1, "not journaled twice");

    // A packet missing its container goes to failed/ whole, with the reason.
    let broken = inbox.join(".broken");
    std::fs::create_dir_all(&broken).unwrap();
    for (name, bytes) in real_packet_files()
        .into_iter()
        .filter(|(n, _)| *n != "document.edc.zip")
    {
        std::fs::write(broken.join(name), bytes).unwrap();
    }
    std::fs::rename(&broken, inbox.join("broken_1")).unwrap();
    eventually("the broken folder moves to failed", LIMIT, || {
        file_names(&inbox.join("failed")) == ["broken_1", "broken_1.error"]
    })
    .await;
    let reason = std::fs::read_to_string(inbox.join("failed/broken_1.error")).unwrap();
    assert!(reason.contains("document.edc.zip"), "{reason}");
}
