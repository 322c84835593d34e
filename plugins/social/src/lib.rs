//! # okno-plugin-social: VK and Telegram
//!
//! A connector for the `connector` world of `okno:plugin`, for a ministry's VK community
//! (Callback API) and Telegram bot (webhook updates), posted to the hub's
//! `POST /v1/webhooks/{source}` by a source with `auth = "connector"`.
//!
//! **decode** tells the platform by the body (VK: `type` and `group_id`; Telegram:
//! `update_id`), checks its secret, and makes one message (channel `social`) or none.
//! Each message has the metadata `tag` = `social.official-appeal` (a direct message),
//! `social.comment` (a comment on an official post) or `social.mention`, since the order
//! sets the answer's deadline by it (2 h, 2 h, 4 h); `social.platform`, and what a reply
//! needs (`vk.*`, `telegram.*`). The idempotency key is the platform's own id of the
//! message (`vk:GROUP:message:ID`, `telegram:CHAT:MESSAGE`), so a platform's retry is a
//! repeat. See `vk` and `telegram` for which event is which.
//!
//! The secret: VK's `secret` in the body against `vk.secret`, Telegram's
//! `X-Telegram-Bot-Api-Secret-Token` header against `telegram.secret-token`, compared in
//! constant time. Through the webhook route a missing setting refuses everything (a
//! `config` error); a missing secret is a 401, a wrong one a 403 (see `auth`). VK's
//! `confirmation` request is answered with `vk.confirmation` as the response body.
//!
//! **encode** replies on the platform through the plugin's http grant: VK
//! `messages.send` to a private message (its `random_id` drawn from the hub's id, so VK
//! drops a retry's repeat), `wall.createComment` under a wall post or comment,
//! `board.createComment` in a discussion; Telegram `sendMessage` in reply to the message.
//! It returns a JSON receipt for the sink (`{"id", "platform", "method", "text",
//! "result"}`). An answer the platform refuses for now (HTTP 429 or 5xx, VK's errors 6, 9
//! and 10) is an `upstream` error, which the hub retries.
//!
//! ## Settings
//! | key | meaning |
//! |---|---|
//! | `vk.group-id` | the community's id; events of another community are refused (403) |
//! | `vk.secret` | the Callback API's secret key |
//! | `vk.confirmation` | the string the `confirmation` request must get back |
//! | `vk.access-token` | the community's token, for replies |
//! | `vk.api`, `vk.api-version` | default `https://api.vk.com/method`, `5.199` |
//! | `telegram.secret-token` | the `secret_token` given to setWebhook |
//! | `telegram.bot-token` | the bot's token, for replies |
//! | `telegram.api` | default `https://api.telegram.org` |
//! | `telegram.bot-username` | the bot's @username: a group message naming it is a mention |
//! | `telegram.channel-ids` | the ministry's channels, comma-separated: replies to their posts are comments |
//! | `reply-text` | the reply; `{id}` the hub's id, `{deadline}` the answer deadline |

mod auth;
mod json;
mod settings;
mod telegram;
mod vk;

use okno_sdk::host::http;
use okno_sdk::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use settings::Settings;

/// Longest text kept from one post or message (VK allows 4,096 characters, Telegram
/// 4,096; 16 KiB of UTF-8 holds either).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Why the deadline differs: the order's three kinds of social appeal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OfficialAppeal,
    Comment,
    Mention,
}

impl Kind {
    pub fn tag(self) -> &'static str {
        match self {
            Kind::OfficialAppeal => "social.official-appeal",
            Kind::Comment => "social.comment",
            Kind::Mention => "social.mention",
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
pub fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The VK and Telegram connector.
pub struct SocialConnector;

impl Connector for SocialConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        let body = json::parse(&input.bytes)?;
        if body.get("update_id").is_some() {
            telegram::decode(&body, &input, &settings)
        } else if body.get("type").is_some() && body.get("group_id").is_some() {
            vk::decode(&body, &input, &settings)
        } else {
            Err(PluginError::invalid_input(
                "neither a VK Callback API event (`type`, `group_id`) nor a Telegram update (`update_id`)",
            ))
        }
    }

    fn encode(
        message: Message,
        _classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = Settings::from_config()?;
        let text = reply_text(&settings.reply_text, &message.id, decision.answer_deadline);
        let receipt = match message.metadata_value("social.platform") {
            Some("vk") => reply_vk(&settings, &message, &text)?,
            Some("telegram") => reply_telegram(&settings, &message, &text)?,
            other => {
                return Err(PluginError::invalid_input(format!(
                    "message {} came from {:?}, not VK or Telegram (metadata `social.platform`)",
                    message.id, other
                )))
            }
        };
        Ok(Outbound {
            bytes: receipt.to_string().into_bytes(),
            content_type: "application/json".into(),
            headers: Vec::new(),
        })
    }
}

okno_sdk::export_connector!(SocialConnector);

/// The reply's text: `{id}` and `{deadline}` filled in; without a deadline the sentence
/// that names it is left out.
pub fn reply_text(template: &str, id: &str, deadline: Option<Timestamp>) -> String {
    let deadline = deadline.map(local_time);
    let mut out = String::new();
    for sentence in template.split_inclusive(". ") {
        if sentence.contains("{deadline}") && deadline.is_none() {
            continue;
        }
        out.push_str(sentence);
    }
    out.replace("{id}", id)
        .replace("{deadline}", deadline.as_deref().unwrap_or(""))
        .trim()
        .to_string()
}

