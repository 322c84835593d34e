//! МЭДО uids for what the hub sends, and the way back from a uid to the hub's message.
//!
//! A notification or acknowledgment names the document it is about only by that
//! document's uid. So the uid of a document the hub sends carries the hub's message id
//! (20 hex digits: time and counter) in its first 20 digits, and in its last 12 the
//! start of SHA-256 over `okno:` and that id: a uid that checks out names the message,
//! and a foreign uid almost never checks out by chance (one in 2^48).

use sha2::{Digest, Sha256};

/// `8-4-4-4-12` hex digits.
pub fn is_uid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn digest_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The uid of the document the hub sends for message `id`. An id that is not the hub's
/// 20 hex digits gets a uid derived from it that does not lead back.
pub fn for_message(id: &str) -> String {
    let id = id.to_ascii_lowercase();
    if id.len() == 20 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        let check = digest_hex(&["okno", &id]);
        dashed(&format!("{id}{}", &check[..12]))
    } else {
        dashed(&digest_hex(&["okno-foreign", &id])[..32])
    }
}

/// The hub message id a uid of [`for_message`] carries.
pub fn message_of(uid: &str) -> Option<String> {
    if !is_uid(uid) {
        return None;
    }
    let hex: String = uid
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    let (id, check) = hex.split_at(20);
    (digest_hex(&["okno", id])[..12] == *check).then(|| id.to_string())
}

/// Another uid for the same message (a packet's header, a notification), stable across
/// calls so that a repeated encode writes the same bytes.
pub fn derived(id: &str, purpose: &str) -> String {
    dashed(&digest_hex(&["okno-derived", id, purpose])[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_uid_leads_back_and_a_foreign_one_does_not() {
        let uid = for_message("019abc0123450000002a");
        assert!(is_uid(&uid));
        assert_eq!(message_of(&uid).as_deref(), Some("019abc0123450000002a"));
        assert_eq!(
            message_of(&uid.to_uppercase()).as_deref(),
            Some("019abc0123450000002a")
        );
        assert_eq!(message_of("a644d9ca-d2c1-c94e-8373-2f2883696a93"), None);
        assert_eq!(message_of(&for_message("not-a-hub-id")), None);
        assert!(is_uid(&derived("x", "header")));
    }
}
