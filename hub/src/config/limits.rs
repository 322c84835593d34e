//! Numeric settings checked against the ranges the hub can honour: a zero queue, zero
//! workers or a zero sink concurrency would stall or panic, and a memory limit past
//! what a 32-bit WebAssembly memory can address would overflow. Each out-of-range value
//! is reported at its own line and column.

use std::ops::RangeInclusive;

use super::{Config, Problems};

const MAX_BODY: RangeInclusive<u64> = 1..=(1 << 30);
const QUEUE: RangeInclusive<u64> = 1..=10_000_000;
const WORKERS: RangeInclusive<u64> = 1..=1024;
const CPU_MS: RangeInclusive<u64> = 1..=600_000;
/// A wasm32 linear memory addresses at most 4 GiB.
const MEMORY_MIB: RangeInclusive<u64> = 1..=4096;
const WALL_MS: RangeInclusive<u64> = 1..=3_600_000;
const KV_QUOTA_MIB: RangeInclusive<u64> = 1..=1_048_576;
const RETENTION_DAYS: RangeInclusive<u64> = 1..=36_500;
const CONCURRENCY: RangeInclusive<u64> = 1..=4096;
const TIMEOUT_MS: RangeInclusive<u64> = 1..=3_600_000;
const BACKOFF_MS: RangeInclusive<u64> = 1..=86_400_000;
/// Up to half of the largest plugin memory (see `check_response_fits`).
const HTTP_RESPONSE_BYTES: RangeInclusive<u64> = 1..=(2 << 30);

/// Where a key is in the file, found by path (`["sinks", "2", "concurrency"]`, a number
/// indexing an array of tables), or where the nearest enclosing table is when the key
/// was left to its default.
fn span_of(document: &toml_edit::ImDocument<&str>, path: &[&str]) -> std::ops::Range<usize> {
    let mut best = 0..0;
    let mut table: &dyn toml_edit::TableLike = document.as_table();
    let mut parts = path.iter().peekable();
    while let Some(part) = parts.next() {
        let Some((key, item)) = table.get_key_value(part) else {
            break;
        };
        if let Some(span) = item.span().or_else(|| key.span()) {
            best = span;
        }
        if let Some(index) = parts.peek().and_then(|next| next.parse::<usize>().ok()) {
            parts.next();
            let Some(element) = item.as_array_of_tables().and_then(|a| a.get(index)) else {
                break;
            };
            if let Some(span) = element.span() {
                best = span;
            }
            table = element;
        } else if let Some(inner) = item.as_table_like() {
            table = inner;
        } else {
            break;
        }
    }
    best
}

/// An HTTP answer is copied whole into the plugin's linear memory, where the plugin then
/// reads it into its own structures (an envelope's text, a decoded file): a memory of
/// less than twice the largest answer would trap on the first answer near the limit,
/// far from the setting that caused it. Refused at config time instead, with the
/// `memory_mib` that would do.
fn check_response_fits(max_response_bytes: u64, memory_mib: u64) -> Result<(), String> {
    let needed_mib = max_response_bytes.saturating_mul(2).div_ceil(1 << 20);
    if memory_mib >= needed_mib {
        return Ok(());
    }
    Err(format!(
        "http_max_response_bytes = {max_response_bytes} does not fit the plugin's memory of \
         {memory_mib} MiB: an answer is copied into the plugin's memory, which must hold at \
         least twice the largest answer; set memory_mib = {needed_mib} or more for this plugin"
    ))
}

