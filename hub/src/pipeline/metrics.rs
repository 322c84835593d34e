//! Counters and latency histograms, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}le=\"{bound}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{{{}}} {}",
            labels.trim_end_matches(','),
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "{name}_count{{{}}} {count}",
            labels.trim_end_matches(',')
        );
    }
}

#[derive(Default)]
pub struct Metrics {
    pub ingested: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: Mutex<BTreeMap<String, u64>>,
    pub delivered: AtomicU64,
    pub retries: AtomicU64,
    pub dead_letters: AtomicU64,
    pub plugin_errors: Mutex<BTreeMap<(String, String), u64>>,
    pub stages: Mutex<BTreeMap<String, std::sync::Arc<Histogram>>>,
    pub ingest_to_delivery: Histogram,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    *map.entry(key).or_default() += 1;
}

impl Metrics {
    pub fn stage(&self, stage: &str, d: Duration) {
        let histogram = {
            let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
            stages.entry(stage.to_string()).or_default().clone()
        };
        histogram.observe(d);
    }

    pub fn rejected(&self, reason: &str) {
        bump(&self.rejected, reason.to_string());
    }

    pub fn plugin_error(&self, plugin: &str, kind: &str) {
        bump(&self.plugin_errors, (plugin.to_string(), kind.to_string()));
    }

    /// Gauges (queue depths, disk) are read by the caller and passed in.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "okno_ingested_total",
            "Messages accepted and journaled.",
            self.ingested.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "okno_duplicates_total",
            "Ingests answered with an earlier message (same idempotency key).",
            self.duplicates.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "okno_delivered_total",
            "Deliveries to sinks that succeeded.",
            self.delivered.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "okno_retries_total",
            "Delivery or step attempts that failed and were retried.",
            self.retries.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "okno_dead_letters_total",
            "Steps that failed for good.",
            self.dead_letters.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP okno_rejected_total Requests refused, by reason.\n# TYPE okno_rejected_total counter");
        for (reason, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(out, "okno_rejected_total{{reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP okno_plugin_errors_total Plugin call failures, by plugin and kind.\n# TYPE okno_plugin_errors_total counter");
        for ((plugin, kind), n) in self
            .plugin_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "okno_plugin_errors_total{{plugin=\"{plugin}\",kind=\"{kind}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP okno_stage_seconds Time spent in each pipeline stage.\n# TYPE okno_stage_seconds histogram");
        for (stage, h) in self.stages.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            h.render(
                &mut out,
                "okno_stage_seconds",
                &format!("stage=\"{stage}\","),
            );
        }
        let _ = writeln!(out, "# HELP okno_ingest_to_delivery_seconds From acceptance to a sink's 2xx.\n# TYPE okno_ingest_to_delivery_seconds histogram");
        self.ingest_to_delivery
            .render(&mut out, "okno_ingest_to_delivery_seconds", "");
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}
