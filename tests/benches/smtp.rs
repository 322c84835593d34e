//! SMTP in: mails per second answered `250` by the hub, each journaled and flushed to
//! disk first, against aiosmtpd on the same machine as the reference: once keeping
//! nothing (a plain sink, the fastest an SMTP server can answer on this machine), once
//! writing each mail to a file and fsyncing it before its `250` (the promise the hub
//! makes). The hub runs as its own process with the mail connector, no classifiers, and a
//! route to a local HTTP sink, so its pipeline decodes and delivers while it takes mail;
//! the clients are plain SMTP connections (TCP_NODELAY, one command at a time), on the
//! same cores.
//!
//! Every `250` from the hub must name the message's id, every id must differ, and the
//! hub's `okno_ingested_total` must count every mail sent: a figure for mails refused or
//! merged would not be a throughput.
//!
//! `cargo bench -p okno-tests --bench smtp`; `OKNO_BENCH_MESSAGES` (default 5,000),
//! `OKNO_BENCH_CLIENTS` (default 16, connections at once) and `OKNO_BENCH_WARMUP`
//! (default 200 mails sent to each server first, not counted) change the load. Needs
//! `python3 -m pip install aiosmtpd`. Figures in README.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use okno_tests::{bearer, free_port, issue_tokens, mail, plugin, sha256_of};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const RECEPTION: &str = "priemnaya@minsoc.example.ru";

/// aiosmtpd answering 250 to every message. With a directory as its second argument it
/// writes each message there and fsyncs the file (in a thread, so that other sessions go
/// on meanwhile) before answering; without one it keeps nothing.
const REFERENCE: &str = r#"
import asyncio, os, sys, time, itertools
from aiosmtpd.controller import Controller

keep = sys.argv[2] if len(sys.argv) > 2 else None
numbers = itertools.count()

def write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        if keep is not None:
            path = os.path.join(keep, "%d.eml" % next(numbers))
            await asyncio.get_running_loop().run_in_executor(None, write, path, envelope.original_content)
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

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    fields.iter().sum::<f64>() / 100.0
}

/// What one load run measured.
struct Run {
    seconds: f64,
    /// Per mail, sorted.
    latencies: Vec<Duration>,
    /// The server's last reply line to each mail.
    replies: Vec<String>,
}

/// One SMTP client connection: each command written whole with TCP_NODELAY and its answer
/// awaited, as a mail server relaying to the hub would. (lettre's client writes a message
/// in pieces without TCP_NODELAY, so each mail waited out the peer's 40 ms delayed ACK,
/// which capped every server alike at about 340 mails/s.)
struct Connection {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Connection {
    async fn open(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (read, writer) = stream.into_split();
        let mut connection = Connection {
            reader: BufReader::new(read),
            writer,
        };
        connection.expect("220").await;
        connection.send(b"EHLO bench.example.ru\r\n").await;
        connection.expect("250").await;
        connection
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The whole answer (its last line's text), checked to carry `code`.
    async fn expect(&mut self, code: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.get(4..).unwrap_or("").trim_end().to_string();
            }
        }
    }

