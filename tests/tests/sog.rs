//! The SOG connector for real: the committed cards and hostile ones through `okno plugin
//! run`, and end to end through the hub into the SOG simulator and back: an e-mail appeal
//! registered in SOG comes back with SOG's number; a card registered in SOG reaches the
//! hub and goes back to SOG with the executor and deadline the hub decided.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use okno_hub::auth::{Role, TokenStore};
use okno_hub::cli::serve;
use okno_simulators::sog::{self, Push, SogOptions};
use okno_tests::feed_gate::{FeedGate, HubProcess};
use okno_tests::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(90);

/// The deployment's mapping, as `okno plugin run --config` and the hub config give it.
const SETTINGS: &[(&str, &str)] = &[
    ("department.ОЛ-2", "licensing"),
    ("department.ПРОМ-3", "industry"),
    ("status-name.in_work", "На исполнении"),
];

fn plugin_run(input: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_okno-under-test"));
    command
        .args(["plugin", "run"])
        .arg(plugin("sog"))
        .arg("--input")
        .arg(input);
    for (k, v) in SETTINGS {
        command.arg("--config").arg(format!("{k}={v}"));
    }
    command.args(extra);
    let out = command.output().expect("okno runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plugin_run_decodes_the_committed_cards() {
    let dir = workspace().join("tests/data/sog");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let (ok, stdout, stderr) = plugin_run(&path, &[]);
        assert!(ok, "{}: {stderr}", path.display());
        let messages: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(messages[0]["channel"], "sog", "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 4);
    let (_, stdout, _) = plugin_run(&dir.join("card-registered-licensing.json"), &[]);
    let message: Value = serde_json::from_str(&stdout).unwrap();
    let metadata = message[0]["metadata"].as_array().unwrap();
    let has = |k: &str, v: &str| metadata.iter().any(|p| p[0] == k && p[1] == v);
    assert!(has("sog.reg-number", "МПН-ОГ-2026/01234"), "{metadata:?}");
    assert!(has("sog.reg-date", "2026-11-27"), "{metadata:?}");
    assert!(has("sog.department", "licensing"), "{metadata:?}");
}

#[test]
fn plugin_run_refuses_hostile_cards_naming_the_field() {
    let dir = workspace().join("tests/data/sog/hostile");
    for (file, said) in [
        ("missing-summary.json", "$: missing field `summary`"),
        ("wrong-type-questions.json", "$.questions: invalid type"),
        ("unknown-status.json", "$.status: unknown variant `closed`"),
        ("unknown-field.json", "$.applicant.passport: unknown field"),
        ("unknown-topic-code.json", "$.questions[0].code:"),
        ("impossible-date.json", "$.registration.date:"),
    ] {
        let (ok, _, stderr) = plugin_run(&dir.join(file), &[]);
        assert!(!ok, "{file} was taken");
        assert!(stderr.contains("(invalid-input)"), "{file}: {stderr}");
        assert!(stderr.contains(said), "{file}: {stderr}");
    }
}

#[test]
fn plugin_run_refuses_a_50_mb_string_unread() {
    let dir = tempfile::tempdir().unwrap();
    let mut card: Value =
        serde_json::from_slice(&sample("tests/data/sog/card-registered-licensing.json")).unwrap();
    card["text"] = Value::String("а".repeat(25 * 1024 * 1024));
    let path = dir.path().join("huge.json");
    std::fs::write(&path, serde_json::to_vec(&card).unwrap()).unwrap();
    let (ok, _, stderr) = plugin_run(&path, &["--memory-mib", "128"]);
    assert!(!ok);
    assert!(
        stderr.contains("(invalid-input): $: the card is 524") && stderr.contains("max-card-bytes"),
        "{stderr}"
    );
}

/// The hub with the mail and SOG sources, topics and the priority policy, and SOG as a
/// sink: every appeal by e-mail goes to SOG for registration, every card from SOG goes
/// back to it with the hub's decision.
fn write_hub_config(dir: &Path, listen: &str, sog_url: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n",
        data.display()
    );
    let mut add = |name: &str, kind: &str, settings: &str| {
        let path = plugin(name);
        text.push_str(&format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\ncpu_ms = 500\n{settings}\n\n",
            path.display(),
            sha256_of(&path)
        ));
    };
    let sog_settings: String = SETTINGS
        .iter()
        .map(|(k, v)| format!("\"{k}\" = \"{v}\"\n"))
        .collect();
    add("mail", "connector", "");
    add(
        "sog",
        "connector",
        &format!(
            "[plugins.settings]\n{sog_settings}\"default-topic-code\" = \"0003.0009.0093.0630\"\n"
        ),
    );
    add("topics", "classifier", "");
    add(
        "priority",
        "policy",
        "[plugins.settings]\n\"responsible.default\" = \"industry\"\n\"responsible.0001.0002\" = \"licensing\"",
    );
    text.push_str("[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n");
    text.push_str("[[sources]]\nname = \"sog\"\ntransport = \"http\"\nconnector = \"sog\"\n\n");
    text.push_str("[pipeline]\nclassifiers = [\"topics\"]\npolicy = \"priority\"\n\n");
    text.push_str(&format!(
        "[[sinks]]\nname = \"sog\"\ntransport = \"http\"\nurl = \"{sog_url}\"\nconnector = \"sog\"\nmax_attempts = 3\nbackoff_ms = 50\nmax_backoff_ms = 200\n\n"
    ));
    text.push_str("[[routes]]\nname = \"to-sog\"\nsinks = [\"sog\"]\n");
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    issue_tokens(&data, listen);
    path
}

