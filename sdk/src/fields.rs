//! Checks of JSON fields against the rules a JSON Schema writes (`minLength`/`maxLength`
//! in characters, the `pattern`s of common `$defs`), written out so that a plugin needs
//! no regular-expression engine or schema validator (each call is a fresh instance and
//! would compile them every time). Each refusal is `invalid-input` and names the JSON path
//! of the value and what was expected. Used by the SOG and KND connectors.

use crate::types::{Date, PluginError, Timestamp};

pub fn refuse(path: &str, what: impl std::fmt::Display) -> PluginError {
    PluginError::invalid_input(format!("{path}: {what}"))
}

/// A text of 1 to `max` characters (the schema counts characters, not bytes).
pub fn text(path: &str, value: &str, max: usize) -> Result<(), PluginError> {
    if value.is_empty() {
        return Err(refuse(path, "is empty"));
    }
    // Counting stops past the limit: a long text costs no more than the limit to refuse.
    let count = value.chars().take(max + 1).count();
    if count > max {
        return Err(refuse(
            path,
            format!("is longer than {max} characters ({} bytes)", value.len()),
        ));
    }
    Ok(())
}

/// An id: a letter or digit, then letters, digits, `.`, `_`, `:` or `-`; at most 128.
pub fn id(path: &str, value: &str) -> Result<(), PluginError> {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if !first_ok || !rest_ok || value.len() > 128 {
        return Err(refuse(
            path,
            "is not an id: a Latin letter or digit, then letters, digits, `.`, `_`, `:` or `-`, at most 128",
        ));
    }
    Ok(())
}

/// A real calendar date, `YYYY-MM-DD`; returns it as a `Date`.
pub fn date(path: &str, value: &str) -> Result<Date, PluginError> {
    parse_date(value)
        .ok_or_else(|| refuse(path, format!("`{}` is not a date YYYY-MM-DD", shown(value))))
}

pub fn parse_date(value: &str) -> Option<Date> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &value[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1900..=2999).contains(&year) || day == 0 || day > days_in_month {
        return None;
    }
    Some(Date {
        year: year as i32,
        month: month as u8,
        day: day as u8,
    })
}

pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

/// An RFC 3339 time with an offset, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, as the
/// schema's pattern writes it (upper-case `T` and `Z`); returns milliseconds since the epoch.
pub fn time(path: &str, value: &str) -> Result<Timestamp, PluginError> {
    parse_time(value).ok_or_else(|| {
        refuse(
            path,
            format!(
                "`{}` is not a time like 2026-12-03T10:00:00+03:00",
                shown(value)
            ),
        )
    })
}

pub fn parse_time(value: &str) -> Option<Timestamp> {
    let b = value.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    parse_date(&value[..10])?;
    let two = |i: usize| -> Option<u32> {
        (b[i].is_ascii_digit() && b[i + 1].is_ascii_digit())
            .then(|| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0'))
    };
    if two(11)? > 23 || two(14)? > 59 || two(17)? > 59 {
        return None;
    }
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        rest = &fraction[digits..];
    }
    let zone_ok = rest == "Z"
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':'
            && rest[1..3].bytes().all(|c| c.is_ascii_digit())
            && rest[4..6].bytes().all(|c| c.is_ascii_digit())
            && rest[1..3].parse::<u32>().ok()? <= 23
            && rest[4..6].parse::<u32>().ok()? <= 59);
    if !zone_ok {
        return None;
    }
    crate::time::timestamp_from_rfc3339(value)
}

/// A timestamp as RFC 3339 in the hub's time zone, e.g. `2026-12-03T10:00:00+03:00`.
pub fn format_time(at: Timestamp, utc_offset_minutes: i32) -> String {
    let local = at + i64::from(utc_offset_minutes) * 60_000;
    let day = crate::time::civil_from_days(local.div_euclid(86_400_000));
    let ms = local.rem_euclid(86_400_000);
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
    let sign = if utc_offset_minutes < 0 { '-' } else { '+' };
    let offset = utc_offset_minutes.unsigned_abs();
    format!(
        "{}T{h:02}:{m:02}:{s:02}{sign}{:02}:{:02}",
        format_date(day),
        offset / 60,
        offset % 60
    )
}

