//! An HTTP sink: POST the connector's bytes, with `Idempotency-Key: <message id>` so the
//! receiver can drop the repeats that at-least-once delivery brings.

use std::time::Duration;

use crate::config::SinkConfig;
use crate::model::Outbound;
use crate::observability::STORED_TEXT_BYTES;

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
    let body = read_at_most(response, STORED_TEXT_BYTES).await;
    let text = format!("{} answered {status}: {body}", sink.url.get_ref());
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(SendError::Transient(text))
    } else {
        Err(SendError::Permanent(text))
    }
}

/// The start of an error answer's body, as text, at most `max` bytes of it: the answer
/// goes into the message's record and a dead letter, and its size is the sink's to
/// choose, so no more than that is read. What could not be read is left out.
async fn read_at_most(mut response: reqwest::Response, max: usize) -> String {
    let mut bytes = Vec::new();
    let mut cut = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = max - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    if cut {
        // The cut may split a character; drop its first bytes rather than show U+FFFD.
        if let Err(e) = std::str::from_utf8(&bytes) {
            if e.error_len().is_none() {
                bytes.truncate(e.valid_up_to());
            }
        }
    }
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        text.push_str(&format!("… (the rest, past {max} bytes, was not read)"));
    }
    text
}
