//! What the hub keeps, under load and through failures: no acknowledged message lost by
//! `kill -9`, no delivery's result overwritten by the route stage, and a store that cannot
//! flush refuses ingest and is not ready until it can.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(120);

/// Clients sending at once.
const SENDERS: usize = 32;

/// One mail's ingest: the status and the ids answered, or `None` when the hub did not
/// answer (killed).
async fn send(client: &reqwest::Client, listen: &str, n: usize) -> Option<(u16, Vec<String>)> {
    let url = format!("http://{listen}/v1/sources/mail/messages");
    let response = client
        .post(&url)
        .header("authorization", bearer(&url))
        .header("content-type", "message/rfc822")
        .body(mail(
            &format!("load-{n}@example.ru"),
            "Обращение",
            "Прошу проверить начисления за отопление в нашем доме.",
        ))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.ok()?;
    let ids = body["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Some((status, ids))
}

/// Sends mails `numbers` with [`SENDERS`] clients at once, as fast as the hub answers.
/// Returns each acknowledged mail's message id; a mail the hub did not acknowledge is
/// missing. `acknowledged` counts them as they come.
async fn send_all(
    listen: String,
    numbers: Vec<usize>,
    acknowledged: Arc<AtomicUsize>,
) -> BTreeMap<usize, String> {
    let queue = Arc::new(Mutex::new(numbers));
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (queue, client, listen, acknowledged) = (
            queue.clone(),
            client.clone(),
            listen.clone(),
            acknowledged.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let Some(n) = queue.lock().unwrap().pop() else {
                    return ids;
                };
                match send(&client, &listen, n).await {
                    Some((202 | 200, mut answered)) if answered.len() == 1 => {
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                        ids.push((n, answered.remove(0)));
                    }
                    Some((status, _)) => panic!("mail {n}: the hub answered {status}"),
                    None => {}
                }
            }
        }));
    }
    let mut all = BTreeMap::new();
    for task in tasks {
        all.extend(task.await.expect("a sender"));
    }
    all
}

/// Every message in the store with its state, through the API.
async fn states(listen: &str) -> HashMap<String, String> {
    let mut states = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("http://{listen}/v1/messages?limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get_json(&url).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            states.insert(
                item["id"].as_str().unwrap().to_string(),
                item["state"].as_str().unwrap().to_string(),
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return states,
        }
    }
}

