//! The hub end to end on loopback, as a separate process: e-mail ingest over HTTP → mail
//! decode → keywords → priority → route → a local HTTP sink.
//!
//! `cargo bench -p okno-tests --bench pipeline` prints (a) sustained throughput with the
//! durable journal, (b) ingest-to-delivery latency percentiles at a steady 1,000 messages/s,
//! (c) the hub process's peak RSS. Figures in README.
//!
//! The sink has the hub's default concurrency (16 deliveries at once);
//! `OKNO_BENCH_SINK_CONCURRENCY=N` sets another.
//!
//! `OKNO_BENCH_OVERLOAD=1` runs (d) instead: a load above capacity
//! (`OKNO_BENCH_OVERLOAD_CLIENTS`, 128 by default, each sending its next message as soon
//! as the last is answered) for `OKNO_BENCH_OVERLOAD_SECS` (20) seconds; it prints the
//! deliveries per second during the load, the drain rate once it stops (deliveries per
//! second until everything accepted is delivered), and their ratio.
//!
//! `OKNO_BENCH_QUEUE_CAPACITY` sets the hub's `queue_capacity` (50,000 by default): the
//! backlog past which ingest answers 503.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use okno_tests::{bearer, free_port, issue_tokens, mail, plugin, sha256_of};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn start_sink(port: u16) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            post(|State(a): State<Arrivals>, headers: HeaderMap| async move {
                if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
                    a.lock()
                        .unwrap()
                        .entry(key.to_string())
                        .or_insert_with(Instant::now);
                }
                "ok"
            }),
        )
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    arrivals
}

fn config(dir: &std::path::Path, listen: &str, sink_port: u16) -> std::path::PathBuf {
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nqueue_capacity = {}\nworkers = 2\n\n",
        dir.join("data").display(),
        env_number("OKNO_BENCH_QUEUE_CAPACITY", 50_000)
    );
    for (name, kind, settings) in [
        ("mail", "connector", ""),
        ("http-json", "connector", ""),
        ("keywords", "classifier", "[plugins.settings]\nrules.heating.words = \"отопление, батарея, холодно\"\nrules.heating.tags = \"heating\"\nrules.roads.words = \"дорога, яма\"\nrules.roads.tags = \"roads\"\n"),
        ("priority", "policy", ""),
    ] {
        let path = plugin(name);
        text.push_str(&format!("[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n{settings}\n", path.display(), sha256_of(&path)));
    }
    text.push_str("[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n[pipeline]\nclassifiers = [\"keywords\"]\npolicy = \"priority\"\n\n");
    text.push_str(&format!("[[sinks]]\nname = \"sink\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:{sink_port}/in\"\nconnector = \"http-json\"\n{}\n[[routes]]\nname = \"all\"\nsinks = [\"sink\"]\n", sink_concurrency()));
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    issue_tokens(&dir.join("data"), listen);
    path
}

/// The sink's `concurrency` line: empty for the hub's default.
fn sink_concurrency() -> String {
    match std::env::var("OKNO_BENCH_SINK_CONCURRENCY") {
        Ok(n) => format!(
            "concurrency = {}\n",
            n.parse::<usize>()
                .expect("OKNO_BENCH_SINK_CONCURRENCY must be a number")
        ),
        Err(_) => String::new(),
    }
}

