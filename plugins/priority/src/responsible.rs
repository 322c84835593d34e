//! Who answers: the department the settings map the topic's section to.

use okno_sdk::prelude::*;

use crate::settings::PolicySettings;

pub(crate) fn responsible(
    classification: &Classification,
    settings: &PolicySettings,
    reasons: &mut Vec<String>,
) -> Option<String> {
    let code = classification.topic.as_ref().map(|t| t.best.code.as_str());
    // Sorted longest first, so the first match is the most specific section.
    let matched = code.and_then(|code| {
        settings.responsible.iter().find(|(prefix, _)| {
            code.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    });
    match (code, matched, &settings.responsible_default) {
        (Some(code), Some((prefix, department)), _) => {
            reasons.push(format!(
                "Ответственный — {department}: тема {code} относится к разделу {prefix} \
                 (настройка responsible.{prefix})"
            ));
            Some(department.clone())
        }
        (code, None, Some(department)) => {
            let why = match code {
                Some(code) => format!("для темы {code} не настроен свой раздел"),
                None => "тема не определена".to_string(),
            };
            reasons.push(format!(
                "Ответственный — {department} по умолчанию (responsible.default): {why}"
            ));
            Some(department.clone())
        }
        (code, None, None) => {
            let why = match code {
                Some(code) => {
                    format!("для темы {code} нет подходящей настройки responsible.<раздел>")
                }
                None => "тема не определена".to_string(),
            };
            reasons.push(format!(
                "Ответственный не назначен: {why}, а responsible.default не задан"
            ));
            None
        }
        (None, Some(_), _) => None,
    }
}
