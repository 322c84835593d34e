//! One deployment's reception: when consultations and visits are held, how far ahead they
//! are offered, where, and the departments' names for the portal. Read per call, so a
//! reloaded config applies at once.

use std::collections::BTreeMap;

use okno_sdk::config;
use okno_sdk::prelude::*;

use crate::doc::MeetingFormat;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `max-document-bytes`: a larger input is refused before it is parsed.
    pub max_document_bytes: usize,
    /// `hours`: reception intervals of a working day, minutes from local midnight.
    pub hours: Vec<(u32, u32)>,
    /// `lead-working-days`: the earliest day a visit or consultation can take place,
    /// counted in working days from the day the request came.
    pub lead_working_days: u32,
    /// `search-working-days`: how many working days after that are searched for slots.
    pub search_working_days: u32,
    /// `offer-count`: how many slots an offer holds.
    pub offer_count: usize,
    /// `slot-minutes`: the length of an offered slot.
    pub slot_minutes: u32,
    /// `offer-valid-working-days`: how long an offer stands.
    pub offer_valid_working_days: u32,
    /// `answer-working-days`: the deadline of a registered question when the hub's
    /// decision gives none.
    pub answer_working_days: u32,
    /// `place.<format>`: the address, link or phone of a meeting of that format.
    pub places: BTreeMap<&'static str, String>,
    /// `department.<hub id>`: the department's name as the portal shows it.
    pub departments: BTreeMap<String, String>,
    /// `signed-by`: who signs answers written by the hub's staff.
    pub signed_by: Option<String>,
}

impl Settings {
    pub fn from_config() -> Result<Self, PluginError> {
        let mut s = Settings {
            max_document_bytes: 1024 * 1024,
            hours: vec![(9 * 60, 13 * 60), (14 * 60, 18 * 60)],
            lead_working_days: 2,
            search_working_days: 10,
            offer_count: 3,
            slot_minutes: 60,
            offer_valid_working_days: 3,
            answer_working_days: 30,
            places: BTreeMap::new(),
            departments: BTreeMap::new(),
            signed_by: None,
        };
        for (key, value) in config::get_all() {
            let value = value.trim().to_string();
            if let Some(format) = key.strip_prefix("place.") {
                let format = MeetingFormat::parse(format).ok_or_else(|| {
                    PluginError::config(format!(
                        "setting `{key}`: `{format}` is not a meeting format; use `in_person`, `video` or `phone`"
                    ))
                })?;
                crate::rules::text(&format!("setting `{key}`"), &value, 1000)
                    .map_err(|e| PluginError::config(e.message))?;
                s.places.insert(format.as_str(), value);
                continue;
            }
            if let Some(id) = key.strip_prefix("department.") {
                crate::rules::text(&format!("setting `{key}`"), &value, 1000)
                    .map_err(|e| PluginError::config(e.message))?;
                s.departments.insert(id.to_string(), value);
                continue;
            }
            match key.as_str() {
                "max-document-bytes" => s.max_document_bytes = number(&key, &value, 1, usize::MAX)?,
                "hours" => s.hours = hours(&value)?,
                "lead-working-days" => s.lead_working_days = number(&key, &value, 0, 365)?,
                "search-working-days" => s.search_working_days = number(&key, &value, 1, 365)?,
                "offer-count" => s.offer_count = number(&key, &value, 1, 10)?,
                "slot-minutes" => s.slot_minutes = number(&key, &value, 5, 600)?,
                "offer-valid-working-days" => {
                    s.offer_valid_working_days = number(&key, &value, 1, 60)?
                }
                "answer-working-days" => s.answer_working_days = number(&key, &value, 1, 365)?,
                "signed-by" => {
                    crate::rules::text("setting `signed-by`", &value, 1000)
                        .map_err(|e| PluginError::config(e.message))?;
                    s.signed_by = Some(value);
                }
                // Read by `poll` and `ack` (lib.rs).
                "outbox-url" => {}
                other => {
                    return Err(PluginError::config(format!(
                        "unknown setting `{other}`; known: `outbox-url`, `hours`, `lead-working-days`, `search-working-days`, `offer-count`, `slot-minutes`, `offer-valid-working-days`, `answer-working-days`, `place.<format>`, `department.<hub id>`, `signed-by`, `max-document-bytes`"
                    )))
                }
            }
        }
        Ok(s)
    }

    pub fn department_name(&self, id: &str) -> String {
        self.departments
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    key: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, PluginError> {
    value
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| {
            PluginError::config(format!(
                "setting `{key}` is `{value}`; give a whole number from {min} to {max}"
            ))
        })
}

/// `09:00-13:00, 14:00-18:00`: intervals within a day, in order, not overlapping.
fn hours(value: &str) -> Result<Vec<(u32, u32)>, PluginError> {
    let bad = || {
        PluginError::config(format!(
            "setting `hours` is `{value}`; write intervals like `09:00-13:00, 14:00-18:00`, in order"
        ))
    };
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
    };
    let mut out: Vec<(u32, u32)> = Vec::new();
    for part in value.split(',') {
        let (from, to) = part.split_once('-').ok_or_else(bad)?;
        let (from, to) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
        if to <= from || out.last().is_some_and(|(_, end)| *end > from) {
            return Err(bad());
        }
        out.push((from, to));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn reads_reception_hours_and_places() {
        let s = MockHost::new()
            .setting("hours", "10:00-12:00, 15:30-17:00")
            .setting("place.video", "https://vks.example.ru/knd")
            .setting("department.control", "Отдел регионального контроля")
            .run(Settings::from_config)
            .unwrap();
        assert_eq!(s.hours, vec![(600, 720), (930, 1020)]);
        assert_eq!(s.places["video"], "https://vks.example.ru/knd");
        assert_eq!(s.department_name("control"), "Отдел регионального контроля");
        assert_eq!(s.department_name("science"), "science");
    }

    #[test]
    fn refuses_bad_settings_naming_the_key() {
        for (key, value, expect) in [
            ("hours", "14:00-13:00", "setting `hours`"),
            ("hours", "09:00-12:00,11:00-13:00", "setting `hours`"),
            ("offer-count", "0", "`offer-count` is `0`"),
            ("place.fax", "x", "`fax` is not a meeting format"),
            ("colour", "red", "unknown setting `colour`"),
        ] {
            let e = MockHost::new()
                .setting(key, value)
                .run(Settings::from_config)
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config);
            assert!(e.message.contains(expect), "{key}: {}", e.message);
        }
    }
}
