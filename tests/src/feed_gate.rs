//! A remote system's feed behind a gate, for restart tests of pollers: `GET <feed>` passes
//! through to the remote system; `POST <feed>/ack` passes through too, unless `hang` is
//! set, when it is counted and never answered (the hub is killed meanwhile). And the hub
//! as a process of its own, to kill with `kill -9`.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

/// Longer than the hub's store takes to write to disk on its own (sled flushes every
/// 500 ms): [`FeedGate::hung_ack`] waits this long after the hung ack, so that whatever
/// the plugin wrote to its kv before acking is on disk when the hub is killed, as it
/// would be after a hang of any length in production.
const PAST_THE_STORE_FLUSH: Duration = Duration::from_millis(1500);

#[derive(Clone)]
pub struct FeedGate {
    /// The remote feed's URL, e.g. `http://127.0.0.1:4000/api/feed`.
    pub remote: String,
    /// The gate's URL of the same feed.
    pub url: String,
    pub port: u16,
    pub hang: Arc<AtomicBool>,
    /// Acks received, answered or not.
    pub ack_attempts: Arc<AtomicUsize>,
    /// Acks passed to the remote system.
    pub acked: Arc<AtomicUsize>,
}

impl FeedGate {
    /// A gate in front of `remote` (a feed URL), at `path` on a free port, hanging acks.
    pub async fn start(remote: &str, path: &str) -> FeedGate {
        let port = crate::free_port();
        let gate = FeedGate {
            remote: remote.to_string(),
            url: format!("http://127.0.0.1:{port}{path}"),
            port,
            hang: Arc::new(AtomicBool::new(true)),
            ack_attempts: Arc::default(),
            acked: Arc::default(),
        };
        let app = Router::new()
            .route(path, get(feed))
            .route(&format!("{path}/ack"), post(ack))
            .with_state(gate.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the gate's port");
        tokio::spawn(async move { axum::serve(listener, app).await });
        gate
    }

    /// Waits for the first ack to hang (the batch is journaled), then past the store's
    /// own flush: the moment to kill the hub.
    pub async fn hung_ack(&self, limit: Duration) {
        crate::eventually("the first ack is sent", limit, || {
            self.ack_attempts.load(Ordering::SeqCst) >= 1
        })
        .await;
        tokio::time::sleep(PAST_THE_STORE_FLUSH).await;
    }
}

async fn feed(State(gate): State<FeedGate>, RawQuery(query): RawQuery) -> (StatusCode, String) {
    let url = format!("{}?{}", gate.remote, query.unwrap_or_default());
    let response = reqwest::get(&url).await.expect("the remote feed answers");
    (
        StatusCode::from_u16(response.status().as_u16()).unwrap(),
        response.text().await.unwrap_or_default(),
    )
}

async fn ack(State(gate): State<FeedGate>, body: String) -> StatusCode {
    gate.ack_attempts.fetch_add(1, Ordering::SeqCst);
    if gate.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let response = reqwest::Client::new()
        .post(format!("{}/ack", gate.remote))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the remote feed answers");
    gate.acked.fetch_add(1, Ordering::SeqCst);
    StatusCode::from_u16(response.status().as_u16()).unwrap()
}

/// The hub as a process of its own (`binary`: the test's `CARGO_BIN_EXE_okno-under-test`),
/// killed (`kill -9`) when dropped.
pub struct HubProcess(Child);

impl HubProcess {
    pub fn start(binary: &str, config: &Path) -> HubProcess {
        let child = Command::new(binary)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("starting the hub process");
        HubProcess(child)
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
