//! VK's Callback API: the community's events as VK posts them.
//!
//! Every event is `{"type", "object", "group_id", "secret"?, "event_id"?, "v"?}`. The
//! `confirmation` request is answered with `vk.confirmation`; `message_new` (a private
//! message to the community) is an official appeal; `wall_reply_new` (a comment under a
//! community post) and `board_post_new` (a post in a community discussion) are comments
//! on an official post; `wall_post_new` by somebody else than the community (a suggested
//! or visitor's post on its wall) is a mention. The community's own posts, comments and
//! outgoing messages, and every other event type, are answered `ok` and not stored.

use okno_sdk::prelude::*;
use serde_json::Value;

use crate::auth;
use crate::json::{int, need_int, opt_string, string};
use crate::settings::Settings;
use crate::{Kind, MAX_TEXT_BYTES};

pub fn decode(
    event: &Value,
    input: &Inbound,
    settings: &Settings,
) -> Result<Vec<Message>, PluginError> {
    let kind = opt_string(event, "type", "VK event")?
        .ok_or_else(|| PluginError::invalid_input("VK event: `type` is missing"))?;
    let group_id = need_int(event, "group_id", "VK event")?;
    // VK's confirmation request may come before a secret is set; its answer is no secret
    // (VK shows it on the community's page), so a secret is checked only if it is sent.
    if kind != "confirmation" || event.get("secret").is_some() {
        check_secret(event, input, settings)?;
    }
    if let Some(expected) = settings.vk_group_id {
        if group_id != expected {
            return Err(auth::invalid(&format!(
                "VK event for community {group_id}; this source takes community {expected} (setting `vk.group-id`)"
            )));
        }
    }
    let object = event.get("object").unwrap_or(&Value::Null);
    match kind {
        "confirmation" => {
            let answer = settings.vk_confirmation.as_deref().ok_or_else(|| {
                PluginError::config(
                    "VK asks for the confirmation string, and setting `vk.confirmation` is not set; copy it from the community's Callback API page",
                )
            })?;
            Err(auth::reply("VK confirmation request answered", answer))
        }
        "message_new" => message_new(object, group_id).map(|m| m.into_iter().collect()),
        "wall_reply_new" => {
            comment(object, group_id, "wall_reply_new").map(|m| m.into_iter().collect())
        }
        "board_post_new" => {
            comment(object, group_id, "board_post_new").map(|m| m.into_iter().collect())
        }
        "wall_post_new" => wall_post(object, group_id).map(|m| m.into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}

/// VK puts the secret in the body. Through the webhook route it is the only proof of
/// the sender, so there a missing `vk.secret` refuses every event.
fn check_secret(event: &Value, input: &Inbound, settings: &Settings) -> Result<(), PluginError> {
    let Some(expected) = settings.vk_secret.as_deref() else {
        if auth::via_webhook(input) {
            return Err(PluginError::config(
                "setting `vk.secret` is not set, so a VK webhook cannot be told from anyone else's request; set the community's secret key",
            ));
        }
        return Ok(());
    };
    match string(event, "secret") {
        None => Err(auth::missing("VK event without `secret`")),
        Some(given) if auth::same_secret(given, expected) => Ok(()),
        Some(_) => Err(auth::invalid("VK event with a wrong `secret`")),
    }
}

fn base(
    kind: Kind,
    group_id: i64,
    event: &str,
    from_id: i64,
    date: Option<i64>,
    text: &str,
) -> Message {
    let mut m = Message::new(Channel::Social, crate::bounded(text, MAX_TEXT_BYTES));
    m.sent_at = date.map(|d| d.saturating_mul(1000));
    m.client.kind = if from_id > 0 {
        ClientKind::Citizen
    } else {
        ClientKind::Unknown
    };
    m.client.contacts.push(Contact {
        kind: "vk".into(),
        value: if from_id > 0 {
            format!("id{from_id}")
        } else {
            format!("club{}", from_id.unsigned_abs())
        },
    });
    m.metadata = vec![
        ("tag".into(), kind.tag().into()),
        ("social.platform".into(), "vk".into()),
        ("vk.event".into(), event.into()),
        ("vk.group-id".into(), group_id.to_string()),
        ("vk.from-id".into(), from_id.to_string()),
    ];
    m
}

/// What a message or post carries besides its text, as `[photo, doc]`.
fn attachments_note(object: &Value) -> Option<String> {
    let list = object.get("attachments")?.as_array()?;
    let kinds: Vec<&str> = list
        .iter()
        .filter_map(|a| a.get("type").and_then(Value::as_str))
        .collect();
    (!kinds.is_empty()).then(|| kinds.join(","))
}

fn with_attachments(mut m: Message, object: &Value) -> Message {
    if let Some(kinds) = attachments_note(object) {
        if m.body.is_empty() {
            m.body = format!("[{kinds}]");
        }
        m.metadata.push(("vk.attachments".into(), kinds));
    }
    m
}

fn message_new(object: &Value, group_id: i64) -> Result<Option<Message>, PluginError> {
    // API 5.103 and later wrap the message with `client_info`; earlier ones send it bare.
    let message = object
        .get("message")
        .filter(|m| m.is_object())
        .unwrap_or(object);
    if int(message, "out") == Some(1) {
        return Ok(None);
    }
    let from_id = need_int(message, "from_id", "VK message_new")?;
    let peer_id = int(message, "peer_id").unwrap_or(from_id);
    let id = int(message, "id").unwrap_or(0);
    let text = opt_string(message, "text", "VK message_new")?.unwrap_or("");
    let mut m = base(
        Kind::OfficialAppeal,
        group_id,
        "message_new",
        from_id,
        int(message, "date"),
        text,
    );
    // `id` is 0 in community chats; the conversation's own number is unique there.
    let number = match (id, int(message, "conversation_message_id")) {
        (0, Some(c)) => format!("{peer_id}:c{c}"),
        _ => id.to_string(),
    };
    m.idempotency_key = Some(format!("vk:{group_id}:message:{number}"));
    m.subject = Some("Сообщение сообществу ВКонтакте".into());
    m.metadata.push(("vk.peer-id".into(), peer_id.to_string()));
    m.metadata.push(("vk.message-id".into(), id.to_string()));
    Ok(Some(with_attachments(m, message)))
}

fn comment(object: &Value, group_id: i64, event: &str) -> Result<Option<Message>, PluginError> {
    let what = format!("VK {event}");
    let from_id = need_int(object, "from_id", &what)?;
    if from_id == -group_id {
        return Ok(None);
    }
    let id = need_int(object, "id", &what)?;
    let text = opt_string(object, "text", &what)?.unwrap_or("");
    let mut m = base(
        Kind::Comment,
        group_id,
        event,
        from_id,
        int(object, "date"),
        text,
    );
    if event == "board_post_new" {
        let topic = need_int(object, "topic_id", &what)?;
        m.idempotency_key = Some(format!("vk:{group_id}:board:{topic}_{id}"));
        m.subject = Some(format!(
            "Сообщение в обсуждении {topic} сообщества ВКонтакте"
        ));
        m.metadata.push(("vk.topic-id".into(), topic.to_string()));
    } else {
        let owner = need_int(object, "post_owner_id", &what)?;
        let post = need_int(object, "post_id", &what)?;
        m.idempotency_key = Some(format!("vk:{group_id}:wall-reply:{owner}_{id}"));
        m.subject = Some(format!("Комментарий к записи wall{owner}_{post}"));
        m.metadata.push(("vk.owner-id".into(), owner.to_string()));
        m.metadata.push(("vk.post-id".into(), post.to_string()));
    }
    m.metadata.push(("vk.comment-id".into(), id.to_string()));
    if let Some(parent) = int(object, "reply_to_comment") {
        m.metadata
            .push(("vk.reply-to-comment".into(), parent.to_string()));
    }
    Ok(Some(with_attachments(m, object)))
}

fn wall_post(object: &Value, group_id: i64) -> Result<Option<Message>, PluginError> {
    let what = "VK wall_post_new";
    let from_id = need_int(object, "from_id", what)?;
    // The community's own post is the official post itself, not an appeal.
    if from_id == -group_id || from_id <= 0 {
        return Ok(None);
    }
    let id = need_int(object, "id", what)?;
    let owner = int(object, "owner_id").unwrap_or(-group_id);
    let text = opt_string(object, "text", what)?.unwrap_or("");
    let mut m = base(
        Kind::Mention,
        group_id,
        "wall_post_new",
        from_id,
        int(object, "date"),
        text,
    );
    m.idempotency_key = Some(format!("vk:{group_id}:wall:{owner}_{id}"));
    m.subject = Some(format!("Запись на стене сообщества wall{owner}_{id}"));
    m.metadata.push(("vk.owner-id".into(), owner.to_string()));
    m.metadata.push(("vk.post-id".into(), id.to_string()));
    if let Some(kind) = string(object, "post_type") {
        m.metadata.push(("vk.post-type".into(), kind.into()));
    }
    Ok(Some(with_attachments(m, object)))
}

/// A VK API method and its form parameters (the token and version added by the caller).
pub type ApiCall = (&'static str, Vec<(String, String)>);

/// The API call that answers a message: (method, form parameters besides the token).
pub fn reply_call(message: &Message, text: &str, random_id: i32) -> Result<ApiCall, PluginError> {
    let meta = |key: &str| message.metadata_value(key).map(str::to_string);
    let need = |key: &str| {
        meta(key).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "message {} has no `{key}` metadata, so there is nothing to reply to on VK",
                message.id
            ))
        })
    };
    let event = need("vk.event")?;
    let mut params = vec![("message".to_string(), text.to_string())];
    let method = match event.as_str() {
        "message_new" => {
            params.push(("peer_id".into(), need("vk.peer-id")?));
            params.push(("random_id".into(), random_id.to_string()));
            "messages.send"
        }
        "wall_reply_new" | "wall_post_new" => {
            params.push(("owner_id".into(), need("vk.owner-id")?));
            params.push(("post_id".into(), need("vk.post-id")?));
            params.push(("from_group".into(), need("vk.group-id")?));
            if let Some(comment) = meta("vk.comment-id") {
                params.push(("reply_to_comment".into(), comment));
            }
            "wall.createComment"
        }
        "board_post_new" => {
            params.push(("group_id".into(), need("vk.group-id")?));
            params.push(("topic_id".into(), need("vk.topic-id")?));
            params.push(("from_group".into(), "1".into()));
            "board.createComment"
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "VK event {other:?} has no reply"
            )))
        }
    };
    Ok((method, params))
}
