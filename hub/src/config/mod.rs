//! `okno.toml`: what an admin writes. Parsed with spans so that every error names
//! file:line:column; validated as a whole before the hub uses (or reloads) it.

mod limits;
mod routes;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use routes::{Match, RouteExplanation};

use crate::runtime::{AddressRule, HttpGrant, HttpRule, World};
use crate::tls::{ClientIdentity, ClientTls, ServerTls, TlsFile};

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
    /// Deadline rules, reminders and working hours (see `sla::config`).
    #[serde(default, deserialize_with = "crate::sla::config::checked")]
    pub sla: crate::sla::SlaConfig,
    /// The responsible directory.
    #[serde(default, deserialize_with = "crate::sla::config::checked_departments")]
    pub departments: Vec<crate::sla::Department>,
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
    /// HTTPS on the listener: when given, the API is served over TLS only.
    pub tls: Option<ServerTlsConfig>,
    /// What every outbound client (sinks, plugin http) trusts besides the system roots.
    pub tls_client: HubClientTlsConfig,
    /// Open connections at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    pub header_timeout_ms: u64,
    /// Time for a whole request, body and answer included.
    pub request_timeout_ms: u64,
    /// Request bodies read at once, in MiB: what bounds the memory uploads can take.
    pub body_budget_mib: usize,
    /// Serve `/metrics` and `/readyz` without a token (e.g. to a scraper on a closed
    /// network); otherwise they need a `metrics` or `admin` token.
    pub metrics_public: bool,
    /// Most examples one `POST /v1/corrections/import` may carry; 0 is refused.
    #[serde(deserialize_with = "import_lines")]
    pub import_max_lines: std::num::NonZeroUsize,
    /// Free space, in MiB, the data dir's disk keeps for the messages already accepted:
    /// under it ingest answers `503 storage_full`. 0 refuses only once a write fails.
    pub min_free_disk_mib: u64,
    /// `[hub.blobs]`: the blob store's bounds and retention.
    pub blobs: crate::store::blobs::BlobLimits,
}

/// `[hub.tls]`: the listener's certificate chain and key (PEM), and the CAs whose client
/// certificates it demands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    pub cert_file: Spanned<PathBuf>,
    pub key_file: Spanned<PathBuf>,
    /// When given, a client must present a certificate issued by one of these CAs.
    pub client_ca_file: Option<Spanned<PathBuf>>,
    /// The files read and checked, when the config is.
    #[serde(skip)]
    pub loaded: Option<ServerTls>,
}

/// `[hub.tls_client]`: an extra CA bundle (PEM) trusted by every outbound client, such as
/// the Russian Ministry of Digital Development's root CA that system stores lack.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubClientTlsConfig {
    pub ca_file: Option<Spanned<PathBuf>>,
    #[serde(skip)]
    pub loaded: ClientTls,
}

