//! Deadline arithmetic on the production calendar, in the body's time zone.

use okno_calendar::{add_working_days, day_info, next_working_day, Day};

use super::config::{AnswerFrom, Rule, SlaConfig, Span, WorkingHours};
use crate::model::{Classification, Decision, Message, Timestamp};

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 86_400_000;

/// The body's clock: its UTC offset and working hours.
#[derive(Clone, Copy, Debug)]
pub struct Clock<'a> {
    pub utc_offset_minutes: i32,
    pub hours: &'a WorkingHours,
}

impl Clock<'_> {
    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * MS_PER_MINUTE
    }

    pub fn local_day(&self, at: Timestamp) -> Day {
        Day::from_days((at + self.offset_ms()).div_euclid(MS_PER_DAY))
    }

    /// The last millisecond of a local day.
    pub fn end_of_day(&self, day: Day) -> Timestamp {
        (day.to_days() + 1) * MS_PER_DAY - self.offset_ms() - 1
    }

    fn at_minute(&self, day: Day, minute: u32) -> Timestamp {
        day.to_days() * MS_PER_DAY + i64::from(minute) * MS_PER_MINUTE - self.offset_ms()
    }

    /// The working window of a day: none on a day off; a shortened day ends an hour
    /// earlier (Labour Code art. 95).
    fn window(&self, day: Day) -> Option<(Timestamp, Timestamp)> {
        let info = day_info(day);
        if !info.working {
            return None;
        }
        let end = if info.shortened {
            self.hours
                .end
                .minutes
                .saturating_sub(60)
                .max(self.hours.start.minutes)
        } else {
            self.hours.end.minutes
        };
        Some((
            self.at_minute(day, self.hours.start.minutes),
            self.at_minute(day, end),
        ))
    }

    /// `span` after `from`.
    pub fn add(&self, from: Timestamp, span: Span) -> Timestamp {
        match span {
            Span::Seconds(n) => from + i64::from(n) * 1000,
            Span::Minutes(n) => from + i64::from(n) * MS_PER_MINUTE,
            Span::Hours(n) => from + i64::from(n) * 60 * MS_PER_MINUTE,
            Span::Days(n) => {
                let day = self.local_day(from).add_days(i64::from(n));
                self.end_of_day(next_working_day(day))
            }
            Span::WorkingDays(n) => self.end_of_day(add_working_days(self.local_day(from), n)),
            Span::WorkingHours(n) => self.add_working_minutes(from, i64::from(n) * 60),
        }
    }

    /// `span` before `deadline`, for reminders: days count back on the calendar.
    pub fn before(&self, deadline: Timestamp, span: Span) -> Timestamp {
        match span {
            Span::Seconds(n) => deadline - i64::from(n) * 1000,
            Span::Minutes(n) => deadline - i64::from(n) * MS_PER_MINUTE,
            Span::Hours(n) | Span::WorkingHours(n) => deadline - i64::from(n) * 60 * MS_PER_MINUTE,
            Span::Days(n) | Span::WorkingDays(n) => deadline - i64::from(n) * MS_PER_DAY,
        }
    }

    fn add_working_minutes(&self, from: Timestamp, minutes: i64) -> Timestamp {
        let mut left = minutes * MS_PER_MINUTE;
        let mut day = self.local_day(from);
        let mut at = from;
        // A span of working hours is bounded by config (ten years), so is this loop.
        loop {
            if let Some((start, end)) = self.window(day) {
                let begin = at.max(start);
                if begin < end {
                    if begin + left <= end {
                        return begin + left;
                    }
                    left -= end - begin;
                }
            }
            day = day.add_days(1);
            at = self.at_minute(day, 0);
        }
    }
}

/// Deadlines as a rule gave them, with the reasons the trace shows.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deadlines {
    pub rule: String,
    pub registration: Option<Timestamp>,
    pub answer: Option<Timestamp>,
    pub extendable: bool,
    pub reasons: Vec<String>,
    /// Set where a deadline falls in a year without an official calendar.
    pub warnings: Vec<String>,
}

