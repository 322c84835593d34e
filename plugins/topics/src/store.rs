//! The examples the hub keeps in this plugin's kv, and the derived index that spares
//! re-reading and re-stemming them on every call.
//!
//! The hub writes each example under `okno.corrections/<id>` as JSON
//! `{"code": "...", "text": "..."}`. The plugin keeps `topics.index`: for each example
//! key, the example's entry and its capped unit vector (see [`crate::examples`]). On a
//! call it lists the keys; keys the index knows are taken from it, new keys are read,
//! parsed and vectorised, vanished keys are dropped, and the index is rewritten only if
//! the set changed. So a call costs one `list-keys` and one `get` when nothing changed.
//!
//! An example is identified by its key: a correction that changes the code of an earlier
//! one must come under a new key (or the old key must be deleted first), since the plugin
//! does not re-read a key it has indexed.

use std::collections::HashMap;

use okno_sdk::kv;

use crate::examples::{Example, PreparedExample};
use crate::table;
use crate::text::Tokenizer;

pub const CORRECTIONS_PREFIX: &str = "okno.corrections/";
pub const INDEX_KEY: &str = "topics.index";
/// More examples than this are not read: beyond it the vote gains little and the call
/// would grow slow.
pub const MAX_EXAMPLES: u32 = 20_000;
/// Bumped whenever the vector format or the classifier index changes, so that a stale
/// index is rebuilt rather than misread.
const FORMAT: u32 = 1;

/// Reads the examples from kv, refreshing the stored index when the set changed.
/// kv failures leave the plugin working from the table alone: a classification without
/// examples is still a classification.
pub fn load_examples() -> Vec<PreparedExample> {
    let keys = match kv::list_keys(CORRECTIONS_PREFIX, MAX_EXAMPLES) {
        Ok(keys) => keys,
        Err(e) => {
            okno_sdk::log::warn(&format!(
                "topics: cannot list corrections, using the table only: {e:?}"
            ));
            return Vec::new();
        }
    };
    let stored = match kv::get(INDEX_KEY) {
        Ok(Some(bytes)) => decode(&bytes).unwrap_or_default(),
        Ok(None) => Vec::new(),
        Err(e) => {
            okno_sdk::log::warn(&format!(
                "topics: cannot read {INDEX_KEY}, rebuilding it: {e:?}"
            ));
            Vec::new()
        }
    };
    let mut known: HashMap<String, Option<PreparedExample>> = stored.into_iter().collect();
    let unchanged = known.len() == keys.len() && keys.iter().all(|k| known.contains_key(k));
    if unchanged {
        return keys
            .iter()
            .filter_map(|k| known.remove(k).flatten())
            .collect();
    }

    let tokenizer = Tokenizer::new();
    let mut skipped = 0usize;
    let mut index: Vec<(String, Option<PreparedExample>)> = Vec::with_capacity(keys.len());
    for key in keys {
        let prepared = match known.remove(&key) {
            Some(p) => p,
            None => {
                let p = read_example(&key).and_then(|e| PreparedExample::new(&tokenizer, &e));
                if p.is_none() {
                    skipped += 1;
                }
                p
            }
        };
        index.push((key, prepared));
    }
    if skipped > 0 {
        okno_sdk::log::warn(&format!(
            "topics: {skipped} correction(s) under {CORRECTIONS_PREFIX} skipped: not JSON {{\"code\", \"text\"}}, \
             no words, or a code that is not a level-4/5 entry of the classifier"
        ));
    }
    if let Err(e) = kv::set(INDEX_KEY, &encode(&index)) {
        okno_sdk::log::warn(&format!(
            "topics: cannot store {INDEX_KEY}, it will be rebuilt next call: {e:?}"
        ));
    }
    index.into_iter().filter_map(|(_, p)| p).collect()
}

fn read_example(key: &str) -> Option<Example> {
    let bytes = kv::get(key).ok()??;
    parse_example(&bytes)
}

/// Parses a correction's JSON value; `None` if it is not `{"code": str, "text": str}`.
pub fn parse_example(bytes: &[u8]) -> Option<Example> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(Example {
        code: value.get("code")?.as_str()?.to_string(),
        text: value.get("text")?.as_str()?.to_string(),
    })
}

/// The index's fingerprint of the compiled classifier, so that a plugin built from a
/// different table or vocabulary rebuilds the index.
fn fingerprint() -> u32 {
    FORMAT
        ^ (table::TERMS.len() as u32).rotate_left(8)
        ^ (table::POSTINGS.len() as u32).rotate_left(20)
}

/// Layout (little-endian): fingerprint u32, count u32, then per example: key length u16,
/// key bytes, entry u16 (`u16::MAX`: the key holds no usable example), term count u16,
/// then per term: stem hash u32, weight u16 (weight × 65535).
pub fn encode(index: &[(String, Option<PreparedExample>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&fingerprint().to_le_bytes());
    out.extend_from_slice(&(index.len() as u32).to_le_bytes());
    for (key, prepared) in index {
        let key = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key);
        match prepared {
            None => {
                out.extend_from_slice(&u16::MAX.to_le_bytes());
                out.extend_from_slice(&0u16.to_le_bytes());
            }
            Some(p) => {
                out.extend_from_slice(&(p.entry as u16).to_le_bytes());
                out.extend_from_slice(&(p.vector.len() as u16).to_le_bytes());
                for (h, w) in &p.vector {
                    out.extend_from_slice(&h.to_le_bytes());
                    out.extend_from_slice(
                        &((w.clamp(0.0, 1.0) * 65535.0).round() as u16).to_le_bytes(),
                    );
                }
            }
        }
    }
    out
}

/// Reads an index written by [`encode`]; `None` if it is damaged or from another build.
pub fn decode(bytes: &[u8]) -> Option<Vec<(String, Option<PreparedExample>)>> {
    let mut r = Reader { bytes, at: 0 };
    if r.u32()? != fingerprint() {
        return None;
    }
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(MAX_EXAMPLES as usize));
    for _ in 0..count {
        let len = r.u16()? as usize;
        let key = std::str::from_utf8(r.take(len)?).ok()?.to_string();
        let entry = r.u16()?;
        let terms = r.u16()? as usize;
        let mut vector = Vec::with_capacity(terms);
        for _ in 0..terms {
            let h = r.u32()?;
            let w = f32::from(r.u16()?) / 65535.0;
            vector.push((h, w));
        }
        let prepared = if entry == u16::MAX || entry as usize >= table::ENTRIES.len() {
            None
        } else {
            Some(PreparedExample {
                entry: entry as usize,
                vector,
            })
        };
        out.push((key, prepared));
    }
    (r.at == bytes.len()).then_some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}
