//! The responsible directory: which department owns an appeal (by the longest topic
//! prefix it owns, else by channel), who executes (the head, or who stands in for them
//! today) and who controls (the first deputy).

use okno_calendar::Day;

use super::config::Department;
use crate::model::Channel;

#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub department: String,
    pub executor: String,
    pub controller: Option<String>,
    pub reason: String,
}

pub fn assign(
    departments: &[Department],
    topic: Option<&str>,
    channel: Channel,
    today: Day,
) -> Option<Assignment> {
    let by_topic = topic.and_then(|code| {
        departments
            .iter()
            .filter_map(|d| {
                d.topic_prefix
                    .iter()
                    .filter(|p| code.starts_with(p.as_str()))
                    .map(|p| p.len())
                    .max()
                    .map(|len| (len, d))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, d)| (d, format!("topic {code}")))
    });
    let (department, why) = by_topic.or_else(|| {
        departments
            .iter()
            .find(|d| d.channels.contains(&channel))
            .map(|d| (d, format!("channel {}", channel.as_str())))
    })?;
    let executor = present(department, &department.head, today);
    let controller = department
        .deputies
        .first()
        .map(|deputy| present(department, deputy, today));
    let mut reason = format!(
        "responsible: department {} by {why}; executor {executor}",
        department.id
    );
    if executor != department.head {
        reason.push_str(&format!(" (standing in for {})", department.head));
    }
    if let Some(c) = &controller {
        reason.push_str(&format!("; controller {c}"));
    }
    Some(Assignment {
        department: department.id.clone(),
        executor,
        controller,
        reason,
    })
}

/// `person`, or who stands in for them on `today`.
fn present(department: &Department, person: &str, today: Day) -> String {
    let today = chrono::NaiveDate::from_ymd_opt(today.year, today.month.into(), today.day.into());
    department
        .substitutes
        .iter()
        .find(|s| s.absent == person && today.is_some_and(|t| s.from <= t && t <= s.to))
        .map_or_else(|| person.to_string(), |s| s.by.clone())
}

/// Checks the directory: unique ids, well-formed prefixes, substitutes' dates in order.
pub fn check(departments: &[Department]) -> Result<(), String> {
    let mut ids = std::collections::HashSet::new();
    for d in departments {
        if !ids.insert(d.id.as_str()) {
            return Err(format!("department {:?} is defined twice", d.id));
        }
        let m = crate::config::Match {
            topic_prefix: d.topic_prefix.clone(),
            ..crate::config::Match::EVERYTHING
        };
        m.check()
            .map_err(|e| format!("department {:?}: {e}", d.id))?;
        for s in &d.substitutes {
            if s.to < s.from {
                return Err(format!(
                    "department {:?}: substitute {} for {} ends ({}) before it starts ({})",
                    d.id, s.by, s.absent, s.to, s.from
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departments() -> Vec<Department> {
        toml::from_str::<toml::Table>(
            r#"
[[d]]
id = "housing"
head = "ivanov"
deputies = ["petrova"]
topic_prefix = ["0005.0005"]
substitutes = [{ for = "ivanov", by = "sidorov", from = 2026-11-01, to = 2026-11-15 }]
[[d]]
id = "heating"
head = "kuznetsov"
topic_prefix = ["0005.0005.0056"]
[[d]]
id = "smm"
head = "orlova"
channels = ["social"]
"#,
        )
        .unwrap()["d"]
            .clone()
            .try_into()
            .unwrap()
    }

    #[test]
    fn longest_prefix_then_channel_then_substitutes() {
        let d = departments();
        let day = Day::new(2026, 12, 1);
        let a = assign(&d, Some("0005.0005.0056.1157"), Channel::Mail, day).unwrap();
        assert_eq!(a.department, "heating");
        let a = assign(&d, Some("0005.0005.0055.1100"), Channel::Mail, day).unwrap();
        assert_eq!(
            (a.department.as_str(), a.executor.as_str()),
            ("housing", "ivanov")
        );
        assert_eq!(a.controller.as_deref(), Some("petrova"));
        let a = assign(
            &d,
            Some("0005.0005.0055.1100"),
            Channel::Mail,
            Day::new(2026, 11, 10),
        )
        .unwrap();
        assert_eq!(a.executor, "sidorov");
        assert!(a.reason.contains("standing in for ivanov"));
        assert_eq!(
            assign(&d, Some("0001.0001"), Channel::Social, day)
                .unwrap()
                .department,
            "smm"
        );
        assert!(assign(&d, None, Channel::Mail, day).is_none());
        assert!(check(&d).is_ok());
    }
}
