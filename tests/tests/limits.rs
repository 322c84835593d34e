//! The server's bounds, over raw TCP: a client that never finishes its headers is cut
//! off, a declared body over the limit is refused unread, open connections are capped,
//! bodies being read share a budget, and a request that stalls gets 408.

use std::time::Duration;

use okno_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for any answer the hub gives on loopback; only a refusal to answer runs
/// into it.
const ANSWER: Duration = Duration::from_secs(20);

async fn start_hub(dir: &std::path::Path, hub_settings: &str) -> String {
    let port = free_port();
    let _sink = Sink::start(port).await;
    let (_hub, listen) =
        TestHub::configure(dir, hub_settings, &one_sink(&Sink::url(port, "r"), 3), &[])
            .start()
            .await;
    listen
}

/// Reads until the peer closes or `limit` passes; `None` on the latter.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

/// Reads one response's head and whatever body came with it.
async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                break;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let listen = start_hub(dir.path(), "header_timeout_ms = 300").await;
    let mut stream = TcpStream::connect(&listen).await.unwrap();
    stream
        .write_all(b"POST /v1/sources/mail/messages HTTP/1.1\r\nHost: okno\r\nX-Slow: ")
        .await
        .unwrap();
    let closed = read_to_close(&mut stream, ANSWER).await;
    assert!(
        closed.is_some(),
        "the hub kept a connection with half its headers open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let listen = start_hub(dir.path(), "max_body_bytes = 1048576").await;
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let mut stream = TcpStream::connect(&listen).await.unwrap();
    let head = format!(
        "POST /v1/sources/mail/messages HTTP/1.1\r\nHost: okno\r\nAuthorization: {}\r\nContent-Type: message/rfc822\r\nContent-Length: 50000000\r\n\r\n",
        bearer(&url)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Not a byte of the body is sent: the answer must come from the header alone.
    let response = read_response(&mut stream, ANSWER).await.expect("an answer");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"too_large\""), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let listen = start_hub(dir.path(), "max_connections = 2").await;
    let idle_a = TcpStream::connect(&listen).await.unwrap();
    let idle_b = TcpStream::connect(&listen).await.unwrap();
    let mut third = TcpStream::connect(&listen).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: okno\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Both places are taken: the third is not served while they are.
    let early = read_response(&mut third, Duration::from_millis(700)).await;
    assert!(
        early.is_none(),
        "a third connection was served past the cap: {early:?}"
    );
    drop(idle_a);
    drop(idle_b);
    let response = read_response(&mut third, ANSWER)
        .await
        .expect("served once a place is free");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_share_a_budget_and_a_stalled_request_times_out() {
    let dir = tempfile::tempdir().unwrap();
    // Room for one 1 MiB body at a time; a request has 3 s.
    let listen = start_hub(
        dir.path(),
        "max_body_bytes = 1048576\nbody_budget_mib = 1\nrequest_timeout_ms = 3000",
    )
    .await;
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let head = format!(
        "POST /v1/sources/mail/messages HTTP/1.1\r\nHost: okno\r\nAuthorization: {}\r\nContent-Type: message/rfc822\r\nContent-Length: 1000000\r\n\r\n",
        bearer(&url)
    );
    // The first upload sends half its body and stalls, holding the whole budget.
    let mut stalled = TcpStream::connect(&listen).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&vec![b'a'; 500_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The second sends all of its body, and waits for the budget.
    let mut second = TcpStream::connect(&listen).await.unwrap();
    second.write_all(head.as_bytes()).await.unwrap();
    second.write_all(&vec![b'b'; 1_000_000]).await.unwrap();
    // The stalled one ends in 408 at its deadline; then the second is read and answered
    // (its bytes are no mail, so the connector refuses them: 422).
    let first = read_response(&mut stalled, ANSWER)
        .await
        .expect("an answer");
    assert!(first.starts_with("HTTP/1.1 408"), "{first}");
    assert!(first.contains("\"request_timeout\""), "{first}");
    let answer = read_response(&mut second, ANSWER).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
}

/// POSTs JSON with an operator's token.
async fn post_json(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", bearer(url))
        .json(&body)
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Waits until message `id` has left `accepted`; returns its record.
async fn routed(listen: &str, id: &str) -> serde_json::Value {
    let url = format!("http://{listen}/v1/messages/{id}");
    let started = std::time::Instant::now();
    loop {
        let (status, record) = get_json(&url).await;
        assert_eq!(status, 200, "{record}");
        if record["state"] != "accepted" {
            return record;
        }
        assert!(started.elapsed() < ANSWER, "message {id} stays accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_megabyte_message_id_is_kept_bounded_and_still_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let listen = start_hub(dir.path(), "").await;
    let long = format!("{}@example.ru", "x".repeat(5 << 20));
    let (status, first) = post_mail(&listen, mail(&long, "Обращение", "Прошу ответить.")).await;
    assert_eq!(status, 202, "{first}");
    let id = first["ids"][0].as_str().unwrap().to_string();
    let record = routed(&listen, &id).await;
    let kept = record["message"]["idempotency_key"].as_str().unwrap();
    assert!(
        kept.len() <= 256,
        "the record keeps {} bytes of it",
        kept.len()
    );
    assert!(
        kept.starts_with("xxxx") && kept.contains("…sha256:"),
        "{kept}"
    );
    assert!(
        record.to_string().len() < 64 << 10,
        "the record is {} bytes",
        record.to_string().len()
    );
    // Sent again: the first message. Differing in its last byte: another.
    let (status, again) = post_mail(&listen, mail(&long, "Обращение", "Прошу ответить.")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["ids"][0], id.as_str());
    let other = format!("{}@example.ru!", "x".repeat(5 << 20));
    let (status, answer) = post_mail(&listen, mail(&other, "Обращение", "Прошу ответить.")).await;
    assert_eq!(status, 202, "{answer}");
    assert_ne!(answer["ids"][0], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_corrections_leave_a_record_of_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let listen = start_hub(dir.path(), "").await;
    let (status, answer) = post_mail(
        &listen,
        mail(
            "corrections-1@example.ru",
            "Отопление",
            "В квартире холодно, батареи не греют.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["ids"][0].as_str().unwrap().to_string();
    routed(&listen, &id).await;
    // What the issue saw: ten 2 MB corrections made a 46 MB record. Fourteen here, each
    // with a 2 MB `by` and a field the API does not know.
    let url = format!("http://{listen}/v1/messages/{id}/classification");
    let codes = ["0003.0009.0097.0699", "0005.0005.0056.1161"];
    let mut sizes = Vec::new();
    for n in 0..14 {
        let (status, record) = post_json(
            &url,
            serde_json::json!({
                "code": codes[n % 2],
                "by": "Иванова ".repeat(250_000),
                "comment": "x".repeat(2 << 20),
            }),
        )
        .await;
        assert_eq!(status, 200, "correction {n}: {record}");
        sizes.push(record.to_string().len());
    }
    let (_, record) = get_json(&format!("http://{listen}/v1/messages/{id}")).await;
    let size = record.to_string().len();
    assert!(size < 32 << 10, "the record is {size} bytes: {sizes:?}");
    // Its size stops growing once it holds the latest ten (a correction adds about
    // 1 KB while it grows).
    let last = &sizes[10..];
    let spread = last.iter().max().unwrap() - last.iter().min().unwrap();
    assert!(spread < 500, "{sizes:?}");
    let kept = record["corrections"].as_array().unwrap();
    assert_eq!(kept.len(), 10);
    assert_eq!(record["corrections_total"], 14);
    assert!(kept
        .iter()
        .all(|c| c["by"].as_str().unwrap().chars().count() <= 200));
    let correct_traces = record["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == "correct")
        .count();
    assert_eq!(correct_traces, 10);
    // Every correction is listed, a page at a time.
    let list = format!("http://{listen}/v1/messages/{id}/corrections");
    let (status, page) = get_json(&format!("{list}?limit=5")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["items"][0]["number"], 1);
    assert_eq!(page["next_after"], 5);
    let (_, rest) = get_json(&format!("{list}?after=5")).await;
    let numbers: Vec<u64> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (6..=14).collect::<Vec<u64>>());
    assert_eq!(rest["items"][8]["correction"]["code"], codes[1]);
}
