//! decode and encode through the connector interface, as the hub calls them, on the
//! committed VK and Telegram samples (tests/data/social).

use okno_plugin_social::SocialConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/data/social/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A VK sample with `"secret": SECRET` put in after its first `{`, the rest byte for byte.
fn with_vk_secret(bytes: &[u8], secret: &str) -> Vec<u8> {
    let at = bytes.iter().position(|b| *b == b'{').unwrap() + 1;
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(format!("\"secret\": \"{secret}\",").as_bytes());
    out.extend_from_slice(&bytes[at..]);
    out
}

fn host() -> MockHost {
    MockHost::new()
        .setting("vk.secret", "s3cret")
        .setting("vk.confirmation", "d8v2ve07")
        .setting("telegram.secret-token", "t0ken")
        .setting("telegram.bot-username", "minsoc_bot")
        .setting("telegram.channel-ids", "-1002236736395")
        .setting("vk.access-token", "vk-token")
        .setting("telegram.bot-token", "123:abc")
}

fn webhook(bytes: Vec<u8>, telegram_secret: Option<&str>) -> Inbound {
    let mut input = Inbound::from_bytes(bytes);
    input.metadata.push(("http.route".into(), "webhook".into()));
    if let Some(s) = telegram_secret {
        input.metadata.push((
            "http.header.x-telegram-bot-api-secret-token".into(),
            s.into(),
        ));
    }
    input
}

fn auth_of(e: &PluginError) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.message).expect("a structured error");
    v["auth"].as_str().unwrap_or("").to_string()
}

#[test]
fn vk_samples_become_the_three_kinds() {
    let host = host();
    let decode = |name: &str| {
        let input = webhook(with_vk_secret(&sample(name), "s3cret"), None);
        host.run(|| SocialConnector::decode(input)).unwrap()
    };
    let dm = decode("vk_vknet_GetBotsLongPollHistory_MessageNewTest.json");
    assert_eq!(dm.len(), 1);
    assert_eq!(dm[0].metadata_value("tag"), Some("social.official-appeal"));
    assert_eq!(dm[0].body, "f");
    assert_eq!(
        dm[0].idempotency_key.as_deref(),
        Some("vk:123456789:message:985")
    );
    assert_eq!(dm[0].client.contacts[0].value, "id123456789");
    // The UTF-8 byte-order mark and tabs of this sample are read as they are.
    let dm = decode("vk_vknet_GetBotsLongPollHistory_MessageNewTemplateTest.json");
    assert_eq!(dm[0].metadata_value("vk.peer-id"), Some("123456789"));
    let comment = decode("vk_vknet_GetBotsLongPollHistory_WallReplyNewTest.json");
    assert_eq!(comment[0].metadata_value("tag"), Some("social.comment"));
    assert_eq!(comment[0].metadata_value("vk.post-id"), Some("6"));
    let post = decode("vk_vknet_GetBotsLongPollHistory_WallPostNewTest.json");
    assert_eq!(post[0].metadata_value("tag"), Some("social.mention"));
}

#[test]
fn vk_secrets_are_checked() {
    let host = host();
    let bytes = sample("vk_vknet_GetBotsLongPollHistory_MessageNewTest.json");
    let forged = webhook(with_vk_secret(&bytes, "guess"), None);
    assert_eq!(
        auth_of(&host.run(|| SocialConnector::decode(forged)).unwrap_err()),
        "invalid"
    );
    let missing = webhook(bytes, None);
    assert_eq!(
        auth_of(&host.run(|| SocialConnector::decode(missing)).unwrap_err()),
        "missing"
    );
    // Without a configured secret the webhook takes nothing.
    let input = webhook(
        with_vk_secret(
            &sample("vk_vknet_GetBotsLongPollHistory_MessageNewTest.json"),
            "s3cret",
        ),
        None,
    );
    let e = MockHost::new()
        .run(|| SocialConnector::decode(input))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
}

#[test]
fn vk_confirmation_is_answered_with_the_configured_string() {
    let input = webhook(
        br#"{"type": "confirmation", "group_id": 1234, "secret": "s3cret"}"#.to_vec(),
        None,
    );
    let e = host().run(|| SocialConnector::decode(input)).unwrap_err();
    let v: serde_json::Value = serde_json::from_str(&e.message).unwrap();
    assert_eq!(v["reply"], "d8v2ve07");
}

