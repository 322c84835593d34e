//! The embedded store (sled): the journal of messages and their traces, the idempotency
//! index, the work queue, the per-sink outbox, dead letters and the plugins' kv.
//!
//! Trees:
//! - `messages`: id → [`Record`] (JSON compressed with zstd, see [`encoding`]): the
//!   message and everything that happened to it.
//! - `idempotency-sha256`: SHA-256 of `source \0 key` → id (see [`keys`]; the
//!   `idempotency` tree of earlier versions, keyed by `source \0 key` as sent, is moved
//!   into it when the store opens).
//! - `pending`: id → (): accepted, not yet routed. Read back at start-up.
//! - `outbox`: `due_at (8 bytes BE) · id \0 sink` → [`OutboxEntry`]: deliveries to make.
//! - `dead`: `id \0 sink-or-stage` → [`DeadLetter`].
//! - `corrections`: `id \0 number (8 bytes BE)` → [`Correction`]: every correction of
//!   a message, where its record keeps the latest few.
//! - `index`: listing indexes by state, channel, source and topic (see [`index`]).
//! - `kv:PLUGIN`: that plugin's kv.

pub mod blobs;
mod durability;
pub mod encoding;
mod index;
pub mod keys;
mod records;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;

pub use durability::{is_disk_full, reexec, Durability, StorageUnavailable, Ticket};
pub use records::*;

use crate::model::Message;
use crate::runtime::kv::PluginKv;

/// Most outbox keys one `due` call looks at: bounds the work when the sinks with room have
/// nothing due behind a long backlog of a saturated sink.
const MAX_OUTBOX_SCAN: usize = 4096;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    messages: sled::Tree,
    idempotency: sled::Tree,
    pending: sled::Tree,
    outbox: sled::Tree,
    dead: sled::Tree,
    corrections: sled::Tree,
    index: sled::Tree,
    pub durability: Arc<Durability>,
    /// Attachments and raw inbound bytes, by SHA-256 (`DATA_DIR/blobs`).
    pub blobs: Arc<blobs::Blobs>,
    /// Messages in the journal. sled's `len` scans the whole tree, too slow for every
    /// `/metrics` scrape, so the count is taken once at open and kept up to date.
    stored: Arc<std::sync::atomic::AtomicUsize>,
    /// Entries of `pending`, `outbox` and `dead`, kept like `stored`: counted when an
    /// insert finds no entry before it, or a removal finds one.
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    pending: AtomicUsize,
    outbox: AtomicUsize,
    dead: AtomicUsize,
}

/// Inserts into `tree`, counting a new key in `count`.
fn insert_counted(
    tree: &sled::Tree,
    count: &AtomicUsize,
    key: impl AsRef<[u8]>,
    value: impl Into<sled::IVec>,
) -> sled::Result<()> {
    if tree.insert(key, value)?.is_none() {
        count.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Removes from `tree`, counting a key that was there in `count`.
fn remove_counted(
    tree: &sled::Tree,
    count: &AtomicUsize,
    key: impl AsRef<[u8]>,
) -> sled::Result<Option<sled::IVec>> {
    let removed = tree.remove(key)?;
    if removed.is_some() {
        count.fetch_sub(1, Ordering::Relaxed);
    }
    Ok(removed)
}

/// What ingest did with one decoded message.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub id: String,
    /// True when the idempotency key was seen before: `id` is the first message's.
    pub duplicate: bool,
}

fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).with_context(|| format!("the store holds an unreadable {what}"))
}

/// Hands out the due entries of `entries` into `out` (see [`Store::due`]); returns the
/// key of the last one handed out.
fn scan_due(
    entries: sled::Iter,
    now: i64,
    free: &mut HashMap<String, usize>,
    in_flight: &HashSet<Vec<u8>>,
    out: &mut Vec<OutboxEntry>,
) -> anyhow::Result<Option<Vec<u8>>> {
    let mut last_key = None;
    for item in entries.take(MAX_OUTBOX_SCAN) {
        if !has_room(free) {
            break;
        }
        let (key, value) = item?;
        let due = u64::from_be_bytes(key[..8].try_into().unwrap_or([0; 8])) as i64;
        if due > now {
            break;
        }
        // The key holds id and sink: decide from it alone, without parsing the entry.
        let delivery = &key[8..];
        if in_flight.contains(delivery) {
            continue;
        }
        if let Some(sink) = delivery
            .iter()
            .position(|b| *b == 0)
            .and_then(|nul| std::str::from_utf8(&delivery[nul + 1..]).ok())
        {
            match free.get_mut(sink) {
                Some(0) => continue,
                Some(n) => *n -= 1,
                None => {}
            }
        }
        out.push(from_json(&value, "outbox entry")?);
        last_key = Some(key.to_vec());
    }
    Ok(last_key)
}

/// Whether some sink can start a delivery (a sink missing from `free` always can).
fn has_room(free: &HashMap<String, usize>) -> bool {
    free.is_empty() || free.values().any(|n| *n > 0)
}

/// Bounds what a source sends as references to other mails: the idempotency key and
/// the thread's reference are kept by the rule of [`keys::bounded_key`].
fn bound_references(message: &mut Message) {
    for reference in [
        &mut message.idempotency_key,
        &mut message.thread.in_reply_to,
        &mut message.thread.repeat_of,
    ]
    .into_iter()
    .flatten()
    {
        if let std::borrow::Cow::Owned(kept) = keys::bounded_key(reference) {
            *reference = kept;
        }
    }
}

/// Moves the entries of the `idempotency` tree of earlier versions (`source \0 key` as
/// sent) into `idempotency` keyed as [`keys::index_key`] says, then drops it. Each entry
/// is written before it is removed, so a stop midway is finished at the next open.
fn migrate_idempotency(db: &sled::Db, into: &sled::Tree) -> anyhow::Result<()> {
    if !db.tree_names().iter().any(|n| n == b"idempotency") {
        return Ok(());
    }
    let old = db.open_tree("idempotency")?;
    let mut moved = 0usize;
    for item in old.iter() {
        let (key, id) = item?;
        if let Some(nul) = key.iter().position(|b| *b == 0) {
            let source = String::from_utf8_lossy(&key[..nul]);
            let sent = String::from_utf8_lossy(&key[nul + 1..]);
            into.insert(keys::index_key(&source, &keys::bounded_key(&sent)), id)?;
        }
        old.remove(&key)?;
        moved += 1;
    }
    into.flush()?;
    db.drop_tree("idempotency")?;
    if moved > 0 {
        tracing::info!(
            entries = moved,
            "idempotency index moved to keys of bounded length"
        );
    }
    Ok(())
}

/// The `index` tree's key that says its entries are complete.
const INDEX_BUILT: &[u8] = b"\xffbuilt";

