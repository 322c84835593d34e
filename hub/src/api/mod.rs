//! The HTTP API (axum): a thin door that authenticates, parses and calls the pipeline.
//! Every error has one shape (see `error`), every route a role (see `access`).

pub mod access;
mod admin;
mod corrections;
mod error;
mod webhook;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub use error::ApiError;

use crate::auth::Caller;
use crate::model::Inbound;
use crate::pipeline::{Hub, IngestError};
use crate::store::State as MessageState;

/// Most `x-` headers of an ingest request kept as the message's metadata, and the
/// longest value kept: metadata is routable and stored with the message.
const MAX_METADATA_HEADERS: usize = 32;
const MAX_METADATA_VALUE_BYTES: usize = 1024;

pub fn router(hub: Arc<Hub>) -> Router {
    let limit = hub.active().config.hub.max_body_bytes;
    Router::new()
        .route("/v1/sources/{source}/messages", post(ingest))
        .route("/v1/messages", get(list_messages))
        .route("/v1/messages/{id}", get(get_message))
        .route("/v1/status/{id}", get(status))
        .route("/v1/dead-letters", get(dead_letters))
        .route("/v1/dead-letters/{id}/replay", post(replay))
        .route("/v1/dead-letters/{id}/discard", post(discard))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .merge(corrections::routes())
        .merge(crate::sla::api::routes())
        .merge(admin::routes())
        .merge(webhook::routes())
        // Every route, and only routes (an unknown path stays a plain 404), passes the
        // token check first.
        .route_layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            access::authorize,
        ))
        .fallback(|| async {
            ApiError::not_found("no such endpoint; see the API section of the README")
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(error::uniform_errors))
        .with_state(hub)
}

async fn ingest(
    State(hub): State<Arc<Hub>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        hub.metrics.rejected("too-large");
        ApiError::from(e)
    })?;
    let inbound = inbound_from(&headers, body);
    match hub.ingest(&source, inbound).await {
        Ok(accepted) => {
            let ids: Vec<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
            let all_duplicates = !accepted.is_empty() && accepted.iter().all(|a| a.duplicate);
            let status = if all_duplicates {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            let duplicates: Vec<&str> = accepted
                .iter()
                .filter(|a| a.duplicate)
                .map(|a| a.id.as_str())
                .collect();
            Ok((status, Json(json!({"ids": ids, "duplicates": duplicates}))).into_response())
        }
        Err(e) => Err(ingest_error(e)),
    }
}

/// What an ingest hands the connector: the body, its Content-Type, and the `x-` headers
/// as `http.header.NAME` metadata (bounded: metadata is routable and stored).
fn inbound_from(headers: &HeaderMap, body: Bytes) -> Inbound {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let metadata = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-"))
        .filter(|(_, value)| value.len() <= MAX_METADATA_VALUE_BYTES)
        .filter_map(|(name, value)| {
            Some((
                format!("http.header.{name}"),
                value.to_str().ok()?.to_string(),
            ))
        })
        .take(MAX_METADATA_HEADERS)
        .collect();
    Inbound {
        bytes: body.to_vec(),
        content_type,
        metadata,
    }
}

/// An ingest's refusal as the API answers it, on the source route and the webhook route.
fn ingest_error(error: IngestError) -> ApiError {
    match error {
        IngestError::UnknownSource(s) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_source",
            format!("no source named {s:?} is configured"),
        ),
        e @ IngestError::Busy(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
        }
        IngestError::Decode(e) => {
            // A connector's structured refusal: a missing or wrong secret, or fields by name.
            let refusal = match &e {
                crate::runtime::CallError::Plugin { plugin, error } => {
                    webhook::refusal(plugin, error)
                }
                _ => None,
            };
            refusal.unwrap_or_else(|| ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "decode_failed",
                message: e.to_string(),
                details: json!({"kind": e.kind()}),
            })
        }
        IngestError::Store(e) => ApiError::internal(e),
        IngestError::StorageUnavailable(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            if e.full {
                "storage_full"
            } else {
                "storage_unavailable"
            },
            format!("{e}; retry later"),
        ),
    }
}

async fn get_message(
    State(hub): State<Arc<Hub>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match hub.store.get(&id).map_err(ApiError::internal)? {
        Some(record) => Ok(Json(record).into_response()),
        None => Err(ApiError::not_found(format!("no message {id:?}"))),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    channel: Option<String>,
    topic: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_messages(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let since = match &q.since {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "bad_query",
                        format!("since={text:?} is not RFC 3339: {e}"),
                    )
                })?
                .timestamp_millis(),
        ),
    };
    // An unknown state matches nothing: say so rather than read every record to find out.
    let state = match &q.state {
        None => None,
        Some(state) => Some(
            serde_json::from_value::<MessageState>(Value::String(state.clone())).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("unknown state {state:?}"),
                )
            })?,
        ),
    };
    let channel = match &q.channel {
        None => None,
        Some(c) => Some(crate::model::Channel::parse(c).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("unknown channel {c:?}"),
            )
        })?),
    };
    let filter = crate::store::ListFilter {
        state,
        channel,
        topic: q.topic.clone(),
        since,
    };
    // Reading the store blocks: off the async workers, so that a few listings at once
    // do not hold up every other request.
    let store = hub.store.clone();
    let cursor = q.cursor.clone();
    let (items, next) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut items = Vec::new();
        let mut next = None;
        for record in store.list(filter, cursor.as_deref())? {
            let record = record?;
            if items.len() == limit {
                next = items.last().map(|r: &Value| r["id"].clone());
                break;
            }
            items.push(json!({
                "id": record.message.id,
                "state": record.state,
                "channel": record.message.channel,
                "source": record.message.source,
                "received_at": record.message.received_at,
                "topic": record.classification.as_ref().and_then(|c| c.topic.as_ref()).map(|t| &t.best.code),
                "priority": record.decision.as_ref().map(|d| d.priority),
                "answer_deadline": record.decision.as_ref().and_then(|d| d.answer_deadline),
            }));
        }
        Ok((items, next))
    })
    .await
    .map_err(|e| ApiError::internal(e.into()))?
    .map_err(ApiError::internal)?;
    Ok(Json(json!({"items": items, "next_cursor": next})).into_response())
}

