//! Telegram Bot API webhook updates: `{"update_id", "message" | "edited_message" |
//! "channel_post" | "callback_query" | ...}`.
//!
//! - a message in a private chat with the bot, and a button pressed under the bot's
//!   message (`callback_query`), are official appeals;
//! - a reply to a post of the ministry's channel (in the channel's discussion group,
//!   where Telegram forwards each post automatically) or to the bot's message is a comment
//!   on an official post;
//! - a group message that names the bot (`@bot_username`), and a post of a channel that
//!   is not the ministry's, are mentions;
//! - the ministry's own channel posts, other group chatter, messages from bots and every
//!   other update kind are answered `ok` and not stored.
//!
//! `edited_message` is read like `message`, as a new version (`social.edited = true`),
//! with its own idempotency key.

use okno_sdk::prelude::*;
use serde_json::Value;

use crate::auth;
use crate::json::{at, int, need_int, opt_string, string};
use crate::settings::Settings;
use crate::{Kind, MAX_TEXT_BYTES};

/// The header Telegram sends with the webhook's `secret_token`, as the hub passes it on.
const SECRET_HEADER: &str = "http.header.x-telegram-bot-api-secret-token";

pub fn decode(
    update: &Value,
    input: &Inbound,
    settings: &Settings,
) -> Result<Vec<Message>, PluginError> {
    need_int(update, "update_id", "Telegram update")?;
    check_secret(input, settings)?;
    let decoded = if let Some(message) = update.get("message") {
        message_update(message, settings, false)?
    } else if let Some(message) = update.get("edited_message") {
        message_update(message, settings, true)?
    } else if let Some(post) = update.get("channel_post") {
        channel_post(post, settings)?
    } else if let Some(query) = update.get("callback_query") {
        callback_query(query)?
    } else {
        None
    };
    Ok(decoded.into_iter().collect())
}

fn check_secret(input: &Inbound, settings: &Settings) -> Result<(), PluginError> {
    let Some(expected) = settings.telegram_secret_token.as_deref() else {
        if auth::via_webhook(input) {
            return Err(PluginError::config(
                "setting `telegram.secret-token` is not set, so a Telegram webhook cannot be told from anyone else's request; set it and pass the same `secret_token` to setWebhook",
            ));
        }
        return Ok(());
    };
    let given = input
        .metadata
        .iter()
        .find(|(k, _)| k == SECRET_HEADER)
        .map(|(_, v)| v.as_str());
    match given {
        None => Err(auth::missing(
            "Telegram update without the X-Telegram-Bot-Api-Secret-Token header",
        )),
        Some(given) if auth::same_secret(given, expected) => Ok(()),
        Some(_) => Err(auth::invalid(
            "Telegram update with a wrong X-Telegram-Bot-Api-Secret-Token",
        )),
    }
}

/// The text of a message, or a note of what it carries instead (`[photo]`, `[story]`).
fn text_of(message: &Value) -> String {
    if let Some(text) = string(message, "text").or_else(|| string(message, "caption")) {
        return crate::bounded(text, MAX_TEXT_BYTES);
    }
    const CONTENT: &[&str] = &[
        "photo",
        "video",
        "document",
        "audio",
        "voice",
        "video_note",
        "sticker",
        "story",
        "location",
        "contact",
        "poll",
        "giveaway",
        "animation",
    ];
    CONTENT
        .iter()
        .find(|k| message.get(**k).is_some())
        .map(|k| format!("[{k}]"))
        .unwrap_or_default()
}

fn sender(message: &Value, what: &str) -> Result<Client, PluginError> {
    let mut client = Client::default();
    if let Some(from) = message.get("from") {
        let id = need_int(from, "id", what)?;
        client.kind = ClientKind::Citizen;
        let first = opt_string(from, "first_name", what)?.unwrap_or("");
        let last = opt_string(from, "last_name", what)?.unwrap_or("");
        let name = format!("{first} {last}").trim().to_string();
        client.name = (!name.is_empty()).then_some(name);
        client.contacts.push(Contact {
            kind: "telegram".into(),
            value: match string(from, "username") {
                Some(u) => format!("@{u}"),
                None => id.to_string(),
            },
        });
    } else if let Some(chat) = message.get("sender_chat") {
        client.name = string(chat, "title").map(String::from);
        client.contacts.push(Contact {
            kind: "telegram".into(),
            value: need_int(chat, "id", what)?.to_string(),
        });
    }
    Ok(client)
}

fn is_bot(message: &Value) -> bool {
    at(message, "from.is_bot").and_then(Value::as_bool) == Some(true)
}

/// Whether the message names the bot: a `mention` entity, or its @username in the text.
fn names_bot(message: &Value, settings: &Settings) -> bool {
    let Some(bot) = settings.telegram_bot_username.as_deref() else {
        return false;
    };
    let text = string(message, "text")
        .or_else(|| string(message, "caption"))
        .unwrap_or("");
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@'))
        .any(|word| word.strip_prefix('@') == Some(bot))
}

/// Whether `reply_to_message` is the ministry's: a post of its channel (forwarded into
/// the discussion group, or in the channel itself) or the bot's own message.
fn replies_to_official(message: &Value, settings: &Settings) -> bool {
    let Some(parent) = message.get("reply_to_message") else {
        return false;
    };
    let channel = int(parent, "sender_chat.id")
        .or_else(|| int(parent, "forward_from_chat.id"))
        .is_some_and(|id| settings.telegram_channel_ids.contains(&id));
    let bot = match (
        settings.telegram_bot_username.as_deref(),
        string(parent, "from.username"),
    ) {
        (Some(bot), Some(user)) => is_bot(parent) && user.eq_ignore_ascii_case(bot),
        _ => false,
    };
    channel || bot
}

