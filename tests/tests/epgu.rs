//! EPGU through SMEV 3, end to end: the epgu plugin built for wasm32-wasip2, on the
//! committed samples through `okno plugin run`, polling the SMEV 3 adapter simulator
//! over real HTTP, and inside the hub from ingest to SendResponse.

use std::path::Path;
use std::time::Duration;

use okno_hub::cli::serve;
use okno_hub::runtime::{Limits, Runtime, RuntimeOptions};
use okno_simulators::smev::{self, Fault, SmevOptions};
use okno_tests::hub_config::{http_source, hub_table, plugin_entry};
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);
const LICENCE: &str = "tests/data/smev/own_scrap_licence_request_1.3.xml";
const LICENCE_ID: &str = "1c16b6d2-0b1a-11ef-9876-0242ac120002";

/// `okno plugin run` on one file; (exit ok, stdout, stderr).
fn plugin_run(input: &str, extra: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(plugin("epgu"))
        .arg("--input")
        .arg(workspace().join(input))
        .args(extra)
        .output()
        .expect("okno plugin run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plugin_run_decodes_real_samples_and_refuses_hostile_ones() {
    let (ok, out, err) = plugin_run(
        "tests/data/smev/smevclient_get_request_response_incoming.xml",
        &[],
    );
    assert!(ok, "{err}");
    let messages: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        messages[0]["idempotency_key"],
        "047b500c-04a4-11eb-af32-fa163eff7bf8"
    );
    assert_eq!(messages[0]["channel"], "epgu");

    let (ok, out, err) = plugin_run(LICENCE, &[]);
    assert!(ok, "{err}");
    assert!(
        out.contains("7707083893") && out.contains("scrap-metal-licence"),
        "{out}"
    );

    let (ok, out, err) = plugin_run(
        "tests/data/smev/own_scrap_licence_request_1.3.mtom",
        &[
            "--content-type",
            "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("scheme.pdf") && out.contains("sha256:"),
        "{out}"
    );

    let (ok, out, _) = plugin_run("tests/data/smev/smevka_empty_get_response.xml", &[]);
    assert!(ok);
    assert_eq!(out.trim(), "[]");

    for (file, says) in [
        ("hostile_entity_bomb.xml", "DOCTYPE"),
        ("hostile_external_entity.xml", "DOCTYPE"),
        ("hostile_undeclared_entity.xml", "&xxe;"),
        ("hostile_truncated.xml", "truncated"),
        ("hostile_wrong_namespace.xml", "wrong namespace"),
        ("hostile_attachment_50gb.xml", "53687091200"),
        (
            "own_fault_signature_verification.xml",
            "SignatureVerificationFault",
        ),
        ("own_get_response_rejected.xml", "SMEV-300005"),
    ] {
        let (ok, _, err) = plugin_run(&format!("tests/data/smev/{file}"), &[]);
        assert!(!ok, "{file} must be refused");
        assert!(err.contains(says), "{file}: {err}");
    }
}

fn runtime() -> std::sync::Arc<Runtime> {
    Runtime::new(RuntimeOptions::default()).expect("engine")
}

async fn simulator() -> smev::SmevHandle {
    smev::start(SmevOptions {
        redeliver_after: Duration::from_millis(300),
        ..SmevOptions::default()
    })
    .await
    .expect("the SMEV simulator starts")
}

fn load_poller(rt: &Runtime, sim: &smev::SmevHandle) -> okno_hub::runtime::Plugin {
    okno_hub::cli::plugin::load_local(
        rt,
        &plugin("epgu"),
        vec![("adapter-url".into(), sim.url())],
        vec![sim.addr.to_string()],
        Limits::default(),
    )
    .expect("the epgu plugin loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_the_adapter_gets_acks_and_redelivers() {
    let sim = simulator().await;
    let rt = runtime();
    let epgu = load_poller(&rt, &sim);

    // Empty queue: empty batch.
    let batch = epgu.poll().await.expect("poll");
    assert!(batch.messages.is_empty() && batch.ack.is_none());

    let id = sim
        .enqueue_file(&workspace().join(LICENCE))
        .expect("queued");
    assert_eq!(id, LICENCE_ID);
    let batch = epgu.poll().await.expect("poll");
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(batch.ack.as_deref(), Some(LICENCE_ID));
    // Handed out, not acknowledged: not handed out twice at once...
    assert!(epgu.poll().await.unwrap().messages.is_empty());
    // ...but again once SMEV gives up waiting for the Ack, as after a crash.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = epgu.poll().await.unwrap();
    assert_eq!(again.ack.as_deref(), Some(LICENCE_ID));

    epgu.ack(LICENCE_ID).await.expect("ack");
    assert_eq!(sim.acks(), vec![(LICENCE_ID.to_string(), true)]);
    assert!(sim.queued().is_empty());
    // Acknowledging again: SMEV no longer holds it, which is what an Ack wants.
    epgu.ack(LICENCE_ID)
        .await
        .expect("a second ack is harmless");

    // A fault on demand reaches the hub as an error with SMEV's code.
    sim.fail_next(Fault::new(
        "SignatureVerificationFault",
        "подпись ИС не прошла проверку",
    ));
    let err = epgu.poll().await.expect_err("the fault");
    let err = format!("{err:#}");
    assert!(err.contains("SignatureVerificationFault"), "{err}");
    assert_eq!(
        sim.calls(),
        [
            "GetRequest",
            "GetRequest",
            "GetRequest",
            "GetRequest",
            "Ack",
            "Ack",
            "GetRequest"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_request_is_refused_to_smev() {
    let sim = simulator().await;
    let rt = runtime();
    let epgu = load_poller(&rt, &sim);
    let id = sim
        .enqueue_file(&workspace().join("tests/data/smev/hostile_attachment_50gb.xml"))
        .unwrap();
    let err = format!("{:#}", epgu.poll().await.expect_err("refused"));
    assert!(err.contains("53687091200") && err.contains(&id), "{err}");
    assert_eq!(
        sim.acks(),
        vec![(id, false)],
        "refused to SMEV, not retried forever"
    );
}

/// A hub with the epgu source (HTTP, as an adapter that pushes would use it) and a sink
/// that answers through the simulator.
fn write_hub_config(dir: &Path, listen: &str, sim: &smev::SmevHandle) -> std::path::PathBuf {
    let mut text = hub_table(dir, listen, "workers = 2");
    let mut add = |name: &str, kind: &str, settings: &str| {
        text.push_str(&plugin_entry(name, kind, &plugin(name), settings));
    };
    add(
        "epgu",
        "poller",
        "[plugins.settings]\nmnemonic = \"MINPROM01\"\nstatus-code = \"2\"",
    );
    add("topics", "classifier", "cpu_ms = 500");
    add("pii", "classifier", "");
    add("priority", "policy", "");
    text.push_str(&http_source("epgu", "epgu"));
    text.push_str("[pipeline]\nclassifiers = [\"pii\", \"topics\"]\npolicy = \"priority\"\n\n");
    text.push_str(&format!(
        "[[sinks]]\nname = \"smev\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"epgu\"\nmax_attempts = 5\nbackoff_ms = 50\nmax_backoff_ms = 200\ntimeout_ms = 5000\n\n[[routes]]\nname = \"epgu-status\"\nmatch = {{ channel = [\"epgu\"] }}\nsinks = [\"smev\"]\n",
        sim.url()
    ));
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_application_is_journaled_and_its_status_goes_back_through_smev() {
    let sim = simulator().await;
    let id = sim.enqueue_file(&workspace().join(LICENCE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_hub_config(dir.path(), &listen, &sim);
    let store = okno_hub::auth::TokenStore::open(&dir.path().join("data"));
    let (source_token, _) = store
        .create(
            "smev-adapter",
            okno_hub::auth::Role::Source,
            Some("epgu"),
            None,
        )
        .unwrap();
    let (operator, _) = store
        .create("operator", okno_hub::auth::Role::Operator, None, None)
        .unwrap();
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");

    // What the adapter hands out for GetRequest, pushed to the hub's epgu source.
    let client = reqwest::Client::new();
    let envelope = client
        .post(sim.url())
        .header("content-type", "text/xml")
        .body(okno_plugin_epgu_get_request())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let post = || {
        client
            .post(format!("http://{addr}/v1/sources/epgu/messages"))
            .header("authorization", format!("Bearer {source_token}"))
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope.clone())
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let body: serde_json::Value = first.json().await.unwrap();
    let hub_id = body["ids"][0].as_str().unwrap().to_string();
    // The same MessageID again is the same message.
    let second = post().await.unwrap();
    assert_eq!(second.status().as_u16(), 200);
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body["ids"][0], hub_id.as_str());

    let record: serde_json::Value = client
        .get(format!("http://{addr}/v1/messages/{hub_id}"))
        .header("authorization", format!("Bearer {operator}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["message"]["idempotency_key"], id.as_str());
    assert_eq!(record["message"]["client"]["kind"], "business");

    // Journaled: acknowledge it to SMEV, as the poll transport does after the journal.
    let rt = runtime();
    load_poller(&rt, &sim).ack(&id).await.expect("ack");
    assert!(sim.queued().is_empty());

    // The status goes back to the request's ReplyTo.
    eventually("a SendResponse in the simulator", LIMIT, || {
        !sim.responses().is_empty()
    })
    .await;
    let responses = sim.responses();
    assert_eq!(responses.len(), 1, "one status, however often delivered");
    let response = &responses[0];
    assert_eq!(response.answers.as_deref(), Some(id.as_str()));
    assert_eq!(response.kind, "status");
    assert_eq!(response.status_code.as_deref(), Some("2"));
    assert!(
        response
            .status_description
            .as_deref()
            .is_some_and(|d| d.contains(&hub_id)),
        "{response:?}"
    );
}

/// A GetRequestRequest as the adapter receives it (any message type).
fn okno_plugin_epgu_get_request() -> String {
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><tns:GetRequestRequest xmlns:tns=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3\" xmlns:basic=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3\"><basic:MessageTypeSelector Id=\"SIGNED_BY_CALLER\"><basic:Timestamp>2026-11-27T07:16:00.000Z</basic:Timestamp></basic:MessageTypeSelector></tns:GetRequestRequest></soap:Body></soap:Envelope>".into()
}

/// The base64 text of each `<Content>` of an envelope, decoded: the files as SMEV sent
/// them, read here independently of the plugin and the hub.
fn contents_in(envelope: &str) -> Vec<Vec<u8>> {
    envelope
        .split("<Content>")
        .skip(1)
        .filter_map(|rest| rest.split("</Content>").next())
        .filter(|text| !text.starts_with('<'))
        .map(|text| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
                .expect("the sample's content is base64")
        })
        .collect()
}

/// A copy of the licence application under another MessageID.
fn licence_as(id: &str, bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace(LICENCE_ID, id)
        .into_bytes()
}

/// A hub polling the simulator for applications, and writing each into the EDMS's inbox
/// as a МЭДО packet with its files (`attachments = true`); blobs up to 16 KiB.
fn write_polling_config(
    dir: &Path,
    listen: &str,
    sim: &smev::SmevHandle,
    edms_inbox: &Path,
) -> std::path::PathBuf {
    let mut text = hub_table(
        dir,
        listen,
        "workers = 2\n\n[hub.blobs]\nmax_blob_bytes = 16384",
    );
    let mut add = |name: &str, kind: &str, settings: &str| {
        text.push_str(&plugin_entry(name, kind, &plugin(name), settings));
    };
    add(
        "epgu",
        "poller",
        &format!(
            "http_allow = [\"{}\"]\nhttp_allow_addresses = [\"127.0.0.1\"]\n[plugins.settings]\nadapter-url = \"{}\"\nmnemonic = \"MINPROM01\"",
            sim.addr,
            sim.url()
        ),
    );
    add(
        "edms",
        "connector",
        "[plugins.settings]\norganization = \"Министерство промышленности и науки\"\nsource-uid = \"0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b\"\naddressee = \"Министерство промышленности и науки (СЭД)\"\nmedo-address = \"MINPROM~MEDOGU\"",
    );
    add("priority", "policy", "");
    text.push_str("[[sources]]\nname = \"epgu\"\ntransport = \"poll\"\nconnector = \"epgu\"\n[sources.poll]\ninterval_ms = 100\nbackoff_ms = 100\nmax_backoff_ms = 400\n\n");
    text.push_str("[pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n");
    text.push_str(&format!(
        "[[sinks]]\nname = \"edms\"\ntransport = \"dir\"\nconnector = \"edms\"\nattachments = true\nmax_attempts = 2\nbackoff_ms = 50\n[sinks.dir]\npath = \"{}\"\n\n[[routes]]\nname = \"applications-to-edms\"\nmatch = {{ channel = [\"epgu\"] }}\nsinks = [\"edms\"]\n",
        edms_inbox.display()
    ));
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn record_by_key(hub: &okno_hub::pipeline::Hub, key: &str) -> Option<okno_hub::store::Record> {
    hub.store
        .scan_messages(None)
        .filter_map(Result::ok)
        .find(|r| r.message.idempotency_key.as_deref() == Some(key))
}

fn sha256_hex(bytes: &[u8]) -> String {
    okno_hub::store::blobs::sha256_hex(bytes)
}

/// The files of the МЭДО packets the EDMS processed, by name in the packet.
fn files_in_processed(inbox: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read as _;
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(inbox.join("processed")) else {
        return files;
    };
    for entry in entries {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip packet");
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            let name = file.name().map(|n| n.into_owned()).unwrap_or_default();
            files.push((name, content));
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_attachments_reach_the_edms_packet_and_hostile_ones_do_not_stop_the_poll() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let (inbox, outbox) = (dir.path().join("edms-in"), dir.path().join("edms-out"));
    let edms = okno_simulators::edms::start(
        inbox.clone(),
        outbox,
        okno_simulators::edms::EdmsOptions::default(),
    )
    .await
    .unwrap();

    // Refused by the plugin before anything is kept (an attachment claiming 50 GB, a
    // Content that is not base64): SMEV is told (Ack accepted="false"), the hub polls on.
    let claim = sim
        .enqueue_file(&workspace().join("tests/data/smev/hostile_attachment_50gb.xml"))
        .unwrap();
    let licence = std::fs::read(workspace().join(LICENCE)).unwrap();
    let bad_id = "1c16b6d2-0b1a-11ef-9876-0242ac1200b1";
    let bad = String::from_utf8_lossy(&licence_as(bad_id, &licence)).replace(
        "<Content>JVBERi0xLjQKJSBsZWFzZSBh",
        "<Content>!!not base64!!JVBERi0xLjQKJSBsZWFzZSBh",
    );
    sim.enqueue(bad.into_bytes(), "text/xml; charset=utf-8")
        .unwrap();
    // The application with its two files in base64, and the same as MTOM (one file a
    // binary part) under another MessageID.
    sim.enqueue(licence.clone(), "text/xml; charset=utf-8")
        .unwrap();
    let mtom_id = "1c16b6d2-0b1a-11ef-9876-0242ac1200a2";
    let mtom_path = workspace().join("tests/data/smev/own_scrap_licence_request_1.3.mtom");
    let mtom = licence_as(mtom_id, &std::fs::read(&mtom_path).unwrap());
    let mtom_type = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";
    sim.enqueue(mtom.clone(), mtom_type).unwrap();
    // Over the hub's max_blob_bytes (16 KiB): journaled without that file.
    let big_id = "1c16b6d2-0b1a-11ef-9876-0242ac1200c3";
    let big_file: Vec<u8> = (0..17_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big = String::from_utf8_lossy(&licence_as(big_id, &licence)).replace(
        "JVBERi0xLjQKJSBsZWFzZSBhZ3JlZW1lbnQgMTcvMjQgKHNhbXBsZSkKJSVFT0YK",
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &big_file),
    );
    sim.enqueue(big.into_bytes(), "text/xml; charset=utf-8")
        .unwrap();

    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_polling_config(dir.path(), &listen, &sim, &inbox);
    let (hub, _addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");

    eventually("every request acknowledged or refused", LIMIT, || {
        sim.acks().len() == 5
    })
    .await;
    let acks = sim.acks();
    for (id, accepted) in [
        (claim.as_str(), false),
        (bad_id, false),
        (LICENCE_ID, true),
        (mtom_id, true),
        (big_id, true),
    ] {
        assert!(acks.contains(&(id.to_string(), accepted)), "{id}: {acks:?}");
    }
    assert!(record_by_key(&hub, &claim).is_none());
    assert!(record_by_key(&hub, bad_id).is_none());

    // Kept: both files of the base64 application, and the envelope as the raw inbound.
    let files = contents_in(&String::from_utf8_lossy(&licence));
    assert_eq!(files.len(), 2);
    let record = record_by_key(&hub, LICENCE_ID).expect("the application is journaled");
    let names: Vec<&str> = record
        .message
        .attachments
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["scheme.pdf", "lease.pdf"]);
    for (attachment, file) in record.message.attachments.iter().zip(&files) {
        assert_eq!(attachment.sha256, sha256_hex(file));
        let kept = hub.store.blobs.get(&attachment.sha256).unwrap();
        assert_eq!(
            kept.as_deref(),
            Some(file.as_slice()),
            "{}",
            attachment.name
        );
    }
    let raw = record
        .message
        .metadata_value("okno.raw-sha256")
        .expect("the raw envelope is kept");
    let raw = hub.store.blobs.get(raw).unwrap().expect("raw in the store");
    assert!(String::from_utf8_lossy(&raw).contains(LICENCE_ID));

    // The MTOM one: its binary part kept too.
    let record = record_by_key(&hub, mtom_id).expect("the MTOM application is journaled");
    let scheme = &record.message.attachments[0];
    let entity = [
        format!("Content-Type: {mtom_type}\r\n\r\n").as_bytes(),
        &mtom,
    ]
    .concat();
    let part = mail_parser::MessageParser::default()
        .parse(&entity)
        .unwrap();
    let binary = part
        .parts
        .iter()
        .find(|p| {
            mail_parser::MimeHeaders::content_id(*p).is_some_and(|c| c.starts_with("scheme-7f3a"))
        })
        .expect("the sample's binary part")
        .contents()
        .to_vec();
    assert_eq!(scheme.sha256, sha256_hex(&binary));
    assert_eq!(
        hub.store.blobs.get(&scheme.sha256).unwrap().as_deref(),
        Some(binary.as_slice())
    );

    // Onward: the packets the EDMS registered hold the files byte for byte.
    eventually("the EDMS registers two applications", LIMIT, || {
        edms.registered().len() == 2
    })
    .await;
    assert_eq!(edms.errors(), Vec::<String>::new());
    for doc in edms.registered() {
        assert!(doc.reg_number.is_some(), "{doc:?}");
        assert!(
            doc.files.iter().any(|f| f == "scheme.pdf")
                && doc.files.iter().any(|f| f == "lease.pdf"),
            "{doc:?}"
        );
    }
    let packets = files_in_processed(&inbox);
    for (name, expected) in [
        ("scheme.pdf", &binary),
        ("scheme.pdf", &files[0]),
        ("lease.pdf", &files[1]),
    ] {
        assert!(
            packets
                .iter()
                .any(|(n, content)| n == name && sha256_hex(content) == sha256_hex(expected)),
            "{name} with sha256 {} in a packet",
            sha256_hex(expected)
        );
    }

    // The file over the limit: the application is journaled, its trace says which file
    // was not kept and why, and the EDMS delivery fails for good naming it.
    let record = record_by_key(&hub, big_id).expect("journaled without the big file");
    let lease = &record.message.attachments[1];
    assert_eq!(lease.sha256, sha256_hex(&big_file));
    assert_eq!(hub.store.blobs.get(&lease.sha256).unwrap(), None);
    let poll = record
        .trace
        .iter()
        .find(|t| t.stage == "poll")
        .expect("a poll entry");
    assert!(
        poll.reasons.iter().any(|r| r.contains("\"lease.pdf\"")
            && r.contains("not kept")
            && r.contains("17000 bytes is over the limit")),
        "{:?}",
        poll.reasons
    );
    let id = record.message.id.clone();
    eventually("the delivery of the big one dead-lettered", LIMIT, || {
        hub.store.get(&id).unwrap().is_some_and(|r| {
            r.deliveries
                .get("edms")
                .is_some_and(|d| d.state == okno_hub::store::DeliveryState::Dead)
        })
    })
    .await;
    let record = hub.store.get(&id).unwrap().unwrap();
    let error = record.deliveries["edms"]
        .last_error
        .clone()
        .unwrap_or_default();
    assert!(
        error.contains("lease.pdf") && error.contains("not in the blob store"),
        "{error}"
    );
}

/// SMEV 3 carries files of up to 5 MB inline: such an envelope is over the default 1 MiB
/// a plugin's HTTP answer may be, and the poll fails saying which setting to raise; with
/// `http_max_response_bytes` raised, the file comes through whole, and the answer is
/// recorded for the blob store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_file_of_megabytes_needs_the_answer_bound_raised() {
    let sim = simulator().await;
    let rt = runtime();
    let id = "1c16b6d2-0b1a-11ef-9876-0242ac1200d4";
    let file: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let licence = std::fs::read(workspace().join(LICENCE)).unwrap();
    let envelope = String::from_utf8_lossy(&licence_as(id, &licence)).replace(
        "JVBERi0xLjQKJSBsZWFzZSBhZ3JlZW1lbnQgMTcvMjQgKHNhbXBsZSkKJSVFT0YK",
        &base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &file),
    );
    assert!(envelope.len() > 4_000_000);
    sim.enqueue(envelope.into_bytes(), "text/xml; charset=utf-8")
        .unwrap();

    let load = |bound: Option<u64>| {
        okno_hub::cli::plugin::load_local_with(
            &rt,
            &plugin("epgu"),
            vec![("adapter-url".into(), sim.url())],
            okno_hub::cli::plugin::LocalGrants {
                http_allow: vec![sim.addr.to_string()],
                http_max_response_bytes: bound,
                ..Default::default()
            },
            Limits::default(),
        )
        .expect("the epgu plugin loads")
    };

    let err = load(None).poll().await.expect_err("over 1 MiB");
    let err = format!("{err:#}");
    assert!(
        err.contains("over this plugin's limit of 1048576 bytes")
            && err.contains("http_max_response_bytes"),
        "{err}"
    );

    // Handed out once already: SMEV redelivers it once it gives up waiting for the Ack.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let epgu = load(Some(8 << 20));
    let batch = epgu.poll_recording(16 << 20).await.expect("poll");
    assert_eq!(batch.ack.as_deref(), Some(id));
    let message = &batch.messages[0];
    let lease = message
        .attachments
        .iter()
        .find(|a| a.name == "lease.pdf")
        .expect("the large file is named");
    assert_eq!(lease.sha256, sha256_hex(&file));
    assert_eq!(lease.size, file.len() as u64);
    assert_eq!(batch.responses.len(), 1);
    assert!(batch.responses[0].body.len() > 4_000_000);
}
