//! Imports of labelled history are bounded and never cost later messages their
//! classification: a 100,000-line import leaves every later appeal classified under the
//! default CPU limit, an import over the line limit is refused whole, an example larger
//! than a kv value is an error for its line, each plugin's kv has a quota, and imported
//! examples can be taken back.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use okno_hub::pipeline::Hub;
use okno_hub::runtime::kv::{PluginKv, CORRECTIONS_PREFIX, MAX_VALUE_BYTES};
use okno_hub::store::State;
use okno_tests::*;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(120);

/// An appeal about a neighbour's dog, which the classifier's own wording does not place
/// under [`DOG_CODE`]: only an example teaches it that.
const DOG_SUBJECT: &str = "Собака соседа";
const DOG_BODY: &str = "Соседская собака без намордника бегает по двору, лает ночами и кидается на детей у подъезда. Просим принять меры к владельцу собаки.";
const DOG_CODE: &str = "0003.0008.0086.0544";

/// Starts a hub on a config from [`write_config_with`] with `hub_settings`, the topics
/// plugin at the default CPU limit (100 ms) rather than the 500 ms the shared config
/// gives it, and `extra` classifiers (name, settings) of the hostile plugin.
async fn start_hub(dir: &Path, hub_settings: &str, extra: &[(&str, &str)]) -> (Arc<Hub>, String) {
    let port = free_port();
    let _sink = Sink::start(port).await;
    let test = TestHub::configure(
        dir,
        hub_settings,
        &one_sink(&Sink::url(port, "registry"), 5),
        extra,
    );
    let config = test.config.clone();
    let text = std::fs::read_to_string(&config).expect("the config");
    let topics_limit = "name = \"topics\"";
    let at = text.find(topics_limit).expect("a topics entry");
    let (before, after) = text.split_at(at);
    let after = after.replacen("cpu_ms = 500\n", "", 1);
    assert!(!after[..after.find("[[").unwrap_or(after.len())].contains("cpu_ms"));
    std::fs::write(&config, format!("{before}{after}")).expect("writing the config");
    let (hub, addr) = test.start().await;
    assert_eq!(
        hub.active()
            .plugin("topics")
            .expect("topics")
            .limits
            .cpu
            .as_millis(),
        100
    );
    (hub, addr)
}

async fn send(
    method: reqwest::Method,
    url: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, url)
        .header("authorization", bearer(url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn import(addr: &str, jsonl: String) -> (u16, Value) {
    send(
        reqwest::Method::POST,
        &format!("http://{addr}/v1/corrections/import"),
        "application/x-ndjson",
        jsonl,
    )
    .await
}

async fn remove(addr: &str, query: &str, body: String) -> (u16, Value) {
    send(
        reqwest::Method::DELETE,
        &format!("http://{addr}/v1/corrections/import{query}"),
        "application/x-ndjson",
        body,
    )
    .await
}

fn kv(hub: &Hub, plugin: &str) -> Arc<dyn PluginKv> {
    hub.active()
        .plugin(plugin)
        .unwrap_or_else(|| panic!("plugin {plugin}"))
        .context
        .kv
        .clone()
}

/// The example keys in each classifier's kv, the same in all of them.
fn example_keys(hub: &Hub) -> Vec<String> {
    let mut found: Option<Vec<String>> = None;
    for plugin in ["pii", "topics", "keywords", "sentiment", "kind"] {
        let keys = kv(hub, plugin)
            .list_keys(CORRECTIONS_PREFIX, 1_000_000)
            .expect("listing");
        if let Some(first) = &found {
            assert_eq!(first, &keys, "the kv of {plugin} holds other examples");
        }
        found = Some(keys);
    }
    found.unwrap_or_default()
}

/// The labelled appeals: (text, level-4 code).
fn appeals() -> Vec<(String, String)> {
    let text = String::from_utf8(sample("tests/data/appeals_train.jsonl")).expect("UTF-8");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let code: Vec<&str> = v["code"].as_str().expect("a code").split('.').collect();
            (
                v["text"].as_str().expect("a text").to_string(),
                code[..4].join("."),
            )
        })
        .collect()
}