/// `DD.MM.YYYY HH:MM` in the hub's time zone.
fn local_time(at: Timestamp) -> String {
    let offset = okno_sdk::clock::utc_offset_minutes();
    let date = okno_sdk::time::local_date_with_offset(at, offset);
    let minutes = (at.div_euclid(60_000) + offset as i64).rem_euclid(24 * 60);
    format!(
        "{:02}.{:02}.{} {:02}:{:02}",
        date.day,
        date.month,
        date.year,
        minutes / 60,
        minutes % 60
    )
}

fn reply_vk(settings: &Settings, message: &Message, text: &str) -> Result<Value, PluginError> {
    let token = settings.vk_access_token.as_deref().ok_or_else(|| {
        PluginError::config(
            "setting `vk.access-token` is not set; replies on VK need the community's token",
        )
    })?;
    let digest = Sha256::digest(message.id.as_bytes());
    // VK wants a 32-bit random_id and drops a message whose id it has seen from us.
    let random_id = i32::from_le_bytes([digest[0], digest[1], digest[2], digest[3] & 0x7f]);
    let (method, params) = vk::reply_call(message, text, random_id)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    form.append_pair("access_token", token);
    form.append_pair("v", &settings.vk_api_version);
    let response = send(http::Request {
        method: "POST".into(),
        url: format!("{}/{method}", settings.vk_api),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(form.finish().into_bytes()),
    })?;
    let answer = answer_json(&response, "VK")?;
    if let Some(error) = answer.get("error") {
        let code = error.get("error_code").and_then(Value::as_i64).unwrap_or(0);
        let text = error.get("error_msg").and_then(Value::as_str).unwrap_or("");
        let message = format!("VK {method} answered error {code}: {text}");
        // Too many requests, flood control, an internal error: worth another try.
        return Err(if matches!(code, 6 | 9 | 10) {
            PluginError::upstream(message)
        } else {
            PluginError::invalid_input(message)
        });
    }
    Ok(
        json!({"id": message.id, "platform": "vk", "method": method, "text": text,
              "result": answer.get("response").cloned().unwrap_or(Value::Null)}),
    )
}

fn reply_telegram(
    settings: &Settings,
    message: &Message,
    text: &str,
) -> Result<Value, PluginError> {
    let token = settings.telegram_bot_token.as_deref().ok_or_else(|| {
        PluginError::config(
            "setting `telegram.bot-token` is not set; replies on Telegram need the bot's token",
        )
    })?;
    let body = telegram::reply_body(message, text)?;
    let response = send(http::Request {
        method: "POST".into(),
        url: format!("{}/bot{token}/sendMessage", settings.telegram_api),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Some(body.to_string().into_bytes()),
    })
    // The token is part of the URL: keep it out of what the hub records.
    .map_err(|mut e| {
        e.message = e.message.replace(token, "<bot-token>");
        e
    })?;
    let answer = answer_json(&response, "Telegram")?;
    if answer.get("ok").and_then(Value::as_bool) != Some(true) {
        let text = answer
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(PluginError::invalid_input(format!(
            "Telegram sendMessage answered {}: {text}",
            response.status
        )));
    }
    Ok(
        json!({"id": message.id, "platform": "telegram", "method": "sendMessage", "text": text,
              "result": answer.get("result").cloned().unwrap_or(Value::Null)}),
    )
}

fn send(request: http::Request) -> Result<http::Response, PluginError> {
    http::send(&request).map_err(|e| match e {
        http::HttpError::Denied(why) => PluginError::config(format!(
            "the platform's API is not granted to this plugin: {why}; add its host to `http_allow`"
        )),
        other => PluginError::upstream(format!(
            "the platform's API did not answer: {}",
            http::describe(&other)
        )),
    })
}

/// The platform's JSON answer; a 429 or 5xx is worth another try later.
fn answer_json(response: &http::Response, platform: &str) -> Result<Value, PluginError> {
    if response.status == 429 || response.status >= 500 {
        return Err(PluginError::upstream(format!(
            "{platform} answered HTTP {}; trying again later",
            response.status
        )));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        PluginError::upstream(format!(
            "{platform} answered HTTP {} with something that is not JSON: {e}",
            response.status
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_without_a_deadline_leaves_its_sentence_out() {
        let text = reply_text(settings::DEFAULT_REPLY, "01JH", None);
        assert_eq!(
            text,
            "Здравствуйте! Ваше обращение получено и зарегистрировано под номером 01JH."
        );
    }

    #[test]
    fn a_reply_names_the_deadline_in_local_time() {
        let host = okno_sdk::testing::MockHost::new();
        // 2026-01-12T11:00:00Z is 14:00 in Moscow.
        let text = host.run(|| reply_text("До {deadline}.", "x", Some(1_768_215_600_000)));
        assert_eq!(text, "До 12.01.2026 14:00.");
    }

    #[test]
    fn bounded_cuts_on_a_character() {
        assert_eq!(bounded("жжж", 5), "жж");
        assert_eq!(bounded("abc", 5), "abc");
    }
}
