//! Checks that a plugin's answer keeps the contract before the hub believes it.

use crate::classifier_table;
use crate::model::{Classification, Decision, Message};

pub fn classification(message: &Message, c: &Classification) -> Result<(), String> {
    if let Some(topic) = &c.topic {
        for t in std::iter::once(&topic.best).chain(&topic.alternatives) {
            if classifier_table::lookup(&t.code).is_none() {
                return Err(format!(
                    "topic code {:?} is not in the official classifier",
                    t.code
                ));
            }
            if !(0.0..=1.0).contains(&t.confidence) {
                return Err(format!(
                    "confidence {} of topic {} is outside [0, 1]",
                    t.confidence, t.code
                ));
            }
        }
        if topic.alternatives.len() > 5 {
            return Err(format!(
                "{} topic alternatives; at most 5 are allowed",
                topic.alternatives.len()
            ));
        }
    }
    if let Some(s) = &c.sentiment {
        if !(-1.0..=1.0).contains(&s.score) {
            return Err(format!("sentiment score {} is outside [-1, 1]", s.score));
        }
    }
    for span in &c.pii {
        let (start, end) = (span.start as usize, span.end as usize);
        if start >= end
            || end > message.body.len()
            || !message.body.is_char_boundary(start)
            || !message.body.is_char_boundary(end)
        {
            return Err(format!(
                "personal-data span {}..{} ({}) is not a range of whole characters within the {}-byte body",
                span.start, span.end, span.kind, message.body.len()
            ));
        }
    }
    Ok(())
}

pub fn decision(message: &Message, d: &Decision) -> Result<(), String> {
    for (what, deadline) in [
        ("registration", d.registration_deadline),
        ("answer", d.answer_deadline),
    ] {
        if let Some(at) = deadline {
            if at < message.received_at {
                return Err(format!(
                    "{what} deadline {} is before the message was received ({})",
                    crate::sla::format_time(at),
                    crate::sla::format_time(message.received_at)
                ));
            }
        }
    }
    Ok(())
}

pub fn decoded(messages: &[Message]) -> Result<(), String> {
    for (i, m) in messages.iter().enumerate() {
        if m.body.trim().is_empty()
            && m.attachments.is_empty()
            && m.subject.as_deref().unwrap_or("").trim().is_empty()
        {
            return Err(format!("message {i} has no subject, body or attachments"));
        }
    }
    Ok(())
}
