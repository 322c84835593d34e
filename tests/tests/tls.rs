//! TLS out (sinks verified with the configured CA, presenting a client certificate) and
//! in (the hub's listener over HTTPS only, client certificates when asked), with a real
//! PKI generated per test and real handshakes.

use std::path::Path;
use std::time::{Duration, Instant};

use okno_hub::cli::serve;
use okno_hub::config::Config;
use okno_hub::store::DeliveryState;
use okno_tests::hub_config::{config_error, plugin_entry};
use okno_tests::tls::{Pki, Recorder};
use okno_tests::*;

const LIMIT: Duration = Duration::from_secs(60);

fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

fn sink(name: &str, url: &str, max_attempts: u32, tls_lines: &str) -> String {
    format!(
        "[[sinks]]\nname = \"{name}\"\ntransport = \"http\"\nurl = \"{url}\"\nconnector = \"http-json\"\nmax_attempts = {max_attempts}\nbackoff_ms = 50\nmax_backoff_ms = 200\ntimeout_ms = 5000\n{tls_lines}\n"
    )
}

fn route_to(sinks: &[&str]) -> String {
    let names: Vec<String> = sinks.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "[[routes]]\nname = \"all\"\nsinks = [{}]\n",
        names.join(", ")
    )
}

async fn post_one(addr: &str, message_id: &str) -> String {
    let (status, body) = post_mail(
        addr,
        mail(
            message_id,
            "Вопрос",
            "Подскажите, как получить субсидию на оплату ЖКУ?",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    body["ids"][0].as_str().expect("an id").to_string()
}

/// Waits until every delivery of the message is delivered or dead, and returns them.
async fn settled(
    hub: &okno_hub::pipeline::Hub,
    id: &str,
    sinks: usize,
) -> std::collections::BTreeMap<String, okno_hub::store::Delivery> {
    let done = || {
        hub.store.get(id).ok().flatten().filter(|r| {
            r.deliveries.len() == sinks
                && r.deliveries
                    .values()
                    .all(|d| d.state != DeliveryState::Pending)
        })
    };
    eventually("every delivery delivered or dead", LIMIT, || {
        done().is_some()
    })
    .await;
    done().expect("settled").deliveries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_sink_is_verified_with_the_configured_ca_and_gets_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    // The receiver demands a client certificate from the test CA.
    let receiver = Recorder::start(Some(pki.server_tls(true))).await;
    let base = format!("https://127.0.0.1:{}", receiver.port());
    let ca = format!("ca_file = {}\n", quoted(&pki.ca));
    let cert = format!(
        "client_cert_file = {}\nclient_key_file = {}\n",
        quoted(&pki.client_cert),
        quoted(&pki.client_key)
    );
    let sinks = [
        sink(
            "with-cert",
            &format!("{base}/with-cert"),
            5,
            &format!("{ca}{cert}"),
        ),
        sink("without-cert", &format!("{base}/without-cert"), 1, &ca),
        // The test CA is in no system store: without ca_file the receiver is unknown.
        sink("no-ca", &format!("{base}/no-ca"), 1, &cert),
        route_to(&["with-cert", "without-cert", "no-ca"]),
    ]
    .concat();
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config(dir.path(), &listen, &sinks, &[]);
    let (hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    let id = post_one(&addr.to_string(), "tls-sink-1@example.ru").await;
    let deliveries = settled(&hub, &id, 3).await;

    assert_eq!(
        deliveries["with-cert"].state,
        DeliveryState::Delivered,
        "{deliveries:?}"
    );
    let seen = receiver.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["/with-cert"],
        "only the sink with the certificate got in"
    );
    assert_eq!(
        seen[0].headers["idempotency-key"].to_str().unwrap(),
        id.as_str()
    );
    let delivered: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(delivered["id"], id.as_str());

    let without = &deliveries["without-cert"];
    assert_eq!(without.state, DeliveryState::Dead, "{deliveries:?}");
    let error = without.last_error.as_deref().unwrap_or("");
    // Under TLS 1.3 the receiver's "certificate required" alert may come as the reason
    // or as a connection closed under the request; the error names the sink's URL.
    assert!(
        error.contains("sending to https://127.0.0.1") && error.contains("/without-cert"),
        "{error}"
    );
    let no_ca = &deliveries["no-ca"];
    assert_eq!(no_ca.state, DeliveryState::Dead, "{deliveries:?}");
    let error = no_ca.last_error.as_deref().unwrap_or("");
    assert!(
        error.contains("UnknownIssuer"),
        "the error says the receiver's certificate is from an unknown CA: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_wide_ca_is_trusted_by_every_sink() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let receiver = Recorder::start(Some(pki.server_tls(false))).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let hub_settings = format!(
        "workers = 2\ntls_client = {{ ca_file = {} }}",
        quoted(&pki.ca)
    );
    let sinks = [
        // By name: the certificate is checked against `localhost` as well as the CA.
        sink(
            "registry",
            &format!("https://localhost:{}/registry", receiver.port()),
            5,
            "",
        ),
        route_to(&["registry"]),
    ]
    .concat();
    let config = write_config_with(dir.path(), &listen, &hub_settings, &sinks, &[]);
    let (hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    let id = post_one(&addr.to_string(), "tls-hub-ca@example.ru").await;
    let deliveries = settled(&hub, &id, 1).await;
    assert_eq!(
        deliveries["registry"].state,
        DeliveryState::Delivered,
        "{deliveries:?}"
    );
    assert_eq!(receiver.seen().len(), 1);
}

async fn start_tls_hub(dir: &Path, pki: &Pki, client_ca: bool) -> String {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut tls = format!(
        "cert_file = {}, key_file = {}",
        quoted(&pki.server_cert),
        quoted(&pki.server_key)
    );
    if client_ca {
        tls.push_str(&format!(", client_ca_file = {}", quoted(&pki.ca)));
    }
    let config = write_config_with(
        dir,
        &listen,
        &format!("workers = 2\ntls = {{ {tls} }}"),
        &one_sink("http://127.0.0.1:9/unused", 1),
        &[],
    );
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts with TLS");
    // The hub lives as long as the test's runtime: its tasks hold it.
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_answers_over_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let addr = start_tls_hub(dir.path(), &pki, false).await;
    let client = pki.client(false);

    let health = client
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .expect("the hub answers over https");
    assert_eq!(health.status(), 200);

    let url = format!("https://{addr}/v1/messages?limit=1");
    let listing = client
        .get(&url)
        .header("authorization", bearer(&url))
        .send()
        .await
        .expect("the API answers over https");
    assert_eq!(listing.status(), 200, "{:?}", listing.text().await);

    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain http to the TLS listener got an answer: {plain:?}"
    );

    // A client that does not trust the test CA refuses the hub's certificate.
    let stranger = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    let refused = stranger
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .expect_err("an unknown CA is refused");
    assert!(
        okno_hub::tls::describe(&refused).contains("UnknownIssuer"),
        "{}",
        okno_hub::tls::describe(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_the_hub_demands_a_certificate_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let addr = start_tls_hub(dir.path(), &pki, true).await;
    let url = format!("https://{addr}/healthz");

    let with = pki
        .client(true)
        .get(&url)
        .send()
        .await
        .expect("a client certificate from the CA is let in");
    assert_eq!(with.status(), 200);

    let without = pki.client(false).get(&url).send().await;
    assert!(without.is_err(), "no client certificate: {without:?}");

    let mut pem = std::fs::read(&pki.other_client_cert).unwrap();
    pem.extend(std::fs::read(&pki.other_client_key).unwrap());
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let other = stranger.get(&url).send().await;
    assert!(other.is_err(), "a certificate from another CA: {other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_does_not_hold_up_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let addr = start_tls_hub(dir.path(), &pki, false).await;
    // Connections that never send a ClientHello.
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let health = pki
        .client(false)
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .expect("the hub answers past stalled handshakes");
    assert_eq!(health.status(), 200);
    let took = started.elapsed();
    // The handshake deadline is okno_hub::tls::HANDSHAKE_TIMEOUT (10 s): an answer well
    // before it means the stalled ones were not in the way.
    assert!(
        took < okno_hub::tls::HANDSHAKE_TIMEOUT / 2,
        "answered after {took:?}"
    );
    drop(stalled);
}

/// `okno.toml:LINE:COLUMN` of the first `needle` in `text`.
fn position(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the config"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("okno.toml:{line}:{column}")
}

#[test]
fn tls_files_are_checked_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    // The config below names the PKI's files relative to its own directory.
    Pki::new(dir.path());
    let connector = plugin_entry("http-json", "connector", &plugin("http-json"), "");
    let with_sink = |hub: &str, tls_lines: &str, url: &str| {
        format!(
            "[hub]\n{hub}\n\n{connector}{}{}",
            sink("s", url, 1, tls_lines),
            route_to(&["s"])
        )
    };
    let https = "https://127.0.0.1:1/x";

    // Relative paths are taken from the config file's directory.
    let good = with_sink(
        "tls_client = { ca_file = \"ca.pem\" }",
        "ca_file = \"ca.pem\"\nclient_cert_file = \"client.pem\"\nclient_key_file = \"client.key\"",
        https,
    );
    let path = dir.path().join("okno.toml");
    std::fs::write(&path, &good).unwrap();
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{good}"));
    let tls = config.sinks[0]
        .tls
        .as_ref()
        .expect("the sink's TLS settings");
    assert_eq!(tls.extra_roots.len(), 2, "the hub's CA and the sink's");
    assert!(tls.identity.is_some());

    let text = with_sink(
        "tls = { cert_file = \"missing.pem\", key_file = \"server.key\" }",
        "",
        https,
    );
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{}: hub.tls.cert_file: cannot read",
            position(&text, "\"missing.pem\"")
        )) && e.contains("missing.pem"),
        "{e}"
    );

    let text = with_sink(
        "tls = { cert_file = \"server.pem\", key_file = \"client.key\" }",
        "",
        https,
    );
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&position(&text, "\"client.key\"")) && e.contains("does not belong"),
        "{e}"
    );

    let text = with_sink("", "ca_file = \"client.key\"", https);
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&position(&text, "\"client.key\""))
            && e.contains("sink \"s\": ca_file")
            && e.contains("holds no PEM certificate"),
        "{e}"
    );

    let text = with_sink("", "client_cert_file = \"client.pem\"", https);
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&position(&text, "\"client.pem\"")) && e.contains("needs client_key_file"),
        "{e}"
    );

    let text = with_sink(
        "",
        "client_cert_file = \"client.pem\"\nclient_key_file = \"server.key\"",
        https,
    );
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&position(&text, "\"server.key\"")) && e.contains("does not belong"),
        "{e}"
    );

    let text = with_sink("", "ca_file = \"ca.pem\"", "http://127.0.0.1:1/x");
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&position(&text, "\"ca.pem\"")) && e.contains("is not https"),
        "{e}"
    );

    std::fs::write(
        dir.path().join("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = with_sink("tls_client = { ca_file = \"garbage.pem\" }", "", https);
    let e = config_error(dir.path(), &text);
    assert!(
        e.contains(&format!(
            "{}: hub.tls_client.ca_file",
            position(&text, "\"garbage.pem\"")
        )),
        "{e}"
    );
}
