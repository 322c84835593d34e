//! Durable timers: the store's `sla_timers` tree, keyed `due (8 bytes BE) · id \0 kind`
//! (`\0 before` for a reminder), so the next one due is the first key. The value is the
//! watched deadline alone (8 bytes BE): the rest of the timer is its key, and every
//! pending appeal keeps a few timers, so each byte counts many times. A value an earlier
//! version wrote (the whole timer as JSON) is read as before. One task sleeps until then (or until an earlier
//! timer is scheduled): idle, the engine costs one sleeping task, not a periodic scan.
//!
//! A timer is removed only after what it fired is on disk, so a timer due while the hub
//! was down fires at start; firing twice (a crash between the two) is made harmless by
//! the fired message's idempotency key, which names the timer.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::model::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerKind {
    /// Before the answer deadline.
    Reminder,
    /// The registration deadline passed.
    RegistrationMissed,
    /// The answer deadline passed.
    AnswerMissed,
    /// The controller did not accept or reject a report in time.
    ReportReviewMissed,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Reminder => "reminder",
            TimerKind::RegistrationMissed => "registration-missed",
            TimerKind::AnswerMissed => "answer-missed",
            TimerKind::ReportReviewMissed => "report-review-missed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub due: Timestamp,
    pub appeal: String,
    pub kind: TimerKind,
    /// The deadline the timer watches: when the appeal's deadline has moved since, the
    /// timer is stale and fires nothing.
    pub deadline: Timestamp,
    /// For a reminder, how long before the deadline, as configured (`3d`).
    #[serde(default)]
    pub before: Option<String>,
}

impl Timer {
    pub fn key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(8 + self.appeal.len() + 24);
        key.extend_from_slice(&(self.due.max(0) as u64).to_be_bytes());
        key.extend_from_slice(self.appeal.as_bytes());
        key.push(0);
        key.extend_from_slice(self.kind.as_str().as_bytes());
        if let Some(before) = &self.before {
            key.push(0);
            key.extend_from_slice(before.as_bytes());
        }
        key
    }
}

impl TimerKind {
    fn parse(name: &[u8]) -> Option<TimerKind> {
        [
            TimerKind::Reminder,
            TimerKind::RegistrationMissed,
            TimerKind::AnswerMissed,
            TimerKind::ReportReviewMissed,
        ]
        .into_iter()
        .find(|k| k.as_str().as_bytes() == name)
    }
}

/// The value kept for `timer`: its deadline (see the module's notes).
fn value_of(timer: &Timer) -> [u8; 8] {
    (timer.deadline.max(0) as u64).to_be_bytes()
}

/// The timer kept as `key` and `value`, in this version's form or an earlier one's (JSON).
fn read_timer(key: &[u8], value: &[u8]) -> anyhow::Result<Timer> {
    if value.first() == Some(&b'{') {
        return Ok(serde_json::from_slice(value)?);
    }
    let deadline: [u8; 8] = value
        .try_into()
        .map_err(|_| anyhow::anyhow!("a timer's value of {} bytes, not 8", value.len()))?;
    let rest = key
        .get(8..)
        .ok_or_else(|| anyhow::anyhow!("a timer's key of {} bytes", key.len()))?;
    let mut parts = rest.split(|b| *b == 0);
    let appeal = parts.next().unwrap_or_default();
    let kind = parts.next().unwrap_or_default();
    let before = parts.next();
    Ok(Timer {
        due: due_of(key),
        appeal: String::from_utf8(appeal.to_vec())?,
        kind: TimerKind::parse(kind).ok_or_else(|| {
            anyhow::anyhow!(
                "a timer of unknown kind {:?}",
                String::from_utf8_lossy(kind)
            )
        })?,
        deadline: u64::from_be_bytes(deadline) as i64,
        before: before.map(|b| String::from_utf8(b.to_vec())).transpose()?,
    })
}

fn due_of(key: &[u8]) -> Timestamp {
    key.get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| u64::from_be_bytes(b) as i64)
}

