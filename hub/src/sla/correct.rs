//! An official's topic correction: the policy decides again on the corrected topic, the
//! deadline rule and the directory are applied again, and where the responsible or the
//! deadline changes the appeal is reassigned, with a history entry that says why; then
//! the routes are evaluated again, and a sink a route now names is delivered to.

use super::{deadlines, directory, now_millis, AppealState, Clock, Transition};
use crate::pipeline::Hub;
use crate::store::{Delivery, DeliveryState, OutboxEntry, State};

/// What changed, in words (empty: nothing did). An appeal with nothing more owed
/// (answered, closed, forwarded) is left alone; a message not watched is routed again.
pub async fn on_corrected(hub: &Hub, id: &str, by: &str) -> anyhow::Result<Vec<String>> {
    let Some(record) = hub.store.get(id)? else {
        return Ok(Vec::new());
    };
    let watched = hub.sla.get(id)?;
    if watched.as_ref().is_some_and(|a| a.state.is_done()) {
        return Ok(Vec::new());
    }
    let active = hub.active();
    let config = &active.config;
    let classification = record.classification.clone().unwrap_or_default();
    let policy = config
        .pipeline
        .policy
        .as_ref()
        .and_then(|name| active.plugin(name.get_ref()));
    let mut decision = match policy {
        Some(plugin) => plugin
            .decide(&record.message, &classification)
            .await
            .map_err(|e| anyhow::anyhow!("the policy on the corrected topic: {e}"))?,
        None => record.decision.clone().unwrap_or_default(),
    };
    let clock = Clock {
        utc_offset_minutes: config.hub.utc_offset_minutes,
        hours: &config.sla.working_hours,
    };
    let computed = deadlines::compute(
        &config.sla,
        &clock,
        &record.message,
        &classification,
        &decision,
    );
    if watched.is_none() {
        // Not watched (the engine is off, or the message has no deadlines): the new
        // decision as the policy gave it, and the routes again.
        hub.store
            .update(id, |r| r.decision = Some(decision.clone()))?;
        return reroute(hub, config, id);
    }
    let topic = classification.topic.as_ref().map(|t| t.best.code.clone());
    let now = now_millis();
    let assignment = directory::assign(
        &config.departments,
        topic.as_deref(),
        record.message.channel,
        clock.local_day(now),
    );
    let mut notes = Vec::new();
    let changed = hub.sla.update(id, |a| {
        notes.clear();
        a.topic = topic.clone();
        let (department, executor, controller) = match &assignment {
            Some(x) => (
                Some(x.department.clone()),
                Some(x.executor.clone()),
                x.controller.clone(),
            ),
            None => (
                a.department.clone(),
                decision.responsible.clone().or(a.executor.clone()),
                a.controller.clone(),
            ),
        };
        let reassigned = department != a.department || executor != a.executor;
        if reassigned {
            notes.push(format!(
                "topic corrected to {}: responsible {} / {} → {} / {}",
                topic.as_deref().unwrap_or("(none)"),
                a.department.as_deref().unwrap_or("-"),
                a.executor.as_deref().unwrap_or("-"),
                department.as_deref().unwrap_or("-"),
                executor.as_deref().unwrap_or("-"),
            ));
            a.department = department.clone();
            a.executor = executor.clone();
            a.controller = controller;
        }
        // An extended deadline is the official's decision; a correction leaves it.
        let mut new_deadline = None;
        if let Some(d) = computed.as_ref().filter(|_| !a.extended) {
            if d.answer != a.answer_deadline || d.rule != a.rule {
                notes.push(format!(
                    "deadline rule {} → {}: answer by {}",
                    a.rule,
                    d.rule,
                    d.answer.map_or_else(
                        || "none".into(),
                        |t| super::format_local(t, clock.utc_offset_minutes)
                    )
                ));
                a.rule = d.rule.clone();
                a.answer_deadline = d.answer;
                a.extendable = d.extendable;
                if a.state == AppealState::Received {
                    a.registration_deadline = d.registration;
                }
                new_deadline = d.answer;
            }
        }
        if notes.is_empty() {
            return Err(());
        }
        a.history.push(Transition {
            at: now,
            from: a.state,
            to: a.state,
            by: by.to_string(),
            reason: Some(notes.join("; ")),
            executor: reassigned.then(|| executor.clone()).flatten(),
            department: reassigned.then(|| department.clone()).flatten(),
            answer_deadline: new_deadline,
        });
        Ok(())
    })?;
    let appeal = match changed {
        Some(Ok((appeal, ()))) => {
            hub.sla.schedule(&appeal, &config.sla, &clock, false)?;
            appeal
        }
        // Nothing of the appeal changed: the decision still takes its deadlines.
        Some(Err(())) => {
            notes.clear();
            match hub.sla.get(id)? {
                Some(a) => a,
                None => return Ok(Vec::new()),
            }
        }
        None => return Ok(Vec::new()),
    };
    decision.answer_deadline = appeal.answer_deadline;
    decision.registration_deadline = appeal.registration_deadline;
    if decision.responsible.is_none() {
        decision.responsible = appeal.department.clone();
    }
    let note = notes.join("; ");
    hub.store.update(id, |r| {
        r.decision = Some(decision.clone());
        if !note.is_empty() {
            r.trace.push(crate::pipeline::trace_entry("sla", &note));
        }
    })?;
    notes.extend(reroute(hub, config, id)?);
    Ok(notes)
}

