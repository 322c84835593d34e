//! Ingest's own threads. Decoding an input (at up to its connector's CPU limit, 100 ms
//! by default, all of which a hostile mail can use) and journaling it ran on the async
//! workers on equal terms with classify, decide and deliver, one task each: a flood of
//! ingests took the cores while the messages already acknowledged waited. Here ingests
//! run on threads of their own at a lower CPU priority, so that under load the cores go
//! first to the messages the hub has accepted and ingest gets what is left; an idle hub
//! ingests at full speed.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};

/// The nice value of the ingest threads (the pipeline's keep the process's own, 0 by
/// default). Linux's scheduler gives a thread at +5 about a quarter of a core against one
/// at 0 while both are busy.
const INGEST_NICE: i32 = 5;

pub struct IngestPool {
    /// Taken when the pool is dropped: a runtime must not be dropped where blocking is
    /// not allowed (inside the hub's own runtime), so it is shut down in the background.
    runtime: Option<Runtime>,
}

impl IngestPool {
    /// One thread per core, so that an idle hub ingests as fast as before.
    pub fn start() -> anyhow::Result<IngestPool> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("okno-ingest")
            .enable_all()
            .on_thread_start(lower_priority)
            .build()
            .map_err(|e| anyhow::anyhow!("starting the ingest threads: {e}"))?;
        Ok(IngestPool {
            runtime: Some(runtime),
        })
    }

    /// Runs `work` on the ingest threads and waits for its result.
    pub async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the ingest threads have stopped"))?;
        runtime
            .spawn(work)
            .await
            .map_err(|e| anyhow::anyhow!("an ingest task ended abnormally: {e}"))
    }
}

impl Drop for IngestPool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's CPU priority. Linux applies a nice value to one thread
/// (its tid), not to the whole process. A failure leaves the thread as it was: ingest
/// then shares the cores as before, which is slower under load but not wrong.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id.
        let result = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, INGEST_NICE)
        };
        if result != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not lower the ingest threads' priority; ingest competes with the pipeline"
            );
        }
    }
}
