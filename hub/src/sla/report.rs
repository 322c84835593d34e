//! Execution reports: counts by state, on time and late, the average time to answer,
//! the overdue list, by department, channel and topic (`GET /v1/reports/execution`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{now_millis, Appeal, AppealState};
use crate::api::ApiError;
use crate::model::Timestamp;
use crate::pipeline::Hub;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionQuery {
    /// Appeals received from this day (inclusive) …
    pub from: Option<String>,
    /// … to this day (inclusive), `YYYY-MM-DD` in the body's time zone.
    pub to: Option<String>,
    pub department: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub total: u64,
    pub by_state: BTreeMap<String, u64>,
    /// Answered (or forwarded) without a missed deadline.
    pub on_time: u64,
    /// A deadline was missed, answered since or not.
    pub late: u64,
    pub answered: u64,
    /// Average hours from receipt to answer, over the answered.
    pub average_answer_hours: Option<f64>,
    /// Phone calls transferred more than twice (the order allows two).
    pub flagged_calls: u64,
    #[serde(skip)]
    answer_ms_sum: i64,
}

impl Counts {
    fn add(&mut self, a: &Appeal) {
        self.total += 1;
        *self.by_state.entry(a.state.as_str().into()).or_default() += 1;
        if a.flagged_call() {
            self.flagged_calls += 1;
        }
        if a.late {
            self.late += 1;
        } else if a.state.is_done() {
            self.on_time += 1;
        }
        if let Some(at) = a.answered_at {
            self.answered += 1;
            self.answer_ms_sum += at - a.received_at;
            self.average_answer_hours =
                Some(self.answer_ms_sum as f64 / self.answered as f64 / 3_600_000.0);
        }
    }
}

