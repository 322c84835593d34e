//! What an admin writes for a polled source: `[sources.poll]`, the schedule of a source
//! with `transport = "poll"`, whose connector is a `poller` plugin. Checked with the rest
//! of the config; every message names the key.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{Config, SourceConfig};
use crate::runtime::World;

/// `[sources.poll]`: how often the remote system is asked, and how the source backs off
/// while it fails. Every key has a default, so the table may be left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Time between two polls while the remote system answers, in ms (a batch that says
    /// `more` is followed at once). Example: `30000`.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: Spanned<u64>,
    /// Wait after the first failed poll, in ms; each further failure doubles it, with
    /// jitter, up to `max_backoff_ms`.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: Spanned<u64>,
    /// The longest wait between two polls of a failing remote system, in ms.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: Spanned<u64>,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            interval_ms: default_interval_ms(),
            backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

fn default_interval_ms() -> Spanned<u64> {
    Spanned::new(0..0, 60_000)
}
fn default_backoff_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1_000)
}
fn default_max_backoff_ms() -> Spanned<u64> {
    Spanned::new(0..0, 300_000)
}

const INTERVAL_MS: RangeInclusive<u64> = 100..=86_400_000;
const BACKOFF_MS: RangeInclusive<u64> = 1..=86_400_000;

impl PollConfig {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(*self.interval_ms.get_ref())
    }

    /// The wait after `failures` failed polls in a row (1 or more): exponential from
    /// `backoff_ms`, capped at `max_backoff_ms`, then jittered down by up to half so that
    /// sources failing together do not retry together.
    pub fn backoff(&self, failures: u32) -> Duration {
        let first = *self.backoff_ms.get_ref();
        let exp = first.saturating_mul(1u64 << failures.saturating_sub(1).min(30));
        let capped = exp.min(*self.max_backoff_ms.get_ref()).max(1);
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=capped / 2);
        Duration::from_millis(capped - jitter)
    }
}

/// A `poll` source needs a poller plugin as its connector and sane numbers; only a
/// `poll` source has `[sources.poll]`.
pub fn check_source(
    config: &Config,
    source: &SourceConfig,
    report: &mut dyn FnMut(std::ops::Range<usize>, String),
) {
    let name = source.name.get_ref();
    let polls = source.transport.get_ref() == "poll";
    match (&source.poll, polls) {
        (Some(_), false) => {
            report(
                source.transport.span(),
                format!(
                    "source {name:?} has a [sources.poll] table but transport {:?}; set transport = \"poll\" or remove the table",
                    source.transport.get_ref()
                ),
            );
            return;
        }
        (_, false) => return,
        _ => {}
    }
    if let Some(plugin) = config.plugin(source.connector.get_ref()) {
        let kind = *plugin.kind.get_ref();
        if kind == World::Connector {
            report(
                source.connector.span(),
                format!(
                    "source {name:?} polls, so its connector must be a poller plugin (kind = \"poller\", exporting okno:plugin/polling); {:?} is a {kind}",
                    source.connector.get_ref()
                ),
            );
        }
    }
    let Some(poll) = &source.poll else {
        return;
    };
    let within = |report: &mut dyn FnMut(std::ops::Range<usize>, String),
                  key: &str,
                  value: &Spanned<u64>,
                  range: RangeInclusive<u64>| {
        if !range.contains(value.get_ref()) {
            report(
                value.span(),
                format!(
                    "sources.poll.{key} = {} is out of range: it must be {} to {} ms",
                    value.get_ref(),
                    range.start(),
                    range.end()
                ),
            );
        }
    };
    within(report, "interval_ms", &poll.interval_ms, INTERVAL_MS);
    within(report, "backoff_ms", &poll.backoff_ms, BACKOFF_MS);
    within(report, "max_backoff_ms", &poll.max_backoff_ms, BACKOFF_MS);
    if poll.max_backoff_ms.get_ref() < poll.backoff_ms.get_ref() {
        report(
            poll.max_backoff_ms.span(),
            format!(
                "sources.poll.max_backoff_ms = {} is below backoff_ms = {}",
                poll.max_backoff_ms.get_ref(),
                poll.backoff_ms.get_ref()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below() {
        let poll = PollConfig {
            interval_ms: Spanned::new(0..0, 1000),
            backoff_ms: Spanned::new(0..0, 100),
            max_backoff_ms: Spanned::new(0..0, 1000),
        };
        for _ in 0..50 {
            let first = poll.backoff(1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = poll.backoff(3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let late = poll.backoff(40).as_millis();
            assert!((500..=1000).contains(&late), "{late}");
        }
    }
}
