//! Time, the production calendar and deadlines: the SLA engine.
//!
//! When the policy has decided, [`Sla::on_decided`] computes the deadlines by the first
//! matching rule (`[sla]`, defaults from the ministry's order), assigns the appeal by the
//! responsible directory (`[[departments]]`), keeps the appeal's state in its own tree
//! and schedules durable timers. Timers fire reminders and escalations as ordinary
//! messages (channel `api`, source `sla`, metadata `okno.kind = reminder|escalation`)
//! that go through routes like any other. The EDMS's and SOG's events move the appeal
//! they refer to through the same state machine as the API ([`events`]).

pub mod api;
pub mod appeals;
pub mod config;
pub mod correct;
pub mod deadlines;
pub mod directory;
pub mod events;
pub mod report;
pub mod sstu;
pub mod timers;

use std::sync::Arc;

use anyhow::Context;

pub use appeals::{Appeal, AppealState, Transition, TransitionError, TransitionRequest};
pub use config::{Department, SlaConfig, Span};
pub use deadlines::{Clock, Deadlines};
pub use timers::{Timer, TimerKind, Timers};

use crate::model::{Channel, Classification, Decision, Message, Timestamp};
use crate::pipeline::Hub;
use crate::store::TraceEntry;

/// The source the engine's own messages are journaled under.
pub const SOURCE: &str = "sla";
/// Metadata key of the engine's messages: `reminder` or `escalation`.
pub const KIND_KEY: &str = "okno.kind";

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 in UTC, for messages and logs.
pub fn format_time(at: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{at} ms"))
}

/// `YYYY-MM-DD HH:MM` in the hub's time zone, for people.
pub fn format_local(at: i64, utc_offset_minutes: i32) -> String {
    let offset = chrono::FixedOffset::east_opt(utc_offset_minutes * 60)
        .unwrap_or(chrono::FixedOffset::east_opt(0).expect("UTC"));
    chrono::DateTime::from_timestamp_millis(at)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        })
        .unwrap_or_else(|| format!("{at} ms"))
}

/// A reminder or an escalation the engine made: not an appeal, so it is neither
/// classified nor decided nor watched, only routed.
pub fn is_internal(message: &Message) -> bool {
    message.source == SOURCE && message.metadata_value(KIND_KEY).is_some()
}

/// The appeals' states and the timers, in the store's trees `sla_appeals` and
/// `sla_timers`; `sla_refs` finds an appeal by the numbers other systems gave it.
pub struct Sla {
    appeals: sled::Tree,
    refs: sled::Tree,
    pub timers: Arc<Timers>,
    /// The messages' records, for the trace an event leaves on the appeal it moves.
    store: crate::store::Store,
}

impl Sla {
    pub fn open(store: &crate::store::Store) -> anyhow::Result<Sla> {
        Ok(Sla {
            appeals: store.tree("sla_appeals")?,
            refs: store.tree("sla_refs")?,
            timers: Arc::new(Timers::new(store.tree("sla_timers")?)),
            store: store.clone(),
        })
    }

