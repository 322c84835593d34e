//! Group commit: many requests wait on one flush, so that "durable before acknowledged"
//! costs one fsync per batch rather than one per message.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{watch, Notify};

/// Requests one flush answered above which the flusher counts as busy and lingers.
const BUSY_BATCH: u64 = 8;

/// How long a busy flusher waits for more requests before it flushes.
const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

pub struct Durability {
    db: sled::Db,
    requested: AtomicU64,
    wake: Notify,
    flushed: watch::Sender<u64>,
}

impl Durability {
    pub fn new(db: sled::Db) -> Durability {
        Durability {
            db,
            requested: AtomicU64::new(0),
            wake: Notify::new(),
            flushed: watch::channel(0).0,
        }
    }

    /// Returns once everything written before this call is on disk.
    pub async fn wait(&self) -> anyhow::Result<()> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        let mut flushed = self.flushed.subscribe();
        flushed
            .wait_for(|done| *done >= ticket)
            .await
            .map_err(|_| anyhow::anyhow!("the store's flusher stopped"))?;
        Ok(())
    }

    /// The flusher: run once, as a task, for the store's lifetime.
    pub async fn run(self: std::sync::Arc<Self>) {
        let mut last_batch = 0;
        loop {
            self.wake.notified().await;
            loop {
                let done = *self.flushed.borrow();
                if self.requested.load(Ordering::SeqCst) <= done {
                    break;
                }
                // Under load (the last flush answered a crowd), a short wait lets one
                // fsync answer more requests: fewer flushes cost less CPU per message.
                // A lone request is flushed at once.
                if last_batch >= BUSY_BATCH {
                    tokio::time::sleep(LINGER).await;
                }
                let target = self.requested.load(Ordering::SeqCst);
                let db = self.db.clone();
                match tokio::task::spawn_blocking(move || db.flush()).await {
                    Ok(Ok(_)) => {
                        self.flushed.send_replace(target);
                        last_batch = target - done;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "flushing the store failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => tracing::error!(error = %e, "the flush task failed"),
                }
            }
        }
    }
}