    /// One mail: MAIL, RCPT, DATA, the dot-stuffed message; the `250` answer's text.
    async fn mail(&mut self, message: &[u8]) -> String {
        self.send(b"MAIL FROM:<citizen@example.ru>\r\n").await;
        self.expect("250").await;
        self.send(format!("RCPT TO:<{RECEPTION}>\r\n").as_bytes())
            .await;
        self.expect("250").await;
        self.send(b"DATA\r\n").await;
        self.expect("354").await;
        let mut data = Vec::with_capacity(message.len() + 8);
        for line in message.split_inclusive(|b| *b == b'\n') {
            if line.first() == Some(&b'.') {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        self.send(&data).await;
        self.expect("250").await
    }
}

/// Sends `messages` mails over `clients` connections, as fast as the server answers.
async fn load(port: u16, messages: usize, clients: usize, tag: &str) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let next = next.clone();
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(port).await;
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    connection.send(b"QUIT\r\n").await;
                    return done;
                }
                let bytes = mail(
                    &format!("smtp-bench-{tag}-{i}-{}@example.ru", std::process::id()),
                    "Нет отопления",
                    "Здравствуйте! В нашем доме по улице Ленина уже третий день нет отопления, батареи холодные. Прошу принять меры.",
                );
                let sent = Instant::now();
                let reply = connection.mail(&bytes).await;
                done.push((sent.elapsed(), reply));
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut replies = Vec::new();
    for task in tasks {
        for (latency, reply) in task.await.unwrap() {
            latencies.push(latency);
            replies.push(reply);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(latencies.len(), messages, "every mail was answered");
    latencies.sort();
    Run {
        seconds,
        latencies,
        replies,
    }
}

fn report(what: &str, run: &Run) {
    let latencies = &run.latencies;
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{what}: {} mails in {:.2} s = {:.0} mails/s; latency p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        run.seconds,
        latencies.len() as f64 / run.seconds,
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
}

/// Runs aiosmtpd (keeping mail in `keep` if given), warms it up, and measures it.
async fn reference(
    script: &std::path::Path,
    keep: Option<&std::path::Path>,
    messages: usize,
    clients: usize,
    warmup: usize,
) -> Run {
    let port = free_port();
    let mut command = std::process::Command::new("python3");
    command.arg(script).arg(port.to_string());
    if let Some(keep) = keep {
        std::fs::create_dir_all(keep).unwrap();
        command.arg(keep);
    }
    let _server = Child(
        command
            .spawn()
            .expect("python3 with aiosmtpd (python3 -m pip install aiosmtpd)"),
    );
    wait_for(&format!("127.0.0.1:{port}")).await;
    load(port, warmup, clients, "ref-warmup").await;
    let run = load(port, messages, clients, "ref").await;
    if let Some(keep) = keep {
        let kept = std::fs::read_dir(keep).unwrap().count();
        assert_eq!(kept, warmup + messages, "aiosmtpd kept every mail");
    }
    run
}

/// The value of a counter or gauge without labels in an OpenMetrics text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("/metrics has no {name}:\n{text}"))
}

#[tokio::main]
async fn main() {
    let messages = setting("OKNO_BENCH_MESSAGES", 5_000);
    let clients = setting("OKNO_BENCH_CLIENTS", 16).max(1);
    let warmup = setting("OKNO_BENCH_WARMUP", 200);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("reference.py");
    std::fs::write(&script, REFERENCE).unwrap();

    // The references first, each alone on the machine.
    let plain = reference(&script, None, messages, clients, warmup).await;
    report("aiosmtpd, keeps nothing", &plain);
    let kept = reference(
        &script,
        Some(&dir.path().join("kept")),
        messages,
        clients,
        warmup,
    )
    .await;
    report("aiosmtpd, writes and fsyncs each mail before 250", &kept);

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
    let data = dir.path().join("data");
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nqueue_capacity = 50000\nworkers = 2\n\n",
        data.display()
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
        clients * 2
    ));
    let config = dir.path().join("okno.toml");
    std::fs::write(&config, text).unwrap();
    // The metrics token, for reading back what the hub counted.
    issue_tokens(&data, &listen);
    let hub = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("starting the hub"),
    );
    wait_for(&format!("127.0.0.1:{smtp_port}")).await;
    load(smtp_port, warmup, clients, "okno-warmup").await;
    let cpu_before = cpu_seconds(hub.0.id());
    let run = load(smtp_port, messages, clients, "okno").await;
    let cpu = cpu_seconds(hub.0.id()) - cpu_before;

    // Each 250 named its own message.
    let mut ids = HashSet::new();
    for reply in &run.replies {
        let id = reply
            .strip_prefix("2.0.0 accepted as ")
            .unwrap_or_else(|| panic!("a 250 that names no message: {reply}"));
        assert!(ids.insert(id.to_string()), "{id} was answered twice");
    }
    let metrics_url = format!("http://{listen}/metrics");
    let metrics = reqwest::Client::new()
        .get(&metrics_url)
        .header("authorization", bearer(&metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ingested = metric(&metrics, "okno_ingested_total");
    assert_eq!(
        ingested as usize,
        warmup + messages,
        "the hub counted every mail it answered 250"
    );
    report("okno SMTP in (journaled and flushed before 250)", &run);
    println!(
        "    the hub spent {:.0} µs of CPU per mail (listener, journal, decode, delivery)",
        cpu / messages as f64 * 1e6
    );
    drop(hub);
}