    /// The appeal a message refers to (see [`events::references`]), never itself.
    fn referred(&self, message: &Message) -> anyhow::Result<Option<String>> {
        for reference in events::references(message) {
            let id = match reference {
                events::Reference::Id(id) => id,
                events::Reference::Key(key) => match self.refs.get(key.as_bytes())? {
                    Some(v) => String::from_utf8_lossy(&v).into_owned(),
                    None => continue,
                },
            };
            if id != message.id && self.appeals.contains_key(id.as_bytes())? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Remembers the registration numbers and card uid `message` carries as naming
    /// `appeal`, so that a later event carrying only one of them finds it.
    fn remember(&self, message: &Message, appeal: &str) -> anyhow::Result<()> {
        for key in events::keys(message) {
            self.refs.insert(key.as_bytes(), appeal.as_bytes())?;
        }
        Ok(())
    }

    /// Applies an event to the appeal it refers to, through the state machine; a refusal
    /// changes nothing and is traced on both messages. Returns the event's trace entry.
    fn on_event(
        &self,
        config: &crate::config::Config,
        clock: &Clock,
        message: &Message,
        event: &events::Event,
        target: &str,
    ) -> anyhow::Result<TraceEntry> {
        enum Outcome {
            Moved(Vec<String>),
            Unchanged(String),
            Refused(String),
        }
        let sla = &config.sla;
        let by = events::by(event, message);
        let now = now_millis();
        let updated = self.update(target, |appeal| {
            if events::done_already(appeal, &by) {
                return Err(Outcome::Unchanged("applied already".into()));
            }
            // Applied to a copy: an implied state made before a refused one is undone.
            let mut copy = appeal.clone();
            match events::apply_step(&mut copy, &event.step, sla, clock, now, &by) {
                Ok(applied) if applied.transitions.is_empty() => {
                    Err(Outcome::Unchanged(match &event.step {
                        events::Step::Note(note) => note.clone(),
                        events::Step::To { state, .. } => {
                            format!("the appeal is {} already", state.as_str())
                        }
                    }))
                }
                Ok(applied) => {
                    *appeal = copy;
                    Ok(applied.transitions)
                }
                Err(e) => Err(Outcome::Refused(e.to_string())),
            }
        })?;
        let outcome = match updated {
            None => Outcome::Unchanged("the appeal is no longer kept".into()),
            Some(Ok((appeal, transitions))) => {
                self.schedule(&appeal, sla, clock, false)?;
                Outcome::Moved(transitions)
            }
            Some(Err(outcome)) => outcome,
        };
        self.remember(message, target)?;
        let what = format!(
            "{} event {} (message {})",
            event.system, event.name, message.id
        );
        let (on_appeal, on_event) = match &outcome {
            Outcome::Moved(t) => (
                format!("{what}: {}", t.join(", ")),
                format!(
                    "{} event {} moved appeal {target}: {}",
                    event.system,
                    event.name,
                    t.join(", ")
                ),
            ),
            Outcome::Unchanged(why) => (
                format!("{what}: nothing to change ({why})"),
                format!(
                    "{} event {} for appeal {target}: nothing to change ({why})",
                    event.system, event.name
                ),
            ),
            Outcome::Refused(why) => (
                format!("{what} refused by the state machine: {why}"),
                format!(
                    "{} event {} for appeal {target} refused by the state machine: {why}",
                    event.system, event.name
                ),
            ),
        };
        if let Outcome::Refused(why) = &outcome {
            tracing::warn!(appeal = %target, event = %event.name, error = %why, "an event the state machine refuses");
        }
        self.store.update(target, |r| {
            r.trace
                .push(crate::pipeline::trace_entry("sla", &on_appeal))
        })?;
        Ok(crate::pipeline::trace_entry("sla", &on_event))
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<Appeal>> {
        self.appeals
            .get(id.as_bytes())?
            .map(|v| serde_json::from_slice(&v).context("the store holds an unreadable appeal"))
            .transpose()
    }

    /// Every appeal, in id (arrival) order.
    pub fn scan(&self) -> impl Iterator<Item = anyhow::Result<Appeal>> + '_ {
        self.appeals.iter().map(|item| {
            let (_, v) = item?;
            serde_json::from_slice(&v).context("the store holds an unreadable appeal")
        })
    }

    /// Applies `change` atomically; `change` returns an error to leave the appeal as is.
    pub fn update<T, E>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Appeal) -> Result<T, E>,
    ) -> anyhow::Result<Option<Result<(Appeal, T), E>>> {
        loop {
            let Some(current) = self.appeals.get(id.as_bytes())? else {
                return Ok(None);
            };
            let mut appeal: Appeal =
                serde_json::from_slice(&current).context("the store holds an unreadable appeal")?;
            let out = match change(&mut appeal) {
                Ok(out) => out,
                Err(e) => return Ok(Some(Err(e))),
            };
            let new = serde_json::to_vec(&appeal)?;
            if self
                .appeals
                .compare_and_swap(id.as_bytes(), Some(&current), Some(new))?
                .is_ok()
            {
                return Ok(Some(Ok((appeal, out))));
            }
        }
    }