/// The timer tree and the wake-up of the task that sleeps on it.
pub struct Timers {
    tree: sled::Tree,
    wake: Notify,
    /// When the sleeping task means to wake (i64::MAX: not before a new timer).
    sleeping_until: AtomicI64,
    /// Times the task woke up: the idle test counts these.
    pub wakeups: AtomicU64,
    pub fired: AtomicU64,
}

impl Timers {
    pub fn new(tree: sled::Tree) -> Timers {
        Timers {
            tree,
            wake: Notify::new(),
            sleeping_until: AtomicI64::new(i64::MIN),
            wakeups: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        }
    }

    pub fn schedule(&self, timer: &Timer) -> anyhow::Result<()> {
        self.tree.insert(timer.key(), &value_of(timer))?;
        // Wake the task only when this timer is due before it means to wake.
        if timer.due < self.sleeping_until.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Schedules many timers with one sled batch: one write to the tree's log for all,
    /// where one by one each insert pays its own (the bench measures both).
    pub fn schedule_batch(&self, timers: &[Timer]) -> anyhow::Result<()> {
        let mut batch = sled::Batch::default();
        let mut earliest = i64::MAX;
        for timer in timers {
            batch.insert(timer.key(), &value_of(timer));
            earliest = earliest.min(timer.due);
        }
        self.tree.apply_batch(batch)?;
        if earliest < self.sleeping_until.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
        Ok(())
    }

    pub fn remove(&self, timer: &Timer) -> anyhow::Result<()> {
        self.tree.remove(timer.key())?;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Timers due at `now`, at most `limit`, earliest first.
    pub fn due(&self, now: Timestamp, limit: usize) -> anyhow::Result<Vec<Timer>> {
        let mut out = Vec::new();
        for item in self.tree.iter().take(limit) {
            let (key, value) = item?;
            if due_of(&key) > now {
                break;
            }
            match read_timer(&key, &value) {
                Ok(timer) => out.push(timer),
                Err(e) => {
                    // Unreadable (a store from an incompatible version): dropped with a
                    // log line rather than retried forever.
                    tracing::error!(error = %e, "dropping an unreadable SLA timer");
                    self.tree.remove(key)?;
                }
            }
        }
        Ok(out)
    }

    /// When the earliest pending timer falls due: what the task reads on start.
    pub fn next_due(&self) -> anyhow::Result<Option<Timestamp>> {
        Ok(self.tree.first()?.map(|(key, _)| due_of(&key)))
    }

    /// Fires timers as they fall due, for ever. `fire` returns once what the timer
    /// caused is durable; the timer is removed after that. A timer whose `fire` fails
    /// stays and is tried again a minute later.
    pub async fn run<F, Fut>(self: Arc<Self>, fire: F)
    where
        F: Fn(Timer) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        const BATCH: usize = 256;
        const RETRY_MS: i64 = 60_000;
        let mut retry_after: Option<Timestamp> = None;
        loop {
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            let now = super::now_millis();
            let due = match self.due(now, BATCH) {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "reading SLA timers failed");
                    Vec::new()
                }
            };
            let full = due.len() == BATCH;
            let mut failed = false;
            for timer in due {
                match fire(timer.clone()).await {
                    Ok(()) => {
                        if let Err(e) = self.remove(&timer) {
                            tracing::error!(error = %e, "removing a fired SLA timer failed");
                        }
                        self.fired.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed = true;
                        tracing::error!(appeal = %timer.appeal, kind = timer.kind.as_str(), error = %crate::observability::for_log(&format!("{e:#}")), "SLA timer failed; retrying in a minute");
                    }
                }
            }
            if full && !failed {
                continue;
            }
            if failed {
                retry_after = Some(now + RETRY_MS);
            }
            let next = match self.next_due() {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "reading SLA timers failed");
                    Some(now + RETRY_MS)
                }
            };
            let mut until = next.unwrap_or(i64::MAX);
            if let Some(retry) = retry_after {
                if until <= now {
                    until = retry;
                }
                if retry <= now {
                    retry_after = None;
                }
            }
            self.sleeping_until.store(until, Ordering::Release);
            // A timer scheduled between reading `next` and storing `until` left a permit
            // in `wake`, so the wait below returns at once.
            if until == i64::MAX {
                self.wake.notified().await;
            } else {
                let wait = (until - super::now_millis()).max(0) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    _ = self.wake.notified() => {}
                }
            }
            self.sleeping_until.store(i64::MIN, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers(name: &str) -> (Arc<Timers>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("okno-sla-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = sled::Config::new()
            .path(&dir)
            .temporary(true)
            .open()
            .unwrap();
        (Arc::new(Timers::new(db.open_tree("t").unwrap())), dir)
    }

    fn timer(appeal: &str, due: Timestamp) -> Timer {
        Timer {
            due,
            appeal: appeal.into(),
            kind: TimerKind::AnswerMissed,
            deadline: due,
            before: None,
        }
    }

    #[test]
    fn a_timer_is_kept_as_its_key_and_deadline_and_one_an_earlier_version_wrote_reads_too() {
        let (timers, _dir) = timers("compact");
        let reminder = Timer {
            due: 5_000,
            appeal: "01a22bc6568e00000000".into(),
            kind: TimerKind::Reminder,
            deadline: 9_000,
            before: Some("3d".into()),
        };
        let missed = timer("01a22bc6568e00000001", 6_000);
        timers.schedule(&reminder).unwrap();
        timers
            .schedule_batch(std::slice::from_ref(&missed))
            .unwrap();
        assert_eq!(timers.tree.get(reminder.key()).unwrap().unwrap().len(), 8);
        // As an earlier version wrote it: the whole timer as JSON.
        let old = Timer {
            kind: TimerKind::ReportReviewMissed,
            ..timer("01a22bc6568e00000002", 7_000)
        };
        timers
            .tree
            .insert(old.key(), serde_json::to_vec(&old).unwrap())
            .unwrap();
        assert_eq!(timers.due(10_000, 10).unwrap(), [reminder, missed, old]);
        // A value that is neither is dropped, not retried for ever.
        timers
            .tree
            .insert(timer("x", 8_000).key(), &[1, 2, 3])
            .unwrap();
        assert_eq!(timers.due(10_000, 10).unwrap().len(), 3);
        assert_eq!(timers.len(), 3);
    }

    /// 10,000 timers pending an hour from now: the task sleeps, woken by nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_pending_timers_sleep() {
        let (t, _dir) = timers("idle");
        let hour = super::super::now_millis() + 3_600_000;
        for i in 0..10_000 {
            t.schedule(&timer(&format!("{i:08}"), hour + i)).unwrap();
        }
        let fired = Arc::new(AtomicU64::new(0));
        let f = fired.clone();
        let task = tokio::spawn(t.clone().run(move |_| {
            f.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let settled = t.wakeups.load(Ordering::Relaxed);
        assert!(settled <= 2, "{settled} wake-ups while settling");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            t.wakeups.load(Ordering::Relaxed),
            settled,
            "the task woke while idle"
        );
        assert_eq!(fired.load(Ordering::Relaxed), 0);
        // An earlier timer wakes it, and fires on time.
        t.schedule(&timer("soon", super::super::now_millis() + 100))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(fired.load(Ordering::Relaxed), 1);
        assert_eq!(t.len(), 10_000);
        task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn due_timers_fire_in_order_and_a_failure_stays() {
        let (t, _dir) = timers("order");
        let now = super::super::now_millis();
        t.schedule(&timer("b", now - 10)).unwrap();
        t.schedule(&timer("a", now - 20)).unwrap();
        t.schedule(&timer("bad", now - 5)).unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let task = tokio::spawn(t.clone().run(move |timer: Timer| {
            s.lock().unwrap().push(timer.appeal.clone());
            async move {
                if timer.appeal == "bad" {
                    anyhow::bail!("sink down")
                }
                Ok(())
            }
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*seen.lock().unwrap(), vec!["a", "b", "bad"]);
        assert_eq!(t.len(), 1, "the failed timer stays");
        task.abort();
    }
}
