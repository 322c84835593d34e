//! The backend of a configured SMTP source: the hub's pipeline behind the protocol.

use std::sync::Arc;

use super::session::{Backend, Delivered};
use crate::auth::Role;
use crate::model::Inbound;
use crate::pipeline::{Hub, IngestError};

pub struct SourceBackend {
    hub: Arc<Hub>,
    source: String,
}

impl SourceBackend {
    pub fn new(hub: Arc<Hub>, source: &str) -> SourceBackend {
        SourceBackend {
            hub,
            source: source.to_string(),
        }
    }
}

impl Backend for SourceBackend {
    fn accepts_recipient(&self, address: &str) -> bool {
        let active = self.hub.active();
        active
            .config
            .source(&self.source)
            .and_then(|s| s.smtp.as_ref())
            .is_some_and(|smtp| smtp.accepts_recipient(address))
    }

    /// A relay logs in as a `source` token bound to this source: the user is the token's
    /// name, the password the token.
    fn authenticate(&self, user: &str, password: &str) -> bool {
        match self.hub.tokens.authenticate(password) {
            Ok(caller) => {
                let ok = caller.role == Role::Source
                    && caller.source.as_deref() == Some(self.source.as_str())
                    && caller.name == user;
                if !ok {
                    tracing::info!(source = %self.source, token = %caller.name, "SMTP AUTH with a token not bound to this source, or under another name");
                }
                ok
            }
            Err(e) => {
                tracing::info!(source = %self.source, reason = %e, "SMTP AUTH refused");
                false
            }
        }
    }

    fn ready(&self) -> Result<(), String> {
        if let Some(reason) = self.hub.store.durability.failing() {
            return Err(format!("the store cannot flush to disk ({reason})"));
        }
        let capacity = self.hub.active().config.hub.queue_capacity;
        if self.hub.queue_depth() >= capacity {
            return Err(format!(
                "the hub's queue is full ({capacity} messages waiting)"
            ));
        }
        Ok(())
    }

    async fn deliver(&self, inbound: Inbound) -> Delivered {
        match self.hub.ingest(&self.source, inbound).await {
            Ok(accepted) => Delivered::Accepted(accepted.into_iter().map(|a| a.id).collect()),
            Err(IngestError::Decode(e)) => {
                // The connector's reason says what is wrong with the mail; it names no
                // personal data (see the mail plugin's errors).
                Delivered::Refused(format!("the message cannot be read: {e}"))
            }
            Err(e @ IngestError::UnknownSource(_)) => Delivered::TryLater(e.to_string()),
            Err(e @ IngestError::Busy(_)) => Delivered::TryLater(e.to_string()),
            Err(e @ IngestError::StorageUnavailable(_)) => Delivered::TryLater(e.to_string()),
            Err(IngestError::Store(e)) => {
                tracing::error!(source = %self.source, error = %format!("{e:#}"), "storing an SMTP message failed");
                Delivered::TryLater("storing the message failed".into())
            }
        }
    }
}
