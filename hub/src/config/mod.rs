//! `okno.toml`: what an admin writes. Parsed with spans so that every error names
//! file:line:column; validated as a whole before the hub uses (or reloads) it.

mod routes;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use routes::{Match, RouteExplanation};

use crate::runtime::World;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub hub: HubConfig,
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Where the file was read from; relative plugin paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Messages accepted but not yet routed; beyond this ingest answers 503.
    pub queue_capacity: usize,
    /// Pipeline workers (decode happens at ingest; these classify, decide and route).
    pub workers: usize,
    /// The ministry's time zone, for dates and working days.
    pub utc_offset_minutes: i32,
    /// Finished messages older than this are removed by compaction.
    pub retention_days: u32,
    /// Defaults for every plugin.
    pub plugin_cpu_ms: u64,
    pub plugin_memory_mib: usize,
    pub plugin_wall_ms: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("okno-data"),
            max_body_bytes: 10 << 20,
            queue_capacity: 10_000,
            workers: 4,
            utc_offset_minutes: 180,
            retention_days: 365,
            plugin_cpu_ms: 100,
            plugin_memory_mib: 64,
            plugin_wall_ms: 5_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub name: Spanned<String>,
    pub file: Spanned<PathBuf>,
    pub sha256: Spanned<String>,
    pub kind: Spanned<World>,
    pub cpu_ms: Option<u64>,
    pub memory_mib: Option<usize>,
    pub wall_ms: Option<u64>,
    /// Hosts the plugin may call over HTTP: `host`, `host:port` or `*.domain`.
    #[serde(default)]
    pub http_allow: Vec<String>,
    /// The plugin's own settings, flattened to dotted keys for its `config` interface.
    #[serde(default)]
    pub settings: toml::Table,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: Spanned<String>,
    /// How bytes arrive: `http` (POST /v1/sources/NAME/messages).
    pub transport: Spanned<String>,
    pub connector: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    #[serde(default)]
    pub classifiers: Vec<Spanned<String>>,
    pub policy: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub name: Spanned<String>,
    /// How bytes leave: `http` (POST to `url`).
    pub transport: Spanned<String>,
    pub url: Spanned<String>,
    pub connector: Spanned<String>,
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; each next one doubles, with jitter, up to `max_backoff_ms`.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Deliveries to this sink in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_max_attempts() -> u32 {
    8
}
fn default_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    60_000
}
fn default_timeout_ms() -> u64 {
    10_000
}
fn default_concurrency() -> usize {
    16
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: Spanned<String>,
    #[serde(default, rename = "match")]
    pub matches: Option<Spanned<Match>>,
    pub sinks: Vec<Spanned<String>>,
    /// Stop looking at later routes once this one matched.
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// Used only when no other route matched.
    #[serde(default)]
    pub default: bool,
}

impl RouteConfig {
    pub fn match_rule(&self) -> &Match {
        static EVERYTHING: Match = Match::EVERYTHING;
        self.matches
            .as_ref()
            .map(|m| m.get_ref())
            .unwrap_or(&EVERYTHING)
    }

    fn match_span(&self) -> std::ops::Range<usize> {
        self.matches
            .as_ref()
            .map(|m| m.span())
            .unwrap_or_else(|| self.name.span())
    }
}

/// One problem in a config file, located.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// All the problems found, one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

