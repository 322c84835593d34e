//! What a plugin may reach over HTTP: the hosts of its `http_allow` grants, each with its
//! port, and — whatever a granted name resolves to — only public addresses, unless the
//! config names the address or network. The address check sits in the client's resolver,
//! so a name that resolves to a public address at one moment and to loopback the next
//! (DNS rebinding) is refused where the connection is made.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::tls::ClientTls;

/// Which host a grant names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantHost {
    /// Exactly this name (lower case, punycode for international names).
    Name(String),
    /// Any name under this domain, not the domain itself: `*.example.ru`.
    Subdomains(String),
    /// An IP address literal; the grant also allows connecting to that address.
    Ip(IpAddr),
}

/// One `http_allow` entry: a host and a port. Without a port, only the URL scheme's
/// default port (80 for http, 443 for https) is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRule {
    pub host: GrantHost,
    pub port: Option<u16>,
}

const GRANT_FORMS: &str =
    "write `host`, `host:port`, `*.domain`, `*.domain:port`, an IPv4 address or `[IPv6]`, with an optional `:port`";

impl FromStr for HttpRule {
    type Err = String;

    fn from_str(text: &str) -> Result<HttpRule, String> {
        if text.is_empty() {
            return Err(format!("an empty http_allow entry; {GRANT_FORMS}"));
        }
        if text.trim() != text || text.chars().any(char::is_whitespace) {
            return Err(format!("http_allow entry {text:?} contains spaces"));
        }
        if text.contains("://") {
            return Err(format!(
                "http_allow entry {text:?} is a URL; a grant is a host with an optional port, without a scheme"
            ));
        }
        if text.contains(['/', '?', '#']) {
            return Err(format!(
                "http_allow entry {text:?} has a path; a grant is a host with an optional port"
            ));
        }
        if text.contains('@') {
            return Err(format!(
                "http_allow entry {text:?} has user information; a grant is a host with an optional port"
            ));
        }
        let bad = |why: String| format!("http_allow entry {text:?}: {why}");
        if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address opened with `[` is not closed".into()))?;
            let ip: Ipv6Addr = inside
                .parse()
                .map_err(|_| bad(format!("{inside:?} is not an IPv6 address")))?;
            let port = match after {
                "" => None,
                _ => Some(
                    parse_port(after.strip_prefix(':').ok_or_else(|| {
                        bad(format!("{after:?} after the address; expected `:port`"))
                    })?)
                    .map_err(bad)?,
                ),
            };
            return Ok(HttpRule {
                host: GrantHost::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(bad(
                    "an IPv6 address must be written in brackets, as in [2001:db8::1]:443".into(),
                ))
            }
            Some((host, port)) => (host, Some(parse_port(port).map_err(bad)?)),
            None => (text, None),
        };
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(HttpRule {
                host: GrantHost::Ip(IpAddr::V4(ip)),
                port,
            });
        }
        let host = if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                return Err(bad(
                    "`*` may only be the whole first label, as in *.example.ru".into(),
                ));
            }
            GrantHost::Subdomains(host_name(domain).map_err(bad)?)
        } else if host.contains('*') {
            return Err(bad(
                "`*` may only be the whole first label, as in *.example.ru".into(),
            ));
        } else {
            GrantHost::Name(host_name(host).map_err(bad)?)
        };
        Ok(HttpRule { host, port })
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.chars().all(|c| c.is_ascii_digit()) => Ok(port),
        _ => Err(format!("bad port {text:?}: a number from 1 to 65535")),
    }
}

/// A host name as a URL would carry it: lower case, international names in punycode,
/// labels of letters, digits, `-` and `_`.
fn host_name(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("no host name".into());
    }
    // The URL parser's own normalisation, so that the grant and the URL compare alike.
    let parsed = url::Host::parse(text).map_err(|e| format!("{text:?} is not a host name: {e}"))?;
    let name = match parsed {
        url::Host::Domain(name) => name,
        _ => {
            return Err(format!(
                "{text:?} is not a host name (an IPv4 address is written in full, as 10.0.0.1)"
            ))
        }
    };
    let name = name.strip_suffix('.').unwrap_or(&name).to_string();
    if name.len() > 253 {
        return Err(format!("{text:?} is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("{text:?} has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("{text:?} has a label longer than 63 characters"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "{text:?}: label {label:?} may hold only letters, digits, `-` and `_`"
            ));
        }
    }
    Ok(name)
}

