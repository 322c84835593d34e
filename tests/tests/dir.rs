//! Directories end to end: files dropped into a `dir` source's inbox are journaled and
//! moved to done/ (or failed/ with the reason), never read half, and never twice across a
//! `kill -9`; a `dir` sink writes complete files only, under names that stay inside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use okno_hub::cli::serve;
use okno_tests::feed_gate::HubProcess;
use okno_tests::hub_config::plugin_entry;
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(90);

/// The shared test config with a `dir` source reading `inbox` through http-json, and
/// `sinks_and_routes`.
fn write_dir_config(
    dir: &Path,
    listen: &str,
    inbox: &Path,
    scan_ms: u64,
    sinks_and_routes: &str,
) -> PathBuf {
    let extra = format!(
        "[[sources]]\nname = \"inbox\"\ntransport = \"dir\"\nconnector = \"http-json\"\n[sources.dir]\npath = \"{}\"\nscan_interval_ms = {scan_ms}\nmax_file_bytes = 1000\n\n{sinks_and_routes}",
        inbox.display()
    );
    write_config(dir, listen, &extra, &[])
}

/// A sink nobody listens on, so that routed messages stay put.
const NOWHERE: &str = "[[sinks]]\nname = \"registry\"\ntransport = \"http\"\nurl = \"http://127.0.0.1:9/\"\nconnector = \"http-json\"\nmax_attempts = 1\n\n[[routes]]\nname = \"all\"\nsinks = [\"registry\"]\n";

async fn inbox_messages(listen: &str) -> Vec<serde_json::Value> {
    let (status, body) = get_json(&format!("http://{listen}/v1/messages?limit=1000")).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "inbox")
        .cloned()
        .collect()
}

fn appeal(body: &str) -> String {
    serde_json::json!({"body": body, "channel": "edms"}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_to_done_once_journaled_or_to_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("good.json"), appeal("Прошу рассмотреть заявку")).unwrap();
    std::fs::write(inbox.join("bad.json"), "{\"body\": 5}").unwrap();
    std::fs::write(inbox.join("big.json"), appeal(&"о".repeat(1000))).unwrap();
    std::fs::write(inbox.join("being-copied.json.part"), "{").unwrap();
    std::fs::write(inbox.join(".hidden"), "{").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_dir_config(dir.path(), &listen, &inbox, 100, NOWHERE);
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    let addr = addr.to_string();

    eventually("every complete file handled", LIMIT, || {
        file_names(&inbox) == [".hidden", "being-copied.json.part", "done", "failed"]
    })
    .await;
    assert_eq!(file_names(&inbox.join("done")), ["good.json"]);
    assert_eq!(
        file_names(&inbox.join("failed")),
        ["bad.json", "bad.json.error", "big.json", "big.json.error"]
    );
    let bad = std::fs::read_to_string(inbox.join("failed/bad.json.error")).unwrap();
    assert!(bad.contains("$.body"), "the connector's typed error: {bad}");
    assert!(bad.contains("invalid-input"), "{bad}");
    let big = std::fs::read_to_string(inbox.join("failed/big.json.error")).unwrap();
    assert!(big.contains("max_file_bytes = 1000"), "{big}");
    let messages = inbox_messages(&addr).await;
    assert_eq!(messages.len(), 1, "only the good file: {messages:?}");
    assert_eq!(messages[0]["channel"], "edms");

    // The same file put back (as if the move to done/ had not happened) is the first
    // message again, and is kept beside the first copy in done/.
    std::fs::copy(inbox.join("done/good.json"), inbox.join("good.json")).unwrap();
    eventually("the repeat moved to done", LIMIT, || {
        file_names(&inbox.join("done")) == ["good.json", "good.json.1"]
    })
    .await;
    assert_eq!(inbox_messages(&addr).await.len(), 1, "not journaled twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_in_two_halves_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_dir_config(dir.path(), &listen, &inbox, 400, NOWHERE);
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    eventually("the inbox is watched", LIMIT, || {
        inbox.join("done").is_dir()
    })
    .await;

    // Half now and half later (within a scan interval): the half alone is not JSON, and
    // would fail if it were read.
    let text = appeal("Половина и ещё половина");
    let (first, second) = text.split_at(text.len() / 2);
    let path = inbox.join("slow.json");
    std::fs::write(&path, first).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(second.as_bytes()).unwrap();
    }
    // A writer that takes long writes under `.part` and renames when done.
    let part = inbox.join("long.json.part");
    std::fs::write(&part, "{\"body\": \"Долгая").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    std::fs::write(&part, appeal("Долгая запись")).unwrap();
    std::fs::rename(&part, inbox.join("long.json")).unwrap();

    eventually("both files done", LIMIT, || {
        file_names(&inbox.join("done")) == ["long.json", "slow.json"]
    })
    .await;
    assert!(file_names(&inbox.join("failed")).is_empty());
    assert_eq!(inbox_messages(&addr.to_string()).await.len(), 2);
}

