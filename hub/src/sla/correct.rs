//! An official's topic correction: the policy decides again on the corrected topic, the
//! deadline rule and the directory are applied again, and where the responsible or the
//! deadline changes the appeal is reassigned, with a history entry that says why.

use super::{deadlines, directory, now_millis, AppealState, Clock, Transition};
use crate::pipeline::Hub;

/// What changed, in words (empty: nothing did). Messages not watched are left alone.
pub async fn on_corrected(hub: &Hub, id: &str, by: &str) -> anyhow::Result<Vec<String>> {
    let Some(record) = hub.store.get(id)? else {
        return Ok(Vec::new());
    };
    let Some(before) = hub.sla.get(id)? else {
        return Ok(Vec::new());
    };
    if before.state.is_done() {
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
    let Some(Ok((appeal, ()))) = changed else {
        return Ok(Vec::new());
    };
    hub.sla.schedule(&appeal, &config.sla, &clock, false)?;
    decision.answer_deadline = appeal.answer_deadline;
    decision.registration_deadline = appeal.registration_deadline;
    if decision.responsible.is_none() {
        decision.responsible = appeal.department.clone();
    }
    let note = notes.join("; ");
    hub.store.update(id, |r| {
        r.decision = Some(decision.clone());
        r.trace.push(crate::pipeline::trace_entry("sla", &note));
    })?;
    Ok(notes)
}