/// `n` import lines made from the appeals: a piece of an appeal of 6 to 14 words from a
/// varying place, with one of several closing phrases and the line's number, under the
/// level-4 code of the appeal.
fn history(n: usize) -> String {
    const CLOSINGS: &[&str] = &[
        "Прошу разобраться.",
        "Просим принять меры.",
        "Жду ответа.",
        "Помогите, пожалуйста.",
        "Прошу проверить и сообщить.",
        "",
    ];
    let appeals = appeals();
    let words: Vec<Vec<&str>> = appeals
        .iter()
        .map(|(t, _)| t.split_whitespace().collect())
        .collect();
    let mut out = String::new();
    for i in 0..n {
        let a = i % appeals.len();
        let w = &words[a];
        let len = (6 + i * 7 % 9).min(w.len());
        let start = (i / appeals.len() * 5) % (w.len() - len + 1);
        let text = format!(
            "{} {} (№ {i})",
            w[start..start + len].join(" "),
            CLOSINGS[i % CLOSINGS.len()]
        );
        out.push_str(&json!({"text": text, "code": appeals[a].1}).to_string());
        out.push('\n');
    }
    out
}

/// Posts a mail and returns its id.
async fn post(addr: &str, n: usize, subject: &str, body: &str) -> String {
    let (status, answer) =
        post_mail(addr, mail(&format!("import-{n}@example.ru"), subject, body)).await;
    assert_eq!(status, 202, "{answer}");
    answer["ids"][0].as_str().expect("an id").to_string()
}

/// Waits until the message has left the pipeline, and returns its record as the API
/// shows it.
async fn finished(hub: &Hub, addr: &str, id: &str) -> Value {
    eventually("the appeal leaves the pipeline", LIMIT, || {
        hub.store
            .get(id)
            .ok()
            .flatten()
            .is_some_and(|r| matches!(r.state, State::Delivered | State::Failed))
    })
    .await;
    get_json(&format!("http://{addr}/v1/messages/{id}")).await.1
}

