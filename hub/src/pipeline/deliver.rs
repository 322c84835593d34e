//! Delivery: the outbox loop, encode by the sink's connector, send by the sink's
//! transport, retry with exponential backoff and jitter, then dead-letter.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Semaphore;

use super::{trace, Hub};
use crate::config::SinkConfig;
use crate::observability::{bounded, for_log, STORED_TEXT_BYTES};
use crate::store::{Attempt, DeadLetter, DeliveryState, OutboxEntry, State, Store};
use crate::transport::http_sink::{self, SendError};

/// How often the outbox is looked at when nothing wakes the loop.
const POLL: Duration = Duration::from_millis(50);

/// The first wait of the loop while the store cannot record results; it doubles up to
/// [`MAX_STORE_WAIT`].
const FIRST_STORE_WAIT: Duration = Duration::from_millis(100);
const MAX_STORE_WAIT: Duration = Duration::from_secs(1);

/// How long a delivery whose result could not be recorded waits before it is looked at
/// again: it was perhaps sent, so it is not sent again at once.
const BOOKKEEPING_RETRY: Duration = Duration::from_secs(1);

pub async fn delivery_loop(hub: Arc<Hub>) {
    // Deliveries started and not finished, by `Store::delivery_key`.
    let in_flight: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    // Where the last outbox scan stopped handing out deliveries (see `Store::due`).
    let mut resume = None;
    let mut limits: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut store_wait = FIRST_STORE_WAIT;
    let mut paused = false;
    loop {
        // A delivery's result must be recorded, or the delivery would be made again and
        // again: while the store cannot write, none is started.
        if hub.store.durability.cannot_write() {
            if !paused {
                tracing::warn!("deliveries paused: the store cannot record their results");
                paused = true;
            }
            tokio::time::sleep(store_wait).await;
            store_wait = (store_wait * 2).min(MAX_STORE_WAIT);
            continue;
        }
        if paused {
            tracing::warn!("deliveries resumed: the store records their results again");
            paused = false;
            store_wait = FIRST_STORE_WAIT;
        }
        let now = crate::sla::now_millis();
        let active = hub.active();
        // What each sink can start now, so that the outbox is read no further than that.
        let mut free: HashMap<String, usize> = active
            .config
            .sinks
            .iter()
            .map(|sink| {
                let permits = limits
                    .entry(sink.name.get_ref().clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(sink.concurrency)));
                (sink.name.get_ref().clone(), permits.available_permits())
            })
            .collect();
        // Held for the scan only (no await inside): a finishing delivery waits that long.
        let due = hub.store.due(
            now,
            &mut free,
            &in_flight.lock().unwrap_or_else(|p| p.into_inner()),
            &mut resume,
        );
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                Vec::new()
            }
        };
        for entry in due {
            let concurrency = active
                .config
                .sink(&entry.sink)
                .map(|s| s.concurrency)
                .unwrap_or(1);
            let permits = limits
                .entry(entry.sink.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(concurrency)))
                .clone();
            let Ok(permit) = permits.try_acquire_owned() else {
                continue;
            };
            let key = Store::delivery_key(&entry.id, &entry.sink);
            in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.clone());
            let (hub, in_flight) = (hub.clone(), in_flight.clone());
            tokio::spawn(async move {
                let (id, sink) = (entry.id.clone(), entry.sink.clone());
                if let Err(e) = deliver_one(&hub, entry).await {
                    // sled's own I/O errors stop the store (and so the loop); each
                    // is logged there once, others here.
                    if hub.store.durability.storage_error(&e).is_none() {
                        tracing::error!(message_id = %id, sink = %sink, error = %format!("{e:#}"), "delivery bookkeeping failed; will retry");
                    }
                    drop(permit);
                    tokio::time::sleep(BOOKKEEPING_RETRY).await;
                } else {
                    drop(permit);
                }
                in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                hub.delivery_wake.notify_one();
            });
        }
        tokio::select! {
            _ = hub.delivery_wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

fn backoff(sink: &SinkConfig, attempts: u32) -> Duration {
    let exp = sink
        .backoff_ms
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    let capped = exp.min(sink.max_backoff_ms);
    // Full jitter in [50%, 100%] keeps retries of a recovering sink from arriving together.
    let jittered = capped / 2 + rand::thread_rng().gen_range(0..=capped / 2);
    Duration::from_millis(jittered.max(1))
}

async fn deliver_one(hub: &Hub, entry: OutboxEntry) -> anyhow::Result<()> {
    let started = Instant::now();
    let active = hub.active();
    let Some(read) = hub.store.get_for_update(&entry.id)? else {
        return hub.store.finish_delivery(&entry);
    };
    let record = &read.record;
    let received_at = record.message.received_at;
    // A sink that waits for the registration number (a reply quoting it) looks again
    // shortly; no attempt is counted.
    if let Some(due_at) = active
        .config
        .sink(&entry.sink)
        .and_then(|sink| super::registration::held_until(sink, record, crate::sla::now_millis()))
    {
        return hub.store.reschedule(
            &entry,
            &OutboxEntry {
                due_at,
                ..entry.clone()
            },
        );
    }
    let outcome: Result<(), (SendError, bool)> = match active.config.sink(&entry.sink) {
        None => Err((
            SendError::Permanent(format!("sink {:?} is no longer configured", entry.sink)),
            true,
        )),
        Some(sink) => match active.plugin(sink.connector.get_ref()) {
            None => Err((
                SendError::Permanent(format!(
                    "connector {:?} is not loaded",
                    sink.connector.get_ref()
                )),
                true,
            )),
            Some(connector) => {
                let classification = record.classification.clone().unwrap_or_default();
                let decision = record.decision.clone().unwrap_or_default();
                let mut message = super::registration::for_encode(record);
                // A sink that takes the files gets their content (see store/blobs).
                let attached = if sink.attachments {
                    hub.store.blobs.attach_contents(message.to_mut())
                } else {
                    Ok(())
                };
                let encoded = match attached {
                    Ok(()) => Ok(connector.encode(&message, &classification, &decision).await),
                    Err(missing) => Err(missing),
                };
                match encoded {
                    Err(missing) => Err((SendError::Permanent(missing), false)),
                    Ok(encoded) => match encoded {
                        Err(e) => {
                            hub.metrics.plugin_error(connector.name(), e.kind());
                            let transient = e.is_transient();
                            // The connector's message is kept in the record: bounded.
                            let text = bounded(&e.to_string(), STORED_TEXT_BYTES).into_owned();
                            Err((
                                if transient {
                                    SendError::Transient(text)
                                } else {
                                    SendError::Permanent(text)
                                },
                                false,
                            ))
                        }
                        Ok(outbound) if sink.transport.get_ref() == "dir" => {
                            let dir = sink
                                .dir
                                .as_ref()
                                .map(|d| active.config.resolve_path(d.path.get_ref()))
                                .unwrap_or_default();
                            crate::transport::dir::write_packet(dir, &entry.id, outbound)
                                .await
                                .map_err(|e| (e, false))
                        }
                        // The sink's client comes with the config in force: its own TLS
                        // settings, or the hub-wide ones.
                        Ok(outbound) => match active.smtp_sink(&entry.sink) {
                            Some(smtp) => {
                                crate::transport::smtp_sink::send(smtp, &entry.id, outbound)
                                    .await
                                    .map_err(|e| (e, false))
                            }
                            None => http_sink::send(
                                active.sink_client(&entry.sink),
                                sink,
                                &entry.id,
                                outbound,
                            )
                            .await
                            .map_err(|e| (e, false)),
                        },
                    },
                }
            }
        },
    };
    hub.metrics.stage("deliver", started.elapsed());
    let attempts = entry.attempts + 1;
    let now = crate::sla::now_millis();
    match outcome {
        Ok(()) => {
            hub.metrics.delivered.inc();
            hub.metrics
                .ingest_to_delivery(Duration::from_millis((now - received_at).max(0) as u64));
            hub.store.update_read(read, |r| {
                if let Some(d) = r.deliveries.get_mut(&entry.sink) {
                    d.state = DeliveryState::Delivered;
                    d.attempts = attempts;
                    d.delivered_at = Some(now);
                }
                r.trace.push(trace(
                    "deliver",
                    started,
                    None,
                    Ok(vec![format!(
                        "delivered to sink {:?} (attempt {attempts})",
                        entry.sink
                    )]),
                ));
                // Delivered once every delivery the route stage wrote is: a record
                // without any (never routed) is not.
                if r.state == State::Routed
                    && !r.deliveries.is_empty()
                    && r.deliveries
                        .values()
                        .all(|d| d.state == DeliveryState::Delivered)
                {
                    r.state = State::Delivered;
                }
            })?;
            tracing::info!(message_id = %entry.id, sink = %entry.sink, attempts, "delivered");
            hub.store.finish_delivery(&entry)
        }
        Err((error, _)) => {
            let max_attempts = active
                .config
                .sink(&entry.sink)
                .map(|s| s.max_attempts)
                .unwrap_or(1);
            let mut errors = entry.errors.clone();
            errors.push(Attempt {
                at: now,
                error: error.to_string(),
            });
            let give_up = matches!(error, SendError::Permanent(_)) || attempts >= max_attempts;
            if give_up {
                hub.metrics.dead_letters.inc();
                tracing::warn!(message_id = %entry.id, sink = %entry.sink, attempts, error = %for_log(&error.to_string()), "delivery failed for good; dead-lettered");
                let reason = format!("{error} (after {attempts} attempt(s))");
                hub.store.add_dead_letter(&DeadLetter {
                    id: entry.id.clone(),
                    target: format!("sink:{}", entry.sink),
                    reason: reason.clone(),
                    attempts: errors,
                    at: now,
                })?;
                hub.store.update_read(read, |r| {
                    if let Some(d) = r.deliveries.get_mut(&entry.sink) {
                        d.state = DeliveryState::Dead;
                        d.attempts = attempts;
                        d.last_error = Some(reason.clone());
                    }
                    r.trace.push(trace(
                        "deliver",
                        started,
                        None,
                        Err(format!("sink {:?}: {reason}", entry.sink)),
                    ));
                    r.state = State::Failed;
                })?;
                hub.store.finish_delivery(&entry)
            } else {
                hub.metrics.retries.inc();
                let sink = active
                    .config
                    .sink(&entry.sink)
                    .expect("checked above: a missing sink is permanent");
                let delay = backoff(sink, attempts);
                tracing::info!(message_id = %entry.id, sink = %entry.sink, attempts, retry_in_ms = delay.as_millis() as u64, error = %for_log(&error.to_string()), "delivery failed; will retry");
                hub.store.update_read(read, |r| {
                    if let Some(d) = r.deliveries.get_mut(&entry.sink) {
                        d.attempts = attempts;
                        d.last_error = Some(error.to_string());
                    }
                })?;
                let next = OutboxEntry {
                    attempts,
                    due_at: now + delay.as_millis() as i64,
                    errors,
                    ..entry.clone()
                };
                hub.store.reschedule(&entry, &next)
            }
        }
    }
}
