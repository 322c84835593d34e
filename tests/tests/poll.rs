//! The poll transport end to end: a feed in the test hands out batches and records acks,
//! the `poll-feed` poller fetches them, the hub journals then acknowledges. Also: a
//! `kill -9` between journal and ack re-delivers without a second journal, a failing
//! feed is polled with growing waits, and a plugin built against contract 0.1.0 still
//! loads and runs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use okno_hub::cli::serve;
use okno_hub::runtime::{Limits, Runtime, RuntimeOptions, World};
use okno_tests::feed_gate::HubProcess;
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(90);

/// A remote system with a queue: `GET /batch` hands out the first `batch_size` items
/// not yet acknowledged (again and again until they are), `POST /ack` with a batch's
/// token removes its items.
#[derive(Clone, Default)]
struct Feed {
    queue: Arc<Mutex<Vec<(String, String)>>>,
    outstanding: Arc<Mutex<HashMap<String, Vec<String>>>>,
    batch_size: usize,
    batches: Arc<AtomicUsize>,
    /// Tokens acknowledged, in order.
    acks: Arc<Mutex<Vec<String>>>,
    /// Ack requests received, answered or not.
    ack_attempts: Arc<AtomicUsize>,
    /// While set, an ack is received but never answered (the hub is killed meanwhile).
    hang_acks: Arc<AtomicBool>,
    /// Polls to answer with 503 before answering again.
    fail_next: Arc<AtomicUsize>,
    /// When each poll arrived.
    polled_at: Arc<Mutex<Vec<Instant>>>,
}

