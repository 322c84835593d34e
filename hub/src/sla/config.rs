//! `[sla]` and `[[departments]]`: the deadline rules, reminders, working hours and the
//! responsible directory, as an admin writes them. The defaults are the ministry's order.
//!
//! ```toml
//! [sla]
//! reminders = ["3d", "1d"]          # before the answer deadline
//! working_hours = { start = "09:00", end = "18:00" }
//!
//! [[sla.rules]]                      # tried in order, before the defaults
//! name = "housing-fast"
//! match = { topic_prefix = ["0005.0005"] }
//! registration = "1wd"
//! answer = "15d"
//! ```

use serde::{Deserialize, Deserializer, Serialize};

use crate::config::Match;

/// A length of time as the order states it: `90s`, `15m`, `2h` (clock time), `4wh`
/// (working hours), `30d` (calendar days, a term ending on a day off moves to the next
/// working day), `3wd` (working days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Span {
    Seconds(u32),
    Minutes(u32),
    Hours(u32),
    WorkingHours(u32),
    Days(u32),
    WorkingDays(u32),
}

impl Span {
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let n: u32 = number.parse().map_err(|_| {
            format!("{text:?} is not a length of time: expected a number and a unit, e.g. \"30d\", \"3wd\", \"4wh\", \"2h\"")
        })?;
        let span = match unit {
            "s" => Span::Seconds(n),
            "m" => Span::Minutes(n),
            "h" => Span::Hours(n),
            "wh" => Span::WorkingHours(n),
            "d" => Span::Days(n),
            "wd" => Span::WorkingDays(n),
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?}; use s, m, h (clock), wh (working hours), d (days) or wd (working days)"
                ))
            }
        };
        let limit = match span {
            Span::Days(_) | Span::WorkingDays(_) => 3660,
            _ => 10_000_000,
        };
        if n > limit {
            return Err(format!("{text:?} is longer than ten years"));
        }
        Ok(span)
    }

    /// As the trace says it.
    pub fn describe(self) -> String {
        match self {
            Span::Seconds(n) => format!("{n} s"),
            Span::Minutes(n) => format!("{n} min"),
            Span::Hours(n) => format!("{n} h"),
            Span::WorkingHours(n) => format!("{n} working hour(s)"),
            Span::Days(n) => format!("{n} day(s)"),
            Span::WorkingDays(n) => format!("{n} working day(s)"),
        }
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        match span {
            Span::Seconds(n) => format!("{n}s"),
            Span::Minutes(n) => format!("{n}m"),
            Span::Hours(n) => format!("{n}h"),
            Span::WorkingHours(n) => format!("{n}wh"),
            Span::Days(n) => format!("{n}d"),
            Span::WorkingDays(n) => format!("{n}wd"),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `HH:MM` in the body's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct ClockTime {
    pub minutes: u32,
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        format!("{:02}:{:02}", t.minutes / 60, t.minutes % 60)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClockTime, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = text.split_once(':').and_then(|(h, m)| {
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
        });
        parsed
            .map(|minutes| ClockTime { minutes })
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a time of day HH:MM")))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl Default for WorkingHours {
    fn default() -> Self {
        WorkingHours {
            start: ClockTime { minutes: 9 * 60 },
            end: ClockTime { minutes: 18 * 60 },
        }
    }
}

/// Where an answer term starts counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerFrom {
    /// From the registration deadline (59-FZ counts from registration; the hub decides
    /// before registration, so it counts from the last day registration may take).
    #[default]
    Registration,
    /// From receipt.
    Receipt,
}

/// One deadline rule: the first whose `match` holds gives the deadlines.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default, rename = "match")]
    pub matches: Match,
    /// No registration deadline when absent.
    #[serde(default)]
    pub registration: Option<Span>,
    /// No answer owed when absent (e.g. answered on the spot).
    #[serde(default)]
    pub answer: Option<Span>,
    #[serde(default)]
    pub answer_from: AnswerFrom,
    /// Whether the answer deadline may be extended once, with a reason.
    #[serde(default = "yes")]
    pub extendable: bool,
    /// The legal ground, shown in the trace.
    #[serde(default)]
    pub basis: String,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Watch deadlines at all.
    pub enabled: bool,
    /// Reminders before the answer deadline.
    pub reminders: Vec<Span>,
    pub working_hours: WorkingHours,
    /// A controller's term to accept or reject an assignment report.
    pub report_review: Span,
    /// How long an extension adds when the request names no new deadline.
    pub extension: Span,
    /// Tried in order before [`default_rules`].
    pub rules: Vec<Rule>,
    /// The order's rules after the admin's; false leaves only the admin's.
    pub default_rules: bool,
    /// What the monthly ССТУ export writes in every row.
    pub sstu: super::sstu::SstuConfig,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            enabled: true,
            reminders: vec![Span::Days(3), Span::Days(1)],
            working_hours: WorkingHours::default(),
            report_review: Span::WorkingDays(3),
            extension: Span::Days(30),
            rules: Vec::new(),
            default_rules: true,
            sstu: Default::default(),
        }
    }
}

impl SlaConfig {
    /// The rules in the order they are tried.
    pub fn all_rules(&self) -> impl Iterator<Item = &Rule> {
        let defaults: &'static [Rule] = if self.default_rules {
            default_rules()
        } else {
            &[]
        };
        self.rules.iter().chain(defaults.iter())
    }

    pub fn check(&self) -> Result<(), String> {
        if self.working_hours.end <= self.working_hours.start {
            return Err("sla.working_hours: end must be after start".into());
        }
        for rule in &self.rules {
            rule.matches
                .check()
                .map_err(|e| format!("sla rule {:?}: {e}", rule.name))?;
        }
        Ok(())
    }
}

