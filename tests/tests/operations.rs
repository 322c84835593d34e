//! What an operator meets: backpressure, logs without personal data, reload on SIGHUP.

use std::time::Duration;

use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

/// The hub as a process with its stderr captured, killed when dropped.
struct HubProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl HubProcess {
    fn start(config: &std::path::Path, log: std::path::PathBuf, rust_log: &str) -> HubProcess {
        let file = std::fs::File::create(&log).expect("log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", rust_log)
            .stderr(file)
            .spawn()
            .expect("starting the hub");
        HubProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after_and_keeps_what_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    // One worker, a queue of one, and a classifier that holds the worker for 2 s on `[loop]`.
    let config = write_config_with(
        dir.path(),
        &listen,
        "workers = 1\nqueue_capacity = 1",
        &one_sink(&Sink::url(port, "r"), 5),
        &[(
            "slow",
            "cpu_ms = 2000\n[plugins.settings]\nmode = \"by-body\"",
        )],
    );
    let (_hub, addr) = okno_hub::cli::serve::start(config, Default::default())
        .await
        .unwrap();
    let addr = addr.to_string();
    let mut accepted = Vec::new();
    let mut refused = None;
    for i in 0..6 {
        let url = format!("http://{addr}/v1/sources/mail/messages");
        let response = reqwest::Client::new()
            .post(&url)
            .header("authorization", bearer(&url))
            .body(mail(
                &format!("busy-{i}@example.ru"),
                "x",
                "Текст [loop] обращения",
            ))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            202 => accepted.push(i),
            503 => {
                assert_eq!(
                    response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("1")
                );
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "busy");
                refused = Some(i);
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        refused.is_some(),
        "a full queue must refuse rather than grow; accepted {accepted:?}"
    );
    // What was accepted is kept: each goes through the pipeline (and is dead-lettered by
    // the looping classifier), none is lost.
    let (_, list) = get_json(&format!("http://{addr}/v1/messages")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), accepted.len());
    let mut letters = serde_json::Value::Null;
    for _ in 0..300 {
        letters = get_json(&format!("http://{addr}/v1/dead-letters")).await.1;
        if letters["items"]
            .as_array()
            .is_some_and(|a| a.len() == accepted.len())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        letters["items"].as_array().unwrap().len(),
        accepted.len(),
        "{letters}"
    );
    drop(sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_info_hold_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = Sink::start(port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &listen,
        &one_sink(&Sink::url(port, "r"), 5),
        &[("chatty", "[plugins.settings]\nmode = \"ok\"")],
    );
    let hub = HubProcess::start(&config, dir.path().join("hub.log"), "info");
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;

    let planted = [
        "Смирнова Анна Петровна",
        "+7 (912) 345-67-89",
        "anna.smirnova@example.ru",
        "112-233-445 95",
        "4508 123456",
        "4276 3800 1234 5678",
    ];
    let body = format!(
        "Я, {}, прошу перезвонить по телефону {} или написать на {}. СНИЛС {}, паспорт {}, карта {}. Адрес: г. Кострома, ул. Ленина, д. 5, кв. 12.",
        planted[0], planted[1], planted[2], planted[3], planted[4], planted[5]
    );
    let message = format!(
        "From: =?utf-8?B?0KHQvNC40YDQvdC+0LLQsCDQkNC90L3QsA==?= <anna.smirnova@example.ru>\r\nTo: priemnaya@minsoc.example.ru\r\nSubject: =?utf-8?B?0J/QtdGA0LXRgNCw0YHRh9C10YIg0L/QtdC90YHQuNC4?=\r\nMessage-ID: <pii-1@example.ru>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    );
    let (status, accepted) = post_mail(&listen, message.into_bytes()).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["ids"][0].as_str().unwrap().to_string();
    eventually("delivery", LIMIT, || sink.keys().contains(&id)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = hub.log();
    assert!(log.contains(&id), "the run was logged at info: {log}");
    for secret in planted.iter().chain(["Смирнова", "anna.smirnova"].iter()) {
        assert!(
            !log.contains(secret),
            "the info log holds {secret:?}:\n{log}"
        );
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (free_port(), free_port());
    let sink_a = Sink::start(first).await;
    let sink_b = Sink::start(second).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &listen,
        &one_sink(&Sink::url(first, "a"), 5),
        &[],
    );
    let hub = HubProcess::start(&config, dir.path().join("hub.log"), "info");
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let hup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &hub.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };

    let (_, body) = post_mail(
        &listen,
        mail("hup-1@example.ru", "x", "Прошу отремонтировать дорогу."),
    )
    .await;
    let one = body["ids"][0].as_str().unwrap().to_string();
    eventually("delivery to the first sink", LIMIT, || {
        sink_a.keys().contains(&one)
    })
    .await;

    // A broken file is refused and the hub goes on with the old one.
    std::fs::write(&config, "[hub\nbroken").unwrap();
    hup();
    eventually("the refusal is logged", LIMIT, || {
        hub.log().contains("reload on SIGHUP refused")
    })
    .await;
    assert!(
        hub.log().contains("okno.toml:1:"),
        "the refusal names the place: {}",
        hub.log()
    );

    write_config(
        dir.path(),
        &listen,
        &one_sink(&Sink::url(second, "b"), 5),
        &[],
    );
    hup();
    eventually("the reload is logged", LIMIT, || {
        hub.log().contains("configuration reloaded")
    })
    .await;
    let (_, body) = post_mail(
        &listen,
        mail("hup-2@example.ru", "x", "Прошу отремонтировать дорогу."),
    )
    .await;
    let two = body["ids"][0].as_str().unwrap().to_string();
    eventually("delivery to the second sink", LIMIT, || {
        sink_b.keys().contains(&two)
    })
    .await;
    assert!(!sink_a.keys().contains(&two));
}

/// `text` without the terminal colour sequences the log formatter adds.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `2026-11-29T10:00:00`: the start of every line the hub's log formatter writes.
fn starts_with_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() >= 19
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && (b[4], b[7], b[10], b[13], b[16]) == (b'-', b'-', b'T', b':', b':')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sinks_hostile_error_answer_cannot_forge_log_lines_or_leak_personal_data() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let secrets = [
        "Смирнова Анна Петровна",
        "+7 (912) 345-67-89",
        "anna.smirnova@example.ru",
    ];
    let answer = format!(
        "upstream failed\n2026-11-29T00:00:00Z ERROR forged: every message was deleted\r\n\
         заявитель {}, тел. {}, почта {}\u{2028}2026-11-29T00:00:01Z  WARN forged again",
        secrets[0], secrets[1], secrets[2]
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::post(move || {
            let (counted, answer) = (counted.clone(), answer.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, answer)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &listen,
        &one_sink(&format!("http://{sink_addr}/r"), 2),
        &[],
    );
    let hub = HubProcess::start(&config, dir.path().join("hub.log"), "info");
    eventually("the hub answers", LIMIT, || {
        std::net::TcpStream::connect(&listen).is_ok()
    })
    .await;
    let (status, accepted) = post_mail(
        &listen,
        mail(
            "hostile-sink@example.ru",
            "x",
            "Прошу отремонтировать дорогу.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    eventually("both attempts and the dead letter", LIMIT, || {
        hits.load(Ordering::SeqCst) >= 2 && hub.log().contains("delivery failed for good")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let log = without_colours(&hub.log());
    assert!(
        log.contains("delivery failed; will retry"),
        "the retry was logged at info: {log}"
    );
    // The answer reached the log (else this test would prove nothing), inside the hub's
    // own events.
    assert!(log.contains("ERROR forged"), "{log}");
    for line in log.lines().filter(|l| !l.is_empty()) {
        assert!(
            starts_with_timestamp(line),
            "a line that is not the hub's:\n{line}\nin:\n{log}"
        );
        if line.contains("forged") {
            assert!(line.contains("delivery failed"), "{line}");
        }
    }
    for secret in secrets
        .iter()
        .chain(["Смирнова", "anna.smirnova", "345-67-89"].iter())
    {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
}
