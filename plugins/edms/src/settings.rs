//! The plugin's settings (the `settings` table of its `[[plugins]]` entry), read per call
//! so that a reloaded config counts at once. What differs between EDMS products —
//! the names of their notification types, where a notification carries the executor,
//! the controller or the deadline, which document kinds are organisational — is here,
//! not in code.

use okno_sdk::config;
use okno_sdk::prelude::*;

/// An event of the registration card and execution control, as `edms.event` names it.
pub const EVENTS: [&str; 6] = [
    "registered",
    "refused",
    "assignment",
    "report-submitted",
    "report-accepted",
    "report-rejected",
];

/// МЭДО's own notification types; products add theirs through `event.NAME`.
fn default_types(event: &str) -> &'static str {
    match event {
        "registered" => "Зарегистрирован",
        "refused" => "Отказано в регистрации",
        "assignment" => "Назначен исполнитель",
        "report-submitted" => "Доклад направлен, Доклад подготовлен",
        _ => "",
    }
}

/// Where a field sits inside a notification's body element, as paths of local names.
fn default_paths(field: &str) -> &'static str {
    match field {
        "reg-number" => "num/number",
        "reg-date" => "num/date",
        "doc-number" => "foundation/num/number",
        "doc-date" => "foundation/num/date",
        "time" => "time",
        "reason" => "reason",
        "executor" => "executor/person, executor/name, executor/organization",
        "controller" => "controller/person, controller/name",
        "deadline" => "deadline",
        _ => "",
    }
}

/// The fields `field.NAME` may move.
pub const FIELDS: [&str; 9] = [
    "reg-number",
    "reg-date",
    "doc-number",
    "doc-date",
    "time",
    "reason",
    "executor",
    "controller",
    "deadline",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `client-kind`: the kind of a sending body (default `business`: an organisation).
    pub client_kind: ClientKind,
    /// `event.NAME`: notification types (comma-separated) that mean each event.
    pub events: Vec<(String, Vec<String>)>,
    /// `field.NAME`: paths (comma-separated, first found wins) of each field.
    pub fields: Vec<(String, Vec<String>)>,
    /// `extra.KEY = PATH`: product-specific values copied to metadata `edms.x.KEY`.
    pub extras: Vec<(String, String)>,
    /// `doc-type.organisational`, `doc-type.internal`, `doc-type.outgoing`: document kinds
    /// (comma-separated) of that type; every other kind received is `incoming`.
    pub doc_types: Vec<(String, Vec<String>)>,
    /// `citizen-kinds`: document kinds that carry a citizen's appeal, whose client is the
    /// citizen named as correspondent.
    pub citizen_kinds: Vec<String>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Settings {
    pub fn from_config() -> Result<Self, PluginError> {
        let client_kind = match config::get("client-kind").as_deref().map(str::trim) {
            None | Some("business") => ClientKind::Business,
            Some("citizen") => ClientKind::Citizen,
            Some("internal") => ClientKind::Internal,
            Some("unknown") => ClientKind::Unknown,
            Some(other) => {
                return Err(PluginError::config(format!(
                    "setting `client-kind` is `{other}`; use one of `business`, `citizen`, `internal`, `unknown`"
                )))
            }
        };
        let all = config::get_all();
        for (key, _) in &all {
            if let Some(event) = key.strip_prefix("event.") {
                if !EVENTS.contains(&event) {
                    return Err(PluginError::config(format!(
                        "setting `{key}` names no event; use one of {}",
                        EVENTS.map(|e| format!("`event.{e}`")).join(", ")
                    )));
                }
            }
            if let Some(field) = key.strip_prefix("field.") {
                if !FIELDS.contains(&field) {
                    return Err(PluginError::config(format!(
                        "setting `{key}` names no field; use one of {}",
                        FIELDS.map(|e| format!("`field.{e}`")).join(", ")
                    )));
                }
            }
            if let Some(kind) = key.strip_prefix("doc-type.") {
                if !["organisational", "internal", "outgoing", "incoming"].contains(&kind) {
                    return Err(PluginError::config(format!(
                        "setting `{key}`: the document types are `incoming`, `outgoing`, `organisational`, `internal`"
                    )));
                }
            }
        }
        let events = EVENTS
            .iter()
            .map(|event| {
                let value = config::get(&format!("event.{event}"))
                    .unwrap_or_else(|| default_types(event).to_string());
                (event.to_string(), list(&value))
            })
            .collect();
        let fields = FIELDS
            .iter()
            .map(|field| {
                let value = config::get(&format!("field.{field}"))
                    .unwrap_or_else(|| default_paths(field).to_string());
                (field.to_string(), list(&value))
            })
            .collect();
        let extras = all
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("extra.")
                    .map(|name| (name.to_string(), v.trim().to_string()))
            })
            .collect();
        let doc_types = ["organisational", "internal", "outgoing"]
            .iter()
            .map(|t| {
                (
                    t.to_string(),
                    list(&config::get(&format!("doc-type.{t}")).unwrap_or_default()),
                )
            })
            .collect();
        let citizen_kinds = list(
            &config::get("citizen-kinds")
                .unwrap_or_else(|| "Обращение гражданина, Обращение граждан".into()),
        );
        Ok(Settings {
            client_kind,
            events,
            fields,
            extras,
            doc_types,
            citizen_kinds,
        })
    }

    /// The event a notification type means, if any setting names it.
    pub fn event_of(&self, notification_type: &str) -> Option<&str> {
        let wanted = notification_type.trim().to_lowercase();
        self.events
            .iter()
            .find(|(_, types)| types.iter().any(|t| t.to_lowercase() == wanted))
            .map(|(event, _)| event.as_str())
    }

    /// The notification type written for an event: the first one its setting names.
    pub fn type_of(&self, event: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|(e, _)| e == event)
            .and_then(|(_, types)| types.first())
            .map(String::as_str)
    }

    pub fn paths(&self, field: &str) -> &[String] {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, p)| p.as_slice())
            .unwrap_or(&[])
    }

    /// `incoming` unless a `doc-type.*` setting lists the kind.
    pub fn doc_type(&self, kind: Option<&str>) -> &str {
        let Some(kind) = kind.map(|k| k.trim().to_lowercase()) else {
            return "incoming";
        };
        self.doc_types
            .iter()
            .find(|(_, kinds)| kinds.iter().any(|k| k.to_lowercase() == kind))
            .map(|(t, _)| t.as_str())
            .unwrap_or("incoming")
    }

    pub fn is_citizen_kind(&self, kind: Option<&str>) -> bool {
        kind.is_some_and(|kind| {
            let kind = kind.trim().to_lowercase();
            self.citizen_kinds.iter().any(|k| k.to_lowercase() == kind)
        })
    }
}

