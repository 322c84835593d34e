//! Character classes and lower-casing with a fast path for the text appeals are written
//! in: ASCII and the Russian alphabet.
//!
//! `char::is_alphabetic`, `char::to_lowercase` and friends answer every character outside
//! ASCII with a search in Unicode tables. Inside WebAssembly that search costs about three
//! times what it costs natively, and Russian text reaches it for every letter, so a
//! classifier that splits words with the standard functions spends a third of its time
//! there. These functions answer `А`–`я`, `Ё` and `ё` directly and give every other
//! character to the standard library, so they agree with it on every `char` (a test
//! checks all of them).
//!
//! [`contains_char`] is here for the same reason: `str::contains` with a character
//! outside ASCII searches for its UTF-8 bytes as a string, which natively is a SIMD scan
//! and inside WebAssembly sets up a Two-Way searcher on every call.

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

/// Appends the lower case of `c` to `out`: the same characters [`char::to_lowercase`]
/// yields (a few characters lower-case to two).
#[inline]
pub fn push_lowercase(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else if is_russian(c) {
        out.push(lowercase_char(c));
    } else {
        out.extend(c.to_lowercase());
    }
}

/// The first character of [`char::to_lowercase`]: the lower case of `c`, for the few
/// characters that lower-case to two, the first of them.
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

/// Same as `text.contains(c)`.
pub fn contains_char(text: &str, c: char) -> bool {
    if c.is_ascii() {
        return text.as_bytes().contains(&(c as u8));
    }
    let mut buffer = [0u8; 4];
    let needle = c.encode_utf8(&mut buffer).as_bytes();
    // The last byte of a character outside ASCII is a continuation byte, rarer in Russian
    // text than the lead bytes that every Cyrillic letter shares.
    let last = needle.len() - 1;
    let bytes = text.as_bytes();
    (last..bytes.len())
        .any(|end| bytes[end] == needle[last] && bytes[end - last..end] == needle[..last])
}

/// Same as [`str::to_lowercase`].
pub fn to_lowercase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_lowercase_str(&mut out, text);
    out
}

/// [`to_lowercase`] with `ё` written as `е`, as most Russian text writes it: the form in
/// which the classifiers compare words, so that a word spelt either way matches both.
pub fn to_lowercase_folded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_lowercase_folded(&mut out, text);
    out
}

/// Appends [`to_lowercase`] of `text` to `out`: for lower-casing many words into one
/// reused buffer.
pub fn push_lowercase_str(out: &mut String, text: &str) {
    push_lowercase_text(out, text, false);
}

/// Appends [`to_lowercase_folded`] of `text` to `out`.
pub fn push_lowercase_folded(out: &mut String, text: &str) {
    push_lowercase_text(out, text, true);
}

/// Lower-cases `text` onto `out` in one pass, with `ё` as `е` when `fold_yo`.
#[inline]
fn push_lowercase_text(out: &mut String, text: &str, fold_yo: bool) {
    let start = out.len();
    out.reserve(text.len());
    for c in text.chars() {
        match c {
            'Ё' | 'ё' if fold_yo => out.push('е'),
            'Σ' => {
                // Σ lower-cases to ς or σ depending on its neighbours; the standard
                // library knows the rule, so a text with a capital sigma goes to it
                // whole. Checking here rather than searching the text first spares
                // Russian text a pass.
                out.truncate(start);
                let lower = text.to_lowercase();
                out.push_str(&if fold_yo {
                    lower.replace('ё', "е")
                } else {
                    lower
                });
                return;
            }
            _ => push_lowercase(out, c),
        }
    }
}

/// Classes of a word's first letter, for [`initial_class`]: one each for `а`–`я`, one for
/// everything else.
pub const INITIAL_CLASSES: usize = 33;

/// The class of the first letter of a lower-case `word`, `None` when it is empty. A word
/// can begin with another (its stem, a prefix in a word list) only when both are in one
/// class, so a list indexed by class spares most string comparisons, which inside the
/// sandbox are calls to a byte-by-byte `memcmp`.
pub fn initial_class(word: &str) -> Option<usize> {
    word.chars().next().map(|c| match c {
        'а'..='я' => c as usize - 'а' as usize,
        _ => INITIAL_CLASSES - 1,
    })
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
        }
    }

    #[test]
    fn contains_char_agrees_with_the_standard_library() {
        let texts = [
            "",
            "ё",
            "Ёлка и ещё",
            "ΣΑΣ",
            "a\u{10348}b",
            "приёмная",
            "abc",
        ];
        for text in texts {
            for c in ['ё', 'Ё', 'е', 'Σ', 'a', 'c', '\u{10348}', '\u{348}', 'я'] {
                assert_eq!(contains_char(text, c), text.contains(c), "{text:?} {c:?}");
            }
        }
    }

    #[test]
    fn folded_lower_case_is_lower_case_with_yo_as_ye() {
        for text in ["", "Ёлка и ЕЩЁ", "ΣΑΣ ёж", "abc", "приёмная"] {
            let expected = text.to_lowercase().replace('ё', "е");
            assert_eq!(to_lowercase_folded(text), expected, "{text:?}");
            let mut out = String::from("ё:");
            push_lowercase_folded(&mut out, text);
            assert_eq!(out, format!("ё:{expected}"), "what was there stays");
        }
    }

    #[test]
    fn initial_classes() {
        assert_eq!(initial_class(""), None);
        assert_eq!(initial_class("автобус"), Some(0));
        assert_eq!(initial_class("яма"), Some(31));
        assert_eq!(initial_class("№"), Some(INITIAL_CLASSES - 1));
        assert_eq!(initial_class("ёлка"), Some(INITIAL_CLASSES - 1));
    }

    #[test]
    fn lower_case_agrees_with_the_standard_library_on_every_char() {
        let mut ours = String::new();
        for c in every_char() {
            ours.clear();
            push_lowercase(&mut ours, c);
            assert_eq!(ours, c.to_lowercase().collect::<String>(), "{c:?}");
            assert_eq!(lowercase_char(c), c.to_lowercase().next().unwrap(), "{c:?}");
        }
    }

    #[test]
    fn lower_cases_text_as_the_standard_library_does() {
        for text in [
            "ЖАЛОБА на ЖКХ: Ёлка, ЁЖИК",
            "Mixed РЕГИСТР and ASCII 123",
            "ΟΔΟΣ ΟΔΟΣ.",
            "İstanbul",
            "",
        ] {
            assert_eq!(to_lowercase(text), text.to_lowercase(), "{text}");
            // A capital sigma found halfway sends the whole text to the standard
            // library; what the buffer held before stays.
            let mut out = String::from("Σ:");
            push_lowercase_str(&mut out, text);
            assert_eq!(out, format!("Σ:{}", text.to_lowercase()), "{text}");
        }
    }
}
