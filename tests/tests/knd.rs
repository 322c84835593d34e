//! The KND portal connector for real: the committed documents and hostile ones through
//! `okno plugin run`, and end to end through the hub with the portal's simulator: a
//! question is registered with its deadline, a consultation request at a free time is
//! confirmed, one at a taken time gets an offer, and the business's choice from the offer
//! is confirmed.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use okno_hub::auth::{Role, TokenStore};
use okno_hub::cli::serve;
use okno_sdk::types::Date;
use okno_simulators::knd::{self, KndOptions, Push};
use okno_tests::feed_gate::{FeedGate, HubProcess};
use okno_tests::*;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(90);

fn plugin_run(input: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(plugin("knd"))
        .arg("--input")
        .arg(input)
        .output()
        .expect("okno runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plugin_run_decodes_the_committed_documents() {
    let dir = workspace().join("tests/data/knd");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let (ok, stdout, stderr) = plugin_run(&path);
        assert!(ok, "{}: {stderr}", path.display());
        let messages: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(messages[0]["channel"], "knd", "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5);
}

#[test]
fn plugin_run_refuses_hostile_documents_naming_the_field() {
    let dir = workspace().join("tests/data/knd/hostile");
    for (file, said) in [
        ("question-missing-text.json", "$: missing field `text`"),
        (
            "visit-wrong-type-slots.json",
            "$.preferred_slots: invalid type",
        ),
        (
            "unknown-type.json",
            "$.type: `complaint` is not a document type",
        ),
        (
            "self-assessment-unknown-answer.json",
            "$.answers[1].answer: unknown variant `maybe`",
        ),
        (
            "visit-slot-ends-before-start.json",
            "$.preferred_slots[0].end:",
        ),
        (
            "question-unknown-field.json",
            "$.applicant.snils: unknown field",
        ),
    ] {
        let (ok, _, stderr) = plugin_run(&dir.join(file));
        assert!(!ok, "{file} was taken");
        assert!(stderr.contains("(invalid-input)"), "{file}: {stderr}");
        assert!(stderr.contains(said), "{file}: {stderr}");
    }
}

#[test]
fn plugin_run_refuses_a_50_mb_string_unread() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc: Value =
        serde_json::from_slice(&sample("tests/data/knd/question-scrap-licence.json")).unwrap();
    doc["text"] = Value::String("б".repeat(25 * 1024 * 1024));
    let path = dir.path().join("huge.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["plugin", "run"])
        .arg(plugin("knd"))
        .arg("--input")
        .arg(&path)
        .args(["--memory-mib", "128"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("(invalid-input): $: the document is 524")
            && stderr.contains("max-document-bytes"),
        "{stderr}"
    );
}

fn write_hub_config(dir: &Path, listen: &str, replies_url: &str) -> std::path::PathBuf {
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
    add(
        "knd",
        "connector",
        "[plugins.settings]\n\"place.video\" = \"https://vks.example.ru/knd\"\n\"place.in_person\" = \"г. Тверь, ул. Советская, д. 11\"\n\"department.control\" = \"Отдел регионального контроля\"\nhours = \"09:00-13:00, 14:00-18:00\"",
    );
    add("topics", "classifier", "");
    add(
        "priority",
        "policy",
        "[plugins.settings]\n\"responsible.default\" = \"control\"",
    );
    text.push_str("[[sources]]\nname = \"knd\"\ntransport = \"http\"\nconnector = \"knd\"\n\n");
    text.push_str("[pipeline]\nclassifiers = [\"topics\"]\npolicy = \"priority\"\n\n");
    text.push_str(&format!(
        "[[sinks]]\nname = \"knd-portal\"\ntransport = \"http\"\nurl = \"{replies_url}\"\nconnector = \"knd\"\nmax_attempts = 3\nbackoff_ms = 50\nmax_backoff_ms = 200\n\n"
    ));
    text.push_str("[[routes]]\nname = \"portal\"\nmatch = { channel = [\"knd\"] }\nsinks = [\"knd-portal\"]\n");
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    issue_tokens(&data, listen);
    path
}

/// A working day at least a week away, by the production calendar.
fn a_working_day_ahead() -> Date {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = okno_sdk::time::local_date_with_offset(now, 180);
    okno_sdk::calendar::add_working_days(okno_sdk::time::add_days(today, 7), 1)
}

fn at(day: &Date, time: &str) -> String {
    format!(
        "{:04}-{:02}-{:02}T{time}:00+03:00",
        day.year, day.month, day.day
    )
}

fn request(id: &str, day: &Date) -> Value {
    let mut doc: Value =
        serde_json::from_slice(&sample("tests/data/knd/visit-request-consultation.json")).unwrap();
    doc["id"] = id.into();
    doc["preferred_slots"] = json!([{"start": at(day, "10:00"), "end": at(day, "11:00")}]);
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_and_the_hub_agree_on_answers_and_appointments() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = TokenStore::open(&data)
        .create("knd-portal", Role::Source, Some("knd"), None)
        .unwrap()
        .0;
    let portal = knd::start(KndOptions {
        push: Some(Push {
            url: format!("http://{listen}/v1/sources/knd/messages"),
            token: token.clone(),
        }),
        ..KndOptions::default()
    })
    .await
    .unwrap();
    let config = write_hub_config(dir.path(), &listen, &portal.replies_url());
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();

    // A question is registered: the department and the deadline go back to the portal.
    let question: Value =
        serde_json::from_slice(&sample("tests/data/knd/question-scrap-licence.json")).unwrap();
    portal.submit(question).await.unwrap();
    eventually("the question is answered", LIMIT, || {
        !portal.replies_to("knd-q-2026-004417").is_empty()
    })
    .await;
    let answer = &portal.replies_to("knd-q-2026-004417")[0].document;
    assert_eq!(answer["type"], "answer");
    assert_eq!(answer["status"], "registered");
    assert_eq!(answer["department"], "Отдел регионального контроля");
    assert!(answer["deadline"].is_string(), "{answer}");

    // A consultation at a free time is confirmed.
    let day = a_working_day_ahead();
    portal.submit(request("knd-v-e2e-1", &day)).await.unwrap();
    eventually("the first request is confirmed", LIMIT, || {
        !portal.replies_to("knd-v-e2e-1").is_empty()
    })
    .await;
    let first = &portal.replies_to("knd-v-e2e-1")[0].document;
    assert_eq!(first["type"], "appointment_confirmation", "{first}");
    assert_eq!(first["slot"]["start"], at(&day, "10:00"));
    assert_eq!(first["place"], "https://vks.example.ru/knd");

    // Another business asks for the same hour: it gets an offer without that hour.
    portal.submit(request("knd-v-e2e-2", &day)).await.unwrap();
    eventually("the second request gets an offer", LIMIT, || {
        !portal.replies_to("knd-v-e2e-2").is_empty()
    })
    .await;
    let offer = &portal.replies_to("knd-v-e2e-2")[0].document;
    assert_eq!(offer["type"], "slot_offer", "{offer}");
    let slots = offer["slots"].as_array().unwrap();
    assert!(!slots.is_empty());
    assert!(
        slots.iter().all(|s| s["start"] != at(&day, "10:00")),
        "{offer}"
    );

    // The business takes the first offered slot, and the hub confirms it.
    portal
        .choose_offered_slot("knd-v-e2e-2", 0, "knd-c-e2e-2")
        .await
        .unwrap();
    eventually("the choice is confirmed", LIMIT, || {
        !portal.replies_to("knd-c-e2e-2").is_empty()
    })
    .await;
    let confirmed = &portal.replies_to("knd-c-e2e-2")[0].document;
    assert_eq!(confirmed["type"], "appointment_confirmation", "{confirmed}");
    assert_eq!(confirmed["slot"], slots[0]);
    assert_ne!(
        confirmed["confirmation_number"],
        first["confirmation_number"]
    );
    assert!(
        portal.pushes().iter().all(|s| *s == 202),
        "{:?}",
        portal.pushes()
    );

    // Hostile documents posted to the hub are refused naming the field; nothing is stored.
    let stored = hub.store.message_count();
    let url = format!("http://{addr}/v1/sources/knd/messages");
    for (file, said) in [
        ("unknown-type.json", "$.type"),
        ("visit-wrong-type-slots.json", "$.preferred_slots"),
        ("self-assessment-unknown-answer.json", "$.answers[1].answer"),
    ] {
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(sample(&format!("tests/data/knd/hostile/{file}")))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 422, "{file}: {text}");
        assert!(text.contains(said), "{file}: {text}");
    }
    assert_eq!(
        hub.store.message_count(),
        stored,
        "a refused document is not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_the_portal_across_a_kill_loses_nothing_and_ingests_nothing_twice() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let portal = knd::start(KndOptions::default()).await.unwrap();
    for n in 1..=3 {
        let mut question: Value =
            serde_json::from_slice(&sample("tests/data/knd/question-scrap-licence.json")).unwrap();
        question["id"] = format!("knd-poll-{n}").into();
        portal.submit(question).await.unwrap();
    }
    let gate = FeedGate::start(
        &portal.replies_url().replace("/api/replies", "/api/outbox"),
        "/api/outbox",
    )
    .await;
    let listen = format!("127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    let (knd, priority) = (plugin("knd"), plugin("priority"));
    let text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\n\n\
         [[plugins]]\nname = \"knd\"\nkind = \"poller\"\nfile = \"{}\"\nsha256 = \"{}\"\ncpu_ms = 500\nhttp_allow = [\"127.0.0.1:{}\"]\nhttp_allow_addresses = [\"127.0.0.1\"]\n[plugins.settings]\n\"outbox-url\" = \"{}\"\n\n\
         [[plugins]]\nname = \"priority\"\nkind = \"policy\"\nfile = \"{}\"\nsha256 = \"{}\"\n\n\
         [[sources]]\nname = \"knd\"\ntransport = \"poll\"\nconnector = \"knd\"\n[sources.poll]\ninterval_ms = 200\n\n\
         [pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n\
         [[sinks]]\nname = \"nowhere\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"knd\"\nmax_attempts = 1\n\n\
         [[routes]]\nname = \"all\"\nsinks = [\"nowhere\"]\n",
        data.display(),
        knd.display(),
        sha256_of(&knd),
        gate.port,
        gate.url,
        priority.display(),
        sha256_of(&priority),
    );
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&data, &listen);
    let binary = env!("CARGO_BIN_EXE_okno-under-test");

    // Killed once the batch is journaled and its ack is on the way, not answered.
    let mut hub = HubProcess::start(binary, &config);
    gate.hung_ack(LIMIT).await;
    hub.kill();
    assert_eq!(gate.acked.load(Ordering::SeqCst), 0);

    gate.hang.store(false, Ordering::SeqCst);
    let _hub = HubProcess::start(binary, &config);
    eventually("the outbox acknowledged after the restart", LIMIT, || {
        gate.acked.load(Ordering::SeqCst) >= 1
    })
    .await;
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let (status, body) = get_json(&format!("http://{listen}/v1/messages?limit=100")).await;
    assert_eq!(status, 200, "{body}");
    let from_knd: Vec<&Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "knd")
        .collect();
    assert_eq!(from_knd.len(), 3, "each document once: {from_knd:?}");
    let outbox: Value = reqwest::get(format!("{}?after=0", gate.remote))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        outbox["items"].as_array().map(Vec::len),
        Some(0),
        "{outbox}"
    );
}
