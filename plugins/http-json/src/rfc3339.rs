//! Timestamps as RFC 3339 UTC text (reading them is `okno_sdk::time::timestamp_from_rfc3339`).

use okno_sdk::prelude::*;
use okno_sdk::time;

/// `2026-01-12T06:00:00Z`, with `.mmm` only when the milliseconds are not zero.
pub fn format(at: Timestamp) -> String {
    let date = time::civil_from_days(at.div_euclid(86_400_000));
    let ms = at.rem_euclid(86_400_000);
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let fraction = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:03}")
    };
    format!(
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}{fraction}Z",
        date.year, date.month, date.day
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_768_197_600_000), "2026-01-12T06:00:00Z");
        assert_eq!(format(1_770_843_599_999), "2026-02-11T20:59:59.999Z");
        for at in [0, 1_768_197_600_000, 1_770_843_599_999, 951_782_400_123] {
            assert_eq!(time::timestamp_from_rfc3339(&format(at)), Some(at));
        }
    }
}