impl Feed {
    async fn start(items: &[(&str, &str)], batch_size: usize) -> (Feed, String) {
        let feed = Feed {
            queue: Arc::new(Mutex::new(
                items
                    .iter()
                    .map(|(id, body)| (id.to_string(), body.to_string()))
                    .collect(),
            )),
            batch_size,
            ..Feed::default()
        };
        let app = Router::new()
            .route("/batch", get(batch))
            .route("/ack", post(ack))
            .with_state(feed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (feed, url)
    }

    fn waiting(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

async fn batch(State(feed): State<Feed>) -> Result<Json<serde_json::Value>, StatusCode> {
    feed.polled_at.lock().unwrap().push(Instant::now());
    if feed
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let queue = feed.queue.lock().unwrap();
    let items: Vec<&(String, String)> = queue.iter().take(feed.batch_size).collect();
    if items.is_empty() {
        return Ok(Json(
            serde_json::json!({"items": [], "token": null, "more": false}),
        ));
    }
    let token = format!("t{}", feed.batches.fetch_add(1, Ordering::SeqCst));
    feed.outstanding.lock().unwrap().insert(
        token.clone(),
        items.iter().map(|(id, _)| id.clone()).collect(),
    );
    Ok(Json(serde_json::json!({
        "items": items.iter().map(|(id, body)| serde_json::json!({"id": id, "body": body})).collect::<Vec<_>>(),
        "token": token,
        "more": queue.len() > items.len(),
    })))
}

async fn ack(State(feed): State<Feed>, token: String) -> StatusCode {
    feed.ack_attempts.fetch_add(1, Ordering::SeqCst);
    if feed.hang_acks.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let Some(ids) = feed.outstanding.lock().unwrap().remove(&token) else {
        return StatusCode::NOT_FOUND;
    };
    feed.queue
        .lock()
        .unwrap()
        .retain(|(id, _)| !ids.contains(id));
    feed.acks.lock().unwrap().push(token);
    StatusCode::OK
}

/// The shared test config, the `poll-feed` poller and a `feed` source polling `url`.
fn write_poll_config(dir: &Path, listen: &str, url: &str, poll_table: &str) -> std::path::PathBuf {
    let path = plugin("poll-feed");
    let extra = format!(
        "[[plugins]]\nname = \"feed\"\nkind = \"poller\"\nfile = \"{}\"\nsha256 = \"{}\"\nhttp_allow = [\"{host}\"]\nhttp_allow_addresses = [\"127.0.0.1\"]\n[plugins.settings]\nurl = \"{url}\"\n\n\
         [[sources]]\nname = \"feed\"\ntransport = \"poll\"\nconnector = \"feed\"\n{poll_table}\n\n\
         [[routes]]\nname = \"nowhere-yet\"\nsinks = [\"registry\"]\n\n\
         [[sinks]]\nname = \"registry\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"http-json\"\nmax_attempts = 1\n",
        path.display(),
        sha256_of(&path),
        host = url.trim_start_matches("http://"),
    );
    write_config(dir, listen, &extra, &[])
}

/// The messages the hub holds from source `feed`, by id.
async fn feed_messages(listen: &str) -> Vec<serde_json::Value> {
    let (status, body) = get_json(&format!("http://{listen}/v1/messages?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "feed")
        .cloned()
        .collect()
}

async fn metrics(listen: &str) -> String {
    let url = format!("http://{listen}/metrics");
    reqwest::Client::new()
        .get(&url)
        .header("authorization", bearer(&url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_journaled_then_acknowledged_and_more_is_fetched_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<(String, String)> = (1..=5)
        .map(|n| (format!("app-{n}"), format!("Заявление номер {n}")))
        .collect();
    let items: Vec<(&str, &str)> = items
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (feed, url) = Feed::start(&items, 2).await;
    let listen = format!("127.0.0.1:{}", free_port());
    // A long interval: only `more` can fetch the three batches quickly.
    let config = write_poll_config(
        dir.path(),
        &listen,
        &url,
        "[sources.poll]\ninterval_ms = 600000",
    );
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    let addr = addr.to_string();

    eventually("every item acknowledged", LIMIT, || feed.waiting() == 0).await;
    assert_eq!(*feed.acks.lock().unwrap(), vec!["t0", "t1", "t2"]);
    let messages = feed_messages(&addr).await;
    assert_eq!(messages.len(), 5, "{messages:?}");

    let text = metrics(&addr).await;
    for line in [
        "okno_transport_events_total{transport=\"poll\",source=\"feed\",event=\"message\"} 5",
        "okno_transport_events_total{transport=\"poll\",source=\"feed\",event=\"ack\"} 3",
        "okno_transport_failing{transport=\"poll\",source=\"feed\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

/// The hub as a process of its own, killed (`kill -9`) when dropped.
fn hub_process(config: &Path) -> HubProcess {
    HubProcess::start(env!("CARGO_BIN_EXE_okno-under-test"), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_journal_and_ack_redelivers_and_nothing_is_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let items = [
        ("smev-1", "Заявление на лицензию"),
        ("smev-2", "Жалоба на сроки"),
        ("smev-3", "Запрос разъяснений"),
    ];
    let (feed, url) = Feed::start(&items, 3).await;
    feed.hang_acks.store(true, Ordering::SeqCst);
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_poll_config(
        dir.path(),
        &listen,
        &url,
        "[sources.poll]\ninterval_ms = 200",
    );

    let mut hub = hub_process(&config);
    // An ack is sent only after the batch is journaled and on disk.
    eventually("the first ack is sent", LIMIT, || {
        feed.ack_attempts.load(Ordering::SeqCst) >= 1
    })
    .await;
    hub.kill();
    assert_eq!(feed.waiting(), 3, "nothing was acknowledged");

    feed.hang_acks.store(false, Ordering::SeqCst);
    let _hub = hub_process(&config);
    eventually("the batch acknowledged after the restart", LIMIT, || {
        feed.waiting() == 0
    })
    .await;
    assert!(
        feed.batches.load(Ordering::SeqCst) >= 2,
        "the batch came twice"
    );
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let messages = feed_messages(&listen).await;
    assert_eq!(messages.len(), 3, "each item once: {messages:?}");
    let text = metrics(&listen).await;
    let duplicates = text
        .lines()
        .find(|l| l.starts_with("okno_duplicates_total "))
        .unwrap_or("");
    assert_eq!(duplicates, "okno_duplicates_total 3", "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_remote_is_polled_with_growing_waits_then_normally() {
    let dir = tempfile::tempdir().unwrap();
    let (feed, url) = Feed::start(&[("k-1", "Запрос о визите")], 5).await;
    feed.fail_next.store(4, Ordering::SeqCst);
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_poll_config(
        dir.path(),
        &listen,
        &url,
        "[sources.poll]\ninterval_ms = 600000\nbackoff_ms = 100\nmax_backoff_ms = 5000",
    );
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    eventually("the item acknowledged once the feed answers", LIMIT, || {
        feed.waiting() == 0
    })
    .await;

    let at = feed.polled_at.lock().unwrap().clone();
    assert_eq!(at.len(), 5, "four failed polls and one that answered");
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // Waits after the 1st and 3rd failure: 50–100 ms and 200–400 ms (jitter takes up
    // to half), so the third is longer whatever the jitter.
    assert!(gaps[0] >= Duration::from_millis(50), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "the wait grows: {gaps:?}");
    assert!(gaps[3] > gaps[1], "the wait grows: {gaps:?}");

    let text = metrics(&addr.to_string()).await;
    for line in [
        "okno_transport_events_total{transport=\"poll\",source=\"feed\",event=\"error\"} 4",
        "okno_transport_failing{transport=\"poll\",source=\"feed\"} 0",
        "okno_plugin_errors_total{plugin=\"feed\",kind=\"plugin-upstream\"} 4",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_source_needs_a_poller_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &listen,
        "[[sources]]\nname = \"feed\"\ntransport = \"poll\"\nconnector = \"mail\"\n[sources.poll]\nbackoff_ms = 0\n\n[[routes]]\nname = \"r\"\nsinks = [\"s\"]\n[[sinks]]\nname = \"s\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"http-json\"\n",
        &[],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let errors = okno_hub::config::Config::load(&config)
        .expect_err("a poll source with a plain connector is refused")
        .to_string();
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let connector_line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "connector = \"mail\"")
        .map(|(i, _)| i + 1)
        .last()
        .unwrap();
    assert!(
        errors.contains(&format!(
            ":{connector_line}:13: source \"feed\" polls, so its connector must be a poller plugin"
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            ":{}:14: sources.poll.backoff_ms = 0 is out of range",
            line_of("backoff_ms = 0")
        )),
        "{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_contract_0_1_0_still_loads_and_runs() {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let frozen = runtime
        .load(
            &plugin("contract-0-1-0"),
            None,
            Some(World::Connector),
            plugin_context("frozen", &[]),
            Limits::default(),
        )
        .expect("a 0.1.0 connector loads");
    assert_eq!(frozen.info.contract_version, "0.1.0");
    let inbound = okno_hub::model::Inbound {
        bytes: "Прошу разъяснить порядок".as_bytes().to_vec(),
        content_type: None,
        metadata: vec![("file.name".into(), "a.txt".into())],
    };
    let messages = frozen.decode(inbound).await.expect("it decodes");
    assert_eq!(messages[0].body, "Прошу разъяснить порядок");
    assert_eq!(messages[0].idempotency_key.as_deref(), Some("file:a.txt"));

    let poller = runtime
        .load(
            &plugin("poll-feed"),
            None,
            Some(World::Connector),
            plugin_context("feed", &[]),
            Limits::default(),
        )
        .expect("a poller serves where a connector is asked for");
    assert_eq!(poller.world(), World::Poller);
    assert_eq!(poller.info.contract_version, "0.1.1");
    let decoded = poller
        .decode(okno_hub::model::Inbound {
            bytes: br#"{"id": "x1", "body": "text"}"#.to_vec(),
            content_type: None,
            metadata: vec![],
        })
        .await
        .unwrap();
    assert_eq!(decoded[0].idempotency_key.as_deref(), Some("feed:x1"));
    let error = frozen.poll().await.expect_err("a connector does not poll");
    assert!(error.to_string().contains("poller"), "{error}");
}
