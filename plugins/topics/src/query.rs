//! An appeal's text as the scorers see it: stems with their weights.

use std::collections::HashMap;

use crate::table;
use crate::text::{term_hash, Tokenizer};

/// How much a synonym's expansion weighs against a word actually written.
const SYNONYM_WEIGHT: f32 = 0.6;
/// How much a known prefix of an unknown stem weighs against the stem itself.
const PREFIX_WEIGHT: f32 = 0.7;
/// Shortest prefix taken for a stem: shorter ones join unrelated words.
const MIN_PREFIX_CHARS: usize = 5;
/// How much a known stem one typo away weighs against the stem itself.
const TYPO_WEIGHT: f32 = 0.7;
/// Shortest stem that is read as a typo of another.
const MIN_TYPO_CHARS: usize = 5;

/// The IDF of a stem the classifier never uses (street names, family words, typos): such
/// words say little about the topic, yet two appeals sharing several of them are likely
/// about the same matter, so they count for the example match only, and modestly.
pub const UNKNOWN_IDF: f32 = 2.5;

/// One stem of a text.
#[derive(Clone, Debug)]
pub struct QueryTerm {
    pub hash: u32,
    /// Sub-linear term frequency, times [`SYNONYM_WEIGHT`] for an expansion.
    pub tf: f32,
    /// The classifier's IDF, or `None` for a stem the classifier does not use.
    pub idf: Option<f32>,
    /// The stem and the first word form seen, for reasons; empty for an expansion.
    pub stem: String,
    pub word: String,
}

#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Sorted by hash, one entry per stem.
    pub terms: Vec<QueryTerm>,
}

impl Query {
    pub fn new(tokenizer: &Tokenizer, text: &str) -> Query {
        let mut counts: HashMap<u32, (u32, String, String)> = HashMap::new();
        for token in tokenizer.tokens(text) {
            let entry = counts
                .entry(term_hash(&token.stem))
                .or_insert((0, token.stem, token.word));
            entry.0 += 1;
        }
        let mut terms: HashMap<u32, QueryTerm> = HashMap::new();
        for (&hash, (count, stem, word)) in &counts {
            let tf = 1.0 + (*count as f32).ln();
            terms.insert(
                hash,
                QueryTerm {
                    hash,
                    tf,
                    idf: table::term(hash).map(|t| t.idf),
                    stem: stem.clone(),
                    word: word.clone(),
                },
            );
        }
        // A stem the classifier lacks often extends one it has (`археологическ` and the
        // cue `археолог`, `водоснабженческ`...): the longest such prefix stands in for it.
        // Failing that, it may be a typo of one (`банер` for `баннер`, `котоел`).
        for (&hash, (count, stem, word)) in &counts {
            if table::term(hash).is_some() {
                continue;
            }
            let ((known, known_hash), weight) = match known_prefix(stem) {
                Some(prefix) => (prefix, PREFIX_WEIGHT),
                None => match known_typo(stem) {
                    Some(fixed) => (fixed, TYPO_WEIGHT),
                    None => continue,
                },
            };
            let tf = (1.0 + (*count as f32).ln()) * weight;
            let term = terms.entry(known_hash).or_insert_with(|| QueryTerm {
                hash: known_hash,
                tf: 0.0,
                idf: table::term(known_hash).map(|t| t.idf),
                stem: known,
                word: word.clone(),
            });
            if term.tf < tf {
                term.tf = tf;
            }
        }
        for (&hash, (count, _, _)) in &counts {
            let tf = (1.0 + (*count as f32).ln()) * SYNONYM_WEIGHT;
            for &target in table::synonyms(hash) {
                let term = terms.entry(target).or_insert_with(|| QueryTerm {
                    hash: target,
                    tf: 0.0,
                    idf: table::term(target).map(|t| t.idf),
                    stem: String::new(),
                    word: String::new(),
                });
                if term.tf < tf {
                    term.tf = tf;
                }
            }
        }
        let mut terms: Vec<QueryTerm> = terms.into_values().collect();
        terms.sort_by_key(|t| t.hash);
        Query { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The text as a unit TF-IDF vector over all its stems, sorted by hash: the form in
    /// which appeals are compared with each other.
    pub fn vector(&self) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = self
            .terms
            .iter()
            .map(|t| (t.hash, t.tf * t.idf.unwrap_or(UNKNOWN_IDF)))
            .collect();
        normalise(&mut v);
        v
    }
}

/// The longest prefix of `stem`, of at least [`MIN_PREFIX_CHARS`] letters, that the
/// classifier uses.
fn known_prefix(stem: &str) -> Option<(String, u32)> {
    let ends: Vec<usize> = stem
        .char_indices()
        .map(|(i, _)| i)
        .skip(MIN_PREFIX_CHARS)
        .collect();
    ends.into_iter().rev().find_map(|end| {
        let prefix = &stem[..end];
        let hash = term_hash(prefix);
        table::term(hash).map(|_| (prefix.to_string(), hash))
    })
}

/// A stem the classifier uses that `stem` becomes by undoing one of the commonest typos:
/// a letter left out of a double (`банер`), a letter too many (`котоел`), two neighbours
/// swapped (`свзяи`). Only for stems of at least [`MIN_TYPO_CHARS`] letters: a short
/// word is one letter away from too many others.
fn known_typo(stem: &str) -> Option<(String, u32)> {
    let chars: Vec<char> = stem.chars().collect();
    let n = chars.len();
    if n < MIN_TYPO_CHARS {
        return None;
    }
    let mut typos = (0..n)
        .map(Typo::LostDouble)
        .chain((0..n).map(Typo::Extra))
        .chain((1..n).map(Typo::Swapped));
    // This runs for every unknown stem: each variant is spelt into one reused buffer.
    let mut variant = String::with_capacity(stem.len() + 4);
    typos.find_map(|typo| {
        variant.clear();
        match typo {
            Typo::LostDouble(i) => {
                variant.extend(&chars[..=i]);
                variant.extend(&chars[i..]);
            }
            Typo::Extra(i) => {
                variant.extend(&chars[..i]);
                variant.extend(&chars[i + 1..]);
            }
            Typo::Swapped(i) => {
                variant.extend(&chars[..i - 1]);
                variant.extend([chars[i], chars[i - 1]]);
                variant.extend(&chars[i + 1..]);
            }
        }
        let hash = term_hash(&variant);
        table::term(hash).map(|_| (variant.clone(), hash))
    })
}

/// A typo [`known_typo`] undoes, by the position of the letter concerned.
#[derive(Clone, Copy)]
enum Typo {
    /// The letter at this position should be doubled.
    LostDouble(usize),
    /// The letter at this position should not be there.
    Extra(usize),
    /// The letters at this position and the one before are swapped.
    Swapped(usize),
}

pub fn normalise(v: &mut [(u32, f32)]) {
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in v.iter_mut() {
            *w /= norm;
        }
    }
}

/// Dot product of two vectors sorted by hash.
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Shows a word with its stem marked, e.g. `отоплен(ие)`.
pub fn display(stem: &str, word: &str) -> String {
    match word.strip_prefix(stem) {
        Some(rest) if !rest.is_empty() => format!("{stem}({rest})"),
        _ => word.to_string(),
    }
}