impl fmt::Display for HttpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            GrantHost::Name(name) => write!(f, "{name}")?,
            GrantHost::Subdomains(domain) => write!(f, "*.{domain}")?,
            GrantHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            GrantHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl HttpRule {
    pub fn allows(&self, url: &reqwest::Url) -> bool {
        let port_ok = match self.port {
            Some(port) => url.port_or_known_default() == Some(port),
            // The URL parser drops a port equal to the scheme's default, so `None` here
            // is "the default port", written or not.
            None => url.port().is_none() && url.port_or_known_default().is_some(),
        };
        if !port_ok {
            return false;
        }
        match (&self.host, url.host()) {
            (GrantHost::Name(name), Some(url::Host::Domain(host))) => {
                host.strip_suffix('.').unwrap_or(host) == name
            }
            (GrantHost::Subdomains(domain), Some(url::Host::Domain(host))) => {
                let host = host.strip_suffix('.').unwrap_or(host);
                host.strip_suffix(domain.as_str())
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
            }
            (GrantHost::Ip(ip), Some(url::Host::Ipv4(host))) => *ip == IpAddr::V4(host),
            (GrantHost::Ip(ip), Some(url::Host::Ipv6(host))) => *ip == IpAddr::V6(host),
            _ => false,
        }
    }
}

/// An address or network a plugin may reach although it is not public
/// (`http_allow_addresses`): `10.1.2.0/24`, `127.0.0.1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRule {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for AddressRule {
    type Err = String;

    fn from_str(text: &str) -> Result<AddressRule, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            format!("http_allow_addresses entry {text:?}: {address:?} is not an IP address (write 10.1.2.0/24, 127.0.0.1 or fd00::/8)")
        })?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && p.chars().all(|c| c.is_ascii_digit()) => n,
                _ => {
                    return Err(format!(
                        "http_allow_addresses entry {text:?}: the prefix length must be a number from 0 to {max}"
                    ))
                }
            },
        };
        let rule = AddressRule { network, prefix };
        if rule.mask(network) != network {
            return Err(format!(
                "http_allow_addresses entry {text:?} has bits set past the /{prefix} prefix; the network is {}/{prefix}",
                rule.mask(network)
            ));
        }
        Ok(rule)
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl AddressRule {
    pub fn single(ip: IpAddr) -> AddressRule {
        let ip = canonical(ip);
        AddressRule {
            network: ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
        }
    }

    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4);
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(bits & mask))
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(bits & mask))
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && self.mask(ip) == self.network
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Why an address is not public, or `None` when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private (RFC 1918)")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT, 100.64.0.0/10)")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if a >= 240 {
        Some("reserved (240.0.0.0/4)")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local (fc00::/7)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local (fe80::/10)")
    } else if first & 0xffc0 == 0xfec0 {
        Some("site-local (fec0::/10)")
    } else if let Some(v4) = embedded_v4(ip) {
        // NAT64 and the old IPv4-compatible form reach the IPv4 address they carry.
        non_public_v4(v4)
    } else {
        None
    }
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0];
    (nat64 || compatible).then_some(tail)
}

/// How the names a plugin calls are turned into addresses: the system's resolver in the
/// hub; tests put in a fixed table to reach names that only they know.
pub trait NameLookup: Send + Sync + fmt::Debug {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// getaddrinfo, on tokio's blocking pool.
#[derive(Debug)]
pub struct SystemLookup;

impl NameLookup for SystemLookup {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Which hosts a plugin may call, what addresses they may resolve to, how it connects,
/// and how long and how much it may wait for.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// Empty means no HTTP at all.
    pub rules: Vec<HttpRule>,
    /// Addresses and networks allowed although not public (`http_allow_addresses`).
    pub addresses: Vec<AddressRule>,
    /// Extra roots and a client certificate, for the plugin's https calls.
    pub tls: ClientTls,
    pub lookup: Arc<dyn NameLookup>,
    pub timeout: Duration,
    /// The largest answer body taken; a longer one fails the call with `too-large`.
    pub max_response_bytes: u64,
}

/// A plugin's largest HTTP answer unless its `http_max_response_bytes` says otherwise.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1 << 20;

impl HttpGrant {
    pub fn none() -> Self {
        HttpGrant {
            rules: Vec::new(),
            addresses: Vec::new(),
            tls: ClientTls::default(),
            lookup: Arc::new(SystemLookup),
            timeout: Duration::from_secs(5),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Grants from `http_allow` text, as the command line takes them.
    pub fn parse(entries: &[String]) -> Result<Vec<HttpRule>, String> {
        entries.iter().map(|e| e.parse()).collect()
    }

    pub fn allows(&self, url: &reqwest::Url) -> bool {
        self.rules.iter().any(|rule| rule.allows(url))
    }

    /// `Err(why)` when the plugin may not connect to `ip`: it is not public, and neither
    /// `http_allow_addresses` nor an IP grant names it.
    pub fn address_allowed(&self, ip: IpAddr) -> Result<(), &'static str> {
        let Some(why) = non_public(ip) else {
            return Ok(());
        };
        let granted_literal = self
            .rules
            .iter()
            .any(|r| matches!(r.host, GrantHost::Ip(g) if canonical(g) == canonical(ip)));
        if granted_literal || self.addresses.iter().any(|a| a.contains(ip)) {
            Ok(())
        } else {
            Err(why)
        }
    }

    /// The plugin's own client: no redirects (a redirect could leave the granted hosts),
    /// no proxy from the environment (a proxy would resolve names where the address
    /// check cannot see), and the resolver that checks addresses.
    pub fn client(&self, plugin: &str) -> Result<reqwest::Client, String> {
        self.tls
            .client_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                plugin: plugin.into(),
                grant: self.clone(),
            }))
            .build()
            .map_err(|e| crate::tls::describe(&e))
    }
}

