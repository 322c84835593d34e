//! Group commit: many requests wait on one flush, so that "durable before acknowledged"
//! costs one flush per batch rather than one per message.
//!
//! A flush is sled's `flush` followed by `fdatasync` of the files sled wrote (see
//! [`SledFiles`]): sled's own flush ends in `sync_file_range`, which writes the pages but
//! neither the file's metadata nor the disk's write cache, so it survives `kill -9` and
//! not a power cut.
//!
//! A flush that fails is retried with backoff for as long as it fails. Meanwhile every
//! waiter gets [`StorageUnavailable`] at once instead of hanging, [`Durability::failing`]
//! says why (for `/readyz`), and the log gets one line when flushing starts failing and
//! one when it works again.
//!
//! A disk that fills up is refused before sled runs into it: [`Durability::check_space`]
//! marks the store full while the free space is under the configured reserve, so that
//! ingest answers `503 storage_full` and the messages already taken still have room to
//! be processed and delivered. Should sled hit an I/O error all the same (the reserve
//! used up, a failing disk), it refuses every write until it is opened again: then
//! [`Durability::reopen_wanted`] resolves once a probe write shows the disk works, and
//! `okno serve` opens the store again by executing itself anew (see [`reexec`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{watch, Notify};

/// Requests one flush answered above which the flusher counts as busy and lingers.
const BUSY_BATCH: u64 = 8;

/// How long a busy flusher waits for more requests before it flushes.
const LINGER: Duration = Duration::from_millis(1);

/// The first wait after a failed flush; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between flush attempts while flushing fails: how long a recovered
/// disk can go unnoticed.
const MAX_RETRY: Duration = Duration::from_secs(1);

/// Whatever makes the store's writes durable: [`SledFiles`] in the hub.
pub trait Journal: Send + 'static {
    /// Returns once everything written to the store before the call is on disk.
    fn make_durable(&mut self) -> anyhow::Result<()>;
}

/// The store cannot make writes durable now; what was written may become durable once a
/// later flush succeeds.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the store cannot write to disk: {reason}")]
pub struct StorageUnavailable {
    pub reason: String,
    /// The disk is full (or under its reserve), rather than failing otherwise.
    pub full: bool,
}

impl StorageUnavailable {
    pub fn new(reason: impl Into<String>) -> StorageUnavailable {
        StorageUnavailable {
            reason: reason.into(),
            full: false,
        }
    }
}

/// Whether an error, or any cause in its chain, is a full disk (`ENOSPC`, `EDQUOT`).
pub fn is_disk_full(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = match cause.downcast_ref::<sled::Error>() {
            Some(sled::Error::Io(io)) => Some(io),
            _ => cause.downcast_ref::<std::io::Error>(),
        };
        io.is_some_and(|io| {
            io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        })
    })
}

/// Whether an error comes from sled's own disk I/O, after which sled 0.34 refuses every
/// write until it is opened again.
fn is_sled_io(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sled::Error>(),
            Some(sled::Error::Io(_))
        )
    })
}

/// A place in the order of flush requests: durable once a flush at or after it succeeds.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    number: u64,
    /// Failed flushes seen before the request: a later one fails the waiter.
    failures: u64,
}

#[derive(Clone, Debug, Default)]
struct Flushed {
    /// Requests up to this number are durable.
    upto: u64,
    /// Flush attempts that failed, ever.
    failures: u64,
    /// Why flushing fails, while it does.
    failing: Option<String>,
    /// Why sled stopped writing (until the store is opened again), once it has.
    stopped: Option<String>,
    /// The last failure (of a flush, or sled's) was a full disk.
    no_space: bool,
    /// Why the disk counts as full: its free space is under the reserve.
    low_space: Option<String>,
    /// sled stopped, and a probe write has since worked: the store should be reopened.
    reopen: bool,
}

pub struct Durability {
    journal: Arc<Mutex<dyn Journal>>,
    requested: AtomicU64,
    wake: Notify,
    flushed: watch::Sender<Flushed>,
}

impl Durability {
    pub fn new(journal: impl Journal) -> Durability {
        Durability {
            journal: Arc::new(Mutex::new(journal)),
            requested: AtomicU64::new(0),
            wake: Notify::new(),
            flushed: watch::channel(Flushed::default()).0,
        }
    }

    /// Asks for a flush of everything written so far; see [`Durability::wait_for`].
    pub fn request(&self) -> Ticket {
        // Read before the request is counted, so that any failure after it fails the wait.
        let failures = self.flushed.borrow().failures;
        let number = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        Ticket { number, failures }
    }

