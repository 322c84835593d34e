//! The form's raw fields, from JSON or from `application/x-www-form-urlencoded`.

use std::collections::BTreeMap;

use okno_sdk::prelude::*;
use serde_json::Value;

use crate::problems::{Problem, Problems};

/// One field as it came: text (a form's values are all text), or a JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Text(String),
    Json(Value),
}

/// Field name → what came; a name sent twice keeps its first value.
pub type Fields = BTreeMap<String, Raw>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    UrlEncoded,
}

/// Which format the body is in: by its Content-Type, or by its first byte when it has none.
pub fn format_of(content_type: Option<&str>, bytes: &[u8]) -> Result<Format, PluginError> {
    let media = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|c| !c.is_empty());
    match media.as_deref() {
        Some("application/json") => Ok(Format::Json),
        Some("application/x-www-form-urlencoded") => Ok(Format::UrlEncoded),
        Some(other) => Err(PluginError::invalid_input(format!(
            "the form came as {other}; send application/json or application/x-www-form-urlencoded"
        ))),
        None => Ok(
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                Format::Json
            } else {
                Format::UrlEncoded
            },
        ),
    }
}

/// The fields, and the problems found while reading them (a value that is not UTF-8).
pub fn parse(format: Format, bytes: &[u8]) -> Result<(Fields, Problems), PluginError> {
    match format {
        Format::Json => Ok((parse_json(bytes)?, Problems::default())),
        Format::UrlEncoded => Ok(parse_urlencoded(bytes)),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Fields, PluginError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| PluginError::invalid_input(format!("the form is not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(PluginError::invalid_input(
            "the form must be a JSON object of fields",
        ));
    };
    Ok(object
        .into_iter()
        .map(|(k, v)| {
            let raw = match v {
                Value::String(s) => Raw::Text(s),
                other => Raw::Json(other),
            };
            (k, raw)
        })
        .collect())
}

fn parse_urlencoded(bytes: &[u8]) -> (Fields, Problems) {
    let mut fields = Fields::new();
    let mut not_utf8 = Problems::default();
    for (key, value) in form_urlencoded::parse(bytes) {
        // The decoder replaces bytes that are not UTF-8; a site sends UTF-8, so such a
        // field is garbled, and is reported rather than stored with U+FFFD in it.
        if value.contains('\u{FFFD}') || key.contains('\u{FFFD}') {
            if !not_utf8.0.iter().any(|p| p.field == key) {
                not_utf8.add(
                    &key,
                    Problem::Invalid,
                    "значение не в кодировке UTF-8",
                    "the value is not UTF-8",
                );
            }
            continue;
        }
        fields
            .entry(key.into_owned())
            .or_insert(Raw::Text(value.into_owned()));
    }
    (fields, not_utf8)
}
