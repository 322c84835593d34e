//! Every problem of a form, by field, in Russian and in English, returned at once.
//!
//! The contract's error carries a kind and a text; the hub reads a text that is a JSON
//! object with `fields` as a list of fields and answers `422 invalid_fields` with it in
//! `details.fields` (see the README, "The site's e-reception"), so a site can mark each
//! field of its form.

use okno_sdk::prelude::*;
use serde_json::json;

/// What is wrong with one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Required and absent or empty.
    Missing,
    /// Present and not acceptable (wrong type, wrong shape).
    Invalid,
    /// Over its limit (length, count, size).
    TooLarge,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Invalid => "invalid",
            Problem::TooLarge => "too-large",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: Problem,
    pub ru: String,
    pub en: String,
}

/// The problems found so far.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldProblem>);

impl Problems {
    pub fn add(
        &mut self,
        field: &str,
        problem: Problem,
        ru: impl Into<String>,
        en: impl Into<String>,
    ) {
        self.0.push(FieldProblem {
            field: field.into(),
            problem,
            ru: ru.into(),
            en: en.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One error naming every field: a JSON object the hub answers as a 422.
    pub fn into_error(self) -> PluginError {
        let names: Vec<&str> = self.0.iter().map(|p| p.field.as_str()).collect();
        let message = format!(
            "the form has {} field(s) missing or invalid: {}",
            self.0.len(),
            names.join(", ")
        );
        let fields: Vec<serde_json::Value> = self
            .0
            .iter()
            .map(|p| json!({"field": p.field, "problem": p.problem.as_str(), "ru": p.ru, "en": p.en}))
            .collect();
        PluginError::invalid_input(json!({"message": message, "fields": fields}).to_string())
    }
}