    /// Returns once everything written before the ticket was taken is on disk, or with
    /// an error as soon as a flush fails (or flushing is failing already).
    pub async fn wait_for(&self, ticket: Ticket) -> Result<(), StorageUnavailable> {
        let mut flushed = self.flushed.subscribe();
        let state = flushed
            .wait_for(|f| {
                f.upto >= ticket.number
                    || f.failing.is_some()
                    || f.stopped.is_some()
                    || f.failures > ticket.failures
            })
            .await
            .map_err(|_| StorageUnavailable::new("the store's flusher stopped"))?;
        if state.upto >= ticket.number {
            return Ok(());
        }
        Err(StorageUnavailable {
            reason: state
                .stopped
                .clone()
                .or_else(|| state.failing.clone())
                .unwrap_or_else(|| "a flush failed".into()),
            full: state.no_space,
        })
    }

    /// Returns once everything written before the ticket was taken is on disk, however
    /// many flushes fail before that.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), StorageUnavailable> {
        let mut flushed = self.flushed.subscribe();
        flushed
            .wait_for(|f| f.upto >= ticket.number)
            .await
            .map(|_| ())
            .map_err(|_| StorageUnavailable::new("the store's flusher stopped"))
    }

    /// Returns once everything written before this call is on disk.
    pub async fn wait(&self) -> anyhow::Result<()> {
        Ok(self.wait_for(self.request()).await?)
    }

    /// Why the store takes no new messages, while it does: flushing fails, sled
    /// stopped, or the disk is under its reserve. `None` when all is well.
    pub fn failing(&self) -> Option<String> {
        self.unavailable().map(|u| u.reason)
    }

    /// As [`Durability::failing`], with whether the cause is a full disk.
    pub fn unavailable(&self) -> Option<StorageUnavailable> {
        let flushed = self.flushed.borrow();
        if let Some(reason) = flushed.stopped.clone().or_else(|| flushed.failing.clone()) {
            return Some(StorageUnavailable {
                reason,
                full: flushed.no_space,
            });
        }
        flushed
            .low_space
            .clone()
            .map(|reason| StorageUnavailable { reason, full: true })
    }

    /// Whether writes fail now (flushing fails or sled stopped): what is done cannot be
    /// recorded, so deliveries wait. A disk under its reserve still takes the writes of
    /// the messages already accepted.
    pub fn cannot_write(&self) -> bool {
        let flushed = self.flushed.borrow();
        flushed.stopped.is_some() || flushed.failing.is_some()
    }

    /// Tells an error of sled's disk from others: sled 0.34 stops writing after an I/O
    /// error of its own (a full disk, say) until it is opened again. Such an error makes
    /// the store fail until it is reopened (see [`Durability::reopen_wanted`]); the
    /// result says so.
    pub fn storage_error(&self, error: &anyhow::Error) -> Option<StorageUnavailable> {
        if !is_sled_io(error) {
            return None;
        }
        let full = is_disk_full(error);
        let mut reason = String::new();
        self.flushed.send_if_modified(|f| {
            if let Some(stopped) = &f.stopped {
                reason = stopped.clone();
                return false;
            }
            reason = format!(
                "sled stopped writing after an I/O error ({}); the store is opened again once the disk takes writes",
                error.root_cause()
            );
            tracing::error!(error = %error.root_cause(), disk_full = full, "the store stopped writing after an I/O error; ingest answers 503 and /readyz is not ready until the disk takes writes again and the store is reopened");
            f.stopped = Some(reason.clone());
            f.no_space = full;
            true
        });
        Some(StorageUnavailable { reason, full })
    }

    /// Looks at the free space of `dir`'s filesystem: under `reserve_bytes` the store
    /// counts as full (ingest is refused) until it is back above it. After sled stopped,
    /// it also writes a probe file; once that works with the space above the reserve,
    /// [`Durability::reopen_wanted`] resolves. Logs one line per change. Call it
    /// periodically.
    pub fn check_space(&self, dir: &Path, reserve_bytes: u64) {
        let free = match free_bytes(dir) {
            Ok(free) => free,
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "reading the data dir's free space failed");
                return;
            }
        };
        let low = (free < reserve_bytes).then(|| {
            format!(
                "the disk is full: {} MiB free in {}, under the reserve of {} MiB",
                free >> 20,
                dir.display(),
                reserve_bytes >> 20
            )
        });
        self.flushed.send_if_modified(|f| match (&f.low_space, &low) {
            (None, Some(reason)) => {
                tracing::error!(free_mib = free >> 20, reserve_mib = reserve_bytes >> 20, "the data dir's disk is under its reserve of free space; ingest answers 503 storage_full until it is back above");
                f.low_space = Some(reason.clone());
                true
            }
            (Some(_), None) => {
                tracing::warn!(free_mib = free >> 20, "the data dir's disk has room again; accepting messages");
                f.low_space = None;
                true
            }
            _ => false,
        });
        let stopped = {
            let f = self.flushed.borrow();
            f.stopped.is_some() && !f.reopen
        };
        if stopped && low.is_none() {
            match probe(dir) {
                Ok(()) => {
                    self.flushed.send_modify(|f| f.reopen = true);
                    tracing::warn!(
                        "a probe write to the data dir works again; reopening the store"
                    );
                }
                Err(e) => tracing::debug!(error = %format!("{e:#}"), "the probe write still fails"),
            }
        }
    }

    /// Resolves once sled has stopped and the disk takes writes again: the store must be
    /// opened anew.
    pub async fn reopen_wanted(&self) {
        let mut flushed = self.flushed.subscribe();
        let _ = flushed.wait_for(|f| f.reopen).await;
    }

    /// Flush attempts that failed since the hub started.
    pub fn failed_flushes(&self) -> u64 {
        self.flushed.borrow().failures
    }

    /// The flusher: run once, as a task, for the store's lifetime.
    pub async fn run(self: Arc<Self>) {
        let mut last_batch = 0;
        let mut retry = FIRST_RETRY;
        loop {
            self.wake.notified().await;
            loop {
                let done = self.flushed.borrow().upto;
                if self.requested.load(Ordering::SeqCst) <= done {
                    break;
                }
                // Under load (the last flush answered a crowd), a short wait lets one
                // flush answer more requests: fewer flushes cost less CPU per message.
                // A lone request is flushed at once.
                if last_batch >= BUSY_BATCH {
                    tokio::time::sleep(LINGER).await;
                }
                let target = self.requested.load(Ordering::SeqCst);
                let journal = self.journal.clone();
                let result = tokio::task::spawn_blocking(move || {
                    journal
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .make_durable()
                })
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("the flush task failed: {e}")));
                match result {
                    Ok(()) => {
                        last_batch = target - done;
                        retry = FIRST_RETRY;
                        self.flushed.send_modify(|f| {
                            f.upto = target;
                            if f.stopped.is_none() {
                                f.no_space = false;
                            }
                            if f.failing.take().is_some() {
                                tracing::warn!(
                                    failed_attempts = f.failures,
                                    "flushing the store works again; accepting messages"
                                );
                            }
                        });
                    }
                    Err(e) => {
                        let reason = format!("{e:#}");
                        // An error of sled's own stops it until it is opened again.
                        self.storage_error(&e);
                        let full = is_disk_full(&e);
                        self.flushed.send_modify(|f| {
                            f.failures += 1;
                            f.no_space |= full;
                            if f.failing.is_none() {
                                tracing::error!(error = %reason, "flushing the store failed; ingest answers 503 and /readyz is not ready until a flush succeeds (retrying)");
                            }
                            f.failing = Some(reason);
                        });
                        // What was requested stays requested: the loop goes on retrying
                        // it without being woken, and stops once a flush succeeds.
                        tokio::time::sleep(retry).await;
                        retry = (retry * 2).min(MAX_RETRY);
                    }
                }
            }
        }
    }
}

