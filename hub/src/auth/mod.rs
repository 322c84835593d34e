//! Who may call the hub: bearer tokens with one role each, kept hashed in
//! `DATA_DIR/tokens.json`.
//!
//! A token is `okno_` and 64 hex digits (256 random bits). It is shown once, when it is
//! created; the hub keeps only its SHA-256, which is enough for a secret of that
//! strength (a slow password hash guards guessable secrets; these are not guessable).
//! The file is re-read when it changes, so `okno token create` and `okno token revoke`
//! take effect in a running hub at its next request.

mod tokens;

use serde::{Deserialize, Serialize};

pub use tokens::{parse_expiry, TokenRecord, TokenStore};

/// What a token allows. Each endpoint names the roles it takes (see `api::access`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Configuration, plugins, tokens, the audit log.
    Admin,
    /// Work with appeals: read them, correct topics, import history, replay.
    Operator,
    /// Look at the loaded plugins, for people who write them.
    Integrator,
    /// The public side: an appeal's status, without its content.
    Client,
    /// `/metrics` and `/readyz`.
    Metrics,
    /// A system that pushes messages into one source.
    Source,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Operator,
        Role::Integrator,
        Role::Client,
        Role::Metrics,
        Role::Source,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Integrator => "integrator",
            Role::Client => "client",
            Role::Metrics => "metrics",
            Role::Source => "source",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The holder of a valid token, as the API sees it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// For a `source` token: the one source it may push to.
    pub source: Option<String>,
}

/// Why a token was not accepted. The client is told only "invalid or expired token";
/// the reason goes to the log, with the token's name where it is known.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token was given")]
    Missing,
    #[error("the token is not one the hub issued")]
    Unknown,
    #[error("token {0:?} was revoked")]
    Revoked(String),
    #[error("token {0:?} has expired")]
    Expired(String),
    #[error("the token file cannot be read: {0:#}")]
    Unavailable(anyhow::Error),
}
