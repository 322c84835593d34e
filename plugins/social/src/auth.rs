//! The platforms' shared secrets, and the refusals the hub's webhook route turns into
//! HTTP statuses.
//!
//! The contract's error has a kind and a text; the hub reads a text that is a JSON
//! object as structured (see the README, "VK and Telegram"): `"auth": "missing"` is a 401,
//! `"auth": "invalid"` a 403, and `"reply": "..."` is sent back as the response body
//! with nothing stored (VK's confirmation handshake).

use okno_sdk::prelude::*;
use serde_json::json;
use subtle::ConstantTimeEq;

/// Whether `given` is `expected`, in time that does not depend on where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The request carries no secret.
pub fn missing(message: &str) -> PluginError {
    structured(json!({"message": message, "auth": "missing"}))
}

/// The request carries a secret that is not the configured one.
pub fn invalid(message: &str) -> PluginError {
    structured(json!({"message": message, "auth": "invalid"}))
}

/// Not a message: the platform expects `reply` as the response body.
pub fn reply(message: &str, reply: &str) -> PluginError {
    PluginError::unsupported(json!({"message": message, "reply": reply}).to_string())
}

fn structured(value: serde_json::Value) -> PluginError {
    PluginError::invalid_input(value.to_string())
}

/// Whether the request came through the hub's webhook route (no bearer token), where the
/// secret is the only proof of who sent it.
pub fn via_webhook(input: &Inbound) -> bool {
    input
        .metadata
        .iter()
        .any(|(k, v)| k == "http.route" && v == "webhook")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("s3cr3t", "s3cr3t"));
        assert!(!same_secret("s3cr3t", "s3cr3T"));
        assert!(!same_secret("s3cr3", "s3cr3t"));
        assert!(!same_secret("", "s3cr3t"));
    }

    #[test]
    fn refusals_are_json_the_hub_reads() {
        let e = invalid("wrong secret");
        let v: serde_json::Value = serde_json::from_str(&e.message).unwrap();
        assert_eq!(v["auth"], "invalid");
        let r = reply("confirmation", "abc");
        let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
        assert_eq!(v["reply"], "abc");
    }
}