/// Telegram's samples are Message objects; an update wraps one.
fn update(kind: &str, message: &[u8]) -> Vec<u8> {
    let message: serde_json::Value = serde_json::from_slice(message).unwrap();
    serde_json::json!({"update_id": 10001, kind: message})
        .to_string()
        .into_bytes()
}

#[test]
fn telegram_updates_become_the_three_kinds() {
    let host = host();
    let decode = |bytes: Vec<u8>| {
        host.run(|| SocialConnector::decode(webhook(bytes, Some("t0ken"))))
            .unwrap()
    };
    let private = decode(update(
        "message",
        &sample("tg_teloxide_message_de_text_ru.json"),
    ));
    assert_eq!(
        private[0].metadata_value("tag"),
        Some("social.official-appeal")
    );
    assert_eq!(private[0].body, "Лол кек 😂");
    assert_eq!(private[0].client.name.as_deref(), Some("Андрей Власов"));
    assert_eq!(
        private[0].idempotency_key.as_deref(),
        Some("telegram:250918540:199785")
    );
    // The ministry's own channel post is no appeal.
    assert!(decode(update(
        "channel_post",
        &sample("tg_teloxide_message_channel_sender_chat_giveaway.json")
    ))
    .is_empty());
    // A group message that does not address the bot is no appeal; one naming it is a mention.
    let group = sample("tg_teloxide_update_issue1107_supergroup_story.json");
    assert!(decode(group.clone()).is_empty());
    let mut named: serde_json::Value = serde_json::from_slice(&group).unwrap();
    named["message"]["text"] = "@minsoc_bot когда починят дорогу?".into();
    let mention = decode(named.to_string().into_bytes());
    assert_eq!(mention[0].metadata_value("tag"), Some("social.mention"));
    // A reply to the channel's post in its discussion group is a comment.
    let mut reply = named.clone();
    reply["message"]["text"] = "А в нашем районе?".into();
    reply["message"]["reply_to_message"] = serde_json::json!({"message_id": 27, "date": 1, "chat": {"id": -1001293752024i64, "type": "supergroup"}, "sender_chat": {"id": -1002236736395i64, "type": "channel", "title": "Test"}, "is_automatic_forward": true});
    assert_eq!(
        decode(reply.to_string().into_bytes())[0].metadata_value("tag"),
        Some("social.comment")
    );
    // A reaction is no message.
    assert!(decode(sample("tg_teloxide_update_message_reaction_ru.json")).is_empty());
}

#[test]
fn telegram_secret_token_is_checked() {
    let host = host();
    let bytes = update("message", &sample("tg_teloxide_message_de_text_ru.json"));
    let e = host
        .run(|| SocialConnector::decode(webhook(bytes.clone(), None)))
        .unwrap_err();
    assert_eq!(auth_of(&e), "missing");
    let e = host
        .run(|| SocialConnector::decode(webhook(bytes, Some("t0kem"))))
        .unwrap_err();
    assert_eq!(auth_of(&e), "invalid");
}

