//! Counters and latency histograms, exposed in the Prometheus text format by
//! `prometheus-client`, which escapes label values and writes the exposition's grammar.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stage {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginFailure {
    plugin: String,
    kind: String,
}

/// What a poll or dir source did (`poll`, `message`, `error`, `ack`, `done`, `failed`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportEvent {
    transport: String,
    source: String,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportSource {
    transport: String,
    source: String,
}

/// What the store reports at each scrape.
pub struct StoreGauges {
    pub queue_depth: u64,
    pub outbox_depth: u64,
    pub dead_letters: u64,
    pub messages_stored: u64,
    pub disk_bytes: u64,
}

pub struct Metrics {
    registry: Registry,
    pub ingested: Counter,
    pub duplicates: Counter,
    pub delivered: Counter,
    pub retries: Counter,
    pub dead_letters: Counter,
    rejected: Family<Reason, Counter>,
    plugin_errors: Family<PluginFailure, Counter>,
    stages: Family<Stage, Histogram, fn() -> Histogram>,
    ingest_to_delivery: Histogram,
    queue_depth: Gauge,
    outbox_depth: Gauge,
    dead_letters_waiting: Gauge,
    messages_stored: Gauge,
    disk_bytes: Gauge,
    transport_events: Family<TransportEvent, Counter>,
    transport_failing: Family<TransportSource, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("okno");
        let metrics = Metrics {
            ingested: Counter::default(),
            duplicates: Counter::default(),
            delivered: Counter::default(),
            retries: Counter::default(),
            dead_letters: Counter::default(),
            rejected: Family::default(),
            plugin_errors: Family::default(),
            stages: Family::new_with_constructor(latency_histogram),
            ingest_to_delivery: latency_histogram(),
            queue_depth: Gauge::default(),
            outbox_depth: Gauge::default(),
            dead_letters_waiting: Gauge::default(),
            messages_stored: Gauge::default(),
            disk_bytes: Gauge::default(),
            transport_events: Family::default(),
            transport_failing: Family::default(),
            registry: Registry::default(),
        };
        // Counters are exposed with `_total` added to these names.
        registry.register(
            "ingested",
            "Messages accepted and journaled",
            metrics.ingested.clone(),
        );
        registry.register(
            "duplicates",
            "Ingests answered with an earlier message (same idempotency key)",
            metrics.duplicates.clone(),
        );
        registry.register(
            "delivered",
            "Deliveries to sinks that succeeded",
            metrics.delivered.clone(),
        );
        registry.register(
            "retries",
            "Delivery or step attempts that failed and were retried",
            metrics.retries.clone(),
        );
        registry.register(
            "dead_letters",
            "Steps that failed for good",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "rejected",
            "Requests refused, by reason",
            metrics.rejected.clone(),
        );
        registry.register(
            "plugin_errors",
            "Plugin call failures, by plugin and kind",
            metrics.plugin_errors.clone(),
        );
        registry.register(
            "stage_seconds",
            "Time spent in each pipeline stage",
            metrics.stages.clone(),
        );
        registry.register(
            "ingest_to_delivery_seconds",
            "From acceptance to a sink's 2xx",
            metrics.ingest_to_delivery.clone(),
        );
        registry.register(
            "queue_depth",
            "Messages accepted and waiting for the pipeline",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "outbox_depth",
            "Deliveries waiting (including retries)",
            metrics.outbox_depth.clone(),
        );
        registry.register(
            "dead_letters_waiting",
            "Dead letters waiting for a replay or a discard",
            metrics.dead_letters_waiting.clone(),
        );
        registry.register(
            "messages_stored",
            "Messages in the journal",
            metrics.messages_stored.clone(),
        );
        registry.register(
            "disk_bytes",
            "Size of the store on disk",
            metrics.disk_bytes.clone(),
        );
        registry.register(
            "transport_events",
            "What poll and dir sources did: polls, messages, acks, errors, files done and failed",
            metrics.transport_events.clone(),
        );
        registry.register(
            "transport_failing",
            "1 while a poll or dir source is failing and backing off, else 0",
            metrics.transport_failing.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    pub fn stage(&self, stage: &str, d: Duration) {
        self.stages
            .get_or_create(&Stage {
                stage: stage.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    pub fn rejected(&self, reason: &str) {
        self.rejected
            .get_or_create(&Reason {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn plugin_error(&self, plugin: &str, kind: &str) {
        self.plugin_errors
            .get_or_create(&PluginFailure {
                plugin: plugin.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Counts `n` events of a poll or dir source.
    pub fn transport_event(&self, transport: &str, source: &str, event: &str, n: u64) {
        self.transport_events
            .get_or_create(&TransportEvent {
                transport: transport.to_string(),
                source: source.to_string(),
                event: event.to_string(),
            })
            .inc_by(n);
    }

    /// Whether a poll or dir source is failing now.
    pub fn transport_failing(&self, transport: &str, source: &str, failing: bool) {
        self.transport_failing
            .get_or_create(&TransportSource {
                transport: transport.to_string(),
                source: source.to_string(),
            })
            .set(i64::from(failing));
    }

    pub fn ingest_to_delivery(&self, d: Duration) {
        self.ingest_to_delivery.observe(d.as_secs_f64());
    }

    /// The exposition, with the store's gauges as they are now.
    pub fn render(&self, store: &StoreGauges) -> String {
        let set = |gauge: &Gauge, value: u64| {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&self.queue_depth, store.queue_depth);
        set(&self.outbox_depth, store.outbox_depth);
        set(&self.dead_letters_waiting, store.dead_letters);
        set(&self.messages_stored, store.messages_stored);
        set(&self.disk_bytes, store.disk_bytes);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_counters_histograms_and_gauges() {
        let metrics = Metrics::default();
        metrics.delivered.inc();
        metrics.stage("classify", Duration::from_millis(3));
        metrics.rejected("too-large");
        metrics.plugin_error("topics", "cpu \"limit\"");
        let text = metrics.render(&StoreGauges {
            queue_depth: 2,
            outbox_depth: 0,
            dead_letters: 0,
            messages_stored: 5,
            disk_bytes: 1024,
        });
        for line in [
            "okno_delivered_total 1",
            "okno_stage_seconds_bucket{le=\"0.005\",stage=\"classify\"} 1",
            "okno_rejected_total{reason=\"too-large\"} 1",
            "okno_plugin_errors_total{plugin=\"topics\",kind=\"cpu \\\"limit\\\"\"} 1",
            "okno_queue_depth 2",
            "okno_messages_stored 5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
