//! Scores every rule against one message and writes the result into its classification.

use std::collections::HashMap;

use okno_sdk::prelude::*;

use crate::rules::{Rule, Rules};
use crate::text::{Stems, Token};

/// At most this many alternatives, as the contract allows.
const MAX_ALTERNATIVES: usize = 5;
/// Keywords never read context (negation, quotes), so a match is never certain.
const MAX_CONFIDENCE: f32 = 0.95;

/// A rule that matched, with the words of the text that matched it.
struct Hit<'r> {
    rule: &'r Rule,
    /// Distinct matched entries of the rule, each as the text wrote it.
    words: Vec<String>,
}

impl Hit<'_> {
    fn score(&self) -> usize {
        self.words.len()
    }
}

/// The classifier's logic without the host: what `classify` returns for `message` when
/// the settings give `rules`.
///
/// Every matching rule adds its tags. The best-scoring rule with a topic sets the topic;
/// the other matching rules' topics become alternatives.
pub fn classify_with_rules(
    rules: &Rules,
    message: &Message,
    mut current: Classification,
) -> Classification {
    if rules.is_empty() {
        return current;
    }
    let stems = Stems::russian();
    let mut tokens = match &message.subject {
        Some(subject) => stems.tokens(subject),
        None => Vec::new(),
    };
    tokens.extend(stems.tokens(&message.body));
    let first_at = first_positions(&tokens);

    let mut hits: Vec<Hit> = rules
        .rules
        .iter()
        .filter_map(|rule| {
            let words: Vec<String> = rule
                .entries
                .iter()
                .filter_map(|entry| find(entry, &tokens, &first_at))
                .collect();
            (!words.is_empty()).then_some(Hit { rule, words })
        })
        .collect();
    // Stable: among equal scores the rule whose name sorts first wins, so the outcome
    // does not depend on anything but the settings and the text.
    hits.sort_by_key(|hit| std::cmp::Reverse(hit.score()));

    for hit in &hits {
        for tag in &hit.rule.tags {
            if !current.tags.contains(tag) {
                current.tags.push(tag.clone());
            }
        }
    }

    if let Some(ours) = assignment(&hits) {
        current.topic = Some(match current.topic.take() {
            None => ours,
            Some(earlier) => merge(earlier, ours),
        });
    }
    current
}

/// Index of the first token with each stem.
fn first_positions<'a>(tokens: &'a [Token]) -> HashMap<&'a str, usize> {
    let mut first = HashMap::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        first.entry(token.stem.as_str()).or_insert(i);
    }
    first
}

/// Where `entry` (one word or a phrase) first occurs, as the text wrote it.
fn find(entry: &[String], tokens: &[Token], first_at: &HashMap<&str, usize>) -> Option<String> {
    let (head, rest) = entry.split_first()?;
    let start = *first_at.get(head.as_str())?;
    if rest.is_empty() {
        return Some(tokens[start].surface());
    }
    tokens[start..]
        .windows(entry.len())
        .find(|window| window.iter().zip(entry).all(|(t, s)| t.stem == *s))
        .map(|window| {
            window
                .iter()
                .map(Token::surface)
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// Each further distinct word halves the remaining doubt: 1 → 0.5, 2 → 0.75, 3 → 0.875.
fn confidence(score: usize) -> f32 {
    let doubt = 0.5_f32.powi(score.min(16) as i32);
    (1.0 - doubt).min(MAX_CONFIDENCE)
}

fn assignment(hits: &[Hit]) -> Option<TopicAssignment> {
    let mut with_topic = hits
        .iter()
        .filter_map(|h| h.rule.topic.as_ref().map(|t| (h, t)));
    let (best_hit, best_topic) = with_topic.next()?;

    let mut alternatives: Vec<Topic> = Vec::new();
    let mut tied = false;
    for (hit, topic) in with_topic {
        if topic.code == best_topic.code || alternatives.iter().any(|a| a.code == topic.code) {
            continue;
        }
        tied |= hit.score() == best_hit.score();
        if alternatives.len() < MAX_ALTERNATIVES {
            alternatives.push(Topic {
                code: topic.code.clone(),
                name: topic.name.clone(),
                confidence: confidence(hit.score()),
            });
        }
    }

    let quoted: Vec<String> = best_hit.words.iter().map(|w| format!("«{w}»")).collect();
    let mut reasons = vec![format!(
        "Ключевые слова правила «{}»: {}",
        best_hit.rule.name,
        quoted.join(", ")
    )];
    if tied {
        reasons.push("Другое правило совпало столько же раз: тему должен выбрать сотрудник".into());
    }
    Some(TopicAssignment {
        best: Topic {
            code: best_topic.code.clone(),
            name: best_topic.name.clone(),
            confidence: confidence(best_hit.score()),
        },
        alternatives,
        // One word is too easily a coincidence («батарея» in a complaint about a phone),
        // and a tie means the keywords cannot tell the topics apart.
        low_confidence: best_hit.score() == 1 || tied,
        reasons,
    })
}

/// An earlier classifier (e.g. a statistical one placed before this one) already chose
/// a topic. Its choice stands when it is more confident than ours: keywords only count
/// words, so they should not overrule a classifier that is surer. Either way the losing
/// topic is kept as an alternative, so the official choosing still sees it.
fn merge(earlier: TopicAssignment, ours: TopicAssignment) -> TopicAssignment {
    let (mut kept, displaced) = if earlier.best.confidence > ours.best.confidence {
        (earlier, ours)
    } else {
        (ours, earlier)
    };
    let mut candidates = vec![displaced.best];
    candidates.extend(displaced.alternatives);
    for topic in candidates {
        if topic.code != kept.best.code && !kept.alternatives.iter().any(|a| a.code == topic.code) {
            kept.alternatives.push(topic);
        }
    }
    kept.alternatives
        .sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    kept.alternatives.truncate(MAX_ALTERNATIVES);
    kept
}