impl Config {
    pub(super) fn check_limits(&self, text: &str, p: &mut Problems) {
        let Ok(document) = toml_edit::ImDocument::parse(text) else {
            return;
        };
        let within = |p: &mut Problems,
                      path: &[&str],
                      value: u64,
                      range: RangeInclusive<u64>,
                      unit: &str| {
            if !range.contains(&value) {
                p.at(
                    span_of(&document, path),
                    format!(
                        "{} = {value} is out of range: it must be {} to {}{unit}",
                        path.iter()
                            .filter(|part| part.parse::<usize>().is_err())
                            .copied()
                            .collect::<Vec<_>>()
                            .join("."),
                        range.start(),
                        range.end()
                    ),
                );
            }
        };
        let hub = &self.hub;
        within(
            p,
            &["hub", "max_body_bytes"],
            hub.max_body_bytes as u64,
            MAX_BODY,
            " bytes",
        );
        within(
            p,
            &["hub", "queue_capacity"],
            hub.queue_capacity as u64,
            QUEUE,
            "",
        );
        within(p, &["hub", "workers"], hub.workers as u64, WORKERS, "");
        within(
            p,
            &["hub", "plugin_cpu_ms"],
            hub.plugin_cpu_ms,
            CPU_MS,
            " ms",
        );
        within(
            p,
            &["hub", "plugin_memory_mib"],
            hub.plugin_memory_mib as u64,
            MEMORY_MIB,
            " MiB",
        );
        within(
            p,
            &["hub", "plugin_wall_ms"],
            hub.plugin_wall_ms,
            WALL_MS,
            " ms",
        );
        within(
            p,
            &["hub", "retention_days"],
            u64::from(hub.retention_days),
            RETENTION_DAYS,
            " days",
        );
        if !(-720..=840).contains(&hub.utc_offset_minutes) {
            p.at(
                span_of(&document, &["hub", "utc_offset_minutes"]),
                format!(
                    "hub.utc_offset_minutes = {} is not a time zone: it must be -720 to 840",
                    hub.utc_offset_minutes
                ),
            );
        }
        for (i, plugin) in self.plugins.iter().enumerate() {
            let i = i.to_string();
            if let Some(v) = plugin.cpu_ms {
                within(p, &["plugins", &i, "cpu_ms"], v, CPU_MS, " ms");
            }
            if let Some(v) = plugin.memory_mib {
                within(
                    p,
                    &["plugins", &i, "memory_mib"],
                    v as u64,
                    MEMORY_MIB,
                    " MiB",
                );
            }
            if let Some(v) = plugin.kv_quota_mib {
                within(p, &["plugins", &i, "kv_quota_mib"], v, KV_QUOTA_MIB, " MiB");
            }
            if let Some(v) = plugin.wall_ms {
                within(p, &["plugins", &i, "wall_ms"], v, WALL_MS, " ms");
            }
            if let Some(v) = plugin.http_max_response_bytes {
                within(
                    p,
                    &["plugins", &i, "http_max_response_bytes"],
                    v,
                    HTTP_RESPONSE_BYTES,
                    " bytes",
                );
                let memory_mib = plugin.memory_mib.unwrap_or(hub.plugin_memory_mib) as u64;
                if let Err(why) = check_response_fits(v, memory_mib) {
                    p.at(
                        span_of(&document, &["plugins", &i, "http_max_response_bytes"]),
                        why,
                    );
                }
            }
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            let i = i.to_string();
            within(
                p,
                &["sinks", &i, "concurrency"],
                sink.concurrency as u64,
                CONCURRENCY,
                "",
            );
            within(
                p,
                &["sinks", &i, "timeout_ms"],
                sink.timeout_ms,
                TIMEOUT_MS,
                " ms",
            );
            within(
                p,
                &["sinks", &i, "backoff_ms"],
                sink.backoff_ms,
                BACKOFF_MS,
                " ms",
            );
            within(
                p,
                &["sinks", &i, "max_backoff_ms"],
                sink.max_backoff_ms,
                BACKOFF_MS,
                " ms",
            );
            if sink.max_backoff_ms < sink.backoff_ms {
                p.at(
                    span_of(&document, &["sinks", &i, "max_backoff_ms"]),
                    format!(
                        "max_backoff_ms = {} is below backoff_ms = {}",
                        sink.max_backoff_ms, sink.backoff_ms
                    ),
                );
            }
        }
    }
}
