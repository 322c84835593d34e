//! The plugin runtime with real components: reference plugins on real inputs, hostile
//! plugins contained, pins enforced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use okno_hub::model::{Channel, Classification, Inbound, Message};
use okno_hub::runtime::{CallError, Limits, LoadError, Plugin, Runtime, RuntimeOptions, World};
use okno_tests::{plugin, plugin_context, sample, sha256_of};

fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeOptions::default()).expect("engine")
}

fn load(rt: &Runtime, file: &str, settings: &[(&str, &str)], limits: Limits) -> Plugin {
    rt.load(
        &plugin(file),
        None,
        None,
        plugin_context(file, settings),
        limits,
    )
    .unwrap_or_else(|e| panic!("loading {file}: {e}"))
}

fn message(body: &str) -> Message {
    let mut m: Message =
        serde_json::from_value(serde_json::json!({"channel": "mail", "body": body})).unwrap();
    m.id = "test-message".into();
    m.received_at = 1_790_000_000_000;
    m
}

#[tokio::test]
async fn mail_connector_decodes_legacy_russian_mail() {
    let rt = runtime();
    let mail = load(&rt, "mail", &[], Limits::default());
    assert_eq!(mail.world(), World::Connector);
    for (file, needle) in [
        ("examples/appeals/01-heating-outage-koi8r-qp.eml", "отоплен"),
        (
            "examples/appeals/02-utility-recalculation-cp1251-base64.eml",
            "перерасч",
        ),
        (
            "plugins/mail/tests/data/imaptools_attachment_8bit_cp1251_multipart_mixed.eml",
            "",
        ),
    ] {
        let messages = mail
            .decode(Inbound {
                bytes: sample(file),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(messages.len(), 1, "{file}");
        let m = &messages[0];
        assert_eq!(m.channel, Channel::Mail);
        assert!(
            m.idempotency_key.is_some(),
            "{file}: Message-ID becomes the idempotency key"
        );
        let text = format!("{} {}", m.subject.clone().unwrap_or_default(), m.body).to_lowercase();
        assert!(
            text.contains(needle),
            "{file}: expected {needle:?} in {text:?}"
        );
        assert!(
            !text.contains('\u{FFFD}'),
            "{file}: replacement characters in decoded text"
        );
    }
}

#[tokio::test]
async fn mail_connector_reports_malformed_mail_as_invalid_input() {
    let rt = runtime();
    let mail = load(&rt, "mail", &[], Limits::default());
    let err = mail
        .decode(Inbound {
            bytes: vec![0xff, 0x00, 0x13, 0x37],
            ..Default::default()
        })
        .await
        .unwrap_err();
    match err {
        CallError::Plugin { error, .. } => {
            assert_eq!(error.kind, okno_hub::model::ErrorKind::InvalidInput)
        }
        other => panic!("expected a plugin error, got {other}"),
    }
}

#[tokio::test]
async fn classifiers_and_policy_run_in_the_sandbox() {
    let rt = runtime();
    let keywords = load(
        &rt,
        "keywords",
        &[
            ("rules.heating.words", "отопление, батарея"),
            ("rules.heating.tags", "heating"),
        ],
        Limits::default(),
    );
    let topics = load(
        &rt,
        "topics",
        &[],
        Limits {
            cpu: Duration::from_millis(500),
            ..Limits::default()
        },
    );
    let priority = load(&rt, "priority", &[], Limits::default());
    let json = load(&rt, "http-json", &[], Limits::default());

    let m = message("В квартире нет отопления, батареи холодные уже неделю. Примите меры!");
    let c = keywords
        .classify(&m, &Classification::default())
        .await
        .expect("keywords");
    assert!(
        c.tags.contains(&"heating".to_string()),
        "tags: {:?}",
        c.tags
    );
    let c = topics.classify(&m, &c).await.expect("topics");
    let topic = c.topic.clone().expect("a topic");
    assert!(
        topic.best.code.starts_with("0005.0005"),
        "heating lands in housing and utilities, got {}",
        topic.best.code
    );
    let d = priority.decide(&m, &c).await.expect("priority");
    let deadline = d
        .answer_deadline
        .expect("written appeals get an answer deadline");
    assert!(
        deadline >= m.received_at + 29 * 86_400_000,
        "30-day deadline, got {deadline}"
    );
    assert!(!d.reasons.is_empty());
    let out = json.encode(&m, &c, &d).await.expect("http-json encode");
    let doc: serde_json::Value = serde_json::from_slice(&out.bytes).expect("JSON");
    assert_eq!(doc["id"], "test-message");
    assert_eq!(
        doc["classification"]["topic"]["code"].as_str(),
        Some(topic.best.code.as_str())
    );
}

fn hostile(rt: &Runtime, mode: &str, limits: Limits) -> Plugin {
    load(
        rt,
        "hostile",
        &[("mode", mode), ("url", "http://127.0.0.1:9/")],
        limits,
    )
}

/// After a hostile call, the same runtime still serves a well-behaved one.
async fn still_serves(rt: &Runtime) {
    let ok = hostile(rt, "ok", Limits::default());
    let c = ok
        .classify(&message("тест"), &Classification::default())
        .await
        .expect("a well-behaved call after a hostile one");
    assert_eq!(c.tags, vec!["hostile-ok".to_string()]);
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_within_twice_its_deadline() {
    let rt = runtime();
    let cpu = Duration::from_millis(100);
    let p = hostile(
        &rt,
        "loop",
        Limits {
            cpu,
            ..Limits::default()
        },
    );
    let started = Instant::now();
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, CallError::CpuDeadline { .. }), "got {err}");
    // A property of the sandbox, not a speed goal: the epoch deadline must fire.
    assert!(
        took < cpu * 2,
        "stopped after {took:?}, more than twice the {cpu:?} deadline"
    );
    still_serves(&rt).await;
}

#[tokio::test]
async fn a_huge_allocation_is_refused_at_the_cap() {
    let rt = runtime();
    let p = hostile(
        &rt,
        "alloc",
        Limits {
            memory_bytes: 64 << 20,
            ..Limits::default()
        },
    );
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::MemoryLimit { limit_mib: 64, .. }),
        "got {err}"
    );
    still_serves(&rt).await;
}