fn body(i: usize) -> Vec<u8> {
    mail(
        &format!("bench-{i}-{}@example.ru", std::process::id()),
        "Нет отопления",
        "Здравствуйте! В нашем доме по улице Ленина уже третий день нет отопления, батареи холодные. Прошу принять меры.",
    )
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn wait_delivered(arrivals: &Arrivals, ids: &[String], limit: Duration) -> bool {
    let start = Instant::now();
    // Ids already seen delivered are not looked up again: the load generator shares the
    // hub's cores, and re-checking 20,000 ids every poll would take CPU from the hub.
    let mut seen = 0;
    loop {
        {
            let a = arrivals.lock().unwrap();
            while seen < ids.len() && a.contains_key(&ids[seen]) {
                seen += 1;
            }
        }
        if seen == ids.len() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let messages: usize = std::env::var("OKNO_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let sink_port = free_port();
    let listen = format!("127.0.0.1:{}", free_port());
    let arrivals = start_sink(sink_port).await;
    let config = config(dir.path(), &listen, sink_port);
    let hub = HubProcess(
        std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("starting the hub"),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the hub did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let post = |i: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            loop {
                let r = client
                    .post(&url)
                    .header("authorization", bearer(&url))
                    .body(body(i))
                    .send()
                    .await
                    .expect("the hub answers");
                if r.status().as_u16() == 503 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                assert_eq!(r.status().as_u16(), 202);
                let v: serde_json::Value = r.json().await.unwrap();
                return v["ids"][0].as_str().unwrap().to_string();
            }
        }
    };

    // Warm-up: compiles nothing (the cache) but fills connection pools and sled's caches.
    let warm: Vec<String> = futures_join(200, 32, &post)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(wait_delivered(&arrivals, &warm, Duration::from_secs(60)).await);

    if std::env::var_os("OKNO_BENCH_OVERLOAD").is_some() {
        overload(&client, &url, &arrivals, hub.0.id()).await;
        println!("    hub peak RSS: {} MiB", peak_rss_kib(hub.0.id()) / 1024);
        return;
    }

    // (a) Throughput: as fast as 64 concurrent clients can send; until all are delivered.
    let cpu0 = cpu_seconds(hub.0.id());
    let t0 = Instant::now();
    let sent = futures_join(messages, 64, &|i| post(1_000_000 + i)).await;
    let ingest_secs = t0.elapsed().as_secs_f64();
    let ids: Vec<String> = sent.into_iter().map(|(_, id)| id).collect();
    assert!(
        wait_delivered(&arrivals, &ids, Duration::from_secs(600)).await,
        "not all delivered"
    );
    let total_secs = t0.elapsed().as_secs_f64();
    let cpu_us = (cpu_seconds(hub.0.id()) - cpu0) / messages as f64 * 1e6;
    println!("    hub CPU per message: {cpu_us:.0} µs (user + system, all stages)");
    println!("(a) throughput: {messages} messages ingested in {ingest_secs:.2} s ({:.0}/s accepted), all delivered after {total_secs:.2} s ({:.0}/s end to end)", messages as f64 / ingest_secs, messages as f64 / total_secs);

    // (b) Latency at a steady 1,000 messages/s for 10 s, open loop.
    let rate = 1000usize;
    let count = rate * 10;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate as u64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        tick.tick().await;
        let post = post(2_000_000 + i);
        tasks.push(tokio::spawn(async move {
            let sent_at = Instant::now();
            (sent_at, post.await)
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for t in tasks {
        sent.push(t.await.unwrap());
    }
    let ids: Vec<String> = sent.iter().map(|(_, id)| id.clone()).collect();
    assert!(
        wait_delivered(&arrivals, &ids, Duration::from_secs(300)).await,
        "not all delivered"
    );
    let mut latencies: Vec<Duration> = {
        let a = arrivals.lock().unwrap();
        sent.iter()
            .map(|(at, id)| a[id].saturating_duration_since(*at))
            .collect()
    };
    latencies.sort();
    let p = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    println!("(b) ingest-to-delivery at {rate}/s over {count} messages: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", p(0.5), p(0.99), p(1.0));

    // The part of ingest spent waiting for the group commit (the disk flush).
    let metrics_url = format!("http://{listen}/metrics");
    let metrics = client
        .get(&metrics_url)
        .header("authorization", bearer(&metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let flush = |series: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("okno_stage_seconds_{series}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("/metrics has no okno_stage_seconds_{series}"))
    };
    let count = flush("count{stage=\"flush\"}");
    let over_25ms = count - flush("bucket{le=\"0.025\",stage=\"flush\"}");
    println!(
        "    ingest waited for the disk flush {:.1} ms on average, over 25 ms {over_25ms} times of {count} (whole run)",
        flush("sum{stage=\"flush\"}") / count.max(1.0) * 1000.0
    );

    // Where the slowest messages waited: their traces, as the hub recorded them.
    let mut slowest: Vec<(Duration, &str)> = {
        let a = arrivals.lock().unwrap();
        sent.iter()
            .map(|(at, id)| (a[id].saturating_duration_since(*at), id.as_str()))
            .collect()
    };
    slowest.sort();
    for (latency, id) in slowest.iter().rev().take(3) {
        let record_url = format!("http://{listen}/v1/messages/{id}");
        let record: serde_json::Value = client
            .get(&record_url)
            .header("authorization", bearer(&record_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let trace = record["trace"].as_array().cloned().unwrap_or_default();
        let first = trace.first().and_then(|t| t["at"].as_i64()).unwrap_or(0);
        let steps: Vec<String> = trace
            .iter()
            .map(|t| {
                format!(
                    "{}@+{}ms({}µs)",
                    t["stage"].as_str().unwrap_or("?"),
                    t["at"].as_i64().unwrap_or(0) - first,
                    t["duration_us"]
                )
            })
            .collect();
        println!(
            "    slow: {:.1} ms: {}",
            latency.as_secs_f64() * 1000.0,
            steps.join(" ")
        );
    }

    // (c) Peak RSS of the hub process.
    println!("(c) hub peak RSS: {} MiB", peak_rss_kib(hub.0.id()) / 1024);
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}

/// (d) A load above capacity, then the drain. Clients send unpaced; a 503 is answered by
/// the same message again after 5 ms, as (a)'s clients do. Deliveries are counted at the
/// sink every 100 ms.
async fn overload(client: &reqwest::Client, url: &str, arrivals: &Arrivals, pid: u32) {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    let clients = env_number("OKNO_BENCH_OVERLOAD_CLIENTS", 128) as usize;
    let secs = env_number("OKNO_BENCH_OVERLOAD_SECS", 20);
    let base = arrivals.lock().unwrap().len();
    let delivered = || arrivals.lock().unwrap().len() - base;
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(3_000_000));
    let refused = Arc::new(AtomicU64::new(0));
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url) = (client.clone(), url.to_string());
        let (stop, next, refused, accepted) = (
            stop.clone(),
            next.clone(),
            refused.clone(),
            accepted.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                loop {
                    let r = client
                        .post(&url)
                        .header("authorization", bearer(&url))
                        .body(body(i))
                        .send()
                        .await
                        .expect("the hub answers");
                    if r.status().as_u16() == 503 {
                        refused.fetch_add(1, Ordering::Relaxed);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    assert_eq!(r.status().as_u16(), 202);
                    let v: serde_json::Value = r.json().await.unwrap();
                    let id = v["ids"][0].as_str().unwrap().to_string();
                    accepted.lock().unwrap().push(id);
                    break;
                }
            }
        }));
    }
    // Deliveries each second of the load, to show whether the pace holds.
    let mut per_second = Vec::new();
    let mut last = 0;
    for _ in 0..secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = delivered();
        per_second.push(now - last);
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let load_secs = t0.elapsed().as_secs_f64();
    let load_cpu = cpu_seconds(pid) - cpu0;
    let during = delivered();
    let ids = accepted.lock().unwrap().clone();
    let backlog = ids.len() - during.min(ids.len());
    let t1 = Instant::now();
    let cpu1 = cpu_seconds(pid);
    assert!(
        wait_delivered(arrivals, &ids, Duration::from_secs(900)).await,
        "not all accepted messages were delivered"
    );
    let drain_secs = t1.elapsed().as_secs_f64();
    let drain_cpu = cpu_seconds(pid) - cpu1;
    let drained = delivered() - during;
    let during_rate = during as f64 / load_secs;
    // The second half of the load: the pace once the backlog's bound (if any) is reached.
    let half = &per_second[per_second.len() / 2..];
    let steady_rate = half.iter().sum::<usize>() as f64 / half.len().max(1) as f64;
    let drain_rate = drained as f64 / drain_secs;
    println!(
        "(d) overload: {clients} clients for {load_secs:.1} s: {} accepted ({:.0}/s), {} answered 503, {during} delivered during the load ({during_rate:.0}/s; second half {steady_rate:.0}/s); hub CPU {:.0}%",
        ids.len(),
        ids.len() as f64 / load_secs,
        refused.load(Ordering::Relaxed),
        load_cpu / load_secs * 100.0
    );
    println!("    deliveries each second of the load: {per_second:?}");
    println!(
        "    drain: {backlog} left at the load's end, delivered in {drain_secs:.2} s ({drain_rate:.0}/s); hub CPU {:.0}%",
        drain_cpu / drain_secs.max(1e-9) * 100.0
    );
    println!(
        "    during the load / drain: {:.0}% (second half: {:.0}%)",
        during_rate / drain_rate * 100.0,
        steady_rate / drain_rate * 100.0
    );
}

/// The hub process, killed when the benchmark ends, however it ends.
struct HubProcess(std::process::Child);

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `n` posts with at most `concurrency` in flight; returns (index, id).
async fn futures_join<F, Fut>(n: usize, concurrency: usize, post: &F) -> Vec<(usize, String)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let fut = post(i);
        tasks.push(tokio::spawn(async move {
            let id = fut.await;
            drop(permit);
            (i, id)
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
