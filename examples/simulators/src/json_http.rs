//! What the JSON-over-HTTP simulators (SOG, the KND portal) share: checking a document
//! against the committed JSON Schema, and posting a document to the hub as the real
//! system's outbox would.

use std::time::Duration;

use serde_json::Value;

/// Where a simulator posts the documents its system sends: a hub source.
#[derive(Debug, Clone)]
pub struct Push {
    /// e.g. `http://127.0.0.1:8080/v1/sources/sog/messages`
    pub url: String,
    /// A `source` token bound to that source.
    pub token: String,
}

/// The committed schema `text` (JSON Schema 2020-12), formats checked.
pub fn validator(text: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(text).expect("the committed schema is JSON");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the committed schema compiles")
}

/// The schema's errors for `document`, each with its place.
pub fn schema_errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Posts `document` to the hub, retrying while the hub starts or fails (a few tries, as
/// a real system's outbox would). Returns the last status, 0 when none answered.
pub async fn push(client: &reqwest::Client, target: &Push, document: &Value) -> u16 {
    let mut status = 0;
    for attempt in 0..5 {
        match client
            .post(&target.url)
            .bearer_auth(&target.token)
            .json(document)
            .send()
            .await
        {
            Ok(response) => {
                status = response.status().as_u16();
                if !response.status().is_server_error() {
                    break;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, url = %target.url, "pushing a document to the hub")
            }
        }
        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
    }
    status
}
