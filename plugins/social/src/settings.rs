//! The plugin's settings, read per call so that a reloaded config counts at once.

use okno_sdk::config;
use okno_sdk::prelude::*;

/// Everything the connector reads from its `[plugins.settings]`.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `vk.group-id`: the community whose Callback API posts here; events of another
    /// community are refused.
    pub vk_group_id: Option<i64>,
    /// `vk.secret`: the "secret key" set in the community's Callback API settings.
    pub vk_secret: Option<String>,
    /// `vk.confirmation`: the string VK expects back from the `confirmation` request.
    pub vk_confirmation: Option<String>,
    /// `vk.access-token`: the community's token, for replies (messages.send, wall.createComment).
    pub vk_access_token: Option<String>,
    /// `vk.api`: the API's base URL (default `https://api.vk.com/method`).
    pub vk_api: String,
    /// `vk.api-version` (default `5.199`).
    pub vk_api_version: String,
    /// `telegram.secret-token`: the `secret_token` given to setWebhook.
    pub telegram_secret_token: Option<String>,
    /// `telegram.bot-token`: the bot's token, for replies (sendMessage).
    pub telegram_bot_token: Option<String>,
    /// `telegram.api`: the Bot API's base URL (default `https://api.telegram.org`).
    pub telegram_api: String,
    /// `telegram.bot-username`: the bot's @username, to find mentions of it.
    pub telegram_bot_username: Option<String>,
    /// `telegram.channel-ids`: the ministry's own channels (comma-separated chat ids):
    /// their posts are official posts, and replies to them are comments.
    pub telegram_channel_ids: Vec<i64>,
    /// `reply-text`: the reply's text; `{id}` is the hub's message id, `{deadline}` the
    /// answer deadline (local time), and a sentence with `{deadline}` is left out when
    /// there is none.
    pub reply_text: String,
}

pub const DEFAULT_REPLY: &str = "Здравствуйте! Ваше обращение получено и зарегистрировано под номером {id}. Ответ будет дан до {deadline}.";

fn text(key: &str) -> Option<String> {
    config::get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Settings {
    pub fn from_config() -> Result<Settings, PluginError> {
        let vk_group_id = match text("vk.group-id") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                PluginError::config(format!(
                    "setting `vk.group-id` is `{v}`; write the community's numeric id, e.g. `218523456`"
                ))
            })?),
        };
        let mut telegram_channel_ids = Vec::new();
        if let Some(list) = text("telegram.channel-ids") {
            for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                telegram_channel_ids.push(part.parse::<i64>().map_err(|_| {
                    PluginError::config(format!(
                        "setting `telegram.channel-ids` holds `{part}`; write chat ids such as `-1001234567890`, comma-separated"
                    ))
                })?);
            }
        }
        Ok(Settings {
            vk_group_id,
            vk_secret: text("vk.secret"),
            vk_confirmation: text("vk.confirmation"),
            vk_access_token: text("vk.access-token"),
            vk_api: text("vk.api")
                .unwrap_or_else(|| "https://api.vk.com/method".into())
                .trim_end_matches('/')
                .to_string(),
            vk_api_version: text("vk.api-version").unwrap_or_else(|| "5.199".into()),
            telegram_secret_token: text("telegram.secret-token"),
            telegram_bot_token: text("telegram.bot-token"),
            telegram_api: text("telegram.api")
                .unwrap_or_else(|| "https://api.telegram.org".into())
                .trim_end_matches('/')
                .to_string(),
            telegram_bot_username: text("telegram.bot-username")
                .map(|u| u.trim_start_matches('@').to_ascii_lowercase()),
            telegram_channel_ids,
            reply_text: text("reply-text").unwrap_or_else(|| DEFAULT_REPLY.into()),
        })
    }
}
