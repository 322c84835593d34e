//! VK's Callback API and Telegram's webhook end to end: the committed samples
//! (tests/data/social) posted to the hub's `POST /v1/webhooks/{source}` without a bearer
//! token, with the right secret, a forged one and none; VK's confirmation handshake; the
//! three kinds of social message; and the reply through the platform's API (a local
//! stand-in for api.vk.com and api.telegram.org, granted to the plugin).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::Uri;
use axum::routing::post;
use axum::Router;
use okno_hub::cli::serve;
use okno_tests::hub_config::{http_sink, http_source, hub_table, plugin_entry};
use okno_tests::*;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn built(name: &str) -> PathBuf {
    okno_tests::reference_plugin("social", &["social", "priority"], name)
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/social").join(name)).unwrap()
}

/// A VK sample with `"secret": SECRET` put in after its first `{`, the rest byte for byte
/// (its byte-order mark and tabs included).
fn with_vk_secret(bytes: &[u8], secret: &str) -> Vec<u8> {
    let at = bytes.iter().position(|b| *b == b'{').unwrap() + 1;
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(format!("\"secret\": \"{secret}\",").as_bytes());
    out.extend_from_slice(&bytes[at..]);
    out
}

/// A Telegram Message sample wrapped in an Update.
fn update(id: i64, kind: &str, message: &[u8]) -> Vec<u8> {
    let message: Value = serde_json::from_slice(message).unwrap();
    json!({"update_id": id, kind: message})
        .to_string()
        .into_bytes()
}

/// The platforms' APIs as the plugin calls them: every request's path and body kept.
#[derive(Clone, Default)]
struct Platforms {
    calls: Arc<Mutex<Vec<(String, String)>>>,
}

