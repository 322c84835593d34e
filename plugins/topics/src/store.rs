//! The examples the hub keeps in this plugin's kv, and the derived index that spares
//! re-reading and re-stemming them on every call.
//!
//! The hub writes each example under `okno.corrections/<key>` as JSON
//! `{"code": "...", "text": "..."}`: an official's correction of message ID under
//! `ID.N` (ids are lower-case hex, time-ordered), an imported line under `import-…`.
//! `list-keys` answers in key order, so officials' corrections come before any import.
//!
//! **The index.** For each example key, the example's entry and its capped unit vector
//! (see [`crate::examples`]), in key order, cut into shards of [`SHARD_EXAMPLES`]: shard 0
//! under [`INDEX_KEY`], shard N under `topics.index.N`. A shard of the largest entries
//! stays well inside the hub's 1 MiB limit on one kv value, whatever the number of
//! examples.
//!
//! **A call.** When the hub changes the examples it writes a new random value under
//! [`REVISION_KEY`]; the index's head ([`HEAD_KEY`]) keeps the value it was completed
//! at. A call reads both, and if they agree it reads the shards and nothing else. Else
//! it lists the first [`MAX_EXAMPLES`] keys: vanished keys are dropped, and new keys are
//! read, parsed and vectorised in key order (corrections first), at most
//! [`INDEX_BATCH`] of them or [`INDEX_BYTES`] of their values per call, so that a call
//! stays far inside its CPU limit however many examples arrive at once; the rest wait
//! for later calls. Only the shards from the first changed entry on are rewritten: an
//! import indexed in key order appends, and rewrites the last shard. The call classifies
//! with the examples indexed so far, those of this call included. The head is written
//! once every listed key is indexed, with the revision read at the start of that call:
//! a change the listing may have missed has a newer revision. Without a revision (a kv
//! filled some other way, as `okno eval` does) every call lists.
//!
//! **Why a cap.** A call reads the whole index, since each call is a fresh instance; its
//! cost grows with the number of examples. At [`MAX_EXAMPLES`] a call in the sandbox
//! still costs a small part of the default 100 ms CPU limit (see README, *Classification*).
//! Past the cap, imports are left out first; corrections past it (after years of them)
//! would be the newest ones, since their keys are in time order.
//!
//! An example is identified by its key: a correction that changes the code of an earlier
//! one must come under a new key (or the old key must be deleted first), since the plugin
//! does not re-read a key it has indexed. A write of a shard that fails (the kv quota),
//! or a call cut short between two shard writes, leaves shards of two generations; every
//! entry in them is still right for its key, so the next call that finds the index
//! unlike the listing merges what it finds, in key order, and rewrites it.

use okno_sdk::kv;

use crate::examples::{Example, PreparedExample};
use crate::table;
use crate::text::Tokenizer;

pub const CORRECTIONS_PREFIX: &str = "okno.corrections/";
/// The first shard of the index; shard N > 0 is under `topics.index.N`.
pub const INDEX_KEY: &str = "topics.index";
/// Written by the hub, a new value on each change of the examples.
pub const REVISION_KEY: &str = "okno.corrections.revision";
/// The index's head: the revision it is complete at, and its shards.
pub const HEAD_KEY: &str = "topics.index.head";
/// Examples beyond this (in key order) are not read: every call reads the whole index,
/// and beyond it a call would grow slow.
pub const MAX_EXAMPLES: u32 = 5_000;
/// Entries per shard. An entry takes at most 2 + [`MAX_KEY_BYTES`] + 4 + 6 ×
/// [`crate::examples::MAX_TERMS`] = 550 bytes, so a shard stays under 600 KB.
pub const SHARD_EXAMPLES: usize = 1024;
/// Longer keys are not the hub's (its longest is about 140 bytes) and are ignored.
pub const MAX_KEY_BYTES: usize = 256;
/// New examples a call indexes at most.
pub const INDEX_BATCH: usize = 50;
/// Bytes of new examples' values a call reads at most (it reads at least one example).
pub const INDEX_BYTES: usize = 32 << 10;
/// Of a longer text, only this much (cut at a character) is vectorised: the wording of
/// an appeal's topic comes early, and the cost of stemming grows with the length.
pub const MAX_TEXT_BYTES: usize = 32 << 10;
/// Bumped whenever the vector format or the classifier index changes, so that a stale
/// index is rebuilt rather than misread.
const FORMAT: u32 = 2;

/// The key of shard `n`.
pub fn shard_key(n: usize) -> String {
    if n == 0 {
        INDEX_KEY.to_string()
    } else {
        format!("{INDEX_KEY}.{n}")
    }
}

