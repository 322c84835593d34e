//! The poll transport: a source with `transport = "poll"` asks a remote system for new
//! items on a schedule, through its connector's `polling.poll` (the plugin builds the
//! request through its `http` capability and keeps its cursor in its kv).
//!
//! One task per source, so a source is never polled twice at once. Each round: `poll`,
//! journal every message of the batch through the hub's ingest (idempotency keys, the
//! durable flush, the queue), and only then `ack` the batch's token. A batch that says
//! `more` is followed at once; otherwise the next round waits `interval_ms`. A failed
//! round (the plugin's error, a journal refused, a failed ack) waits an exponential,
//! jittered backoff. If the hub stops between journal and ack, the remote system hands
//! the batch out again and the repeated idempotency keys make it a duplicate.
//!
//! Attachments: a poller returns messages already decoded, so there are no raw inbound
//! bytes for the blob store to take their content from, as it does for a pushed input.
//! The content is in what the remote system answered the plugin's HTTP calls (SMEV's
//! `GetRequestResponse` with base64 `AttachmentContent` or its MTOM parts, a feed of SOG
//! cards with `attachments[].content`): the runtime records those answers during `poll`
//! (at most twice `hub.blobs.max_blob_bytes` in all), and the round hands them to the blob store
//! before journaling, which keeps each attachment found there by its SHA-256, and the
//! answer as the messages' raw inbound. An attachment not found or not kept is named in
//! the messages' `poll` trace entry; the message is journaled all the same.
//!
//! One log line per change of state (polling, failing, recovered), not per poll;
//! counts in `okno_transport_events_total{transport="poll"}` and
//! `okno_transport_failing{transport="poll"}`.

pub mod config;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::observability::for_log;
use crate::pipeline::{Hub, IngestError};
use crate::runtime::{CallError, Plugin};
use crate::store::blobs::NotKept;
use config::PollConfig;

const TRANSPORT: &str = "poll";
/// How often the config in force is looked at for poll sources added or removed.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

/// Why a round failed.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("poll failed: {0}")]
    Poll(CallError),
    #[error("journaling the batch failed, so it was not acknowledged: {0}")]
    Journal(IngestError),
    #[error("the batch is journaled, but its ack failed (it will come again as duplicates): {0}")]
    Ack(CallError),
}

/// Starts polling every `poll` source of the config in force, and follows reloads:
/// a source added starts, a source removed (or no longer `poll`) stops after its round.
pub fn start(hub: &Arc<Hub>) {
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            running.retain(|_, task| !task.is_finished());
            let active = hub.active();
            for source in &active.config.sources {
                let name = source.name.get_ref();
                if source.transport.get_ref() == TRANSPORT && !running.contains_key(name) {
                    let task = tokio::spawn(run_source(hub.clone(), name.clone()));
                    running.insert(name.clone(), task);
                }
            }
            drop(active);
            tokio::time::sleep(SUPERVISE_EVERY).await;
        }
    });
}

/// The source's settings and connector in the config in force, or `None` once it is no
/// longer a poll source.
fn current(hub: &Hub, name: &str) -> Option<(PollConfig, Option<Arc<Plugin>>)> {
    let active = hub.active();
    let source = active.config.source(name)?;
    if source.transport.get_ref() != TRANSPORT {
        return None;
    }
    let plugin = active.plugin(source.connector.get_ref()).cloned();
    Some((source.poll.clone().unwrap_or_default(), plugin))
}

async fn run_source(hub: Arc<Hub>, name: String) {
    let mut failures: u32 = 0;
    hub.metrics.transport_failing(TRANSPORT, &name, false);
    if let Some((settings, _)) = current(&hub, &name) {
        tracing::info!(source = %name, interval_ms = settings.interval_ms.get_ref(), "polling");
    }
    while let Some((settings, plugin)) = current(&hub, &name) {
        // A loaded config names a loaded plugin; this is only for a reload in between.
        let Some(plugin) = plugin else {
            tokio::time::sleep(settings.interval()).await;
            continue;
        };
        match round(&hub, &name, &plugin).await {
            Ok(more) => {
                if failures > 0 {
                    tracing::info!(source = %name, failures, "polling again: the remote system answers");
                    hub.metrics.transport_failing(TRANSPORT, &name, false);
                }
                failures = 0;
                if !more {
                    tokio::time::sleep(settings.interval()).await;
                }
            }
            Err(error) => {
                hub.metrics.transport_event(TRANSPORT, &name, "error", 1);
                failures = failures.saturating_add(1);
                let wait = settings.backoff(failures);
                if failures == 1 {
                    tracing::warn!(source = %name, error = %for_log(&error.to_string()), "polling fails; backing off until it answers");
                    hub.metrics.transport_failing(TRANSPORT, &name, true);
                } else {
                    tracing::debug!(source = %name, failures, wait_ms = wait.as_millis() as u64, error = %for_log(&error.to_string()), "poll failed again");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
    hub.metrics.transport_failing(TRANSPORT, &name, false);
    tracing::info!(source = %name, "polling stopped: the source is no longer configured to poll");
}

/// One round: poll, journal, ack. Returns whether the remote system has more waiting.
async fn round(hub: &Hub, name: &str, plugin: &Plugin) -> Result<bool, RoundError> {
    let started = Instant::now();
    let blobs = hub.store.blobs.clone();
    let batch = plugin
        .poll_recording(blobs.poll_record_bytes())
        .await
        .map_err(|e| {
            hub.metrics.plugin_error(plugin.name(), e.kind());
            RoundError::Poll(e)
        })?;
    hub.metrics.transport_event(TRANSPORT, name, "poll", 1);
    if !batch.messages.is_empty() {
        let count = batch.messages.len();
        // Attachments and the raw answers into the blob store (fsynced files: off the
        // async workers).
        let (mut messages, responses) = (batch.messages, batch.responses);
        let (messages, not_kept) = tokio::task::spawn_blocking(move || {
            let not_kept = blobs.keep_polled(&responses, &mut messages);
            let lines = NotKept::describe(&not_kept, &messages);
            (messages, lines)
        })
        .await
        .map_err(|e| {
            RoundError::Journal(IngestError::Store(anyhow::anyhow!(
                "keeping attachments: {e}"
            )))
        })?;
        let mut reasons = vec![format!("{count} message(s) polled by source {name:?}")];
        reasons.extend(not_kept);
        let trace = crate::pipeline::trace(
            "poll",
            started,
            Some((plugin.name(), &plugin.info.sha256)),
            Ok(reasons),
        );
        hub.ingest_decoded(name, messages, trace)
            .await
            .map_err(RoundError::Journal)?;
        hub.metrics
            .transport_event(TRANSPORT, name, "message", count as u64);
    }
    if let Some(token) = &batch.ack {
        plugin.ack(token).await.map_err(|e| {
            hub.metrics.plugin_error(plugin.name(), e.kind());
            RoundError::Ack(e)
        })?;
        hub.metrics.transport_event(TRANSPORT, name, "ack", 1);
    }
    Ok(batch.more)
}
