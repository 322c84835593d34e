//! The pipeline workers: classify, decide and route one accepted message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Mutex};
use tracing::Instrument;

use super::{trace, Hub};
use crate::model::{Classification, Decision};
use crate::observability::{bounded, for_log, STORED_TEXT_BYTES};
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
            // sled's own I/O error stops the store until it is reopened (logged there).
            if hub.store.durability.storage_error(&e).is_some() {
                continue;
            }
            tracing::error!(message_id = %id, error = %for_log(&format!("{e:#}")), "processing failed; the message stays pending until restart");
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
                    error: stored_text(&e),
                });
                if !e.is_transient() || n == STEP_ATTEMPTS {
                    return (Err(e), attempts);
                }
                tracing::warn!(plugin = plugin.name(), attempt = n, error = %for_log(&e.to_string()), "transient plugin failure; retrying");
                tokio::time::sleep(Duration::from_millis(200 << n)).await;
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Classifies, decides and routes one pending message. The stages work on a copy; what
/// they add is written at the end with one compare-and-swap that holds only while the
/// record is still `accepted`, so that nothing written meanwhile (a correction, a
/// delivery, a second run of the same message) is overwritten.
async fn process(hub: &Hub, id: &str) -> anyhow::Result<()> {
    let Some(record) = hub.store.get(id)? else {
        hub.store.done_pending(id)?;
        return Ok(());
    };
    match record.state {
        State::Accepted => {}
        State::Routed => return resume_routed(hub, &record),
        State::Delivered | State::Failed => return hub.store.done_pending(id),
    }
    let active = hub.active();
    let message = record.message;
    // The trace entries this run adds.
    let mut traced = Vec::new();
    // An answer carrying a registration number puts it on the appeal it answers.
    traced.extend(super::registration::carry(hub, &message)?);

    // The SLA engine's reminders and escalations are routed only.
    let internal = crate::sla::is_internal(&message);
    let mut classification = record.classification.unwrap_or_default();
    for name in active
        .config
        .pipeline
        .classifiers
        .iter()
        .filter(|_| !internal)
    {
        let Some(plugin) = active.plugin(name.get_ref()) else {
            continue;
        };
        let started = Instant::now();
        let current = classification.clone();
        let (result, attempts) = call_step(plugin, || plugin.classify(&message, &current)).await;
        hub.metrics.stage("classify", started.elapsed());
        match result {
            Ok(c) => {
                traced.push(trace(
                    "classify",
                    started,
                    Some((plugin.name(), &plugin.info.sha256)),
                    Ok(classification_reasons(&current, &c)),
                ));
                classification = c;
            }
            Err(e) => {
                let done = Outcome {
                    classification: None,
                    decision: None,
                    traced,
                };
                return fail(hub, id, done, "classify", plugin, e, attempts, started);
            }
        }
    }

    let mut decision = match active.config.pipeline.policy.as_ref().filter(|_| !internal) {
        Some(name) => match active.plugin(name.get_ref()) {
            Some(plugin) => {
                let started = Instant::now();
                let (result, attempts) =
                    call_step(plugin, || plugin.decide(&message, &classification)).await;
                hub.metrics.stage("decide", started.elapsed());
                match result {
                    Ok(d) => {
                        traced.push(trace(
                            "decide",
                            started,
                            Some((plugin.name(), &plugin.info.sha256)),
                            Ok(d.reasons.clone()),
                        ));
                        d
                    }
                    Err(e) => {
                        let done = Outcome {
                            classification: Some(classification),
                            decision: None,
                            traced,
                        };
                        return fail(hub, id, done, "decide", plugin, e, attempts, started);
                    }
                }
            }
            None => Decision::default(),
        },
        None => Decision::default(),
    };

    // Deadlines by the SLA rules, assignment by the directory, timers.
    let started = Instant::now();
    if let Some(mut entry) =
        hub.sla
            .on_decided(&active.config, &message, &classification, &mut decision)?
    {
        entry.duration_us = started.elapsed().as_micros() as u64;
        traced.push(entry);
    }

    let started = Instant::now();
    let (routes, sinks) = active.config.route(&message, &classification, &decision);
    hub.metrics.stage("route", started.elapsed());
    if sinks.is_empty() {
        // Not delivered, since nothing was: failed, with a dead letter that says so, so
        // that an admin sees it and can replay it once a route matches.
        let reason = "no route matched and no default route is configured";
        traced.push(trace("route", started, None, Err(reason.into())));
        hub.store.add_dead_letter(&DeadLetter {
            id: id.into(),
            target: "stage:route".into(),
            reason: reason.into(),
            attempts: vec![],
            at: crate::sla::now_millis(),
        })?;
        hub.metrics.dead_letters.inc();
        let done = Outcome {
            classification: Some(classification),
            decision: Some(decision),
            traced,
        };
        done.write(hub, id, State::Failed, |_| {})?;
        tracing::warn!("no route matched; message dead-lettered");
        return hub.store.done_pending(id);
    }
    traced.push(trace(
        "route",
        started,
        None,
        Ok(vec![format!("routes {routes:?} → sinks {sinks:?}")]),
    ));
    let topic = classification
        .topic
        .as_ref()
        .map(|t| t.best.code.clone())
        .unwrap_or_else(|| "-".into());
    let priority = decision.priority.as_str();
    let done = Outcome {
        classification: Some(classification),
        decision: Some(decision),
        traced,
    };
    // The record with its pending deliveries first, the outbox after: a delivery can only
    // start once the record says what it delivers, so its result is written over the
    // routed record and never under it. A crash in between leaves the message pending
    // and routed: `resume_routed` schedules what is missing.
    let written = done.write(hub, id, State::Routed, |r| {
        r.routes = routes.clone();
        for sink in &sinks {
            r.deliveries.insert(
                sink.clone(),
                Delivery {
                    state: DeliveryState::Pending,
                    attempts: 0,
                    last_error: None,
                    delivered_at: None,
                },
            );
        }
    })?;
    if !written {
        // Someone else moved it on meanwhile (a second run of the same message).
        return hub.store.done_pending(id);
    }
    let now = crate::sla::now_millis();
    for sink in &sinks {
        hub.store.schedule(&OutboxEntry {
            id: id.into(),
            sink: sink.clone(),
            attempts: 0,
            due_at: now,
            errors: vec![],
        })?;
    }
    hub.store.done_pending(id)?;
    tracing::info!(topic = topic.as_str(), priority, sinks = ?sinks, "routed");
    hub.delivery_wake.notify_one();
    Ok(())
}