#[test]
fn replies_go_through_the_platforms_api() {
    let host = host()
        .http_response(
            "https://api.vk.com/method/messages.send",
            200,
            br#"{"response": 4821}"#,
        )
        .http_response(
            "https://api.telegram.org/bot123:abc/sendMessage",
            200,
            br#"{"ok": true, "result": {"message_id": 77}}"#,
        );
    let input = webhook(
        with_vk_secret(
            &sample("vk_vknet_GetBotsLongPollHistory_MessageNewTest.json"),
            "s3cret",
        ),
        None,
    );
    let mut m = host
        .run(|| SocialConnector::decode(input))
        .unwrap()
        .remove(0);
    m.id = "01JH8Z3K6Q2W".into();
    let out = host
        .run(|| {
            SocialConnector::encode(
                m,
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    let receipt: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(receipt["method"], "messages.send");
    assert_eq!(receipt["result"], 4821);
    let bytes = update("message", &sample("tg_teloxide_message_de_text_ru.json"));
    let mut m = host
        .run(|| SocialConnector::decode(webhook(bytes, Some("t0ken"))))
        .unwrap()
        .remove(0);
    m.id = "01JH8Z3K6Q2X".into();
    let out = host
        .run(|| {
            SocialConnector::encode(
                m,
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    let receipt: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(receipt["result"]["message_id"], 77);
    assert!(receipt["text"].as_str().unwrap().contains("01JH8Z3K6Q2X"));
}

#[test]
fn a_vk_discussion_post_is_a_comment_answered_in_the_discussion() {
    let host = host().http_response(
        "https://api.vk.com/method/board.createComment",
        200,
        br#"{"response": 5}"#,
    );
    // As VK's Callback API sends board_post_new (API 5.199): the post and its topic.
    let event = r#"{"type": "board_post_new", "group_id": 218765432, "event_id": "b4e1",
        "secret": "s3cret", "object": {"id": 4, "from_id": 512345678, "date": 1795852800,
        "text": "Когда откроют приём заявок на гранты?", "topic_id": 49213,
        "topic_owner_id": -218765432}}"#;
    let mut decoded = host
        .run(|| SocialConnector::decode(webhook(event.as_bytes().to_vec(), None)))
        .unwrap();
    assert_eq!(decoded.len(), 1);
    let mut m = decoded.remove(0);
    assert_eq!(m.metadata_value("tag"), Some("social.comment"));
    assert_eq!(m.metadata_value("vk.event"), Some("board_post_new"));
    assert_eq!(m.metadata_value("vk.topic-id"), Some("49213"));
    assert_eq!(
        m.idempotency_key.as_deref(),
        Some("vk:218765432:board:49213_4")
    );
    assert_eq!(m.body, "Когда откроют приём заявок на гранты?");
    // The community's own post in its discussion is no appeal.
    let own = event.replace("512345678", "-218765432");
    assert!(host
        .run(|| SocialConnector::decode(webhook(own.into_bytes(), None)))
        .unwrap()
        .is_empty());
    m.id = "01JH8Z3K6Q2Y".into();
    let out = host
        .run(|| {
            SocialConnector::encode(
                m,
                Classification::default(),
                Decision::new(Priority::Normal),
            )
        })
        .unwrap();
    let receipt: serde_json::Value = serde_json::from_slice(&out.bytes).unwrap();
    assert_eq!(receipt["method"], "board.createComment");
}

#[test]
fn a_telegram_edit_is_a_new_version_and_a_button_an_official_appeal() {
    let host = host();
    let decode = |bytes: Vec<u8>| {
        host.run(|| SocialConnector::decode(webhook(bytes, Some("t0ken"))))
            .unwrap()
    };
    let mut edited: serde_json::Value =
        serde_json::from_slice(&sample("tg_teloxide_message_de_text_ru.json")).unwrap();
    edited["text"] = "Исправляю: отопления нет с понедельника".into();
    edited["edit_date"] = 1568289950.into();
    let edit = decode(update("edited_message", edited.to_string().as_bytes()));
    assert_eq!(edit.len(), 1);
    assert_eq!(
        edit[0].metadata_value("tag"),
        Some("social.official-appeal")
    );
    assert_eq!(edit[0].metadata_value("social.edited"), Some("true"));
    assert_eq!(
        edit[0].metadata_value("telegram.update"),
        Some("edited_message")
    );
    // Its own key, so the edit is stored beside the original, not taken for a repeat.
    assert_eq!(
        edit[0].idempotency_key.as_deref(),
        Some("telegram:250918540:199785:edit:1568289950")
    );
    assert_eq!(edit[0].body, "Исправляю: отопления нет с понедельника");

    // A button pressed under the bot's message (Bot API's CallbackQuery).
    let query = serde_json::json!({"update_id": 10002, "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": {"id": 250918540, "is_bot": false, "first_name": "Андрей", "last_name": "Власов", "username": "aka_dude", "language_code": "ru"},
        "message": {"message_id": 199790, "date": 1568289990, "chat": {"id": 250918540, "type": "private", "first_name": "Андрей"}, "from": {"id": 777000, "is_bot": true, "first_name": "Минсоц", "username": "minsoc_bot"}, "text": "Чем можем помочь?"},
        "chat_instance": "-8311532341451515",
        "data": "topic:heating"
    }});
    let pressed = decode(query.to_string().into_bytes());
    assert_eq!(pressed.len(), 1);
    assert_eq!(
        pressed[0].metadata_value("tag"),
        Some("social.official-appeal")
    );
    assert_eq!(pressed[0].body, "[кнопка] topic:heating");
    assert_eq!(
        pressed[0].idempotency_key.as_deref(),
        Some("telegram:callback:4382bfdwdsb323b2d9")
    );
    assert_eq!(
        pressed[0].metadata_value("telegram.chat-id"),
        Some("250918540")
    );
    assert_eq!(pressed[0].client.name.as_deref(), Some("Андрей Власов"));
}
