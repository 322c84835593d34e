//! EPGU through SMEV 3, end to end: the epgu plugin built for wasm32-wasip2, on the
//! committed samples through `okno plugin run`, polling the SMEV 3 adapter simulator
//! over real HTTP, and inside the hub from ingest to SendResponse.

use std::path::Path;
use std::time::Duration;

use okno_hub::cli::serve;
use okno_hub::runtime::{Limits, Runtime, RuntimeOptions};
use okno_simulators::smev::{self, Fault, SmevOptions};
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
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n",
        dir.join("data").display()
    );
    let mut add = |name: &str, file: &str, kind: &str, settings: &str| {
        let path = plugin(file);
        text.push_str(&format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n{settings}\n\n",
            path.display(),
            sha256_of(&path)
        ));
    };
    add(
        "epgu",
        "epgu",
        "poller",
        "[plugins.settings]\nmnemonic = \"MINPROM01\"\nstatus-code = \"2\"",
    );
    add("topics", "topics", "classifier", "cpu_ms = 500");
    add("pii", "pii", "classifier", "");
    add("priority", "priority", "policy", "");
    text.push_str("[[sources]]\nname = \"epgu\"\ntransport = \"http\"\nconnector = \"epgu\"\n\n");
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
