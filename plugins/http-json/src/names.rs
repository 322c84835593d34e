//! The contract's enums as lower-case kebab strings, the way the WIT spells them.

use okno_sdk::prelude::*;

pub const CHANNELS: &[(Channel, &str)] = &[
    (Channel::Epgu, "epgu"),
    (Channel::Sog, "sog"),
    (Channel::Edms, "edms"),
    (Channel::Knd, "knd"),
    (Channel::Mail, "mail"),
    (Channel::Phone, "phone"),
    (Channel::Social, "social"),
    (Channel::Site, "site"),
    (Channel::Reception, "reception"),
    (Channel::Post, "post"),
    (Channel::Api, "api"),
];

pub const CLIENT_KINDS: &[(ClientKind, &str)] = &[
    (ClientKind::Citizen, "citizen"),
    (ClientKind::Business, "business"),
    (ClientKind::Internal, "internal"),
    (ClientKind::Unknown, "unknown"),
];

pub fn channel(value: Channel) -> &'static str {
    lookup(CHANNELS, value)
}

pub fn client_kind(value: ClientKind) -> &'static str {
    lookup(CLIENT_KINDS, value)
}

pub fn priority(value: Priority) -> &'static str {
    match value {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

pub fn sentiment(value: SentimentLabel) -> &'static str {
    match value {
        SentimentLabel::Negative => "negative",
        SentimentLabel::Neutral => "neutral",
        SentimentLabel::Positive => "positive",
    }
}

pub fn appeal_kind(value: AppealKind) -> &'static str {
    match value {
        AppealKind::Proposal => "proposal",
        AppealKind::Statement => "statement",
        AppealKind::Complaint => "complaint",
        AppealKind::Inquiry => "inquiry",
        AppealKind::Gratitude => "gratitude",
        AppealKind::Other => "other",
    }
}

/// The enum value named `name`, or the list of names to put in an error.
pub fn parse<T: Copy>(table: &[(T, &'static str)], name: &str) -> Result<T, String> {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            table
                .iter()
                .map(|(_, n)| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
}

fn lookup<T: PartialEq>(table: &[(T, &'static str)], value: T) -> &'static str {
    // Every variant is in its table (see the tests), so the fallback is never used.
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("unknown", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_and_client_kind_round_trips() {
        for (value, name) in CHANNELS {
            assert_eq!(channel(*value), *name);
            assert_eq!(parse(CHANNELS, name), Ok(*value));
        }
        assert_eq!(CHANNELS.len(), 11);
        for (value, name) in CLIENT_KINDS {
            assert_eq!(client_kind(*value), *name);
        }
        assert_eq!(
            parse(CLIENT_KINDS, "person").unwrap_err(),
            "`citizen`, `business`, `internal`, `unknown`"
        );
    }
}
