//! Dates and timestamps without a time-zone database: the hub tells the plugin its UTC
//! offset ([`crate::clock::utc_offset_minutes`]); Russia has kept fixed offsets since 2014.

use crate::types::{Date, Timestamp};

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(date: Date) -> i64 {
    let (y, m, d) = (date.year as i64, date.month as i64, date.day as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` days after 1970-01-01.
pub fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

/// The date `days` calendar days after `date`.
pub fn add_days(date: Date, days: i64) -> Date {
    civil_from_days(days_from_civil(date) + days)
}

/// ISO weekday: 1 = Monday ... 7 = Sunday.
pub fn weekday(date: Date) -> u8 {
    ((days_from_civil(date) + 3).rem_euclid(7) + 1) as u8
}

/// The hub-local date of a timestamp.
pub fn local_date(at: Timestamp) -> Date {
    local_date_with_offset(at, crate::clock::utc_offset_minutes())
}

pub fn local_date_with_offset(at: Timestamp, utc_offset_minutes: i32) -> Date {
    let local = at + i64::from(utc_offset_minutes) * 60_000;
    civil_from_days(local.div_euclid(MS_PER_DAY))
}

/// The last millisecond of a hub-local date: a deadline "by the end of that day".
pub fn end_of_local_day(date: Date) -> Timestamp {
    start_of_local_day(add_days(date, 1)) - 1
}

pub fn start_of_local_day(date: Date) -> Timestamp {
    days_from_civil(date) * MS_PER_DAY - i64::from(crate::clock::utc_offset_minutes()) * 60_000
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
pub fn timestamp_from_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let date = Date {
        year: num(0..4)? as i32,
        month: num(5..7)? as u8,
        day: num(8..10)? as u8,
    };
    if !(1..=12).contains(&date.month) || !(1..=31).contains(&date.day) {
        return None;
    }
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    Some(
        days_from_civil(date) * MS_PER_DAY
            + ((h * 60 + mi - offset_minutes) * 60 + s) * 1000
            + millis,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 1, 59, 365, 10_000, 20_818, 40_000] {
            assert_eq!(days_from_civil(civil_from_days(days)), days);
        }
        let d = civil_from_days(days_from_civil(Date {
            year: 2024,
            month: 2,
            day: 29,
        }));
        assert_eq!((d.year, d.month, d.day), (2024, 2, 29));
    }

    #[test]
    fn weekday_of_known_dates() {
        assert_eq!(
            weekday(Date {
                year: 1970,
                month: 1,
                day: 1
            }),
            4
        );
        assert_eq!(
            weekday(Date {
                year: 2026,
                month: 11,
                day: 26
            }),
            4
        );
        assert_eq!(
            weekday(Date {
                year: 2026,
                month: 11,
                day: 29
            }),
            7
        );
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(timestamp_from_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(timestamp_from_rfc3339("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(timestamp_from_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(timestamp_from_rfc3339("1970-13-01T00:00:00Z"), None);
        assert_eq!(timestamp_from_rfc3339("yesterday"), None);
    }
}
