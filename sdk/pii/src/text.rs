//! The character classes and lower-casing the detectors use, with the fast path for
//! ASCII and the Russian alphabet that `okno_sdk::text` has.
//!
//! The same functions as there, kept here because this crate must not depend on the
//! plugin SDK: the hub links this crate, and the SDK brings the WIT bindings with it.
//! The fast path matters inside WebAssembly, where the standard library's search in
//! Unicode tables costs about three times what it costs natively and Russian text reaches
//! it for every letter. Every function agrees with the standard library on every `char`
//! (the tests check all of them), so the detectors find the same spans either way.

/// `А`–`Я`, `Ё`.
fn is_russian_upper(c: char) -> bool {
    matches!(c, '\u{0410}'..='\u{042F}' | 'Ё')
}

/// `а`–`я`, `ё`.
fn is_russian_lower(c: char) -> bool {
    matches!(c, '\u{0430}'..='\u{044F}' | 'ё')
}

fn is_russian(c: char) -> bool {
    is_russian_upper(c) || is_russian_lower(c)
}

/// Same as [`char::is_alphabetic`].
#[inline]
pub fn is_alphabetic(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        is_russian(c) || c.is_alphabetic()
    }
}

/// Same as [`char::is_alphanumeric`].
#[inline]
pub fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        is_russian(c) || c.is_alphanumeric()
    }
}

/// Same as [`char::is_uppercase`].
#[inline]
pub fn is_uppercase(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_uppercase()
    } else if is_russian(c) {
        is_russian_upper(c)
    } else {
        c.is_uppercase()
    }
}

/// Same as [`char::is_lowercase`].
#[inline]
pub fn is_lowercase(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_lowercase()
    } else if is_russian(c) {
        is_russian_lower(c)
    } else {
        c.is_lowercase()
    }
}

/// The first character of [`char::to_lowercase`] (a few characters lower-case to two).
#[inline]
pub fn lowercase_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else if c == 'Ё' {
        'ё'
    } else if is_russian_upper(c) {
        // А–Я and а–я are two runs of 32 in the same order.
        char::from_u32(c as u32 + 0x20).unwrap_or(c)
    } else if is_russian_lower(c) {
        c
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// [`str::to_lowercase`] with `ё` written as `е`, as most Russian text writes it.
pub fn to_lowercase_folded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'Ё' | 'ё' => out.push('е'),
            // Σ lower-cases to ς or σ depending on its neighbours; the standard library
            // knows the rule, so a text with a capital sigma goes to it whole.
            'Σ' => return text.to_lowercase().replace('ё', "е"),
            _ if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            _ if is_russian(c) => out.push(lowercase_char(c)),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_char() -> impl Iterator<Item = char> {
        (0..=0x10FFFFu32).filter_map(char::from_u32)
    }

    #[test]
    fn classes_agree_with_the_standard_library_on_every_char() {
        for c in every_char() {
            assert_eq!(is_alphabetic(c), c.is_alphabetic(), "{c:?}");
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
            assert_eq!(is_uppercase(c), c.is_uppercase(), "{c:?}");
            assert_eq!(is_lowercase(c), c.is_lowercase(), "{c:?}");
            assert_eq!(lowercase_char(c), c.to_lowercase().next().unwrap(), "{c:?}");
        }
    }

    #[test]
    fn folded_lower_case_agrees_with_the_standard_library_on_every_char() {
        let mut text = String::new();
        for c in every_char() {
            text.clear();
            text.push(c);
            let expected = text.to_lowercase().replace('ё', "е");
            assert_eq!(to_lowercase_folded(&text), expected, "{c:?}");
        }
        for text in [
            "",
            "Ёлка и ЕЩЁ",
            "ΣΑΣ ёж",
            "ΟΔΟΣ ΟΔΟΣ.",
            "İstanbul",
            "ЖАЛОБА на ЖКХ: Ёлка, ЁЖИК",
        ] {
            let expected = text.to_lowercase().replace('ё', "е");
            assert_eq!(to_lowercase_folded(text), expected, "{text:?}");
        }
    }
}
