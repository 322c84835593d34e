//! Writing MIME bodies (quoted-printable, base64) and RFC 5322 dates; header fields are
//! mail-builder's, reading MIME is mail-parser's.

use okno_sdk::prelude::*;
use okno_sdk::time;

/// Longest line a header or body may have, CRLF excluded (RFC 5322 2.1.1 recommends 78).
pub const MAX_LINE: usize = 78;

/// Longest quoted-printable line, `=` of a soft break included (RFC 2045 6.7).
const MAX_QP_LINE: usize = 76;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// True for `local@domain` in printable ASCII with nothing that could break a header
/// (no spaces, angle brackets, quotes, commas or line breaks).
pub fn is_plain_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c);
    !local.is_empty()
        && !domain.is_empty()
        && local.chars().all(allowed)
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Standard base64 with padding, on one line.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A base64 body: lines of 76 characters, CRLF line ends.
pub fn base64_body(data: &[u8]) -> String {
    let encoded = base64(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(MAX_QP_LINE) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str("\r\n");
    }
    out
}

/// A quoted-printable body of UTF-8 text: CRLF line ends, soft breaks before 76
/// characters, `=XX` for `=`, non-ASCII bytes and whitespace at the end of a line.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let literal =
                (b.is_ascii_graphic() && b != b'=') || (matches!(b, b' ' | b'\t') && !last);
            let piece_len = if literal { 1 } else { 3 };
            // Room for the piece and, unless the line ends here, a soft break's `=`.
            let room = if last { MAX_QP_LINE } else { MAX_QP_LINE - 1 };
            if width + piece_len > room {
                out.push_str("=\r\n");
                width = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            width += piece_len;
        }
        out.push_str("\r\n");
    }
    out
}

/// An RFC 5322 date, e.g. `Mon, 12 Jan 2026 09:00:00 +0300`.
pub fn rfc5322_date(at: Timestamp, utc_offset_minutes: i32) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = at + i64::from(utc_offset_minutes) * 60_000;
    let date = time::civil_from_days(local.div_euclid(86_400_000));
    let seconds = local.rem_euclid(86_400_000) / 1000;
    let weekday = DAYS[usize::from(time::weekday(date) - 1)];
    let month = MONTHS[usize::from(date.month.clamp(1, 12) - 1)];
    let sign = if utc_offset_minutes < 0 { '-' } else { '+' };
    let offset = utc_offset_minutes.unsigned_abs();
    format!(
        "{weekday}, {} {month} {} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        date.day,
        date.year,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        offset / 60,
        offset % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::decoders::quoted_printable::quoted_printable_decode;

    #[test]
    fn checks_plain_addresses() {
        assert!(is_plain_address("priemnaya@minsoc.example.ru"));
        assert!(is_plain_address("ivan.petrov+appeal@example.ru"));
        for bad in [
            "",
            "noat",
            "@example.ru",
            "a@",
            "a b@example.ru",
            "a@example.ru\r\nBcc: x@y",
            "<a@b.ru>",
            "a@b.ru.",
            "a@@b.ru",
        ] {
            assert!(!is_plain_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn quoted_printable_round_trips_and_keeps_lines_short() {
        let text = "Уважаемый заявитель!\nСтрока с = знаком и пробелом в конце \n".to_string()
            + &"длинная строка ".repeat(20);
        let encoded = quoted_printable(&text);
        for line in encoded.split("\r\n") {
            assert!(line.len() <= MAX_QP_LINE, "{line}");
            assert!(!line.ends_with(' '), "{line:?}");
        }
        let decoded = quoted_printable_decode(encoded.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            text.replace('\n', "\r\n") + "\r\n"
        );
    }

    #[test]
    fn formats_rfc5322_dates() {
        // 2026-01-12T06:00:00Z is 09:00 in Moscow, a Monday.
        assert_eq!(
            rfc5322_date(1_768_197_600_000, 180),
            "Mon, 12 Jan 2026 09:00:00 +0300"
        );
        assert_eq!(
            rfc5322_date(1_768_197_600_000, -150),
            "Mon, 12 Jan 2026 03:30:00 -0230"
        );
    }
}
