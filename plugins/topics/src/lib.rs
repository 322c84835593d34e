//! # topics: the official thematic classifier code for an appeal
//!
//! Sets `classification.topic` to a code of the «Типовой общероссийский тематический
//! классификатор обращений» (v4, embedded from `wit/classifier.csv`): a level-4 вопрос,
//! or a level-5 подвопрос where the text clearly names the refinement.
//!
//! ## How it decides
//! 1. The subject and body are cut into words, stop words dropped, and each word reduced
//!    to its Snowball stem; a small synonym table maps abbreviations and colloquial words
//!    (`жкх`, `ук`, `садик`, `яма`) onto the classifier's own words ([`vocab`]). A stem
//!    the classifier lacks stands for the longest known stem it extends, or else for a
//!    known stem one common typo away (`банер` → `баннер`), at a lower weight ([`query`]).
//! 2. **The table.** At compile time `build.rs` turns every тема, вопрос and подвопрос
//!    into a TF-IDF vector of its own wording plus hand-written cue words, enriched with
//!    its ancestors' wording at decreasing weight (тема 0.35, тематика 0.15, раздел 0.08);
//!    a тема also takes in its вопросы' wording. A вопрос scores its cosine similarity to
//!    the text plus 0.6 × its тема's, so a вопрос wins only within a fitting тема.
//! 3. **The examples.** Officials' corrections and imported history (kv keys
//!    `okno.corrections/<id>`, JSON `{"code", "text"}`) vote by nearest neighbours: the
//!    five most similar examples (cosine of TF-IDF vectors, at least 0.3) add a vote to
//!    their code that grows steeply with similarity. An appeal like a corrected one thus
//!    gets the corrected code, while loosely similar appeals, which share little more
//!    than the language of complaints, do not outvote the table. The examples' vectors are kept in the plugin's
//!    own kv key `topics.index` and only new keys are read and stemmed ([`store`]).
//! 4. **Confidence.** A softmax over the top 20 scores (temperature 0.05) gives each code
//!    a confidence; below 0.35 for the best one the assignment is marked
//!    `low_confidence`, and an official should choose.
//! 5. **Alternatives.** Up to five more codes, by score, except that the two after the best
//!    open new темы where a вопрос of another тема scores within 0.15 of a sibling of one
//!    already offered: sibling вопросы score alike, and three codes of one wrong тема
//!    would leave the official nothing to pick from. Each code keeps its own confidence.
//!
//! A message with no words (empty subject and body, or only stop words) is not an error:
//! it gets [`model::NO_TEXT_CODE`] (the classifier's entry for a message without
//! meaningful content) with confidence 0 and `low_confidence`, so it goes to an official.
//!
//! The same logic runs natively through [`classify_text`] and [`classify_prepared`].

pub mod examples;
pub mod learned;
pub mod model;
pub mod query;
pub mod store;
pub mod table;
pub mod text;
pub mod train;
pub mod vocab;

use okno_sdk::prelude::*;

pub use examples::{prepare, Example, PreparedExample};
pub use model::Params;

/// Classifies a text (subject and body) with the given labelled examples.
pub fn classify_text(text: &str, examples: &[Example]) -> TopicAssignment {
    classify_prepared(text, &prepare(examples), &Params::default())
}

/// Classifies a text with examples already vectorised by [`prepare`], e.g. once for many
/// texts.
pub fn classify_prepared(
    text: &str,
    examples: &[PreparedExample],
    params: &Params,
) -> TopicAssignment {
    model::classify(text, examples, params, &learned::Model::embedded())
}

/// Classifies a text with another learned model than the embedded one (evaluation,
/// training's calibration).
pub fn classify_with_model(
    text: &str,
    examples: &[PreparedExample],
    params: &Params,
    model: &learned::Model,
) -> TopicAssignment {
    model::classify(text, examples, params, model)
}

/// The text a message is classified by: its subject, then its body.
pub fn message_text(message: &Message) -> String {
    match message
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(subject) => format!("{subject}\n{}", message.body),
        None => message.body.clone(),
    }
}

pub struct Topics;

impl Classifier for Topics {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let examples = store::load_examples();
        let assignment = classify_prepared(&message_text(&message), &examples, &Params::default());
        current.topic = Some(assignment);
        Ok(current)
    }
}

okno_sdk::export_classifier!(Topics);

#[cfg(test)]
mod tests;
