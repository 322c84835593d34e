//! Reading the platforms' JSON by path, with errors that name the path.

use okno_sdk::prelude::*;
use serde_json::Value;

/// The value at `path` (keys separated by `.`), if every step is there.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

pub fn int(value: &Value, path: &str) -> Option<i64> {
    at(value, path).and_then(Value::as_i64)
}

pub fn string<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// An integer the event must have.
pub fn need_int(value: &Value, path: &str, what: &str) -> Result<i64, PluginError> {
    match at(value, path) {
        None => Err(PluginError::invalid_input(format!(
            "{what}: `{path}` is missing"
        ))),
        Some(v) => v.as_i64().ok_or_else(|| {
            PluginError::invalid_input(format!(
                "{what}: `{path}` must be an integer, found {}",
                kind(v)
            ))
        }),
    }
}

/// A string the event may have; present but not a string is an error.
pub fn opt_string<'a>(
    value: &'a Value,
    path: &str,
    what: &str,
) -> Result<Option<&'a str>, PluginError> {
    match at(value, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(PluginError::invalid_input(format!(
            "{what}: `{path}` must be a string, found {}",
            kind(v)
        ))),
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a webhook body: UTF-8 JSON (a byte-order mark allowed), an object.
pub fn parse(bytes: &[u8]) -> Result<Value, PluginError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| PluginError::invalid_input(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(PluginError::invalid_input(format!(
            "the body must be a JSON object, found {}",
            kind(&value)
        )));
    }
    Ok(value)
}