/// The listing index, built from the records when the store was written by a version
/// without it (or a build was cut short: entries are written again, and the marker last).
fn open_index(messages: &sled::Tree, index: sled::Tree) -> anyhow::Result<sled::Tree> {
    if index.contains_key(INDEX_BUILT)? {
        return Ok(index);
    }
    let mut indexed = 0usize;
    for item in messages.iter() {
        let (_, bytes) = item?;
        let record: Record = encoding::decode(&bytes)?;
        for entry in index::entries(&record) {
            index.insert(entry, &[])?;
        }
        indexed += 1;
    }
    index.insert(INDEX_BUILT, &[])?;
    if indexed > 0 {
        tracing::info!(messages = indexed, "listing index built");
    }
    Ok(index)
}

/// What a listing asks for; `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub state: Option<State>,
    pub channel: Option<crate::model::Channel>,
    /// A prefix of the topic code.
    pub topic: Option<String>,
    /// Received at or after, ms since the epoch.
    pub since: Option<i64>,
}

impl ListFilter {
    pub fn matches(&self, record: &Record) -> bool {
        self.state.is_none_or(|s| record.state == s)
            && self.channel.is_none_or(|c| record.message.channel == c)
            && self.since.is_none_or(|t| record.message.received_at >= t)
            && self.topic.as_deref().is_none_or(|t| {
                record
                    .classification
                    .as_ref()
                    .and_then(|c| c.topic.as_ref())
                    .is_some_and(|topic| topic.best.code.starts_with(t))
            })
    }
}

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

/// See [`Store::get_for_update`].
pub struct ReadRecord {
    pub record: Record,
    bytes: sled::IVec,
}

