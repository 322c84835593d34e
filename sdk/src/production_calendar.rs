//! The Russian production calendar, as the hub serves it through the `calendar` capability.
use crate::time::add_days;
use crate::types::Date;
use holidays_ru::{is_working_day_ymd, Federal};

/// Working day by the official calendar (1993–2027), by the Labour Code's rules
/// beyond it; a date outside 1900–2100 counts as Monday to Friday.
pub fn is_working_day(day: Date) -> bool {
    is_working_day_ymd::<Federal>(day.year, day.month, day.day)
        .map(|resolved| resolved.value())
        .unwrap_or_else(|| crate::time::weekday(day) <= 5)
}

pub fn add_working_days(start: Date, days: u32) -> Date {
    let mut day = start;
    while !is_working_day(day) {
        day = add_days(day, 1);
    }
    let mut left = days;
    while left > 0 {
        day = add_days(day, 1);
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}
