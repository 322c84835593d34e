//! Scoring: the classifier's wording (hierarchical TF-IDF), blended with the examples'
//! nearest-neighbour vote, turned into a ranked, explained [`TopicAssignment`].

use okno_sdk::types::{Topic, TopicAssignment};

use crate::examples::{nearest, PreparedExample};
use crate::learned::{self, Model};
use crate::query::{display, Query};
use crate::table;
use crate::text::Tokenizer;

/// The code for a message with no words to go on: the classifier's own entry for a
/// message «не имеющее смысла или содержащее рассуждения общего характера».
pub const NO_TEXT_CODE: &str = "0001.0002.0027.0158";

/// The knobs of the scorer; [`Params::default`] holds the values measured best.
#[derive(Clone, Debug)]
pub struct Params {
    /// Weight of the тема's similarity added to each of its вопросы.
    pub tema_weight: f32,
    /// Weight of the mean of a тематика's three best вопросы, added to each of its вопросы.
    pub tematika_weight: f32,
    /// Weight of the examples' vote for a code.
    pub knn_code_weight: f32,
    /// How much more a near-identical example weighs than a loosely similar one.
    pub knn_sharpness: f32,
    /// Weight of the examples' vote for the тема of a code.
    pub knn_tema_weight: f32,
    /// Neighbours consulted.
    pub knn_k: usize,
    /// Least similarity for an example to vote.
    pub knn_min: f32,
    /// Softmax temperature that turns scores into confidences.
    pub temperature: f32,
    /// Below this confidence of the best code, an official should choose.
    pub low_confidence_below: f32,
    /// Least summed IDF of a подвопрос's own words in the text for it to be chosen.
    pub refine_min: f32,
    /// Score margin within which, among the first three codes offered, a вопрос of a тема
    /// not yet offered goes before one of a тема already offered.
    pub diversity_margin: f32,
    /// Weight of the learned model's probability of a вопрос, added to it.
    pub learned_code_weight: f32,
    /// Weight of the learned model's probability of a тема (its own and its вопросы'),
    /// added to each of its вопросы.
    pub learned_tema_weight: f32,
}

impl Params {
    /// The defaults with the low-confidence threshold that training chose for `model`.
    pub fn for_model(model: &Model) -> Params {
        let mut params = Params {
            low_confidence_below: 0.5,
            ..Params::default()
        };
        if !model.is_empty() {
            params.low_confidence_below = model.threshold;
        }
        params
    }
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tema_weight: 0.6,
            tematika_weight: 0.0,
            knn_code_weight: 0.7,
            knn_sharpness: 10.0,
            knn_tema_weight: 0.0,
            knn_k: 5,
            knn_min: 0.3,
            temperature: 0.05,
            low_confidence_below: learned_threshold(),
            refine_min: 4.0,
            diversity_margin: 0.15,
            learned_code_weight: 0.3,
            learned_tema_weight: 0.5,
        }
    }
}

/// The threshold chosen when the embedded model was trained, or 0.5 without one.
fn learned_threshold() -> f32 {
    let model = Model::embedded();
    if model.is_empty() {
        0.5
    } else {
        model.threshold
    }
}

/// The learned model's probability of each entry (a вопрос, or a тема as a whole), or
/// nothing when it knows none of the text's words.
fn learned_probabilities(model: &Model, features: &[u32]) -> Option<Vec<f32>> {
    let posterior = model.posterior(features)?;
    let mut p = vec![0.0f32; table::ENTRIES.len()];
    for (label, &prob) in posterior.probabilities.iter().enumerate() {
        if let Some(e) = model.entry(label) {
            p[e] += prob;
        }
    }
    Some(p)
}

/// Per-entry similarity of the text to the classifier's wording (levels 3–5).
fn table_similarity(query: &Query) -> Vec<f32> {
    let mut acc = vec![0.0f32; table::ENTRIES.len()];
    let mut norm = 0.0f32;
    for term in &query.terms {
        let Some(t) = table::term(term.hash) else {
            continue;
        };
        let qw = term.tf * t.idf;
        norm += qw * qw;
        for (entry, w) in table::postings(t) {
            acc[entry] += qw * w;
        }
    }
    let norm = norm.sqrt();
    if norm > 0.0 {
        for a in &mut acc {
            *a /= norm;
        }
    }
    acc
}

/// Level-4 entries kept from scoring: the offered codes and the confidences' softmax.
const RANKED: usize = 20;

pub struct Scored {
    /// The best [`RANKED`] level-4 entries and their scores, best first.
    pub ranked: Vec<(usize, f32)>,
    pub neighbours: Vec<crate::examples::Neighbour>,
}

/// An example's vote grows steeply with similarity: a loosely similar appeal hints, a
/// near-identical one (a repeat, a copy sent twice) decides, whatever the table says.
fn vote(similarity: f32, params: &Params) -> f32 {
    similarity * (1.0 + params.knn_sharpness * similarity.powi(4))
}

