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

/// Citizens' appeals (`tests/data/appeals_train.jsonl`, 43 real texts), so that the mails
/// carry the wording a compressor meets in service rather than one paragraph repeated.
fn appeals() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/appeals_train.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|line| {
            let appeal: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            appeal["text"]
                .as_str()
                .expect("an appeal's text")
                .to_string()
        })
        .collect()
}

/// Mail `i`: about 1.5 KB, its body about 1,150 bytes of appeal `i` (cut at a word, or
/// followed by the next appeals when it is shorter).
fn body(appeals: &[String], i: usize) -> Vec<u8> {
    const BODY_BYTES: usize = 1_150;
    let mut text = String::new();
    for appeal in appeals.iter().cycle().skip(i % appeals.len()) {
        for word in appeal.split_whitespace() {
            if text.len() + word.len() + 1 > BODY_BYTES {
                return mail(
                    &format!("disk-{i}-{}@example.ru", std::process::id()),
                    "Обращение",
                    &text,
                );
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(word);
        }
        text.push('\n');
    }
    unreachable!("the appeals are not empty")
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
    let appeals = Arc::new(appeals());
    // The mean size of the mails sent.
    let raw = (0..appeals.len())
        .map(|i| body(&appeals, i).len())
        .sum::<usize>()
        / appeals.len();
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/sources/mail/messages", test.listen);
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::with_capacity(messages);
    for i in 0..messages {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let (client, url, appeals) = (client.clone(), url.clone(), appeals.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let response = client
                    .post(&url)
                    .header("authorization", bearer(&url))
                    .body(body(&appeals, i))
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
    // Every message delivered, or dead-lettered: on a machine shared with builds a
    // classifier can overrun its CPU limit now and then, and the record stays all the same.
    let metrics_url = format!("http://{}/metrics", test.listen);
    let dead = loop {
        let text = client
            .get(&metrics_url)
            .header("authorization", bearer(&metrics_url))
            .send()
            .await
            .expect("the hub answers")
            .text()
            .await
            .expect("the metrics");
        let dead = text
            .lines()
            .find_map(|l| l.strip_prefix("okno_dead_letters_total "))
            .map_or(0, |n| n.trim().parse::<f64>().expect("a count") as usize);
        // Distinct messages: a delivery whose answer came too late is sent again (at
        // least once), and counting the copies would stop the run early.
        let delivered = sink
            .keys()
            .into_iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if delivered + dead >= messages {
            break dead;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3600),
            "not every message delivered or dead-lettered within an hour"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    hub.kill();

    let store_dir = test.data_dir().join("db");
    let on_disk = allocated(&store_dir);
    println!(
        "{messages} messages of {raw} bytes ({dead} dead-lettered), through in {elapsed:.0} s; the store's directory: {:.1} MiB, {:.0} bytes a message ({:.1}× the raw message)",
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
    // What one record holds, field by field, as JSON.
    let first = store
        .scan_messages(None)
        .next()
        .expect("a record")
        .expect("a readable record");
    let json = serde_json::to_value(&first).expect("a record as JSON");
    if std::env::var_os("OKNO_BENCH_SHOW_RECORD").is_some() {
        println!("{}", serde_json::to_string_pretty(&first).unwrap());
    }
    let fields: Vec<String> = json
        .as_object()
        .expect("a record is an object")
        .iter()
        .map(|(name, value)| format!("{name} {}", value.to_string().len()))
        .collect();
    println!(
        "  one record as JSON: {} bytes: {}",
        json.to_string().len(),
        fields.join(", ")
    );
    // The record's compression: zstd's level and the dictionary, on the first records.
    let sample: Vec<Vec<u8>> = store
        .scan_messages(None)
        .take(2_000)
        .map(|r| serde_json::to_vec(&r.expect("a readable record")).unwrap())
        .collect();
    let json_bytes: usize = sample.iter().map(Vec::len).sum();
    println!(
        "  records as JSON: {:.0} bytes each ({} records)",
        json_bytes as f64 / sample.len() as f64,
        sample.len()
    );
    for (level, dictionary) in [(3, false), (3, true), (9, false), (9, true), (19, true)] {
        let mut compressor =
            okno_hub::store::encoding::compressor(level, dictionary).expect("a zstd compressor");
        let started = Instant::now();
        let mut compressed = 0usize;
        for json in &sample {
            compressed += compressor
                .compress(json)
                .expect("compressing a record")
                .len();
        }
        println!(
            "  zstd level {level:>2} {:<18} {:>6.0} bytes a record, {:>5.0} µs a record",
            if dictionary {
                "with the dictionary"
            } else {
                "alone"
            },
            compressed as f64 / sample.len() as f64,
            started.elapsed().as_secs_f64() * 1e6 / sample.len() as f64
        );
    }
    println!(
        "  all trees: {:.0} bytes a message as stored; the directory holds {:.1}× that",
        logical as f64 / messages as f64,
        on_disk as f64 / logical.max(1) as f64
    );
}
