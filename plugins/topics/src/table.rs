//! The official classifier, compiled into a search index by `build.rs`.

use std::borrow::Cow;

/// The classifier as published; codes and names are read out of it by byte range.
pub static CSV: &str = include_str!("../../../wit/classifier.csv");

/// One classifier entry: byte ranges of its code and name within [`CSV`].
pub struct Entry {
    code: (u32, u32),
    name: (u32, u32),
    /// The name is a quoted CSV field, with `""` standing for one quote.
    quoted: bool,
    pub level: u8,
    /// Index into [`ENTRIES`]; `u16::MAX` for a раздел.
    parent: u16,
}

/// A stem of the index: its IDF and its range in [`POSTINGS`].
pub struct Term {
    pub hash: u32,
    pub idf: f32,
    pub start: u32,
    pub end: u32,
}

include!(concat!(env!("OUT_DIR"), "/index.rs"));

impl Entry {
    pub fn code(&self) -> &'static str {
        CSV.get(self.code.0 as usize..self.code.1 as usize)
            .unwrap_or("")
    }

    pub fn name(&self) -> Cow<'static, str> {
        let raw = CSV
            .get(self.name.0 as usize..self.name.1 as usize)
            .unwrap_or("");
        if self.quoted {
            Cow::Owned(raw.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(raw)
        }
    }

    pub fn parent(&self) -> Option<usize> {
        (self.parent != u16::MAX).then_some(self.parent as usize)
    }
}

pub fn entry(index: usize) -> &'static Entry {
    &ENTRIES[index]
}

/// The entry with this full code. Codes are sorted in the table only within a parent, so
/// this is a scan; it runs a handful of times per call.
pub fn find(code: &str) -> Option<usize> {
    ENTRIES.iter().position(|e| e.code() == code)
}

/// The ancestor of `index` at `level` (1 раздел … 4 вопрос), or the entry itself.
pub fn ancestor_at(mut index: usize, level: u8) -> usize {
    while ENTRIES[index].level > level {
        match ENTRIES[index].parent() {
            Some(p) => index = p,
            None => break,
        }
    }
    index
}

pub fn term(hash: u32) -> Option<&'static Term> {
    let low = (hash & 0xffff) as usize;
    if TERM_FILTER[low / 64] & (1 << (low % 64)) == 0 {
        return None;
    }
    TERMS
        .binary_search_by_key(&hash, |t| t.hash)
        .ok()
        .map(|i| &TERMS[i])
}

/// `(entry, weight)` pairs of a term.
pub fn postings(term: &Term) -> impl Iterator<Item = (usize, f32)> {
    POSTINGS[term.start as usize..term.end as usize]
        .iter()
        .map(|&(e, w)| (e as usize, f32::from(w) / 65535.0 * POSTING_SCALE))
}

/// The entry's own stems (its name and cues, without its parents').
pub fn own_terms(index: usize) -> &'static [u32] {
    let (s, e) = OWN_RANGES[index];
    &OWN_TERMS[s as usize..e as usize]
}

pub fn synonyms(hash: u32) -> &'static [u32] {
    SYNONYMS
        .binary_search_by_key(&hash, |(k, _)| *k)
        .map(|i| SYNONYMS[i].1)
        .unwrap_or(&[])
}

/// The level-5 entries under a вопрос.
pub fn children(index: usize) -> impl Iterator<Item = usize> {
    // Children follow their parent directly in the published order.
    ENTRIES
        .iter()
        .enumerate()
        .skip(index + 1)
        .take_while(move |(_, e)| e.level > ENTRIES[index].level)
        .filter(move |(_, e)| e.parent() == Some(index))
        .map(|(i, _)| i)
}