    /// Computes the deadlines, assigns by the directory, starts watching the appeal
    /// (once: a second run of the same message keeps what the first began) and says so
    /// in a trace entry. Internal messages and a disabled engine get nothing.
    pub fn on_decided(
        &self,
        config: &crate::config::Config,
        message: &Message,
        classification: &Classification,
        decision: &mut Decision,
    ) -> anyhow::Result<Option<TraceEntry>> {
        let sla = &config.sla;
        if !sla.enabled || is_internal(message) {
            return Ok(None);
        }
        let clock = Clock {
            utc_offset_minutes: config.hub.utc_offset_minutes,
            hours: &sla.working_hours,
        };
        // An event of the EDMS or SOG about an appeal moves that appeal; it owes no
        // answer of its own.
        if let Some(event) = events::read(message) {
            let target = self.referred(message)?;
            if target.is_some() || event.only_event {
                decision.registration_deadline = None;
                decision.answer_deadline = None;
            }
            match target {
                Some(target) => {
                    return self
                        .on_event(config, &clock, message, &event, &target)
                        .map(Some)
                }
                None if event.only_event => {
                    return Ok(Some(crate::pipeline::trace_entry(
                        "sla",
                        &format!(
                            "{} event {} refers to no appeal the hub watches; not an appeal itself",
                            event.system, event.name
                        ),
                    )))
                }
                // A SOG card the hub has not seen: a new appeal.
                None => {}
            }
        }
        let Some(deadlines) = deadlines::compute(sla, &clock, message, classification, decision)
        else {
            return Ok(None);
        };
        let mut reasons = deadlines.reasons.clone();
        if decision.registration_deadline != deadlines.registration
            || decision.answer_deadline != deadlines.answer
        {
            if decision.registration_deadline.is_some() || decision.answer_deadline.is_some() {
                reasons.push(format!(
                    "the policy's deadlines (registration {}, answer {}) give way to rule {}",
                    describe(decision.registration_deadline, &clock),
                    describe(decision.answer_deadline, &clock),
                    deadlines.rule
                ));
            }
            decision.registration_deadline = deadlines.registration;
            decision.answer_deadline = deadlines.answer;
        }
        reasons.extend(deadlines.warnings.iter().map(|w| format!("warning: {w}")));
        let topic = classification.topic.as_ref().map(|t| t.best.code.clone());
        let today = clock.local_day(now_millis());
        let assignment = directory::assign(
            &config.departments,
            topic.as_deref(),
            message.channel,
            today,
        );
        match &assignment {
            Some(a) => {
                reasons.push(a.reason.clone());
                if decision.responsible.is_none() {
                    decision.responsible = Some(a.department.clone());
                }
            }
            None if !config.departments.is_empty() => reasons.push(format!(
                "no department owns topic {} or channel {}",
                topic.as_deref().unwrap_or("(none)"),
                message.channel.as_str()
            )),
            None => {}
        }
        let transfers = phone_transfers(message);
        if let Some(n) = transfers.filter(|n| *n > 2) {
            reasons.push(format!(
                "phone: the call was transferred {n} times, more than the two the order allows"
            ));
        }
        let appeal = Appeal {
            id: message.id.clone(),
            state: AppealState::Received,
            channel: message.channel,
            received_at: message.received_at,
            topic,
            rule: deadlines.rule.clone(),
            registration_deadline: deadlines.registration,
            answer_deadline: deadlines.answer,
            extendable: deadlines.extendable,
            extended: false,
            department: assignment.as_ref().map(|a| a.department.clone()),
            executor: assignment
                .as_ref()
                .map(|a| a.executor.clone())
                .or_else(|| decision.responsible.clone()),
            controller: assignment.as_ref().and_then(|a| a.controller.clone()),
            report_due: None,
            registered_at: None,
            answered_at: None,
            late: false,
            history: Vec::new(),
            transfers,
            forwarded_to: None,
        };
        let inserted = self
            .appeals
            .compare_and_swap(
                message.id.as_bytes(),
                None as Option<&[u8]>,
                Some(serde_json::to_vec(&appeal)?),
            )?
            .is_ok();
        if inserted {
            self.schedule(&appeal, sla, &clock, true)?;
            self.remember(message, &message.id)?;
        }
        Ok(Some(TraceEntry {
            at: now_millis(),
            stage: "sla".into(),
            plugin: None,
            plugin_version: None,
            duration_us: 0,
            result: "ok".into(),
            reasons,
        }))
    }

