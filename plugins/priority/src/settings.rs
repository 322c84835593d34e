//! The policy's settings, checked once per call so a typo is an error, not a silent
//! default.
//!
//! ```toml
//! [plugins.settings]
//! priority-segments = "senior, disabled, large-family, veteran"
//! responsible.default = "dept-general"
//! responsible.0003.0008 = "dept-social"
//! responsible.0005.0005 = "dept-housing"
//! deputy-minister.addressees = "deputy-social, deputy-housing"
//! social.mention-hours = "4"
//! social.appeal-hours = "2"
//! ```

use okno_sdk::prelude::PluginError;

/// Client segments that raise priority unless `priority-segments` says otherwise.
pub const DEFAULT_SEGMENTS: [&str; 4] = ["senior", "disabled", "large-family", "veteran"];

#[derive(Clone, Debug, PartialEq)]
pub struct PolicySettings {
    /// Client segments that raise the priority one level.
    pub priority_segments: Vec<String>,
    /// Topic code prefix → department, longest prefix first.
    pub responsible: Vec<(String, String)>,
    pub responsible_default: Option<String>,
    /// Values of the metadata `addressee.id` that mean a deputy minister, for connectors
    /// that know the addressee but not their role.
    pub deputy_addressees: Vec<String>,
    /// The ministry's order: hours to answer a mention in a social network or messenger.
    pub social_mention_hours: u32,
    /// Hours to answer an official appeal or a comment on an official post.
    pub social_appeal_hours: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            priority_segments: DEFAULT_SEGMENTS.iter().map(|s| s.to_string()).collect(),
            responsible: Vec::new(),
            responsible_default: None,
            deputy_addressees: Vec::new(),
            social_mention_hours: 4,
            social_appeal_hours: 2,
        }
    }
}

impl PolicySettings {
    /// Reads the settings as `okno_sdk::config::get_all` gives them.
    pub fn from_settings(settings: &[(String, String)]) -> Result<PolicySettings, PluginError> {
        let mut out = PolicySettings::default();
        for (key, value) in settings {
            match key.as_str() {
                "priority-segments" => out.priority_segments = list(value),
                "deputy-minister.addressees" => out.deputy_addressees = list(value),
                "social.mention-hours" => out.social_mention_hours = hours(key, value)?,
                "social.appeal-hours" => out.social_appeal_hours = hours(key, value)?,
                "responsible.default" => out.responsible_default = Some(department(key, value)?),
                _ => match key.strip_prefix("responsible.") {
                    Some(prefix) => {
                        check_prefix(key, prefix)?;
                        out.responsible
                            .push((prefix.to_string(), department(key, value)?));
                    }
                    None => {
                        return Err(PluginError::config(format!(
                            "setting `{key}` is not one the priority policy reads; it takes \
                             `priority-segments`, `responsible.<code prefix>`, \
                             `responsible.default`, `deputy-minister.addressees`, \
                             `social.mention-hours` and `social.appeal-hours`"
                        )))
                    }
                },
            }
        }
        out.responsible
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Ok(out)
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn hours(key: &str, value: &str) -> Result<u32, PluginError> {
    match value.trim().parse::<u32>() {
        Ok(h) if (1..=720).contains(&h) => Ok(h),
        _ => Err(PluginError::config(format!(
            "setting `{key}` = `{value}`: expected a whole number of hours from 1 to 720"
        ))),
    }
}

fn department(key: &str, value: &str) -> Result<String, PluginError> {
    let id = value.trim();
    if id.is_empty() {
        return Err(PluginError::config(format!(
            "setting `{key}` is empty: give a department id"
        )));
    }
    Ok(id.to_string())
}

/// A prefix is whole blocks of the classifier code: `0005`, `0005.0005`, up to the five
/// blocks of the longest codes, so that `0005.0005` never matches `0005.0005X…`.
fn check_prefix(key: &str, prefix: &str) -> Result<(), PluginError> {
    let blocks: Vec<&str> = prefix.split('.').collect();
    let well_formed = blocks.len() <= 5
        && blocks
            .iter()
            .all(|b| b.len() == 4 && b.bytes().all(|c| c.is_ascii_digit()));
    if well_formed {
        Ok(())
    } else {
        Err(PluginError::config(format!(
            "setting `{key}`: `{prefix}` is not a topic code prefix; write whole blocks of four \
             digits, e.g. `responsible.0005.0005`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_settings() {
        assert_eq!(
            PolicySettings::from_settings(&[]).unwrap(),
            PolicySettings::default()
        );
    }

    #[test]
    fn reads_every_setting() {
        let s = PolicySettings::from_settings(&settings(&[
            ("deputy-minister.addressees", "deputy-1, deputy-2"),
            ("priority-segments", "senior, , pregnant"),
            ("responsible.0005", "dept-housing-all"),
            ("responsible.0005.0005", " dept-housing "),
            ("responsible.default", "dept-general"),
            ("social.appeal-hours", "1"),
            ("social.mention-hours", "6"),
        ]))
        .unwrap();
        assert_eq!(s.priority_segments, ["senior", "pregnant"]);
        assert_eq!(s.deputy_addressees, ["deputy-1", "deputy-2"]);
        assert_eq!(
            s.responsible[0],
            ("0005.0005".to_string(), "dept-housing".to_string())
        );
        assert_eq!(s.responsible_default.as_deref(), Some("dept-general"));
        assert_eq!((s.social_mention_hours, s.social_appeal_hours), (6, 1));
    }

    #[test]
    fn rejects_wrong_settings_by_name() {
        for (key, value, needle) in [
            ("responsible.05.5", "x", "not a topic code prefix"),
            ("responsible.0005.0005", " ", "is empty"),
            ("social.appeal-hours", "два", "whole number of hours"),
            ("social.mention-hours", "0", "whole number of hours"),
            (
                "priority-segment",
                "senior",
                "not one the priority policy reads",
            ),
        ] {
            let err = PolicySettings::from_settings(&settings(&[(key, value)])).unwrap_err();
            assert!(err.message.contains(key), "{key}: {}", err.message);
            assert!(err.message.contains(needle), "{key}: {}", err.message);
        }
    }
}