/// Reads the examples from kv, indexing a bounded number of new ones and storing the
/// index when it changed. kv failures leave the plugin working from the table alone, or
/// with what it could read: a classification without examples is still a classification.
pub fn load_examples() -> Vec<PreparedExample> {
    // An unreadable revision only costs a listing.
    let revision = kv::get(REVISION_KEY).ok().flatten();
    if let Some(revision) = &revision {
        if let Some(examples) = read_complete(revision) {
            return examples;
        }
    }
    let mut keys = match kv::list_keys(CORRECTIONS_PREFIX, MAX_EXAMPLES) {
        Ok(keys) => keys,
        Err(e) => {
            okno_sdk::log::warn(&format!(
                "topics: cannot list corrections, using the table only: {e:?}"
            ));
            return Vec::new();
        }
    };
    keys.retain(|k| k.len() <= MAX_KEY_BYTES);
    let shards = read_shards();
    let mut stored: Vec<(&str, Option<PreparedExample>)> = Vec::new();
    // The shards up to the last one holding an entry: the head names as many.
    let mut holding = 0;
    for (n, shard) in shards.iter().enumerate() {
        // A damaged shard, or one from another build, counts as absent: its examples are
        // indexed again.
        if let Some(entries) = decode_borrowed(shard) {
            if !entries.is_empty() {
                holding = n + 1;
            }
            stored.extend(entries);
        }
    }
    let unchanged = stored.len() == keys.len()
        && stored
            .iter()
            .zip(&keys)
            .all(|((stored, _), listed)| *stored == listed.as_str());
    if unchanged {
        if let Some(revision) = &revision {
            write_head(revision, holding);
        }
        return stored.into_iter().filter_map(|(_, p)| p).collect();
    }
    refresh(&keys, stored, shards.len(), revision.as_deref())
}

/// The examples of an index completed at `revision`; `None` if the head is absent, of
/// another revision or build, or a shard does not read back.
fn read_complete(revision: &[u8]) -> Option<Vec<PreparedExample>> {
    let head = kv::get(HEAD_KEY).ok()??;
    let mut r = Reader {
        bytes: &head,
        at: 0,
    };
    if r.u32()? != fingerprint() {
        return None;
    }
    let shards = r.u32()? as usize;
    if r.take(head.len() - r.at)? != revision {
        return None;
    }
    let mut examples = Vec::new();
    for n in 0..shards {
        let shard = kv::get(&shard_key(n)).ok()??;
        examples.extend(decode_borrowed(&shard)?.into_iter().filter_map(|(_, p)| p));
    }
    Some(examples)
}

/// Records that the index, in `shards` shards, holds every listed key at `revision`.
fn write_head(revision: &[u8], shards: usize) {
    let mut head = Vec::with_capacity(8 + revision.len());
    head.extend_from_slice(&fingerprint().to_le_bytes());
    head.extend_from_slice(&(shards as u32).to_le_bytes());
    head.extend_from_slice(revision);
    if kv::get(HEAD_KEY).ok().flatten().as_deref() == Some(head.as_slice()) {
        return;
    }
    if let Err(e) = kv::set(HEAD_KEY, &head) {
        okno_sdk::log::warn(&format!(
            "topics: cannot store {HEAD_KEY}, the next call lists the examples again: {e:?}"
        ));
    }
}

/// Forgets the head: the index is being changed, or is not complete.
fn clear_head() {
    if let Err(e) = kv::delete(HEAD_KEY) {
        okno_sdk::log::warn(&format!("topics: cannot delete {HEAD_KEY}: {e:?}"));
    }
}

/// The stored shards, in order, up to the first missing one.
fn read_shards() -> Vec<Vec<u8>> {
    let mut shards = Vec::new();
    loop {
        match kv::get(&shard_key(shards.len())) {
            Ok(Some(bytes)) => shards.push(bytes),
            Ok(None) => return shards,
            Err(e) => {
                okno_sdk::log::warn(&format!(
                    "topics: cannot read shard {} of the index, indexing again from there: {e:?}",
                    shards.len()
                ));
                return shards;
            }
        }
    }
}

/// How much a call may still index.
struct Budget {
    examples: usize,
    bytes: usize,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            examples: 0,
            bytes: 0,
        }
    }

    /// At least one example a call, so that indexing always moves on.
    fn left(&self) -> bool {
        self.examples == 0 || (self.examples < INDEX_BATCH && self.bytes < INDEX_BYTES)
    }
}

