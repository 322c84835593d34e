//! Labelled examples (officials' corrections, imported history) and the nearest-neighbour
//! vote they cast.

use crate::query::{normalise, Query};
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

/// The query's stems as a 1024-bit filter: most of an example's stems are not the
/// query's, and one bit test rules such a stem out, where a merge of the two sorted
/// vectors would step through both.
struct StemFilter([u64; 16]);

impl StemFilter {
    fn new(query: &[(u32, f32)]) -> StemFilter {
        let mut bits = [0u64; 16];
        for (hash, _) in query {
            bits[(hash >> 6 & 15) as usize] |= 1 << (hash & 63);
        }
        StemFilter(bits)
    }

    fn may_hold(&self, hash: u32) -> bool {
        self.0[(hash >> 6 & 15) as usize] & (1 << (hash & 63)) != 0
    }
}

/// The same sum as [`dot`]: the products are added in the order of the example's
/// stems, which is the merge's order.
fn similarity(query: &[(u32, f32)], filter: &StemFilter, example: &[(u32, f32)]) -> f32 {
    let mut sum = 0.0;
    for (hash, weight) in example {
        if filter.may_hold(*hash) {
            if let Ok(at) = query.binary_search_by_key(hash, |(h, _)| *h) {
                sum += query[at].1 * weight;
            }
        }
    }
    sum
}

/// The `k` most similar examples with a similarity of at least `min`, best first.
pub fn nearest(
    query: &[(u32, f32)],
    examples: &[PreparedExample],
    k: usize,
    min: f32,
) -> Vec<Neighbour> {
    let filter = StemFilter::new(query);
    let mut found: Vec<Neighbour> = examples
        .iter()
        .map(|e| Neighbour {
            entry: e.entry,
            similarity: similarity(query, &filter, &e.vector),
        })
        .filter(|n| n.similarity >= min)
        .collect();
    found.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    found.truncate(k);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::dot;

    #[test]
    fn the_filtered_similarity_is_the_merged_dot_product_to_the_bit() {
        let sorted = |mut v: Vec<(u32, f32)>| {
            v.sort_by_key(|(h, _)| *h);
            v.dedup_by_key(|(h, _)| *h);
            normalise(&mut v);
            v
        };
        let query = sorted(
            (0..60u32)
                .map(|i| (5000 + i * 37 % 1000, 1.0 / (1.0 + (i % 7) as f32)))
                .collect(),
        );
        let filter = StemFilter::new(&query);
        for seed in 0..40u32 {
            // A third of the example's stems are the query's, a third share a bit of the
            // filter with one of the query's (1024 apart), a third neither.
            let example = sorted(
                (0..48u32)
                    .map(|j| {
                        let q = query[((j * 7 + seed) % 60) as usize].0;
                        let hash = match (j + seed) % 3 {
                            0 => q,
                            1 => q + 1024,
                            _ => 100_000 + j * 13 + seed,
                        };
                        (hash, 1.0 / (1.0 + ((j + seed) % 5) as f32))
                    })
                    .collect(),
            );
            let expected = dot(&query, &example);
            assert!(expected > 0.0);
            assert_eq!(
                similarity(&query, &filter, &example).to_bits(),
                expected.to_bits()
            );
        }
    }
}
