//! Idempotency keys as the store keeps them: bounded, whatever a source sends.
//!
//! A key (a Message-ID, an SMEV MessageID, an order number) comes from outside and may
//! be of any length. The rule:
//! - a key of at most [`MAX_KEY_BYTES`] bytes is kept as it is;
//! - a longer one is kept as its first bytes (cut at a character boundary), `…sha256:`
//!   and the SHA-256 of the whole key in hex, [`MAX_KEY_BYTES`] bytes at most: two keys
//!   that differ anywhere stay different, and a record shows where the key began;
//! - the index entry that finds a message by its key is the SHA-256 of the source's name,
//!   a NUL and the key as kept: 32 bytes, however long the key.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// The longest idempotency key a record keeps as sent.
pub const MAX_KEY_BYTES: usize = 256;

/// What stands between a long key's first bytes and its digest.
const DIGEST_MARK: &str = "…sha256:";

/// The key as the record keeps it (see the module's rule).
pub fn bounded_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(key);
    }
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let mut end = MAX_KEY_BYTES - DIGEST_MARK.len() - digest.len();
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{DIGEST_MARK}{digest}", &key[..end]))
}

/// The `idempotency` tree's key for `key` (as kept) of `source`.
pub fn index_key(source: &str, key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_key_is_kept_and_a_long_one_is_bounded_and_still_distinct() {
        assert_eq!(bounded_key("abc@example.ru"), "abc@example.ru");
        let exact = "a".repeat(MAX_KEY_BYTES);
        assert_eq!(bounded_key(&exact), exact.as_str());

        let long = "я".repeat(5 << 20);
        let kept = bounded_key(&long);
        assert!(kept.len() <= MAX_KEY_BYTES, "{}", kept.len());
        assert!(kept.starts_with("яяя"), "{kept}");
        assert!(kept.contains("…sha256:"), "{kept}");
        // Differing only at the end: still two keys.
        let mut other = long.clone();
        other.push('!');
        assert_ne!(bounded_key(&other), kept);
        // A key as kept is kept as it is: bounding twice changes nothing.
        assert_eq!(bounded_key(&kept), kept);
    }

    #[test]
    fn index_keys_separate_sources() {
        assert_ne!(index_key("mail", "k"), index_key("site", "k"));
        assert_ne!(index_key("ab", "c"), index_key("a", "bc"));
        assert_eq!(index_key("mail", "k"), index_key("mail", "k"));
    }
}
