//! Events from the systems of record drive an appeal's state machine: the EDMS's
//! registration, assignment and report notifications (`edms.event`, see plugins/edms) and
//! SOG's cards with their status and forwarding (`sog.status`, see plugins/sog). Each is
//! an ordinary message, routed like any other; here it moves the appeal it refers to
//! through the same [`super::appeals::apply`] the API uses, so that what the API refuses
//! an event cannot do either. A refused event changes nothing and says why in both
//! messages' traces; it never stops the pipeline.
//!
//! The appeal is found by the reference the event carries: `thread.in_reply_to` (the
//! hub's id carried in a МЭДО uid or a SOG card's `external_id`), `edms.ref-message`, or
//! a registration number or SOG card uid the engine saw before on that appeal (the tree
//! `sla_refs`: `edms:NUMBER`, `sog:NUMBER`, `sog-uid:UID` → appeal id).

use super::appeals::{apply, TransitionRequest};
use super::{Appeal, AppealState, Clock, SlaConfig, TransitionError};
use crate::model::Message;

/// What an event asks of the appeal.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A state, with what the system said (reason, executor, new deadline).
    To {
        state: AppealState,
        reason: Option<String>,
        executor: Option<String>,
        controller: Option<String>,
        /// A new answer deadline (a rejected report's), as the system wrote it.
        deadline: Option<String>,
        forwarded_to: Option<String>,
    },
    /// Nothing to change: a receipt, a refusal to register, an unnamed notification.
    Note(String),
}

/// An event read from a message: who says it, what, and the references to its appeal.
#[derive(Clone, Debug)]
pub struct Event {
    /// `edms` or `sog`.
    pub system: &'static str,
    /// The event as the message names it (`assignment`, `status in_work`).
    pub name: String,
    pub step: Step,
    /// Never an appeal of its own, even when it refers to nothing the hub watches (an
    /// EDMS notification); a SOG card that refers to nothing is a new appeal.
    pub only_event: bool,
}