fn message_update(
    message: &Value,
    settings: &Settings,
    edited: bool,
) -> Result<Option<Message>, PluginError> {
    let what = if edited {
        "Telegram edited_message"
    } else {
        "Telegram message"
    };
    if is_bot(message) {
        return Ok(None);
    }
    let chat_type = opt_string(message, "chat.type", what)?.unwrap_or("");
    let kind = if chat_type == "private" {
        Kind::OfficialAppeal
    } else if replies_to_official(message, settings) {
        Kind::Comment
    } else if names_bot(message, settings) {
        Kind::Mention
    } else {
        return Ok(None);
    };
    let chat_id = need_int(message, "chat.id", what)?;
    let message_id = need_int(message, "message_id", what)?;
    let mut m = Message::new(Channel::Social, text_of(message));
    m.client = sender(message, what)?;
    m.sent_at = int(message, "date").map(|d| d.saturating_mul(1000));
    m.idempotency_key = Some(match int(message, "edit_date").filter(|_| edited) {
        Some(edit) => format!("telegram:{chat_id}:{message_id}:edit:{edit}"),
        None => format!("telegram:{chat_id}:{message_id}"),
    });
    m.subject = Some(
        match kind {
            Kind::OfficialAppeal => "Сообщение боту в Telegram",
            Kind::Comment => "Комментарий к публикации в Telegram",
            Kind::Mention => "Упоминание в Telegram",
        }
        .into(),
    );
    m.metadata = common(kind, "message", chat_id, chat_type);
    m.metadata
        .push(("telegram.message-id".into(), message_id.to_string()));
    if edited {
        m.metadata[2].1 = "edited_message".into();
        m.metadata.push(("social.edited".into(), "true".into()));
    }
    if let Some(language) = string(message, "from.language_code") {
        m.metadata
            .push(("telegram.language".into(), language.into()));
    }
    if let Some(title) = string(message, "chat.title") {
        m.metadata
            .push(("telegram.chat-title".into(), title.into()));
    }
    Ok(Some(m))
}

fn common(kind: Kind, update: &str, chat_id: i64, chat_type: &str) -> Vec<(String, String)> {
    vec![
        ("tag".into(), kind.tag().into()),
        ("social.platform".into(), "telegram".into()),
        ("telegram.update".into(), update.into()),
        ("telegram.chat-id".into(), chat_id.to_string()),
        ("telegram.chat-type".into(), chat_type.into()),
    ]
}

fn channel_post(post: &Value, settings: &Settings) -> Result<Option<Message>, PluginError> {
    let what = "Telegram channel_post";
    let chat_id = need_int(post, "chat.id", what)?;
    if settings.telegram_channel_ids.contains(&chat_id) {
        return Ok(None);
    }
    let message_id = need_int(post, "message_id", what)?;
    let mut m = Message::new(Channel::Social, text_of(post));
    m.client = sender(post, what)?;
    m.client.kind = ClientKind::Unknown;
    m.sent_at = int(post, "date").map(|d| d.saturating_mul(1000));
    m.idempotency_key = Some(format!("telegram:{chat_id}:{message_id}"));
    m.subject = Some(match string(post, "chat.title") {
        Some(title) => format!("Публикация в канале «{title}»"),
        None => "Публикация в канале Telegram".into(),
    });
    m.metadata = common(Kind::Mention, "channel_post", chat_id, "channel");
    m.metadata
        .push(("telegram.message-id".into(), message_id.to_string()));
    Ok(Some(m))
}

fn callback_query(query: &Value) -> Result<Option<Message>, PluginError> {
    let what = "Telegram callback_query";
    let id = opt_string(query, "id", what)?
        .ok_or_else(|| PluginError::invalid_input(format!("{what}: `id` is missing")))?;
    if is_bot(query) {
        return Ok(None);
    }
    let data = opt_string(query, "data", what)?.unwrap_or("");
    let mut m = Message::new(
        Channel::Social,
        format!("[кнопка] {}", crate::bounded(data, 256)),
    );
    m.client = sender(query, what)?;
    m.idempotency_key = Some(format!("telegram:callback:{id}"));
    m.subject = Some("Нажата кнопка в чате с ботом Telegram".into());
    let chat_id = int(query, "message.chat.id")
        .or_else(|| int(query, "from.id"))
        .unwrap_or(0);
    let chat_type = string(query, "message.chat.type").unwrap_or("private");
    m.metadata = common(Kind::OfficialAppeal, "callback_query", chat_id, chat_type);
    if let Some(message_id) = int(query, "message.message_id") {
        m.metadata
            .push(("telegram.message-id".into(), message_id.to_string()));
    }
    Ok(Some(m))
}

/// The sendMessage body that answers a message.
pub fn reply_body(message: &Message, text: &str) -> Result<Value, PluginError> {
    let chat_id: i64 = message
        .metadata_value("telegram.chat-id")
        .and_then(|v| v.parse().ok())
        .filter(|id| *id != 0)
        .ok_or_else(|| {
            PluginError::invalid_input(format!(
                "message {} has no `telegram.chat-id` metadata, so there is nothing to reply to on Telegram",
                message.id
            ))
        })?;
    let mut body = serde_json::json!({"chat_id": chat_id, "text": text});
    if let Some(id) = message
        .metadata_value("telegram.message-id")
        .and_then(|v| v.parse::<i64>().ok())
    {
        body["reply_parameters"] =
            serde_json::json!({"message_id": id, "allow_sending_without_reply": true});
    }
    Ok(body)
}