fn topic_code(record: &Value) -> &str {
    record["classification"]["topic"]["best"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_import_of_100000_lines_every_appeal_is_classified_under_the_default_cpu_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 100,000 lines of about 200 bytes: over the default 10 MiB body limit.
    let (hub, addr) = start_hub(dir.path(), "max_body_bytes = 67108864", &[]).await;

    let (status, answer) = import(&addr, history(100_000)).await;
    assert_eq!(status, 200, "{}", answer["error"]);
    assert_eq!(answer["imported"], json!(100_000), "{}", answer["errors"]);
    assert_eq!(answer["errors"], json!([]));
    let keys = answer["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 100_000);
    assert_eq!(keys[0]["line"], json!(1));
    assert_eq!(example_keys(&hub).len(), 100_000);

    let appeals = appeals();
    let mut ids = Vec::new();
    for n in 0..100 {
        let (text, _) = &appeals[n % appeals.len()];
        ids.push(post(&addr, n, &format!("Обращение {n}"), text).await);
    }
    for id in &ids {
        let record = finished(&hub, &addr, id).await;
        assert_eq!(
            record["state"],
            json!("delivered"),
            "{id}: {}",
            record["trace"]
        );
        assert!(!topic_code(&record).is_empty(), "{id}: no topic");
    }
    let (_, dead) = get_json(&format!("http://{addr}/v1/dead-letters")).await;
    assert_eq!(dead.as_array().map(Vec::len).unwrap_or(0), 0, "{dead}");

    // The topics plugin saved its progress in shards, each within the kv value limit.
    let topics = kv(&hub, "topics");
    let shard = topics
        .get("topics.index")
        .expect("the kv")
        .expect("the first shard of the index");
    assert!(shard.len() <= MAX_VALUE_BYTES);
    for key in topics.list_keys("topics.index.", 100).expect("listing") {
        let size = topics.get(&key).expect("the kv").map_or(0, |v| v.len());
        assert!(size <= MAX_VALUE_BYTES, "{key}: {size} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_over_the_line_limit_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr) = start_hub(dir.path(), "import_max_lines = 10", &[]).await;

    let (status, answer) = import(&addr, history(11)).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], json!("too_many_lines"), "{answer}");
    assert_eq!(
        answer["error"]["details"],
        json!({"lines": 11, "limit": 10})
    );
    assert!(example_keys(&hub).is_empty(), "nothing is written");
    // Blank lines do not count.
    let csv = "text;code\n\n".to_string()
        + &(0..11)
            .map(|n| format!("Яма на дороге у дома {n};0003.0009.0097.0699\n"))
            .collect::<String>();
    let (status, answer) = send(
        reqwest::Method::POST,
        &format!("http://{addr}/v1/corrections/import"),
        "text/csv",
        csv,
    )
    .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (413, &json!("too_many_lines"))
    );
    assert!(example_keys(&hub).is_empty(), "nothing is written");

    let (status, answer) = import(&addr, history(10) + "\n\n").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["imported"], json!(10));
    assert_eq!(example_keys(&hub).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_larger_than_a_kv_value_is_an_error_for_that_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr) = start_hub(dir.path(), "", &[]).await;
    let big = "Очень длинное обращение о яме на дороге. ".repeat(2_000_000 / 70);
    let body = [
        json!({"text": "Яма на дороге у школы", "code": "0003.0009.0097.0699"}),
        json!({"text": big, "code": "0003.0009.0097.0699"}),
        json!({"text": "Во дворе не вывозят мусор", "code": "0005.0005.0056.1161"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    assert!(body.len() > 2_000_000);

    let (status, answer) = import(&addr, body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["imported"], json!(2), "{answer}");
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{answer}");
    assert_eq!(errors[0]["line"], json!(2));
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains(&MAX_VALUE_BYTES.to_string()),
        "{answer}"
    );
    let keys = example_keys(&hub);
    assert_eq!(keys.len(), 2);
    for plugin in ["pii", "topics", "keywords", "sentiment", "kind"] {
        let usage = kv(&hub, plugin).usage().expect("usage");
        assert!(usage.used < 4096, "{plugin} holds {} bytes", usage.used);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_quota_refuses_the_plugins_writes_and_the_import_lines_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr) = start_hub(
        dir.path(),
        "",
        &[(
            "filler",
            "kv_quota_mib = 1\n[plugins.settings]\nmode = \"kv-fill\"",
        )],
    )
    .await;

    // The plugin's own writes: four values of 256 KiB and their keys are over 1 MiB.
    let id = post(&addr, 0, "Вопрос", "Яма на дороге у школы").await;
    let record = finished(&hub, &addr, &id).await;
    assert_eq!(record["state"], json!("delivered"), "{}", record["trace"]);
    let tags: Vec<&str> = record["classification"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains(&"kv-quota-exceeded-3"), "{tags:?}");
    let filler = kv(&hub, "filler");
    let usage = filler.usage().expect("usage");
    assert_eq!(usage.quota, 1 << 20);
    assert!(usage.used <= usage.quota, "{usage:?}");
    // Make room for examples of 250 KB: the filler's kv holds three values now.
    for n in 0..3 {
        filler.delete(&format!("fill/{n}")).expect("delete");
    }

    // The hub's writes: examples go into every classifier's kv or into none, so the
    // line that the filler's quota cannot take is an error, and no kv keeps it.
    let lines: Vec<String> = (0..6)
        .map(|n| {
            let text = format!("Обращение {n}: ") + &"яма на дороге ".repeat(250_000 / 25);
            json!({"text": text, "code": "0003.0009.0097.0699"}).to_string()
        })
        .collect();
    let (status, answer) = import(&addr, lines.join("\n")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["imported"], json!(4), "{answer}");
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(
        errors.iter().map(|e| e["line"].clone()).collect::<Vec<_>>(),
        vec![json!(5), json!(6)],
        "{answer}"
    );
    for error in errors {
        let message = error["error"].as_str().unwrap_or("");
        assert!(
            message.contains("\"filler\"") && message.contains("quota"),
            "{message}"
        );
    }
    assert_eq!(example_keys(&hub).len(), 4);
    assert_eq!(
        kv(&hub, "filler")
            .list_keys(CORRECTIONS_PREFIX, 100)
            .expect("listing")
            .len(),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_example_can_be_removed_by_key_id_or_the_lines_that_imported_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, addr) = start_hub(dir.path(), "", &[]).await;

    // Before any example, the dog appeal gets some other code.
    let id = post(&addr, 0, DOG_SUBJECT, DOG_BODY).await;
    let untaught = topic_code(&finished(&hub, &addr, &id).await).to_string();
    assert_ne!(
        untaught, DOG_CODE,
        "the test needs an example that changes the answer"
    );

    let dog = format!("{DOG_SUBJECT}\n{DOG_BODY}");
    let lines = [
        json!({"text": dog, "code": DOG_CODE}),
        json!({"text": "Яма на дороге у школы", "code": "0003.0009.0097.0699"}),
        json!({"id": "h-7", "text": "Во дворе не вывозят мусор", "code": "0005.0005.0056.1161"}),
        json!({"text": "Во дворе не убирают снег", "code": "0005.0005.0056.1161"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let (status, answer) = import(&addr, lines.clone()).await;
    assert_eq!((status, &answer["imported"]), (200, &json!(4)), "{answer}");
    let keys: Vec<String> = answer["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key"].as_str().expect("a key").to_string())
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(keys[2].starts_with("import-h-7."), "{keys:?}");
    let id = post(&addr, 1, DOG_SUBJECT, DOG_BODY).await;
    assert_eq!(topic_code(&finished(&hub, &addr, &id).await), DOG_CODE);

    // By key: the example is gone from every kv, and stops voting.
    let (status, answer) = remove(&addr, &format!("?key={}", keys[0]), String::new()).await;
    assert_eq!((status, &answer["removed"]), (200, &json!(1)), "{answer}");
    assert_eq!(example_keys(&hub).len(), 3);
    let id = post(&addr, 2, DOG_SUBJECT, DOG_BODY).await;
    assert_eq!(topic_code(&finished(&hub, &addr, &id).await), untaught);
    let (status, answer) = remove(&addr, &format!("?key={}", keys[0]), String::new()).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("not_found"))
    );

    // By id.
    let (status, answer) = remove(&addr, "?id=h-7", String::new()).await;
    assert_eq!((status, &answer["removed"]), (200, &json!(1)), "{answer}");
    assert_eq!(answer["keys"], json!([keys[2]]));
    assert_eq!(example_keys(&hub).len(), 2);

    // By the lines that imported them: the same file undoes its import.
    let (status, answer) = remove(&addr, "", lines).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["removed"], &answer["missing"]),
        (&json!(2), &json!(2)),
        "{answer}"
    );
    assert!(example_keys(&hub).is_empty());

    // Naming nothing, or a key that is not an import's, removes nothing.
    let (status, _) = remove(&addr, "", String::new()).await;
    assert_eq!(status, 400);
    let (status, answer) = remove(&addr, "?key=../topics.index", String::new()).await;
    assert_eq!((status, &answer["error"]["code"]), (400, &json!("bad_key")));
    assert!(kv(&hub, "topics")
        .get("topics.index")
        .expect("the kv")
        .is_some());
}
