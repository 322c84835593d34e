//! A plugin's HTTP: grants parsed and port-aware, granted names that resolve to
//! non-public addresses refused unless the config names the address, the plugin's own
//! CA and client certificate, and the `Host` header set by the hub. The hostile plugin's
//! `http` mode makes the calls, in the real sandbox, to real servers on loopback.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use okno_hub::model::{Classification, Message};
use okno_hub::runtime::{
    AddressRule, CallError, HttpGrant, HttpRule, Limits, NameLookup, Plugin, Runtime,
    RuntimeOptions,
};
use okno_hub::tls::{ClientIdentity, ClientTls};
use okno_tests::tls::{Pki, Recorder};
use okno_tests::{plugin, plugin_context};

fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeOptions::default()).expect("engine")
}

fn grant(rules: &[&str], addresses: &[&str]) -> HttpGrant {
    HttpGrant {
        rules: rules
            .iter()
            .map(|r| r.parse::<HttpRule>().unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        addresses: addresses
            .iter()
            .map(|a| a.parse::<AddressRule>().unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        ..HttpGrant::none()
    }
}

/// `localhost` is 127.0.0.1 and, on most systems, ::1 too.
const LOOPBACK: &[&str] = &["127.0.0.1", "::1"];

fn hostile(rt: &Runtime, http: HttpGrant, settings: &[(&str, &str)]) -> Plugin {
    let mut all = vec![("mode", "http")];
    all.extend_from_slice(settings);
    let context = okno_hub::runtime::PluginContext {
        http,
        ..plugin_context("hostile", &all)
    };
    rt.load(&plugin("hostile"), None, None, context, Limits::default())
        .unwrap_or_else(|e| panic!("loading hostile: {e}"))
}

fn message() -> Message {
    let mut m: Message =
        serde_json::from_value(serde_json::json!({"channel": "mail", "body": "x"})).unwrap();
    m.id = "http-test".into();
    m.received_at = 1_790_000_000_000;
    m
}

/// Calls `url` from the plugin: `Ok(status)` or `Err(what the plugin was told)`.
async fn call(
    rt: &Runtime,
    http: HttpGrant,
    url: &str,
    settings: &[(&str, &str)],
) -> Result<u16, String> {
    let mut all = vec![("url", url)];
    all.extend_from_slice(settings);
    let p = hostile(rt, http, &all);
    match p.classify(&message(), &Classification::default()).await {
        Ok(c) => {
            let tag = c
                .tags
                .iter()
                .find_map(|t| t.strip_prefix("http-"))
                .unwrap_or_else(|| panic!("no http tag in {:?}", c.tags));
            Ok(tag.parse().unwrap())
        }
        Err(CallError::Plugin { error, .. }) => Err(error.message),
        Err(other) => panic!("expected the plugin to report the refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_name_that_resolves_to_loopback_is_refused_unless_its_address_is_allowed() {
    let rt = runtime();
    let server = Recorder::start(None).await;
    let url = format!("http://localhost:{}/probe", server.port());
    let rule = format!("localhost:{}", server.port());

    let refused = call(&rt, grant(&[&rule], &[]), &url, &[])
        .await
        .expect_err("loopback is not public");
    assert!(
        refused.contains("Denied")
            && refused.contains("localhost resolves to")
            && refused.contains("loopback")
            && refused.contains("http_allow_addresses"),
        "the plugin is told the host, the address and how to grant it: {refused}"
    );
    assert!(server.seen().is_empty(), "nothing reached the server");

    let status = call(&rt, grant(&[&rule], LOOPBACK), &url, &[])
        .await
        .unwrap_or_else(|e| panic!("allowed by http_allow_addresses: {e}"));
    assert_eq!(status, 200);
    assert_eq!(server.seen().len(), 1);

    // A network, not only the address.
    let status = call(&rt, grant(&[&rule], &["127.0.0.0/8", "::1/128"]), &url, &[])
        .await
        .unwrap_or_else(|e| panic!("allowed by a network: {e}"));
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_literal_grant_allows_that_address() {
    let rt = runtime();
    let server = Recorder::start(None).await;
    let url = format!("http://127.0.0.1:{}/probe", server.port());
    let status = call(
        &rt,
        grant(&[&format!("127.0.0.1:{}", server.port())], &[]),
        &url,
        &[],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    // The grant names 127.0.0.1; another loopback address is neither granted nor public.
    let other = call(
        &rt,
        grant(&[&format!("127.0.0.1:{}", server.port())], &[]),
        &format!("http://127.0.0.2:{}/probe", server.port()),
        &[],
    )
    .await
    .expect_err("127.0.0.2 is not granted");
    assert!(other.contains("not granted"), "{other}");
    assert_eq!(server.seen().len(), 1);
}

/// Names only the test knows, resolved to loopback, so that a wildcard grant can be
/// exercised; the hub's address check applies to what it answers like to any lookup.
#[derive(Debug)]
struct FixedLookup(BTreeMap<String, IpAddr>);

impl NameLookup for FixedLookup {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let found = self.0.get(&host).copied();
        Box::pin(async move {
            found.map(|ip| vec![ip]).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host} is unknown"))
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_port_aware() {
    let rt = runtime();
    let server = Recorder::start(None).await;
    let port = server.port();

    // A bare host is the scheme's default port only.
    let bare = call(
        &rt,
        grant(&["localhost"], LOOPBACK),
        &format!("http://localhost:{port}/"),
        &[],
    )
    .await
    .expect_err("a bare host does not grant another port");
    assert!(
        bare.contains("not granted") && bare.contains(&format!("localhost:{port}")),
        "{bare}"
    );

    let names = || {
        let mut g = grant(&[&format!("*.okno.test:{port}")], &["127.0.0.1"]);
        g.lookup = Arc::new(FixedLookup(BTreeMap::from([
            ("api.okno.test".to_string(), "127.0.0.1".parse().unwrap()),
            ("okno.test".to_string(), "127.0.0.1".parse().unwrap()),
        ])));
        g
    };
    let status = call(&rt, names(), &format!("http://api.okno.test:{port}/"), &[])
        .await
        .unwrap_or_else(|e| panic!("*.okno.test:{port} grants api.okno.test:{port}: {e}"));
    assert_eq!(status, 200);
    let other_port = call(&rt, names(), "http://api.okno.test/", &[])
        .await
        .expect_err("*.domain:port does not grant the default port");
    assert!(other_port.contains("not granted"), "{other_port}");
    let apex = call(&rt, names(), &format!("http://okno.test:{port}/"), &[])
        .await
        .expect_err("*.domain is subdomains only");
    assert!(apex.contains("not granted"), "{apex}");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "only the granted call arrived");
    assert_eq!(
        seen[0].headers["host"].to_str().unwrap(),
        format!("api.okno.test:{port}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_header_is_set_by_the_hub_not_the_plugin() {
    let rt = runtime();
    let server = Recorder::start(None).await;
    let port = server.port();
    let status = call(
        &rt,
        grant(&[&format!("localhost:{port}")], LOOPBACK),
        &format!("http://localhost:{port}/"),
        &[
            ("header.Host", "internal-admin.example"),
            ("header.Transfer-Encoding", "chunked"),
            ("header.Connection", "upgrade"),
            ("header.X-Request-Id", "kept"),
        ],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0].headers;
    assert_eq!(
        headers["host"].to_str().unwrap(),
        format!("localhost:{port}"),
        "{headers:?}"
    );
    assert_eq!(headers.get_all("host").iter().count(), 1, "{headers:?}");
    assert!(headers.get("transfer-encoding").is_none(), "{headers:?}");
    assert_ne!(
        headers.get("connection").map(|v| v.to_str().unwrap()),
        Some("upgrade"),
        "{headers:?}"
    );
    assert_eq!(headers["x-request-id"].to_str().unwrap(), "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_its_https_grant_with_its_ca_and_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let rt = runtime();
    // An SMEV-like receiver: HTTPS under a CA of its own, client certificate required.
    let server = Recorder::start(Some(pki.server_tls(true))).await;
    let port = server.port();
    let url = format!("https://localhost:{port}/smev");
    let tls = ClientTls {
        extra_roots: okno_hub::tls::read_ca_certificates(&pki.ca).unwrap(),
        identity: Some(ClientIdentity::load(&pki.client_cert, &pki.client_key).unwrap()),
    };
    let with_tls = |tls: ClientTls| HttpGrant {
        tls,
        ..grant(&[&format!("localhost:{port}")], LOOPBACK)
    };

    let status = call(&rt, with_tls(tls.clone()), &url, &[])
        .await
        .unwrap_or_else(|e| panic!("the https grant with CA and certificate: {e}"));
    assert_eq!(status, 200);
    assert_eq!(server.seen().len(), 1);

    let unknown_ca = call(&rt, with_tls(ClientTls::default()), &url, &[])
        .await
        .expect_err("the receiver's CA is in no system store");
    assert!(unknown_ca.contains("UnknownIssuer"), "{unknown_ca}");

    let no_certificate = call(
        &rt,
        with_tls(ClientTls {
            identity: None,
            ..tls
        }),
        &url,
        &[],
    )
    .await
    .expect_err("the receiver demands a client certificate");
    // Under TLS 1.3 the server judges the client's certificate after the client has
    // finished its side of the handshake: its alert may come as the reason or as a
    // connection closed under the request. Either way the call fails in transport.
    assert!(
        no_certificate.contains("Transport") && no_certificate.contains("/smev"),
        "{no_certificate}"
    );
    assert_eq!(
        server.seen().len(),
        1,
        "only the call with the certificate got in"
    );
}

#[test]
fn a_bad_grant_is_a_config_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = plugin("hostile");
    let text = format!(
        "[[plugins]]\nname = \"h\"\nkind = \"classifier\"\nfile = \"{}\"\nsha256 = \"{}\"\nhttp_allow = [\"api.example.ru\",\n  \"https://api.example.ru/v1\", \"*.example.ru:8443\", \"api.*.example.ru\"]\nhttp_allow_addresses = [\"10.1.2.5/24\"]\n",
        hostile.display(),
        okno_tests::sha256_of(&hostile)
    );
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, &text).unwrap();
    // `okno route check`, as an admin runs it.
    let e = okno_hub::cli::route::check(&path)
        .expect_err("bad grants are refused")
        .to_string();
    assert!(
        e.contains(
            "okno.toml:7:3: plugin \"h\": http_allow entry \"https://api.example.ru/v1\" is a URL"
        ),
        "{e}"
    );
    assert!(
        e.contains("okno.toml:7:53: plugin \"h\": http_allow entry \"api.*.example.ru\"")
            && e.contains("first label"),
        "{e}"
    );
    assert!(
        e.contains("okno.toml:8:25: plugin \"h\": http_allow_addresses entry \"10.1.2.5/24\"")
            && e.contains("10.1.2.0/24"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 3, "the good entries pass: {e}");

    // `okno plugin run --http-allow` refuses it before running anything.
    let rt = runtime();
    let err = okno_hub::cli::plugin::load_local(
        &rt,
        &hostile,
        vec![],
        vec!["api.example.ru:99999".into()],
        Limits::default(),
    )
    .err()
    .expect("a bad --http-allow is refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("--http-allow") && err.contains("bad port \"99999\""),
        "{err}"
    );
}
