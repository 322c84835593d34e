//! {{name}}: a policy that gives an appeal an answer deadline of `days` working days
//! (10 unless the config says otherwise) on the production calendar, and a high priority
//! when a classifier tagged it `urgent`.

use okno_sdk::prelude::*;

pub struct {{type_name}};

impl Policy for {{type_name}} {
    fn decide(message: Message, classification: Classification) -> Result<Decision, PluginError> {
        let days: u32 = match okno_sdk::config::get("days") {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| PluginError::config(format!("`days` must be a whole number, got {text:?}")))?,
            None => 10,
        };
        let urgent = classification.tags.iter().any(|t| t == "urgent");
        let mut decision = Decision::new(if urgent { Priority::High } else { Priority::Normal });
        let received = okno_sdk::time::local_date(message.received_at);
        let due = okno_sdk::calendar::add_working_days(received, days);
        decision.answer_deadline = Some(okno_sdk::time::end_of_local_day(due));
        decision.reasons.push(format!("{days} working days"));
        if urgent {
            decision.reasons.push("tagged urgent".into());
        }
        Ok(decision)
    }
}

okno_sdk::export_policy!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    fn received(text: &str) -> Message {
        let mut message = Message::new(Channel::Mail, "...");
        message.received_at = okno_sdk::time::timestamp_from_rfc3339(text).unwrap();
        message
    }

    #[test]
    fn the_deadline_skips_the_new_year_holidays() {
        // 2026-12-30 (Wednesday) + 3 working days skips December 31 – January 10.
        let host = MockHost::new().setting("days", "3");
        let message = received("2026-12-30T09:00:00+03:00");
        let decision = host.run(|| {{type_name}}::decide(message, Classification::default())).unwrap();
        let due = okno_sdk::time::local_date_with_offset(decision.answer_deadline.unwrap(), 180);
        assert_eq!((due.year, due.month, due.day), (2027, 1, 13));
        assert_eq!(decision.priority, Priority::Normal);
    }

    #[test]
    fn an_urgent_tag_raises_the_priority() {
        let mut classification = Classification::default();
        classification.tags.push("urgent".into());
        let message = received("2026-03-02T09:00:00+03:00");
        let decision = MockHost::new().run(|| {{type_name}}::decide(message, classification)).unwrap();
        assert_eq!(decision.priority, Priority::High);
    }

    #[test]
    fn a_bad_setting_is_a_config_error() {
        let host = MockHost::new().setting("days", "ten");
        let error = host
            .run(|| {{type_name}}::decide(received("2026-03-02T09:00:00+03:00"), Classification::default()))
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Config);
    }
}
