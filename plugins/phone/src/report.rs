//! Missed and abandoned calls per hour, for the contact center's report.
//!
//! The plugin's kv holds `hour/2024-01-27T16` → `{"missed": N, "abandoned": M}` (the
//! hour in the PBX's time zone), and `counted/CALL-ID` for each call counted, so a file
//! delivered twice is not counted twice. Each call's message carries its hour's totals
//! so far (`phone.hour`, `phone.hour-missed`, `phone.hour-abandoned`); the last message
//! of an hour carries the hour's figures, which `GET /v1/messages?channel=phone` lists
//! and a route can send on. A call file that arrives later for an earlier hour adds to
//! that hour.

use okno_sdk::kv;
use okno_sdk::prelude::*;
use serde_json::{json, Value};

use crate::calls::{Call, Outcome};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hour {
    pub missed: u64,
    pub abandoned: u64,
}

fn kv_error(e: impl std::fmt::Debug) -> PluginError {
    PluginError::upstream(format!("the hub's kv failed: {e:?}"))
}

fn read(key: &str) -> Result<Hour, PluginError> {
    let Some(bytes) = kv::get(key).map_err(kv_error)? else {
        return Ok(Hour::default());
    };
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Hour {
        missed: value.get("missed").and_then(Value::as_u64).unwrap_or(0),
        abandoned: value.get("abandoned").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// Counts `call` under `hour` if it was missed or abandoned and is not counted yet, and
/// returns the hour's totals.
pub fn count(call: &Call, hour: &str) -> Result<Hour, PluginError> {
    let key = format!("hour/{hour}");
    let mut totals = read(&key)?;
    if !matches!(call.outcome, Outcome::Missed | Outcome::Abandoned) {
        return Ok(totals);
    }
    let marker = format!("counted/{}", call.id);
    if kv::get(&marker).map_err(kv_error)?.is_some() {
        return Ok(totals);
    }
    match call.outcome {
        Outcome::Missed => totals.missed += 1,
        _ => totals.abandoned += 1,
    }
    let value = json!({"missed": totals.missed, "abandoned": totals.abandoned});
    kv::set(&key, value.to_string().as_bytes()).map_err(kv_error)?;
    kv::set(&marker, b"1").map_err(kv_error)?;
    Ok(totals)
}
