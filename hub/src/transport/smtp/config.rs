//! What an admin writes for SMTP: `[sources.smtp]` (the listener of a source with
//! `transport = "smtp"`) and `[sinks.smtp]` (the relay of a sink with `transport = "smtp"`).
//! Checked with the rest of the config; every message names the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::tls::{ServerTls, TlsFile};

/// `[sources.smtp]`: where the source listens for mail, what it takes and from whom.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpInConfig {
    /// Address and port to listen on, e.g. `0.0.0.0:25` or `127.0.0.1:2525`. Taken when
    /// the hub starts; a reload keeps the listener it has.
    pub listen: Spanned<String>,
    /// The name the server gives in its greeting and EHLO answer.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Accepted recipients: addresses (`priemnaya@minsoc.example.ru`) and whole domains
    /// (`@minsoc.example.ru`), compared without regard to case. Any other recipient gets
    /// `550`. At least one is required.
    pub recipients: Vec<Spanned<String>>,
    /// Largest message accepted, in bytes, as advertised by the SIZE extension; larger
    /// ones get `552`.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Recipients one message may have; more get `452` (RFC 5321 4.5.3.1.8).
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// Connections open at once; more wait in the kernel's backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Time a client has for each command line, and between two reads of DATA.
    #[serde(default = "default_command_timeout_ms")]
    pub command_timeout_ms: u64,
    /// Time a client has for the whole DATA of one message.
    #[serde(default = "default_data_timeout_ms")]
    pub data_timeout_ms: u64,
    /// STARTTLS: offered when given, with this certificate chain and key (PEM).
    pub tls: Option<SmtpTlsConfig>,
    /// Refuse MAIL before STARTTLS (`530`).
    #[serde(default)]
    pub require_tls: bool,
    /// Offer AUTH PLAIN and LOGIN (after STARTTLS only): the user is the name of a
    /// `source` token bound to this source and the password is the token itself, so
    /// relay credentials are stored hashed, expire and are revoked like any token.
    #[serde(default)]
    pub auth: bool,
    /// Refuse MAIL from a client that has not authenticated (`530`); needs `auth`.
    #[serde(default)]
    pub require_auth: bool,
}

/// `[sources.smtp.tls]`: the listener's certificate for STARTTLS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpTlsConfig {
    pub cert_file: Spanned<PathBuf>,
    pub key_file: Spanned<PathBuf>,
    /// The files read and checked, when the config is.
    #[serde(skip)]
    pub loaded: Option<ServerTls>,
}

fn default_hostname() -> String {
    "okno".into()
}
fn default_max_message_bytes() -> usize {
    10 << 20
}
fn default_max_recipients() -> usize {
    100
}
fn default_max_connections() -> usize {
    256
}
fn default_command_timeout_ms() -> u64 {
    // RFC 5321 4.5.3.2 asks a server to wait at least 5 minutes for a command; a
    // ministry's relays answer in milliseconds, so one minute frees stalled slots sooner.
    60_000
}
fn default_data_timeout_ms() -> u64 {
    600_000
}

/// A recipient rule: one address, or every address of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientRule {
    Address(String),
    Domain(String),
}

impl RecipientRule {
    pub fn parse(text: &str) -> Result<RecipientRule, String> {
        let text = text.trim().to_ascii_lowercase();
        let domain_ok = |d: &str| {
            !d.is_empty()
                && !d.starts_with('.')
                && !d.ends_with('.')
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        };
        if let Some(domain) = text.strip_prefix('@') {
            if domain_ok(domain) {
                return Ok(RecipientRule::Domain(domain.to_string()));
            }
        } else if let Some((local, domain)) = text.split_once('@') {
            if !local.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c))
                && domain_ok(domain)
            {
                return Ok(RecipientRule::Address(text));
            }
        }
        Err(format!(
            "recipient {text:?} is neither an address (`priemnaya@minsoc.example.ru`) nor a domain (`@minsoc.example.ru`)"
        ))
    }

    pub fn accepts(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        match self {
            RecipientRule::Address(a) => *a == address,
            RecipientRule::Domain(d) => address
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain == d),
        }
    }
}