    /// Timers for what the appeal now waits for. Timers of earlier deadlines stay in the
    /// tree and fire nothing (see [`Timer::deadline`]). After the first time (`initial`),
    /// a deadline already past is not scheduled again: its timer fired, or still waits.
    pub fn schedule(
        &self,
        appeal: &Appeal,
        sla: &SlaConfig,
        clock: &Clock,
        initial: bool,
    ) -> anyhow::Result<()> {
        if appeal.state.is_done() {
            return Ok(());
        }
        let now = now_millis();
        let watch = |deadline: Timestamp| initial || deadline > now;
        // A registration due with the answer is watched by the answer's timer alone.
        let registration = appeal
            .registration_deadline
            .filter(|d| watch(*d) && appeal.answer_deadline.is_none_or(|a| *d < a));
        if let (Some(deadline), AppealState::Received) = (registration, appeal.state) {
            self.timers.schedule(&Timer {
                due: deadline,
                appeal: appeal.id.clone(),
                kind: TimerKind::RegistrationMissed,
                deadline,
                before: None,
            })?;
        }
        if let Some(deadline) = appeal.answer_deadline {
            for span in &sla.reminders {
                let due = clock.before(deadline, *span);
                // A reminder whose time has passed already is not sent.
                if due > now {
                    self.timers.schedule(&Timer {
                        due,
                        appeal: appeal.id.clone(),
                        kind: TimerKind::Reminder,
                        deadline,
                        before: Some(String::from(*span)),
                    })?;
                }
            }
            if watch(deadline) {
                self.timers.schedule(&Timer {
                    due: deadline,
                    appeal: appeal.id.clone(),
                    kind: TimerKind::AnswerMissed,
                    deadline,
                    before: None,
                })?;
            }
        }
        if let (Some(due), AppealState::ReportSubmitted) =
            (appeal.report_due.filter(|d| watch(*d)), appeal.state)
        {
            self.timers.schedule(&Timer {
                due,
                appeal: appeal.id.clone(),
                kind: TimerKind::ReportReviewMissed,
                deadline: due,
                before: None,
            })?;
        }
        Ok(())
    }
}

fn describe(at: Option<Timestamp>, clock: &Clock) -> String {
    at.map_or_else(
        || "none".into(),
        |at| format_local(at, clock.utc_offset_minutes),
    )
}

/// `phone.transfers` from the telephony connector, when it says.
fn phone_transfers(message: &Message) -> Option<u32> {
    (message.channel == Channel::Phone)
        .then(|| message.metadata_value("phone.transfers"))
        .flatten()
        .and_then(|v| v.trim().parse().ok())
}

/// Whether a timer still means something: the appeal still waits for what it watches.
fn still_due(timer: &Timer, appeal: &Appeal) -> bool {
    match timer.kind {
        TimerKind::Reminder | TimerKind::AnswerMissed => {
            !appeal.state.is_done() && appeal.answer_deadline == Some(timer.deadline)
        }
        TimerKind::RegistrationMissed => {
            appeal.registration_deadline == Some(timer.deadline)
                && matches!(appeal.state, AppealState::Received)
        }
        TimerKind::ReportReviewMissed => {
            appeal.state == AppealState::ReportSubmitted
                && appeal.report_due == Some(timer.deadline)
        }
    }
}

/// Fires one timer: marks a missed deadline, and sends the reminder or escalation
/// through the pipeline. Returns once that message is on disk.
pub async fn fire(hub: &Hub, timer: Timer) -> anyhow::Result<()> {
    let Some(appeal) = hub.sla.get(&timer.appeal)? else {
        return Ok(());
    };
    if !still_due(&timer, &appeal) {
        return Ok(());
    }
    let now = now_millis();
    let missed = timer.kind != TimerKind::Reminder;
    let appeal = if missed {
        let marked = hub.sla.update(&timer.appeal, |a| {
            a.late = true;
            let overdue = matches!(
                timer.kind,
                TimerKind::AnswerMissed | TimerKind::RegistrationMissed
            );
            if overdue && !a.state.is_done() && a.state != AppealState::Overdue {
                a.history.push(Transition {
                    at: now,
                    from: a.state,
                    to: AppealState::Overdue,
                    by: SOURCE.into(),
                    reason: Some(format!("{} deadline passed", timer.kind.as_str())),
                    executor: None,
                    department: None,
                    answer_deadline: None,
                });
                a.state = AppealState::Overdue;
            }
            Ok::<_, std::convert::Infallible>(())
        })?;
        match marked {
            Some(Ok((a, ()))) => a,
            _ => return Ok(()),
        }
    } else {
        appeal
    };
    let offset = hub.active().config.hub.utc_offset_minutes;
    let message = notice(&appeal, &timer, offset);
    let kind = message
        .metadata_value(KIND_KEY)
        .unwrap_or_default()
        .to_string();
    let accepted = hub
        .submit_internal(SOURCE, vec![message], &[])
        .await
        .context("journaling the SLA notice")?;
    if let Some(a) = accepted.first().filter(|a| !a.duplicate) {
        let note = format!(
            "{kind} {} ({}): message {}",
            timer.kind.as_str(),
            timer.before.as_deref().map_or_else(
                || format!("deadline {}", format_local(timer.deadline, offset)),
                |b| format!("{b} before {}", format_local(timer.deadline, offset))
            ),
            a.id
        );
        hub.store.update(&timer.appeal, |r| {
            r.trace.push(crate::pipeline::trace_entry("sla", &note));
        })?;
        hub.store.durability.wait().await?;
        tracing::info!(appeal = %timer.appeal, notice = %a.id, kind = timer.kind.as_str(), "SLA notice sent");
    }
    Ok(())
}

