//! The hub end to end: real HTTP in, real plugins, the sled store, real HTTP sinks.

use std::time::Duration;

use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

async fn start_hub(
    dir: &std::path::Path,
    sinks_and_routes: &str,
    extra: &[(&str, &str)],
) -> (std::sync::Arc<okno_hub::pipeline::Hub>, String) {
    TestHub::configure(dir, "", sinks_and_routes, extra)
        .start()
        .await
}

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_is_classified_decided_delivered_and_traced() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let (hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "registry"), 5), &[]).await;

    let (status, body) = post_mail(
        &addr,
        sample("examples/appeals/01-heating-outage-koi8r-qp.eml"),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = ids(&body).remove(0);
    eventually("delivery to the sink", LIMIT, || sink.keys().contains(&id)).await;

    let (status, record) = get_json(&format!("http://{addr}/v1/messages/{id}")).await;
    assert_eq!(status, 200);
    eventually("state delivered", LIMIT, || {
        hub.store.get(&id).unwrap().unwrap().state == okno_hub::store::State::Delivered
    })
    .await;
    let topic = record["classification"]["topic"]["best"]["code"]
        .as_str()
        .expect("a topic code");
    assert!(
        topic.starts_with("0005.0005"),
        "a heating outage is housing and utilities: {topic}"
    );
    assert!(
        record["decision"]["answer_deadline"].as_i64().is_some(),
        "an answer deadline: {record}"
    );
    let stages: Vec<&str> = record["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    for stage in ["decode", "classify", "decide", "route"] {
        assert!(stages.contains(&stage), "trace has {stage}: {stages:?}");
    }
    assert_eq!(
        stages.iter().filter(|s| **s == "classify").count(),
        5,
        "one classify entry per classifier"
    );
    let plugins: Vec<&str> = record["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["plugin"].as_str())
        .collect();
    assert!(
        plugins.contains(&"topics") && plugins.contains(&"priority"),
        "{plugins:?}"
    );

    let delivered: serde_json::Value =
        serde_json::from_str(&sink.received.lock().unwrap()[0].1).unwrap();
    assert_eq!(delivered["id"], id.as_str());
    assert!(
        delivered["decision"]["answer_deadline"].is_string(),
        "{delivered}"
    );

    let (_, metrics) = (
        0,
        reqwest::Client::new()
            .get(format!("http://{addr}/metrics"))
            .header("authorization", bearer(&format!("http://{addr}/metrics")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(metrics.contains("okno_delivered_total 1"), "{metrics}");
    assert!(
        metrics.lines().any(
            |l| l.starts_with("okno_stage_seconds_bucket{") && l.contains("stage=\"classify\"")
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_twice_is_one_message_and_one_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let (_hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "r"), 5), &[]).await;
    let mail = mail(
        "dup-1@example.ru",
        "Вопрос",
        "Подскажите, как получить субсидию на оплату ЖКУ?",
    );
    let (first, body1) = post_mail(&addr, mail.clone()).await;
    let (second, body2) = post_mail(&addr, mail).await;
    assert_eq!((first, second), (202, 200));
    assert_eq!(ids(&body1), ids(&body2));
    let id = ids(&body1).remove(0);
    eventually("delivery", LIMIT, || sink.keys().contains(&id)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.keys(), vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_is_down_gets_the_message_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "r"), 50), &[]).await;
    let (_, body) = post_mail(
        &addr,
        mail(
            "down-1@example.ru",
            "Дорога",
            "На улице яма на дороге, прошу отремонтировать.",
        ),
    )
    .await;
    let id = ids(&body).remove(0);
    eventually("a failed delivery attempt", LIMIT, || {
        hub.store
            .get(&id)
            .unwrap()
            .unwrap()
            .deliveries
            .get("registry")
            .is_some_and(|d| d.attempts >= 2)
    })
    .await;
    let sink = Sink::start(port).await;
    eventually("delivery after the sink came back", LIMIT, || {
        sink.keys().contains(&id)
    })
    .await;
    assert!(
        sink.keys().iter().all(|k| k == &id),
        "every delivery carries the message id as Idempotency-Key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_down_for_good_dead_letters_and_replay_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    sink.status.store(503, std::sync::atomic::Ordering::SeqCst);
    let (_hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "r"), 3), &[]).await;
    let (_, body) = post_mail(
        &addr,
        mail(
            "dead-1@example.ru",
            "Пенсия",
            "Прошу разъяснить порядок перерасчёта пенсии.",
        ),
    )
    .await;
    let id = ids(&body).remove(0);
    let mut letters = serde_json::Value::Null;
    for _ in 0..600 {
        letters = get_json(&format!("http://{addr}/v1/dead-letters")).await.1;
        if letters["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let letter = &letters["items"][0];
    assert_eq!(letter["id"], id.as_str(), "{letters}");
    assert_eq!(letter["target"], "sink:registry");
    assert_eq!(
        letter["attempts"].as_array().unwrap().len(),
        3,
        "attempt history: {letter}"
    );
    assert!(
        letter["reason"].as_str().unwrap().contains("503"),
        "{letter}"
    );

    sink.status.store(200, std::sync::atomic::Ordering::SeqCst);
    let replay_url = format!("http://{addr}/v1/dead-letters/{id}/replay");
    let replay = reqwest::Client::new()
        .post(&replay_url)
        .header("authorization", bearer(&replay_url))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 202);
    eventually("delivery after replay", LIMIT, || sink.keys().contains(&id)).await;
    let (_, letters) = get_json(&format!("http://{addr}/v1/dead-letters")).await;
    assert_eq!(letters["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_plugin_dead_letters_its_message_and_others_flow() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let (_hub, addr) = start_hub(
        dir.path(),
        &one_sink(&Sink::url(port, "r"), 3),
        &[("faulty", "[plugins.settings]\nmode = \"by-body\"")],
    )
    .await;
    let (_, p) = post_mail(
        &addr,
        mail("f-1@example.ru", "x", "Текст [panic] обращения"),
    )
    .await;
    let (_, l) = post_mail(&addr, mail("f-2@example.ru", "x", "Текст [loop] обращения")).await;
    let (_, ok) = post_mail(
        &addr,
        mail("f-3@example.ru", "x", "Обычное обращение о ремонте дороги"),
    )
    .await;
    let (panicking, looping, fine) = (ids(&p).remove(0), ids(&l).remove(0), ids(&ok).remove(0));
    eventually("the good message is delivered", LIMIT, || {
        sink.keys().contains(&fine)
    })
    .await;
    let mut letters = serde_json::Value::Null;
    for _ in 0..600 {
        letters = get_json(&format!("http://{addr}/v1/dead-letters")).await.1;
        if letters["items"].as_array().is_some_and(|a| a.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let items = letters["items"].as_array().unwrap();
    let reason_of = |id: &str| {
        items
            .iter()
            .find(|i| i["id"] == id)
            .map(|i| i["reason"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(
        reason_of(&panicking).contains("panicked on purpose"),
        "{letters}"
    );
    assert!(reason_of(&looping).contains("CPU"), "{letters}");
    assert!(!sink.keys().contains(&panicking) && !sink.keys().contains(&looping));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _sink = Sink::start(port).await;
    let (hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "r"), 3), &[]).await;
    let (status, body) = post_mail(&addr, vec![0xff, 0xfe, 0x00, 0x01]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "decode_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("mail"),
        "{body}"
    );

    // The mail source's token does not open another source, known or not.
    let nope = format!("http://{addr}/v1/sources/nope/messages");
    let foreign = reqwest::Client::new()
        .post(&nope)
        .header(
            "authorization",
            bearer(&format!("http://{addr}/v1/sources/mail/messages")),
        )
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403);
    // A token bound to a source the config does not have: 404.
    let (nope_token, _) = okno_hub::auth::TokenStore::open(&dir.path().join("data"))
        .create(
            "nope-system",
            okno_hub::auth::Role::Source,
            Some("nope"),
            None,
        )
        .unwrap();
    let unknown = reqwest::Client::new()
        .post(&nope)
        .bearer_auth(nope_token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let unknown: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"]["code"], "unknown_source");

    let huge = vec![b'a'; 11 << 20];
    let mail_url = format!("http://{addr}/v1/sources/mail/messages");
    let too_large = reqwest::Client::new()
        .post(&mail_url)
        .header("authorization", bearer(&mail_url))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status().as_u16(), 413);

    assert_eq!(
        hub.store.message_count(),
        0,
        "nothing stored for refused requests"
    );
    let (_, list) = get_json(&format!("http://{addr}/v1/messages")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let (_hub, addr) = start_hub(dir.path(), &one_sink(&Sink::url(port, "r"), 10), &[]).await;
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for worker in 0..4 {
        let addr = addr.clone();
        senders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let (status, body) = post_mail(
                    &addr,
                    mail(
                        &format!("reload-{worker}-{i}@example.ru"),
                        "Обращение",
                        "Прошу проверить начисления за отопление.",
                    ),
                )
                .await;
                assert_eq!(status, 202, "{body}");
                ids.extend(
                    body["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string()),
                );
            }
            ids
        }));
    }
    for _ in 0..5 {
        let url = format!("http://{addr}/v1/admin/reload");
        let r = client
            .post(&url)
            .header("authorization", bearer(&url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut all = Vec::new();
    for s in senders {
        all.extend(s.await.unwrap());
    }
    assert_eq!(all.len(), 100);
    eventually("all 100 delivered", Duration::from_secs(120), || {
        let got = sink.keys();
        all.iter().all(|id| got.contains(id))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_with_undelivered_messages_delivers_them_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let test = TestHub::configure(dir.path(), "", &one_sink(&Sink::url(port, "r"), 1000), &[]);
    let listen = test.listen.clone();
    let mut hub = test.spawn(None, None).await;
    let client = reqwest::Client::new();
    // The sink is down: every message is accepted (202) and none can be delivered yet.
    let mut accepted = Vec::new();
    for i in 0..20 {
        let url = format!("http://{listen}/v1/sources/mail/messages");
        let r = client
            .post(&url)
            .header("authorization", bearer(&url))
            .body(mail(
                &format!("kill-{i}@example.ru"),
                "Обращение",
                "Прошу помочь с ремонтом крыши.",
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        accepted.extend(ids(&body));
    }
    hub.kill();

    let sink = Sink::start(port).await;
    let mut hub = test.spawn(None, None).await;
    eventually(
        "every accepted message delivered after restart",
        Duration::from_secs(120),
        || {
            let got = sink.keys();
            accepted.iter().all(|id| got.contains(id))
        },
    )
    .await;
    hub.kill();
}
