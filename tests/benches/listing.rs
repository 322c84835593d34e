//! Listing messages with a filter, on a store of many: through the listing indexes, and
//! as the hub read them before (every record from the start, filtered), in-process; then
//! over HTTP, with eight listings running at once while `/healthz` is timed.
//!
//! `cargo bench -p okno-tests --bench listing` (`OKNO_BENCH_MESSAGES=5400,50000` sets the
//! store sizes). The store is filled through the store's own API with records of about
//! 2.5 KB: 90% delivered, 5% routed, 5% failed, over 40 topic codes. Figures in README.

use std::time::{Duration, Instant};

use okno_hub::model::{Channel, Classification, Message, Topic, TopicAssignment};
use okno_hub::store::{ListFilter, State, Store};
use okno_tests::{bearer, free_port, issue_tokens};

const CODES: [&str; 4] = [
    "0003.0009.0097",
    "0003.0008.0086",
    "0005.0005.0056",
    "0002.0006.0067",
];

fn code(n: usize) -> String {
    format!("{}.{:04}", CODES[n % 4], 600 + (n / 4) % 10)
}

fn fill(store: &Store, messages: usize) {
    let body = "Здравствуйте! В нашем доме по улице Ленина уже третий день нет отопления, батареи холодные, дети болеют. ".repeat(12);
    for n in 0..messages {
        let mut m: Message =
            serde_json::from_value(serde_json::json!({"channel": Channel::Mail, "body": body}))
                .unwrap();
        m.idempotency_key = Some(format!("fill-{n}@example.ru"));
        m.subject = Some("Нет отопления".into());
        let id = store
            .accept("mail", vec![m], 1_700_000_000_000 + n as i64, &[])
            .unwrap()
            .remove(0)
            .id;
        store.done_pending(&id).unwrap();
        let state = match n % 20 {
            0 => State::Failed,
            1 => State::Routed,
            _ => State::Delivered,
        };
        store
            .update(&id, |r| {
                r.state = state;
                r.classification = Some(Classification {
                    topic: Some(TopicAssignment {
                        best: Topic {
                            code: code(n % 40),
                            name: "Отопление".into(),
                            confidence: 0.8,
                        },
                        alternatives: vec![],
                        low_confidence: false,
                        reasons: vec!["слова: отопление, батареи".into()],
                    }),
                    ..Default::default()
                });
            })
            .unwrap();
    }
}

/// What the hub did before the indexes: every record from the start, parsed and
/// filtered, until a page is full.
fn list_by_scan(store: &Store, filter: &ListFilter, limit: usize) -> usize {
    store
        .scan_messages(None)
        .map(|r| r.unwrap())
        .filter(|r| filter.matches(r))
        .take(limit)
        .count()
}

fn list_by_index(store: &Store, filter: &ListFilter, limit: usize) -> usize {
    store
        .list(filter.clone(), None)
        .unwrap()
        .map(|r| r.unwrap())
        .take(limit)
        .count()
}

/// Mean and max ms of `rounds` calls.
fn time(rounds: usize, mut call: impl FnMut() -> usize) -> (f64, f64, usize) {
    let mut total = Duration::ZERO;
    let mut max = Duration::ZERO;
    let mut found = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        found = call();
        let took = started.elapsed();
        total += took;
        max = max.max(took);
    }
    (
        total.as_secs_f64() * 1000.0 / rounds as f64,
        max.as_secs_f64() * 1000.0,
        found,
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("OKNO_BENCH_MESSAGES")
        .unwrap_or_else(|_| "5400".into())
        .split(',')
        .map(|n| n.trim().parse().expect("OKNO_BENCH_MESSAGES: numbers"))
        .collect();
    let filters = [
        (
            "state=failed",
            ListFilter {
                state: Some(State::Failed),
                ..Default::default()
            },
        ),
        (
            "topic=0005.0005",
            ListFilter {
                topic: Some("0005.0005".into()),
                ..Default::default()
            },
        ),
        (
            "topic=0009 (matches none)",
            ListFilter {
                topic: Some("0009".into()),
                ..Default::default()
            },
        ),
        (
            "state=delivered&topic=0002.0006.0067.0603",
            ListFilter {
                state: Some(State::Delivered),
                topic: Some("0002.0006.0067.0603".into()),
                ..Default::default()
            },
        ),
    ];
    for messages in sizes {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = Store::open(&data).unwrap();
        let started = Instant::now();
        fill(&store, messages);
        println!(
            "\n{messages} messages, filled in {:.1} s, {} MB on disk",
            started.elapsed().as_secs_f64(),
            store.size_on_disk() >> 20
        );
        println!("| filter (page of 50) | scan mean ms | scan max ms | index mean ms | index max ms | found |");
        println!("|---|---|---|---|---|---|");
        for (name, filter) in &filters {
            let (scan_mean, scan_max, found_scan) = time(10, || list_by_scan(&store, filter, 50));
            let (index_mean, index_max, found) = time(10, || list_by_index(&store, filter, 50));
            assert_eq!(
                found, found_scan,
                "{name}: the index finds what the scan finds"
            );
            println!("| {name} | {scan_mean:.1} | {scan_max:.1} | {index_mean:.2} | {index_max:.2} | {found} |");
        }
        drop(store);

        // Over HTTP: a hub on that store, with no plugins; eight clients list by topic
        // as fast as they are answered while another asks /healthz every 20 ms.
        let listen = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("okno.toml");
        std::fs::write(
            &config,
            format!(
                "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\n",
                data.display()
            ),
        )
        .unwrap();
        issue_tokens(&data, &listen);
        let (_hub, addr) = okno_hub::cli::serve::start(config, Default::default())
            .await
            .expect("the hub starts");
        let client = reqwest::Client::new();
        let list_url = format!("http://{addr}/v1/messages?topic=0005.0005&limit=50");
        let authorization = bearer(&list_url);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut listers = Vec::new();
        for _ in 0..8 {
            let (client, url, authorization, stop) = (
                client.clone(),
                list_url.clone(),
                authorization.clone(),
                stop.clone(),
            );
            listers.push(tokio::spawn(async move {
                let mut times = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let response = client
                        .get(&url)
                        .header("authorization", &authorization)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200);
                    let _ = response.bytes().await.unwrap();
                    times.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                times
            }));
        }
        let mut health = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let started = Instant::now();
            let response = client
                .get(format!("http://{addr}/healthz"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            health.push(started.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut listings = Vec::new();
        for lister in listers {
            listings.extend(lister.await.unwrap());
        }
        health.sort_by(f64::total_cmp);
        listings.sort_by(f64::total_cmp);
        println!(
            "HTTP, 8 listings at once (topic=0005.0005, 50 a page): {} listings in 5 s, p50 {:.1} ms, p99 {:.1} ms; /healthz p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            listings.len(),
            percentile(&listings, 0.5),
            percentile(&listings, 0.99),
            percentile(&health, 0.5),
            percentile(&health, 0.99),
            health.last().unwrap()
        );
    }
}