async fn dead_letters(State(hub): State<Arc<Hub>>) -> Result<Response, ApiError> {
    let items = hub.store.dead_letters(1000).map_err(ApiError::internal)?;
    Ok(Json(json!({"items": items})).into_response())
}

/// Puts a message's dead letters back: deliveries into the outbox, failed steps into the
/// pipeline (see [`Hub::replay`]).
async fn replay(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let replayed = match hub.replay(&id).await {
        Ok(replayed) => replayed,
        Err(e @ crate::pipeline::ReplayError::NoDeadLetters(_)) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                e.to_string(),
            ))
        }
        Err(e) => return Err(ApiError::internal(e.into())),
    };
    admin::record(&hub, &caller, "replay", &id, json!({"replayed": replayed}))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "replayed": replayed})),
    )
        .into_response())
}

/// Drops a message's dead letters for good: an operator decided they need no retry. The
/// message keeps its state and its trace says who discarded what.
async fn discard(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let letters = hub
        .store
        .take_dead_letters(&id)
        .map_err(ApiError::internal)?;
    if letters.is_empty() {
        return Err(ApiError::not_found(format!(
            "message {id:?} has no dead letters"
        )));
    }
    let targets: Vec<String> = letters.into_iter().map(|l| l.target).collect();
    hub.store
        .update(&id, |r| {
            r.trace.push(crate::pipeline::trace_entry(
                "discard",
                &format!(
                    "dead letters {} discarded by {}",
                    targets.join(", "),
                    caller.name
                ),
            ));
        })
        .map_err(ApiError::internal)?;
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    admin::record(&hub, &caller, "discard", &id, json!({"discarded": targets}))?;
    Ok(Json(json!({"id": id, "discarded": targets})).into_response())
}

/// What a client may know of an appeal: where it stands and by when it is answered,
/// nothing of its content.
async fn status(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = hub
        .store
        .get(&id)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no message {id:?}")))?;
    let decision = record.decision.as_ref();
    let mut status = json!({
        "id": record.message.id,
        "state": record.state,
        "channel": record.message.channel,
        "received_at": record.message.received_at,
        "registration_deadline": decision.and_then(|d| d.registration_deadline),
        "answer_deadline": decision.and_then(|d| d.answer_deadline),
    });
    // A watched appeal's own state and deadlines (an extension moves them).
    if let (Some(fields), Some(map)) = (
        crate::sla::api::status_fields(&hub, &id).map_err(ApiError::internal)?,
        status.as_object_mut(),
    ) {
        map.extend(fields.as_object().cloned().unwrap_or_default());
    }
    Ok(Json(status).into_response())
}

async fn ready(State(hub): State<Arc<Hub>>) -> Response {
    let active = hub.active();
    let expected = active.config.plugins.len();
    let durability = &hub.store.durability;
    if let Some(unavailable) = durability.unavailable() {
        // Nothing can be acknowledged while the journal cannot reach the disk.
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "not_ready",
            message: unavailable.to_string(),
            details: json!({
                "failed_flushes": durability.failed_flushes(),
                "storage_full": unavailable.full,
            }),
        }
        .into_response()
    } else if active.plugins.len() == expected {
        Json(json!({"ready": true, "plugins": expected})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "plugins are not all loaded",
        )
        .into_response()
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    let store = crate::pipeline::metrics::StoreGauges {
        queue_depth: hub.store.pending_len() as u64,
        outbox_depth: hub.store.outbox_len() as u64,
        dead_letters: hub.store.dead_letter_count() as u64,
        messages_stored: hub.store.message_count() as u64,
        disk_bytes: hub.store.size_on_disk(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        hub.metrics.render(&store),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// `x-` headers become routable, stored metadata: only a bounded number of short
    /// ones, and nothing else a client sends.
    #[test]
    fn only_a_bounded_set_of_short_x_headers_becomes_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("message/rfc822"),
        );
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.insert("x-long", HeaderValue::from_str(&"v".repeat(2048)).unwrap());
        for i in 0..100 {
            headers.insert(
                axum::http::HeaderName::from_bytes(format!("x-h{i:03}").as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        let inbound = inbound_from(&headers, Bytes::from_static(b"body"));
        assert_eq!(inbound.content_type.as_deref(), Some("message/rfc822"));
        assert_eq!(inbound.metadata.len(), MAX_METADATA_HEADERS);
        assert!(inbound
            .metadata
            .iter()
            .all(|(name, value)| name.starts_with("http.header.x-h") && value == "1"));
    }
}
