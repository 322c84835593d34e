//! Webhooks: `POST /v1/webhooks/{source}` for platforms that cannot send the hub's bearer
//! token (VK's Callback API, Telegram's Bot API). They prove who they are with a shared
//! secret instead (VK's `secret` in the body, Telegram's
//! `X-Telegram-Bot-Api-Secret-Token` header), and only the source's connector knows where
//! to find it, so the connector checks it while decoding.
//!
//! A source opens this door only when its config says `auth = "connector"`; any other
//! source answers 404 here, so the route holds nothing for a source that did not ask for it.
//! The request reaches the connector as an ingest does (the body, its Content-Type, the
//! `x-` headers as `http.header.NAME` metadata) plus `http.route = webhook`.
//!
//! What the connector answers, and what the platform gets:
//! - messages: `200 ok` (text, as VK requires for every event; Telegram takes any 2xx),
//!   also when every message was a repeat, so a platform's retry stops;
//! - an error whose message is a JSON object (see [`Structured`]):
//!   `"auth": "missing"` → 401, `"auth": "invalid"` → 403, `"fields": [...]` → 422 with
//!   the list, `"reply": "TEXT"` → `200 TEXT` with nothing stored (VK's `confirmation`
//!   handshake: the platform expects the configured string as the body);
//! - any other error: as on `POST /v1/sources/{source}/messages`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiError;
use crate::config::SourceAuth;
use crate::model::PluginError;
use crate::pipeline::{Hub, IngestError};
use crate::runtime::CallError;

pub fn routes() -> Router<Arc<Hub>> {
    Router::new().route("/v1/webhooks/{source}", post(receive))
}

/// What a plugin may say beyond its text, by making its error message a JSON object:
/// `{"message": "...", "auth": "missing" | "invalid"}`,
/// `{"message": "...", "fields": [{"field": "surname", "problem": "missing", "ru": "...", "en": "..."}]}`
/// or `{"message": "...", "reply": "..."}`. The contract's error has a kind and a text
/// only; this keeps every plugin built against it valid, and a plugin that never writes
/// JSON is read as before.
#[derive(Debug, Default, Deserialize)]
pub struct Structured {
    pub message: String,
    #[serde(default)]
    pub auth: Option<AuthProblem>,
    #[serde(default)]
    pub fields: Option<Vec<Value>>,
    #[serde(default)]
    pub reply: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthProblem {
    /// The request carries no secret: 401.
    Missing,
    /// It carries one that is not the configured secret: 403.
    Invalid,
}

/// Longest reply passed back to a platform: a handshake string, not a document.
const MAX_REPLY_BYTES: usize = 1024;

impl Structured {
    /// The structured part of a plugin's error, if its message is such a JSON object.
    pub fn of(error: &PluginError) -> Option<Structured> {
        let text = error.message.trim_start();
        if !text.starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// The API's answer to a connector's structured refusal, on either ingest route; `None`
/// for an error that carries no status of its own (a reply is the webhook's alone).
pub fn refusal(plugin: &str, error: &PluginError) -> Option<ApiError> {
    let structured = Structured::of(error)?;
    let message = format!("plugin {plugin:?}: {}", structured.message);
    if let Some(problem) = structured.auth {
        let (status, code) = match problem {
            AuthProblem::Missing => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AuthProblem::Invalid => (StatusCode::FORBIDDEN, "forbidden"),
        };
        return Some(ApiError::new(status, code, message));
    }
    let fields = structured.fields?;
    Some(ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_fields",
        message,
        details: json!({"kind": "plugin-invalid-input", "fields": fields}),
    })
}

async fn receive(
    State(hub): State<Arc<Hub>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let opened = hub
        .active()
        .config
        .source(&source)
        .is_some_and(|s| s.auth == SourceAuth::Connector);
    if !opened {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_source",
            format!("no source named {source:?} takes webhooks (a source takes them with auth = \"connector\")"),
        ));
    }
    let body = body.map_err(|e| {
        hub.metrics.rejected("too-large");
        ApiError::from(e)
    })?;
    let mut inbound = super::inbound_from(&headers, body);
    inbound
        .metadata
        .push(("http.route".into(), "webhook".into()));
    match hub.ingest(&source, inbound).await {
        Ok(_) => Ok(text(StatusCode::OK, "ok".into())),
        Err(IngestError::Decode(CallError::Plugin { error, .. })) if reply_of(&error).is_some() => {
            Ok(text(StatusCode::OK, reply_of(&error).unwrap_or_default()))
        }
        Err(e) => Err(super::ingest_error(e)),
    }
}

/// The answer a connector asks the platform to get, nothing being stored.
fn reply_of(error: &PluginError) -> Option<String> {
    Structured::of(error)
        .and_then(|s| s.reply)
        .filter(|r| r.len() <= MAX_REPLY_BYTES)
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorKind;

    fn error(message: &str) -> PluginError {
        PluginError {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        }
    }

    #[test]
    fn plain_errors_carry_no_status() {
        assert!(refusal("p", &error("line 3: a broken quote")).is_none());
        assert!(refusal("p", &error("{not json")).is_none());
    }

    #[test]
    fn auth_problems_are_401_and_403() {
        let missing = refusal(
            "vk",
            &error(r#"{"message": "no secret", "auth": "missing"}"#),
        );
        assert_eq!(missing.unwrap().status, StatusCode::UNAUTHORIZED);
        let invalid = refusal(
            "vk",
            &error(r#"{"message": "wrong secret", "auth": "invalid"}"#),
        );
        assert_eq!(invalid.unwrap().status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn fields_are_a_422_with_the_list() {
        let e = refusal(
            "site",
            &error(r#"{"message": "2 fields", "fields": [{"field": "surname"}, {"field": "consent"}]}"#),
        )
        .unwrap();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["fields"][1]["field"], "consent");
    }

    #[test]
    fn a_reply_is_no_refusal() {
        let e = error(r#"{"message": "confirmation", "reply": "d8v2ve07"}"#);
        assert!(refusal("vk", &e).is_none());
        assert_eq!(
            Structured::of(&e).unwrap().reply.as_deref(),
            Some("d8v2ve07")
        );
    }
}