pub fn score(
    query: &Query,
    learned: Option<&[f32]>,
    examples: &[PreparedExample],
    params: &Params,
) -> Scored {
    let sim = table_similarity(query);
    // The learned probability of each вопрос and of each тема (a тема's own label and
    // its вопросы' together).
    let mut learned_code = vec![0.0f32; table::ENTRIES.len()];
    let mut learned_tema = vec![0.0f32; table::ENTRIES.len()];
    if let Some(p) = learned {
        for (e, &v) in p.iter().enumerate() {
            if v <= 0.0 {
                continue;
            }
            let level = table::ENTRIES[e].level;
            if level >= 4 {
                learned_code[table::ancestor_at(e, 4)] += v;
            }
            if level >= 3 {
                learned_tema[table::ancestor_at(e, 3)] += v;
            }
        }
    }
    let mut knn_code = vec![0.0f32; table::ENTRIES.len()];
    let mut knn_tema = vec![0.0f32; table::ENTRIES.len()];
    let neighbours = if examples.is_empty() {
        Vec::new()
    } else {
        nearest(&query.vector(), examples, params.knn_k, params.knn_min)
    };
    for n in &neighbours {
        let vote = vote(n.similarity, params);
        knn_code[table::ancestor_at(n.entry, 4)] += vote;
        knn_tema[table::ancestor_at(n.entry, 3)] += vote;
    }
    let mut ranked: Vec<(usize, f32)> = table::ENTRIES
        .iter()
        .enumerate()
        .filter(|(_, e)| e.level == 4)
        .map(|(i, _)| {
            let tema = table::ancestor_at(i, 3);
            let s = sim[i]
                + params.tema_weight * sim[tema]
                + params.knn_code_weight * knn_code[i]
                + params.knn_tema_weight * knn_tema[tema]
                + params.learned_code_weight * learned_code[i]
                + params.learned_tema_weight * learned_tema[tema];
            (i, s)
        })
        .collect();
    if params.tematika_weight > 0.0 {
        // A тематика that several вопросы match is likelier than one lone strong match
        // elsewhere: add the mean of each тематика's three best вопросы.
        let mut best_in: std::collections::HashMap<usize, [f32; 3]> =
            std::collections::HashMap::new();
        for &(i, s) in &ranked {
            let top = best_in.entry(table::ancestor_at(i, 2)).or_insert([0.0; 3]);
            if s > top[2] {
                top[2] = s;
                top.sort_by(|a, b| b.total_cmp(a));
            }
        }
        for (i, s) in &mut ranked {
            if let Some(top) = best_in.get(&table::ancestor_at(*i, 2)) {
                *s += params.tematika_weight * top.iter().sum::<f32>() / 3.0;
            }
        }
    }
    // Only the best few are offered: selecting them before sorting spares a sort of
    // some 1,700 scores. Ties go to the lower entry, so the order is total and the same
    // as a full sort's.
    let by_rank = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > RANKED {
        ranked.select_nth_unstable_by(RANKED - 1, by_rank);
        ranked.truncate(RANKED);
    }
    ranked.sort_by(by_rank);
    Scored { ranked, neighbours }
}

/// The подвопрос of `entry` that the text clearly names, if one does: its own words (those
/// its вопрос does not have) must weigh at least `refine_min` and beat every sibling's.
/// An example filed under a подвопрос of this вопрос decides first.
fn refine(
    entry: usize,
    query: &Query,
    neighbours: &[crate::examples::Neighbour],
    params: &Params,
) -> usize {
    if let Some(n) = neighbours
        .iter()
        .find(|n| table::ancestor_at(n.entry, 4) == entry)
    {
        return n.entry;
    }
    let parent_terms = table::own_terms(entry);
    let mut best: Option<(usize, f32)> = None;
    let mut second = 0.0f32;
    for child in table::children(entry) {
        let weight: f32 = table::own_terms(child)
            .iter()
            .filter(|h| parent_terms.binary_search(h).is_err())
            .filter_map(|h| query.terms.binary_search_by_key(h, |t| t.hash).ok())
            .filter_map(|i| query.terms[i].idf)
            .sum();
        match best {
            Some((_, b)) if weight <= b => second = second.max(weight),
            _ => {
                if let Some((_, b)) = best {
                    second = second.max(b);
                }
                best = Some((child, weight));
            }
        }
    }
    match best {
        Some((child, w)) if w >= params.refine_min && w > second + 1.0 => child,
        _ => entry,
    }
}