/// What `encode` needs: who the hub writes as, and to whom.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeSettings {
    /// `organization`: the body's name as МЭДО knows it.
    pub organization: String,
    /// `source-uid`: the body's МЭДО participant uid.
    pub source_uid: String,
    /// `addressee`: the receiving organisation's name.
    pub addressee: String,
    /// `medo-address`: the receiving gateway address for envelope.ltr (e.g. `MINPROM~MEDOGU`).
    pub medo_address: String,
    /// `document-kind`: the kind an appeal is sent as (default `Обращение гражданина`).
    pub document_kind: String,
    /// `version`: the МЭДО version written (default `2.2`).
    pub version: String,
}

impl EncodeSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let required = |key: &str, example: &str| {
            config::get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    PluginError::config(format!(
                        "setting `{key}` is missing: encode needs it, e.g. `{key} = \"{example}\"`"
                    ))
                })
        };
        let source_uid = required("source-uid", "0f2b6a1e-5c1d-4b8e-9a3f-1c2d3e4f5a6b")?;
        if !crate::uid::is_uid(&source_uid) {
            return Err(PluginError::config(format!(
                "setting `source-uid` is `{source_uid}`, which is not a МЭДО uid (8-4-4-4-12 hex digits)"
            )));
        }
        let version = config::get("version").unwrap_or_else(|| "2.2".into());
        if !["2.0", "2.1", "2.2", "2.5", "2.6"].contains(&version.trim()) {
            return Err(PluginError::config(format!(
                "setting `version` is `{version}`; encode writes МЭДО 2.0–2.6 documents (2.7 containers need a signature the МЭДО gateway adds)"
            )));
        }
        Ok(EncodeSettings {
            organization: required("organization", "Министерство промышленности и науки")?,
            source_uid,
            addressee: required("addressee", "Министерство промышленности и науки (СЭД)")?,
            medo_address: required("medo-address", "MINPROM~MEDOGU")?,
            document_kind: config::get("document-kind")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "Обращение гражданина".into()),
            version: version.trim().to_string(),
        })
    }
}
