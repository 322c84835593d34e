//! Legacy Russian mail often carries 8-bit text without a charset declaration (or with a
//! wrong `us-ascii` one), in either windows-1251 or KOI8-R. These helpers tell them apart.

use mail_parser::decoders::charsets::map::charset_decoder;

/// A charset mail-parser can decode, by its canonical lower-case name.
pub fn decode(charset: &str, bytes: &[u8]) -> Option<String> {
    if is_utf8_superset(charset) {
        return Some(String::from_utf8_lossy(bytes).into_owned());
    }
    charset_decoder(charset.as_bytes()).map(|decoder| decoder(bytes))
}

/// True when `charset` can be decoded (mail-parser reads UTF-8 natively and has a
/// decoder for the others).
pub fn is_known(charset: &str) -> bool {
    is_utf8_superset(charset) || charset_decoder(charset.as_bytes()).is_some()
}

fn is_utf8_superset(charset: &str) -> bool {
    ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|c| charset.eq_ignore_ascii_case(c))
}

/// Decodes bytes whose charset is unknown: UTF-8 if they are valid UTF-8, else the
/// `fallback` charset, else whichever of windows-1251 and KOI8-R reads as Russian text.
/// Returns the text and the charset used.
pub fn decode_undeclared(bytes: &[u8], fallback: Option<&str>) -> (String, String) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), "utf-8".into());
    }
    if let Some(charset) = fallback {
        if let Some(text) = decode(charset, bytes) {
            return (text, charset.to_ascii_lowercase());
        }
    }
    let (charset, text) = guess_cyrillic(bytes);
    (text, charset.into())
}

/// Picks windows-1251 or KOI8-R for 8-bit bytes. Both map 0xC0..=0xFF to Cyrillic letters,
/// but with the cases swapped: windows-1251 has lower case in 0xE0..=0xFF, KOI8-R in
/// 0xC0..=0xDF. Russian prose is mostly lower case, so the reading with more lower-case
/// letters wins; windows-1251 wins a tie, being the more common of the two.
pub fn guess_cyrillic(bytes: &[u8]) -> (&'static str, String) {
    let high_upper = bytes.iter().filter(|&&b| b >= 0xE0).count();
    let high_lower = bytes.iter().filter(|&&b| (0xC0..0xE0).contains(&b)).count();
    let charset = if high_lower > high_upper {
        "koi8-r"
    } else {
        "windows-1251"
    };
    let text =
        decode(charset, bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    (charset, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    // «Прошу восстановить отопление» in each encoding.
    const CP1251: &[u8] = b"\xcf\xf0\xee\xf8\xf3 \xe2\xee\xf1\xf1\xf2\xe0\xed\xee\xe2\xe8\xf2\xfc \xee\xf2\xee\xef\xeb\xe5\xed\xe8\xe5";
    const KOI8R: &[u8] = b"\xf0\xd2\xcf\xdb\xd5 \xd7\xcf\xd3\xd3\xd4\xc1\xce\xcf\xd7\xc9\xd4\xd8 \xcf\xd4\xcf\xd0\xcc\xc5\xce\xc9\xc5";

    #[test]
    fn tells_windows_1251_from_koi8_r() {
        assert_eq!(
            guess_cyrillic(CP1251),
            ("windows-1251", "Прошу восстановить отопление".into())
        );
        assert_eq!(
            guess_cyrillic(KOI8R),
            ("koi8-r", "Прошу восстановить отопление".into())
        );
    }

    #[test]
    fn prefers_utf8_then_the_configured_fallback() {
        assert_eq!(
            decode_undeclared("тепло".as_bytes(), None),
            ("тепло".into(), "utf-8".into())
        );
        let (text, used) = decode_undeclared(CP1251, Some("KOI8-R"));
        assert_eq!(used, "koi8-r");
        assert_ne!(text, "Прошу восстановить отопление");
        assert_eq!(decode_undeclared(KOI8R, None).1, "koi8-r");
    }

    #[test]
    fn knows_the_legacy_russian_charsets() {
        for name in ["koi8-r", "windows-1251", "cp1251", "utf-8", "iso-8859-5"] {
            assert!(is_known(name), "{name}");
        }
        assert!(!is_known("no-such-charset"));
    }
}
