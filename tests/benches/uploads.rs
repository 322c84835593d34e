//! Memory under slow uploads: the hub as its own process, fifty clients each declaring a
//! 9 MB body, sending half of it and holding the connection, then finishing slowly. The
//! hub's peak RSS is printed beside the bound the body budget sets
//! (`base + body_budget_mib`).
//!
//! `cargo bench -p okno-tests --bench uploads`

use std::time::{Duration, Instant};

use okno_tests::{bearer, free_port, issue_tokens, plugin, sha256_of};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CLIENTS: usize = 50;
const BODY: usize = 9_000_000;
/// The hub's default; `OKNO_BENCH_BUDGET_MIB` sets another (a large one shows the
/// hub without the bound).
fn budget_mib() -> u64 {
    std::env::var("OKNO_BENCH_BUDGET_MIB")
        .ok()
        .map(|v| v.parse().expect("OKNO_BENCH_BUDGET_MIB must be a number"))
        .unwrap_or(128)
}

fn kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn config(dir: &std::path::Path, listen: &str) -> std::path::PathBuf {
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nworkers = 2\nbody_budget_mib = {}\nrequest_timeout_ms = 600000\n\n",
        dir.join("data").display(),
        budget_mib()
    );
    for (name, kind) in [("mail", "connector"), ("http-json", "connector")] {
        let path = plugin(name);
        text.push_str(&format!(
            "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n\n",
            path.display(),
            sha256_of(&path)
        ));
    }
    text.push_str("[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n[[sinks]]\nname = \"sink\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/in\"\nconnector = \"http-json\"\n\n[[routes]]\nname = \"all\"\nsinks = [\"sink\"]\n");
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).unwrap();
    issue_tokens(&dir.join("data"), listen);
    path
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = config(dir.path(), &listen);
    let mut hub = std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("starting the hub");
    let start = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the hub did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = hub.id();
    let base = kib(pid, "VmRSS:");
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let head = format!(
        "POST /v1/sources/mail/messages HTTP/1.1\r\nHost: okno\r\nAuthorization: {}\r\nContent-Type: message/rfc822\r\nContent-Length: {BODY}\r\n\r\n",
        bearer(&url)
    );
    let chunk = vec![b'a'; 64 * 1024];
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(&listen).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        clients.push(stream);
    }
    // Half of every body, a chunk at a time round the clients; a client whose body the
    // hub is not reading yet blocks once the kernel's buffers are full, so each write
    // has a short deadline.
    let mut sent = vec![0usize; CLIENTS];
    let mut peak = 0;
    for _round in 0..(BODY / 2 / chunk.len()) {
        for (client, sent) in clients.iter_mut().zip(sent.iter_mut()) {
            if let Ok(Ok(())) =
                tokio::time::timeout(Duration::from_millis(5), client.write_all(&chunk)).await
            {
                *sent += chunk.len();
            }
        }
        peak = peak.max(kib(pid, "VmRSS:"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    peak = peak.max(kib(pid, "VmHWM:"));
    let in_hub: usize = sent.iter().sum();
    println!(
        "{CLIENTS} uploads of {BODY} bytes held half-sent: {} MB accepted by sockets; hub RSS {} MiB at start, peak {} MiB; bound {} MiB (start + body_budget_mib)",
        in_hub / 1_000_000,
        base / 1024,
        peak / 1024,
        base / 1024 + budget_mib()
    );
    drop(clients);
    let _ = hub.kill();
    let _ = hub.wait();
}
