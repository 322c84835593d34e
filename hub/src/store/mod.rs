//! The embedded store (sled): the journal of messages and their traces, the idempotency
//! index, the work queue, the per-sink outbox, dead letters and the plugins' kv.
//!
//! Trees:
//! - `messages`: id → [`Record`] (JSON): the message and everything that happened to it.
//! - `idempotency-sha256`: SHA-256 of `source \0 key` → id (see [`keys`]; the
//!   `idempotency` tree of earlier versions, keyed by `source \0 key` as sent, is moved
//!   into it when the store opens).
//! - `pending`: id → (): accepted, not yet routed. Read back at start-up.
//! - `outbox`: `due_at (8 bytes BE) · id \0 sink` → [`OutboxEntry`]: deliveries to make.
//! - `dead`: `id \0 sink-or-stage` → [`DeadLetter`].
//! - `corrections`: `id \0 number (8 bytes BE)` → [`Correction`]: every correction of
//!   a message, where its record keeps the latest few.
//! - `kv:PLUGIN`: that plugin's kv.

mod durability;
pub mod keys;
mod records;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

pub use durability::{Durability, StorageUnavailable, Ticket};
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
    pub durability: Arc<Durability>,
    /// Messages in the journal. sled's `len` scans the whole tree, too slow for every
    /// `/metrics` scrape, so the count is taken once at open and kept up to date.
    stored: Arc<std::sync::atomic::AtomicUsize>,
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
        Ok(Store {
            idempotency,
            pending: open("pending")?,
            outbox: open("outbox")?,
            dead: open("dead")?,
            corrections: open("corrections")?,
            durability: Arc::new(Durability::new(durability::SledFiles::open(
                db.clone(),
                &dir.join("db"),
            )?)),
            stored: Arc::new(std::sync::atomic::AtomicUsize::new(messages.len())),
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
            self.messages.insert(id.as_bytes(), json(&record)?)?;
            self.stored
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.pending.insert(id.as_bytes(), &[])?;
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
                    self.pending.remove(id.as_bytes())?;
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
        if self.messages.remove(id.as_bytes())?.is_some() {
            self.stored
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
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
                self.pending.remove(id.as_bytes())?;
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
            .map(|v| from_json(&v, "message record"))
            .transpose()
    }

    /// A record with the stored bytes it was parsed from, for [`Store::update_read`].
    pub fn get_for_update(&self, id: &str) -> anyhow::Result<Option<ReadRecord>> {
        self.messages
            .get(id.as_bytes())?
            .map(|bytes| {
                Ok(ReadRecord {
                    record: from_json(&bytes, "message record")?,
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
        change(&mut record);
        let id = record.message.id.clone();
        if self
            .messages
            .compare_and_swap(id.as_bytes(), Some(&bytes), Some(json(&record)?))?
            .is_ok()
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
            let mut record: Record = from_json(&current, "message record")?;
            if !change(&mut record) {
                return Ok(None);
            }
            let new = json(&record)?;
            if self
                .messages
                .compare_and_swap(id.as_bytes(), Some(&current), Some(new))?
                .is_ok()
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
        self.pending.insert(id.as_bytes(), &[])?;
        Ok(())
    }

    pub fn done_pending(&self, id: &str) -> anyhow::Result<()> {
        self.pending.remove(id.as_bytes())?;
        Ok(())
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
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
        self.outbox.insert(
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
        self.outbox
            .remove(Self::outbox_key(entry.due_at, &entry.id, &entry.sink))?;
        Ok(())
    }

    /// Moves a delivery to a later time.
    pub fn reschedule(&self, old: &OutboxEntry, new: &OutboxEntry) -> anyhow::Result<()> {
        self.schedule(new)?;
        self.finish_delivery(old)
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    pub fn add_dead_letter(&self, dead: &DeadLetter) -> anyhow::Result<()> {
        self.dead
            .insert(key2(&dead.id, &dead.target), json(dead)?)?;
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
        self.dead.len()
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
        self.dead.remove(key2(id, target))?;
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
            self.dead.remove(&key)?;
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
        iter.values().map(|v| from_json(&v?, "message record"))
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
            let record: Record = from_json(&bytes, "message record")?;
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
