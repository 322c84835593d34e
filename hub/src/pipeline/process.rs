//! The pipeline workers: classify, decide and route one accepted message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex};
use tracing::Instrument;

use super::{trace, Hub};
use crate::model::{Classification, Decision};
use crate::runtime::{CallError, Plugin};
use crate::store::{Attempt, DeadLetter, Delivery, DeliveryState, OutboxEntry, Record, State};

/// Attempts of a pipeline step whose error may be transient (a timeout, an upstream
/// failure) before the message is dead-lettered.
const STEP_ATTEMPTS: u32 = 3;

pub async fn worker(hub: Arc<Hub>, queue: Arc<Mutex<mpsc::Receiver<String>>>) {
    loop {
        let next = queue.lock().await.recv().await;
        let Some(id) = next else { return };
        let span = tracing::info_span!("message", message_id = %id);
        if let Err(e) = process(&hub, &id).instrument(span).await {
            tracing::error!(message_id = %id, error = %format!("{e:#}"), "processing failed; the message stays pending until restart");
        }
    }
}

/// Calls a plugin step, retrying transient errors with backoff.
async fn call_step<T, F, Fut>(plugin: &Plugin, mut call: F) -> (Result<T, CallError>, Vec<Attempt>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut attempts = Vec::new();
    for n in 1..=STEP_ATTEMPTS {
        match call().await {
            Ok(v) => return (Ok(v), attempts),
            Err(e) => {
                attempts.push(Attempt {
                    at: crate::sla::now_millis(),
                    error: e.to_string(),
                });
                if !e.is_transient() || n == STEP_ATTEMPTS {
                    return (Err(e), attempts);
                }
                tracing::warn!(plugin = plugin.name(), attempt = n, error = %e, "transient plugin failure; retrying");
                tokio::time::sleep(Duration::from_millis(200 << n)).await;
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

async fn process(hub: &Hub, id: &str) -> anyhow::Result<()> {
    let Some(mut record) = hub.store.get(id)? else {
        hub.store.done_pending(id)?;
        return Ok(());
    };
    if record.state != State::Accepted {
        hub.store.done_pending(id)?;
        return Ok(());
    }
    let active = hub.active();
    let message = record.message.clone();

    let mut classification = record.classification.clone().unwrap_or_default();
    for name in &active.config.pipeline.classifiers {
        let Some(plugin) = active.plugin(name.get_ref()) else {
            continue;
        };
        let started = Instant::now();
        let current = classification.clone();
        let (result, attempts) = call_step(plugin, || plugin.classify(&message, &current)).await;
        hub.metrics.stage("classify", started.elapsed());
        match result {
            Ok(c) => {
                record.trace.push(trace(
                    "classify",
                    started,
                    Some((plugin.name(), &plugin.info.sha256)),
                    Ok(classification_reasons(&current, &c)),
                ));
                classification = c;
            }
            Err(e) => return fail(hub, record, "classify", plugin, e, attempts, started),
        }
    }
    record.classification = Some(classification.clone());

    let decision = match &active.config.pipeline.policy {
        Some(name) => match active.plugin(name.get_ref()) {
            Some(plugin) => {
                let started = Instant::now();
                let (result, attempts) =
                    call_step(plugin, || plugin.decide(&message, &classification)).await;
                hub.metrics.stage("decide", started.elapsed());
                match result {
                    Ok(d) => {
                        record.trace.push(trace(
                            "decide",
                            started,
                            Some((plugin.name(), &plugin.info.sha256)),
                            Ok(d.reasons.clone()),
                        ));
                        d
                    }
                    Err(e) => return fail(hub, record, "decide", plugin, e, attempts, started),
                }
            }
            None => Decision::default(),
        },
        None => Decision::default(),
    };
    record.decision = Some(decision.clone());

    let started = Instant::now();
    let (routes, sinks) = active.config.route(&message, &classification, &decision);
    hub.metrics.stage("route", started.elapsed());
    if sinks.is_empty() {
        record.trace.push(trace(
            "route",
            started,
            None,
            Err("no route matched and no default route is configured".into()),
        ));
        record.state = State::Failed;
        let dead = DeadLetter {
            id: id.into(),
            target: "stage:route".into(),
            reason: "no route matched".into(),
            attempts: vec![],
            at: crate::sla::now_millis(),
        };
        hub.store.add_dead_letter(&dead)?;
        hub.metrics
            .dead_letters
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        hub.store.put(&record)?;
        hub.store.done_pending(id)?;
        return Ok(());
    }
    record.trace.push(trace(
        "route",
        started,
        None,
        Ok(vec![format!("routes {routes:?} → sinks {sinks:?}")]),
    ));
    record.routes = routes;
    let now = crate::sla::now_millis();
    for sink in &sinks {
        record.deliveries.insert(
            sink.clone(),
            Delivery {
                state: DeliveryState::Pending,
                attempts: 0,
                last_error: None,
                delivered_at: None,
            },
        );
        hub.store.schedule(&OutboxEntry {
            id: id.into(),
            sink: sink.clone(),
            attempts: 0,
            due_at: now,
            errors: vec![],
        })?;
    }
    record.state = State::Routed;
    hub.store.put(&record)?;
    hub.store.done_pending(id)?;
    tracing::info!(
        topic = classification.topic.as_ref().map(|t| t.best.code.as_str()).unwrap_or("-"),
        priority = decision.priority.as_str(),
        sinks = ?sinks,
        "routed"
    );
    hub.delivery_wake.notify_one();
    Ok(())
}

fn classification_reasons(before: &Classification, after: &Classification) -> Vec<String> {
    let mut reasons = Vec::new();
    if after.topic != before.topic {
        if let Some(t) = &after.topic {
            reasons.push(format!(
                "topic {} «{}» ({:.2}){}",
                t.best.code,
                t.best.name,
                t.best.confidence,
                if t.low_confidence {
                    ", low confidence"
                } else {
                    ""
                }
            ));
            reasons.extend(t.reasons.iter().cloned());
        }
    }
    if after.sentiment != before.sentiment {
        if let Some(s) = &after.sentiment {
            reasons.push(format!("sentiment {:?} ({:.2})", s.label, s.score));
            reasons.extend(s.reasons.iter().cloned());
        }
    }
    if after.kind != before.kind {
        if let Some(k) = &after.kind {
            reasons.push(format!(
                "kind {}{}",
                k.kind.as_str(),
                if k.repeat { ", repeat" } else { "" }
            ));
            reasons.extend(k.reasons.iter().cloned());
        }
    }
    if after.pii.len() != before.pii.len() {
        reasons.push(format!("{} personal-data span(s)", after.pii.len()));
    }
    let new_tags: Vec<&String> = after
        .tags
        .iter()
        .filter(|t| !before.tags.contains(t))
        .collect();
    if !new_tags.is_empty() {
        reasons.push(format!("tags {new_tags:?}"));
    }
    reasons
}

fn fail(
    hub: &Hub,
    mut record: Record,
    stage: &str,
    plugin: &Plugin,
    error: CallError,
    attempts: Vec<Attempt>,
    started: Instant,
) -> anyhow::Result<()> {
    hub.metrics.plugin_error(plugin.name(), error.kind());
    hub.metrics
        .dead_letters
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(plugin = plugin.name(), stage, error = %error, "step failed; message dead-lettered");
    record.trace.push(trace(
        stage,
        started,
        Some((plugin.name(), &plugin.info.sha256)),
        Err(error.to_string()),
    ));
    record.state = State::Failed;
    let id = record.message.id.clone();
    hub.store.add_dead_letter(&DeadLetter {
        id: id.clone(),
        target: format!("stage:{stage}"),
        reason: error.to_string(),
        attempts,
        at: crate::sla::now_millis(),
    })?;
    hub.store.put(&record)?;
    hub.store.done_pending(&id)?;
    Ok(())
}