impl SmtpInConfig {
    /// True when some rule takes `address`.
    pub fn accepts_recipient(&self, address: &str) -> bool {
        self.recipients
            .iter()
            .filter_map(|r| RecipientRule::parse(r.get_ref()).ok())
            .any(|rule| rule.accepts(address))
    }

    /// Reads the STARTTLS certificate, and checks every value; `report` gets each
    /// problem with the span of its key.
    pub fn prepare(
        &mut self,
        source: &str,
        base: &Path,
        report: &mut dyn FnMut(std::ops::Range<usize>, String),
    ) {
        let what = format!("source {source:?}: smtp");
        if self
            .listen
            .get_ref()
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            report(
                self.listen.span(),
                format!(
                    "{what}.listen {:?} is not an address and port like `0.0.0.0:25`",
                    self.listen.get_ref()
                ),
            );
        }
        if self.recipients.is_empty() {
            report(
                self.listen.span(),
                format!("{what}.recipients is empty: every mail would get 550; list the addresses or `@domains` this source takes"),
            );
        }
        for rule in &self.recipients {
            if let Err(e) = RecipientRule::parse(rule.get_ref()) {
                report(rule.span(), format!("{what}.recipients: {e}"));
            }
        }
        let at_least_one = [
            ("max_message_bytes", self.max_message_bytes as u64),
            ("max_recipients", self.max_recipients as u64),
            ("max_connections", self.max_connections as u64),
            ("command_timeout_ms", self.command_timeout_ms),
            ("data_timeout_ms", self.data_timeout_ms),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                report(
                    self.listen.span(),
                    format!("{what}.{key} is 0; it must be at least 1"),
                );
            }
        }
        if !self
            .hostname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            || self.hostname.is_empty()
        {
            report(
                self.listen.span(),
                format!(
                    "{what}.hostname {:?} is not a host name (letters, digits, dots, hyphens)",
                    self.hostname
                ),
            );
        }
        if self.require_tls && self.tls.is_none() {
            report(
                self.listen.span(),
                format!("{what}.require_tls needs [sources.smtp.tls] with a certificate"),
            );
        }
        if self.auth && self.tls.is_none() {
            report(
                self.listen.span(),
                format!("{what}.auth needs [sources.smtp.tls]: credentials are taken only over STARTTLS"),
            );
        }
        if self.require_auth && !self.auth {
            report(
                self.listen.span(),
                format!("{what}.require_auth needs auth = true"),
            );
        }
        if let Some(tls) = &mut self.tls {
            let resolve = |f: &Path| {
                if f.is_absolute() {
                    f.to_path_buf()
                } else {
                    base.join(f)
                }
            };
            match ServerTls::load(
                &resolve(tls.cert_file.get_ref()),
                &resolve(tls.key_file.get_ref()),
                None,
            ) {
                Ok(mut loaded) => {
                    // ServerTls is built for the HTTP API; SMTP negotiates no ALPN.
                    let mut config = (*loaded.config).clone();
                    config.alpn_protocols.clear();
                    loaded.config = std::sync::Arc::new(config);
                    tls.loaded = Some(loaded);
                }
                Err((TlsFile::Key, e)) => {
                    report(tls.key_file.span(), format!("{what}.tls.key_file: {e}"))
                }
                Err((_, e)) => report(tls.cert_file.span(), format!("{what}.tls.cert_file: {e}")),
            }
        }
    }
}

