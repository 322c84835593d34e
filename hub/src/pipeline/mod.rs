//! The hub: ingest → decode (at ingest, so bad input is refused before anything is
//! stored) → classify → decide → route → deliver, with every step journaled and traced.

mod active;
mod deliver;
mod ingest_pool;
pub mod metrics;
mod process;
mod registration;
mod replay;

use std::path::PathBuf;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::Notify;

pub use active::Active;
pub use replay::ReplayError;

use crate::config::Config;
use crate::model::{Inbound, Message};
use crate::runtime::{CallError, Runtime, RuntimeOptions};
use crate::store::{Accepted, Store, TraceEntry};
use metrics::Metrics;

/// Why an ingest was refused. Nothing is stored for a refused request.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no source named {0:?} is configured")]
    UnknownSource(String),
    #[error("the hub's queue is full ({0} messages waiting); retry later")]
    Busy(usize),
    #[error("{0}")]
    Decode(CallError),
    #[error("storing the message failed: {0:#}")]
    Store(anyhow::Error),
    /// The store cannot flush to disk: nothing was acknowledged; retry later.
    #[error("{0}; retry later")]
    StorageUnavailable(crate::store::StorageUnavailable),
}

pub struct Hub {
    pub store: Store,
    /// The bearer tokens the API accepts (`DATA_DIR/tokens.json`).
    pub tokens: crate::auth::TokenStore,
    /// Admin and operator actions, hash-chained (`DATA_DIR/audit.jsonl`).
    pub audit: crate::audit::AuditLog,
    pub runtime: Arc<Runtime>,
    pub metrics: Metrics,
    active: RwLock<Arc<Active>>,
    config_path: PathBuf,
    overrides: Overrides,
    queue: mpsc::Sender<String>,
    /// Where ingests decode and journal (see `ingest_pool`).
    ingest_pool: ingest_pool::IngestPool,
    /// The hub itself, for the work it hands the ingest threads.
    me: Weak<Hub>,
    pub(crate) delivery_wake: Notify,
    queue_capacity: usize,
    /// Appeals' states and deadline timers (the SLA engine).
    pub sla: crate::sla::Sla,
}

/// Command-line values that win over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

pub(crate) fn trace(
    stage: &str,
    started: Instant,
    plugin: Option<(&str, &str)>,
    result: Result<Vec<String>, String>,
) -> TraceEntry {
    let (result, reasons) = match result {
        Ok(reasons) => ("ok".to_string(), reasons),
        Err(error) => ("error".to_string(), vec![error]),
    };
    TraceEntry {
        at: crate::sla::now_millis(),
        stage: stage.into(),
        plugin: plugin.map(|(name, _)| name.to_string()),
        plugin_version: plugin.map(|(_, sha)| sha.chars().take(12).collect()),
        duration_us: started.elapsed().as_micros() as u64,
        result,
        reasons,
    }
}

/// A trace entry for a step without a plugin (replays, corrections).
pub fn trace_entry(stage: &str, reason: &str) -> TraceEntry {
    trace(stage, Instant::now(), None, Ok(vec![reason.to_string()]))
}

