//! An HTTP sink: POST the connector's bytes, with `Idempotency-Key: <message id>` so the
//! receiver can drop the repeats that at-least-once delivery brings.

use std::time::Duration;

use crate::config::SinkConfig;
use crate::model::Outbound;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: connection refused, timeout, 5xx, 408, 429.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help: another 4xx, or the message cannot be encoded.
    #[error("{0}")]
    Permanent(String),
}

pub async fn send(
    client: &reqwest::Client,
    sink: &SinkConfig,
    message_id: &str,
    outbound: Outbound,
) -> Result<(), SendError> {
    let mut request = client
        .post(sink.url.get_ref())
        .timeout(Duration::from_millis(sink.timeout_ms))
        .header("content-type", outbound.content_type)
        .header("idempotency-key", message_id);
    for (name, value) in outbound.headers {
        request = request.header(name, value);
    }
    let response = request.body(outbound.bytes).send().await.map_err(|e| {
        SendError::Transient(format!(
            "sending to {}: {}",
            sink.url.get_ref(),
            if e.is_timeout() {
                "timed out".to_string()
            } else {
                // With its causes: a TLS failure's reason (unknown issuer, certificate
                // required) is only in them.
                crate::tls::describe(&e)
            }
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let text = format!("{} answered {status}: {body}", sink.url.get_ref());
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(SendError::Transient(text))
    } else {
        Err(SendError::Permanent(text))
    }
}