/// `[sinks.smtp]`: how an `smtp` sink talks to its relay. The relay itself is the sink's
/// `url`: `smtp://relay.example.ru:587` (STARTTLS) or `smtps://relay.example.ru:465`
/// (TLS from the first byte).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSinkConfig {
    /// For `smtp://`: `required` (default; the relay must offer STARTTLS), `opportunistic`
    /// (used when offered) or `none` (plain text, for a relay on the same host).
    #[serde(default)]
    pub starttls: StartTls,
    /// The user to authenticate as (AUTH PLAIN or LOGIN); needs `password_file`.
    pub user: Option<Spanned<String>>,
    /// A file holding the password (its first line), relative to the config file: the
    /// config itself holds no secret.
    pub password_file: Option<Spanned<PathBuf>>,
    /// The name given in EHLO; default: this machine's host name.
    pub hello_name: Option<String>,
    /// The password read, when the config is checked.
    #[serde(skip)]
    pub password: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StartTls {
    #[default]
    Required,
    Opportunistic,
    None,
}

impl SmtpSinkConfig {
    /// Reads the password file and checks the settings against the sink's url.
    pub fn prepare(
        &mut self,
        sink: &str,
        url: &Spanned<String>,
        base: &Path,
        report: &mut dyn FnMut(std::ops::Range<usize>, String),
    ) {
        let what = format!("sink {sink:?}: smtp");
        match (&self.user, &self.password_file) {
            (Some(_), Some(file)) => {
                let path = if file.get_ref().is_absolute() {
                    file.get_ref().clone()
                } else {
                    base.join(file.get_ref())
                };
                match std::fs::read_to_string(&path) {
                    Ok(text) => match text.lines().next().map(str::trim_end) {
                        Some(line) if !line.is_empty() => self.password = Some(line.to_string()),
                        _ => report(
                            file.span(),
                            format!("{what}.password_file {} is empty", path.display()),
                        ),
                    },
                    Err(e) => report(
                        file.span(),
                        format!("{what}.password_file {}: {e}", path.display()),
                    ),
                }
            }
            (Some(user), None) => report(
                user.span(),
                format!("{what}.user needs password_file, the file that holds its password"),
            ),
            (None, Some(file)) => report(
                file.span(),
                format!("{what}.password_file needs user, the name to authenticate as"),
            ),
            (None, None) => {}
        }
        let implicit = url.get_ref().starts_with("smtps://");
        if implicit && self.starttls != StartTls::Required {
            report(
                url.span(),
                format!("{what}.starttls applies to smtp:// only; an smtps:// relay speaks TLS from the start"),
            );
        }
        if self.user.is_some() && !implicit && self.starttls != StartTls::Required {
            report(
                url.span(),
                format!("{what}: a password is sent only over TLS; use starttls = \"required\" or an smtps:// url"),
            );
        }
    }
}

/// The relay a sink url names: host, port and whether TLS starts at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
}

/// Reads `smtp://host[:port]` (port 587 by default) or `smtps://host[:port]` (465).
pub fn parse_relay(url: &str) -> Result<Relay, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("sink url {url:?}: {e}"))?;
    let implicit_tls = match parsed.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return Err(format!(
                "sink url {url:?} has scheme {other:?}; an smtp sink takes smtp://host:port or smtps://host:port"
            ))
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("sink url {url:?} names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "sink url {url:?} carries credentials; put the user in [sinks.smtp] user and the password in a password_file"
        ));
    }
    if parsed.path() != "" && parsed.path() != "/" || parsed.query().is_some() {
        return Err(format!(
            "sink url {url:?} has a path or query; an smtp sink takes smtp://host:port only"
        ));
    }
    let port = parsed
        .port()
        .unwrap_or(if implicit_tls { 465 } else { 587 });
    Ok(Relay {
        host,
        port,
        implicit_tls,
    })
}

