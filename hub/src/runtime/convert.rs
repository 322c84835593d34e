//! Field-for-field conversions between `crate::model` and the component bindings.

use super::bindings::wit;
use crate::model;

macro_rules! enum_conversions {
    ($model:ty, $wit:ty, [$($variant:ident),* $(,)?]) => {
        impl From<$model> for $wit {
            fn from(value: $model) -> Self {
                match value { $(<$model>::$variant => <$wit>::$variant,)* }
            }
        }
        impl From<$wit> for $model {
            fn from(value: $wit) -> Self {
                match value { $(<$wit>::$variant => <$model>::$variant,)* }
            }
        }
    };
}

enum_conversions!(
    model::Channel,
    wit::Channel,
    [Epgu, Sog, Edms, Knd, Mail, Phone, Social, Site, Reception, Post, Api]
);
enum_conversions!(
    model::ClientKind,
    wit::ClientKind,
    [Citizen, Business, Internal, Unknown]
);
enum_conversions!(
    model::SentimentLabel,
    wit::SentimentLabel,
    [Negative, Neutral, Positive]
);
enum_conversions!(
    model::AppealKind,
    wit::AppealKind,
    [Proposal, Statement, Complaint, Inquiry, Gratitude, Other]
);
enum_conversions!(model::Priority, wit::Priority, [Low, Normal, High, Urgent]);
enum_conversions!(
    model::ErrorKind,
    wit::ErrorKind,
    [InvalidInput, Unsupported, Config, Upstream, Internal]
);

impl From<model::Message> for wit::Message {
    fn from(m: model::Message) -> Self {
        wit::Message {
            id: m.id,
            idempotency_key: m.idempotency_key,
            channel: m.channel.into(),
            source: m.source,
            received_at: m.received_at,
            sent_at: m.sent_at,
            client: wit::Client {
                kind: m.client.kind.into(),
                name: m.client.name,
                contacts: m
                    .client
                    .contacts
                    .into_iter()
                    .map(|c| wit::Contact {
                        kind: c.kind,
                        value: c.value,
                    })
                    .collect(),
                segments: m.client.segments,
            },
            subject: m.subject,
            body: m.body,
            attachments: m
                .attachments
                .into_iter()
                .map(|a| wit::Attachment {
                    name: a.name,
                    media_type: a.media_type,
                    size: a.size,
                    sha256: a.sha256,
                    content_ref: a.content_ref,
                })
                .collect(),
            metadata: m.metadata,
            thread: wit::Thread {
                in_reply_to: m.thread.in_reply_to,
                repeat_of: m.thread.repeat_of,
            },
        }
    }
}

impl From<wit::Message> for model::Message {
    fn from(m: wit::Message) -> Self {
        model::Message {
            id: m.id,
            idempotency_key: m.idempotency_key,
            channel: m.channel.into(),
            source: m.source,
            received_at: m.received_at,
            sent_at: m.sent_at,
            client: model::Client {
                kind: m.client.kind.into(),
                name: m.client.name,
                contacts: m
                    .client
                    .contacts
                    .into_iter()
                    .map(|c| model::Contact {
                        kind: c.kind,
                        value: c.value,
                    })
                    .collect(),
                segments: m.client.segments,
            },
            subject: m.subject,
            body: m.body,
            attachments: m
                .attachments
                .into_iter()
                .map(|a| model::Attachment {
                    name: a.name,
                    media_type: a.media_type,
                    size: a.size,
                    sha256: a.sha256,
                    content_ref: a.content_ref,
                })
                .collect(),
            metadata: m.metadata,
            thread: model::Thread {
                in_reply_to: m.thread.in_reply_to,
                repeat_of: m.thread.repeat_of,
            },
        }
    }
}

fn topic_to_wit(t: model::Topic) -> wit::Topic {
    wit::Topic {
        code: t.code,
        name: t.name,
        confidence: t.confidence,
    }
}

fn topic_from_wit(t: wit::Topic) -> model::Topic {
    model::Topic {
        code: t.code,
        name: t.name,
        confidence: t.confidence,
    }
}

impl From<model::Classification> for wit::Classification {
    fn from(c: model::Classification) -> Self {
        wit::Classification {
            topic: c.topic.map(|t| wit::TopicAssignment {
                best: topic_to_wit(t.best),
                alternatives: t.alternatives.into_iter().map(topic_to_wit).collect(),
                low_confidence: t.low_confidence,
                reasons: t.reasons,
            }),
            sentiment: c.sentiment.map(|s| wit::Sentiment {
                label: s.label.into(),
                score: s.score,
                reasons: s.reasons,
            }),
            kind: c.kind.map(|k| wit::KindAssignment {
                kind: k.kind.into(),
                repeat: k.repeat,
                reasons: k.reasons,
            }),
            tags: c.tags,
            pii: c
                .pii
                .into_iter()
                .map(|p| wit::PiiSpan {
                    kind: p.kind,
                    start: p.start,
                    end: p.end,
                })
                .collect(),
        }
    }
}

impl From<wit::Classification> for model::Classification {
    fn from(c: wit::Classification) -> Self {
        model::Classification {
            topic: c.topic.map(|t| model::TopicAssignment {
                best: topic_from_wit(t.best),
                alternatives: t.alternatives.into_iter().map(topic_from_wit).collect(),
                low_confidence: t.low_confidence,
                reasons: t.reasons,
            }),
            sentiment: c.sentiment.map(|s| model::Sentiment {
                label: s.label.into(),
                score: s.score,
                reasons: s.reasons,
            }),
            kind: c.kind.map(|k| model::KindAssignment {
                kind: k.kind.into(),
                repeat: k.repeat,
                reasons: k.reasons,
            }),
            tags: c.tags,
            pii: c
                .pii
                .into_iter()
                .map(|p| model::PiiSpan {
                    kind: p.kind,
                    start: p.start,
                    end: p.end,
                })
                .collect(),
        }
    }
}

impl From<model::Decision> for wit::Decision {
    fn from(d: model::Decision) -> Self {
        wit::Decision {
            priority: d.priority.into(),
            registration_deadline: d.registration_deadline,
            answer_deadline: d.answer_deadline,
            responsible: d.responsible,
            route_tags: d.route_tags,
            reasons: d.reasons,
        }
    }
}

impl From<wit::Decision> for model::Decision {
    fn from(d: wit::Decision) -> Self {
        model::Decision {
            priority: d.priority.into(),
            registration_deadline: d.registration_deadline,
            answer_deadline: d.answer_deadline,
            responsible: d.responsible,
            route_tags: d.route_tags,
            reasons: d.reasons,
        }
    }
}

impl From<model::Inbound> for wit::Inbound {
    fn from(i: model::Inbound) -> Self {
        wit::Inbound {
            bytes: i.bytes,
            content_type: i.content_type,
            metadata: i.metadata,
        }
    }
}

impl From<wit::Outbound> for model::Outbound {
    fn from(o: wit::Outbound) -> Self {
        model::Outbound {
            bytes: o.bytes,
            content_type: o.content_type,
            headers: o.headers,
        }
    }
}

impl From<wit::PluginError> for model::PluginError {
    fn from(e: wit::PluginError) -> Self {
        model::PluginError {
            kind: e.kind.into(),
            message: e.message,
        }
    }
}
