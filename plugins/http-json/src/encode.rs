//! A message, its classification and decision as one JSON document.
//!
//! Field names are the WIT field names with `_` for `-`; enum values are the WIT's
//! kebab-case names; timestamps are RFC 3339 UTC text; absent options are `null`.

use serde_json::{json, Map, Value};

use okno_sdk::prelude::*;

use crate::mask;
use crate::rfc3339;

/// The JSON document for a sink. With `mask_pii`, personal data is taken out first.
pub fn document(
    mut message: Message,
    mut classification: Classification,
    decision: &Decision,
    mask_pii: bool,
) -> Result<Value, PluginError> {
    if mask_pii {
        classification.pii = mask::mask(&mut message, &classification.pii)?;
    }
    Ok(json!({
        "id": message.id,
        "idempotency_key": message.idempotency_key,
        "channel": message.channel.as_str(),
        "source": message.source,
        "received_at": rfc3339::format(message.received_at),
        "sent_at": message.sent_at.map(rfc3339::format),
        "client": client(&message.client),
        "subject": message.subject,
        "body": message.body,
        "attachments": message.attachments.iter().map(attachment).collect::<Vec<_>>(),
        "metadata": metadata(&message.metadata),
        "thread": {
            "in_reply_to": message.thread.in_reply_to,
            "repeat_of": message.thread.repeat_of,
        },
        "classification": classification_json(&classification),
        "decision": decision_json(decision),
    }))
}

fn client(client: &Client) -> Value {
    json!({
        "kind": client.kind.as_str(),
        "name": client.name,
        "contacts": client.contacts.iter().map(|c| json!({"kind": c.kind, "value": c.value})).collect::<Vec<_>>(),
        "segments": client.segments,
    })
}

pub fn attachment(a: &Attachment) -> Value {
    json!({
        "name": a.name,
        "media_type": a.media_type,
        "size": a.size,
        "sha256": a.sha256,
        "content_ref": a.content_ref,
    })
}

/// Metadata as an object; a key that occurs more than once gets an array of its values,
/// in order, so nothing is lost.
pub fn metadata(pairs: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        match map.get_mut(key) {
            None => {
                map.insert(key.clone(), Value::String(value.clone()));
            }
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value.clone())]);
            }
        }
    }
    Value::Object(map)
}

fn classification_json(c: &Classification) -> Value {
    json!({
        "topic": c.topic.as_ref().map(|t| json!({
            "code": t.best.code,
            "name": t.best.name,
            "confidence": score(t.best.confidence),
            "alternatives": t.alternatives.iter().map(|a| json!({
                "code": a.code,
                "name": a.name,
                "confidence": score(a.confidence),
            })).collect::<Vec<_>>(),
            "low_confidence": t.low_confidence,
            "reasons": t.reasons,
        })),
        "sentiment": c.sentiment.as_ref().map(|s| json!({
            "label": s.label.as_str(),
            "score": score(s.score),
            "reasons": s.reasons,
        })),
        "kind": c.kind.as_ref().map(|k| json!({
            "kind": k.kind.as_str(),
            "repeat": k.repeat,
            "reasons": k.reasons,
        })),
        "tags": c.tags,
        "pii": c.pii.iter().map(|p| json!({"kind": p.kind, "start": p.start, "end": p.end})).collect::<Vec<_>>(),
    })
}

fn decision_json(d: &Decision) -> Value {
    json!({
        "priority": d.priority.as_str(),
        "registration_deadline": d.registration_deadline.map(rfc3339::format),
        "answer_deadline": d.answer_deadline.map(rfc3339::format),
        "responsible": d.responsible,
        "route_tags": d.route_tags,
        "reasons": d.reasons,
    })
}

/// Scores to four decimals: an f32 widened to f64 prints as 0.8999999761581421.
fn score(value: f32) -> Value {
    let rounded = (f64::from(value) * 10_000.0).round() / 10_000.0;
    serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_metadata_keys_become_arrays() {
        let pairs = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "3".to_string()),
            ("a".to_string(), "4".to_string()),
        ];
        assert_eq!(metadata(&pairs), json!({"a": ["1", "3", "4"], "b": "2"}));
    }

    #[test]
    fn scores_are_rounded_and_nan_is_null() {
        assert_eq!(score(0.9), json!(0.9));
        assert_eq!(score(f32::NAN), Value::Null);
    }
}
