//! The HTTP server the API runs on, with the bounds a public endpoint needs: a cap on
//! open connections, a deadline for request headers (which also closes idle keep-alive
//! connections), a deadline for a whole request, and a budget of body bytes being read
//! at once, with a body whose `Content-Length` is over the limit refused before it is
//! read.
//!
//! Memory for request bodies is bounded by the budget: at most `body_budget_mib` of
//! bodies are read at once, and a request whose body does not fit waits (up to the
//! request deadline) until others finish. Without it, fifty slow 9 MB uploads held
//! 450 MB for as long as their clients kept them open.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::api::ApiError;

/// Body bytes are counted against the budget in units of this size.
const BUDGET_UNIT: u64 = 64 * 1024;

/// How long, and how much of, a refused body is read and thrown away before its
/// connection closes (see `discard`).
const DISCARD_FOR: Duration = Duration::from_secs(10);
const DISCARD_MAX_BYTES: u64 = 256 << 20;

#[derive(Clone, Debug)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub body_budget_bytes: u64,
    pub max_body_bytes: u64,
}

impl ServerLimits {
    pub fn from_config(hub: &crate::config::HubConfig) -> ServerLimits {
        ServerLimits {
            max_connections: hub.max_connections,
            header_timeout: Duration::from_millis(hub.header_timeout_ms),
            request_timeout: Duration::from_millis(hub.request_timeout_ms),
            body_budget_bytes: (hub.body_budget_mib as u64) << 20,
            max_body_bytes: hub.max_body_bytes as u64,
        }
    }
}

/// Serves `app` on `listener` until the process ends.
pub async fn serve<L>(mut listener: L, app: Router, limits: ServerLimits)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let budget = Arc::new(BodyBudget {
        units: Semaphore::new(units(limits.body_budget_bytes) as usize),
        total: units(limits.body_budget_bytes),
        max_body_bytes: limits.max_body_bytes,
    });
    // The deadline runs from a request's admission: time spent waiting for the budget
    // is bounded by the deadlines of the requests holding it.
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(budget, admit_body));
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        // At the cap, further connections wait in the kernel's backlog, unread.
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let (io, peer) = listener.accept().await;
        let service = TowerToHyperService::new(
            app.clone()
                .map_request(|request: Request<hyper::body::Incoming>| request.map(Body::new)),
        );
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(header_timeout)
                .keep_alive_timeout(header_timeout);
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(io), service)
                .await
            {
                tracing::debug!(?peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
}

fn units(bytes: u64) -> u64 {
    bytes.div_ceil(BUDGET_UNIT).max(1)
}

struct BodyBudget {
    units: Semaphore,
    total: u64,
    max_body_bytes: u64,
}

/// Refuses a declared body over the limit at once, and holds the body's share of the
/// budget until the response is made (by then the handler has read the body or dropped
/// it). A body of unknown length takes the share of the largest allowed body.
async fn admit_body(
    State(budget): State<Arc<BodyBudget>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared {
        if length > budget.max_body_bytes {
            // Answer at once, and read what the client still sends into the void: a
            // socket closed with unread data gets a reset, and a client still writing
            // its body then sees a broken pipe instead of this answer.
            let (_, body) = request.into_parts();
            tokio::spawn(discard(body, length));
            let mut refused = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the body declares {length} bytes; this hub takes at most {} (hub.max_body_bytes)",
                    budget.max_body_bytes
                ),
            )
            .into_response();
            refused.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return refused;
        }
    }
    let has_body = declared.is_some_and(|n| n > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return next.run(request).await;
    }
    let share = units(declared.unwrap_or(budget.max_body_bytes)).min(budget.total) as u32;
    let Ok(_permit) = budget.units.acquire_many(share).await else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the hub is stopping",
        )
        .into_response();
    };
    next.run(request).await
}

/// Reads a refused body and throws it away, for at most `DISCARD_FOR` and at most the
/// declared length (and never more than `DISCARD_MAX_BYTES`); memory stays at one
/// frame. The connection closes when this ends.
async fn discard(body: Body, declared: u64) {
    use http_body_util::BodyExt;
    let limit = declared.min(DISCARD_MAX_BYTES);
    let mut body = body;
    let _ = tokio::time::timeout(DISCARD_FOR, async {
        let mut read = 0u64;
        while read < limit {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                _ => break,
            }
        }
    })
    .await;
}

/// A whole request, from its admission, body included, within the deadline: 408
/// otherwise.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} s (hub.request_timeout_ms)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}
