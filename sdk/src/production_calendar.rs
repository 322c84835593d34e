//! The Russian production calendar, as the hub serves it through the `calendar`
//! capability: the `okno-calendar` crate, the one source both use.
use crate::types::Date;

pub use okno_calendar::{official, warning, Day, DayInfo};

fn day(date: Date) -> Day {
    Day::new(date.year, date.month, date.day)
}

fn date(day: Day) -> Date {
    Date {
        year: day.year,
        month: day.month,
        day: day.day,
    }
}

/// Working day by the official calendar (1993–2027), by the Labour Code's rules
/// beyond it; a date outside 1900–2100 counts as Monday to Friday.
pub fn is_working_day(day_: Date) -> bool {
    okno_calendar::is_working_day(day(day_))
}

/// What the calendar says of a day: working, shortened, holiday, official or forecast.
pub fn day_info(day_: Date) -> DayInfo {
    okno_calendar::day_info(day(day_))
}

pub fn add_working_days(start: Date, days: u32) -> Date {
    date(okno_calendar::add_working_days(day(start), days))
}
