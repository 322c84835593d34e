//! The urgency classifier of `plugins/urgency-js` and `plugins/urgency-py`, in Rust, so that
//! `tests/benches/plugin_languages.rs` compares one logic in three languages (and
//! `tests/tests/plugin_languages.rs` checks the three agree):
//!
//! - setting `words`: comma-separated words or phrases, matched case-insensitively anywhere
//!   in the subject and body; the default list is [`DEFAULT_WORDS`];
//! - setting `tag`: the tag added when any of them is found (default `urgent`).

use okno_sdk::prelude::*;

pub const DEFAULT_WORDS: &str = "срочно,срочная,срочное,немедленно,авария,аварийн,угроза жизни,\
                                 пожар,затоплен,нет отопления,нет воды,нет света";

fn setting_words() -> Result<Vec<String>, PluginError> {
    let raw = okno_sdk::config::get("words");
    let words: Vec<String> = raw
        .as_deref()
        .unwrap_or(DEFAULT_WORDS)
        .split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err(PluginError::config(
            "setting `words` lists no word (give comma-separated words or phrases)",
        ));
    }
    Ok(words)
}

fn matches(words: &[String], message: &Message) -> usize {
    let text = format!(
        "{}\n{}",
        message.subject.as_deref().unwrap_or(""),
        message.body
    )
    .to_lowercase();
    words.iter().filter(|w| text.contains(w.as_str())).count()
}

struct Urgency;

impl Classifier for Urgency {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let words = setting_words()?;
        let tag = okno_sdk::config::get("tag")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "urgent".into());
        let found = matches(&words, &message);
        if found > 0 {
            okno_sdk::log::debug(&format!("{found} urgency word(s) matched"));
            if !current.tags.contains(&tag) {
                current.tags.push(tag);
            }
        }
        Ok(current)
    }
}

okno_sdk::export_classifier!(Urgency);