/// What a run of the stages adds to a record.
struct Outcome {
    classification: Option<Classification>,
    decision: Option<Decision>,
    traced: Vec<crate::store::TraceEntry>,
}

impl Outcome {
    /// Writes the outcome with `state`, plus `more`, if the record is still `accepted`;
    /// returns whether it was.
    fn write(
        &self,
        hub: &Hub,
        id: &str,
        state: State,
        more: impl Fn(&mut Record),
    ) -> anyhow::Result<bool> {
        let written = hub.store.update_if(id, |r| {
            if r.state != State::Accepted {
                return false;
            }
            if let Some(c) = &self.classification {
                r.classification = Some(c.clone());
            }
            if let Some(d) = &self.decision {
                r.decision = Some(d.clone());
            }
            r.trace.extend(self.traced.iter().cloned());
            r.state = state;
            more(r);
            true
        })?;
        Ok(written.is_some())
    }
}

/// A message left pending after its record was routed: the hub stopped before it
/// scheduled every delivery. Schedules those still pending that the outbox lacks.
fn resume_routed(hub: &Hub, record: &Record) -> anyhow::Result<()> {
    let id = &record.message.id;
    let now = crate::sla::now_millis();
    for sink in hub.store.unscheduled_deliveries(record)? {
        let attempts = record.deliveries.get(&sink).map_or(0, |d| d.attempts);
        hub.store.schedule(&OutboxEntry {
            id: id.clone(),
            sink,
            attempts,
            due_at: now,
            errors: vec![],
        })?;
    }
    hub.store.done_pending(id)?;
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

#[allow(clippy::too_many_arguments)]
fn fail(
    hub: &Hub,
    id: &str,
    mut done: Outcome,
    stage: &str,
    plugin: &Plugin,
    error: CallError,
    attempts: Vec<Attempt>,
    started: Instant,
) -> anyhow::Result<()> {
    hub.metrics.plugin_error(plugin.name(), error.kind());
    hub.metrics.dead_letters.inc();
    tracing::warn!(plugin = plugin.name(), stage, error = %for_log(&error.to_string()), "step failed; message dead-lettered");
    let reason = stored_text(&error);
    done.traced.push(trace(
        stage,
        started,
        Some((plugin.name(), &plugin.info.sha256)),
        Err(reason.clone()),
    ));
    // The dead letter first: written again by a second run after a crash, never missing
    // behind a failed record.
    hub.store.add_dead_letter(&DeadLetter {
        id: id.into(),
        target: format!("stage:{stage}"),
        reason,
        attempts,
        at: crate::sla::now_millis(),
    })?;
    done.write(hub, id, State::Failed, |_| {})?;
    hub.store.done_pending(id)?;
    Ok(())
}

/// A plugin's error as the record keeps it: its message is the plugin's to choose, so it
/// is bounded like anything else from outside.
fn stored_text(error: &CallError) -> String {
    bounded(&error.to_string(), STORED_TEXT_BYTES).into_owned()
}