/// `hub.import_max_lines`: at least 1. A zero would refuse every import, which is not a
/// way to turn imports off, so it is refused with a message that says so.
fn import_lines<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::num::NonZeroUsize, D::Error> {
    let lines = usize::deserialize(deserializer)?;
    std::num::NonZeroUsize::new(lines).ok_or_else(|| {
        serde::de::Error::custom(
            "hub.import_max_lines = 0 would refuse every corrections import: give the most examples one request may carry (at least 1; 100000 by default)",
        )
    })
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
            tls: None,
            tls_client: HubClientTlsConfig::default(),
            max_connections: 1024,
            header_timeout_ms: 30_000,
            request_timeout_ms: 120_000,
            body_budget_mib: 128,
            metrics_public: false,
            import_max_lines: std::num::NonZeroUsize::new(100_000).expect("not zero"),
            min_free_disk_mib: 128,
            blobs: Default::default(),
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
    /// What the plugin's kv may hold, keys and values (default: `runtime::kv::DEFAULT_QUOTA_MIB`).
    pub kv_quota_mib: Option<u64>,
    /// Hosts the plugin may call over HTTP: `host`, `host:port`, `*.domain`,
    /// `*.domain:port`, IP literals; without a port, the scheme's default port only.
    #[serde(default)]
    pub http_allow: Vec<Spanned<String>>,
    /// Addresses and networks (CIDR) the granted hosts may resolve to although they are
    /// not public: loopback, private ranges and the like are refused otherwise.
    #[serde(default)]
    pub http_allow_addresses: Vec<Spanned<String>>,
    /// The largest answer body one of its HTTP calls may take (default 1 MiB): an SMEV 3
    /// envelope carrying files inline needs more. The answer is copied into the plugin's
    /// memory, so `memory_mib` must be at least twice this (checked with the config).
    pub http_max_response_bytes: Option<u64>,
    /// A CA bundle (PEM) trusted for this plugin's https calls, besides the system's
    /// and `[hub.tls_client]`'s.
    pub ca_file: Option<Spanned<PathBuf>>,
    /// A client certificate chain and its key (PEM) for the plugin's https calls.
    pub client_cert_file: Option<Spanned<PathBuf>>,
    pub client_key_file: Option<Spanned<PathBuf>>,
    /// `http_allow` and `http_allow_addresses` parsed, and the TLS settings read (with
    /// the hub-wide ones), when the config is checked.
    #[serde(skip)]
    pub http_rules: Vec<HttpRule>,
    #[serde(skip)]
    pub http_addresses: Vec<AddressRule>,
    #[serde(skip)]
    pub tls: ClientTls,
    /// The plugin's own settings, flattened to dotted keys for its `config` interface.
    #[serde(default)]
    pub settings: toml::Table,
}

impl PluginConfig {
    /// What the plugin may reach over HTTP: its grants (parsed) and TLS settings (read
    /// with the hub-wide ones) from when the config was checked.
    pub fn http_grant(&self) -> HttpGrant {
        HttpGrant {
            rules: self.http_rules.clone(),
            addresses: self.http_addresses.clone(),
            tls: self.tls.clone(),
            max_response_bytes: self
                .http_max_response_bytes
                .unwrap_or(crate::runtime::DEFAULT_MAX_RESPONSE_BYTES),
            ..HttpGrant::none()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: Spanned<String>,
    /// How bytes arrive: `http` (POST /v1/sources/NAME/messages).
    pub transport: Spanned<String>,
    pub connector: Spanned<String>,
    /// `[sources.poll]`: the schedule, for `transport = "poll"` (a poller connector).
    pub poll: Option<crate::transport::poll::config::PollConfig>,
    /// `[sources.dir]`: the inbox, for `transport = "dir"`.
    pub dir: Option<crate::transport::dir::config::DirInConfig>,
    /// `[sources.smtp]`: the SMTP listener, for `transport = "smtp"`.
    pub smtp: Option<crate::transport::smtp::config::SmtpInConfig>,
    /// Who checks a push: `token` (default), a `source` token bound to this source; or
    /// `connector`, which also opens `POST /v1/webhooks/NAME` to callers without a token
    /// (VK, Telegram), whose shared secret the connector checks (see `api::webhook`).
    #[serde(default)]
    pub auth: SourceAuth,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceAuth {
    #[default]
    Token,
    Connector,
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
    /// How bytes leave: `http` (POST to `url`), or `smtp` (through the relay `url`
    /// names, `smtp://host:port` or `smtps://host:port`).
    pub transport: Spanned<String>,
    /// Where to: an `http(s)://` URL; not given for a `dir` sink.
    #[serde(default = "no_url")]
    pub url: Spanned<String>,
    pub connector: Spanned<String>,
    /// `[sinks.dir]`: the outbox, for `transport = "dir"`.
    pub dir: Option<crate::transport::dir::config::DirOutConfig>,
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
    /// A CA bundle (PEM) trusted for this sink, besides the system's and
    /// `[hub.tls_client]`'s.
    pub ca_file: Option<Spanned<PathBuf>>,
    /// A client certificate chain and its key (PEM), for receivers that demand one.
    pub client_cert_file: Option<Spanned<PathBuf>>,
    pub client_key_file: Option<Spanned<PathBuf>>,
    /// The sink's own TLS settings read, when the config is checked; `None` when it has
    /// none and the hub-wide client serves it.
    #[serde(skip)]
    pub tls: Option<ClientTls>,
    /// `[sinks.smtp]`: STARTTLS and login for `transport = "smtp"`.
    pub smtp: Option<crate::transport::smtp::config::SmtpSinkConfig>,
    /// Wait up to this long after a message arrived for the registration number the
    /// EDMS or SOG gives it before encoding (a reply that should quote it); 0: never wait.
    #[serde(default)]
    pub hold_for_registration_ms: u64,
    /// Hand the connector each attachment's content (from the blob store) as metadata
    /// `okno.attachment.<sha256>` (base64), for systems that take the files along.
    #[serde(default)]
    pub attachments: bool,
}

fn no_url() -> Spanned<String> {
    Spanned::new(0..0, String::new())
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
        config.prepare(&mut problems);
        config.check(&mut problems);
        config.check_limits(text, &mut problems);
        if problems.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(problems.errors))
        }
    }

