//! A full disk, for real: the hub's data dir on a small tmpfs, filled by the hub's own
//! load, then grown. Nothing acknowledged is lost, no delivery is repeated while the disk
//! is full, ingest answers `503 storage_full` with `Retry-After`, `/readyz` says not ready,
//! the log has a line per change rather than a storm, and the same process serves again
//! once there is room.
//!
//! Mounting needs root (or CAP_SYS_ADMIN); without it the test fails and says so.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(180);

/// Room left on the filesystem for the hub to fill, over what it takes at start.
const ROOM_MIB: u64 = 12;

/// The hub's reserve of free space (`hub.min_free_disk_mib`).
const RESERVE_MIB: u64 = 3;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size_mib: u64) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("running mount");
        assert!(
            output.status.success(),
            "this test puts the hub's data dir on a small tmpfs and needs to mount one \
             (root or CAP_SYS_ADMIN): `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Tmpfs(at.to_path_buf())
    }

    fn resize(&self, size_kib: u64) {
        let output = Command::new("mount")
            .args(["-o", &format!("remount,size={size_kib}k")])
            .arg(&self.0)
            .output()
            .expect("running mount");
        assert!(
            output.status.success(),
            "resizing the tmpfs failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// KiB used on it.
    fn used_kib(&self) -> u64 {
        let output = Command::new("df")
            .args(["-k", "--output=used"])
            .arg(&self.0)
            .output()
            .expect("running df");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df's used column")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// One ingest: the status, the error code of a refusal, whether it carried
/// `Retry-After`, and the id of an acknowledged mail. `None` when the hub did not answer.
async fn send(
    client: &reqwest::Client,
    listen: &str,
    n: usize,
) -> Option<(u16, String, bool, Option<String>)> {
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let response = client
        .post(&url)
        .header("authorization", bearer(&url))
        .header("content-type", "message/rfc822")
        .body(mail(
            &format!("full-{n}@example.ru"),
            "Обращение",
            &"Прошу проверить начисления за отопление в нашем доме. ".repeat(20),
        ))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body: serde_json::Value = response.json().await.ok()?;
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    let id = body["ids"][0].as_str().map(String::from);
    Some((status, code, retry_after, id))
}

async fn ready(client: &reqwest::Client, listen: &str) -> Option<(u16, serde_json::Value)> {
    let url = format!("http://{listen}/readyz");
    let response = client
        .get(&url)
        .header("authorization", bearer(&url))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or_default()))
}

/// What the senders saw.
#[derive(Default)]
struct Seen {
    /// Mail number → id, for every acknowledged mail.
    acknowledged: BTreeMap<usize, String>,
    /// Refusals by error code.
    refused: HashMap<String, usize>,
    /// Refusals without `Retry-After`.
    without_retry_after: usize,
}

/// Sends mails with 16 clients until `stop`, numbering them from `first`.
async fn load(listen: String, first: usize, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let next = Arc::new(AtomicUsize::new(first));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (next, client, listen, stop, seen) = (
            next.clone(),
            client.clone(),
            listen.clone(),
            stop.clone(),
            seen.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some((status, code, retry_after, id)) = send(&client, &listen, n).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let refused = {
                    let mut seen = seen.lock().unwrap();
                    match (status, id) {
                        (200 | 202, Some(id)) => {
                            seen.acknowledged.insert(n, id);
                            false
                        }
                        (503, _) => {
                            *seen.refused.entry(code).or_default() += 1;
                            seen.without_retry_after += usize::from(!retry_after);
                            true
                        }
                        (status, _) => panic!("mail {n}: the hub answered {status} {code}"),
                    }
                };
                if refused {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a sender");
    }
}

/// How many times each key reached the sink.
fn counts(sink: &Sink) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for key in sink.keys() {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_ingest_loses_nothing_repeats_no_delivery_and_recovers_by_itself() {
    let root = tempfile::tempdir().unwrap();
    let tmpfs = Tmpfs::mount(&root.path().join("small"), 256);
    let port = free_port();
    let sink = Sink::start(port).await;
    let test = TestHub::configure(
        &tmpfs.0,
        &format!("min_free_disk_mib = {RESERVE_MIB}"),
        &one_sink(&Sink::url(port, "r"), 100),
        &[],
    );
    let log = root.path().join("hub.log");
    let mut hub = test.spawn(Some(&log), None).await;
    let pid = hub.pid();
    let client = reqwest::Client::new();
    eventually_async("the hub is ready", || async {
        ready(&client, &test.listen)
            .await
            .is_some_and(|(s, _)| s == 200)
    })
    .await;

    // What the hub took at start (its compiled plugins, the store), and room to fill.
    let started_with = tmpfs.used_kib();
    tmpfs.resize(started_with + (ROOM_MIB << 10));

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sending = tokio::spawn(load(test.listen.clone(), 0, stop.clone(), seen.clone()));

    // The disk fills: ingest is refused as full, and the hub is not ready.
    let full_at = Instant::now();
    loop {
        let refused = seen.lock().unwrap().refused.get("storage_full").copied();
        if refused.unwrap_or(0) >= 50 {
            break;
        }
        assert!(
            full_at.elapsed() < LIMIT,
            "the disk never filled: {} acknowledged, refusals {:?}",
            seen.lock().unwrap().acknowledged.len(),
            seen.lock().unwrap().refused
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = ready(&client, &test.listen).await.expect("readyz answers");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["details"]["storage_full"], true, "{body}");

    // While full: the sink gets each message at most once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let while_full = counts(&sink);
    let repeated: Vec<_> = while_full.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "delivered again while full: {repeated:?}"
    );
    let (status, _) = ready(&client, &test.listen).await.expect("readyz answers");
    assert_eq!(status, 503, "still full");

    // Room again: the same process serves again, by itself.
    tmpfs.resize(started_with + (256 << 10));
    eventually_async("ready again once the disk has room", || async {
        ready(&client, &test.listen)
            .await
            .is_some_and(|(s, _)| s == 200)
    })
    .await;
    let acknowledged_when_full = seen.lock().unwrap().acknowledged.len();
    eventually("ingest acknowledged again", LIMIT, || {
        seen.lock().unwrap().acknowledged.len() >= acknowledged_when_full + 50
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    sending.await.unwrap();
    assert!(!hub.exited(), "the hub process kept running");
    assert_eq!(hub.pid(), pid);

    // Nothing acknowledged lost: every one reaches the sink and is delivered in the API.
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.acknowledged.len() >= 100,
        "{}",
        seen.acknowledged.len()
    );
    assert_eq!(seen.without_retry_after, 0, "every 503 says when to retry");
    assert!(
        seen.refused.keys().all(|code| code == "storage_full"),
        "refused only as full: {:?}",
        seen.refused
    );
    eventually("every acknowledged message reached the sink", LIMIT, || {
        let got = counts(&sink);
        seen.acknowledged.values().all(|id| got.contains_key(id))
    })
    .await;
    for id in seen.acknowledged.values() {
        let (status, record) = get_json(&format!("http://{}/v1/messages/{id}", test.listen)).await;
        assert_eq!(status, 200, "{id}: {record}");
        let state = record["state"].as_str().unwrap_or("").to_string();
        if state != "delivered" {
            eventually_async(&format!("{id} delivered in the API"), || async {
                let (_, record) =
                    get_json(&format!("http://{}/v1/messages/{id}", test.listen)).await;
                record["state"] == "delivered"
            })
            .await;
        }
    }
    hub.kill();

    // One line per change, not a storm.
    let log = std::fs::read_to_string(&log).unwrap();
    let lines = |text: &str| log.lines().filter(|l| l.contains(text)).count();
    let under = lines("under its reserve") + lines("stopped writing after an I/O error");
    assert!((1..=3).contains(&under), "{under} lines: {log}");
    assert!(log.lines().count() < 60, "a storm of log lines: {log}");
    eprintln!(
        "acknowledged {}, refused {:?}; log:\n{log}",
        seen.acknowledged.len(),
        seen.refused
    );
}

/// Polls an async check until it holds; panics after [`LIMIT`].
async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < LIMIT,
            "timed out after {LIMIT:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
