//! Lexicon lookups shaped for the sandbox. Every word of a text is looked up in two
//! lists, and the phrases in the whole text. Inside WebAssembly a string comparison is a
//! call and a substring search sets up a Two-Way searcher, where native code inlines or
//! vectorises both; so the lists are split by first letter, and phrases are matched on
//! the words already cut rather than searched for in the text.

use okno_sdk::text::{initial_class, INITIAL_CLASSES as BUCKETS};

use crate::text::Word;

/// An entry matches a word by prefix from four letters up (`хамств` finds `хамство`
/// and `хамством`); a shorter entry must equal the word's stem (`зл` does not find
/// `злак`).
fn matches(entry: &str, word: &str, stem: &str) -> bool {
    if entry.chars().nth(3).is_some() {
        word.starts_with(entry)
    } else {
        stem == entry
    }
}

/// A weighted word list indexed by the first letter of its entries.
pub struct WeightIndex {
    list: &'static [(&'static str, f32)],
    /// Entry numbers grouped by bucket, each group in list order.
    order: Vec<u16>,
    /// `order[starts[b]..starts[b + 1]]` is bucket `b`.
    starts: [u16; BUCKETS + 1],
}

impl WeightIndex {
    pub fn new(list: &'static [(&'static str, f32)]) -> Self {
        let first = |entry: &str| initial_class(entry).unwrap_or(BUCKETS - 1);
        let mut starts = [0u16; BUCKETS + 1];
        for (entry, _) in list {
            starts[first(entry) + 1] += 1;
        }
        for b in 0..BUCKETS {
            starts[b + 1] += starts[b];
        }
        let mut next = starts;
        let mut order = vec![0u16; list.len()];
        for (i, (entry, _)) in list.iter().enumerate() {
            let b = first(entry);
            order[next[b] as usize] = i as u16;
            next[b] += 1;
        }
        WeightIndex {
            list,
            order,
            starts,
        }
    }

    /// The weight of the first entry in the list that matches `word` (lower-cased) or
    /// its `stem`. Only entries that begin as the word does can match: a stem is the
    /// start of its word.
    pub fn weight(&self, word: &str, stem: &str) -> Option<f32> {
        let b = initial_class(word)?;
        let candidates = &self.order[self.starts[b] as usize..self.starts[b + 1] as usize];
        candidates
            .iter()
            .map(|&i| self.list[i as usize])
            .find(|(entry, _)| matches(entry, word, stem))
            .map(|(_, w)| w)
    }
}

/// Whether the words (lower-cased, in order) contain `phrase`, its words separated by
/// single spaces, as consecutive words.
pub fn has_phrase(words: &[Word], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(wanted.len())
        .any(|window| window.iter().zip(&wanted).all(|(w, p)| w.lower == *p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{NEGATIVE, POSITIVE};

    /// The index answers exactly what a scan of the whole list answers.
    #[test]
    fn index_agrees_with_a_scan() {
        let scan = |list: &[(&str, f32)], word: &str, stem: &str| {
            list.iter()
                .find(|(e, _)| matches(e, word, stem))
                .map(|(_, w)| *w)
        };
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::Russian);
        let mut words: Vec<String> = POSITIVE
            .iter()
            .chain(NEGATIVE)
            .flat_map(|(e, _)| [e.to_string(), format!("{e}ами"), format!("{e}ой")])
            .collect();
        words.extend(["", "x", "abc", "злак", "спасибо", "ужас", "ёлка"].map(String::from));
        for list in [POSITIVE, NEGATIVE] {
            let index = WeightIndex::new(list);
            for word in &words {
                let stem = stemmer.stem(word);
                assert_eq!(index.weight(word, &stem), scan(list, word, &stem), "{word}");
            }
        }
    }

    #[test]
    fn phrases_match_whole_consecutive_words() {
        let words = crate::text::analyse("Ответа нет до сих пор. Сколько можно?").words;
        assert!(has_phrase(&words, "до сих пор"));
        assert!(has_phrase(&words, "сколько можно"));
        assert!(!has_phrase(&words, "сих пор сколько можно ждать"));
        assert!(!has_phrase(&words, "нет сих пор"));
        assert!(!has_phrase(&words, "до си"), "whole words only");
    }
}