/// Collects errors with their positions in one file.
struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Problems<'_> {
    fn at(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.into(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((0, 0));
            ConfigErrors(vec![ConfigError {
                file: path.into(),
                line,
                column,
                message: e.message().to_string(),
            }])
        })?;
        config.path = path.to_path_buf();
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if config.base_dir.as_os_str().is_empty() {
            config.base_dir = PathBuf::from(".");
        }
        let mut problems = Problems {
            file: path,
            text,
            errors: Vec::new(),
        };
        config.check(&mut problems);
        if problems.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(problems.errors))
        }
    }

    /// A plugin file's path, relative paths taken from the config file's directory.
    pub fn plugin_path(&self, plugin: &PluginConfig) -> PathBuf {
        let file = plugin.file.get_ref();
        if file.is_absolute() {
            file.clone()
        } else {
            self.base_dir.join(file)
        }
    }

    pub fn plugin(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name.get_ref() == name)
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name.get_ref() == name)
    }

    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name.get_ref() == name)
    }

    fn check(&self, p: &mut Problems) {
        let mut names = HashSet::new();
        for plugin in &self.plugins {
            if !names.insert(plugin.name.get_ref().clone()) {
                p.at(
                    plugin.name.span(),
                    format!("plugin {:?} is defined twice", plugin.name.get_ref()),
                );
            }
            let sha = plugin.sha256.get_ref();
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                p.at(plugin.sha256.span(), format!("sha256 must be 64 hex digits, got {sha:?} (see `okno plugin inspect FILE`)"));
            }
            if !self.plugin_path(plugin).is_file() {
                p.at(
                    plugin.file.span(),
                    format!(
                        "plugin file {} does not exist (build plugins with `okno plugin build`)",
                        self.plugin_path(plugin).display()
                    ),
                );
            }
        }
        let want = |p: &mut Problems, name: &Spanned<String>, world: World, role: &str| match self
            .plugin(name.get_ref())
        {
            None => p.at(
                name.span(),
                format!("{role} {:?} is not a defined plugin", name.get_ref()),
            ),
            Some(plugin) if *plugin.kind.get_ref() != world => p.at(
                name.span(),
                format!(
                    "{role} {:?} is a {} plugin; a {world} is needed here",
                    name.get_ref(),
                    plugin.kind.get_ref()
                ),
            ),
            Some(_) => {}
        };
        let mut source_names = HashSet::new();
        for source in &self.sources {
            if !source_names.insert(source.name.get_ref().clone()) {
                p.at(
                    source.name.span(),
                    format!("source {:?} is defined twice", source.name.get_ref()),
                );
            }
            if source.transport.get_ref() != "http" {
                p.at(
                    source.transport.span(),
                    format!(
                        "unknown source transport {:?}; known: http",
                        source.transport.get_ref()
                    ),
                );
            }
            want(p, &source.connector, World::Connector, "connector");
        }
        for classifier in &self.pipeline.classifiers {
            want(p, classifier, World::Classifier, "classifier");
        }
        if let Some(policy) = &self.pipeline.policy {
            want(p, policy, World::Policy, "policy");
        }
        let mut sink_names = HashSet::new();
        for sink in &self.sinks {
            if !sink_names.insert(sink.name.get_ref().clone()) {
                p.at(
                    sink.name.span(),
                    format!("sink {:?} is defined twice", sink.name.get_ref()),
                );
            }
            if sink.transport.get_ref() != "http" {
                p.at(
                    sink.transport.span(),
                    format!(
                        "unknown sink transport {:?}; known: http",
                        sink.transport.get_ref()
                    ),
                );
            }
            if reqwest::Url::parse(sink.url.get_ref())
                .map(|u| !matches!(u.scheme(), "http" | "https"))
                .unwrap_or(true)
            {
                p.at(
                    sink.url.span(),
                    format!("sink url {:?} is not an http(s) URL", sink.url.get_ref()),
                );
            }
            want(p, &sink.connector, World::Connector, "connector");
            if sink.max_attempts == 0 {
                p.at(sink.name.span(), "max_attempts must be at least 1");
            }
        }
        let mut route_names = HashSet::new();
        let mut catch_all_final: Option<String> = None;
        let mut defaults = 0;
        for route in &self.routes {
            if !route_names.insert(route.name.get_ref().clone()) {
                p.at(
                    route.name.span(),
                    format!("route {:?} is defined twice", route.name.get_ref()),
                );
            }
            for sink in &route.sinks {
                if self.sink(sink.get_ref()).is_none() {
                    p.at(
                        sink.span(),
                        format!(
                            "route {:?} sends to sink {:?}, which is not defined",
                            route.name.get_ref(),
                            sink.get_ref()
                        ),
                    );
                }
            }
            if route.sinks.is_empty() {
                p.at(
                    route.name.span(),
                    format!("route {:?} has no sinks", route.name.get_ref()),
                );
            }
            if let Err(message) = route.match_rule().check() {
                p.at(
                    route.match_span(),
                    format!("route {:?}: {message}", route.name.get_ref()),
                );
            }
            if route.default {
                defaults += 1;
                if defaults > 1 {
                    p.at(route.name.span(), "only one route may be the default");
                }
                continue;
            }
            if let Some(earlier) = &catch_all_final {
                p.at(
                    route.name.span(),
                    format!("route {:?} is unreachable: the earlier final route {earlier:?} matches every message", route.name.get_ref()),
                );
            }
            if route.is_final && route.match_rule().is_empty() {
                catch_all_final.get_or_insert_with(|| route.name.get_ref().clone());
            }
        }
        if self.routes.is_empty() && !self.sources.is_empty() {
            p.at(0..0, "no [[routes]]: accepted messages would go nowhere");
        }
    }

    /// The plugin's settings flattened to dotted keys with string values.
    pub fn flat_settings(plugin: &PluginConfig) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        flatten("", &plugin.settings, &mut out);
        out
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                out.insert(key, joined.join(", "));
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}