#[derive(Debug, Serialize)]
pub struct OverdueItem {
    pub id: String,
    pub state: AppealState,
    pub department: Option<String>,
    pub executor: Option<String>,
    pub answer_deadline: Option<Timestamp>,
    pub channel: String,
    pub topic: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Execution {
    pub from: Option<String>,
    pub to: Option<String>,
    pub department: Option<String>,
    pub overall: Counts,
    pub by_department: BTreeMap<String, Counts>,
    pub by_channel: BTreeMap<String, Counts>,
    pub by_topic: BTreeMap<String, Counts>,
    /// Not answered, and past a deadline now.
    pub overdue: Vec<OverdueItem>,
}

/// The report over appeals received in `[from, to)`.
pub fn execution_report(
    appeals: impl Iterator<Item = anyhow::Result<Appeal>>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    department: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<Execution> {
    let mut out = Execution::default();
    for appeal in appeals {
        let a = appeal?;
        if from.is_some_and(|f| a.received_at < f) || to.is_some_and(|t| a.received_at >= t) {
            continue;
        }
        if department.is_some_and(|d| a.department.as_deref() != Some(d)) {
            continue;
        }
        out.overall.add(&a);
        let none = || "(none)".to_string();
        out.by_department
            .entry(a.department.clone().unwrap_or_else(none))
            .or_default()
            .add(&a);
        out.by_channel
            .entry(a.channel.as_str().into())
            .or_default()
            .add(&a);
        out.by_topic
            .entry(a.topic.clone().unwrap_or_else(none))
            .or_default()
            .add(&a);
        let past = a.answer_deadline.is_some_and(|d| d < now)
            || (a.state == AppealState::Received
                && a.registration_deadline.is_some_and(|d| d < now));
        if !a.state.is_done() && (past || a.state == AppealState::Overdue) {
            out.overdue.push(OverdueItem {
                id: a.id.clone(),
                state: a.state,
                department: a.department.clone(),
                executor: a.executor.clone(),
                answer_deadline: a.answer_deadline,
                channel: a.channel.as_str().into(),
                topic: a.topic.clone(),
            });
        }
    }
    Ok(out)
}

/// The report as CSV: one row per group (overall, each department, channel, topic).
pub fn execution_csv(report: &Execution) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "group",
        "key",
        "total",
        "on_time",
        "late",
        "answered",
        "average_answer_hours",
        "flagged_calls",
        "received",
        "registered",
        "assigned",
        "in-work",
        "report-submitted",
        "extended",
        "answered_state",
        "closed",
        "forwarded",
        "overdue",
    ])?;
    let groups = std::iter::once(("overall", "", &report.overall))
        .chain(
            report
                .by_department
                .iter()
                .map(|(k, c)| ("department", k.as_str(), c)),
        )
        .chain(
            report
                .by_channel
                .iter()
                .map(|(k, c)| ("channel", k.as_str(), c)),
        )
        .chain(
            report
                .by_topic
                .iter()
                .map(|(k, c)| ("topic", k.as_str(), c)),
        );
    for (group, key, c) in groups {
        let mut row = vec![
            group.to_string(),
            key.to_string(),
            c.total.to_string(),
            c.on_time.to_string(),
            c.late.to_string(),
            c.answered.to_string(),
            c.average_answer_hours
                .map_or_else(String::new, |h| format!("{h:.1}")),
            c.flagged_calls.to_string(),
        ];
        for state in AppealState::ALL {
            row.push(
                c.by_state
                    .get(state.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn day_start(text: &str, offset_minutes: i32, what: &str) -> Result<Timestamp, ApiError> {
    let d = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("{what}={text:?} is not a day YYYY-MM-DD"),
        )
    })?;
    use chrono::Datelike;
    let day = okno_calendar::Day::new(d.year(), d.month() as u8, d.day() as u8);
    Ok(day.to_days() * 86_400_000 - i64::from(offset_minutes) * 60_000)
}

pub async fn execution(
    State(hub): State<Arc<Hub>>,
    query: Result<Query<ExecutionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let offset = hub.active().config.hub.utc_offset_minutes;
    let from = q
        .from
        .as_deref()
        .map(|f| day_start(f, offset, "from"))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| day_start(t, offset, "to").map(|t| t + 86_400_000))
            .transpose()?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("format={other:?}: use json or csv"),
            ))
        }
    };
    let mut report = execution_report(
        hub.sla.scan(),
        from,
        to,
        q.department.as_deref(),
        now_millis(),
    )
    .map_err(ApiError::internal)?;
    report.from = q.from;
    report.to = q.to;
    report.department = q.department;
    if csv {
        let bytes = execution_csv(&report).map_err(ApiError::internal)?;
        Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
    } else {
        Ok(Json(report).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;

    fn call(id: &str, transfers: Option<u32>) -> Appeal {
        Appeal {
            id: id.into(),
            state: AppealState::Answered,
            channel: Channel::Phone,
            received_at: 10,
            topic: None,
            rule: "phone-answered-on-call".into(),
            registration_deadline: None,
            answer_deadline: None,
            extendable: false,
            extended: false,
            department: Some("hotline".into()),
            executor: None,
            controller: None,
            report_due: None,
            registered_at: None,
            answered_at: Some(20),
            late: false,
            history: vec![],
            transfers,
            forwarded_to: None,
        }
    }

    /// Calls transferred more than twice are counted, overall and per group, in JSON
    /// and CSV.
    #[test]
    fn calls_with_more_than_two_transfers_are_counted() {
        let appeals = [
            call("a", Some(3)),
            call("b", Some(2)),
            call("c", None),
            call("d", Some(5)),
        ];
        let report = execution_report(appeals.into_iter().map(Ok), None, None, None, 100).unwrap();
        assert_eq!(report.overall.flagged_calls, 2);
        assert_eq!(report.by_channel["phone"].flagged_calls, 2);
        assert_eq!(report.by_department["hotline"].flagged_calls, 2);
        let csv = String::from_utf8(execution_csv(&report).unwrap()).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = header.iter().position(|h| *h == "flagged_calls").unwrap();
        let overall: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(overall[column], "2");
    }
}