impl Store {
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(32 << 20)
            .open()
            .with_context(|| {
                format!(
                    "opening the store in {} (is another hub using it?)",
                    dir.display()
                )
            })?;
        let open = |name: &str| {
            db.open_tree(name)
                .with_context(|| format!("opening tree {name}"))
        };
        let messages = open("messages")?;
        let idempotency = open("idempotency-sha256")?;
        migrate_idempotency(&db, &idempotency)?;
        let (pending, outbox, dead) = (open("pending")?, open("outbox")?, open("dead")?);
        let counts = Arc::new(Counts {
            pending: AtomicUsize::new(pending.len()),
            outbox: AtomicUsize::new(outbox.len()),
            dead: AtomicUsize::new(dead.len()),
        });
        Ok(Store {
            counts,
            idempotency,
            pending,
            outbox,
            dead,
            corrections: open("corrections")?,
            index: open_index(&messages, open("index")?)?,
            durability: Arc::new(Durability::new(durability::SledFiles::open(
                db.clone(),
                &dir.join("db"),
            )?)),
            stored: Arc::new(std::sync::atomic::AtomicUsize::new(messages.len())),
            blobs: Arc::new(blobs::Blobs::open(&dir.join("blobs"))?),
            messages,
            db,
        })
    }

    /// A new id: time-ordered (ms since epoch) and unique across restarts (sled's
    /// persistent counter).
    pub fn new_id(&self, now: i64) -> anyhow::Result<String> {
        Ok(format!(
            "{:012x}{:08x}",
            now,
            self.db.generate_id()? & 0xffff_ffff
        ))
    }

    /// Journals decoded messages, each under a new id unless its idempotency key was seen.
    /// Durable only after `durability.wait()`.
    ///
    /// A message and its `pending` entry are written before its idempotency entry, so
    /// that a crash in between (sled recovers a prefix of its log) leaves a message
    /// without its key, which [`Store::reconcile_pending`] indexes at start-up, and never
    /// a key that points at nothing. A key that points at nothing all the same (a store
    /// written before this order) counts as absent. Not a sled transaction: the first one
    /// makes every sled operation take a lock that a transaction holds exclusively and
    /// that every flush holds shared, so reads and writes would queue behind flushes.
    pub fn accept(
        &self,
        source: &str,
        messages: Vec<Message>,
        now: i64,
        trace: &[TraceEntry],
    ) -> anyhow::Result<Vec<Accepted>> {
        let mut out = Vec::with_capacity(messages.len());
        for mut message in messages {
            message.id = self.new_id(now)?;
            message.source = source.to_string();
            message.received_at = now;
            bound_references(&mut message);
            let id = message.id.clone();
            let key = message.idempotency_key.clone();
            let mut record = Record::accepted(message);
            record.trace.extend_from_slice(trace);
            if self.swap_record(&id, None, &[], &record)?.is_none() {
                anyhow::bail!("message id {id} is taken: the store's id counter went back");
            }
            self.stored
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            insert_counted(&self.pending, &self.counts.pending, id.as_bytes(), &[])?;
            let first = match key {
                Some(key) => self.claim_key(&keys::index_key(source, &key), &id)?,
                None => None,
            };
            match first {
                None => out.push(Accepted {
                    id,
                    duplicate: false,
                }),
                Some(first) => {
                    // Never acknowledged and never queued: it goes as if it never came.
                    remove_counted(&self.pending, &self.counts.pending, id.as_bytes())?;
                    self.remove_message(&id)?;
                    out.push(Accepted {
                        id: first,
                        duplicate: true,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Points the idempotency key at `id` unless it points at a message already; returns
    /// that message's id. compare_and_swap makes concurrent ingests of one key agree on
    /// one id.
    fn claim_key(&self, index_key: &[u8], id: &str) -> anyhow::Result<Option<String>> {
        let mut expected: Option<sled::IVec> = None;
        loop {
            match self.idempotency.compare_and_swap(
                index_key,
                expected.as_ref(),
                Some(id.as_bytes()),
            )? {
                Ok(()) => return Ok(None),
                Err(conflict) => {
                    let Some(current) = conflict.current else {
                        expected = None;
                        continue;
                    };
                    if current == id.as_bytes() {
                        return Ok(None);
                    }
                    if self.messages.contains_key(&current)? {
                        return Ok(Some(String::from_utf8_lossy(&current).into_owned()));
                    }
                    // A key left pointing at nothing: taken over, as if absent.
                    expected = Some(current);
                }
            }
        }
    }

    fn remove_message(&self, id: &str) -> anyhow::Result<()> {
        if let Some(bytes) = self.messages.remove(id.as_bytes())? {
            self.stored
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let record: Record = encoding::decode(&bytes)?;
            for entry in index::entries(&record) {
                self.index.remove(entry)?;
            }
        }
        Ok(())
    }

    /// Writes `new` as message `id` if the stored bytes are still `expected` (`None`:
    /// absent), and keeps the index (see [`index`]): the entries it adds to `old` (those
    /// of the record read) are written before and again after the compare-and-swap, those
    /// it drops are removed after it and put back if the record has them again by then.
    /// Returns the bytes written, or `None` if the record changed since it was read.
    fn swap_record(
        &self,
        id: &str,
        expected: Option<&sled::IVec>,
        old: &[Vec<u8>],
        new: &Record,
    ) -> anyhow::Result<Option<sled::IVec>> {
        let entries = index::entries(new);
        let added: Vec<&Vec<u8>> = entries.iter().filter(|e| !old.contains(e)).collect();
        for entry in &added {
            self.index.insert(entry.as_slice(), &[])?;
        }
        let bytes = sled::IVec::from(encoding::encode(new)?);
        if self
            .messages
            .compare_and_swap(id.as_bytes(), expected, Some(bytes.clone()))?
            .is_err()
        {
            return Ok(None);
        }
        // Again: a concurrent update that dropped them may have removed them meanwhile.
        for entry in &added {
            self.index.insert(entry.as_slice(), &[])?;
        }
        let dropped: Vec<&Vec<u8>> = old.iter().filter(|e| !entries.contains(e)).collect();
        if !dropped.is_empty() {
            for entry in &dropped {
                self.index.remove(entry.as_slice())?;
            }
            if let Some(current) = self.messages.get(id.as_bytes())? {
                if current != bytes {
                    let now = index::entries(&encoding::decode(&current)?);
                    for entry in dropped.into_iter().filter(|e| now.contains(e)) {
                        self.index.insert(entry.as_slice(), &[])?;
                    }
                }
            }
        }
        Ok(Some(bytes))
    }

    /// Makes what a crash during [`Store::accept`] left consistent; run at start-up,
    /// before the pending messages are queued. A pending message whose idempotency key
    /// does not point at it yet gets the key, unless the key points at another message:
    /// then it lost a concurrent ingest of that key before the crash, was never
    /// acknowledged, and is removed. Returns how many were removed.
    pub fn reconcile_pending(&self) -> anyhow::Result<usize> {
        let mut removed = 0;
        for id in self.pending_ids()? {
            let Some(record) = self.get(&id)? else {
                continue;
            };
            let Some(key) = &record.message.idempotency_key else {
                continue;
            };
            if record.state != State::Accepted {
                continue;
            }
            if self
                .claim_key(
                    &keys::index_key(&record.message.source, &keys::bounded_key(key)),
                    &id,
                )?
                .is_some()
            {
                remove_counted(&self.pending, &self.counts.pending, id.as_bytes())?;
                self.remove_message(&id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// A tree of the store's database for a module's own records (the SLA engine's
    /// appeals and timers), flushed and made durable with everything else.
    pub fn tree(&self, name: &str) -> anyhow::Result<sled::Tree> {
        self.db
            .open_tree(name)
            .with_context(|| format!("opening tree {name}"))
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<Record>> {
        self.messages
            .get(id.as_bytes())?
            .map(|v| encoding::decode(&v))
            .transpose()
    }

    /// A record with the stored bytes it was parsed from, for [`Store::update_read`].
    pub fn get_for_update(&self, id: &str) -> anyhow::Result<Option<ReadRecord>> {
        self.messages
            .get(id.as_bytes())?
            .map(|bytes| {
                Ok(ReadRecord {
                    record: encoding::decode(&bytes)?,
                    bytes,
                })
            })
            .transpose()
    }

    /// Like [`Store::update`], starting from a record already read: when nothing changed
    /// it since, this writes without reading and parsing it again (every delivery does).
    pub fn update_read(
        &self,
        read: ReadRecord,
        mut change: impl FnMut(&mut Record),
    ) -> anyhow::Result<Option<Record>> {
        let ReadRecord { mut record, bytes } = read;
        let old = index::entries(&record);
        change(&mut record);
        let id = record.message.id.clone();
        if self
            .swap_record(&id, Some(&bytes), &old, &record)?
            .is_some()
        {
            return Ok(Some(record));
        }
        self.update(&id, change)
    }

    /// Applies `change` to a record atomically with respect to other updates of it.
    pub fn update(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Record),
    ) -> anyhow::Result<Option<Record>> {
        self.update_if(id, |r| {
            change(r);
            true
        })
    }

    /// Like [`Store::update`], for a change that depends on the record as it is when it
    /// is written: `change` returns false to leave the record as it was (nothing is
    /// written, and the result is `None`, as for a missing record).
    pub fn update_if(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Record) -> bool,
    ) -> anyhow::Result<Option<Record>> {
        loop {
            let Some(current) = self.messages.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut record: Record = encoding::decode(&current)?;
            let old = index::entries(&record);
            if !change(&mut record) {
                return Ok(None);
            }
            if self
                .swap_record(id, Some(&current), &old, &record)?
                .is_some()
            {
                return Ok(Some(record));
            }
        }
    }

    pub fn pending_ids(&self) -> anyhow::Result<Vec<String>> {
        self.pending
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    pub fn mark_pending(&self, id: &str) -> anyhow::Result<()> {
        insert_counted(&self.pending, &self.counts.pending, id.as_bytes(), &[])?;
        Ok(())
    }

    pub fn done_pending(&self, id: &str) -> anyhow::Result<()> {
        remove_counted(&self.pending, &self.counts.pending, id.as_bytes())?;
        Ok(())
    }

    pub fn pending_len(&self) -> usize {
        self.counts.pending.load(Ordering::Relaxed)
    }

    fn outbox_key(due_at: i64, id: &str, sink: &str) -> Vec<u8> {
        let mut k = (due_at.max(0) as u64).to_be_bytes().to_vec();
        k.extend_from_slice(&Self::delivery_key(id, sink));
        k
    }

    /// One delivery (a message to one sink), as the outbox key spells it after the due
    /// time: what the delivery loop's in-flight set holds, so that `due` can look an
    /// entry up by its key without allocating.
    pub fn delivery_key(id: &str, sink: &str) -> Vec<u8> {
        key2(id, sink)
    }

    pub fn schedule(&self, entry: &OutboxEntry) -> anyhow::Result<()> {
        insert_counted(
            &self.outbox,
            &self.counts.outbox,
            Self::outbox_key(entry.due_at, &entry.id, &entry.sink),
            json(entry)?,
        )?;
        Ok(())
    }

    /// Outbox entries due by `now`, oldest first, at most `free[sink]` of each sink (the
    /// deliveries it can start now); `free` is taken down by what is returned. They stay
    /// in the outbox until `finish_delivery` or `schedule` replaces them, so a crash
    /// mid-delivery delivers again.
    ///
    /// The delivery loop asks after every finished delivery, so with a backlog this must
    /// not read what it cannot start: deliveries in flight, and those of a sink with
    /// nothing free, are passed over by their key without parsing the entry, and the scan
    /// ends once no sink has room. A sink missing from `free` (no longer configured) gets
    /// the due entries the scan passes, for the loop to dead-letter.
    ///
    /// `resume` is the caller's memory of where the last call stopped handing out
    /// entries. The scan starts there, since under load the outbox's oldest entries are
    /// the deliveries in flight, and only when a sink still has room does it go on from
    /// the start up to that point (to entries a full sink passed over, or new ones that
    /// sort before it). `None` scans from the start.
    pub fn due(
        &self,
        now: i64,
        free: &mut HashMap<String, usize>,
        in_flight: &HashSet<Vec<u8>>,
        resume: &mut Option<Vec<u8>>,
    ) -> anyhow::Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        let last_key = match resume.as_deref() {
            Some(from) => {
                let later = scan_due(self.outbox.range(from..), now, free, in_flight, &mut out)?;
                let earlier = if has_room(free) {
                    scan_due(self.outbox.range(..from), now, free, in_flight, &mut out)?
                } else {
                    None
                };
                later.or(earlier)
            }
            None => scan_due(self.outbox.iter(), now, free, in_flight, &mut out)?,
        };
        if let Some(mut key) = last_key {
            // The smallest key after it.
            key.push(0);
            *resume = Some(key);
        }
        Ok(out)
    }

    /// Whether the outbox holds a delivery of message `id` to `sink`, at any time. It reads
    /// the whole outbox: for recovery after a crash, not for every message.
    pub fn in_outbox(&self, id: &str, sink: &str) -> anyhow::Result<bool> {
        let delivery = Self::delivery_key(id, sink);
        for key in self.outbox.iter().keys() {
            if key?.get(8..) == Some(delivery.as_slice()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes a delivery from the outbox (done, or dead-lettered).
    pub fn finish_delivery(&self, entry: &OutboxEntry) -> anyhow::Result<()> {
        remove_counted(
            &self.outbox,
            &self.counts.outbox,
            Self::outbox_key(entry.due_at, &entry.id, &entry.sink),
        )?;
        Ok(())
    }

    /// Moves a delivery to a later time.
    pub fn reschedule(&self, old: &OutboxEntry, new: &OutboxEntry) -> anyhow::Result<()> {
        self.schedule(new)?;
        self.finish_delivery(old)
    }

    pub fn outbox_len(&self) -> usize {
        self.counts.outbox.load(Ordering::Relaxed)
    }

    pub fn add_dead_letter(&self, dead: &DeadLetter) -> anyhow::Result<()> {
        insert_counted(
            &self.dead,
            &self.counts.dead,
            key2(&dead.id, &dead.target),
            json(dead)?,
        )?;
        Ok(())
    }

    pub fn dead_letters(&self, limit: usize) -> anyhow::Result<Vec<DeadLetter>> {
        self.dead
            .iter()
            .values()
            .take(limit)
            .map(|v| from_json(&v?, "dead letter"))
            .collect()
    }

    pub fn dead_letter_count(&self) -> usize {
        self.counts.dead.load(Ordering::Relaxed)
    }

    /// The dead letters of a message, left in place.
    pub fn dead_letters_of(&self, id: &str) -> anyhow::Result<Vec<DeadLetter>> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        self.dead
            .scan_prefix(&prefix)
            .values()
            .map(|v| from_json(&v?, "dead letter"))
            .collect()
    }

    /// Removes one dead letter (replayed).
    pub fn remove_dead_letter(&self, id: &str, target: &str) -> anyhow::Result<()> {
        remove_counted(&self.dead, &self.counts.dead, key2(id, target))?;
        Ok(())
    }

    /// The first step of a replay of message `id`'s delivery to `sink`: the message is
    /// marked pending before its record says `routed` with that delivery pending again,
    /// so that a crash before the outbox entry is written leaves a pending routed message,
    /// whose missing deliveries start-up schedules. Returns the record as written.
    pub fn reopen_delivery(
        &self,
        id: &str,
        sink: &str,
        trace: TraceEntry,
    ) -> anyhow::Result<Option<Record>> {
        self.mark_pending(id)?;
        self.update(id, |r| {
            if let Some(d) = r.deliveries.get_mut(sink) {
                d.state = DeliveryState::Pending;
                d.attempts = 0;
            }
            r.state = State::Routed;
            r.trace.push(trace.clone());
        })
    }

    /// The first step of a replay of a failed pipeline step of message `id`: marked
    /// pending, then `accepted` again, so that start-up runs it through the pipeline if
    /// the hub stops before the worker does.
    pub fn reopen_stage(&self, id: &str, trace: TraceEntry) -> anyhow::Result<Option<Record>> {
        self.mark_pending(id)?;
        self.update(id, |r| {
            r.state = State::Accepted;
            r.trace.push(trace.clone());
        })
    }

    /// The deliveries of a routed record that are pending and have no outbox entry: what a
    /// stop between a record's write and its outbox entries left. Reads the whole outbox.
    pub fn unscheduled_deliveries(&self, record: &Record) -> anyhow::Result<Vec<String>> {
        let id = &record.message.id;
        let mut missing = Vec::new();
        for (sink, delivery) in &record.deliveries {
            if delivery.state == DeliveryState::Pending && !self.in_outbox(id, sink)? {
                missing.push(sink.clone());
            }
        }
        Ok(missing)
    }

    /// Removes and returns the dead letters of a message, for discarding.
    pub fn take_dead_letters(&self, id: &str) -> anyhow::Result<Vec<DeadLetter>> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.dead.scan_prefix(&prefix) {
            let (key, value) = item?;
            if remove_counted(&self.dead, &self.counts.dead, &key)?.is_none() {
                // Taken by a concurrent call meanwhile.
                continue;
            }
            out.push(from_json(&value, "dead letter")?);
        }
        Ok(out)
    }

    /// Keeps correction number `number` of message `id` (the record keeps only the
    /// latest few; see [`Record::add_correction`]).
    pub fn save_correction(
        &self,
        id: &str,
        number: u64,
        correction: &Correction,
    ) -> anyhow::Result<()> {
        let mut key = id.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(&number.to_be_bytes());
        self.corrections.insert(key, json(correction)?)?;
        Ok(())
    }

    /// Message `id`'s corrections, oldest first, with their numbers: at most `limit`,
    /// starting after number `after`.
    pub fn corrections(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> anyhow::Result<Vec<(u64, Correction)>> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        let mut from = prefix.clone();
        from.extend_from_slice(&after.saturating_add(1).to_be_bytes());
        self.corrections
            .range(from..)
            .take_while(|item| item.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                let number = u64::from_be_bytes(key[prefix.len()..].try_into().unwrap_or([0; 8]));
                Ok((number, from_json(&value, "correction")?))
            })
            .collect()
    }

    /// The records that match `filter`, in id (= arrival) order, after `cursor`. Reads
    /// through an index when the filter names a state, a topic or a channel (see
    /// [`index`]), and from the first id received at `since`; each record found is
    /// checked against the whole filter.
    pub fn list(
        &self,
        filter: ListFilter,
        cursor: Option<&str>,
    ) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Record>> + '_>> {
        // Ids begin with the ms of arrival in 12 hex digits: every id received at
        // `since` or later sorts after this.
        let since = filter.since.map(|t| format!("{:012x}", t.max(0)));
        let after = match (cursor, since.as_deref()) {
            (Some(c), Some(s)) => Some(c.max(s)),
            (c, s) => c.or(s),
        }
        .unwrap_or("")
        .to_string();
        let ids: Option<Box<dyn Iterator<Item = sled::Result<String>>>> =
            match (&filter.state, &filter.topic, &filter.channel) {
                // Most messages end delivered: a topic narrows that state down better.
                (Some(state), topic, _) if *state != State::Delivered || topic.is_none() => {
                    Some(Box::new(index::ids_in(
                        &self.index,
                        index::group(index::STATE, state.as_str()),
                        &after,
                    )))
                }
                (_, Some(topic), _) => Some(index::ids_with_prefix(
                    &self.index,
                    index::TOPIC,
                    topic,
                    &after,
                )?),
                (_, _, Some(channel)) => Some(Box::new(index::ids_in(
                    &self.index,
                    index::group(index::CHANNEL, channel.as_str()),
                    &after,
                ))),
                _ => None,
            };
        let records: Box<dyn Iterator<Item = anyhow::Result<Record>> + '_> = match ids {
            Some(ids) => Box::new(ids.filter_map(move |id| {
                // An entry whose record is gone (compacted after a stop) is stale.
                let id = match id {
                    Ok(id) => id,
                    Err(e) => return Some(Err(e.into())),
                };
                self.get(&id).transpose()
            })),
            None => Box::new(
                self.scan_messages(Some(&after).filter(|a| !a.is_empty()).map(|a| a.as_str())),
            ),
        };
        Ok(Box::new(records.filter(move |r| {
            r.as_ref().map_or(true, |r| filter.matches(r))
        })))
    }

    /// Records in id (= arrival) order, starting after `cursor`.
    pub fn scan_messages(
        &self,
        after: Option<&str>,
    ) -> impl Iterator<Item = anyhow::Result<Record>> + '_ {
        let iter = match after {
            Some(cursor) => self.messages.range::<&[u8], _>((
                std::ops::Bound::Excluded(cursor.as_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => self.messages.iter(),
        };
        iter.values().map(|v| encoding::decode(&v?))
    }

    pub fn message_count(&self) -> usize {
        self.stored.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// The plugin's kv, holding at most `quota_bytes` (see [`crate::runtime::kv`]).
    pub fn plugin_kv(&self, plugin: &str, quota_bytes: u64) -> anyhow::Result<Arc<dyn PluginKv>> {
        let tree = self.db.open_tree(format!("kv:{plugin}"))?;
        Ok(Arc::new(crate::runtime::kv::SledKv::open(
            tree,
            quota_bytes,
        )?))
    }

    /// Removes finished messages (delivered or dead-lettered and not pending) received
    /// before `cutoff`, with their idempotency entries. Returns how many.
    pub fn compact(&self, cutoff: i64) -> anyhow::Result<usize> {
        let mut removed = 0;
        for item in self.messages.iter() {
            let (id, bytes) = item?;
            let record: Record = encoding::decode(&bytes)?;
            if record.message.received_at >= cutoff {
                break; // ids are in arrival order
            }
            if !record.state.is_finished() || self.pending.contains_key(&id)? {
                continue;
            }
            // Only as read: a replay since makes it unfinished again.
            if self
                .messages
                .compare_and_swap(&id, Some(&bytes), None as Option<&[u8]>)?
                .is_err()
            {
                continue;
            }
            self.stored
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            for entry in index::entries(&record) {
                self.index.remove(entry)?;
            }
            let mut prefix = id.to_vec();
            prefix.push(0);
            for key in self.corrections.scan_prefix(&prefix).keys() {
                self.corrections.remove(key?)?;
            }
            if let Some(key) = &record.message.idempotency_key {
                // Only if it is still this message's: a key left behind is absent anyway.
                let _ = self.idempotency.compare_and_swap(
                    keys::index_key(&record.message.source, &keys::bounded_key(key)),
                    Some(id.as_ref()),
                    None as Option<&[u8]>,
                )?;
            }
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;

    fn temp_store(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("okno-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Store::open(&dir).expect("store"), dir)
    }

    fn message(key: &str) -> Message {
        let mut m: Message =
            serde_json::from_value(serde_json::json!({"channel": Channel::Mail, "body": "текст"}))
                .unwrap();
        m.idempotency_key = Some(key.into());
        m
    }

    #[test]
    fn an_update_from_a_stale_read_keeps_the_change_made_since() {
        let (store, dir) = temp_store("update-read");
        let id = store
            .accept("mail", vec![message("a")], 1_000, &[])
            .unwrap()[0]
            .id
            .clone();
        let read = store.get_for_update(&id).unwrap().unwrap();
        // Another sink's delivery writes in between.
        store
            .update(&id, |r| r.routes.push("first".into()))
            .unwrap();
        let written = store
            .update_read(read, |r| r.routes.push("second".into()))
            .unwrap()
            .unwrap();
        assert_eq!(written.routes, ["first", "second"]);
        assert_eq!(store.get(&id).unwrap().unwrap().routes, ["first", "second"]);
        // Unchanged since the read: written as read plus the change.
        let read = store.get_for_update(&id).unwrap().unwrap();
        store
            .update_read(read, |r| r.routes.push("third".into()))
            .unwrap();
        assert_eq!(
            store.get(&id).unwrap().unwrap().routes,
            ["first", "second", "third"]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A first delivery attempt of message `id` to `sink`.
    fn outbox_entry(id: &str, sink: &str, due_at: i64) -> OutboxEntry {
        OutboxEntry {
            id: id.into(),
            sink: sink.into(),
            attempts: 0,
            due_at,
            errors: vec![],
        }
    }

    #[test]
    fn a_stop_between_a_replayed_record_and_its_outbox_entry_leaves_it_pending() {
        let (store, dir) = temp_store("replay-window");
        let id = store
            .accept("mail", vec![message("a")], 1_000, &[])
            .unwrap()[0]
            .id
            .clone();
        store.done_pending(&id).unwrap();
        // Routed to one sink, whose delivery failed for good.
        store
            .update(&id, |r| {
                r.state = State::Failed;
                r.deliveries.insert(
                    "registry".into(),
                    Delivery {
                        state: DeliveryState::Dead,
                        attempts: 5,
                        last_error: Some("refused".into()),
                        delivered_at: None,
                    },
                );
            })
            .unwrap();
        let dead = DeadLetter {
            id: id.clone(),
            target: "sink:registry".into(),
            reason: "refused".into(),
            attempts: vec![],
            at: 2_000,
        };
        store.add_dead_letter(&dead).unwrap();
        assert!(store.pending_ids().unwrap().is_empty());

        // The replay's first step, then the hub stops before the outbox entry.
        let trace = crate::pipeline::trace_entry("replay", "replayed");
        store.reopen_delivery(&id, "registry", trace).unwrap();
        drop(store);

        let store = Store::open(&dir).unwrap();
        // Start-up finds it pending and routed, with the delivery to schedule, and the
        // dead letter still there until the replay is written.
        assert_eq!(store.pending_ids().unwrap(), std::slice::from_ref(&id));
        let record = store.get(&id).unwrap().unwrap();
        assert_eq!(record.state, State::Routed);
        assert_eq!(record.deliveries["registry"].state, DeliveryState::Pending);
        assert_eq!(store.unscheduled_deliveries(&record).unwrap(), ["registry"]);
        assert_eq!(store.dead_letters_of(&id).unwrap().len(), 1);
        // Once scheduled, nothing is missing.
        store
            .schedule(&outbox_entry(&id, "registry", 3_000))
            .unwrap();
        assert!(store.unscheduled_deliveries(&record).unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn set_topic(store: &Store, id: &str, code: &str, state: State) {
        store
            .update(id, |r| {
                r.state = state;
                r.classification = Some(crate::model::Classification {
                    topic: Some(crate::model::TopicAssignment {
                        best: crate::model::Topic {
                            code: code.into(),
                            name: String::new(),
                            confidence: 1.0,
                        },
                        alternatives: vec![],
                        low_confidence: false,
                        reasons: vec![],
                    }),
                    ..Default::default()
                });
            })
            .unwrap();
    }

    fn listed(store: &Store, filter: ListFilter, cursor: Option<&str>) -> Vec<String> {
        store
            .list(filter, cursor)
            .unwrap()
            .map(|r| r.unwrap().message.id)
            .collect()
    }

    #[test]
    fn listings_read_the_index_and_follow_every_change() {
        let (store, dir) = temp_store("index");
        let ids: Vec<String> = (0..9)
            .map(|n| {
                store
                    .accept("mail", vec![message(&format!("k{n}"))], 1_000 + n, &[])
                    .unwrap()
                    .remove(0)
                    .id
            })
            .collect();
        let codes = [
            "0003.0009.0097.0699",
            "0003.0008.0001.0001",
            "0005.0005.0056.1161",
        ];
        for (n, id) in ids.iter().enumerate() {
            let state = if n % 3 == 0 {
                State::Failed
            } else {
                State::Delivered
            };
            set_topic(&store, id, codes[n % 3], state);
        }
        let by_state = |state| ListFilter {
            state: Some(state),
            ..Default::default()
        };
        let by_topic = |topic: &str| ListFilter {
            topic: Some(topic.into()),
            ..Default::default()
        };
        assert_eq!(
            listed(&store, by_state(State::Failed), None),
            [ids[0].clone(), ids[3].clone(), ids[6].clone()]
        );
        assert!(listed(&store, by_state(State::Accepted), None).is_empty());
        // A prefix over two codes: merged in arrival order.
        let both: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(n, _)| n % 3 != 2)
            .map(|(_, id)| id.clone())
            .collect();
        assert_eq!(listed(&store, by_topic("0003"), None), both);
        assert_eq!(listed(&store, by_topic("0003.000"), None), both);
        assert_eq!(listed(&store, by_topic("0003"), Some(&ids[3])), both[3..]);
        assert_eq!(
            listed(&store, by_topic("0005.0005.0056.1161"), None),
            [ids[2].clone(), ids[5].clone(), ids[8].clone()]
        );
        let both_filters = ListFilter {
            state: Some(State::Delivered),
            topic: Some("0003".into()),
            ..Default::default()
        };
        assert_eq!(
            listed(&store, both_filters, None),
            [ids[1].clone(), ids[4].clone(), ids[7].clone()]
        );
        let since = ListFilter {
            since: Some(1_006),
            ..Default::default()
        };
        assert_eq!(listed(&store, since, None), ids[6..]);

        // A replay moves one back: it leaves the failed listing and joins the routed one.
        store
            .reopen_delivery(&ids[3], "s", crate::pipeline::trace_entry("replay", "r"))
            .unwrap();
        assert_eq!(
            listed(&store, by_state(State::Failed), None),
            [ids[0].clone(), ids[6].clone()]
        );
        assert_eq!(
            listed(&store, by_state(State::Routed), None),
            [ids[3].clone()]
        );
        // A stale entry (a stop between an added entry and a lost swap) is skipped.
        store
            .index
            .insert(
                index::group(index::STATE, "accepted")
                    .into_iter()
                    .chain(ids[1].bytes())
                    .collect::<Vec<u8>>(),
                &[],
            )
            .unwrap();
        assert!(listed(&store, by_state(State::Accepted), None).is_empty());

        // A store without the index (an earlier version's) gets it when opened.
        store.index.clear().unwrap();
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(
            listed(&store, by_state(State::Failed), None),
            [ids[0].clone(), ids[6].clone()]
        );
        assert_eq!(listed(&store, by_topic("0003"), None), both);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_gauges_counts_follow_every_write_and_survive_a_reopen() {
        let (store, dir) = temp_store("counts");
        let counts = |s: &Store| {
            let counted = (s.pending_len(), s.outbox_len(), s.dead_letter_count());
            assert_eq!(counted, (s.pending.len(), s.outbox.len(), s.dead.len()));
            counted
        };
        let accepted = store
            .accept(
                "mail",
                vec![message("a"), message("b"), message("a")],
                1_000,
                &[],
            )
            .unwrap();
        assert_eq!(counts(&store), (2, 0, 0));
        store.mark_pending(&accepted[0].id).unwrap();
        store.done_pending(&accepted[1].id).unwrap();
        store.done_pending(&accepted[1].id).unwrap();
        let first = outbox_entry(&accepted[0].id, "s", 100);
        store.schedule(&first).unwrap();
        store.schedule(&first).unwrap();
        let later = outbox_entry(&accepted[0].id, "s", 200);
        store.reschedule(&first, &later).unwrap();
        assert_eq!(counts(&store), (1, 1, 0));
        for target in ["sink:s", "sink:t", "sink:s"] {
            store
                .add_dead_letter(&DeadLetter {
                    id: accepted[0].id.clone(),
                    target: target.into(),
                    reason: "refused".into(),
                    attempts: vec![],
                    at: 300,
                })
                .unwrap();
        }
        assert_eq!(counts(&store), (1, 1, 2));
        store.remove_dead_letter(&accepted[0].id, "sink:t").unwrap();
        store.finish_delivery(&later).unwrap();
        assert_eq!(counts(&store), (1, 0, 1));
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(counts(&store), (1, 0, 1));
        assert_eq!(store.take_dead_letters(&accepted[0].id).unwrap().len(), 1);
        assert_eq!(counts(&store), (1, 0, 0));
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn compaction_removes_finished_messages_older_than_the_cutoff_only() {
        let (store, dir) = temp_store("compact");
        let old = store
            .accept("mail", vec![message("a"), message("b")], 1_000, &[])
            .unwrap();
        let new = store
            .accept("mail", vec![message("c")], 5_000, &[])
            .unwrap();
        for a in old.iter().chain(&new) {
            store.done_pending(&a.id).unwrap();
        }
        // "a" and "c" finished; "b" is still being delivered.
        store
            .update(&old[0].id, |r| r.state = State::Delivered)
            .unwrap();
        store
            .update(&old[1].id, |r| r.state = State::Routed)
            .unwrap();
        store
            .update(&new[0].id, |r| r.state = State::Delivered)
            .unwrap();

        assert_eq!(store.compact(2_000).unwrap(), 1);
        assert!(store.get(&old[0].id).unwrap().is_none());
        assert!(
            store.get(&old[1].id).unwrap().is_some(),
            "unfinished messages are kept"
        );
        assert!(
            store.get(&new[0].id).unwrap().is_some(),
            "newer messages are kept"
        );
        // The compacted message's idempotency key is free again; the others' are not.
        assert!(
            !store
                .accept("mail", vec![message("a")], 6_000, &[])
                .unwrap()[0]
                .duplicate
        );
        assert!(
            store
                .accept("mail", vec![message("b")], 6_000, &[])
                .unwrap()[0]
                .duplicate
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_outbox_returns_no_more_than_each_sink_can_start() {
        let (store, dir) = temp_store("outbox-free");
        for (i, sink) in ["a", "b", "a", "gone", "a", "b"].iter().enumerate() {
            store
                .schedule(&outbox_entry(&format!("m{i}"), sink, 100 + i as i64))
                .unwrap();
        }
        let due = |a: usize| -> Vec<String> {
            let mut free = HashMap::from([("a".to_string(), a), ("b".to_string(), 0)]);
            store
                .due(500, &mut free, &HashSet::new(), &mut None)
                .unwrap()
                .into_iter()
                .map(|e| format!("{}:{}", e.id, e.sink))
                .collect()
        };
        // b has no room; a sink no longer configured ("gone") gets its entries.
        assert_eq!(due(3), ["m0:a", "m2:a", "m3:gone", "m4:a"]);
        // Once no configured sink has room, the scan stops: oldest first, all sinks.
        assert_eq!(due(2), ["m0:a", "m2:a"]);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_resumed_scan_starts_after_what_it_handed_out_and_still_finds_what_it_passed() {
        let (store, dir) = temp_store("outbox-resume");
        for (i, sink) in ["a", "b", "a", "a"].iter().enumerate() {
            store
                .schedule(&outbox_entry(&format!("m{i}"), sink, 100 + i as i64))
                .unwrap();
        }
        let mut resume = None;
        let mut in_flight = HashSet::new();
        let mut due = |free: &[(&str, usize)], in_flight: &HashSet<Vec<u8>>| -> Vec<String> {
            let mut free = free.iter().map(|(s, n)| (s.to_string(), *n)).collect();
            store
                .due(500, &mut free, in_flight, &mut resume)
                .unwrap()
                .into_iter()
                .map(|e| format!("{}:{}", e.id, e.sink))
                .collect()
        };
        // b is full: m1 is passed over.
        assert_eq!(due(&[("a", 2), ("b", 0)], &in_flight), ["m0:a", "m2:a"]);
        in_flight.extend([
            Store::delivery_key("m0", "a"),
            Store::delivery_key("m2", "a"),
        ]);
        // The next scan starts after m2, and finds m1 before it once b has room.
        assert_eq!(due(&[("a", 1), ("b", 1)], &in_flight), ["m3:a", "m1:b"]);
        in_flight.extend([
            Store::delivery_key("m3", "a"),
            Store::delivery_key("m1", "b"),
        ]);
        // A new delivery that sorts before where the scan resumes is found too.
        store.schedule(&outbox_entry("m9", "a", 50)).unwrap();
        assert_eq!(due(&[("a", 5), ("b", 5)], &in_flight), ["m9:a"]);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_outbox_returns_due_deliveries_in_time_order_and_skips_those_in_flight() {
        let (store, dir) = temp_store("outbox");
        let entry = |id: &str, due_at| outbox_entry(id, "s", due_at);
        store.schedule(&entry("late", 300)).unwrap();
        store.schedule(&entry("early", 100)).unwrap();
        store.schedule(&entry("future", 10_000)).unwrap();
        let due_ids = |in_flight: &HashSet<Vec<u8>>| -> Vec<String> {
            store
                .due(
                    500,
                    &mut HashMap::from([("s".to_string(), 10)]),
                    in_flight,
                    &mut None,
                )
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(due_ids(&HashSet::new()), vec!["early", "late"]);
        let in_flight = HashSet::from([Store::delivery_key("early", "s")]);
        assert_eq!(due_ids(&in_flight), vec!["late"]);
        store
            .reschedule(&entry("late", 300), &entry("late", 20_000))
            .unwrap();
        store.finish_delivery(&entry("early", 100)).unwrap();
        assert!(due_ids(&HashSet::new()).is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_crash_between_a_message_and_its_key_leaves_the_message_which_gets_the_key_back() {
        let (store, dir) = temp_store("crash-window");
        // What `accept` has written when the hub dies before the idempotency entry: the
        // message and its pending entry (sled recovers a prefix of its log, and the key
        // comes last, so the reverse cannot be left).
        let mut m = message("k1");
        m.id = store.new_id(1_000).unwrap();
        m.source = "mail".into();
        let id = m.id.clone();
        store
            .messages
            .insert(id.as_bytes(), json(&Record::accepted(m)).unwrap())
            .unwrap();
        store.mark_pending(&id).unwrap();
        drop(store);

        let store = Store::open(&dir).unwrap();
        assert_eq!(store.reconcile_pending().unwrap(), 0);
        // The sender never got its 202 and sends again: the same message, not a second.
        let again = store
            .accept("mail", vec![message("k1")], 2_000, &[])
            .unwrap();
        assert!(again[0].duplicate);
        assert_eq!(again[0].id, id);
        assert_eq!(store.pending_ids().unwrap(), [id]);
        assert_eq!(store.messages.len(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_five_megabyte_key_is_kept_bounded_and_still_finds_its_message() {
        let (store, dir) = temp_store("long-key");
        let long = format!("{}@example.ru", "x".repeat(5 << 20));
        let mut m = message(&long);
        m.thread.in_reply_to = Some(long.clone());
        let first = store.accept("mail", vec![m], 1_000, &[]).unwrap().remove(0);
        assert!(!first.duplicate);
        let record = store.get(&first.id).unwrap().unwrap();
        let kept = record.message.idempotency_key.clone().unwrap();
        assert!(kept.len() <= keys::MAX_KEY_BYTES, "{}", kept.len());
        assert!(kept.starts_with("xxxx"));
        assert!(record.message.thread.in_reply_to.unwrap().len() <= keys::MAX_KEY_BYTES);
        assert!(
            store
                .messages
                .get(first.id.as_bytes())
                .unwrap()
                .unwrap()
                .len()
                < 4096
        );
        // The same key again: the first message. One byte more: another.
        let again = store
            .accept("mail", vec![message(&long)], 2_000, &[])
            .unwrap();
        assert!(again[0].duplicate);
        assert_eq!(again[0].id, first.id);
        let other = store
            .accept("mail", vec![message(&format!("{long}!"))], 3_000, &[])
            .unwrap();
        assert!(!other[0].duplicate);
        for (key, _) in store.idempotency.iter().flatten() {
            assert_eq!(key.len(), 32);
        }
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_index_of_an_earlier_version_is_moved_at_open() {
        let (store, dir) = temp_store("migrate-keys");
        let id = store
            .accept("mail", vec![message("k1")], 1_000, &[])
            .unwrap()
            .remove(0)
            .id;
        // As an earlier version kept it: `source \0 key` in the `idempotency` tree.
        store.idempotency.clear().unwrap();
        let old = store.db.open_tree("idempotency").unwrap();
        old.insert(key2("mail", "k1"), id.as_bytes()).unwrap();
        drop((old, store));

        let store = Store::open(&dir).unwrap();
        assert!(!store.db.tree_names().iter().any(|n| n == b"idempotency"));
        let again = store
            .accept("mail", vec![message("k1")], 2_000, &[])
            .unwrap();
        assert!(again[0].duplicate);
        assert_eq!(again[0].id, id);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_record_an_earlier_version_wrote_as_json_is_read_listed_and_kept_compressed_once_changed() {
        let (store, dir) = temp_store("json-record");
        let mut m = message("k1");
        m.id = store.new_id(1_000).unwrap();
        m.source = "mail".into();
        m.received_at = 1_000;
        let id = m.id.clone();
        let record = Record::accepted(m);
        // As versions before the compressed records wrote it, with its index entries.
        let json_bytes = json(&record).unwrap();
        store
            .messages
            .insert(id.as_bytes(), json_bytes.clone())
            .unwrap();
        for entry in index::entries(&record) {
            store.index.insert(entry, &[]).unwrap();
        }
        assert_eq!(store.get(&id).unwrap().unwrap().message.body, "текст");
        let listed: Vec<String> = store
            .list(
                ListFilter {
                    state: Some(State::Accepted),
                    ..Default::default()
                },
                None,
            )
            .unwrap()
            .map(|r| r.unwrap().message.id)
            .collect();
        assert_eq!(listed, std::slice::from_ref(&id));

        store.update(&id, |r| r.state = State::Delivered).unwrap();
        let stored = store.messages.get(id.as_bytes()).unwrap().unwrap();
        assert_eq!(stored[0], encoding::ZSTD_DICT_1);
        assert!(stored.len() < json_bytes.len());
        let read = store.get(&id).unwrap().unwrap();
        assert_eq!(read.state, State::Delivered);
        assert_eq!(read.message.body, "текст");
        assert_eq!(store.compact(2_000).unwrap(), 1);
        assert!(store.get(&id).unwrap().is_none());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_key_that_points_at_no_message_counts_as_absent() {
        let (store, dir) = temp_store("dangling");
        // A store written by the earlier order (key first) that crashed in between.
        store
            .idempotency
            .insert(
                keys::index_key("mail", "k1"),
                "0000000003e8ffffffff".as_bytes(),
            )
            .unwrap();
        let accepted = store
            .accept("mail", vec![message("k1")], 1_000, &[])
            .unwrap();
        assert!(!accepted[0].duplicate, "{accepted:?}");
        assert!(store.get(&accepted[0].id).unwrap().is_some());
        assert_eq!(
            store
                .idempotency
                .get(keys::index_key("mail", "k1"))
                .unwrap()
                .unwrap(),
            accepted[0].id.as_bytes()
        );
        let again = store
            .accept("mail", vec![message("k1")], 2_000, &[])
            .unwrap();
        assert!(again[0].duplicate);
        assert_eq!(again[0].id, accepted[0].id);
        assert_eq!(store.message_count(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn concurrent_ingests_of_one_key_agree_on_one_message() {
        let (store, dir) = temp_store("concurrent-key");
        let results: Vec<Accepted> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    scope.spawn(move || {
                        store
                            .accept("mail", vec![message("same")], 1_000, &[])
                            .unwrap()
                            .remove(0)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first: Vec<&Accepted> = results.iter().filter(|a| !a.duplicate).collect();
        assert_eq!(first.len(), 1, "{results:?}");
        assert!(results.iter().all(|a| a.id == first[0].id), "{results:?}");
        assert_eq!(store.messages.len(), 1);
        assert_eq!(
            store.pending_ids().unwrap(),
            std::slice::from_ref(&first[0].id)
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_repeat_left_by_a_crash_mid_ingest_is_removed_at_start_up() {
        let (store, dir) = temp_store("loser");
        let first = store
            .accept("mail", vec![message("k1")], 1_000, &[])
            .unwrap()
            .remove(0);
        // A concurrent ingest of the same key wrote its message, found the key taken, and
        // the hub died before it removed its message again.
        let mut m = message("k1");
        m.id = store.new_id(1_000).unwrap();
        m.source = "mail".into();
        let loser = m.id.clone();
        store
            .messages
            .insert(loser.as_bytes(), json(&Record::accepted(m)).unwrap())
            .unwrap();
        store.mark_pending(&loser).unwrap();
        assert_eq!(store.reconcile_pending().unwrap(), 1);
        assert!(store.get(&loser).unwrap().is_none());
        assert_eq!(
            store.pending_ids().unwrap(),
            std::slice::from_ref(&first.id)
        );
        assert!(store.get(&first.id).unwrap().is_some());
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