impl Hub {
    /// Loads the config, opens the store, loads every plugin, and starts the workers,
    /// the delivery loop, the flusher and compaction. Messages left pending or undelivered
    /// by an earlier run are picked up.
    pub async fn start(config_path: PathBuf, overrides: Overrides) -> anyhow::Result<Arc<Hub>> {
        crate::memory::configure_allocator();
        let mut config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        apply_overrides(&mut config, &overrides);
        let data_dir = config.hub.data_dir.clone();
        let store = Store::open(&data_dir)?;
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(data_dir.join("compiled")),
            ..Default::default()
        })?;
        store.blobs.configure(config.hub.blobs.clone());
        let active = Active::load(config, &runtime, &store)?;
        let queue_capacity = active.config.hub.queue_capacity;
        let workers = active.config.hub.workers.max(1);
        let (queue, receiver) = mpsc::channel(queue_capacity);
        let ingest_pool = ingest_pool::IngestPool::start()?;
        let sla = crate::sla::Sla::open(&store)?;
        let hub = Arc::new_cyclic(|me| Hub {
            store: store.clone(),
            tokens: crate::auth::TokenStore::open(&data_dir),
            audit: crate::audit::AuditLog::open(&data_dir),
            runtime,
            metrics: Metrics::default(),
            active: RwLock::new(Arc::new(active)),
            config_path,
            overrides,
            queue,
            ingest_pool,
            me: me.clone(),
            delivery_wake: Notify::new(),
            queue_capacity,
            sla,
        });
        tokio::spawn(store.durability.clone().run());
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..workers {
            tokio::spawn(process::worker(hub.clone(), receiver.clone()));
        }
        tokio::spawn(deliver::delivery_loop(hub.clone()));
        tokio::spawn(compaction_loop(hub.clone()));
        tokio::spawn(space_loop(hub.clone(), data_dir.clone()));
        tokio::spawn(crate::sla::run(hub.clone()));
        // Recovery: whatever was accepted but not routed goes through the pipeline again,
        // once what a crash left between a message and its idempotency key is settled.
        let unacknowledged = hub.store.reconcile_pending()?;
        if unacknowledged > 0 {
            tracing::info!(
                count = unacknowledged,
                "removed repeats of an idempotency key that were never acknowledged"
            );
        }
        let pending = hub.store.pending_ids()?;
        if !pending.is_empty() {
            tracing::info!(
                count = pending.len(),
                "resuming messages accepted before the last stop"
            );
            let hub2 = hub.clone();
            tokio::spawn(async move {
                for id in pending {
                    if hub2.queue.send(id).await.is_err() {
                        break;
                    }
                }
            });
        }
        Ok(hub)
    }

    /// The config file the hub was started with (and reloads).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    pub fn active(&self) -> Arc<Active> {
        self.active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Validates the config file and loads its plugins, then swaps it in. Messages in
    /// flight finish under the config they started with. On error nothing changes.
    pub fn reload(&self) -> anyhow::Result<()> {
        let mut config = Config::load(&self.config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
        apply_overrides(&mut config, &self.overrides);
        let old = self.active();
        // What is fixed when the hub starts (the listener, the store, the queue, the
        // workers, the router's body limit): a file that changes any of it is refused
        // as a whole, naming each, rather than half applied.
        let (new_hub, old_hub) = (&config.hub, &old.config.hub);
        let restart_only = [
            ("hub.listen", new_hub.listen != old_hub.listen),
            ("hub.data_dir", new_hub.data_dir != old_hub.data_dir),
            (
                "[hub.tls] given or not",
                new_hub.tls.is_some() != old_hub.tls.is_some(),
            ),
            (
                "hub.queue_capacity",
                new_hub.queue_capacity != old_hub.queue_capacity,
            ),
            ("hub.workers", new_hub.workers != old_hub.workers),
            (
                "hub.max_body_bytes",
                new_hub.max_body_bytes != old_hub.max_body_bytes,
            ),
            (
                "hub.max_connections",
                new_hub.max_connections != old_hub.max_connections,
            ),
            (
                "hub.header_timeout_ms",
                new_hub.header_timeout_ms != old_hub.header_timeout_ms,
            ),
            (
                "hub.request_timeout_ms",
                new_hub.request_timeout_ms != old_hub.request_timeout_ms,
            ),
            (
                "hub.body_budget_mib",
                new_hub.body_budget_mib != old_hub.body_budget_mib,
            ),
        ];
        let changed: Vec<&str> = restart_only
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(name, _)| *name)
            .collect();
        if !changed.is_empty() {
            anyhow::bail!(
                "{} changed, which takes effect only when the hub starts: restart it, or put the old value back to reload the rest",
                changed.join(", ")
            );
        }
        self.store.blobs.configure(config.hub.blobs.clone());
        let active = Active::load(config, &self.runtime, &self.store)?;
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(active);
        tracing::info!(config = %self.config_path.display(), "configuration reloaded");
        Ok(())
    }

    /// Journals messages the hub makes itself (the SLA engine's reminders and
    /// escalations) under `source` and queues them once on disk. A repeat of an
    /// idempotency key is not queued again.
    pub async fn submit_internal(
        &self,
        source: &str,
        messages: Vec<Message>,
        trace: &[TraceEntry],
    ) -> anyhow::Result<Vec<Accepted>> {
        let accepted = self
            .store
            .accept(source, messages, crate::sla::now_millis(), trace)?;
        self.store.durability.wait().await?;
        for a in accepted.iter().filter(|a| !a.duplicate) {
            self.queue
                .send(a.id.clone())
                .await
                .map_err(|_| anyhow::anyhow!("the pipeline has stopped"))?;
        }
        Ok(accepted)
    }

    pub fn queue_depth(&self) -> usize {
        self.queue_capacity - self.queue.capacity()
    }

    /// Decodes raw bytes from a source, journals the messages durably, and queues them.
    /// Returns once they are on disk: the caller may acknowledge.
    pub async fn ingest(
        &self,
        source: &str,
        inbound: Inbound,
    ) -> Result<Vec<Accepted>, IngestError> {
        self.ingest_with_key(source, inbound, None).await
    }

    /// As [`Hub::ingest`]; a message the connector gave no idempotency key gets
    /// `FALLBACK#N` (N its place in the input), so that the same input ingested again
    /// (a file picked up again after a restart) yields the first messages.
    pub async fn ingest_with_key(
        &self,
        source: &str,
        inbound: Inbound,
        fallback_key: Option<&str>,
    ) -> Result<Vec<Accepted>, IngestError> {
        let Some(connector) = self.active().source_connector(source).cloned() else {
            self.metrics.rejected("unknown-source");
            return Err(IngestError::UnknownSource(source.into()));
        };
        // Refused here, at once, when there is no room; otherwise decoded and journaled
        // on the ingest threads, after the pipeline's work.
        let first = self.admit()?;
        let hub = self.me()?;
        let (source, fallback_key) = (source.to_string(), fallback_key.map(String::from));
        self.ingest_pool
            .run(async move {
                hub.decode_and_journal(&source, &connector, inbound, fallback_key, first)
                    .await
            })
            .await
            .map_err(IngestError::Store)?
    }

    fn me(&self) -> Result<Arc<Hub>, IngestError> {
        self.me
            .upgrade()
            .ok_or_else(|| IngestError::Store(anyhow::anyhow!("the hub has stopped")))
    }

    async fn decode_and_journal(
        &self,
        source: &str,
        connector: &crate::runtime::Plugin,
        inbound: Inbound,
        fallback_key: Option<String>,
        first: OwnedPermit<String>,
    ) -> Result<Vec<Accepted>, IngestError> {
        let started = Instant::now();
        // Kept for the blob store: attachments are taken from it once decode names them.
        let raw = inbound.bytes.clone();
        let decoded = connector.decode(inbound).await;
        self.metrics.stage("decode", started.elapsed());
        let mut messages: Vec<Message> = match decoded {
            Ok(messages) => messages,
            Err(error) => {
                self.metrics.plugin_error(connector.name(), error.kind());
                self.metrics.rejected("decode");
                return Err(IngestError::Decode(error));
            }
        };
        if let Some(key) = fallback_key {
            for (i, message) in messages.iter_mut().enumerate() {
                message
                    .idempotency_key
                    .get_or_insert_with(|| format!("{key}#{i}"));
            }
        }
        // Attachments and the raw bytes into the blob store (fsynced files: off the
        // async workers).
        let blobs = self.store.blobs.clone();
        let messages = tokio::task::spawn_blocking(move || {
            blobs.keep_inbound(&raw, &mut messages);
            messages
        })
        .await
        .map_err(|e| IngestError::Store(anyhow::anyhow!("keeping attachments: {e}")))?;
        let decode_trace = trace(
            "decode",
            started,
            Some((connector.name(), &connector.info.sha256)),
            Ok(vec![format!(
                "{} message(s) from source {source:?}",
                messages.len()
            )]),
        );
        let places = self.places(first, messages.len())?;
        self.journal(source, messages, decode_trace, started, places)
            .await
    }

    /// Journals messages a source's connector produced itself (a poller's batch), as
    /// [`Hub::ingest`] does after decoding; `trace` records where they came from.
    pub async fn ingest_decoded(
        &self,
        source: &str,
        messages: Vec<Message>,
        trace: TraceEntry,
    ) -> Result<Vec<Accepted>, IngestError> {
        if self.active().config.source(source).is_none() {
            self.metrics.rejected("unknown-source");
            return Err(IngestError::UnknownSource(source.into()));
        }
        let first = self.admit()?;
        let places = self.places(first, messages.len())?;
        let hub = self.me()?;
        let source = source.to_string();
        self.ingest_pool
            .run(async move {
                hub.journal(&source, messages, trace, Instant::now(), places)
                    .await
            })
            .await
            .map_err(IngestError::Store)?
    }

    /// Refuses an ingest before anything is stored while the queue is full or the
    /// disk fails. Otherwise holds a place in the queue for its first message: the
    /// place is taken now, not after the decode, so that however many ingests arrive at
    /// once no more are accepted than the queue holds, and none waits for room after
    /// its message is stored.
    fn admit(&self) -> Result<OwnedPermit<String>, IngestError> {
        let Ok(place) = self.queue.clone().try_reserve_owned() else {
            self.metrics.rejected("busy");
            return Err(IngestError::Busy(self.queue_capacity));
        };
        if let Some(unavailable) = self.store.durability.unavailable() {
            self.metrics.rejected(if unavailable.full {
                "storage-full"
            } else {
                "storage-unavailable"
            });
            return Err(IngestError::StorageUnavailable(unavailable));
        }
        Ok(place)
    }

    /// The places in the queue for `count` decoded messages: the one `admit` held, and
    /// more for an input that decoded into several. Refused, with nothing stored, when
    /// the queue lacks room for all of them.
    fn places(
        &self,
        first: OwnedPermit<String>,
        count: usize,
    ) -> Result<Vec<OwnedPermit<String>>, IngestError> {
        let mut places = Vec::with_capacity(count);
        if count == 0 {
            return Ok(places);
        }
        places.push(first);
        while places.len() < count {
            match self.queue.clone().try_reserve_owned() {
                Ok(place) => places.push(place),
                // A batch larger than the whole queue never finds room for all of it at
                // once: its messages past those placed wait for room as they are queued.
                Err(_) if count > self.queue_capacity => break,
                // The places taken are given back as they are dropped.
                Err(_) => {
                    self.metrics.rejected("busy");
                    return Err(IngestError::Busy(self.queue_capacity));
                }
            }
        }
        Ok(places)
    }

    /// Stores decoded messages, waits until they are on disk, and queues the new ones in
    /// the places held for them (one per message).
    async fn journal(
        &self,
        source: &str,
        messages: Vec<Message>,
        first_trace: TraceEntry,
        started: Instant,
        places: Vec<OwnedPermit<String>>,
    ) -> Result<Vec<Accepted>, IngestError> {
        let durability = &self.store.durability;
        let now = crate::sla::now_millis();
        let accepted = self
            .store
            .accept(source, messages, now, &[first_trace])
            .map_err(|e| match durability.storage_error(&e) {
                Some(unavailable) => IngestError::StorageUnavailable(unavailable),
                None => IngestError::Store(e),
            })?;
        let flush_started = Instant::now();
        let ticket = durability.request();
        if let Err(e) = durability.wait_for(ticket).await {
            self.metrics.rejected("storage-unavailable");
            // Stored, and on disk once a flush succeeds: then they go through the
            // pipeline, and a retry with the same idempotency key gets the same id.
            let (durability, queue) = (durability.clone(), self.queue.clone());
            let ids: Vec<String> = accepted
                .iter()
                .filter(|a| !a.duplicate)
                .map(|a| a.id.clone())
                .collect();
            tokio::spawn(async move {
                if durability.durable(ticket).await.is_ok() {
                    for id in ids {
                        let _ = queue.send(id).await;
                    }
                }
            });
            return Err(IngestError::StorageUnavailable(e));
        }
        // How long "durable before acknowledged" costs: the group commit's share of ingest.
        self.metrics.stage("flush", flush_started.elapsed());
        self.metrics.stage("ingest", started.elapsed());
        // A duplicate's place is given back when it is dropped.
        let mut places = places.into_iter();
        for a in &accepted {
            let place = places.next();
            if a.duplicate {
                self.metrics.duplicates.inc();
                continue;
            }
            self.metrics.ingested.inc();
            tracing::info!(message_id = %a.id, source, "accepted");
            // Journaled already: if the hub stops before this send, start-up requeues it.
            match place {
                Some(place) => {
                    place.send(a.id.clone());
                }
                None => {
                    let _ = self.queue.send(a.id.clone()).await;
                }
            }
        }
        Ok(accepted)
    }
}