fn meta(message: &Message, key: &str) -> Option<String> {
    message
        .metadata_value(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

fn to(state: AppealState) -> Step {
    Step::To {
        state,
        reason: None,
        executor: None,
        controller: None,
        deadline: None,
        forwarded_to: None,
    }
}

/// The event a message carries, if any.
pub fn read(message: &Message) -> Option<Event> {
    if let Some(name) = meta(message, "edms.event") {
        let step = match name.as_str() {
            // A document is an appeal (or a letter) in its own right.
            "document" => return None,
            "registered" => to(AppealState::Registered),
            "assignment" => Step::To {
                state: AppealState::Assigned,
                reason: meta(message, "edms.deadline")
                    .map(|d| format!("the EDMS assigned it, due {d} there")),
                executor: meta(message, "edms.executor"),
                controller: meta(message, "edms.controller"),
                deadline: None,
                forwarded_to: None,
            },
            "report-submitted" => to(AppealState::ReportSubmitted),
            "report-accepted" => to(AppealState::Answered),
            "report-rejected" => Step::To {
                state: AppealState::InWork,
                reason: meta(message, "edms.reason").or_else(|| meta(message, "edms.comment")),
                executor: None,
                controller: meta(message, "edms.controller"),
                deadline: meta(message, "edms.deadline"),
                forwarded_to: None,
            },
            "refused" => Step::Note(format!(
                "the EDMS refused to register it: {}",
                meta(message, "edms.reason").unwrap_or_else(|| "no reason given".into())
            )),
            "acknowledged" => Step::Note("the EDMS acknowledged the packet".into()),
            "not-accepted" => Step::Note(format!(
                "the EDMS did not accept the packet: {}",
                meta(message, "edms.reason")
                    .or_else(|| meta(message, "edms.comment"))
                    .unwrap_or_else(|| "no reason given".into())
            )),
            other => Step::Note(format!(
                "EDMS notification {:?}",
                meta(message, "edms.notification-type").unwrap_or_else(|| other.to_string())
            )),
        };
        return Some(Event {
            system: "edms",
            name,
            step,
            only_event: true,
        });
    }
    let status = meta(message, "sog.status")?;
    let step = match status.as_str() {
        "received" => Step::Note("SOG received it".into()),
        "registered" => to(AppealState::Registered),
        "in_work" => to(AppealState::InWork),
        "forwarded" => {
            let body = meta(message, "sog.forwarded-to");
            let letter = match (
                meta(message, "sog.forwarding-number"),
                meta(message, "sog.forwarding-date"),
            ) {
                (Some(n), Some(d)) => format!(", letter № {n} of {d}"),
                (Some(n), None) => format!(", letter № {n}"),
                _ => String::new(),
            };
            Step::To {
                state: AppealState::Forwarded,
                reason: Some(format!(
                    "forwarded by competence (59-FZ art. 8 p. 3) to {}{letter}",
                    body.as_deref().unwrap_or("another body")
                )),
                executor: None,
                controller: None,
                deadline: None,
                forwarded_to: body,
            }
        }
        // The results of consideration: answered, with the result as the reason.
        result => Step::To {
            state: AppealState::Answered,
            reason: Some(format!(
                "SOG: {}{}",
                meta(message, "sog.status-name").unwrap_or_else(|| result.to_string()),
                meta(message, "sog.answer-number")
                    .map(|n| format!(", answer № {n}"))
                    .unwrap_or_default()
            )),
            executor: None,
            controller: None,
            deadline: None,
            forwarded_to: None,
        },
    };
    Some(Event {
        system: "sog",
        name: format!("status {status}"),
        step,
        only_event: false,
    })
}

/// The references a message carries that can name an appeal, best first.
pub fn references(message: &Message) -> Vec<Reference> {
    let mut out = Vec::new();
    if let Some(id) = message.thread.in_reply_to.as_deref() {
        out.push(Reference::Id(id.to_string()));
    }
    if let Some(id) = meta(message, "edms.ref-message") {
        out.push(Reference::Id(id));
    }
    out.extend(keys(message).into_iter().map(Reference::Key));
    out
}

/// The `sla_refs` keys a message carries: registration numbers and SOG's card uid.
pub fn keys(message: &Message) -> Vec<String> {
    let mut out = Vec::new();
    for (key, prefix) in [
        ("edms.reg-number", "edms:"),
        ("sog.reg-number", "sog:"),
        ("sog.uid", "sog-uid:"),
    ] {
        if let Some(v) = meta(message, key) {
            out.push(format!("{prefix}{v}"));
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
pub enum Reference {
    /// An appeal's id.
    Id(String),
    /// A key of `sla_refs`.
    Key(String),
}

/// The states an event's target needs the appeal to pass through first, when the
/// system skipped telling the hub of them: the EDMS assigns what it registered without
/// a separate notice the hub may have missed; a report comes from an executor at work;
/// SOG's result comes after work. Only the forward chain registered → assigned →
/// in-work is implied, never a way around a refusal (from `overdue`, `extended`, or a
/// final state nothing is implied).
pub fn implied(from: AppealState, target: AppealState) -> &'static [AppealState] {
    use AppealState::*;
    const CHAIN: [AppealState; 3] = [Registered, Assigned, InWork];
    let at = match from {
        Received => 0,
        Registered => 1,
        Assigned => 2,
        _ => return &[],
    };
    let upto = match target {
        Registered => 0,
        Assigned => 1,
        InWork => 2,
        ReportSubmitted | Answered => 3,
        _ => return &[],
    };
    if at >= upto {
        return &[];
    }
    &CHAIN[at..upto]
}

/// What applying an event did to an appeal.
pub struct Applied {
    /// `from → to` for each transition made, in words.
    pub transitions: Vec<String>,
}

/// Applies `step` to `appeal` as of `now`, by `by`: the implied states first, then the
/// target, all or nothing (the caller applies it to a copy inside a compare-and-swap).
/// Returns the transitions made; an empty list when the appeal is already there.
pub fn apply_step(
    appeal: &mut Appeal,
    step: &Step,
    sla: &SlaConfig,
    clock: &Clock,
    now: i64,
    by: &str,
) -> Result<Applied, TransitionError> {
    let Step::To {
        state,
        reason,
        executor,
        controller,
        deadline,
        forwarded_to,
    } = step
    else {
        return Ok(Applied {
            transitions: Vec::new(),
        });
    };
    // Already there (a repeated card, a status the API set first): nothing to do. An
    // assignment to someone else is a reassignment, which `assigned` allows.
    let same_executor = executor.is_none() || executor == &appeal.executor;
    if appeal.state == *state && (*state != AppealState::Assigned || same_executor) {
        return Ok(Applied {
            transitions: Vec::new(),
        });
    }
    let deadline = deadline
        .as_deref()
        .map(|d| super::api::parse_deadline(d, clock))
        .transpose()
        .map_err(TransitionError::Invalid)?;
    let mut transitions = Vec::new();
    for implied_state in implied(appeal.state, *state) {
        let request = TransitionRequest {
            to: implied_state.as_str().into(),
            reason: Some(format!("implied by the event ({} next)", state.as_str())),
            // Assigned by the directory, or by the event's executor.
            executor: (*implied_state == AppealState::Assigned)
                .then(|| executor.clone())
                .flatten(),
            ..TransitionRequest::default()
        };
        let t = apply(appeal, &request, None, now, by)?;
        transitions.push(format!("{} → {}", t.from.as_str(), t.to.as_str()));
    }
    let request = TransitionRequest {
        to: state.as_str().into(),
        reason: reason.clone(),
        deadline: None,
        executor: executor.clone(),
        department: None,
        forwarded_to: forwarded_to.clone(),
    };
    let t = apply(appeal, &request, deadline, now, by)?;
    transitions.push(format!("{} → {}", t.from.as_str(), t.to.as_str()));
    if controller.is_some() {
        appeal.controller = controller.clone();
    }
    if t.to == AppealState::ReportSubmitted {
        appeal.report_due = Some(clock.add(now, sla.report_review));
    }
    Ok(Applied { transitions })
}

/// Who made a transition, in the history: the system and the event's message, so that
/// the same event run twice (after a crash) is seen to be done already.
pub fn by(event: &Event, message: &Message) -> String {
    format!("{} event {}", event.system, message.id)
}

/// Whether the appeal's history holds a transition made by this event already.
pub fn done_already(appeal: &Appeal, by: &str) -> bool {
    appeal.history.iter().any(|t| t.by == by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Thread};

    fn message(metadata: &[(&str, &str)], in_reply_to: Option<&str>) -> Message {
        let mut m: Message =
            serde_json::from_value(serde_json::json!({"channel": Channel::Edms, "body": ""}))
                .unwrap();
        m.id = "ev1".into();
        m.metadata = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.thread = Thread {
            in_reply_to: in_reply_to.map(String::from),
            repeat_of: None,
        };
        m
    }

    #[test]
    fn events_are_read_from_the_connectors_metadata() {
        let m = message(
            &[
                ("edms.event", "report-rejected"),
                ("edms.reason", "Нет ответа по существу"),
                ("edms.deadline", "2026-12-15"),
                ("edms.reg-number", "01-15/77"),
            ],
            Some("appeal1"),
        );
        let e = read(&m).unwrap();
        assert!(e.only_event);
        assert_eq!(
            e.step,
            Step::To {
                state: AppealState::InWork,
                reason: Some("Нет ответа по существу".into()),
                executor: None,
                controller: None,
                deadline: Some("2026-12-15".into()),
                forwarded_to: None,
            }
        );
        assert_eq!(
            references(&m),
            [
                Reference::Id("appeal1".into()),
                Reference::Key("edms:01-15/77".into())
            ]
        );
        assert!(read(&message(&[("edms.event", "document")], None)).is_none());
        let card = message(
            &[
                ("sog.status", "forwarded"),
                ("sog.forwarded-to", "Минздрав"),
                ("sog.forwarding-number", "12"),
            ],
            None,
        );
        let e = read(&card).unwrap();
        assert!(!e.only_event);
        assert!(matches!(
            e.step,
            Step::To { state: AppealState::Forwarded, ref forwarded_to, .. } if forwarded_to.as_deref() == Some("Минздрав")
        ));
        let e = read(&message(&[("sog.status", "explained")], None)).unwrap();
        assert!(matches!(
            e.step,
            Step::To {
                state: AppealState::Answered,
                ..
            }
        ));
    }

    #[test]
    fn only_the_forward_chain_is_implied() {
        use AppealState::*;
        assert_eq!(implied(Received, Assigned), [Registered]);
        assert_eq!(implied(Assigned, ReportSubmitted), [InWork]);
        assert_eq!(implied(Registered, Answered), [Assigned, InWork]);
        assert!(implied(InWork, ReportSubmitted).is_empty());
        assert!(implied(Overdue, Answered).is_empty());
        assert!(implied(Received, Forwarded).is_empty());
        assert!(implied(Closed, Answered).is_empty());
    }
}
