//! The Russian production calendar, one source of truth for the hub (deadlines, timers)
//! and for plugins (through the SDK, which re-exports it for native tests and serves the
//! same answers to wasm plugins through the host's `calendar` capability).
//!
//! The official data (holidays, days off transferred by the government's yearly decree,
//! working Saturdays, shortened pre-holiday days) comes from `holidays-ru`, checked here
//! against the decrees for 2025 (Постановление Правительства РФ от 04.10.2024 № 1335)
//! and 2026 (от 24.09.2025 № 1466): see the tests. For a year without a published
//! calendar the Labour Code's rules give a forecast, and [`official`] says so, so that a
//! deadline computed on it can carry a warning.

use holidays_ru::{flags_ymd, Federal, Resolved};

/// A calendar day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

/// What the calendar says of one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayInfo {
    pub working: bool,
    /// A working day one hour shorter (Labour Code art. 95): the day before a holiday.
    pub shortened: bool,
    /// A non-working public holiday (Labour Code art. 112).
    pub holiday: bool,
    /// From the official calendar of its year; false for a forecast by the Labour Code's
    /// rules, or a date the calendar does not cover (then Monday to Friday work).
    pub official: bool,
}

impl Day {
    pub const fn new(year: i32, month: u8, day: u8) -> Day {
        Day { year, month, day }
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(days: i64) -> Day {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Day { year, month, day }
    }

    pub fn add_days(self, days: i64) -> Day {
        Day::from_days(self.to_days() + days)
    }

    /// 1 = Monday … 7 = Sunday.
    pub fn weekday(self) -> u8 {
        ((self.to_days() + 3).rem_euclid(7) + 1) as u8
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The calendar's verdict on a day.
pub fn day_info(day: Day) -> DayInfo {
    match flags_ymd::<Federal>(day.year, day.month, day.day) {
        Some(resolved) => {
            let official = matches!(resolved, Resolved::Fact(_));
            let flags = resolved.value();
            DayInfo {
                working: flags.is_working_day(),
                shortened: flags.is_short_day(),
                holiday: flags.is_holiday(),
                official,
            }
        }
        None => DayInfo {
            working: day.weekday() <= 5,
            shortened: false,
            holiday: false,
            official: false,
        },
    }
}

pub fn is_working_day(day: Day) -> bool {
    day_info(day).working
}

/// Whether `year`'s official calendar is known; deadlines in other years are forecasts.
pub fn official(year: i32) -> bool {
    day_info(Day::new(year, 1, 1)).official
}

/// The first working day on or after `start`, then `days` working days further.
pub fn add_working_days(start: Day, days: u32) -> Day {
    let mut day = start;
    while !is_working_day(day) {
        day = day.add_days(1);
    }
    let mut left = days;
    while left > 0 {
        day = day.add_days(1);
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// The first working day on or after `day` (Civil Code art. 193: a term ending on a day
/// off ends on the next working day).
pub fn next_working_day(day: Day) -> Day {
    add_working_days(day, 0)
}

/// Working days after `from` up to and including `to`.
pub fn working_days_between(from: Day, to: Day) -> i64 {
    let mut n = 0;
    let mut day = from.add_days(1);
    while day <= to {
        if is_working_day(day) {
            n += 1;
        }
        day = day.add_days(1);
    }
    n
}

/// A warning for deadlines that fall in a year whose official calendar is not known.
pub fn warning(year: i32) -> Option<String> {
    (!official(year)).then(|| {
        format!(
            "the official production calendar for {year} is not known: working days in {year} \
             are a forecast by the Labour Code's rules and may move when the government's \
             decree on transferred days is published"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, day: u8) -> Day {
        Day::new(y, m, day)
    }

    fn off(days: &[Day]) {
        for day in days {
            assert!(!is_working_day(*day), "{day} is a day off");
        }
    }

    fn on(days: &[Day]) {
        for day in days {
            assert!(is_working_day(*day), "{day} is a working day");
        }
    }

    /// Decree № 1335 of 04.10.2024: Sat 4 Jan → Fri 2 May, Sun 5 Jan → Wed 31 Dec,
    /// Sun 23 Feb → Thu 8 May, Sat 8 Mar → Fri 13 Jun, Sat 1 Nov → Mon 3 Nov.
    #[test]
    fn year_2025_by_its_decree() {
        off(&[
            d(2025, 1, 1),
            d(2025, 1, 8),
            d(2025, 5, 1),
            d(2025, 5, 2),
            d(2025, 5, 3),
            d(2025, 5, 4),
            d(2025, 5, 8),
            d(2025, 5, 9),
            d(2025, 5, 10),
            d(2025, 5, 11),
            d(2025, 6, 12),
            d(2025, 6, 13),
            d(2025, 11, 3),
            d(2025, 11, 4),
            d(2025, 12, 31),
        ]);
        // The holidays on 23 Feb and 8 Mar were moved by the decree, not to the Monday.
        on(&[
            d(2025, 1, 9),
            d(2025, 2, 24),
            d(2025, 3, 10),
            d(2025, 5, 5),
            d(2025, 5, 12),
            d(2025, 11, 1),
            d(2025, 12, 30),
        ]);
        for short in [
            d(2025, 3, 7),
            d(2025, 4, 30),
            d(2025, 6, 11),
            d(2025, 11, 1),
        ] {
            assert!(day_info(short).shortened, "{short} is shortened");
        }
        assert!(!day_info(d(2025, 12, 30)).shortened);
        assert!(official(2025));
    }

    /// Decree № 1466 of 24.09.2025: Sat 3 Jan → Fri 9 Jan, Sun 4 Jan → Thu 31 Dec; Sun
    /// 8 Mar and Sat 9 May move to the Mondays by art. 112.
    #[test]
    fn year_2026_by_its_decree() {
        off(&[
            d(2026, 1, 1),
            d(2026, 1, 9),
            d(2026, 1, 11),
            d(2026, 2, 23),
            d(2026, 3, 9),
            d(2026, 5, 1),
            d(2026, 5, 11),
            d(2026, 6, 12),
            d(2026, 11, 4),
            d(2026, 12, 31),
        ]);
        on(&[
            d(2026, 1, 12),
            d(2026, 3, 10),
            d(2026, 5, 4),
            d(2026, 5, 8),
            d(2026, 5, 12),
            d(2026, 11, 3),
            d(2026, 11, 5),
        ]);
        for short in [
            d(2026, 4, 30),
            d(2026, 5, 8),
            d(2026, 6, 11),
            d(2026, 11, 3),
        ] {
            assert!(day_info(short).shortened, "{short} is shortened");
        }
        assert!(!day_info(d(2026, 2, 20)).shortened);
        assert!(official(2026));
    }

    #[test]
    fn working_days_skip_the_new_year_and_may_holidays() {
        // Received on Wed 31 Dec 2025, a day off: counted from Mon 12 Jan 2026, the
        // first working day, three more are 13, 14 and 15 Jan.
        assert_eq!(add_working_days(d(2025, 12, 31), 3), d(2026, 1, 15));
        // Received Thu 30 Apr 2026: 1 working day later is Mon 4 May.
        assert_eq!(add_working_days(d(2026, 4, 30), 1), d(2026, 5, 4));
        assert_eq!(next_working_day(d(2026, 5, 9)), d(2026, 5, 12));
        assert_eq!(working_days_between(d(2026, 11, 2), d(2026, 11, 6)), 3);
    }

    #[test]
    fn an_unknown_year_is_a_forecast_with_a_warning() {
        assert!(!official(2031));
        assert!(warning(2031).is_some_and(|w| w.contains("2031")));
        assert!(warning(2026).is_none());
        // Outside what the calendar covers at all: Monday to Friday.
        assert!(is_working_day(d(2201, 1, 2)));
    }

    #[test]
    fn civil_days_round_trip() {
        for n in [-1000, 0, 19_000, 20_454, 100_000] {
            assert_eq!(Day::from_days(n).to_days(), n);
        }
        assert_eq!(d(2026, 11, 30).weekday(), 1);
        assert_eq!(d(1970, 1, 1).to_days(), 0);
    }
}