fn apply_overrides(config: &mut Config, overrides: &Overrides) {
    if let Some(listen) = &overrides.listen {
        config.hub.listen = listen.clone();
    }
    if let Some(dir) = &overrides.data_dir {
        config.hub.data_dir = dir.clone();
    } else if config.hub.data_dir.is_relative() {
        config.hub.data_dir = config.base_dir.join(&config.hub.data_dir);
    }
}

/// How often the data dir's free space is looked at (and, after sled stopped, a probe
/// written): how long a disk that filled up or got room again can go unnoticed.
const SPACE_CHECK: Duration = Duration::from_millis(250);

/// Keeps the store's view of its disk's free space current (see
/// [`crate::store::Durability::check_space`]), with the reserve of the config in force.
async fn space_loop(hub: Arc<Hub>, data_dir: PathBuf) {
    let mut tick = tokio::time::interval(SPACE_CHECK);
    loop {
        tick.tick().await;
        let reserve = hub
            .active()
            .config
            .hub
            .min_free_disk_mib
            .saturating_mul(1 << 20);
        let durability = hub.store.durability.clone();
        let dir = data_dir.clone();
        // statvfs and the probe touch the disk: off the async workers.
        let _ = tokio::task::spawn_blocking(move || durability.check_space(&dir, reserve)).await;
    }
}

async fn compaction_loop(hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let days = hub.active().config.hub.retention_days as i64;
        let cutoff = crate::sla::now_millis() - days * 86_400_000;
        match hub.store.compact(cutoff) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                retention_days = days,
                "compacted finished messages"
            ),
            Err(e) => tracing::error!(error = %e, "compaction failed"),
        }
        // Blobs past their retention (see store/blobs).
        let blobs = hub.store.blobs.clone();
        let swept =
            tokio::task::spawn_blocking(move || blobs.sweep(std::time::SystemTime::now())).await;
        match swept {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "swept blobs past retention"),
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "sweeping blobs failed"),
            Err(e) => tracing::error!(error = %e, "sweeping blobs failed"),
        }
    }
}
