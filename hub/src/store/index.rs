//! Listing indexes: which messages are in a state, came from a channel or a source, or
//! carry a topic, without reading every record.
//!
//! One tree, `index`, with a key per (record, fact): a kind byte (`s` state, `c`
//! channel, `o` source, `t` topic code), the value, a NUL, the message id; no value.
//! Ids sort in arrival order, so each (kind, value) is a range in arrival order; a topic
//! prefix covers several codes, whose ranges are merged.
//!
//! A record's entries change with the record, around its compare-and-swap (see
//! [`crate::store::Store`]): the entries the new record adds are written before it, so
//! that a stop leaves no record missing from the index, and those it drops are removed
//! after, then put back if the record has them again by then (a concurrent update that
//! went back to that state). An entry can so outlive its fact (after a stop, or when a
//! compare-and-swap lost), never the reverse; a listing reads each record it finds and
//! checks it, and skips those whose entry is stale.

use std::collections::BinaryHeap;

use crate::store::Record;

pub const STATE: u8 = b's';
pub const CHANNEL: u8 = b'c';
pub const SOURCE: u8 = b'o';
pub const TOPIC: u8 = b't';

/// The start of the keys of one (kind, value).
pub fn group(kind: u8, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(value.len() + 2);
    key.push(kind);
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

fn entry(kind: u8, value: &str, id: &str) -> Vec<u8> {
    let mut key = group(kind, value);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The index entries of a record.
pub fn entries(record: &Record) -> Vec<Vec<u8>> {
    let id = &record.message.id;
    let mut out = vec![
        entry(STATE, record.state.as_str(), id),
        entry(CHANNEL, record.message.channel.as_str(), id),
        entry(SOURCE, &record.message.source, id),
    ];
    if let Some(topic) = record
        .classification
        .as_ref()
        .and_then(|c| c.topic.as_ref())
    {
        out.push(entry(TOPIC, &topic.best.code, id));
    }
    out
}

/// The ids of group `group` (from [`group`]) after `after`, in arrival order.
pub fn ids_in(
    tree: &sled::Tree,
    group: Vec<u8>,
    after: &str,
) -> impl Iterator<Item = sled::Result<String>> {
    let mut from = group.clone();
    from.extend_from_slice(after.as_bytes());
    // The smallest key after `group · after`.
    from.push(0);
    let skip = group.len();
    tree.range(from..)
        .keys()
        .take_while(move |k| k.as_ref().map_or(true, |k| k.starts_with(&group)))
        .map(move |k| k.map(|k| String::from_utf8_lossy(&k[skip..]).into_owned()))
}

/// The ids whose `kind` value starts with `prefix`, after `after`, in arrival order: the
/// groups under the prefix, found by seeking from one to the next, merged by id.
pub fn ids_with_prefix(
    tree: &sled::Tree,
    kind: u8,
    prefix: &str,
    after: &str,
) -> sled::Result<Box<dyn Iterator<Item = sled::Result<String>>>> {
    let mut start = vec![kind];
    start.extend_from_slice(prefix.as_bytes());
    let mut groups = Vec::new();
    let mut seek = start.clone();
    while let Some((key, _)) = tree.range(seek.clone()..).next().transpose()? {
        if !key.starts_with(&start) {
            break;
        }
        let Some(nul) = key.iter().position(|b| *b == 0) else {
            break;
        };
        groups.push(key[..=nul].to_vec());
        // Past every key of this group: its NUL raised to 1.
        seek = key[..nul].to_vec();
        seek.push(1);
    }
    if groups.len() == 1 {
        return Ok(Box::new(ids_in(tree, groups.remove(0), after)));
    }
    Ok(Box::new(Merged::new(
        groups
            .into_iter()
            .map(|g| Box::new(ids_in(tree, g, after)) as Box<dyn Iterator<Item = _>>)
            .collect(),
    )))
}

type Ids = Box<dyn Iterator<Item = sled::Result<String>>>;

/// Several id iterators, each in order, merged into one in order.
struct Merged {
    sources: Vec<Ids>,
    /// The next id of each source, smallest first.
    heads: BinaryHeap<std::cmp::Reverse<(String, usize)>>,
    error: Option<sled::Error>,
}

impl Merged {
    fn new(mut sources: Vec<Ids>) -> Merged {
        let mut heads = BinaryHeap::new();
        let mut error = None;
        for (n, source) in sources.iter_mut().enumerate() {
            match source.next() {
                Some(Ok(id)) => heads.push(std::cmp::Reverse((id, n))),
                Some(Err(e)) => error = Some(e),
                None => {}
            }
        }
        Merged {
            sources,
            heads,
            error,
        }
    }
}

impl Iterator for Merged {
    type Item = sled::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let std::cmp::Reverse((id, n)) = self.heads.pop()?;
        match self.sources[n].next() {
            Some(Ok(next)) => self.heads.push(std::cmp::Reverse((next, n))),
            Some(Err(e)) => self.error = Some(e),
            None => {}
        }
        Some(Ok(id))
    }
}
