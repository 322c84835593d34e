//! One deployment's mapping, from the plugin's settings (read per call, so a reloaded
//! config applies at once): department codes, status wording, where the executor is kept.

use std::collections::BTreeMap;

use okno_sdk::config;
use okno_sdk::prelude::*;

use crate::card::Status;

/// Which card field holds the executor in this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorField {
    Executor,
    Responsible,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `max-card-bytes`: a larger input is refused before it is parsed.
    pub max_card_bytes: usize,
    /// `executor-field`: `executor` (default) or `responsible`.
    pub executor_field: ExecutorField,
    /// `department.<SOG code>` = the hub's department id.
    pub departments: BTreeMap<String, String>,
    /// `status-name.<status>` = the deployment's wording, written into `status_name`.
    pub status_names: BTreeMap<&'static str, String>,
    /// `default-topic-code`: the question code of a card sent for registration when the
    /// hub found no topic.
    pub default_topic_code: Option<String>,
}

pub const DEFAULT_MAX_CARD_BYTES: usize = 2 * 1024 * 1024;

impl Settings {
    pub fn from_config() -> Result<Self, PluginError> {
        let mut settings = Settings {
            max_card_bytes: DEFAULT_MAX_CARD_BYTES,
            executor_field: ExecutorField::Executor,
            departments: BTreeMap::new(),
            status_names: BTreeMap::new(),
            default_topic_code: None,
        };
        for (key, value) in config::get_all() {
            let value = value.trim().to_string();
            if let Some(code) = key.strip_prefix("department.") {
                if value.is_empty() {
                    return Err(PluginError::config(format!(
                        "setting `{key}` is empty; give the hub's department id for SOG department `{code}`"
                    )));
                }
                settings.departments.insert(code.to_string(), value);
            } else if let Some(status) = key.strip_prefix("status-name.") {
                let status = Status::parse(status).ok_or_else(|| {
                    PluginError::config(format!(
                        "setting `{key}`: `{status}` is not a card status; use one of {}",
                        Status::ALL
                            .iter()
                            .map(|s| format!("`{}`", s.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                settings.status_names.insert(status.as_str(), value);
            } else {
                match key.as_str() {
                    "max-card-bytes" => {
                        settings.max_card_bytes = value
                            .parse()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| {
                                PluginError::config(format!(
                                    "setting `max-card-bytes` is `{value}`; give a positive number of bytes"
                                ))
                            })?;
                    }
                    "executor-field" => {
                        settings.executor_field = match value.as_str() {
                            "executor" => ExecutorField::Executor,
                            "responsible" => ExecutorField::Responsible,
                            other => {
                                return Err(PluginError::config(format!(
                                    "setting `executor-field` is `{other}`; use `executor` or `responsible`"
                                )))
                            }
                        };
                    }
                    "default-topic-code" => {
                        crate::rules::topic_code("setting `default-topic-code`", &value)
                            .map_err(|e| PluginError::config(e.message))?;
                        settings.default_topic_code = Some(value);
                    }
                    // Read by `poll` and `ack` (lib.rs).
                    "feed-url" => {}
                    other => {
                        return Err(PluginError::config(format!(
                            "unknown setting `{other}`; known: `feed-url`, `max-card-bytes`, `executor-field`, `default-topic-code`, `department.<SOG code>`, `status-name.<status>`"
                        )))
                    }
                }
            }
        }
        Ok(settings)
    }

    /// The hub's department id for a SOG department code, if the deployment maps it.
    pub fn department_id(&self, code: &str) -> Option<&str> {
        self.departments.get(code).map(String::as_str)
    }

    /// The SOG department code for the hub's department id.
    pub fn department_code(&self, id: &str) -> Option<&str> {
        self.departments
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn reads_a_deployments_mapping() {
        let s = MockHost::new()
            .setting("department.ОЛ-2", "licensing")
            .setting("status-name.in_work", "На исполнении")
            .setting("executor-field", "responsible")
            .run(Settings::from_config)
            .unwrap();
        assert_eq!(s.department_id("ОЛ-2"), Some("licensing"));
        assert_eq!(s.department_code("licensing"), Some("ОЛ-2"));
        assert_eq!(s.status_names["in_work"], "На исполнении");
        assert_eq!(s.executor_field, ExecutorField::Responsible);
    }

    #[test]
    fn refuses_bad_settings_naming_the_key() {
        for (key, value, expect) in [
            ("executor-field", "boss", "`executor-field` is `boss`"),
            (
                "status-name.closed",
                "Закрыто",
                "`closed` is not a card status",
            ),
            ("max-card-bytes", "-1", "`max-card-bytes` is `-1`"),
            (
                "default-topic-code",
                "9999.9999.9999.9999",
                "default-topic-code",
            ),
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
