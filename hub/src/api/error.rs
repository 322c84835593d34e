//! The one shape of every error the API answers:
//! `{"error": {"code": "...", "message": "...", "details": ...}}`.
//!
//! Handlers answer with [`ApiError`]. What axum answers by itself (a path that is not
//! UTF-8, a query that does not parse, a method the route does not take, a body over the
//! limit) is rewritten into the same shape by [`uniform_errors`], so a client never has
//! to parse plain text.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::RngCore;
use serde_json::{json, Value};

/// Most bytes of a plain-text error body carried into the JSON message.
const MAX_PLAIN_ERROR_BYTES: usize = 4096;

pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// A failure inside the hub. The client gets an error id and no internals (paths,
    /// store errors and plugin output are nobody's business outside); the log has the
    /// detail under the same id.
    pub fn internal(error: anyhow::Error) -> ApiError {
        let mut id = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let error_id = hex::encode(id);
        tracing::error!(
            error_id = %error_id,
            error = %crate::observability::for_log(&format!("{error:#}")),
            "internal error"
        );
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!(
                "the hub failed to do this; the administrator finds the cause in its log under error id {error_id}"
            ),
            details: json!({"error_id": error_id}),
        }
    }

    pub fn bad_body(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_body", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

/// A body that could not be read: over the size limit (413), or broken off.
impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> ApiError {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_body"
        };
        ApiError::new(e.status(), code, e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message, "details": self.details}})),
        )
            .into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"okno\""),
            );
        }
        response
    }
}

/// The error code for a status that axum answered by itself.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Rewrites any error response that is not already in the API's shape (axum's
/// rejections, 405) into it, keeping its status and headers (such as `Allow`).
pub async fn uniform_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take that method".into(),
            _ => status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_string(),
        }
    } else if status.is_server_error() {
        // Never pass through what a lower layer said about the hub's insides.
        status
            .canonical_reason()
            .unwrap_or("internal error")
            .to_string()
    } else {
        text
    };
    let body = json!({"error": {"code": code_for(status), "message": message, "details": null}});
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure inside the hub reaches the client as an error id, never its text.
    #[tokio::test]
    async fn an_internal_error_answers_an_id_and_no_internals() {
        let error =
            anyhow::anyhow!("open /var/lib/okno/data/db: Permission denied (ivanov@example.ru)");
        let response = ApiError::internal(error).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        let id = body["error"]["details"]["error_id"].as_str().unwrap();
        assert_eq!(id.len(), 12);
        let text = body.to_string();
        for secret in ["/var/lib", "Permission", "ivanov", "example.ru"] {
            assert!(
                !text.contains(secret),
                "{secret} reached the client: {text}"
            );
        }
    }
}
