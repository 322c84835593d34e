//! A flood of ingests against a pipeline that cannot keep up: the hub takes in no more
//! than its bound (`hub.queue_capacity` messages accepted and not yet routed), refuses
//! the rest with `503 busy` and `Retry-After` before storing anything, and delivers
//! every message it acknowledged once the pipeline moves again.

use std::time::Duration;

use okno_tests::{bearer, eventually, free_port, get_json, mail, one_sink, Sink, TestHub};

/// The queue's bound in this test.
const CAPACITY: usize = 4;
/// Ingests sent at once against it.
const FLOOD: usize = 40;

async fn post(
    url: String,
    message_id: String,
    body: &'static str,
) -> (u16, Option<String>, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(&url)
        .header("authorization", bearer(&url))
        .body(mail(&message_id, "Нет отопления", body))
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry_after, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_is_held_to_the_queue_bound_and_everything_accepted_is_delivered() {
    let sink_port = free_port();
    let sink = Sink::start(sink_port).await;

    let dir = tempfile::tempdir().unwrap();
    // A classifier that holds the one worker for its whole CPU limit on `[loop]`.
    let slow = "cpu_ms = 10000\n[plugins.settings]\nmode = \"by-body\"";
    let test_hub = TestHub::configure(
        dir.path(),
        &format!("workers = 1\nqueue_capacity = {CAPACITY}"),
        &one_sink(&Sink::url(sink_port, "registry"), 5),
        &[("slow", slow)],
    );
    let (_hub, addr) = test_hub.start().await;
    let url = format!("http://{addr}/v1/sources/mail/messages");

    // The one worker takes the first message and spins on it: nothing leaves the queue
    // until it gives up on it (a dead letter).
    let (status, _, body) = post(url.clone(), "first@example.ru".into(), "Текст [loop]").await;
    assert_eq!(status, 202, "{body}");
    let first = body["ids"][0].as_str().unwrap().to_string();
    let mut accepted = Vec::new();

    // The flood, all at once. Every request is answered while the pipeline stands still:
    // none waits for room in the queue.
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            tokio::spawn(post(
                url.clone(),
                format!("flood-{i}@example.ru"),
                "Батареи холодные.",
            ))
        })
        .collect();
    let mut refused = 0;
    for request in flood {
        let (status, retry_after, body) = request.await.unwrap();
        match status {
            202 => accepted.push(body["ids"][0].as_str().unwrap().to_string()),
            503 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "busy", "{body}");
                assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
            }
            other => panic!("the flood got {other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), CAPACITY, "a full queue, no more");
    assert_eq!(refused, FLOOD - CAPACITY);

    // Nothing was stored for a refused request.
    let list = format!("http://{addr}/v1/messages?limit=1000");
    let (status, listed) = get_json(&list).await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {listed}"))
        .len();
    assert_eq!(listed, 1 + accepted.len());

    // Once the pipeline moves, everything acknowledged is delivered, once; the first
    // message is dead-lettered by its CPU limit.
    eventually(
        "every accepted message reaches the sink",
        Duration::from_secs(120),
        || {
            let keys = sink.keys();
            accepted.iter().all(|id| keys.contains(id))
        },
    )
    .await;
    for id in &accepted {
        let (_, record) = get_json(&format!("http://{addr}/v1/messages/{id}")).await;
        assert_eq!(record["state"], "delivered", "{record}");
    }
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{first}")).await;
    assert_eq!(record["state"], "failed", "{record}");
    let keys = sink.keys();
    assert_eq!(
        keys.len(),
        accepted.len(),
        "one delivery per message: {keys:?}"
    );

    // With the queue empty again, ingest is admitted again.
    let (status, _, body) = post(url, "after@example.ru".into(), "Батареи холодные.").await;
    assert_eq!(status, 202, "{body}");
}