/// The first rule that matches the message, and the deadlines it gives.
pub fn compute(
    config: &SlaConfig,
    clock: &Clock,
    message: &Message,
    classification: &Classification,
    decision: &Decision,
) -> Option<Deadlines> {
    let rule = config
        .all_rules()
        .find(|rule| rule.matches.evaluate(message, classification, decision).0)?;
    Some(apply(rule, clock, message.received_at))
}

pub fn apply(rule: &Rule, clock: &Clock, received: Timestamp) -> Deadlines {
    let mut out = Deadlines {
        rule: rule.name.clone(),
        extendable: rule.extendable,
        ..Deadlines::default()
    };
    let describe = |at: Timestamp| crate::sla::format_local(at, clock.utc_offset_minutes);
    out.registration = rule.registration.map(|span| clock.add(received, span));
    if let (Some(span), Some(at)) = (rule.registration, out.registration) {
        out.reasons.push(format!(
            "rule {}: registration within {} of receipt, by {}",
            rule.name,
            span.describe(),
            describe(at)
        ));
    }
    if let Some(span) = rule.answer {
        let from = match (rule.answer_from, out.registration) {
            (AnswerFrom::Registration, Some(registration)) => registration,
            _ => received,
        };
        let answer = clock.add(from, span);
        let counted = match (rule.answer_from, out.registration) {
            (AnswerFrom::Registration, Some(_)) => "of the registration deadline",
            _ => "of receipt",
        };
        out.reasons.push(format!(
            "rule {}: answer within {} {counted}, by {}",
            rule.name,
            span.describe(),
            describe(answer)
        ));
        // An appeal cannot be answered before it is registered: a short answer deadline
        // brings registration forward with it.
        if let Some(registration) = out.registration.filter(|r| *r > answer) {
            out.registration = Some(answer);
            out.reasons.push(format!(
                "registration brought forward to the answer deadline {} (was {})",
                describe(answer),
                describe(registration)
            ));
        }
        out.answer = Some(answer);
    } else {
        out.reasons
            .push(format!("rule {}: no answer is owed", rule.name));
    }
    if !rule.basis.is_empty() {
        out.reasons.push(rule.basis.clone());
    }
    for at in [out.registration, out.answer].into_iter().flatten() {
        if let Some(w) = okno_calendar::warning(clock.local_day(at).year) {
            if !out.warnings.contains(&w) {
                out.warnings.push(w);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::config::default_rules;

    /// Yekaterinburg, the first user's zone.
    const OFFSET: i32 = 300;

    fn clock(hours: &WorkingHours) -> Clock<'_> {
        Clock {
            utc_offset_minutes: OFFSET,
            hours,
        }
    }

    fn local(y: i32, m: u8, d: u8, h: i64, min: i64) -> Timestamp {
        Day::new(y, m, d).to_days() * MS_PER_DAY + (h * 60 + min) * MS_PER_MINUTE
            - i64::from(OFFSET) * MS_PER_MINUTE
    }

    fn end_of(y: i32, m: u8, d: u8) -> Timestamp {
        local(y, m, d, 24, 0) - 1
    }

    fn rule(name: &str) -> &'static Rule {
        default_rules().iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn written_appeal_on_a_friday_evening_before_the_may_weekend() {
        let hours = WorkingHours::default();
        // Fri 8 May 2026, 19:00: 9–11 May are days off (11 May by art. 112).
        let d = apply(rule("written"), &clock(&hours), local(2026, 5, 8, 19, 0));
        assert_eq!(d.registration, Some(end_of(2026, 5, 14)));
        // 14 May + 30 days = Sat 13 Jun; 12 Jun is Russia Day: Mon 15 Jun.
        assert_eq!(d.answer, Some(end_of(2026, 6, 15)));
        assert!(d.warnings.is_empty());
        assert_eq!(d.rule, "written");
    }

    #[test]
    fn new_year_holidays_of_2025_and_2026() {
        let hours = WorkingHours::default();
        // Mon 29 Dec 2025: 31 Dec (moved from 5 Jan 2025) and 1–11 Jan 2026 are off.
        let d = apply(rule("written"), &clock(&hours), local(2025, 12, 29, 10, 0));
        assert_eq!(d.registration, Some(end_of(2026, 1, 13)));
        assert_eq!(d.answer, Some(end_of(2026, 2, 12)));
    }

    #[test]
    fn may_holidays_and_a_working_saturday_of_2025() {
        let hours = WorkingHours::default();
        // Wed 30 Apr 2025: 1–4 May off: 5, 6, 7 May; answer Fri 6 Jun.
        let d = apply(rule("written"), &clock(&hours), local(2025, 4, 30, 12, 0));
        assert_eq!(d.registration, Some(end_of(2025, 5, 7)));
        assert_eq!(d.answer, Some(end_of(2025, 6, 6)));
        // Fri 31 Oct 2025: Sat 1 Nov works (moved to 3 Nov), 2–4 Nov are off.
        let d = apply(rule("written"), &clock(&hours), local(2025, 10, 31, 12, 0));
        assert_eq!(d.registration, Some(end_of(2025, 11, 6)));
    }

    #[test]
    fn deputy_minister_around_the_fourth_of_november() {
        let hours = WorkingHours::default();
        // Tue 3 Nov 2026, evening: that day; at the latest the next working day, Thu 5 Nov.
        let d = apply(
            rule("deputy-minister"),
            &clock(&hours),
            local(2026, 11, 3, 20, 0),
        );
        assert_eq!(d.registration, Some(end_of(2026, 11, 3)));
        assert_eq!(d.answer, Some(end_of(2026, 11, 5)));
        // On the holiday itself: the same day is Thu 5 Nov, the latest Fri 6 Nov.
        let d = apply(
            rule("deputy-minister"),
            &clock(&hours),
            local(2026, 11, 4, 10, 0),
        );
        assert_eq!(d.registration, Some(end_of(2026, 11, 5)));
        assert_eq!(d.answer, Some(end_of(2026, 11, 6)));
    }

    #[test]
    fn social_hours_count_in_working_hours_and_shortened_days() {
        let hours = WorkingHours::default();
        let c = clock(&hours);
        // Fri 8 May 2026 is shortened (ends 17:00); next working day Tue 12 May.
        let d = apply(rule("social-appeal"), &c, local(2026, 5, 8, 17, 30));
        assert_eq!(d.answer, Some(local(2026, 5, 12, 11, 0)));
        assert_eq!(d.registration, d.answer);
        let d = apply(rule("social-mention"), &c, local(2026, 5, 8, 16, 0));
        assert_eq!(d.answer, Some(local(2026, 5, 12, 12, 0)));
        assert_eq!(d.registration, None);
        // Within one ordinary day.
        let d = apply(rule("social-appeal"), &c, local(2026, 11, 30, 10, 15));
        assert_eq!(d.answer, Some(local(2026, 11, 30, 12, 15)));
        // Before opening: counted from 09:00.
        let d = apply(rule("social-mention"), &c, local(2026, 11, 30, 7, 0));
        assert_eq!(d.answer, Some(local(2026, 11, 30, 13, 0)));
    }

    #[test]
    fn a_year_without_an_official_calendar_is_warned_of() {
        let hours = WorkingHours::default();
        let d = apply(rule("written"), &clock(&hours), local(2030, 3, 1, 10, 0));
        assert!(
            d.warnings.iter().any(|w| w.contains("2030")),
            "{:?}",
            d.warnings
        );
        assert!(apply(
            rule("reception-answered-on-spot"),
            &clock(&hours),
            local(2026, 3, 2, 10, 0)
        )
        .answer
        .is_none());
    }
}
