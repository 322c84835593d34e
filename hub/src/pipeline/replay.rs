//! Replay of dead letters: a delivery goes back into the outbox, a failed step back
//! into the pipeline.

use super::{trace_entry, Hub};
use crate::store::OutboxEntry;

/// Why a replay did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("message {0:?} has no dead letters")]
    NoDeadLetters(String),
    #[error("replaying message {id:?} failed: {error:#}")]
    Store { id: String, error: anyhow::Error },
}

impl Hub {
    /// Puts every dead letter of message `id` back and returns their targets
    /// (`sink:NAME`, `stage:NAME`); returns once that is on disk.
    ///
    /// Each step leaves what start-up can finish: the message is marked pending before
    /// its record changes (see [`crate::store::Store::reopen_delivery`]), a delivery's
    /// outbox entry is written after the record says it is pending, and a dead letter is
    /// removed only once its replay is written, so that a stop in between leaves it
    /// replayable rather than lost. The worker then takes the message off the pending
    /// list: it runs a failed step again, or finds the routed record's deliveries
    /// scheduled.
    pub async fn replay(&self, id: &str) -> Result<Vec<String>, ReplayError> {
        let failed = |error: anyhow::Error| ReplayError::Store {
            id: id.to_string(),
            error,
        };
        let letters = self.store.dead_letters_of(id).map_err(failed)?;
        if letters.is_empty() {
            return Err(ReplayError::NoDeadLetters(id.to_string()));
        }
        let now = crate::sla::now_millis();
        let mut replayed = Vec::new();
        for letter in letters {
            if let Some(sink) = letter.target.strip_prefix("sink:") {
                let trace = trace_entry("replay", &format!("delivery to sink {sink:?} replayed"));
                self.store
                    .reopen_delivery(id, sink, trace)
                    .map_err(failed)?;
                self.store
                    .schedule(&OutboxEntry {
                        id: id.to_string(),
                        sink: sink.into(),
                        attempts: 0,
                        due_at: now,
                        errors: vec![],
                    })
                    .map_err(failed)?;
            } else {
                let trace = trace_entry("replay", &format!("{} replayed", letter.target));
                self.store.reopen_stage(id, trace).map_err(failed)?;
            }
            self.store
                .remove_dead_letter(id, &letter.target)
                .map_err(failed)?;
            replayed.push(letter.target);
        }
        self.store.durability.wait().await.map_err(failed)?;
        self.queue
            .send(id.to_string())
            .await
            .map_err(|_| failed(anyhow::anyhow!("the pipeline has stopped")))?;
        self.delivery_wake.notify_one();
        Ok(replayed)
    }
}
