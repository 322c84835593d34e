//! `okno plugin example --world W`: a complete input for `okno plugin run`, every field
//! of the contract filled in, built from the hub's own types so it always parses.

use crate::model::{
    AppealKind, Attachment, Channel, Classification, Client, ClientKind, Contact, Decision,
    KindAssignment, Message, PiiSpan, Priority, Sentiment, SentimentLabel, Thread, Topic,
    TopicAssignment,
};
use crate::runtime::World;

use super::input::Envelope;

/// 2026-03-02T09:15:00+03:00, a Monday.
const RECEIVED_AT: i64 = 1_772_432_100_000;

/// A citizen's appeal as a connector would decode it.
pub fn message() -> Message {
    let body = "Здравствуйте! Третий день нет холодной воды в доме 5 по улице Ленина. \
                Прошу принять меры. Телефон для связи: +7 900 123-45-67."
        .to_string();
    Message {
        id: "01JNQ6M3Z8P4R2T6V8X0A2C4E6".into(),
        idempotency_key: Some("<20260302091500.4711@mail.example.ru>".into()),
        channel: Channel::Mail,
        source: "mail".into(),
        received_at: RECEIVED_AT,
        sent_at: Some(RECEIVED_AT - 60_000),
        client: Client {
            kind: ClientKind::Citizen,
            name: Some("Иванова Мария Петровна".into()),
            contacts: vec![
                Contact {
                    kind: "email".into(),
                    value: "m.ivanova@mail.example.ru".into(),
                },
                Contact {
                    kind: "phone".into(),
                    value: "+79001234567".into(),
                },
            ],
            segments: vec!["resident".into()],
        },
        subject: Some("Нет холодной воды".into()),
        body,
        attachments: vec![Attachment {
            name: "photo.jpg".into(),
            media_type: "image/jpeg".into(),
            size: 48_213,
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            content_ref: "blob:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
        }],
        metadata: vec![
            ("from".into(), "m.ivanova@mail.example.ru".into()),
            ("language".into(), "ru".into()),
        ],
        thread: Thread {
            in_reply_to: None,
            repeat_of: None,
        },
    }
}

/// What the reference classifiers give [`message`].
pub fn classification(message: &Message) -> Classification {
    let phone = "+7 900 123-45-67";
    let start = message.body.find(phone).unwrap_or(0) as u32;
    let topic = |code: &str, name: &str, confidence: f32| Topic {
        code: code.into(),
        name: name.into(),
        confidence,
    };
    Classification {
        topic: Some(TopicAssignment {
            best: topic("0003.0009.0097.0700", "Водоснабжение поселений", 0.82),
            alternatives: vec![topic(
                "0003.0009.0093.0649",
                "Технологическое присоединение потребителей к системам электро-, тепло-, газо-, водоснабжения",
                0.11,
            )],
            low_confidence: false,
            reasons: vec!["keywords: вода, водоснабжение".into()],
        }),
        sentiment: Some(Sentiment {
            label: SentimentLabel::Negative,
            score: -0.6,
            reasons: vec!["нет воды".into()],
        }),
        kind: Some(KindAssignment {
            kind: AppealKind::Complaint,
            repeat: false,
            reasons: vec!["прошу принять меры".into()],
        }),
        tags: vec!["housing".into()],
        pii: vec![PiiSpan {
            kind: "phone".into(),
            start,
            end: start + phone.len() as u32,
        }],
    }
}

/// What the reference policy decides for [`message`].
pub fn decision() -> Decision {
    Decision {
        priority: Priority::High,
        registration_deadline: Some(RECEIVED_AT + 3 * 86_400_000),
        answer_deadline: Some(RECEIVED_AT + 30 * 86_400_000),
        responsible: Some("housing".into()),
        route_tags: vec!["housing".into()],
        reasons: vec!["no water: high".into()],
    }
}

/// The sample input for a plugin of `world`: for a classifier the message with an empty
/// classification (what the first classifier gets), for a policy the message with a full
/// classification, for a connector's `--encode` the message with both.
pub fn input(world: World) -> Envelope {
    let message = message();
    match world {
        World::Classifier => Envelope {
            message,
            classification: Classification::default(),
            decision: Decision::default(),
        },
        World::Policy => Envelope {
            classification: classification(&message),
            message,
            decision: Decision::default(),
        },
        World::Connector | World::Poller => Envelope {
            classification: classification(&message),
            message,
            decision: decision(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_parses_and_keeps_the_contract() {
        for world in [World::Classifier, World::Policy, World::Connector] {
            let text = serde_json::to_vec(&input(world)).unwrap();
            let parsed = super::super::input::parse(&text, "example").unwrap();
            let e = &parsed[0];
            if let Some(topic) = &e.classification.topic {
                for t in std::iter::once(&topic.best).chain(&topic.alternatives) {
                    assert!(
                        crate::classifier_table::lookup(&t.code).is_some(),
                        "{}",
                        t.code
                    );
                }
            }
            for span in &e.classification.pii {
                assert_eq!(
                    &e.message.body[span.start as usize..span.end as usize],
                    "+7 900 123-45-67"
                );
            }
        }
    }
}