    /// A plugin file's path, relative paths taken from the config file's directory.
    pub fn plugin_path(&self, plugin: &PluginConfig) -> PathBuf {
        self.resolve_path(plugin.file.get_ref())
    }

    /// A path from the config, relative paths taken from the config file's directory.
    pub fn resolve_path(&self, file: &Path) -> PathBuf {
        resolve(&self.base_dir, file)
    }

    /// Parses the grants and reads the TLS files, so that what the hub later builds its
    /// clients and listener from is known to be good.
    fn prepare(&mut self, p: &mut Problems) {
        let base = self.base_dir.clone();
        if let Some(ca) = &self.hub.tls_client.ca_file {
            match crate::tls::read_ca_certificates(&resolve(&base, ca.get_ref())) {
                Ok(roots) => self.hub.tls_client.loaded.extra_roots = roots,
                Err(e) => p.at(ca.span(), format!("hub.tls_client.ca_file: {e}")),
            }
        }
        let hub_client = self.hub.tls_client.loaded.clone();
        if let Some(server) = &mut self.hub.tls {
            let client_ca = server
                .client_ca_file
                .as_ref()
                .map(|f| resolve(&base, f.get_ref()));
            match ServerTls::load(
                &resolve(&base, server.cert_file.get_ref()),
                &resolve(&base, server.key_file.get_ref()),
                client_ca.as_deref(),
            ) {
                Ok(loaded) => server.loaded = Some(loaded),
                Err((file, e)) => {
                    let (key, span) = match (file, &server.client_ca_file) {
                        (TlsFile::Key, _) => ("key_file", server.key_file.span()),
                        (TlsFile::Ca, Some(ca)) => ("client_ca_file", ca.span()),
                        _ => ("cert_file", server.cert_file.span()),
                    };
                    p.at(span, format!("hub.tls.{key}: {e}"));
                }
            }
        }
        for source in &mut self.sources {
            let name = source.name.get_ref().clone();
            if let Some(smtp) = &mut source.smtp {
                smtp.prepare(&name, &base, &mut |span, message| p.at(span, message));
            }
        }
        for sink in &mut self.sinks {
            let name = sink.name.get_ref().clone();
            if let Some(smtp) = &mut sink.smtp {
                smtp.prepare(&name, &sink.url, &base, &mut |span, message| {
                    p.at(span, message)
                });
            }
        }
        for plugin in &mut self.plugins {
            let name = plugin.name.get_ref().clone();
            for entry in &plugin.http_allow {
                match entry.get_ref().parse::<HttpRule>() {
                    Ok(rule) => plugin.http_rules.push(rule),
                    Err(e) => p.at(entry.span(), format!("plugin {name:?}: {e}")),
                }
            }
            for entry in &plugin.http_allow_addresses {
                match entry.get_ref().parse::<AddressRule>() {
                    Ok(rule) => plugin.http_addresses.push(rule),
                    Err(e) => p.at(entry.span(), format!("plugin {name:?}: {e}")),
                }
            }
            let own = client_tls(
                p,
                &base,
                &format!("plugin {name:?}"),
                &plugin.ca_file,
                &plugin.client_cert_file,
                &plugin.client_key_file,
            );
            plugin.tls = own.unwrap_or_default().over(&hub_client);
        }
        for sink in &mut self.sinks {
            let name = sink.name.get_ref().clone();
            let own = client_tls(
                p,
                &base,
                &format!("sink {name:?}"),
                &sink.ca_file,
                &sink.client_cert_file,
                &sink.client_key_file,
            );
            let is_https = reqwest::Url::parse(sink.url.get_ref())
                .map(|u| matches!(u.scheme(), "https" | "smtp" | "smtps"))
                .unwrap_or(true);
            if let (Some(_), false) = (&own, is_https) {
                let span = [&sink.ca_file, &sink.client_cert_file, &sink.client_key_file]
                    .into_iter()
                    .flatten()
                    .map(|f| f.span())
                    .next()
                    .unwrap_or_else(|| sink.url.span());
                p.at(
                    span,
                    format!(
                        "sink {name:?} has TLS settings, but its url {:?} is not https",
                        sink.url.get_ref()
                    ),
                );
            }
            sink.tls = own.map(|own| own.over(&hub_client));
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
            Some(plugin) if !plugin.kind.get_ref().serves_as(world) => p.at(
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
            if !matches!(
                source.transport.get_ref().as_str(),
                "http" | "smtp" | "poll" | "dir"
            ) {
                p.at(
                    source.transport.span(),
                    format!(
                        "unknown source transport {:?}; known: http, smtp, poll, dir",
                        source.transport.get_ref()
                    ),
                );
            }
            crate::transport::smtp::config::check_source(source, &mut |span, message| {
                p.at(span, message)
            });
            want(p, &source.connector, World::Connector, "connector");
            crate::transport::poll::config::check_source(self, source, &mut |span, message| {
                p.at(span, message)
            });
            crate::transport::dir::config::check_source(source, &mut |span, message| {
                p.at(span, message)
            });
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
            if !matches!(sink.transport.get_ref().as_str(), "http" | "smtp" | "dir") {
                p.at(
                    sink.transport.span(),
                    format!(
                        "unknown sink transport {:?}; known: http, smtp, dir",
                        sink.transport.get_ref()
                    ),
                );
            }
            if sink.transport.get_ref() == "smtp" || sink.smtp.is_some() {
                crate::transport::smtp::config::check_sink(sink, &mut |span, message| {
                    p.at(span, message)
                });
            } else if sink.transport.get_ref() == "dir" || sink.dir.is_some() {
                crate::transport::dir::config::check_sink(sink, &mut |span, message| {
                    p.at(span, message)
                });
            } else if reqwest::Url::parse(sink.url.get_ref())
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

fn resolve(base: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        base.join(file)
    }
}

/// A sink's or plugin's own TLS settings, read and checked; `None` when it gives none.
fn client_tls(
    p: &mut Problems,
    base: &Path,
    what: &str,
    ca_file: &Option<Spanned<PathBuf>>,
    cert_file: &Option<Spanned<PathBuf>>,
    key_file: &Option<Spanned<PathBuf>>,
) -> Option<ClientTls> {
    if ca_file.is_none() && cert_file.is_none() && key_file.is_none() {
        return None;
    }
    let mut tls = ClientTls::default();
    if let Some(ca) = ca_file {
        match crate::tls::read_ca_certificates(&resolve(base, ca.get_ref())) {
            Ok(roots) => tls.extra_roots = roots,
            Err(e) => p.at(ca.span(), format!("{what}: ca_file: {e}")),
        }
    }
    match (cert_file, key_file) {
        (None, None) => {}
        (Some(cert), None) => p.at(
            cert.span(),
            format!(
                "{what}: client_cert_file needs client_key_file, the certificate's private key"
            ),
        ),
        (None, Some(key)) => p.at(
            key.span(),
            format!(
                "{what}: client_key_file needs client_cert_file, the certificate it belongs to"
            ),
        ),
        (Some(cert), Some(key)) => match ClientIdentity::load(
            &resolve(base, cert.get_ref()),
            &resolve(base, key.get_ref()),
        ) {
            Ok(identity) => tls.identity = Some(identity),
            Err((TlsFile::Key, e)) => p.at(key.span(), format!("{what}: client_key_file: {e}")),
            Err((_, e)) => p.at(cert.span(), format!("{what}: client_cert_file: {e}")),
        },
    }
    Some(tls)
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