fn source_token(data: &Path, source: &str) -> String {
    TokenStore::open(data)
        .create(
            &format!("{source}-system"),
            Role::Source,
            Some(source),
            None,
        )
        .expect("a source token")
        .0
}

fn records(hub: &okno_hub::pipeline::Hub) -> Vec<okno_hub::store::Record> {
    hub.store
        .scan_messages(None)
        .filter_map(Result::ok)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_go_through_the_hub_into_sog_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    // SOG first, to know its address; it posts to the hub once the hub is up.
    let token_dir = dir.path().join("data");
    std::fs::create_dir_all(&token_dir).unwrap();
    // Tokens are issued before the hub starts, as `okno token create` would.
    let token = source_token(&token_dir, "sog");
    let sim = sog::start(SogOptions {
        push: Some(Push {
            url: format!("http://{listen}/v1/sources/sog/messages"),
            token: token.clone(),
        }),
        ..SogOptions::default()
    })
    .await
    .unwrap();
    let config = write_hub_config(dir.path(), &listen, &sim.cards_url());
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    let addr = addr.to_string();

    // 1. An appeal by e-mail is registered in SOG, and SOG's number comes back to it.
    let (status, body) = post_mail(
        &addr,
        mail(
            "sog-e2e-1@example.ru",
            "Лицензия на лом",
            "Прошу разъяснить порядок переоформления лицензии на заготовку лома чёрных металлов.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let mail_id = body["ids"][0].as_str().unwrap().to_string();
    eventually("SOG registers the e-mail appeal", LIMIT, || {
        sim.card_by_external_id(&mail_id).is_some()
    })
    .await;
    let registered = sim.card_by_external_id(&mail_id).unwrap();
    assert!(
        registered.reg_number.starts_with("МПН-ОГ-"),
        "{registered:?}"
    );
    eventually("the registered card reaches the hub", LIMIT, || {
        records(&hub).iter().any(|r| {
            r.message.source == "sog"
                && r.message.thread.in_reply_to.as_deref() == Some(mail_id.as_str())
        })
    })
    .await;
    let back = records(&hub)
        .into_iter()
        .find(|r| r.message.thread.in_reply_to.as_deref() == Some(mail_id.as_str()))
        .unwrap();
    let meta = |k: &str| {
        back.message
            .metadata
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(meta("sog.reg-number"), Some(registered.reg_number.clone()));
    assert!(meta("sog.reg-date").is_some());
    // SOG's number is carried onto the e-mail appeal's own record.
    eventually("SOG's number reaches the appeal", LIMIT, || {
        hub.store
            .get(&mail_id)
            .unwrap()
            .and_then(|r| r.registration)
            .is_some_and(|g| g.system == "sog" && g.number == registered.reg_number)
    })
    .await;

    // 2. A card SOG's staff registered reaches the hub, and goes back to SOG with the
    //    executor (the hub's department, by the deployment's SOG code) and deadline the
    //    hub decided.
    let mut card: Value =
        serde_json::from_slice(&sample("tests/data/sog/card-registered-licensing.json")).unwrap();
    card["uid"] = "sog-e2e-2".into();
    card.as_object_mut().unwrap().remove("executor");
    card["status"] = "registered".into();
    // With the scan of the letter, its content on the card: kept by the hub.
    let scan = b"%PDF-1.4\n% the applicant's letter, scanned\n%%EOF\n".to_vec();
    card["attachments"] = attached_file("letter.pdf", &scan, None);
    sim.register(card).await.unwrap();
    eventually("the hub's update reaches the card in SOG", LIMIT, || {
        sim.cards()
            .iter()
            .any(|c| c.uid == "sog-e2e-2" && !c.updates.is_empty())
    })
    .await;
    let updated = sim
        .cards()
        .into_iter()
        .find(|c| c.uid == "sog-e2e-2")
        .unwrap();
    assert_eq!(updated.card["status"], "in_work", "{}", updated.card);
    let decided = records(&hub)
        .into_iter()
        .find(|r| r.message.idempotency_key.as_deref() == Some("sog:sog-e2e-2#1"))
        .and_then(|r| r.decision)
        .and_then(|d| d.responsible)
        .expect("the hub decided who is responsible");
    let code = SETTINGS
        .iter()
        .find(|(_, id)| *id == decided)
        .map(|(k, _)| k.trim_start_matches("department."))
        .unwrap();
    assert_eq!(
        updated.card["executor"]["department"], code,
        "{}",
        updated.card
    );
    assert_eq!(updated.card["status_name"], "На исполнении");
    assert!(updated.card["deadline"].is_string(), "{}", updated.card);
    assert_eq!(updated.card["revision"], 2);
    let sha = okno_hub::store::blobs::sha256_hex(&scan);
    assert_eq!(
        hub.store.blobs.get(&sha).unwrap().as_deref(),
        Some(scan.as_slice()),
        "the card's file is in the blob store"
    );
    // Every push of SOG was taken.
    assert!(
        sim.pushes().iter().all(|s| *s == 202 || *s == 200),
        "{:?}",
        sim.pushes()
    );

    // 3. Hostile cards posted to the hub are refused naming the field; nothing is stored.
    let stored = hub.store.message_count();
    let url = format!("http://{addr}/v1/sources/sog/messages");
    for (file, said) in [
        ("unknown-status.json", "$.status"),
        ("wrong-type-questions.json", "$.questions"),
        ("missing-summary.json", "summary"),
    ] {
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(sample(&format!("tests/data/sog/hostile/{file}")))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 422, "{file}: {text}");
        assert!(text.contains(said), "{file}: {text}");
    }
    // 50 MB is over the hub's body limit: refused before the plugin sees it.
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .body(vec![b' '; 50 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        hub.store.message_count(),
        stored,
        "a refused card is not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sog_across_a_kill_loses_nothing_and_ingests_nothing_twice() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let sim = sog::start(SogOptions::default()).await.unwrap();
    for n in 1..=3 {
        let mut card: Value =
            serde_json::from_slice(&sample("tests/data/sog/card-registered-licensing.json"))
                .unwrap();
        card["uid"] = format!("sog-poll-{n}").into();
        // The first card with a file; the second with a file whose content is not what
        // its digest says (journaled without it).
        match n {
            1 => card["attachments"] = attached_file("scan-1.pdf", POLLED_FILE, None),
            2 => card["attachments"] = attached_file("scan-2.pdf", b"declared", Some(b"other")),
            _ => {}
        }
        sim.register(card).await.unwrap();
    }
    let gate = FeedGate::start(
        &sim.cards_url().replace("/api/cards", "/api/feed"),
        "/api/feed",
    )
    .await;
    let gate_port = gate.port;
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    let path = plugin("sog");
    let sog_settings: String = SETTINGS
        .iter()
        .map(|(k, v)| format!("\"{k}\" = \"{v}\"\n"))
        .collect();
    let priority = plugin("priority");
    let text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n\
         [[plugins]]\nname = \"sog\"\nkind = \"poller\"\nfile = \"{}\"\nsha256 = \"{}\"\ncpu_ms = 500\nhttp_allow = [\"127.0.0.1:{gate_port}\"]\nhttp_allow_addresses = [\"127.0.0.1\"]\n[plugins.settings]\n{sog_settings}\"feed-url\" = \"http://127.0.0.1:{gate_port}/api/feed\"\n\n\
         [[plugins]]\nname = \"priority\"\nkind = \"policy\"\nfile = \"{}\"\nsha256 = \"{}\"\n\n\
         [[sources]]\nname = \"sog\"\ntransport = \"poll\"\nconnector = \"sog\"\n[sources.poll]\ninterval_ms = 200\n\n\
         [pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n\
         [[sinks]]\nname = \"nowhere\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"sog\"\nmax_attempts = 1\n\n\
         [[routes]]\nname = \"all\"\nsinks = [\"nowhere\"]\n",
        data.display(),
        path.display(),
        sha256_of(&path),
        priority.display(),
        sha256_of(&priority),
    );
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&data, &listen);

    // Killed once the batch is journaled and its ack is on the way, not answered.
    let mut hub = HubProcess::start(env!("CARGO_BIN_EXE_okno-under-test"), &config);
    gate.hung_ack(LIMIT).await;
    hub.kill();
    assert_eq!(gate.acked.load(Ordering::SeqCst), 0);

    gate.hang.store(false, Ordering::SeqCst);
    let _hub = HubProcess::start(env!("CARGO_BIN_EXE_okno-under-test"), &config);
    eventually("the feed acknowledged after the restart", LIMIT, || {
        gate.acked.load(Ordering::SeqCst) >= 1
    })
    .await;
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let (status, body) = get_json(&format!("http://{listen}/v1/messages?limit=100")).await;
    assert_eq!(status, 200, "{body}");
    let from_sog: Vec<&Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "sog")
        .collect();
    assert_eq!(from_sog.len(), 3, "each card once: {from_sog:?}");
    // The polled card's file is in the blob store; the one that lied about its digest
    // is not, and the card's trace says so.
    let blob = |content: &[u8]| {
        let sha = okno_hub::store::blobs::sha256_hex(content);
        data.join("blobs").join(&sha[..2]).join(&sha[2..])
    };
    assert_eq!(
        std::fs::read(blob(POLLED_FILE)).ok().as_deref(),
        Some(POLLED_FILE)
    );
    assert!(!blob(b"declared").exists() && !blob(b"other").exists());
    let mut second = None;
    for m in &from_sog {
        let url = format!("http://{listen}/v1/messages/{}", m["id"].as_str().unwrap());
        let (status, record) = get_json(&url).await;
        assert_eq!(status, 200, "{record}");
        if record["message"]["idempotency_key"] == "sog:sog-poll-2#1" {
            second = Some(record);
        }
    }
    let trace = second.expect("the second card")["trace"].to_string();
    assert!(
        trace.contains("scan-2.pdf") && trace.contains("not kept"),
        "{trace}"
    );
    // The feed is empty once acknowledged: nothing comes again.
    let feed: Value = reqwest::get(format!("{}?after=0", gate.remote))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(feed["items"].as_array().map(Vec::len), Some(0), "{feed}");
}

/// The content of the file on the first polled card.
const POLLED_FILE: &[u8] = b"%PDF-1.4\n% polled with its card\n%%EOF\n";

/// A card's `attachments` with one file: its digest from `content`, the content sent
/// `sent` when given (a card that lies), else `content`.
fn attached_file(name: &str, content: &[u8], sent: Option<&[u8]>) -> Value {
    use base64::Engine as _;
    serde_json::json!([{
        "name": name,
        "media_type": "application/pdf",
        "size": content.len(),
        "sha256": okno_hub::store::blobs::sha256_hex(content),
        "content": base64::engine::general_purpose::STANDARD.encode(sent.unwrap_or(content)),
    }])
}