/// A code of the official thematic classifier that is in `codes` (sorted: the codes of
/// `wit/classifier.csv`, which a plugin's build script makes into a static table).
pub fn topic_code(path: &str, value: &str, codes: &[&str]) -> Result<(), PluginError> {
    let b = value.as_bytes();
    let shape = (b.len() == 19 || b.len() == 24)
        && b.iter().enumerate().all(|(i, c)| {
            if i % 5 == 4 {
                *c == b'.'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape {
        return Err(refuse(
            path,
            format!(
                "`{}` is not a classifier code XXXX.XXXX.XXXX.XXXX",
                shown(value)
            ),
        ));
    }
    if codes.binary_search(&value).is_err() {
        return Err(refuse(
            path,
            format!("`{value}` is not in the official thematic classifier (wit/classifier.csv)"),
        ));
    }
    Ok(())
}

/// ИНН: 10 digits (an organisation) or 12 (a person).
pub fn inn(path: &str, value: &str) -> Result<(), PluginError> {
    if !matches!(value.len(), 10 | 12) || !value.bytes().all(|c| c.is_ascii_digit()) {
        return Err(refuse(path, "is not an ИНН: 10 or 12 digits"));
    }
    Ok(())
}

pub fn email(path: &str, value: &str) -> Result<(), PluginError> {
    let ok = value.chars().count() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            let part_ok = |p: &str| {
                !p.is_empty() && !p.contains(['@']) && !p.chars().any(char::is_whitespace)
            };
            part_ok(local) && part_ok(domain)
        });
    if !ok {
        return Err(refuse(path, "is not an e-mail address"));
    }
    Ok(())
}

pub fn phone(path: &str, value: &str) -> Result<(), PluginError> {
    let rest = value.strip_prefix('+').unwrap_or(value);
    let ok = (5..=30).contains(&rest.len())
        && rest
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b' ' | b'(' | b')' | b'-'));
    if !ok {
        return Err(refuse(
            path,
            "is not a phone number: digits, spaces, `(`, `)`, `-`, an optional leading `+`",
        ));
    }
    Ok(())
}

/// A slug-like tag: a lower-case Latin letter, then letters, digits or `-`; at most 64.
pub fn tag(path: &str, value: &str) -> Result<(), PluginError> {
    let mut bytes = value.bytes();
    let ok = value.len() <= 64
        && bytes.next().is_some_and(|c| c.is_ascii_lowercase())
        && bytes.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !ok {
        return Err(refuse(
            path,
            "is not a tag: a lower-case Latin letter, then letters, digits or `-`",
        ));
    }
    Ok(())
}

pub fn media_type(path: &str, value: &str) -> Result<(), PluginError> {
    let token = |t: &str| {
        let mut b = t.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && b.all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'+' | b'-')
            })
    };
    let ok = value.len() <= 255
        && value
            .split_once('/')
            .is_some_and(|(kind, sub)| token(kind) && token(sub));
    if !ok {
        return Err(refuse(path, "is not a media type like `application/pdf`"));
    }
    Ok(())
}

pub fn sha256(path: &str, value: &str) -> Result<(), PluginError> {
    if value.len() != 64
        || !value
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return Err(refuse(path, "is not 64 lower-case hex digits"));
    }
    Ok(())
}

/// Base64 (standard alphabet, `=` padding at the end only), at most `max` characters.
pub fn base64(path: &str, value: &str, max: usize) -> Result<(), PluginError> {
    if value.len() > max {
        return Err(refuse(
            path,
            format!(
                "is {} characters long; at most {max} are allowed",
                value.len()
            ),
        ));
    }
    let body = value.trim_end_matches('=');
    let ok = value.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !ok {
        return Err(refuse(path, "is not base64"));
    }
    Ok(())
}

pub fn count(path: &str, len: usize, min: usize, max: usize) -> Result<(), PluginError> {
    if len < min || len > max {
        return Err(refuse(
            path,
            format!("holds {len} items; between {min} and {max} are allowed"),
        ));
    }
    Ok(())
}

