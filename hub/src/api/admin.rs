//! What admins and integrators call: reload, tokens, the audit log, the loaded plugins.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::ApiError;
use crate::audit::Action;
use crate::auth::{Caller, Role};
use crate::pipeline::Hub;

pub fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/v1/admin/reload", post(reload))
        .route("/v1/admin/tokens", get(list_tokens).post(create_token))
        .route("/v1/admin/tokens/{name}", delete(revoke_token))
        .route("/v1/audit", get(audit_page))
        .route("/v1/plugins", get(plugins))
}

/// Records an action in the audit log. An action that happened but could not be
/// recorded is reported as a failure, so nobody takes an unaudited change for a clean one.
pub fn record(
    hub: &Hub,
    caller: &Caller,
    action: &str,
    target: &str,
    changes: serde_json::Value,
) -> Result<(), ApiError> {
    hub.audit
        .append(Action {
            actor: &caller.name,
            role: caller.role.as_str(),
            action,
            target,
            changes,
        })
        .map(|_| ())
        .map_err(|e| ApiError::internal(e.context(format!("recording {action} in the audit log"))))
}

async fn reload(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let config = hub.config_path().display().to_string();
    if let Err(e) = hub.reload() {
        record(
            &hub,
            &caller,
            "reload",
            &config,
            json!({"result": "refused", "reason": crate::observability::for_log(&format!("{e:#}"))}),
        )?;
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_config",
            format!("{e:#}"),
        ));
    }
    record(
        &hub,
        &caller,
        "reload",
        &config,
        json!({"result": "reloaded"}),
    )?;
    Ok(Json(json!({"reloaded": true})).into_response())
}

async fn list_tokens(State(hub): State<Arc<Hub>>) -> Result<Response, ApiError> {
    let tokens = hub.tokens.list().map_err(ApiError::internal)?;
    let items: Vec<_> = tokens.iter().map(|t| t.summary()).collect();
    Ok(Json(json!({"items": items})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    source: Option<String>,
    /// A date (`2027-01-31`) or an RFC 3339 time.
    #[serde(default)]
    expires: Option<String>,
}

async fn create_token(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::new(e.status(), "bad_body", e.body_text()))?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_token", m);
    let role = Role::parse(&request.role).ok_or_else(|| {
        unprocessable(format!(
            "role {:?} is not one of admin, operator, integrator, client, metrics, source",
            request.role
        ))
    })?;
    let expires = request
        .expires
        .as_deref()
        .map(crate::auth::parse_expiry)
        .transpose()
        .map_err(|e| unprocessable(format!("{e:#}")))?;
    let (token, record_) = hub
        .tokens
        .create(&request.name, role, request.source.as_deref(), expires)
        .map_err(|e| unprocessable(format!("{e:#}")))?;
    record(
        &hub,
        &caller,
        "token.create",
        &record_.name,
        record_.summary(),
    )?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "details": record_.summary()})),
    )
        .into_response())
}

async fn revoke_token(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let revoked = hub
        .tokens
        .revoke(&name)
        .map_err(|e| ApiError::not_found(format!("{e:#}")))?;
    record(
        &hub,
        &caller,
        "token.revoke",
        &revoked.name,
        revoked.summary(),
    )?;
    Ok(Json(json!({"revoked": revoked.summary()})).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

async fn audit_page(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = hub.audit.page(q.after, limit).map_err(ApiError::internal)?;
    let next = (items.len() == limit).then(|| items.last().map(|e| e.seq));
    Ok(Json(json!({"items": items, "next_after": next.flatten()})).into_response())
}

async fn plugins(State(hub): State<Arc<Hub>>) -> Response {
    let active = hub.active();
    let mut items: Vec<_> = active
        .plugins
        .values()
        .map(|p| {
            json!({
                "name": p.name(),
                "world": p.world(),
                "contract_version": p.info.contract_version,
                "sha256": p.info.sha256,
                "size": p.info.size,
                "capabilities": p.info.capabilities,
            })
        })
        .collect();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(json!({"items": items})).into_response()
}