fn metadata(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The ministry's order (see DESIGN.md, "Deadlines"), first match wins.
pub fn default_rules() -> &'static [Rule] {
    use crate::model::Channel;
    static RULES: std::sync::OnceLock<Vec<Rule>> = std::sync::OnceLock::new();
    RULES.get_or_init(|| {
        let rule = |name: &str, matches: Match, registration, answer, basis: &str| Rule {
            name: name.into(),
            matches,
            registration,
            answer,
            answer_from: AnswerFrom::Registration,
            extendable: true,
            basis: basis.into(),
        };
        vec![
            Rule {
                answer_from: AnswerFrom::Receipt,
                extendable: false,
                ..rule(
                    "deputy-minister",
                    Match {
                        metadata: metadata(&[("addressee.role", "deputy-minister")]),
                        ..Match::EVERYTHING
                    },
                    Some(Span::WorkingDays(0)),
                    Some(Span::WorkingDays(1)),
                    "приказ министерства: обращение к заместителю министра рассматривается в день поступления, не позднее следующего рабочего дня",
                )
            },
            Rule {
                answer_from: AnswerFrom::Receipt,
                extendable: false,
                ..rule(
                    "social-mention",
                    Match {
                        channel: vec![Channel::Social],
                        metadata: metadata(&[("tag", "social.mention")]),
                        ..Match::EVERYTHING
                    },
                    None,
                    Some(Span::WorkingHours(4)),
                    "приказ министерства: упоминание в социальной сети — ответ в течение 4 рабочих часов",
                )
            },
            Rule {
                answer_from: AnswerFrom::Receipt,
                extendable: false,
                ..rule(
                    "social-appeal",
                    Match {
                        channel: vec![Channel::Social],
                        ..Match::EVERYTHING
                    },
                    Some(Span::WorkingHours(2)),
                    Some(Span::WorkingHours(2)),
                    "приказ министерства: официальное обращение или комментарий к официальной публикации — ответ в течение 2 рабочих часов",
                )
            },
            rule(
                "reception-answered-on-spot",
                Match {
                    channel: vec![Channel::Reception],
                    metadata: metadata(&[("reception.answered-on-spot", "true")]),
                    ..Match::EVERYTHING
                },
                None,
                None,
                "59-ФЗ, ст. 13: ответ дан на личном приёме с согласия заявителя",
            ),
            rule(
                "phone-answered-on-call",
                Match {
                    channel: vec![Channel::Phone],
                    metadata: metadata(&[("phone.answered-on-call", "true")]),
                    ..Match::EVERYTHING
                },
                None,
                None,
                "ответ дан во время звонка",
            ),
            rule(
                "reception",
                Match {
                    channel: vec![Channel::Reception],
                    ..Match::EVERYTHING
                },
                None,
                Some(Span::Days(30)),
                "59-ФЗ, ст. 13: устное обращение — письменный ответ в течение 30 дней",
            ),
            rule(
                "written",
                Match::EVERYTHING,
                Some(Span::WorkingDays(3)),
                Some(Span::Days(30)),
                "59-ФЗ, ст. 8 и 12: регистрация в течение 3 дней, ответ в течение 30 дней с регистрации",
            ),
        ]
    })
}

/// `[[departments]]`: who is responsible for what.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The head: the executor unless a substitute stands in.
    pub head: String,
    /// Deputies, who control execution (the first is the controller).
    #[serde(default)]
    pub deputies: Vec<String>,
    /// Topic codes (prefixes) the department owns.
    #[serde(default)]
    pub topic_prefix: Vec<String>,
    /// Channels the department owns (for appeals whose topic no department owns).
    #[serde(default)]
    pub channels: Vec<crate::model::Channel>,
    /// Who stands in for whom, and when (`YYYY-MM-DD`, both days included).
    #[serde(default)]
    pub substitutes: Vec<Substitute>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Substitute {
    #[serde(rename = "for")]
    pub absent: String,
    pub by: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// `[sla]` read and checked, so that a wrong value is reported at its line.
pub fn checked<'de, D: Deserializer<'de>>(d: D) -> Result<SlaConfig, D::Error> {
    let config = SlaConfig::deserialize(d)?;
    config.check().map_err(serde::de::Error::custom)?;
    Ok(config)
}

/// `[[departments]]` read and checked (see [`super::directory::check`]).
pub fn checked_departments<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Department>, D::Error> {
    let departments = Vec::<Department>::deserialize(d)?;
    super::directory::check(&departments).map_err(serde::de::Error::custom)?;
    Ok(departments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_refuse_with_a_reason() {
        assert_eq!(Span::parse("30d"), Ok(Span::Days(30)));
        assert_eq!(Span::parse("3wd"), Ok(Span::WorkingDays(3)));
        assert_eq!(Span::parse("4wh"), Ok(Span::WorkingHours(4)));
        assert!(Span::parse("3 weeks").unwrap_err().contains("unknown unit"));
        assert!(Span::parse("d").unwrap_err().contains("not a length"));
        let config: SlaConfig = toml::from_str(
            "reminders = [\"2d\"]\nworking_hours = { start = \"08:30\", end = \"17:00\" }",
        )
        .unwrap();
        assert_eq!(config.reminders, vec![Span::Days(2)]);
        assert_eq!(config.working_hours.start.minutes, 510);
        assert!(toml::from_str::<SlaConfig>("reminders = [\"2x\"]").is_err());
        #[derive(Deserialize)]
        struct Top {
            #[serde(deserialize_with = "checked")]
            #[allow(dead_code)]
            sla: SlaConfig,
        }
        let e = toml::from_str::<Top>(
            "\n[sla]\nworking_hours = { start = \"18:00\", end = \"09:00\" }\n",
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("end must be after start"), "{e}");
        assert!(e.span().is_some());
    }
}