impl Platforms {
    async fn start(port: u16) -> Platforms {
        let platforms = Platforms::default();
        let app = Router::new()
            .route(
                "/{*path}",
                post(
                    |State(p): State<Platforms>, uri: Uri, body: String| async move {
                        let path = uri.path().to_string();
                        p.calls.lock().unwrap().push((path.clone(), body));
                        if path.ends_with("/sendMessage") {
                            r#"{"ok": true, "result": {"message_id": 77}}"#
                        } else {
                            r#"{"response": 4821}"#
                        }
                    },
                ),
            )
            .with_state(platforms.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        platforms
    }
}

struct Hub {
    hub: Arc<okno_hub::pipeline::Hub>,
    addr: String,
    sink: Sink,
    platforms: Platforms,
}

async fn start_hub(dir: &Path) -> Hub {
    let (sink_port, api_port) = (free_port(), free_port());
    let sink = Sink::start(sink_port).await;
    let platforms = Platforms::start(api_port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let mut text = hub_table(dir, &listen, "workers = 2");
    text.push_str(&plugin_entry(
        "social",
        "connector",
        &built("social"),
        &format!(
            "http_allow = [\"127.0.0.1:{api_port}\"]\n\
             [plugins.settings]\n\"vk.group-id\" = \"123456789\"\n\"vk.secret\" = \"s3cret\"\n\"vk.confirmation\" = \"d8v2ve07\"\n\
             \"vk.access-token\" = \"vk-token\"\n\"vk.api\" = \"http://127.0.0.1:{api_port}/method\"\n\
             \"telegram.secret-token\" = \"t0ken\"\n\"telegram.bot-token\" = \"123:abc\"\n\"telegram.api\" = \"http://127.0.0.1:{api_port}\"\n\
             \"telegram.bot-username\" = \"minsoc_bot\"\n\"telegram.channel-ids\" = \"-1002236736395\""
        ),
    ));
    text.push_str(&plugin_entry("priority", "policy", &built("priority"), ""));
    for name in ["vk", "telegram"] {
        text.push_str(&format!(
            "[[sources]]\nname = \"{name}\"\ntransport = \"http\"\nconnector = \"social\"\nauth = \"connector\"\n\n"
        ));
    }
    // A source whose pushes need a token: the webhook route holds nothing for it.
    text.push_str(&http_source("tokens-only", "social"));
    text.push_str("[pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n");
    text.push_str(&http_sink(
        "replies",
        &Sink::url(sink_port, "replies"),
        "social",
    ));
    text.push_str(
        "[[routes]]\nname = \"social\"\nmatch = { channel = [\"social\"] }\nsinks = [\"replies\"]\n",
    );
    let config = dir.join("okno.toml");
    std::fs::write(&config, text).unwrap();
    issue_tokens(&dir.join("data"), &listen);
    let (hub, addr) = serve::start(config, Default::default()).await.unwrap();
    Hub {
        hub,
        addr: addr.to_string(),
        sink,
        platforms,
    }
}

/// POSTs to the webhook route, no bearer token: (status, body text).
async fn webhook(
    hub: &Hub,
    source: &str,
    body: Vec<u8>,
    secret_token: Option<&str>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/v1/webhooks/{source}", hub.addr))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = secret_token {
        request = request.header("X-Telegram-Bot-Api-Secret-Token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn stored_with_key(hub: &Hub, key: &str) -> Option<okno_hub::model::Message> {
    hub.hub.store.scan_messages(None).find_map(|r| {
        let r = r.ok()?;
        (r.message.idempotency_key.as_deref() == Some(key)).then_some(r.message)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vk_callbacks_with_right_forged_and_missing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;

    // The confirmation handshake: the configured string as the body, nothing stored.
    let (status, body) = webhook(
        &hub,
        "vk",
        br#"{"type": "confirmation", "group_id": 123456789}"#.to_vec(),
        None,
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "d8v2ve07"));
    assert_eq!(hub.hub.store.message_count(), 0);

    // Forged and missing secrets: 403 and 401, nothing stored, the hub serving on.
    let direct = sample("vk_vknet_GetBotsLongPollHistory_MessageNewTest.json");
    let (status, body) = webhook(&hub, "vk", with_vk_secret(&direct, "s3cre7"), None).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = webhook(&hub, "vk", direct.clone(), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(hub.hub.store.message_count(), 0);

    // The right secret: VK gets its `ok`.
    for name in [
        "vk_vknet_GetBotsLongPollHistory_MessageNewTest.json",
        "vk_vknet_GetBotsLongPollHistory_MessageNewTemplateTest.json",
    ] {
        let (status, body) =
            webhook(&hub, "vk", with_vk_secret(&sample(name), "s3cret"), None).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{name}");
    }
    // Both samples are message 985 from 123456789: the second is a repeat.
    assert_eq!(hub.hub.store.message_count(), 1);
    let dm = stored_with_key(&hub, "vk:123456789:message:985").expect("the direct message");
    assert_eq!(dm.metadata_value("tag"), Some("social.official-appeal"));
    // The wall samples are of community 1234, not this source's 123456789.
    let (status, _) = webhook(
        &hub,
        "vk",
        with_vk_secret(
            &sample("vk_vknet_GetBotsLongPollHistory_WallReplyNewTest.json"),
            "s3cret",
        ),
        None,
    )
    .await;
    assert_eq!(status, 403);

    // A source that did not declare auth = "connector" takes no webhooks.
    let (status, _) = webhook(&hub, "tokens-only", with_vk_secret(&direct, "s3cret"), None).await;
    assert_eq!(status, 404);

    // The reply: messages.send to the citizen, and the receipt to the sink.
    eventually("the reply is sent", LIMIT, || {
        !hub.sink.received.lock().unwrap().is_empty()
    })
    .await;
    let calls = hub.platforms.calls.lock().unwrap().clone();
    assert_eq!(calls[0].0, "/method/messages.send");
    assert!(calls[0].1.contains("peer_id=123456789"), "{}", calls[0].1);
    assert!(
        calls[0].1.contains("access_token=vk-token"),
        "{}",
        calls[0].1
    );
    let receipt: Value = serde_json::from_str(&hub.sink.received.lock().unwrap()[0].1).unwrap();
    assert_eq!(receipt["platform"], "vk");
    assert_eq!(receipt["id"], dm.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_updates_with_right_forged_and_missing_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let private = update(1, "message", &sample("tg_teloxide_message_de_text_ru.json"));

    let (status, body) = webhook(&hub, "telegram", private.clone(), None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = webhook(&hub, "telegram", private.clone(), Some("t0kem")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(hub.hub.store.message_count(), 0);

    let (status, body) = webhook(&hub, "telegram", private, Some("t0ken")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let dm = stored_with_key(&hub, "telegram:250918540:199785").expect("the private message");
    assert_eq!(dm.metadata_value("tag"), Some("social.official-appeal"));
    assert_eq!(dm.body, "Лол кек 😂");

    // The ministry's own channel post, a reaction, group chatter: `ok`, nothing stored.
    for body in [
        update(
            2,
            "channel_post",
            &sample("tg_teloxide_message_channel_sender_chat_giveaway.json"),
        ),
        sample("tg_teloxide_update_message_reaction_ru.json"),
        sample("tg_teloxide_update_issue1107_supergroup_story.json"),
    ] {
        let (status, text) = webhook(&hub, "telegram", body, Some("t0ken")).await;
        assert_eq!((status, text.as_str()), (200, "ok"));
    }
    assert_eq!(hub.hub.store.message_count(), 1);

    // A group message naming the bot is a mention; a reply to the channel's post, a comment.
    let mut group: Value = serde_json::from_slice(&sample(
        "tg_teloxide_update_issue1107_supergroup_story.json",
    ))
    .unwrap();
    group["message"]["text"] = "@minsoc_bot когда починят дорогу?".into();
    webhook(
        &hub,
        "telegram",
        group.to_string().into_bytes(),
        Some("t0ken"),
    )
    .await;
    group["message"]["message_id"] = 134546.into();
    group["message"]["text"] = "А в нашем районе?".into();
    group["message"]["reply_to_message"] = json!({"message_id": 27, "date": 1721162577i64, "chat": {"id": -1001293752024i64, "type": "supergroup"}, "sender_chat": {"id": -1002236736395i64, "type": "channel", "title": "Test"}, "is_automatic_forward": true});
    webhook(
        &hub,
        "telegram",
        group.to_string().into_bytes(),
        Some("t0ken"),
    )
    .await;
    let mention = stored_with_key(&hub, "telegram:-1001293752024:134545").unwrap();
    assert_eq!(mention.metadata_value("tag"), Some("social.mention"));
    let comment = stored_with_key(&hub, "telegram:-1001293752024:134546").unwrap();
    assert_eq!(comment.metadata_value("tag"), Some("social.comment"));

    // Replies: sendMessage to each chat, in reply to its message.
    eventually("three replies are sent", LIMIT, || {
        hub.sink.received.lock().unwrap().len() == 3
    })
    .await;
    let calls = hub.platforms.calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .all(|(path, _)| path == "/bot123:abc/sendMessage"),
        "{calls:?}"
    );
    // Their deadlines follow the order (6.3.2): 4 working hours for a mention, 2 for a
    // comment on an official post.
    let sla_reasons = |key: &str| -> String {
        hub.hub
            .store
            .scan_messages(None)
            .filter_map(Result::ok)
            .find(|r| r.message.idempotency_key.as_deref() == Some(key))
            .and_then(|r| {
                r.trace
                    .iter()
                    .find(|t| t.stage == "sla")
                    .map(|t| t.reasons.join("; "))
            })
            .unwrap_or_default()
    };
    let reasons = sla_reasons("telegram:-1001293752024:134545");
    assert!(reasons.contains("rule social-mention: answer"), "{reasons}");
    let reasons = sla_reasons("telegram:-1001293752024:134546");
    assert!(reasons.contains("rule social-appeal: answer"), "{reasons}");
    let bodies: Vec<Value> = calls
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    assert!(bodies
        .iter()
        .any(|b| b["chat_id"] == 250918540 && b["reply_parameters"]["message_id"] == 199785));
}