/// Positions in `top` (best score first) in the order they are offered. Sibling вопросы
/// of one тема often score alike, so a plain ranking may offer three codes of a тема
/// that is wrong altogether; an official choosing among the first three is better served
/// by three темы. So among the first three, a вопрос of a тема not yet offered goes
/// before a rival of an offered тема that scores at most `margin` more. The best code is
/// never displaced, and what is skipped follows in score order.
pub(crate) fn offer_order(top: &[(usize, f32)], margin: f32) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(top.len());
    let mut left: Vec<usize> = (0..top.len()).collect();
    while let Some(&next) = left.first() {
        let mut pick = 0;
        if (1..3).contains(&order.len()) {
            let offered = |i: usize| {
                let tema = table::ancestor_at(top[i].0, 3);
                order
                    .iter()
                    .any(|&o| table::ancestor_at(top[o].0, 3) == tema)
            };
            if let Some(k) = left
                .iter()
                .position(|&i| !offered(i) && top[i].1 >= top[next].1 - margin)
            {
                pick = k;
            }
        }
        order.push(left.remove(pick));
    }
    order
}

fn topic(entry: usize, confidence: f32) -> Topic {
    let e = table::entry(entry);
    Topic {
        code: e.code().to_string(),
        name: e.name().into_owned(),
        confidence: confidence.clamp(0.0, 1.0),
    }
}

/// The words of the text that weigh most for `entry` (its own wording and its тема's).
fn deciding_words(query: &Query, entry: usize, params: &Params) -> Vec<String> {
    let tema = table::ancestor_at(entry, 3);
    let mut weighed: Vec<(f32, String)> = Vec::new();
    for term in &query.terms {
        if term.word.is_empty() {
            continue;
        }
        let Some(t) = table::term(term.hash) else {
            continue;
        };
        let mut w = 0.0;
        for (e, pw) in table::postings(t) {
            if e == entry {
                w += pw;
            } else if e == tema {
                w += params.tema_weight * pw;
            }
        }
        if w > 0.0 {
            weighed.push((w * term.tf * t.idf, display(&term.stem, &term.word)));
        }
    }
    weighed.sort_by(|a, b| b.0.total_cmp(&a.0));
    weighed.into_iter().take(5).map(|(_, w)| w).collect()
}

/// Classifies a text against the table, the learned model and the prepared examples.
pub fn classify(
    text: &str,
    examples: &[PreparedExample],
    params: &Params,
    model: &Model,
) -> TopicAssignment {
    let tokenizer = Tokenizer::new();
    let query = Query::new(&tokenizer, text);
    if query.is_empty() {
        return no_text();
    }
    let learned = if model.is_empty() {
        None
    } else {
        learned_probabilities(model, &learned::features(&tokenizer, text, &query))
    };
    let scored = score(&query, learned.as_deref(), examples, params);
    let top = &scored.ranked;
    let Some(&(best_entry, best_score)) = top.first() else {
        return no_text();
    };
    if best_score <= 0.0 {
        return no_text();
    }
    let max = best_score;
    let weights: Vec<f32> = top
        .iter()
        .map(|(_, s)| ((s - max) / params.temperature).exp())
        .collect();
    let total: f32 = weights.iter().sum();
    let confidence = |i: usize| if total > 0.0 { weights[i] / total } else { 0.0 };

    let chosen = refine(best_entry, &query, &scored.neighbours, params);
    let best = topic(chosen, confidence(0));
    let alternatives: Vec<Topic> = offer_order(top, params.diversity_margin)
        .into_iter()
        .skip(1)
        .take(5)
        .map(|i| topic(top[i].0, confidence(i)))
        .collect();
    let low_confidence = best.confidence < params.low_confidence_below;

    let mut reasons = Vec::new();
    let words = deciding_words(&query, best_entry, params);
    let tema = table::entry(table::ancestor_at(best_entry, 3));
    if !words.is_empty() {
        reasons.push(format!(
            "{} → тема {} «{}», вопрос {} «{}»",
            words.join(", "),
            tema.code(),
            tema.name(),
            best.code,
            best.name
        ));
    }
    let supporting: Vec<&crate::examples::Neighbour> = scored
        .neighbours
        .iter()
        .filter(|n| table::ancestor_at(n.entry, 4) == best_entry)
        .collect();
    if let Some(n) = supporting.first() {
        reasons.push(format!(
            "похоже на {} обращени{} с этим кодом, исправленн{} специалистом (сходство до {:.2})",
            supporting.len(),
            if supporting.len() == 1 { "е" } else { "я" },
            if supporting.len() == 1 {
                "ое"
            } else {
                "ые"
            },
            n.similarity
        ));
    }
    if chosen != best_entry {
        reasons.push(format!(
            "уточнено до подвопроса {} «{}»",
            best.code, best.name
        ));
    }
    if low_confidence {
        reasons.push(format!(
            "уверенность {:.2} ниже порога {:.2}: код должен выбрать специалист",
            best.confidence, params.low_confidence_below
        ));
    }
    TopicAssignment {
        best,
        alternatives,
        low_confidence,
        reasons,
    }
}

fn no_text() -> TopicAssignment {
    let entry = table::find(NO_TEXT_CODE).unwrap_or(0);
    TopicAssignment {
        best: topic(entry, 0.0),
        alternatives: Vec::new(),
        low_confidence: true,
        reasons: vec![
            "в тексте нет слов, по которым можно определить тему: код должен выбрать специалист"
                .into(),
        ],
    }
}
