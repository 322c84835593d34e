//! # okno-plugin-sentiment: how an appeal feels, from its words
//!
//! A lexicon and a few rules, no model: stemmed positive and negative words, negation
//! (`не помогли`, `не плохо`, `без проблем`), intensifiers, shouting (capitals, `!!!`),
//! irony (a positive word in quotes, `«спасибо» за «отличную» работу`) and the phrases
//! complaints and thanks are made of. The score is in [-1, 1]; the reasons list the
//! cues, so an official can see why a message was read as angry.

mod index;
mod lexicon;
mod text;

use index::{has_phrase, WeightIndex};
use lexicon::{INTENSIFIERS, NEGATIVE, NEGATIVE_WHEN_NEGATED, NEGATORS, PHRASES, POSITIVE};
use okno_sdk::prelude::*;
use rust_stemmers::{Algorithm, Stemmer};

/// Scores at or beyond these are positive or negative; between them, neutral.
const POSITIVE_FROM: f32 = 0.3;
const NEGATIVE_FROM: f32 = -0.3;
const MAX_REASONS: usize = 8;

/// Verbs between a negator and the word it negates: `не могу дозвониться`.
const MODALS: &[&str] = &[
    "мог",
    "смог",
    "мож",
    "стал",
    "хот",
    "собира",
    "спеш",
    "жела",
];

fn starts_with_any(word: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| word.starts_with(p))
}

#[derive(Default)]
struct Tally {
    positive: f32,
    negative: f32,
    reasons: Vec<(f32, String)>,
}

impl Tally {
    fn add(&mut self, value: f32, reason: String) {
        if value >= 0.0 {
            self.positive += value;
        } else {
            self.negative -= value;
        }
        self.reasons.push((value, reason));
    }
}

/// Reads the sentiment of a text.
pub fn assess(input: &str) -> Sentiment {
    let text = text::analyse(input);
    let stemmer = Stemmer::create(Algorithm::Russian);
    let words = &text.words;
    let stems: Vec<String> = words
        .iter()
        .map(|w| stemmer.stem(&w.lower).into_owned())
        .collect();
    let (positive, negative) = (WeightIndex::new(POSITIVE), WeightIndex::new(NEGATIVE));
    let mut tally = Tally::default();
    let mut negator_used = vec![false; words.len()];
    // Positive words in quotes: irony or a name, decided once the rest is known.
    let mut quoted_positive: Vec<(usize, f32)> = Vec::new();

    for (i, word) in words.iter().enumerate() {
        let (lower, stem) = (word.lower.as_str(), stems[i].as_str());
        if NEGATORS.contains(&lower) {
            continue;
        }
        let same_clause = |j: usize| words[j].clause == word.clause;
        let negator = match i {
            0 => None,
            _ if NEGATORS.contains(&words[i - 1].lower.as_str()) && same_clause(i - 1) => {
                Some(i - 1)
            }
            _ if i >= 2
                && NEGATORS.contains(&words[i - 2].lower.as_str())
                && same_clause(i - 2)
                && starts_with_any(&words[i - 1].lower, MODALS) =>
            {
                Some(i - 2)
            }
            _ => None,
        };
        let boost =
            if i > 0 && same_clause(i - 1) && starts_with_any(&words[i - 1].lower, INTENSIFIERS) {
                1.5
            } else {
                1.0
            };
        let phrase = |n: usize| -> String {
            let from = n.min(i);
            words[from..=i]
                .iter()
                .map(|w| w.original.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };

        if let Some(n) =
            negator.filter(|_| NEGATIVE_WHEN_NEGATED.iter().any(|e| lower.starts_with(e)))
        {
            negator_used[n] = true;
            tally.add(-boost, format!("negated «{}»", phrase(n)));
        } else if let Some(w) = positive.weight(lower, stem) {
            if let Some(n) = negator {
                negator_used[n] = true;
                tally.add(-0.8 * w * boost, format!("negated «{}»", phrase(n)));
            } else if word.quote.is_some() {
                quoted_positive.push((i, w * boost));
            } else {
                tally.add(w * boost, format!("positive «{}»", word.original));
            }
        } else if let Some(w) = negative.weight(lower, stem) {
            if let Some(n) = negator {
                negator_used[n] = true;
                tally.add(0.5 * w, format!("negated «{}»", phrase(n)));
            } else {
                tally.add(-w * boost, format!("negative «{}»", word.original));
            }
        }
    }

    // `нет` and `без` that negated no sentiment word speak of something missing:
    // `воды нет`, `без ответа`.
    for (i, used) in negator_used.iter().enumerate() {
        match words[i].lower.as_str() {
            "нет" if !used => tally.add(-0.7, format!("absence «{}»", words[i].original)),
            "без" if !used => {
                let next = words.get(i + 1).map_or("", |w| w.original.as_str());
                tally.add(-0.4, format!("absence «{} {next}»", words[i].original));
            }
            _ => {}
        }
    }

    for (phrase, w) in PHRASES {
        if has_phrase(words, phrase) {
            tally.add(*w, format!("phrase «{phrase}»"));
        }
    }

    let mut ironic = false;
    for (i, w) in quoted_positive {
        let lower_start = words[i]
            .quote
            .and_then(|q| text.quotes.get(q))
            .is_some_and(|q| q.lower_start);
        if lower_start || tally.negative > 0.0 {
            ironic = true;
            tally.add(-w, format!("irony «{}»", words[i].original));
        } else {
            tally.add(w, format!("positive «{}»", words[i].original));
        }
    }
    // In a sarcastic text the plain thanks around the quotes are sarcastic too:
    // `Спасибо за «отличную» работу`.
    if ironic {
        tally.positive = 0.0;
        for (value, reason) in tally.reasons.iter_mut().filter(|(v, _)| *v > 0.0) {
            *value = 0.0;
            reason.push_str(" (read as irony)");
        }
    }

    let shouted = words.iter().filter(|w| w.shouted).count();
    if shouted >= 2 || text.exclamations > 0 {
        let cue = match (shouted >= 2, text.exclamations > 0) {
            (true, true) => "capitals and «!!!»",
            (true, false) => "capitals",
            _ => "«!!!»",
        };
        // Shouting is anger unless the text is plainly thanks: then it is enthusiasm.
        if tally.positive >= 1.5 && tally.negative == 0.0 {
            tally.add(0.5, format!("emphasis: {cue}"));
        } else {
            tally.add(-1.0, format!("shouting: {cue}"));
        }
    }

    let raw = tally.positive - tally.negative;
    let score = (raw / (raw.abs() + 1.0)).clamp(-1.0, 1.0);
    let label = if score >= POSITIVE_FROM {
        SentimentLabel::Positive
    } else if score <= NEGATIVE_FROM {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    };
    // The strongest cues first: they are the ones that decided.
    let mut reasons = tally.reasons;
    reasons.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let reasons = reasons
        .into_iter()
        .take(MAX_REASONS)
        .map(|(_, r)| r)
        .collect();
    Sentiment {
        label,
        score,
        reasons,
    }
}

/// The classifier: sets `classification.sentiment` from the subject and body.
pub struct SentimentClassifier;

impl Classifier for SentimentClassifier {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let text = match &message.subject {
            Some(subject) if !subject.trim().is_empty() => format!("{subject}.\n{}", message.body),
            _ => message.body,
        };
        current.sentiment = Some(assess(&text));
        Ok(current)
    }
}

okno_sdk::export_classifier!(SentimentClassifier);

#[cfg(test)]
mod tests;
