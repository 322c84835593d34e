//! The life of an appeal after it is routed: its state machine, deadlines, responsible
//! and history, kept in the store's `sla_appeals` tree (id → [`Appeal`], JSON).

use serde::{Deserialize, Serialize};

use crate::model::{Channel, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppealState {
    Received,
    Registered,
    Assigned,
    InWork,
    /// The executor's report waits for the controller.
    ReportSubmitted,
    /// The answer deadline was extended (once); work goes on.
    Extended,
    Answered,
    Closed,
    /// Sent to the body competent to answer (переадресовано); nothing more is owed here.
    Forwarded,
    /// A deadline passed unmet; work goes on, and the appeal stays late in reports.
    Overdue,
}

impl AppealState {
    pub const ALL: [AppealState; 10] = [
        AppealState::Received,
        AppealState::Registered,
        AppealState::Assigned,
        AppealState::InWork,
        AppealState::ReportSubmitted,
        AppealState::Extended,
        AppealState::Answered,
        AppealState::Closed,
        AppealState::Forwarded,
        AppealState::Overdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppealState::Received => "received",
            AppealState::Registered => "registered",
            AppealState::Assigned => "assigned",
            AppealState::InWork => "in-work",
            AppealState::ReportSubmitted => "report-submitted",
            AppealState::Extended => "extended",
            AppealState::Answered => "answered",
            AppealState::Closed => "closed",
            AppealState::Forwarded => "forwarded",
            AppealState::Overdue => "overdue",
        }
    }

    pub fn parse(text: &str) -> Option<AppealState> {
        AppealState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more is owed: no reminders, no escalation.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            AppealState::Answered | AppealState::Closed | AppealState::Forwarded
        )
    }

    /// Where an official may move an appeal from this state. `overdue` is entered by the
    /// engine only, when a deadline passes.
    pub fn allowed(self) -> &'static [AppealState] {
        use AppealState::*;
        match self {
            Received => &[Registered, Forwarded],
            Registered => &[Assigned, Forwarded],
            Assigned => &[Assigned, InWork, Extended, Forwarded],
            InWork => &[Assigned, ReportSubmitted, Extended, Answered, Forwarded],
            Extended => &[Assigned, InWork, ReportSubmitted, Answered, Forwarded],
            // Accepted: answered; rejected: back to the executor.
            ReportSubmitted => &[Answered, InWork],
            Overdue => &[
                Registered,
                Assigned,
                InWork,
                ReportSubmitted,
                Extended,
                Answered,
                Forwarded,
            ],
            Answered => &[Closed],
            Closed | Forwarded => &[],
        }
    }
}

/// One change of state or responsible, as the history keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transition {
    pub at: Timestamp,
    pub from: AppealState,
    pub to: AppealState,
    /// The official (token name), or `sla` for the engine.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_deadline: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Appeal {
    pub id: String,
    pub state: AppealState,
    pub channel: Channel,
    pub received_at: Timestamp,
    #[serde(default)]
    pub topic: Option<String>,
    pub rule: String,
    pub registration_deadline: Option<Timestamp>,
    pub answer_deadline: Option<Timestamp>,
    #[serde(default)]
    pub extendable: bool,
    #[serde(default)]
    pub extended: bool,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub executor: Option<String>,
    #[serde(default)]
    pub controller: Option<String>,
    /// When the controller must have accepted or rejected the pending report.
    #[serde(default)]
    pub report_due: Option<Timestamp>,
    #[serde(default)]
    pub registered_at: Option<Timestamp>,
    #[serde(default)]
    pub answered_at: Option<Timestamp>,
    /// A deadline was missed at some point (the appeal counts as late in reports).
    #[serde(default)]
    pub late: bool,
    #[serde(default)]
    pub history: Vec<Transition>,
    /// Phone: transfers before the call reached someone who could answer.
    #[serde(default)]
    pub transfers: Option<u32>,
    /// Forwarded: the body it went to (ССТУ's «ПВ»).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
}

impl Appeal {
    /// A phone call transferred more than the two times the order allows.
    pub fn flagged_call(&self) -> bool {
        self.transfers.is_some_and(|n| n > 2)
    }