/// A plugin's call refused because of where its host resolved to.
#[derive(Debug)]
pub struct AddressRefused {
    pub plugin: String,
    pub host: String,
    pub address: IpAddr,
    pub why: &'static str,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = canonical(self.address);
        if self.host == address.to_string() {
            write!(f, "{address} is a {} address", self.why)?;
        } else {
            write!(
                f,
                "{} resolves to {address}, a {} address",
                self.host, self.why
            )?;
        }
        write!(
            f,
            ", which plugin {:?} may not reach; if it must, add \"{address}\" (or its network) to the plugin's http_allow_addresses",
            self.plugin
        )
    }
}

impl std::error::Error for AddressRefused {}

#[derive(Debug)]
struct CheckedResolver {
    plugin: String,
    grant: HttpGrant,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let lookup = self.grant.lookup.lookup(host.clone());
        let grant = self.grant.clone();
        let plugin = self.plugin.clone();
        Box::pin(async move {
            let addresses = lookup.await?;
            let mut allowed = Vec::new();
            let mut refused = None;
            for ip in addresses {
                match grant.address_allowed(ip) {
                    Ok(()) => allowed.push(SocketAddr::new(ip, 0)),
                    Err(why) => {
                        refused.get_or_insert((ip, why));
                    }
                }
            }
            if allowed.is_empty() {
                let Some((address, why)) = refused else {
                    return Err(format!("{host} has no address").into());
                };
                tracing::warn!(plugin = %plugin, host = %host, address = %address, reason = why, "plugin http call refused: the host resolves to a non-public address");
                return Err(Box::new(AddressRefused {
                    plugin,
                    host,
                    address,
                    why,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            // Only the allowed addresses are handed to the connector: a name that
            // resolves to a public and a private address connects to the public one.
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The `AddressRefused` somewhere in an error's causes.
pub fn address_refused<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a AddressRefused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<AddressRefused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> HttpRule {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
    }

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn grant_forms_parse_to_their_rules() {
        assert_eq!(
            rule("API.Example.ru"),
            HttpRule {
                host: GrantHost::Name("api.example.ru".into()),
                port: None
            }
        );
        assert_eq!(rule("api.example.ru:8443").port, Some(8443));
        assert_eq!(
            rule("*.gosuslugi.example:8443"),
            HttpRule {
                host: GrantHost::Subdomains("gosuslugi.example".into()),
                port: Some(8443)
            }
        );
        assert_eq!(
            rule("10.0.0.5:8080").host,
            GrantHost::Ip("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            rule("[::1]:443").host,
            GrantHost::Ip("::1".parse().unwrap())
        );
        assert_eq!(rule("[2001:db8::1]").port, None);
        match rule("кремль.рф").host {
            GrantHost::Name(name) => {
                assert!(
                    name.starts_with("xn--") && name.ends_with(".xn--p1ai"),
                    "{name}"
                )
            }
            other => panic!("{other:?}"),
        }
        for text in [
            "a.example",
            "*.example.ru:1",
            "10.0.0.1:65535",
            "[::1]:8080",
        ] {
            assert_eq!(rule(text).to_string(), text);
        }
    }

    #[test]
    fn bad_grants_are_refused_saying_why() {
        for (text, why) in [
            ("", "empty"),
            ("https://api.example.ru", "URL"),
            ("api.example.ru/path", "path"),
            ("api.example.ru:0", "bad port"),
            ("api.example.ru:65536", "bad port"),
            ("api.example.ru:+80", "bad port"),
            ("api.example.ru:", "bad port"),
            ("api.*.example.ru", "first label"),
            ("*.*.example.ru", "first label"),
            ("*", "first label"),
            ("*.", "no host name"),
            ("*example.ru", "first label"),
            ("::1", "brackets"),
            ("[::1", "not closed"),
            ("[::1]x", "expected `:port`"),
            ("[10.0.0.1]", "not an IPv6"),
            ("user@host", "user information"),
            (" host", "spaces"),
            ("a..b", "empty label"),
            ("-a.ru", "label"),
            ("10.0.0", "not a host name"),
        ] {
            let e = text
                .parse::<HttpRule>()
                .expect_err(&format!("{text:?} accepted"));
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_bare_host_allows_only_the_default_port() {
        let r = rule("api.example.ru");
        assert!(r.allows(&url("https://api.example.ru/x")));
        assert!(r.allows(&url("https://api.example.ru:443/x")));
        assert!(r.allows(&url("http://api.example.ru/x")));
        assert!(r.allows(&url("https://API.example.ru./x")));
        assert!(!r.allows(&url("https://api.example.ru:8443/x")));
        assert!(!r.allows(&url("http://api.example.ru:443/x")));
        assert!(!r.allows(&url("https://x.api.example.ru/")));
        let r = rule("api.example.ru:8443");
        assert!(r.allows(&url("https://api.example.ru:8443/")));
        assert!(!r.allows(&url("https://api.example.ru/")));
    }

    #[test]
    fn a_wildcard_allows_subdomains_on_its_port_only() {
        let r = rule("*.example.ru");
        assert!(r.allows(&url("https://a.example.ru/")));
        assert!(r.allows(&url("https://a.b.example.ru/")));
        assert!(!r.allows(&url("https://example.ru/")));
        assert!(!r.allows(&url("https://badexample.ru/")));
        assert!(!r.allows(&url("https://a.example.ru:8443/")));
        let r = rule("*.example.ru:8443");
        assert!(r.allows(&url("https://a.example.ru:8443/")));
        assert!(!r.allows(&url("https://a.example.ru/")));
    }

    #[test]
    fn ip_grants_match_ip_urls() {
        assert!(rule("127.0.0.1:8080").allows(&url("http://127.0.0.1:8080/")));
        // The URL parser reads other spellings of an IPv4 address as that address.
        assert!(rule("127.0.0.1:8080").allows(&url("http://2130706433:8080/")));
        assert!(!rule("127.0.0.1:8080").allows(&url("http://localhost:8080/")));
        assert!(rule("[::1]:8080").allows(&url("http://[::1]:8080/")));
    }

    #[test]
    fn non_public_addresses_are_named() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            let got = non_public(ip.parse().unwrap());
            assert!(got.is_some_and(|g| g.contains(why)), "{ip}: {got:?}");
        }
        for ip in [
            "8.8.8.8",
            "2a00:1450:4010::65",
            "100.128.0.1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(non_public(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn address_rules_contain_their_networks() {
        let net: AddressRule = "10.1.2.0/24".parse().unwrap();
        assert!(net.contains("10.1.2.200".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.7".parse().unwrap()));
        assert!(!net.contains("10.1.3.1".parse().unwrap()));
        let one: AddressRule = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: AddressRule = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        for bad in [
            "10.1.2.5/24",
            "10.0.0.0/33",
            "10.0.0.0/",
            "x/8",
            "10.0.0.0/+8",
        ] {
            assert!(bad.parse::<AddressRule>().is_err(), "{bad}");
        }
        let mut grant = HttpGrant::none();
        assert!(grant.address_allowed("10.1.2.3".parse().unwrap()).is_err());
        grant.addresses.push(net);
        assert!(grant.address_allowed("10.1.2.3".parse().unwrap()).is_ok());
        grant.rules.push(rule("192.168.0.9:8080"));
        assert!(grant
            .address_allowed("192.168.0.9".parse().unwrap())
            .is_ok());
        assert!(grant.address_allowed("8.8.8.8".parse().unwrap()).is_ok());
    }
}
