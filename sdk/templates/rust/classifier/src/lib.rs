//! {{name}}: a classifier that tags an appeal when its subject or body names one of the
//! words of its `words` setting (comma-separated, case-insensitive).

use okno_sdk::prelude::*;

/// The words looked for when the config gives none.
const DEFAULT_WORDS: &str = "срочно,авария";

/// The tag added when a word is found.
const TAG: &str = "{{name}}";

pub struct {{type_name}};

impl Classifier for {{type_name}} {
    fn classify(message: Message, mut current: Classification) -> Result<Classification, PluginError> {
        let setting = okno_sdk::config::get("words").unwrap_or_else(|| DEFAULT_WORDS.to_string());
        let words: Vec<String> = setting
            .split(',')
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Err(PluginError::config("`words` names no word"));
        }
        let text = format!("{} {}", message.subject.as_deref().unwrap_or(""), message.body).to_lowercase();
        if let Some(word) = words.iter().find(|w| text.contains(w.as_str())) {
            okno_sdk::log::debug(&format!("found {word:?}"));
            if !current.tags.iter().any(|t| t == TAG) {
                current.tags.push(TAG.to_string());
            }
        }
        Ok(current)
    }
}

okno_sdk::export_classifier!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    fn classify(host: &MockHost, body: &str) -> Result<Classification, PluginError> {
        host.run(|| {{type_name}}::classify(Message::new(Channel::Mail, body), Classification::default()))
    }

    #[test]
    fn tags_a_message_naming_a_word() {
        let out = classify(&MockHost::new(), "СРОЧНО: нет воды третий день").unwrap();
        assert_eq!(out.tags, vec![TAG.to_string()]);
    }

    #[test]
    fn leaves_other_messages_alone() {
        let out = classify(&MockHost::new(), "Прошу разъяснить порядок приёма").unwrap();
        assert!(out.tags.is_empty());
    }

    #[test]
    fn the_words_come_from_the_config() {
        let host = MockHost::new().setting("words", "отопление");
        assert_eq!(classify(&host, "Отопление не работает").unwrap().tags, vec![TAG.to_string()]);
        assert!(classify(&host, "срочно").unwrap().tags.is_empty());
        let empty = MockHost::new().setting("words", " , ");
        assert!(classify(&empty, "срочно").is_err());
    }
}
