//! The contract's enums spelled as the WIT spells them (`mail`, `urgent`, `complaint`), for
//! JSON, route tags and error messages: one table per enum for every plugin.

use crate::types::{AppealKind, Channel, ClientKind, Priority, SentimentLabel};

/// An enum of the contract and the WIT's names for its values.
pub trait WitName: Copy + PartialEq + 'static {
    /// Every value, in the WIT's order.
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    /// The value spelled `name`; otherwise the known names, quoted, for an error message.
    fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
            .ok_or_else(|| {
                Self::ALL
                    .iter()
                    .map(|value| format!("`{}`", value.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
    }
}

/// One list of variants and names gives both `ALL` and `as_str`, so they cannot drift
/// apart.
macro_rules! wit_names {
    ($ty:ident { $($variant:ident => $name:literal),* $(,)? }) => {
        impl WitName for $ty {
            const ALL: &'static [Self] = &[$($ty::$variant),*];

            fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),*
                }
            }
        }
    };
}

wit_names!(Channel {
    Epgu => "epgu",
    Sog => "sog",
    Edms => "edms",
    Knd => "knd",
    Mail => "mail",
    Phone => "phone",
    Social => "social",
    Site => "site",
    Reception => "reception",
    Post => "post",
    Api => "api",
});

wit_names!(ClientKind {
    Citizen => "citizen",
    Business => "business",
    Internal => "internal",
    Unknown => "unknown",
});

wit_names!(SentimentLabel {
    Negative => "negative",
    Neutral => "neutral",
    Positive => "positive",
});

wit_names!(AppealKind {
    Proposal => "proposal",
    Statement => "statement",
    Complaint => "complaint",
    Inquiry => "inquiry",
    Gratitude => "gratitude",
    Other => "other",
});

wit_names!(Priority {
    Low => "low",
    Normal => "normal",
    High => "high",
    Urgent => "urgent",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_and_client_kind_round_trips() {
        for value in Channel::ALL {
            assert_eq!(Channel::parse(value.as_str()), Ok(*value));
        }
        assert_eq!(Channel::ALL.len(), 11);
        for value in ClientKind::ALL {
            assert_eq!(ClientKind::parse(value.as_str()), Ok(*value));
        }
        assert_eq!(
            ClientKind::parse("person").unwrap_err(),
            "`citizen`, `business`, `internal`, `unknown`"
        );
    }
}