/// The reminder or escalation message for a timer: routable by its metadata; its text
/// holds no personal data, only the appeal's id, deadline and who is responsible.
fn notice(appeal: &Appeal, timer: &Timer, utc_offset_minutes: i32) -> Message {
    let reminder = timer.kind == TimerKind::Reminder;
    let deadline = format_local(timer.deadline, utc_offset_minutes);
    let (subject, body) = match timer.kind {
        TimerKind::Reminder => (
            format!(
                "Напоминание: срок ответа по обращению {} — {deadline}",
                appeal.id
            ),
            format!(
                "До срока ответа по обращению {} осталось {}. Срок: {deadline}. Состояние: {}.",
                appeal.id,
                timer.before.as_deref().unwrap_or(""),
                appeal.state.as_str()
            ),
        ),
        TimerKind::AnswerMissed => (
            format!("Просрочен срок ответа по обращению {}", appeal.id),
            format!(
                "Срок ответа по обращению {} истёк {deadline}. Требуется решение контролёра.",
                appeal.id
            ),
        ),
        TimerKind::RegistrationMissed => (
            format!("Просрочена регистрация обращения {}", appeal.id),
            format!(
                "Обращение {} не зарегистрировано в срок ({deadline}).",
                appeal.id
            ),
        ),
        TimerKind::ReportReviewMissed => (
            format!("Отчёт по обращению {} не рассмотрен в срок", appeal.id),
            format!(
                "Отчёт исполнителя по обращению {} не принят и не отклонён до {deadline}.",
                appeal.id
            ),
        ),
    };
    let mut metadata = vec![
        (
            KIND_KEY.to_string(),
            if reminder { "reminder" } else { "escalation" }.to_string(),
        ),
        ("okno.appeal".into(), appeal.id.clone()),
        ("okno.timer".into(), timer.kind.as_str().into()),
        ("okno.deadline".into(), format_time(timer.deadline)),
        ("okno.rule".into(), appeal.rule.clone()),
        ("okno.state".into(), appeal.state.as_str().into()),
    ];
    for (key, value) in [
        ("okno.department", &appeal.department),
        ("okno.executor", &appeal.executor),
        ("okno.controller", &appeal.controller),
    ] {
        if let Some(v) = value {
            metadata.push((key.into(), v.clone()));
        }
    }
    let addressee = if reminder {
        appeal.executor.clone()
    } else {
        appeal
            .controller
            .clone()
            .or_else(|| appeal.executor.clone())
    };
    if let Some(a) = addressee {
        metadata.push(("okno.addressee".into(), a));
    }
    Message {
        id: String::new(),
        // The timer is the key: firing it again after a crash finds the first notice.
        idempotency_key: Some(format!(
            "{}:{}:{}:{}",
            appeal.id,
            timer.kind.as_str(),
            timer.before.as_deref().unwrap_or("-"),
            timer.deadline
        )),
        channel: Channel::Api,
        source: SOURCE.into(),
        received_at: 0,
        sent_at: None,
        client: crate::model::Client {
            kind: crate::model::ClientKind::Internal,
            ..Default::default()
        },
        subject: Some(subject),
        body,
        attachments: Vec::new(),
        metadata,
        thread: crate::model::Thread {
            in_reply_to: Some(appeal.id.clone()),
            repeat_of: None,
        },
    }
}

/// The engine's task: fires timers as they fall due (see [`Timers::run`]).
pub async fn run(hub: Arc<Hub>) {
    let timers = hub.sla.timers.clone();
    timers
        .run(move |timer| {
            let hub = hub.clone();
            async move { fire(&hub, timer).await }
        })
        .await
}