pub fn range(path: &str, value: u64, min: u64, max: u64) -> Result<(), PluginError> {
    if value < min || value > max {
        return Err(refuse(path, format!("is {value}; expected {min} to {max}")));
    }
    Ok(())
}

/// A value from outside, cut short and escaped for an error message.
pub fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(40)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_exist() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2026-02-29").is_none());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-13-01").is_none());
        assert!(parse_date("2026-1-01").is_none());
        assert!(parse_date("+026-01-01").is_none());
    }

    #[test]
    fn codes_come_from_the_classifier() {
        let codes = ["0001.0002.0025.0098", "0003.0009.0093.0630"];
        assert!(topic_code("$", "0001.0002.0025.0098", &codes).is_ok());
        assert!(topic_code("$", "0001.0002.0025.9999", &codes)
            .unwrap_err()
            .message
            .contains("not in the official"));
        assert!(topic_code("$", "1.2.3.4", &codes).is_err());
    }

    #[test]
    fn times_are_rfc3339_with_an_offset() {
        assert_eq!(parse_time("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:00.250Z"), Some(250));
        assert_eq!(parse_time("2026-12-03 10:00:00+03:00"), None);
        assert_eq!(parse_time("2026-12-03T10:00:00"), None);
        assert_eq!(parse_time("2026-12-03T24:00:00Z"), None);
        assert_eq!(parse_time("2026-02-30T10:00:00Z"), None);
        let at = parse_time("2026-12-03T10:00:00+03:00").unwrap();
        assert_eq!(format_time(at, 180), "2026-12-03T10:00:00+03:00");
        assert_eq!(format_time(at, 0), "2026-12-03T07:00:00+00:00");
    }

    #[test]
    fn texts_are_counted_in_characters() {
        assert!(text("$.a", &"я".repeat(10), 10).is_ok());
        assert!(text("$.a", &"я".repeat(11), 10).is_err());
        assert!(text("$.a", "", 10).is_err());
    }
}

/// Refuses an array anywhere but as the value of one of `array_keys`, and an array as an
/// element of an array. A derived `Deserialize` reads a struct from an array of its
/// fields' values as well as from an object (`"control_object": ["A", "B"]` would pass for
/// `{"name": "A", "address": "B"}`), which the schema refuses; a format whose arrays are
/// all under known keys checks this before its typed read.
pub fn arrays_only_at(value: &serde_json::Value, array_keys: &[&str]) -> Result<(), PluginError> {
    fn walk(
        value: &serde_json::Value,
        path: &mut String,
        array_allowed: bool,
        array_keys: &[&str],
    ) -> Result<(), PluginError> {
        use serde_json::Value;
        match value {
            Value::Array(items) => {
                if !array_allowed {
                    return Err(refuse(path, "expected an object or a value, not an array"));
                }
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, false, array_keys)?;
                    path.truncate(len);
                }
            }
            Value::Object(fields) => {
                for (key, item) in fields {
                    let len = path.len();
                    path.push('.');
                    path.push_str(key);
                    walk(item, path, array_keys.contains(&key.as_str()), array_keys)?;
                    path.truncate(len);
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(value, &mut "$".to_string(), false, array_keys)
}

#[cfg(test)]
mod shape_tests {
    use super::arrays_only_at;

    #[test]
    fn arrays_are_refused_outside_their_keys() {
        let ok = serde_json::json!({"slots": [{"a": 1}], "x": {"slots": []}});
        assert!(arrays_only_at(&ok, &["slots"]).is_ok());
        let as_struct = serde_json::json!({"object": ["A", "A"]});
        let error = arrays_only_at(&as_struct, &["slots"]).unwrap_err();
        assert!(error.message.contains("$.object:"), "{}", error.message);
        let nested = serde_json::json!({"slots": [["A"]]});
        let error = arrays_only_at(&nested, &["slots"]).unwrap_err();
        assert!(error.message.contains("$.slots[0]:"), "{}", error.message);
        assert!(arrays_only_at(&serde_json::json!([1]), &[]).is_err());
    }
}
