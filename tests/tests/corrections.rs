//! Learning from officials: corrections of the topic over the API reach the classifier,
//! imports of labelled history do too, and `okno eval classify` measures it all.

use std::sync::Arc;
use std::time::Duration;

use okno_hub::cli::eval;
use okno_hub::cli::serve;
use okno_hub::pipeline::Hub;
use okno_hub::runtime::Limits;
use okno_hub::store::State;
use okno_tests::*;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// An appeal about a neighbour's dog, which the classifier's own wording does not place
/// under the code an official gives it below.
const SUBJECT: &str = "Собака соседа";
const BODY: &str = "Соседская собака без намордника бегает по двору, лает ночами и кидается на детей у подъезда. Просим принять меры к владельцу собаки.";

async fn start_hub(dir: &std::path::Path) -> (Arc<Hub>, String, Sink) {
    let port = free_port();
    let sink = Sink::start(port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir,
        &listen,
        &one_sink(&Sink::url(port, "registry"), 5),
        &[],
    );
    let (hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    (hub, addr.to_string(), sink)
}

/// Posts a mail and waits until it is delivered; returns its id.
async fn deliver(hub: &Hub, addr: &str, message_id: &str, subject: &str, body: &str) -> String {
    let (status, answer) = post_mail(addr, mail(message_id, subject, body)).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["ids"][0].as_str().expect("an id").to_string();
    eventually("the appeal is delivered", LIMIT, || {
        hub.store
            .get(&id)
            .ok()
            .flatten()
            .is_some_and(|r| r.state == State::Delivered)
    })
    .await;
    id
}

fn topic_code(record: &Value) -> String {
    record["classification"]["topic"]["best"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no topic in {record}"))
        .to_string()
}

async fn post_json(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", bearer(url))
        .json(&body)
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_body(url: &str, content_type: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("authorization", bearer(url))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A level-4 code unlike whatever the classifier chose.
fn another_code(given: &str) -> &'static str {
    ["0005.0005.0056.1161", "0003.0008.0086.0544"]
        .into_iter()
        .find(|c| !given.starts_with(&c[..9]))
        .expect("two codes of different тематики")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_is_recorded_and_a_like_appeal_gets_the_corrected_code() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr, _sink) = start_hub(dir.path()).await;

    let first = deliver(&hub, &addr, "dog-1@example.ru", SUBJECT, BODY).await;
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{first}")).await;
    let given = topic_code(&record);
    let corrected = another_code(&given);

    let (status, record) = post_json(
        &format!("http://{addr}/v1/messages/{first}/classification"),
        json!({"code": corrected, "by": "official-17"}),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(topic_code(&record), corrected);
    let topic = &record["classification"]["topic"];
    assert_eq!(topic["best"]["confidence"], json!(1.0));
    assert_eq!(topic["low_confidence"], json!(false));
    assert_eq!(
        topic["alternatives"][0]["code"],
        json!(given),
        "the old best is kept first"
    );
    let corrections = record["corrections"].as_array().expect("corrections");
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0]["code"], json!(corrected));
    assert_eq!(corrections[0]["previous"], json!(given));
    assert_eq!(corrections[0]["by"], json!("official-17"));
    assert!(!corrections[0]["name"].as_str().unwrap_or("").is_empty());
    let last = record["trace"]
        .as_array()
        .and_then(|t| t.last())
        .expect("a trace");
    assert_eq!(last["stage"], json!("correct"));
    let reason = last["reasons"][0].as_str().unwrap_or("");
    assert!(
        reason.contains(&format!("{given} → {corrected}")),
        "{reason}"
    );

    // The stored record says the same as the answer.
    let (_, stored) = get_json(&format!("http://{addr}/v1/messages/{first}")).await;
    assert_eq!(topic_code(&stored), corrected);
    assert_eq!(stored["corrections"].as_array().map(Vec::len), Some(1));

    // A near-identical appeal from someone else now gets the corrected code.
    let body = BODY.replace("ночами", "по ночам");
    let second = deliver(&hub, &addr, "dog-2@example.ru", SUBJECT, &body).await;
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{second}")).await;
    assert_eq!(
        topic_code(&record),
        corrected,
        "{}",
        record["classification"]["topic"]
    );

    // Correcting again replaces the example: only the latest code counts.
    let again = another_code(corrected);
    let (status, record) = post_json(
        &format!("http://{addr}/v1/messages/{first}/classification"),
        json!({"code": again}),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["corrections"].as_array().map(Vec::len), Some(2));
    assert_eq!(record["corrections"][1]["previous"], json!(corrected));
    let third = deliver(&hub, &addr, "dog-3@example.ru", SUBJECT, BODY).await;
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{third}")).await;
    assert_eq!(
        topic_code(&record),
        again,
        "{}",
        record["classification"]["topic"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_with_bad_codes_or_unknown_messages_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr, _sink) = start_hub(dir.path()).await;
    let id = deliver(&hub, &addr, "refused-1@example.ru", SUBJECT, BODY).await;
    let url = format!("http://{addr}/v1/messages/{id}/classification");

    for code in [
        "0005.0005.0056.9999",
        "not a code",
        "0005.0005.0000.0000",
        "0005.0000.0000.0000",
    ] {
        let (status, answer) = post_json(&url, json!({"code": code})).await;
        assert_eq!(status, 422, "{code}: {answer}");
        assert_eq!(answer["error"]["code"], json!("bad_code"), "{answer}");
    }
    let (status, answer) = post_json(
        &format!("http://{addr}/v1/messages/000000000000nosuchid/classification"),
        json!({"code": "0005.0005.0056.1161"}),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], json!("not_found"));
    let (status, _) = post_json(&url, json!({"by": "official-17"})).await;
    assert_eq!(status, 422, "a body without a code");

    // Nothing refused left a trace on the message.
    let record = hub.store.get(&id).unwrap().unwrap();
    assert!(record.corrections.is_empty());
    assert!(record.trace.iter().all(|t| t.stage != "correct"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_history_teaches_the_classifier_and_bad_lines_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr, _sink) = start_hub(dir.path()).await;
    let url = format!("http://{addr}/v1/corrections/import");
    let text = format!("{SUBJECT}\n{BODY}");

    let jsonl = [
        json!({"id": "h-1", "text": text, "code": "0003.0008.0086.0544"}).to_string(),
        "{\"text\": \"без кода\"}".to_string(),
        json!({"text": "Текст", "code": "0003.0000.0000.0000"}).to_string(),
        String::new(),
        json!({"text": "Яма на дороге у школы", "code": "0003.0009.0097.0699"}).to_string(),
    ]
    .join("\n");
    let (status, answer) = post_body(&url, "application/x-ndjson", &jsonl).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["imported"], json!(2), "{answer}");
    let lines: Vec<u64> = answer["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert_eq!(lines, vec![2, 3], "{answer}");

    let csv = "text;code\n\"Двор; грязь, мусор\nне вывозят\";0005.0005.0056.1161\nчто-то;0005.0005.0056\n";
    let (status, answer) = post_body(&url, "text/csv; charset=utf-8", csv).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["imported"], json!(1), "{answer}");
    assert_eq!(answer["errors"][0]["line"], json!(4), "{answer}");

    let (status, answer) = post_body(&url, "text/plain", "text;code\n").await;
    assert_eq!(status, 415, "{answer}");

    let id = deliver(&hub, &addr, "imported-1@example.ru", SUBJECT, BODY).await;
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{id}")).await;
    assert_eq!(
        topic_code(&record),
        "0003.0008.0086.0544",
        "{}",
        record["classification"]["topic"]
    );

    // The same id imported with another code: the newer example replaces the older.
    let line = json!({"id": "h-1", "text": text, "code": "0005.0005.0056.1161"}).to_string();
    let (status, answer) = post_body(&url, "application/x-ndjson", &line).await;
    assert_eq!(
        (status, answer["imported"].clone()),
        (200, json!(1)),
        "{answer}"
    );
    let id = deliver(&hub, &addr, "imported-2@example.ru", SUBJECT, BODY).await;
    let (_, record) = get_json(&format!("http://{addr}/v1/messages/{id}")).await;
    assert_eq!(
        topic_code(&record),
        "0005.0005.0056.1161",
        "{}",
        record["classification"]["topic"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_reports_every_measure_on_the_reference_appeals() {
    let data = workspace()
        .join("tests")
        .join("data")
        .join("appeals_train.jsonl");
    for leave_one_out in [false, true] {
        let options = eval::EvalOptions {
            plugin: plugin("topics"),
            data: data.clone(),
            leave_one_out,
            examples: None,
            settings: Vec::new(),
            limits: Limits {
                cpu: Duration::from_millis(1000),
                ..Limits::default()
            },
            cache_dir: None,
        };
        let report = eval::classify(&options).await.expect("the evaluation runs");
        let value = serde_json::to_value(&report).expect("the report is JSON");
        assert_eq!(value["n"], json!(43));
        for key in [
            "section",
            "subject",
            "theme",
            "exact_top1",
            "exact_top3",
            "exact_top5",
            "theme_top3",
            "low_confidence",
        ] {
            let share = value[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} in {value}"));
            assert!((0.0..=1.0).contains(&share), "{key} = {share}");
        }
        assert!(report.section >= report.subject && report.subject >= report.theme);
        assert!(report.theme >= report.exact_top1);
        assert!(report.exact_top1 <= report.exact_top3 && report.exact_top3 <= report.exact_top5);
        assert!(report.theme_top3 >= report.theme);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.mean_ms > 0.0 && report.p99_ms > 0.0);
        assert_eq!(report.examples, if leave_one_out { 42 } else { 0 });
        // With examples, the first call on each fresh kv indexes them and is reported
        // apart from the time per call.
        assert_eq!(
            value.get("first_call_mean_ms").is_some(),
            leave_one_out,
            "{value}"
        );
        // The classifier's own wording gets most appeals into the right раздел.
        assert!(report.section > 0.5, "{value}");
    }
}
