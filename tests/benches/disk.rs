//! Bytes on disk per message: the hub as its own process takes `OKNO_BENCH_MESSAGES`
//! (100,000 by default) e-mails of about 1.5 KB through the mail connector, the five
//! reference classifiers, the priority policy and one http-json sink; once every one is
//! delivered, the hub is stopped and the store's directory measured (blocks allocated),
//! then opened here to count what each tree holds (keys and values as stored).
//!
//! `cargo bench -p okno-tests --bench disk`. Figures in README.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use okno_tests::*;

/// Blocks allocated under `dir`, in bytes (what the files really take on the disk).
fn allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("the store's directory") {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            allocated(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

/// A mail of about 1.5 KB, as citizens write them.
fn body(i: usize) -> Vec<u8> {
    let text = "Здравствуйте! В нашем доме по улице Ленина, 15 уже третий день нет отопления, \
                батареи холодные, в квартирах 14 градусов. Управляющая компания на звонки не \
                отвечает. Прошу принять меры и сообщить, когда подадут тепло. ";
    mail(
        &format!("disk-{i}-{}@example.ru", std::process::id()),
        "Нет отопления",
        &text.repeat(3),
    )
}

#[tokio::main]
async fn main() {
    let messages: usize = std::env::var("OKNO_BENCH_MESSAGES")
        .ok()
        .map(|v| v.parse().expect("OKNO_BENCH_MESSAGES must be a number"))
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let test = TestHub::configure(
        dir.path(),
        "queue_capacity = 50000",
        &one_sink(&Sink::url(port, "r"), 100),
        &[],
    );
    let mut hub = test.spawn(None, None).await;
    let raw = body(0).len();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/sources/mail/messages", test.listen);
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::with_capacity(messages);
    for i in 0..messages {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let response = client
                    .post(&url)
                    .header("authorization", bearer(&url))
                    .body(body(i))
                    .send()
                    .await
                    .expect("the hub answers");
                match response.status().as_u16() {
                    202 => break,
                    503 => tokio::time::sleep(Duration::from_millis(20)).await,
                    status => panic!("mail {i}: {status}"),
                }
            }
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    eventually("every message delivered", Duration::from_secs(3600), || {
        sink.received.lock().unwrap().len() >= messages
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    hub.kill();

    let store_dir = test.data_dir().join("db");
    let on_disk = allocated(&store_dir);
    println!(
        "{messages} messages of {raw} bytes, delivered in {elapsed:.0} s; the store's directory: {:.1} MiB, {:.0} bytes a message ({:.1}× the raw message)",
        on_disk as f64 / (1 << 20) as f64,
        on_disk as f64 / messages as f64,
        on_disk as f64 / messages as f64 / raw as f64
    );

    // What each tree holds, as stored (keys and values).
    let store = okno_hub::store::Store::open(&test.data_dir()).expect("the store opens");
    let mut trees = vec![
        "messages".to_string(),
        "idempotency-sha256".into(),
        "pending".into(),
        "outbox".into(),
        "dead".into(),
        "corrections".into(),
        "index".into(),
        "sla_appeals".into(),
        "sla_timers".into(),
    ];
    for plugin in [
        "mail",
        "http-json",
        "topics",
        "pii",
        "sentiment",
        "kind",
        "keywords",
        "priority",
    ] {
        trees.push(format!("kv:{plugin}"));
    }
    let mut logical = 0u64;
    for name in &trees {
        let tree = store.tree(name).expect("a tree");
        let (mut entries, mut bytes) = (0u64, 0u64);
        for item in tree.iter() {
            let (key, value) = item.expect("an entry");
            entries += 1;
            bytes += (key.len() + value.len()) as u64;
        }
        logical += bytes;
        if entries > 0 {
            println!(
                "  {name:<20} {entries:>8} entries {:>10.1} MiB {:>8.0} bytes a message",
                bytes as f64 / (1 << 20) as f64,
                bytes as f64 / messages as f64
            );
        }
    }
    println!(
        "  all trees: {:.0} bytes a message as stored; the directory holds {:.1}× that",
        logical as f64 / messages as f64,
        on_disk as f64 / logical.max(1) as f64
    );
}