/// Waits until every message in the store is `delivered`; panics with the others.
async fn all_delivered(listen: &str, expected: usize) -> HashMap<String, String> {
    let started = std::time::Instant::now();
    loop {
        let states = states(listen).await;
        let others: Vec<(&String, &String)> =
            states.iter().filter(|(_, s)| *s != "delivered").collect();
        if others.is_empty() && states.len() >= expected {
            return states;
        }
        if started.elapsed() > LIMIT {
            panic!(
                "{} of {} messages are not delivered, although every one reached its sink: {:?}",
                others.len(),
                states.len(),
                others.iter().take(20).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_under_load_loses_no_acknowledged_message_and_leaves_none_unfinished() {
    // 3,000 by default, for CI; `OKNO_DURABILITY_MESSAGES=20000` runs the issue's size.
    let messages_env = std::env::var("OKNO_DURABILITY_MESSAGES").ok();
    let messages: usize = messages_env.map_or(3_000, |n| {
        n.parse()
            .expect("OKNO_DURABILITY_MESSAGES must be a number of messages")
    });
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let test = TestHub::configure(dir.path(), "", &one_sink(&Sink::url(port, "r"), 1000), &[]);
    let listen = test.listen.clone();
    let mut hub = test.spawn(None, None).await;

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let sending = tokio::spawn(send_all(
        listen.clone(),
        (0..messages).collect(),
        acknowledged.clone(),
    ));
    // kill -9 halfway, with ingest, classification and deliveries all under way.
    eventually("half the messages acknowledged", LIMIT, || {
        acknowledged.load(Ordering::SeqCst) >= messages / 2
    })
    .await;
    hub.kill();
    let before_kill = sending.await.unwrap();
    assert!(before_kill.len() < messages, "the kill cut the load short");

    let mut hub = test.spawn(None, None).await;
    // The senders try again what was not acknowledged, with the same Message-IDs.
    let missing: Vec<usize> = (0..messages)
        .filter(|n| !before_kill.contains_key(n))
        .collect();
    let after_restart = send_all(listen.clone(), missing, Arc::default()).await;
    let mut ids = before_kill.clone();
    ids.extend(after_restart);
    assert_eq!(
        ids.len(),
        messages,
        "every mail acknowledged after the restart"
    );

    eventually("every acknowledged message at the sink", LIMIT, || {
        let got: BTreeSet<String> = sink.keys().into_iter().collect();
        ids.values().all(|id| got.contains(id))
    })
    .await;
    let states = all_delivered(&listen, messages).await;
    // Each acknowledged id is in the store, and the store holds one message per mail:
    // a retry of a mail stored before the kill got that message's id.
    for (n, id) in &before_kill {
        assert!(states.contains_key(id), "mail {n}'s message {id} was lost");
    }
    let distinct: BTreeSet<&String> = ids.values().collect();
    assert_eq!(distinct.len(), messages, "one message id per mail");
    assert_eq!(
        states.len(),
        messages,
        "one message per mail in the store, not a second for a retried one"
    );
    hub.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_its_fast_sinks_got_is_delivered_in_the_api() {
    const MESSAGES: usize = 4_000;
    let dir = tempfile::tempdir().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (Sink::start(port_a).await, Sink::start(port_b).await);
    // Two sinks per message: each delivery may finish while the route stage is still
    // scheduling the other.
    let sinks = format!(
        "[[sinks]]\nname = \"a\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"http-json\"\n\n\
         [[sinks]]\nname = \"b\"\ntransport = \"http\"\nurl = \"{}\"\nconnector = \"http-json\"\n\n\
         [[routes]]\nname = \"all\"\nsinks = [\"a\", \"b\"]\n",
        Sink::url(port_a, "a"),
        Sink::url(port_b, "b")
    );
    let (_hub, addr) = TestHub::configure(dir.path(), "workers = 4", &sinks, &[])
        .start()
        .await;

    let ids = send_all(addr.clone(), (0..MESSAGES).collect(), Arc::default()).await;
    assert_eq!(ids.len(), MESSAGES);
    eventually("every message at both sinks", LIMIT, || {
        let (got_a, got_b): (BTreeSet<String>, BTreeSet<String>) = (
            a.keys().into_iter().collect(),
            b.keys().into_iter().collect(),
        );
        ids.values()
            .all(|id| got_a.contains(id) && got_b.contains(id))
    })
    .await;
    let states = all_delivered(&addr, MESSAGES).await;
    assert_eq!(states.len(), MESSAGES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_flush_refuses_ingest_and_is_not_ready_until_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let test = TestHub::configure(dir.path(), "", &one_sink(&Sink::url(port, "r"), 100), &[]);
    let listen = test.listen.clone();
    let log = dir.path().join("hub.log");
    let mut hub = test.spawn(Some(&log), None).await;
    let client = reqwest::Client::new();
    let ready = || async {
        let url = format!("http://{listen}/readyz");
        let response = client
            .get(&url)
            .header("authorization", bearer(&url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(ready().await.0, 200);
    let (status, _) = send(&client, &listen, 1).await.unwrap();
    assert_eq!(status, 202);

    // The flush cannot list the store's blobs: a failing disk, as far as it can tell.
    let store = dir.path().join("data").join("db");
    std::fs::rename(store.join("blobs"), dir.path().join("blobs.away")).unwrap();
    std::fs::write(store.join("blobs"), b"in the way").unwrap();

    let url = format!("http://{listen}/v1/sources/mail/messages");
    let refused = client
        .post(&url)
        .header("authorization", bearer(&url))
        .body(mail("flush-2@example.ru", "Обращение", "Прошу ответить."))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");

    // Not ready while it fails; it keeps trying on its own.
    let mut failed = 0;
    for _ in 0..1_200 {
        let (status, body) = ready().await;
        assert_eq!(status, 503, "{body}");
        failed = body["error"]["details"]["failed_flushes"].as_u64().unwrap();
        if failed >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failed >= 3,
        "the flush is retried: {failed} attempts failed"
    );
    let (status, _) = send(&client, &listen, 3).await.unwrap();
    assert_eq!(status, 503, "refused at once while flushing fails");

    std::fs::remove_file(store.join("blobs")).unwrap();
    std::fs::rename(dir.path().join("blobs.away"), store.join("blobs")).unwrap();
    let mut recovered = false;
    for _ in 0..600 {
        if ready().await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "ready again once the store can flush");

    // The refused mail that was stored before the flush failed is that message; the one
    // refused at once was not stored.
    let retried = client
        .post(&url)
        .header("authorization", bearer(&url))
        .body(mail("flush-2@example.ru", "Обращение", "Прошу ответить."))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status().as_u16(), 200);
    let body: serde_json::Value = retried.json().await.unwrap();
    let kept = body["ids"][0].as_str().unwrap().to_string();
    let (status, ids) = send(&client, &listen, 3).await.unwrap();
    assert_eq!(status, 202);
    eventually("both delivered", LIMIT, || {
        let got = sink.keys();
        got.contains(&kept) && got.contains(&ids[0])
    })
    .await;
    hub.kill();

    let log = std::fs::read_to_string(&log).unwrap();
    let lines = |text: &str| log.lines().filter(|l| l.contains(text)).count();
    assert_eq!(lines("flushing the store failed"), 1, "{log}");
    assert_eq!(lines("flushing the store works again"), 1, "{log}");
}
