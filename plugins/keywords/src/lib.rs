//! # keywords: a classifier of appeals by the words they use
//!
//! The admin lists, per rule, the words that point to a topic or to routing tags; the
//! classifier stems them (Snowball, Russian) and looks for them in the stemmed subject
//! and body, so one form of a word in the settings finds all its forms in the text.
//!
//! ```toml
//! [[plugins]]
//! name = "keywords"
//! [plugins.settings]
//! rules.heating.words = "отопление, батарея, теплоснабжение, холодно"
//! rules.heating.topic = "0005.0005.0056.1156"
//! rules.heating.tags = "housing, heating"
//! rules.roads.words = "дорога, яма, асфальт"
//! rules.roads.tags = "roads"
//! ```
//!
//! - A rule's score is the number of its distinct words (or phrases) found in the text.
//! - The best-scoring rule that has a `topic` sets `classification.topic` with the
//!   classifier's official name for the code; the other matching rules' topics become
//!   alternatives; the matched words are the reasons. One matched word, or a tie between
//!   topics, marks the topic low-confidence.
//! - Every matching rule adds its `tags`.
//! - A topic code that is not in the official classifier is a config error naming the
//!   rule and the code; so is a misspelt setting.
//!
//! The same logic runs natively through [`Rules::from_settings`] and
//! [`classify_with_rules`].

mod catalog;
mod matching;
mod rules;
mod text;

use okno_sdk::prelude::*;

pub use matching::classify_with_rules;
pub use rules::Rules;

pub struct Keywords;

impl Classifier for Keywords {
    fn classify(message: Message, current: Classification) -> Result<Classification, PluginError> {
        let rules = Rules::from_settings(&okno_sdk::config::get_all())?;
        Ok(classify_with_rules(&rules, &message, current))
    }
}

okno_sdk::export_classifier!(Keywords);

#[cfg(test)]
mod tests;
