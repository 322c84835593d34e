//! What `okno plugin run` and `okno plugin test` take as a message: a message JSON, an
//! envelope `{"message", "classification", "decision"}`, or an array of either (what a
//! connector's `decode`, or a run with `--envelope`, prints). A field that is missing or
//! wrong is named by its JSON path, e.g. `[0].message.client.kind`.

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::model::{Classification, Decision, Message};

/// One message with what the stages before gave it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub message: Message,
    #[serde(default)]
    pub classification: Classification,
    #[serde(default)]
    pub decision: Decision,
}

/// Parses `bytes` (from `source`, a file name for messages) into envelopes, one per
/// message of the input.
pub fn parse(bytes: &[u8], source: &str) -> anyhow::Result<Vec<Envelope>> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("{source} is not JSON: {e}"))?;
    match value {
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                bail!("{source} is an empty array: there is no message to run the plugin on");
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| parse_one(item, source, &format!("[{i}]")))
                .collect()
        }
        value => Ok(vec![parse_one(value, source, "")?]),
    }
}

fn parse_one(value: serde_json::Value, source: &str, prefix: &str) -> anyhow::Result<Envelope> {
    let Some(object) = value.as_object() else {
        bail!(
            "{source}: {}: expected a message object (or {{\"message\", \"classification\", \"decision\"}}), found {}",
            if prefix.is_empty() { "the top level" } else { prefix },
            kind_of(&value)
        );
    };
    if object.contains_key("message") {
        return deserialize::<Envelope>(value, source, prefix);
    }
    // A classification or decision printed by an earlier run has none of a message's
    // fields: say how to chain instead of "missing field `channel`".
    let message_fields = ["channel", "body", "subject", "id", "client"];
    if !object.keys().any(|k| message_fields.contains(&k.as_str()))
        && object.keys().any(|k| {
            ["topic", "tags", "sentiment", "pii", "priority", "reasons"].contains(&k.as_str())
        })
    {
        bail!(
            "{source}: {}: this is a classification or a decision, not a message; run the earlier plugin with --envelope to print each message with its classification, and pass that on",
            if prefix.is_empty() { "the top level" } else { prefix }
        );
    }
    let message = deserialize::<Message>(value, source, prefix)?;
    Ok(Envelope {
        message,
        classification: Classification::default(),
        decision: Decision::default(),
    })
}

fn deserialize<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    source: &str,
    prefix: &str,
) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (true, ".") => "the top level".to_string(),
            (false, ".") => prefix.to_string(),
            (true, _) => inner,
            (false, _) => format!("{prefix}.{inner}"),
        };
        anyhow::anyhow!(
            "{source}: {path}: {} (`okno plugin example --world W` prints a complete input)",
            e.inner()
        )
    })
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_path_of_a_wrong_field() {
        let text = br#"[{"channel": "mail", "body": "a"}, {"message": {"channel": "mail", "client": {"kind": "citzen"}}}]"#;
        let error = parse(text, "in.json").unwrap_err().to_string();
        assert!(
            error.contains("in.json: [1].message.client.kind: unknown variant `citzen`"),
            "{error}"
        );
    }

    #[test]
    fn names_a_missing_field() {
        let error = parse(br#"{"body": "a"}"#, "in.json")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("in.json: the top level: missing field `channel`"),
            "{error}"
        );
    }

    #[test]
    fn a_classification_is_not_a_message() {
        let error = parse(br#"{"topic": null, "tags": []}"#, "c.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains("--envelope"), "{error}");
    }

    #[test]
    fn takes_bare_messages_envelopes_and_arrays() {
        let one = parse(br#"{"channel": "site", "body": "a"}"#, "x").unwrap();
        assert_eq!(one.len(), 1);
        let many = parse(
            br#"[{"channel": "site", "body": "a"}, {"message": {"channel": "mail"}, "classification": {"tags": ["t"]}}]"#,
            "x",
        )
        .unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].classification.tags, vec!["t".to_string()]);
    }
}