/// Bytes the filesystem holding `dir` has free for an unprivileged writer.
fn free_bytes(dir: &Path) -> anyhow::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .with_context(|| format!("{} holds a NUL byte", dir.display()))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stat` a buffer of the right type,
    // both alive for the call.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statvfs of {}", dir.display()));
    }
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// Bytes a probe writes: about what sled needs to go on (one of its log segments).
const PROBE_BYTES: usize = 512 << 10;

/// Writes, syncs and removes a file in `dir`: whether the disk takes writes.
fn probe(dir: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let path = dir.join(".okno-probe");
    let result = File::create(&path)
        .and_then(|mut file| {
            file.write_all(&vec![0u8; PROBE_BYTES])?;
            file.sync_all()
        })
        .with_context(|| format!("writing {}", path.display()));
    let _ = std::fs::remove_file(&path);
    result
}

/// Executes the running program anew with its arguments, in the same process: how
/// `okno serve` opens its store again after sled stopped (sled 0.34 cannot be told to
/// resume). Everything acknowledged is on disk, so nothing is lost; requests in flight
/// are cut off, and clients retry. Returns only on failure.
pub fn reexec() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .exec()
}

/// The files of a sled store, made durable after sled's flush.
///
/// sled 0.34 keeps everything in its directory: `db` (the log, written in place), `conf`
/// (written once, at creation), `snap.*` (snapshots, which sled syncs itself before it
/// renames them into place) and `blobs/` (one file per value too large for the log,
/// written and never synced). A flush here is:
/// 1. list the directory and `blobs/`;
/// 2. sled's `flush`: pwrite and `sync_file_range` of the log up to the last reservation;
///    the blobs listed in 1 belong to reservations before it, so they are complete too;
/// 3. `fdatasync` of `db`, of every file listed in 1 that was not synced before (new
///    blobs and snapshots, and everything on the first flush), and `fsync` of a
///    directory whose entries changed (and of both, and the data dir, on the first).
pub struct SledFiles {
    db: sled::Db,
    /// sled's directory.
    dir: PathBuf,
    log: File,
    /// Entries of the directory and of `blobs/` synced so far; `None` before the first
    /// flush.
    synced: Option<(HashSet<OsString>, HashSet<OsString>)>,
}

impl SledFiles {
    /// `dir` is the directory sled was opened with.
    pub fn open(db: sled::Db, dir: &Path) -> anyhow::Result<SledFiles> {
        let log = File::open(dir.join("db"))
            .with_context(|| format!("opening {} to sync it", dir.join("db").display()))?;
        Ok(SledFiles {
            db,
            dir: dir.to_path_buf(),
            log,
            synced: None,
        })
    }
}

fn entries(dir: &Path) -> anyhow::Result<HashSet<OsString>> {
    std::fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<_>>()
        })
        .with_context(|| format!("listing {}", dir.display()))
}

fn sync_path(path: &Path) -> anyhow::Result<()> {
    match File::open(path) {
        Ok(file) => file
            .sync_all()
            .with_context(|| format!("fsync of {}", path.display())),
        // sled removes blobs and old snapshots it no longer needs.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("opening {} to sync it", path.display())),
    }
}

/// Syncs what is in `now` and not in `before` (everything without a `before`), then the
/// directory itself if its entries changed.
fn sync_new(
    dir: &Path,
    before: Option<&HashSet<OsString>>,
    now: &HashSet<OsString>,
) -> anyhow::Result<()> {
    for name in now {
        if before.is_some_and(|b| b.contains(name)) || name == "db" || name == "blobs" {
            continue;
        }
        sync_path(&dir.join(name))?;
    }
    if before != Some(now) {
        sync_path(dir)?;
    }
    Ok(())
}

impl Journal for SledFiles {
    fn make_durable(&mut self) -> anyhow::Result<()> {
        let blobs_dir = self.dir.join("blobs");
        let files = entries(&self.dir)?;
        let blobs = entries(&blobs_dir)?;
        self.db.flush().context("sled's flush")?;
        self.log
            .sync_data()
            .with_context(|| format!("fdatasync of {}", self.dir.join("db").display()))?;
        let first = self.synced.is_none();
        sync_new(&self.dir, self.synced.as_ref().map(|s| &s.0), &files)?;
        sync_new(&blobs_dir, self.synced.as_ref().map(|s| &s.1), &blobs)?;
        if first {
            // The data dir's entry for sled's directory, created with the store.
            if let Some(parent) = self.dir.parent() {
                sync_path(parent)?;
            }
        }
        self.synced = Some((files, blobs));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A journal that fails while `broken` is set, and counts its successful flushes.
    struct Scripted {
        broken: Arc<AtomicBool>,
        flushes: Arc<AtomicU64>,
    }

    impl Journal for Scripted {
        fn make_durable(&mut self) -> anyhow::Result<()> {
            if self.broken.load(Ordering::SeqCst) {
                anyhow::bail!("EIO on purpose");
            }
            self.flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// Log output, collected for the test's thread.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines_with(&self, text: &str) -> usize {
            String::from_utf8_lossy(&self.0.lock().unwrap())
                .lines()
                .filter(|l| l.contains(text))
                .count()
        }
    }

    async fn until(what: &str, mut check: impl FnMut() -> bool) {
        for _ in 0..2_000 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    // One thread, so that the flusher task logs into the subscriber set for the test.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_flush_fails_its_waiters_at_once_and_recovers_by_itself() {
        let log = Captured::default();
        let writer = log.clone();
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish(),
        );
        let broken = Arc::new(AtomicBool::new(false));
        let flushes = Arc::new(AtomicU64::new(0));
        let durability = Arc::new(Durability::new(Scripted {
            broken: broken.clone(),
            flushes: flushes.clone(),
        }));
        tokio::spawn(durability.clone().run());

        durability.wait().await.expect("a working disk flushes");
        assert!(durability.failing().is_none());

        broken.store(true, Ordering::SeqCst);
        let ticket = durability.request();
        let error = durability.wait_for(ticket).await.unwrap_err();
        assert!(error.to_string().contains("EIO on purpose"), "{error}");
        assert!(durability.failing().is_some());
        // While it fails, a new waiter gets the error too.
        assert!(durability.wait().await.is_err());
        // It keeps retrying on its own, and logs the failure once.
        until("three failed attempts", || durability.failed_flushes() >= 3).await;
        assert_eq!(log.lines_with("flushing the store failed"), 1);

        let flushed_before = flushes.load(Ordering::SeqCst);
        broken.store(false, Ordering::SeqCst);
        // What the failed flushes were asked for becomes durable without a new request.
        durability.durable(ticket).await.unwrap();
        assert!(flushes.load(Ordering::SeqCst) > flushed_before);
        assert!(durability.failing().is_none());
        durability.wait().await.expect("flushing works again");
        assert_eq!(log.lines_with("flushing the store failed"), 1);
        assert_eq!(log.lines_with("flushing the store works again"), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_io_error_inside_sled_fails_the_store_until_a_probe_write_works() {
        let durability = Arc::new(Durability::new(Scripted {
            broken: Arc::default(),
            flushes: Arc::default(),
        }));
        tokio::spawn(durability.clone().run());
        let other = anyhow::anyhow!("an unreadable record");
        assert!(durability.storage_error(&other).is_none());
        assert!(durability.failing().is_none());

        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let disk = anyhow::Error::from(sled::Error::Io(enospc)).context("updating a record");
        let unavailable = durability.storage_error(&disk).expect("a disk error");
        assert!(unavailable.full, "{unavailable}");
        assert!(
            unavailable.to_string().contains("opened again"),
            "{unavailable}"
        );
        // sled's flush has nothing to flush then, and succeeds: the store still fails.
        assert!(durability.wait().await.is_err());
        assert!(durability.unavailable().is_some_and(|u| u.full));
        assert!(durability.cannot_write());

        // Under its reserve, no probe is made and nothing is reopened.
        let dir = tempfile_dir("probe");
        durability.check_space(&dir, u64::MAX);
        assert!(!durability.flushed.borrow().reopen);
        // With room, a probe write works and the store is to be reopened.
        durability.check_space(&dir, 0);
        tokio::time::timeout(Duration::from_secs(5), durability.reopen_wanted())
            .await
            .expect("a reopen once the disk takes writes");
        assert!(!dir.join(".okno-probe").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("okno-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_disk_under_its_reserve_refuses_as_full_until_it_has_room() {
        let durability = Durability::new(Scripted {
            broken: Arc::default(),
            flushes: Arc::default(),
        });
        let dir = tempfile_dir("reserve");
        durability.check_space(&dir, u64::MAX);
        let unavailable = durability.unavailable().expect("full");
        assert!(
            unavailable.full && unavailable.reason.contains("reserve"),
            "{unavailable}"
        );
        // Writes of messages already taken still go on.
        assert!(!durability.cannot_write());
        durability.check_space(&dir, 0);
        assert!(durability.unavailable().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_flush_syncs_the_files_sled_wrote_and_fails_when_it_cannot_list_them() {
        let dir = std::env::temp_dir().join(format!("okno-sledfiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sled_dir = dir.join("db");
        let db = sled::Config::new().path(&sled_dir).open().unwrap();
        let mut files = SledFiles::open(db.clone(), &sled_dir).unwrap();
        db.insert("small", vec![1u8; 100]).unwrap();
        // Over a quarter of sled's segment: a blob of its own.
        db.insert("large", vec![2u8; 300 << 10]).unwrap();
        files.make_durable().unwrap();
        let (top, blobs) = files.synced.clone().unwrap();
        assert!(top.contains(&OsString::from("conf")), "{top:?}");
        assert_eq!(blobs.len(), 1, "the large value went to a blob: {blobs:?}");

        // A store whose blobs cannot be listed cannot be made durable.
        std::fs::rename(sled_dir.join("blobs"), dir.join("blobs.away")).unwrap();
        std::fs::write(sled_dir.join("blobs"), b"not a directory").unwrap();
        let error = files.make_durable().unwrap_err();
        assert!(format!("{error:#}").contains("blobs"), "{error:#}");
        std::fs::remove_file(sled_dir.join("blobs")).unwrap();
        std::fs::rename(dir.join("blobs.away"), sled_dir.join("blobs")).unwrap();
        files.make_durable().unwrap();
        drop((files, db));
        let _ = std::fs::remove_dir_all(dir);
    }
}