/// Brings the index up to the listed keys as far as this call's budget goes, stores the
/// shards that changed, and returns the examples indexed.
fn refresh(
    keys: &[String],
    mut stored: Vec<(&str, Option<PreparedExample>)>,
    stored_shards: usize,
    revision: Option<&[u8]>,
) -> Vec<PreparedExample> {
    // Shards of two generations may repeat or disorder keys; the first copy of a key is
    // as good as any.
    let mut first_change = None;
    if !stored.windows(2).all(|w| w[0].0 < w[1].0) {
        stored.sort_by(|a, b| a.0.cmp(b.0));
        stored.dedup_by(|later, earlier| later.0 == earlier.0);
        first_change = Some(0);
    }
    let tokenizer = Tokenizer::new();
    let mut budget = Budget::new();
    let mut skipped = 0usize;
    let mut waiting = 0usize;
    let mut index: Vec<(&str, Option<PreparedExample>)> = Vec::with_capacity(keys.len());
    let mut old = stored.into_iter().peekable();
    for key in keys {
        while old.next_if(|(k, _)| *k < key.as_str()).is_some() {
            first_change.get_or_insert(index.len());
        }
        if let Some((_, prepared)) = old.next_if(|(k, _)| *k == key.as_str()) {
            index.push((key.as_str(), prepared));
            continue;
        }
        if !budget.left() {
            waiting += 1;
            continue;
        }
        let value = match kv::get(key) {
            Ok(Some(value)) => value,
            // Deleted since it was listed.
            Ok(None) => continue,
            Err(e) => {
                okno_sdk::log::warn(&format!(
                    "topics: cannot read a correction, trying again next call: {e:?}"
                ));
                waiting += 1;
                continue;
            }
        };
        budget.examples += 1;
        budget.bytes += value.len();
        let prepared = parse_example(&value).and_then(|mut example| {
            cut_text(&mut example.text);
            PreparedExample::new(&tokenizer, &example)
        });
        if prepared.is_none() {
            skipped += 1;
        }
        first_change.get_or_insert(index.len());
        index.push((key.as_str(), prepared));
    }
    if old.next().is_some() {
        first_change.get_or_insert(index.len());
    }
    if skipped > 0 {
        okno_sdk::log::warn(&format!(
            "topics: {skipped} correction(s) under {CORRECTIONS_PREFIX} skipped: not JSON {{\"code\", \"text\"}}, \
             no words, or a code that is not a level-4/5 entry of the classifier"
        ));
    }
    if waiting > 0 {
        okno_sdk::log::debug(&format!(
            "topics: indexed {} new example(s), {waiting} left for later calls",
            budget.examples
        ));
    }
    let shards = index.len().div_ceil(SHARD_EXAMPLES);
    let stored_all = match first_change {
        Some(first) => {
            // The head goes first: an index half rewritten is not complete at any revision.
            clear_head();
            store(&index, first, stored_shards)
        }
        None => true,
    };
    if let (Some(revision), true, 0) = (revision, stored_all, waiting) {
        write_head(revision, shards);
    }
    index.into_iter().filter_map(|(_, p)| p).collect()
}

/// Writes the shards from the one holding entry `first` on, and deletes shards beyond
/// the new last one. False if a shard could not be written.
fn store(index: &[(&str, Option<PreparedExample>)], first: usize, stored_shards: usize) -> bool {
    let shards = index.len().div_ceil(SHARD_EXAMPLES);
    for n in first / SHARD_EXAMPLES..shards {
        let entries = &index[n * SHARD_EXAMPLES..index.len().min((n + 1) * SHARD_EXAMPLES)];
        let bytes = encode_entries(entries.iter().map(|(k, p)| (*k, p)), entries.len());
        if let Err(e) = kv::set(&shard_key(n), &bytes) {
            // Later shards are not written either: the stored ones stay a prefix.
            okno_sdk::log::warn(&format!(
                "topics: cannot store shard {n} of the index, it will be redone next call: {e:?}"
            ));
            return false;
        }
    }
    for n in shards..stored_shards {
        if let Err(e) = kv::delete(&shard_key(n)) {
            okno_sdk::log::warn(&format!(
                "topics: cannot delete shard {n} of the index: {e:?}"
            ));
            return false;
        }
    }
    true
}

/// Cuts `text` to at most [`MAX_TEXT_BYTES`], at a character boundary.
fn cut_text(text: &mut String) {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
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

/// One shard. Layout (little-endian): fingerprint u32, count u32, then per example: key
/// length u16, key bytes, entry u16 (`u16::MAX`: the key holds no usable example), term
/// count u16, then per term: stem hash u32, weight u16 (weight × 65535).
pub fn encode(index: &[(String, Option<PreparedExample>)]) -> Vec<u8> {
    encode_entries(index.iter().map(|(k, p)| (k.as_str(), p)), index.len())
}

fn encode_entries<'a>(
    entries: impl Iterator<Item = (&'a str, &'a Option<PreparedExample>)>,
    count: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + count * 64);
    out.extend_from_slice(&fingerprint().to_le_bytes());
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for (key, prepared) in entries {
        // Keys longer than MAX_KEY_BYTES never reach the index.
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
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

/// Reads a shard written by [`encode`]; `None` if it is damaged or from another build.
pub fn decode(bytes: &[u8]) -> Option<Vec<(String, Option<PreparedExample>)>> {
    Some(
        decode_borrowed(bytes)?
            .into_iter()
            .map(|(k, p)| (k.to_string(), p))
            .collect(),
    )
}

/// [`decode`] with the keys left in `bytes`: a call compares them and copies none.
fn decode_borrowed(bytes: &[u8]) -> Option<Vec<(&str, Option<PreparedExample>)>> {
    let mut r = Reader { bytes, at: 0 };
    if r.u32()? != fingerprint() {
        return None;
    }
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(SHARD_EXAMPLES));
    for _ in 0..count {
        let len = r.u16()? as usize;
        let key = std::str::from_utf8(r.take(len)?).ok()?;
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
