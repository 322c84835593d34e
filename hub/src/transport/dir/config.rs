//! What an admin writes for directories: `[sources.dir]` (the inbox of a source with
//! `transport = "dir"`) and `[sinks.dir]` (the outbox of a sink with `transport = "dir"`).
//! Relative paths are taken from the config file's directory. Checked with the rest of
//! the config; every message names the key.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::{Config, SinkConfig, SourceConfig};

/// `[sources.dir]`: a directory other systems drop files into.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirInConfig {
    /// The inbox. Example: `"/var/spool/okno/medo-in"`.
    pub path: Spanned<PathBuf>,
    /// Where a file goes once journaled (default: `done` inside the inbox).
    pub done_dir: Option<Spanned<PathBuf>>,
    /// Where a file the connector refused goes, with `NAME.error` beside it saying why
    /// (default: `failed` inside the inbox).
    pub failed_dir: Option<Spanned<PathBuf>>,
    /// Time between two looks at the inbox, in ms. A file is read once its size and
    /// modification time are the same at two looks in a row.
    #[serde(default = "default_scan_interval_ms")]
    pub scan_interval_ms: Spanned<u64>,
    /// Largest file read, in bytes; a larger one goes to the failed directory unread.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: Spanned<u64>,
}

/// `[sinks.dir]`: a directory the sink writes each encoded packet into.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirOutConfig {
    /// The outbox. Example: `"/var/spool/okno/medo-out"`.
    pub path: Spanned<PathBuf>,
}

fn default_scan_interval_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1_000)
}
fn default_max_file_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 50 << 20)
}

const SCAN_INTERVAL_MS: RangeInclusive<u64> = 10..=3_600_000;
const MAX_FILE_BYTES: RangeInclusive<u64> = 1..=(1 << 30);

/// The directories of a dir source, resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct InboxPaths {
    pub inbox: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
}

impl DirInConfig {
    pub fn paths(&self, config: &Config) -> InboxPaths {
        let inbox = config.resolve_path(self.path.get_ref());
        let or_inside = |dir: &Option<Spanned<PathBuf>>, name: &str| match dir {
            Some(dir) => config.resolve_path(dir.get_ref()),
            None => inbox.join(name),
        };
        InboxPaths {
            done: or_inside(&self.done_dir, "done"),
            failed: or_inside(&self.failed_dir, "failed"),
            inbox,
        }
    }

    pub fn scan_interval(&self) -> Duration {
        Duration::from_millis(*self.scan_interval_ms.get_ref())
    }
}

/// A `dir` source needs `[sources.dir]`, and only a `dir` source has it.
pub fn check_source(source: &SourceConfig, report: &mut dyn FnMut(std::ops::Range<usize>, String)) {
    let name = source.name.get_ref();
    let dir = match (source.transport.get_ref().as_str(), &source.dir) {
        ("dir", None) => {
            return report(
                source.transport.span(),
                format!("source {name:?} has transport \"dir\" but no [sources.dir] table with the path of its inbox"),
            )
        }
        ("dir", Some(dir)) => dir,
        (other, Some(dir)) => {
            return report(
                dir.path.span(),
                format!("source {name:?} has a [sources.dir] table but transport {other:?}; set transport = \"dir\" or remove the table"),
            )
        }
        (_, None) => return,
    };
    if dir.path.get_ref().as_os_str().is_empty() {
        report(
            dir.path.span(),
            format!("source {name:?}: sources.dir.path is empty"),
        );
    }
    within(
        report,
        "sources.dir.scan_interval_ms",
        &dir.scan_interval_ms,
        SCAN_INTERVAL_MS,
        " ms",
    );
    within(
        report,
        "sources.dir.max_file_bytes",
        &dir.max_file_bytes,
        MAX_FILE_BYTES,
        " bytes",
    );
}

/// A `dir` sink needs `[sinks.dir]` (and no url), and only a `dir` sink has it.
pub fn check_sink(sink: &SinkConfig, report: &mut dyn FnMut(std::ops::Range<usize>, String)) {
    let name = sink.name.get_ref();
    match (sink.transport.get_ref().as_str(), &sink.dir) {
        ("dir", None) => report(
            sink.transport.span(),
            format!("sink {name:?} has transport \"dir\" but no [sinks.dir] table with the path of its outbox"),
        ),
        ("dir", Some(dir)) => {
            if dir.path.get_ref().as_os_str().is_empty() {
                report(dir.path.span(), format!("sink {name:?}: sinks.dir.path is empty"));
            }
            if !sink.url.get_ref().is_empty() {
                report(
                    sink.url.span(),
                    format!("sink {name:?} writes to a directory ([sinks.dir]); remove its url"),
                );
            }
        }
        (other, Some(dir)) => report(
            dir.path.span(),
            format!("sink {name:?} has a [sinks.dir] table but transport {other:?}; set transport = \"dir\" or remove the table"),
        ),
        (_, None) => {}
    }
}

fn within(
    report: &mut dyn FnMut(std::ops::Range<usize>, String),
    key: &str,
    value: &Spanned<u64>,
    range: RangeInclusive<u64>,
    unit: &str,
) {
    if !range.contains(value.get_ref()) {
        report(
            value.span(),
            format!(
                "{key} = {} is out of range: it must be {} to {}{unit}",
                value.get_ref(),
                range.start(),
                range.end()
            ),
        );
    }
}