/// The hub as a process of its own, killed (`kill -9`) when dropped.
fn hub_process(config: &Path) -> HubProcess {
    HubProcess::start(env!("CARGO_BIN_EXE_okno-under-test"), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_in_the_middle_of_a_scan_loses_nothing_and_ingests_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    const FILES: usize = 40;
    for n in 0..FILES {
        std::fs::write(
            inbox.join(format!("card-{n:02}.json")),
            appeal(&format!("Обращение номер {n}")),
        )
        .unwrap();
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_dir_config(dir.path(), &listen, &inbox, 50, NOWHERE);
    let done = inbox.join("done");

    let mut hub = hub_process(&config);
    eventually("some files done", LIMIT, || !file_names(&done).is_empty()).await;
    hub.kill();
    let done_before = file_names(&done).len();
    assert!(
        done_before < FILES,
        "killed in the middle, {done_before} done"
    );

    let _hub = hub_process(&config);
    eventually("every file done", LIMIT, || {
        file_names(&done).len() >= FILES
    })
    .await;
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let messages = inbox_messages(&listen).await;
    assert_eq!(messages.len(), FILES, "each file once");
    assert!(file_names(&inbox.join("failed")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dir_sink_writes_complete_files_under_names_that_stay_inside() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let escape = dir.path().join("escape");
    // A connector that names its files `../escape/…`.
    let named = plugin_entry(
        "named",
        "poller",
        &plugin("poll-feed"),
        "[plugins.settings]\nfilename-prefix = \"../escape/\"",
    );
    let sinks = format!(
        "{named}[[sinks]]\nname = \"outbox\"\ntransport = \"dir\"\nconnector = \"http-json\"\n[sinks.dir]\npath = \"{}\"\n\n\
         [[sinks]]\nname = \"escaping\"\ntransport = \"dir\"\nconnector = \"named\"\nmax_attempts = 1\n[sinks.dir]\npath = \"{}\"\n\n\
         [[routes]]\nname = \"all\"\nsinks = [\"outbox\", \"escaping\"]\n",
        outbox.display(),
        outbox.display(),
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(dir.path(), &listen, &sinks, &[]);
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    let addr = addr.to_string();

    let mut ids = Vec::new();
    for n in 0..5 {
        let (status, body) = post_mail(
            &addr,
            mail(
                &format!("dir-{n}@example.ru"),
                "Вопрос",
                "Прошу разъяснить порядок",
            ),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["ids"][0].as_str().unwrap().to_string());
    }
    // Every file a reader can see is whole: it parses.
    let mut expected: Vec<String> = ids.iter().map(|id| format!("{id}.json")).collect();
    expected.sort();
    let started = std::time::Instant::now();
    loop {
        let seen = file_names(&outbox);
        for name in seen.iter().filter(|n| !n.starts_with('.')) {
            let bytes = std::fs::read(outbox.join(name)).unwrap();
            let document: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{name} is not whole: {e}"));
            assert_eq!(format!("{}.json", document["id"].as_str().unwrap()), *name);
        }
        if seen == expected {
            break;
        }
        assert!(
            started.elapsed() < LIMIT,
            "outbox holds {seen:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The connector that names its files `../escape/ID.json` is dead-lettered, and
    // nothing is written outside the outbox.
    eventually("the escaping deliveries dead-lettered", LIMIT, || {
        ids.iter().all(|id| {
            _hub.store
                .get(id)
                .unwrap()
                .unwrap()
                .deliveries
                .get("escaping")
                .is_some_and(|d| d.state == okno_hub::store::DeliveryState::Dead)
        })
    })
    .await;
    let (_, dead) = get_json(&format!("http://{addr}/v1/dead-letters")).await;
    assert!(
        dead.to_string().contains("one path component"),
        "the reason names the bad file name: {dead}"
    );
    assert!(!escape.exists());
    assert_eq!(file_names(&outbox), expected);
}
