//! The priority: a base from the kind of appeal, then one level up for each aggravating
//! fact, never above urgent.

use okno_sdk::prelude::*;

use crate::settings::PolicySettings;
use crate::words;

/// Sentiment at or below this is strongly negative.
pub const STRONGLY_NEGATIVE: f32 = -0.6;
/// Tags (from classifiers) that make an appeal urgent outright.
pub const URGENT_TAGS: [&str; 2] = ["urgent", "emergency"];

/// The facts about a message the priority depends on, besides its classification.
pub(crate) struct Facts {
    pub repeat: bool,
    pub to_deputy_minister: bool,
}

pub(crate) fn priority(
    message: &Message,
    classification: &Classification,
    settings: &PolicySettings,
    facts: &Facts,
    reasons: &mut Vec<String>,
) -> Priority {
    let mut level = match &classification.kind {
        Some(kind) => {
            let base = match kind.kind {
                AppealKind::Complaint => Priority::High,
                AppealKind::Gratitude => Priority::Low,
                AppealKind::Proposal
                | AppealKind::Statement
                | AppealKind::Inquiry
                | AppealKind::Other => Priority::Normal,
            };
            reasons.push(format!(
                "Вид обращения — {}: приоритет {}",
                words::kind(kind.kind),
                words::nominative(base)
            ));
            base
        }
        None => {
            reasons.push("Вид обращения не определён: приоритет обычный".into());
            Priority::Normal
        }
    };

    if let Some(sentiment) = &classification.sentiment {
        if sentiment.score <= STRONGLY_NEGATIVE {
            let why = format!(
                "Резко негативная тональность (оценка {})",
                words::score(sentiment.score)
            );
            level = raise(level, &why, reasons);
        }
    }

    // A classifier cannot set `client.segments`; it tags what it read in the text as
    // `segment:<name>`, which counts the same as the connector's segment.
    let from_text = classification
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("segment:"));
    let mut segments: Vec<&str> = Vec::new();
    for s in message
        .client
        .segments
        .iter()
        .map(String::as_str)
        .chain(from_text)
    {
        let named = words::segment(s);
        if settings.priority_segments.iter().any(|p| p == s) && !segments.contains(&named) {
            segments.push(named);
        }
    }
    if !segments.is_empty() {
        // One raise however many segments apply: a veteran with a disability is not two
        // levels more urgent than either.
        let why = format!("Категория заявителя: {}", segments.join(", "));
        level = raise(level, &why, reasons);
    }

    if facts.repeat {
        level = raise(level, "Повторное обращение", reasons);
    }

    if facts.to_deputy_minister && level < Priority::High {
        level = Priority::High;
        reasons.push(
            "Обращение адресовано заместителю министра: приоритет повышен до высокого".into(),
        );
    }

    if let Some(tag) = classification
        .tags
        .iter()
        .find(|t| URGENT_TAGS.contains(&t.as_str()))
    {
        if level < Priority::Urgent {
            level = Priority::Urgent;
            reasons.push(format!("Метка «{tag}»: приоритет срочный"));
        }
    }
    level
}

fn raise(level: Priority, why: &str, reasons: &mut Vec<String>) -> Priority {
    let raised = match level {
        Priority::Low => Priority::Normal,
        Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    };
    if raised == level {
        reasons.push(format!("{why}: приоритет уже срочный, выше не бывает"));
    } else {
        reasons.push(format!(
            "{why}: приоритет повышен до {}",
            words::genitive(raised)
        ));
    }
    raised
}
