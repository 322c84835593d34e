//! Labelled examples (officials' corrections, imported history) and the nearest-neighbour
//! vote they cast.

use crate::query::{dot, normalise, Query};
use crate::table;
use crate::text::Tokenizer;

/// Stems kept per example: the heaviest ones carry nearly all of the cosine, and a
/// fixed cap keeps the stored index and the scan small for thousands of examples.
pub const MAX_TERMS: usize = 48;

/// An appeal whose code an official has set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// A level-4 or level-5 code of the classifier.
    pub code: String,
    /// Subject and body of the appeal.
    pub text: String,
}

/// An example ready for comparison: its entry in the table and its unit TF-IDF vector.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedExample {
    pub entry: usize,
    /// Sorted by stem hash.
    pub vector: Vec<(u32, f32)>,
}

impl PreparedExample {
    /// `None` when the code is not a level-4/5 entry of the classifier or the text has no
    /// words: such an example cannot teach anything.
    pub fn new(tokenizer: &Tokenizer, example: &Example) -> Option<PreparedExample> {
        let entry = table::find(example.code.trim())?;
        if table::entry(entry).level < 4 {
            return None;
        }
        let mut vector = Query::new(tokenizer, &example.text).vector();
        if vector.is_empty() {
            return None;
        }
        if vector.len() > MAX_TERMS {
            vector.sort_by(|a, b| b.1.total_cmp(&a.1));
            vector.truncate(MAX_TERMS);
            vector.sort_by_key(|(h, _)| *h);
            normalise(&mut vector);
        }
        Some(PreparedExample { entry, vector })
    }
}

pub fn prepare(examples: &[Example]) -> Vec<PreparedExample> {
    let tokenizer = Tokenizer::new();
    examples
        .iter()
        .filter_map(|e| PreparedExample::new(&tokenizer, e))
        .collect()
}

/// A neighbour of the query among the examples.
#[derive(Clone, Copy, Debug)]
pub struct Neighbour {
    pub entry: usize,
    pub similarity: f32,
}

/// The `k` most similar examples with a similarity of at least `min`, best first.
pub fn nearest(
    query: &[(u32, f32)],
    examples: &[PreparedExample],
    k: usize,
    min: f32,
) -> Vec<Neighbour> {
    let mut found: Vec<Neighbour> = examples
        .iter()
        .map(|e| Neighbour {
            entry: e.entry,
            similarity: dot(query, &e.vector),
        })
        .filter(|n| n.similarity >= min)
        .collect();
    found.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    found.truncate(k);
    found
}