/// Routes the corrected message again with its new classification and decision: a
/// sink a matching route names that the message has no delivery for gets one; a sink
/// delivered (or pending, or dead-lettered) already is not delivered again — a
/// dead-lettered one is the replay's to retry. Returns what it did, in words.
///
/// The order is a replay's (see `Hub::replay`): the message is marked pending before
/// its record gains the new pending deliveries, and their outbox entries are written
/// after that, so that a stop in between leaves a pending routed message whose missing
/// deliveries start-up schedules (`resume_routed`).
fn reroute(hub: &Hub, config: &crate::config::Config, id: &str) -> anyhow::Result<Vec<String>> {
    let Some(record) = hub.store.get(id)? else {
        return Ok(Vec::new());
    };
    if record.state == State::Accepted {
        // The pipeline has not routed it yet; it will, with the correction.
        return Ok(Vec::new());
    }
    let classification = record.classification.clone().unwrap_or_default();
    let decision = record.decision.clone().unwrap_or_default();
    let (routes, sinks) = config.route(&record.message, &classification, &decision);
    let new: Vec<String> = sinks
        .into_iter()
        .filter(|s| !record.deliveries.contains_key(s))
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let note = format!(
        "routes re-evaluated after the correction: {routes:?} match; new deliveries to {new:?} (sinks it had are not delivered again)"
    );
    // Failed because no route matched before: that dead letter is answered now.
    let unrouted = record.state == State::Failed
        && record.deliveries.is_empty()
        && hub
            .store
            .dead_letters_of(id)?
            .iter()
            .any(|d| d.target == "stage:route");
    if record.state == State::Failed && record.deliveries.is_empty() && !unrouted {
        // A pipeline step failed: its replay routes the message.
        return Ok(Vec::new());
    }
    hub.store.mark_pending(id)?;
    hub.store.update(id, |r| {
        for sink in &new {
            r.deliveries.entry(sink.clone()).or_insert(Delivery {
                state: DeliveryState::Pending,
                attempts: 0,
                last_error: None,
                delivered_at: None,
            });
        }
        for route in &routes {
            if !r.routes.contains(route) {
                r.routes.push(route.clone());
            }
        }
        // Delivered no longer: delivered once the new deliveries are too.
        if r.state == State::Delivered || (r.state == State::Failed && unrouted) {
            r.state = State::Routed;
        }
        r.trace.push(crate::pipeline::trace_entry("route", &note));
    })?;
    let now = now_millis();
    for sink in &new {
        hub.store.schedule(&OutboxEntry {
            id: id.to_string(),
            sink: sink.clone(),
            attempts: 0,
            due_at: now,
            errors: vec![],
        })?;
    }
    if unrouted {
        hub.store.remove_dead_letter(id, "stage:route")?;
    }
    hub.store.done_pending(id)?;
    hub.delivery_wake.notify_one();
    tracing::info!(message_id = %id, sinks = ?new, "routed again after a correction");
    Ok(vec![note])
}
