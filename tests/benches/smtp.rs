//! SMTP in: mails per second answered `250` by the hub (each journaled and flushed to
//! disk first), against aiosmtpd on the same machine, which keeps nothing, as the
//! reference. The hub runs as its own process with the mail connector, no classifiers,
//! and a route to a local HTTP sink; the clients are lettre with pooled connections.
//!
//! `cargo bench -p okno-tests --bench smtp`; `OKNO_BENCH_MESSAGES` (default 5,000) and
//! `OKNO_BENCH_CLIENTS` (default 16, connections at once) change the load. Needs
//! `python3 -m pip install aiosmtpd`. Figures in README.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use okno_tests::{free_port, mail, plugin, sha256_of};

const RECEPTION: &str = "priemnaya@minsoc.example.ru";

/// aiosmtpd answering 250 to every message and keeping none.
const REFERENCE: &str = r#"
import sys, time
from aiosmtpd.controller import Controller

class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
while True:
    time.sleep(3600)
"#;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

async fn wait_for(addr: &str) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `messages` mails over `clients` connections; returns the seconds taken and the
/// sorted per-mail latencies.
async fn load(port: u16, messages: usize, clients: usize, tag: &str) -> (f64, Vec<Duration>) {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(Duration::from_secs(60)))
        .pool_config(PoolConfig::new().max_size(clients as u32))
        .build();
    let envelope = Envelope::new(
        Some("citizen@example.ru".parse::<Address>().unwrap()),
        vec![RECEPTION.parse::<Address>().unwrap()],
    )
    .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (transport, envelope, next) = (transport.clone(), envelope.clone(), next.clone());
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return latencies;
                }
                let bytes = mail(
                    &format!("smtp-bench-{tag}-{i}-{}@example.ru", std::process::id()),
                    "Нет отопления",
                    "Здравствуйте! В нашем доме по улице Ленина уже третий день нет отопления, батареи холодные. Прошу принять меры.",
                );
                let sent = Instant::now();
                let response = transport
                    .send_raw(&envelope, &bytes)
                    .await
                    .unwrap_or_else(|e| panic!("mail {i}: {e}"));
                assert!(response.is_positive(), "mail {i}: {response:?}");
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    (seconds, latencies)
}

fn report(what: &str, messages: usize, (seconds, latencies): (f64, Vec<Duration>)) {
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{what}: {messages} mails in {seconds:.2} s = {:.0} mails/s; latency p50 {:.1} ms, p99 {:.1} ms",
        messages as f64 / seconds,
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
}

#[tokio::main]
async fn main() {
    let messages = setting("OKNO_BENCH_MESSAGES", 5_000);
    let clients = setting("OKNO_BENCH_CLIENTS", 16);
    let dir = tempfile::tempdir().unwrap();

    // The reference first, alone on the machine.
    let reference_port = free_port();
    let script = dir.path().join("reference.py");
    std::fs::write(&script, REFERENCE).unwrap();
    let reference = Child(
        std::process::Command::new("python3")
            .arg(&script)
            .arg(reference_port.to_string())
            .spawn()
            .expect("python3 with aiosmtpd (python3 -m pip install aiosmtpd)"),
    );
    wait_for(&format!("127.0.0.1:{reference_port}")).await;
    report(
        "aiosmtpd (keeps nothing)",
        messages,
        load(reference_port, messages, clients, "ref").await,
    );
    drop(reference);

    // A sink that takes every delivery, so the pipeline behind the listener keeps up.
    let sink_port = free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", sink_port))
        .await
        .unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new().route("/{*path}", post(|| async { "ok" })),
        )
        .await
    });

    let listen = format!("127.0.0.1:{}", free_port());
    let smtp_port = free_port();
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nqueue_capacity = 50000\nworkers = 2\n\n",
        dir.path().join("data").display()
    );
    for (name, kind) in [("mail", "connector"), ("http-json", "connector")] {
        let path = plugin(name);
        text.push_str(&format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n\n",
            path.display(),
            sha256_of(&path)
        ));
    }
    text.push_str(&format!(
        "[[sources]]\nname = \"smtp-mail\"\ntransport = \"smtp\"\nconnector = \"mail\"\n\
         [sources.smtp]\nlisten = \"127.0.0.1:{smtp_port}\"\nrecipients = [\"{RECEPTION}\"]\n\
         max_connections = {}\n\n\
         [[sinks]]\nname = \"registry\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:{sink_port}/r\"\n\
         connector = \"http-json\"\n\n[[routes]]\nname = \"all\"\nsinks = [\"registry\"]\n",
        clients.max(1) * 2
    ));
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    let hub = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("starting the hub"),
    );
    wait_for(&format!("127.0.0.1:{smtp_port}")).await;
    report(
        "okno SMTP in (journaled and flushed before 250)",
        messages,
        load(smtp_port, messages, clients, "okno").await,
    );
    drop(hub);
}