/// A source's transport and its `[sources.smtp]` table agree.
pub fn check_source(
    source: &crate::config::SourceConfig,
    report: &mut dyn FnMut(std::ops::Range<usize>, String),
) {
    let name = source.name.get_ref();
    match (source.transport.get_ref().as_str(), &source.smtp) {
        ("smtp", None) => report(
            source.transport.span(),
            format!("source {name:?} has transport \"smtp\" but no [sources.smtp] table with its listen address and recipients"),
        ),
        (other, Some(smtp)) if other != "smtp" => report(
            smtp.listen.span(),
            format!("source {name:?} has a [sources.smtp] table but transport {other:?}; set transport = \"smtp\" or remove the table"),
        ),
        _ => {}
    }
}

/// An smtp sink's url names a relay, and only an smtp sink has `[sinks.smtp]`.
pub fn check_sink(
    sink: &crate::config::SinkConfig,
    report: &mut dyn FnMut(std::ops::Range<usize>, String),
) {
    let name = sink.name.get_ref();
    if sink.transport.get_ref() != "smtp" {
        report(
            sink.transport.span(),
            format!("sink {name:?} has a [sinks.smtp] table but transport {:?}; set transport = \"smtp\" or remove the table", sink.transport.get_ref()),
        );
        return;
    }
    if let Err(e) = parse_relay(sink.url.get_ref()) {
        report(sink.url.span(), e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_rules_take_addresses_and_domains() {
        let address = RecipientRule::parse("Priemnaya@MinSoc.example.ru").unwrap();
        assert!(address.accepts("priemnaya@minsoc.example.ru"));
        assert!(!address.accepts("other@minsoc.example.ru"));
        let domain = RecipientRule::parse("@minsoc.example.ru").unwrap();
        assert!(domain.accepts("anyone@MINSOC.example.ru"));
        assert!(!domain.accepts("anyone@sub.minsoc.example.ru"));
        assert!(!domain.accepts("minsoc.example.ru"));
        for bad in ["", "@", "noat", "a b@x.ru", "@.ru", "a@x.ru.", "<a@x.ru>"] {
            assert!(RecipientRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relay_urls() {
        assert_eq!(
            parse_relay("smtp://relay.example.ru").unwrap(),
            Relay {
                host: "relay.example.ru".into(),
                port: 587,
                implicit_tls: false
            }
        );
        assert_eq!(parse_relay("smtps://10.0.0.5:4650").unwrap().port, 4650);
        assert!(parse_relay("smtps://relay").unwrap().implicit_tls);
        assert!(parse_relay("https://relay").is_err());
        assert!(parse_relay("smtp://user:pw@relay").is_err());
        assert!(parse_relay("smtp://relay/path").is_err());
    }

    #[test]
    fn config_errors_name_the_smtp_keys() {
        let text = r#"
[[sources]]
name = "no-table"
transport = "smtp"
connector = "mail"

[[sources]]
name = "mx"
transport = "smtp"
connector = "mail"
[sources.smtp]
listen = "127.0.0.1:2525"
recipients = ["priemnaya@minsoc.example.ru", "not an address"]
auth = true

[[sources]]
name = "posted"
transport = "http"
connector = "mail"
[sources.smtp]
listen = "127.0.0.1:2526"
recipients = ["@minsoc.example.ru"]

[[sinks]]
name = "replies"
transport = "smtp"
url = "https://relay.example.ru"
connector = "mail"
[sinks.smtp]
user = "okno"

[[routes]]
name = "all"
sinks = ["replies"]
"#;
        let errors = crate::config::Config::parse(std::path::Path::new("okno.toml"), text)
            .unwrap_err()
            .to_string();
        for expected in [
            "okno.toml:4:13: source \"no-table\" has transport \"smtp\" but no [sources.smtp] table",
            "okno.toml:13:46: source \"mx\": smtp.recipients: recipient \"not an address\"",
            "source \"mx\": smtp.auth needs [sources.smtp.tls]",
            "source \"posted\" has a [sources.smtp] table but transport \"http\"",
            "sink \"replies\": smtp.user needs password_file",
            "sink url \"https://relay.example.ru\" has scheme \"https\"",
        ] {
            assert!(errors.contains(expected), "{expected}\nnot in:\n{errors}");
        }
    }
}
