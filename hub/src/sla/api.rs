//! The SLA's part of the API: an appeal's state, deadlines and history, and the
//! officials' transitions (`POST /v1/appeals/{id}/transitions`). Every transition is a
//! change of the appeal applied atomically, traced on the message and audited.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::{now_millis, AppealState, Clock, TransitionError, TransitionRequest};
use crate::api::ApiError;
use crate::auth::Caller;
use crate::model::Timestamp;
use crate::pipeline::Hub;

pub fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/v1/appeals/{id}", get(appeal))
        .route("/v1/appeals/{id}/transitions", post(transition))
        .route("/v1/reports/execution", get(super::report::execution))
        .route("/v1/reports/sstu", get(sstu))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SstuQuery {
    month: String,
}

/// The monthly ССТУ export (see `sla::sstu`).
async fn sstu(
    State(hub): State<Arc<Hub>>,
    query: Result<axum::extract::Query<SstuQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let month = super::sstu::Month::parse(&q.month)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e))?;
    let active = hub.active();
    let bytes = super::sstu::export_month(&hub.sla, &hub.store, &active.config, month)
        .map_err(ApiError::internal)?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"sstu-{}.csv\"", q.month.trim()),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn appeal(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match hub.sla.get(&id).map_err(ApiError::internal)? {
        Some(a) => {
            // The number the EDMS or SOG registered it under, kept on the message's record.
            let mut view = serde_json::to_value(a).map_err(|e| ApiError::internal(e.into()))?;
            let registration = hub.store.get(&id).map_err(ApiError::internal)?;
            view["registration"] = json!(registration.and_then(|r| r.registration));
            Ok(Json(view).into_response())
        }
        None => Err(not_watched(&id)),
    }
}

fn not_watched(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no appeal {id:?} is watched: unknown id, not yet decided, or a message without deadlines"
    ))
}

/// A deadline as a client writes it: RFC 3339, or a day `YYYY-MM-DD` (to its end, in the
/// body's time zone).
pub fn parse_deadline(text: &str, clock: &Clock) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| {
            use chrono::Datelike;
            clock.end_of_day(okno_calendar::Day::new(
                d.year(),
                d.month() as u8,
                d.day() as u8,
            ))
        })
        .map_err(|_| format!("deadline {text:?} is neither RFC 3339 nor a day YYYY-MM-DD"))
}

async fn transition(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<TransitionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::new(e.status(), "bad_body", e.body_text()))?;
    let active = hub.active();
    let sla = &active.config.sla;
    let clock = Clock {
        utc_offset_minutes: active.config.hub.utc_offset_minutes,
        hours: &sla.working_hours,
    };
    let deadline = request
        .deadline
        .as_deref()
        .map(|d| parse_deadline(d, &clock))
        .transpose()
        .map_err(ApiError::bad_body)?;
    if let Some(d) = &request.department {
        if !active.config.departments.is_empty()
            && !active.config.departments.iter().any(|dep| &dep.id == d)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_department",
                format!("no department {d:?} in the directory ([[departments]])"),
            ));
        }
    }
    let now = now_millis();
    let by = caller.name.clone();
    let updated = hub
        .sla
        .update(&id, |appeal| {
            let t = super::appeals::apply(appeal, &request, deadline, now, &by)?;
            if t.to == AppealState::ReportSubmitted {
                appeal.report_due = Some(clock.add(now, sla.report_review));
            }
            // A department named without an executor: its head (or stand-in) executes.
            if let (Some(dep), None) = (&request.department, &request.executor) {
                if let Some(a) = active
                    .config
                    .departments
                    .iter()
                    .find(|d| &d.id == dep)
                    .and_then(|d| {
                        super::directory::assign(
                            std::slice::from_ref(d),
                            None,
                            d.channels.first().copied().unwrap_or(appeal.channel),
                            clock.local_day(now),
                        )
                        .or(Some(super::directory::Assignment {
                            department: d.id.clone(),
                            executor: d.head.clone(),
                            controller: d.deputies.first().cloned(),
                            reason: String::new(),
                        }))
                    })
                {
                    appeal.executor = Some(a.executor);
                    appeal.controller = a.controller;
                }
            }
            Ok::<_, TransitionError>(t)
        })
        .map_err(ApiError::internal)?;
    let (appeal, t) = match updated {
        None => return Err(not_watched(&id)),
        Some(Err(e)) => {
            let (status, code) = match e {
                TransitionError::Illegal { .. } => (StatusCode::CONFLICT, "illegal_transition"),
                TransitionError::Invalid(_) => (StatusCode::CONFLICT, "transition_refused"),
                TransitionError::UnknownState(_) | TransitionError::Missing(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "bad_transition")
                }
            };
            return Err(ApiError::new(status, code, e.to_string()));
        }
        Some(Ok(done)) => done,
    };
    hub.sla
        .schedule(&appeal, sla, &clock, false)
        .map_err(ApiError::internal)?;
    let rejection = t.from == AppealState::ReportSubmitted && t.to == AppealState::InWork;
    let mut note = format!(
        "{} → {}{} by {}",
        t.from.as_str(),
        t.to.as_str(),
        if rejection { " (report rejected)" } else { "" },
        t.by
    );
    if let Some(r) = &t.reason {
        note.push_str(&format!(": {r}"));
    }
    if let Some(e) = &t.executor {
        note.push_str(&format!("; executor {e}"));
    }
    if let Some(d) = &t.department {
        note.push_str(&format!("; department {d}"));
    }
    if let Some(d) = t.answer_deadline {
        note.push_str(&format!(
            "; answer deadline {}",
            super::format_local(d, clock.utc_offset_minutes)
        ));
    }
    hub.store
        .update(&id, |r| {
            r.trace.push(crate::pipeline::trace_entry("sla", &note))
        })
        .map_err(ApiError::internal)?;
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    hub.audit
        .append(crate::audit::Action {
            actor: &caller.name,
            role: caller.role.as_str(),
            action: "appeal-transition",
            target: &id,
            changes: json!({
                "from": t.from, "to": t.to, "reason": t.reason,
                "executor": t.executor, "department": t.department,
                "answer_deadline": t.answer_deadline, "report_rejected": rejection,
            }),
        })
        .map_err(|e| ApiError::internal(e.context("recording the transition in the audit log")))?;
    Ok(Json(appeal).into_response())
}

/// What `/v1/status/{id}` adds for a watched appeal: its state and deadlines, nothing of
/// its content.
pub fn status_fields(hub: &Hub, id: &str) -> anyhow::Result<Option<serde_json::Value>> {
    Ok(hub.sla.get(id)?.map(|a| {
        json!({
            "appeal_state": a.state,
            "deadline_rule": a.rule,
            "registration_deadline": a.registration_deadline,
            "answer_deadline": a.answer_deadline,
            "extended": a.extended,
            "late": a.late,
        })
    }))
}