#[tokio::test]
async fn a_panic_is_a_trap_with_the_panic_message() {
    let rt = runtime();
    let p = hostile(&rt, "panic", Limits::default());
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .unwrap_err();
    match &err {
        CallError::Trap { detail, .. } => {
            assert!(detail.contains("panicked on purpose"), "detail: {detail}")
        }
        other => panic!("expected a trap, got {other}"),
    }
    still_serves(&rt).await;
}

#[tokio::test]
async fn http_to_an_ungranted_host_is_refused() {
    let rt = runtime();
    let p = hostile(&rt, "http", Limits::default());
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .unwrap_err();
    match &err {
        CallError::Plugin { error, .. } => assert!(
            error.message.contains("Denied"),
            "message: {}",
            error.message
        ),
        other => panic!("expected the plugin to report the refusal, got {other}"),
    }
    still_serves(&rt).await;
}

#[tokio::test]
async fn a_topic_code_outside_the_classifier_breaks_the_contract() {
    let rt = runtime();
    let p = hostile(&rt, "bad-code", Limits::default());
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Contract { .. }), "got {err}");
}

#[tokio::test]
async fn a_plugin_linking_the_filesystem_loads_but_finds_no_file() {
    let rt = runtime();
    let p = load(&rt, "fs-reader", &[], Limits::default());
    assert!(
        p.info
            .imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem/")),
        "the plugin imports the filesystem: {:?}",
        p.info.imports
    );
    let err = p
        .classify(&message("x"), &Classification::default())
        .await
        .expect_err("there is no directory to open");
    match &err {
        CallError::Plugin { error, .. } => assert!(
            error.message.starts_with("opening /etc/passwd:"),
            "the open's error is the plugin's: {err}"
        ),
        other => panic!("expected the plugin to report the failed open, got {other}"),
    }
    still_serves(&rt).await;
}

#[tokio::test]
async fn a_wrong_sha256_is_refused_naming_both_hashes() {
    let rt = runtime();
    let file = plugin("keywords");
    let wrong = "0".repeat(64);
    let err = rt
        .load(
            &file,
            Some(&wrong),
            None,
            plugin_context("keywords", &[]),
            Limits::default(),
        )
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(&wrong) && text.contains(&sha256_of(&file)) && text.contains("keywords.wasm"),
        "{text}"
    );
}

#[tokio::test]
async fn the_wrong_world_for_a_step_is_refused() {
    let rt = runtime();
    let err = rt
        .load(
            &plugin("keywords"),
            None,
            Some(World::Policy),
            plugin_context("keywords", &[]),
            Limits::default(),
        )
        .err()
        .expect("refused");
    assert!(matches!(err, LoadError::WorldMismatch { .. }), "got {err}");
}

/// The one file in `dir` whose name starts with `sha256`.
fn cached_file(dir: &std::path::Path, sha256: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .expect("the cache dir")
        .map(|e| e.expect("an entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(sha256) && n.ends_with(".cwasm"))
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// Loads the mail connector from the cache in `dir` and checks it is still itself.
async fn mail_from_cache(dir: &std::path::Path) {
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        ..Default::default()
    })
    .expect("engine");
    let mail = load(&rt, "mail", &[], Limits::default());
    assert_eq!(mail.world(), World::Connector);
    let messages = mail
        .decode(Inbound {
            bytes: sample("examples/appeals/01-heating-outage-koi8r-qp.eml"),
            ..Default::default()
        })
        .await
        .expect("the mail connector decodes");
    assert!(
        messages[0].body.to_lowercase().contains("отоплен"),
        "{:?}",
        messages[0].body
    );
}

#[tokio::test]
async fn a_swapped_or_changed_compiled_plugin_in_the_cache_is_not_used() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("compiled");
    // Both compiled into the cache, each under its own sha256.
    mail_from_cache(&dir).await;
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.clone()),
        ..Default::default()
    })
    .expect("engine");
    load(&rt, "pii", &[], Limits::default());
    let mail_file = cached_file(&dir, &sha256_of(&plugin("mail")));
    let pii_file = cached_file(&dir, &sha256_of(&plugin("pii")));
    assert!(
        scratch.path().join("compiled.key").is_file(),
        "the key lies beside the cache"
    );

    // The pii classifier's compiled code, well tagged, under the mail connector's name.
    let pii_bytes = std::fs::read(&pii_file).unwrap();
    std::fs::copy(&pii_file, &mail_file).unwrap();
    mail_from_cache(&dir).await;
    let rewritten = std::fs::read(&mail_file).unwrap();
    assert_ne!(rewritten, pii_bytes, "the swapped file was replaced");

    // One byte of the mail connector's compiled code changed.
    let mut changed = rewritten.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x01;
    std::fs::write(&mail_file, &changed).unwrap();
    mail_from_cache(&dir).await;
    assert_ne!(
        std::fs::read(&mail_file).unwrap(),
        changed,
        "the changed file was replaced"
    );
}