    /// Why it was forwarded, as the forwarding transition says (ССТУ's «Цель напр.»).
    pub fn forwarding_reason(&self) -> Option<&str> {
        self.history
            .iter()
            .rev()
            .find(|t| t.to == AppealState::Forwarded)
            .and_then(|t| t.reason.as_deref())
    }
}

/// An official's request to move an appeal.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// A new answer deadline (RFC 3339, or a day `YYYY-MM-DD`, ending that day).
    #[serde(default)]
    pub deadline: Option<String>,
    #[serde(default)]
    pub executor: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    /// Forwarding: the body it goes to.
    #[serde(default)]
    pub forwarded_to: Option<String>,
}

/// Why a transition was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TransitionError {
    #[error("unknown state {0:?}; states are received, registered, assigned, in-work, report-submitted, extended, answered, closed, forwarded")]
    UnknownState(String),
    #[error("an appeal cannot go from {from} to {to}; from {from} it may go to: {allowed}")]
    Illegal {
        from: &'static str,
        to: &'static str,
        allowed: String,
    },
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
}

const MAX_REASON_BYTES: usize = 2000;

/// Applies a request to an appeal, as of `now`, by `by`. `deadline` is the request's
/// new deadline, already parsed. Changes nothing on error.
pub fn apply(
    appeal: &mut Appeal,
    request: &TransitionRequest,
    deadline: Option<Timestamp>,
    now: Timestamp,
    by: &str,
) -> Result<Transition, TransitionError> {
    let to = AppealState::parse(request.to.trim())
        .ok_or_else(|| TransitionError::UnknownState(request.to.clone()))?;
    if to == AppealState::Overdue || !appeal.state.allowed().contains(&to) {
        let allowed: Vec<&str> = appeal.state.allowed().iter().map(|s| s.as_str()).collect();
        return Err(TransitionError::Illegal {
            from: appeal.state.as_str(),
            to: to.as_str(),
            allowed: if allowed.is_empty() {
                "nowhere (final)".into()
            } else {
                allowed.join(", ")
            },
        });
    }
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| crate::observability::bounded(r, MAX_REASON_BYTES).into_owned());
    let from = appeal.state;
    let rejection = from == AppealState::ReportSubmitted && to == AppealState::InWork;
    if (rejection || to == AppealState::Extended || to == AppealState::Forwarded)
        && reason.is_none()
    {
        return Err(TransitionError::Missing(format!(
            "{} needs a reason (\"reason\": \"…\")",
            if rejection {
                "rejecting a report"
            } else if to == AppealState::Extended {
                "an extension"
            } else {
                "forwarding"
            }
        )));
    }
    if to == AppealState::Extended {
        if appeal.extended {
            return Err(TransitionError::Invalid(
                "the answer deadline was extended once already; 59-FZ allows one extension".into(),
            ));
        }
        if !appeal.extendable {
            return Err(TransitionError::Invalid(format!(
                "deadlines of rule {:?} cannot be extended",
                appeal.rule
            )));
        }
        if deadline.is_none() {
            return Err(TransitionError::Missing(
                "an extension needs the new deadline (\"deadline\")".into(),
            ));
        }
    }
    if let Some(d) = deadline {
        if !(to == AppealState::Extended || rejection) {
            return Err(TransitionError::Invalid(
                "a new deadline is set only by an extension or a report's rejection".into(),
            ));
        }
        // An extension only lengthens the term; a rejected report gets a new term of
        // its own, which may end before the old one.
        if d <= now {
            return Err(TransitionError::Invalid(
                "the new deadline must be later than now".into(),
            ));
        }
        if !rejection && appeal.answer_deadline.is_some_and(|old| d <= old) {
            return Err(TransitionError::Invalid(
                "the new deadline must be later than the current one and than now".into(),
            ));
        }
    }
    if to == AppealState::Assigned
        && request.executor.is_none()
        && request.department.is_none()
        && appeal.executor.is_none()
    {
        return Err(TransitionError::Missing(
            "assigning needs an executor or a department".into(),
        ));
    }
    // Applied from here on: nothing below fails.
    match to {
        AppealState::Registered => appeal.registered_at = Some(now),
        AppealState::Answered => appeal.answered_at = Some(now),
        AppealState::ReportSubmitted => {}
        _ => {}
    }
    if to != AppealState::ReportSubmitted {
        appeal.report_due = None;
    }
    if to == AppealState::Extended {
        appeal.extended = true;
    }
    if let Some(d) = deadline {
        appeal.answer_deadline = Some(d);
    }
    if let Some(e) = &request.executor {
        appeal.executor = Some(e.clone());
    }
    if let Some(d) = &request.department {
        appeal.department = Some(d.clone());
    }
    if to == AppealState::Forwarded {
        appeal.forwarded_to = request
            .forwarded_to
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| crate::observability::bounded(b, MAX_REASON_BYTES).into_owned());
    }
    appeal.state = to;
    let transition = Transition {
        at: now,
        from,
        to,
        by: by.to_string(),
        reason,
        executor: request.executor.clone(),
        department: request.department.clone(),
        answer_deadline: deadline,
    };
    appeal.history.push(transition.clone());
    Ok(transition)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appeal() -> Appeal {
        Appeal {
            id: "a".into(),
            state: AppealState::Received,
            channel: Channel::Mail,
            received_at: 0,
            topic: None,
            rule: "written".into(),
            registration_deadline: Some(10),
            answer_deadline: Some(100),
            extendable: true,
            extended: false,
            department: None,
            executor: None,
            controller: None,
            report_due: None,
            registered_at: None,
            answered_at: None,
            late: false,
            history: vec![],
            transfers: None,
            forwarded_to: None,
        }
    }

    fn to(state: &str) -> TransitionRequest {
        TransitionRequest {
            to: state.into(),
            ..TransitionRequest::default()
        }
    }

    #[test]
    fn illegal_transitions_name_from_and_to() {
        let mut a = appeal();
        let e = apply(&mut a, &to("closed"), None, 1, "op").unwrap_err();
        assert_eq!(
            e.to_string(),
            "an appeal cannot go from received to closed; from received it may go to: registered, forwarded"
        );
        assert_eq!(a.state, AppealState::Received);
        assert!(a.history.is_empty());
        assert!(matches!(
            apply(&mut a, &to("overdue"), None, 1, "op"),
            Err(TransitionError::Illegal { .. })
        ));
        assert!(matches!(
            apply(&mut a, &to("done"), None, 1, "op"),
            Err(TransitionError::UnknownState(_))
        ));
    }

    #[test]
    fn extended_once_with_a_reason_and_a_later_deadline() {
        let mut a = appeal();
        a.state = AppealState::InWork;
        let mut ext = to("extended");
        assert!(matches!(
            apply(&mut a, &ext, Some(200), 1, "op"),
            Err(TransitionError::Missing(_))
        ));
        ext.reason = Some("запрошены документы".into());
        assert!(apply(&mut a, &ext, Some(50), 1, "op").is_err());
        apply(&mut a, &ext, Some(200), 1, "op").unwrap();
        assert_eq!(a.answer_deadline, Some(200));
        apply(&mut a, &to("in-work"), None, 2, "op").unwrap();
        let e = apply(&mut a, &ext, Some(300), 3, "op").unwrap_err();
        assert!(e.to_string().contains("once"));
        assert_eq!(a.history.len(), 2);
        assert_eq!(a.history[0].reason.as_deref(), Some("запрошены документы"));
    }

    #[test]
    fn a_rejected_report_returns_to_the_executor_with_a_reason() {
        let mut a = appeal();
        a.state = AppealState::ReportSubmitted;
        assert!(apply(&mut a, &to("in-work"), None, 1, "ctl").is_err());
        let mut reject = to("in-work");
        reject.reason = Some("нет ответа по существу".into());
        apply(&mut a, &reject, Some(150), 1, "ctl").unwrap();
        assert_eq!(a.state, AppealState::InWork);
        assert_eq!(a.answer_deadline, Some(150));
    }
}
