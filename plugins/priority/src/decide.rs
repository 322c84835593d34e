//! The whole decision for one message, and the checks it must pass before it leaves.

use okno_sdk::prelude::*;
use okno_sdk::time;

use crate::deadlines::{deadlines, Deadlines};
use crate::level::{priority, Facts};
use crate::responsible::responsible;
use crate::settings::PolicySettings;

/// The policy's logic without the host's config: what `decide` returns for `message`
/// when the settings give `settings`. Natively it needs a host only for the hub's time
/// zone (`okno_sdk::testing::MockHost`); the calendar is the SDK's.
pub fn decide_with_settings(
    settings: &PolicySettings,
    message: &Message,
    classification: &Classification,
) -> Result<Decision, PluginError> {
    if message.received_at <= 0 {
        return Err(PluginError::invalid_input(format!(
            "message `{}` has no received-at ({}): deadlines are counted from it",
            message.id, message.received_at
        )));
    }
    let facts = Facts {
        repeat: classification.kind.as_ref().is_some_and(|k| k.repeat)
            || message.thread.repeat_of.is_some(),
        to_deputy_minister: to_deputy_minister(message, settings),
    };

    let mut reasons = Vec::new();
    let level = priority(message, classification, settings, &facts, &mut reasons);
    let due = deadlines(message, settings, facts.to_deputy_minister, &mut reasons)?;
    let responsible = responsible(classification, settings, &mut reasons);

    let mut decision = Decision::new(level);
    decision.registration_deadline = due.registration;
    decision.answer_deadline = due.answer;
    decision.responsible = responsible;
    decision.route_tags = route_tags(message, level, &due, facts.repeat);
    decision.reasons = reasons;
    check(message, &decision)?;
    Ok(decision)
}

fn to_deputy_minister(message: &Message, settings: &PolicySettings) -> bool {
    message.metadata_value("addressee.role").map(str::trim) == Some("deputy-minister")
        || message
            .metadata_value("addressee.id")
            .is_some_and(|id| settings.deputy_addressees.iter().any(|d| d == id.trim()))
}

/// `priority:<level>`, `deadline:<n>d` (calendar days from the day of receipt to the
/// day of the answer deadline), `deadline:<n>h` as well for deadlines set in hours, and
/// `repeat`.
fn route_tags(message: &Message, level: Priority, due: &Deadlines, repeat: bool) -> Vec<String> {
    let mut tags = vec![format!("priority:{}", level.as_str())];
    if let Some(answer) = due.answer {
        let days = time::days_from_civil(time::local_date(answer))
            - time::days_from_civil(time::local_date(message.received_at));
        tags.push(format!("deadline:{days}d"));
    }
    if let Some(hours) = due.answer_hours {
        tags.push(format!("deadline:{hours}h"));
    }
    if repeat {
        tags.push("repeat".into());
    }
    tags
}

/// The contract: deadlines are never before the message arrived, and an appeal is not
/// due an answer before it is due registration. A breach here is this plugin's bug, and
/// the hub should see it rather than a wrong deadline.
fn check(message: &Message, decision: &Decision) -> Result<(), PluginError> {
    let received = message.received_at;
    for (what, deadline) in [
        ("registration deadline", decision.registration_deadline),
        ("answer deadline", decision.answer_deadline),
    ] {
        if let Some(at) = deadline.filter(|at| *at < received) {
            return Err(PluginError::internal(format!(
                "{what} {at} is before received-at {received} for message `{}`",
                message.id
            )));
        }
    }
    if let (Some(registration), Some(answer)) =
        (decision.registration_deadline, decision.answer_deadline)
    {
        if answer < registration {
            return Err(PluginError::internal(format!(
                "answer deadline {answer} is before registration deadline {registration} for message `{}`",
                message.id
            )));
        }
    }
    Ok(())
}
