//! PBX times: local wall-clock times without a zone (`2024-01-27 15:07:24`,
//! `2020/2/10 22:41` as a spreadsheet re-saved them) or epoch seconds (`1706368044.123`).

use okno_sdk::prelude::*;

/// Milliseconds since the epoch for a PBX time; `offset_minutes` is the PBX's zone.
/// `None` for an empty field; `Err` names what was wrong.
pub fn parse(text: &str, offset_minutes: i32) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a time"))?;
        // FreeSWITCH's *_uepoch are microseconds.
        let ms = if seconds > 1e14 {
            seconds / 1000.0
        } else {
            seconds * 1000.0
        };
        return Ok(Some(ms as i64));
    }
    let (date, time) = text
        .split_once([' ', 'T'])
        .ok_or_else(|| format!("`{text}` is not a date and time"))?;
    let parts: Vec<&str> = date.split(['-', '/']).collect();
    let [y, m, d] = parts[..] else {
        return Err(format!("`{text}`: the date is not year-month-day"));
    };
    let number = |s: &str, what: &str| -> Result<i64, String> {
        s.parse::<i64>()
            .map_err(|_| format!("`{text}`: {what} `{s}` is not a number"))
    };
    let (y, m, d) = (number(y, "year")?, number(m, "month")?, number(d, "day")?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(format!("`{text}` is not a real date"));
    }
    let time = time.split(['+', 'Z']).next().unwrap_or("");
    let clock: Vec<&str> = time.split(':').collect();
    let (h, min, sec) = match clock[..] {
        [h, min] => (h, min, "0"),
        [h, min, sec] => (h, min, sec),
        _ => return Err(format!("`{text}`: the time is not hours:minutes[:seconds]")),
    };
    let (h, min) = (number(h, "hour")?, number(min, "minute")?);
    let sec: f64 = sec
        .parse()
        .map_err(|_| format!("`{text}`: seconds `{sec}` are not a number"))?;
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0.0..61.0).contains(&sec) {
        return Err(format!("`{text}` is not a real time of day"));
    }
    let days = okno_sdk::time::days_from_civil(Date {
        year: y as i32,
        month: m as u8,
        day: d as u8,
    });
    let local_ms = ((days * 24 + h) * 60 + min) * 60_000 + (sec * 1000.0) as i64;
    Ok(Some(local_ms - offset_minutes as i64 * 60_000))
}

/// `2024-01-27T15` in the PBX's zone: the hour a call is counted under.
pub fn hour_key(at: i64, offset_minutes: i32) -> String {
    let date = okno_sdk::time::local_date_with_offset(at, offset_minutes);
    let hour = (at.div_euclid(60_000) + offset_minutes as i64).rem_euclid(24 * 60) / 60;
    format!(
        "{:04}-{:02}-{:02}T{:02}",
        date.year, date.month, date.day, hour
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_read_in_the_pbx_zone() {
        // 15:07:24 in Moscow is 12:07:24 UTC.
        let at = parse("2024-01-27 15:07:24", 180).unwrap().unwrap();
        assert_eq!(at, 1_706_357_244_000);
        assert_eq!(hour_key(at, 180), "2024-01-27T15");
        assert_eq!(
            parse("2020/2/10 22:41", 0).unwrap(),
            parse("2020-02-10 22:41:00", 0).unwrap()
        );
        assert_eq!(parse("1706368044.5", 0).unwrap(), Some(1_706_368_044_500));
        assert_eq!(parse("", 0).unwrap(), None);
        assert!(parse("2024-13-01 00:00:00", 0).is_err());
        assert!(parse("yesterday", 0).is_err());
    }
}
