//! The plugin's settings (the `settings` table of its `[[plugins]]` entry), read and
//! checked per call so that a reloaded config takes effect at once.

use okno_sdk::config;
use okno_sdk::prelude::*;

use crate::application::{Field, FieldNames};
use crate::smev::Version;

/// Largest attachment accepted by default: 1 GiB, above what SMEV's file storage
/// carries for one file.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 1 << 30;

/// What `decode` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeSettings {
    /// `mnemonic`: this system's mnemonic in SMEV; a request addressed to another is
    /// marked (`smev.recipient-mismatch`).
    pub mnemonic: Option<String>,
    /// `client-kind`: the kind of an applicant the content does not tell.
    pub client_kind: ClientKind,
    /// `max-attachment-bytes`: an attachment larger, or claiming to be, is refused.
    pub max_attachment_bytes: u64,
    /// `fields.<role>`: the element names read for each field of the application.
    pub fields: FieldNames,
    /// `subject.<RootElement>`: the subject of applications with that payload root.
    pub subjects: Vec<(String, String)>,
}

impl DecodeSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let client_kind = match config::get("client-kind").as_deref().map(str::trim) {
            None | Some("unknown") => ClientKind::Unknown,
            Some("citizen") => ClientKind::Citizen,
            Some("business") => ClientKind::Business,
            Some("internal") => ClientKind::Internal,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `client-kind` is `{other}`; use one of `citizen`, `business`, `internal`, `unknown`"
                )))
            }
        };
        let max_attachment_bytes = match config::get("max-attachment-bytes") {
            None => DEFAULT_MAX_ATTACHMENT_BYTES,
            Some(text) => text.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                PluginError::config(format!(
                    "setting `max-attachment-bytes` is `{text}`; give a positive number of bytes, e.g. `1073741824`"
                ))
            })?,
        };
        let mut fields = FieldNames::default();
        let mut subjects = Vec::new();
        for (key, value) in config::get_all() {
            if let Some(role) = key.strip_prefix("fields.") {
                let field = Field::parse(role).ok_or_else(|| {
                    PluginError::config(format!(
                        "setting `{key}` names no field; use one of {}",
                        Field::ALL
                            .iter()
                            .map(|f| format!("`fields.{}`", f.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                let names: Vec<String> = value
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect();
                if names.is_empty() {
                    return Err(PluginError::config(format!(
                        "setting `{key}` is empty; give element names separated by commas, e.g. `INN, ИНН`"
                    )));
                }
                fields.set(field, names);
            } else if let Some(root) = key.strip_prefix("subject.") {
                subjects.push((root.to_string(), value.trim().to_string()));
            }
        }
        Ok(DecodeSettings {
            mnemonic: non_empty("mnemonic"),
            client_kind,
            max_attachment_bytes,
            fields,
            subjects,
        })
    }
}

/// What `SendResponseRequest` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// `RequestStatus`: the application's state changed (registered, with its deadline).
    Status,
    /// `MessagePrimaryContent`: the service's result.
    Result,
}

/// What `encode` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    /// `response`: `status` (default) or `result`.
    pub response: ResponseKind,
    /// `status-code`: the `StatusCode` of a status, as the service's passport gives it.
    pub status_code: String,
    /// `result-namespace`: the namespace of the result document.
    pub result_namespace: String,
    /// `smev-version`: used when the message does not say which version it came in.
    pub version: Version,
}

pub const DEFAULT_RESULT_NAMESPACE: &str = "urn://x-artefacts-okno/epgu-result/1.0.0";

impl EncodeSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let response = match config::get("response").as_deref().map(str::trim) {
            None | Some("status") => ResponseKind::Status,
            Some("result") => ResponseKind::Result,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `response` is `{other}`; use `status` (a RequestStatus) or `result` (the service's result)"
                )))
            }
        };
        let status_code = non_empty("status-code").unwrap_or_else(|| "1".into());
        if status_code.parse::<i32>().is_err() {
            return Err(PluginError::config(format!(
                "setting `status-code` is `{status_code}`; SMEV's StatusCode is a number, e.g. `1`"
            )));
        }
        Ok(EncodeSettings {
            response,
            status_code,
            result_namespace: non_empty("result-namespace")
                .unwrap_or_else(|| DEFAULT_RESULT_NAMESPACE.into()),
            version: version_setting()?,
        })
    }
}

/// `smev-version`: `1.1`, `1.2` (default) or `1.3`.
pub fn version_setting() -> Result<Version, PluginError> {
    match config::get("smev-version") {
        None => Ok(Version::V1_2),
        Some(text) => Version::parse(&text).ok_or_else(|| {
            PluginError::config(format!(
                "setting `smev-version` is `{text}`; use `1.1`, `1.2` or `1.3`"
            ))
        }),
    }
}

pub fn non_empty(key: &str) -> Option<String> {
    config::get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn defaults_and_refusals() {
        let settings = MockHost::new().run(DecodeSettings::from_config).unwrap();
        assert_eq!(settings.max_attachment_bytes, DEFAULT_MAX_ATTACHMENT_BYTES);
        assert_eq!(settings.client_kind, ClientKind::Unknown);

        let err = MockHost::new()
            .setting("max-attachment-bytes", "lots")
            .run(DecodeSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`max-attachment-bytes` is `lots`"));

        let err = MockHost::new()
            .setting("fields.shoe-size", "Size")
            .run(DecodeSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`fields.shoe-size` names no field"));

        let err = MockHost::new()
            .setting("response", "maybe")
            .run(EncodeSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`response` is `maybe`"));

        let err = MockHost::new()
            .setting("smev-version", "3")
            .run(EncodeSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`smev-version` is `3`"));
    }
}
