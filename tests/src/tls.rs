//! A test PKI written as PEM files: a CA, a server certificate from it for `localhost`
//! and 127.0.0.1, a client certificate from it, and a second CA that nobody trusts with a
//! client certificate of its own. Plus HTTP(S) servers that record what reaches them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::Router;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The PEM files of the test PKI.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that no configuration in the tests trusts.
    pub other_ca: PathBuf,
    /// A client certificate issued by `other_ca`.
    pub other_client_cert: PathBuf,
    pub other_client_key: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    (params, key, cert.pem())
}

fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    name: &str,
    alt_names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let alt_names: Vec<String> = alt_names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(alt_names).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("leaf certificate");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

impl Pki {
    /// Generates the PKI into `dir` (fresh keys every time).
    pub fn new(dir: &Path) -> Pki {
        let (ca_params, ca_key, ca_pem) = ca("Okno test CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let (server_pem, server_key) = leaf(
            &issuer,
            "localhost",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key) = leaf(
            &issuer,
            "okno-hub",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (other_params, other_key, other_pem) = ca("Untrusted test CA");
        let other = Issuer::new(other_params, other_key);
        let (other_client_pem, other_client_key) =
            leaf(&other, "okno-hub", &[], ExtendedKeyUsagePurpose::ClientAuth);
        Pki {
            ca: write(dir, "ca.pem", &ca_pem),
            server_cert: write(dir, "server.pem", &server_pem),
            server_key: write(dir, "server.key", &server_key),
            client_cert: write(dir, "client.pem", &client_pem),
            client_key: write(dir, "client.key", &client_key),
            other_ca: write(dir, "other-ca.pem", &other_pem),
            other_client_cert: write(dir, "other-client.pem", &other_client_pem),
            other_client_key: write(dir, "other-client.key", &other_client_key),
        }
    }

    /// The listener's TLS as the hub builds it: the server certificate, and client
    /// certificates from the test CA demanded when `require_client_cert`.
    pub fn server_tls(&self, require_client_cert: bool) -> okno_hub::tls::ServerTls {
        okno_hub::tls::ServerTls::load(
            &self.server_cert,
            &self.server_key,
            require_client_cert.then_some(self.ca.as_path()),
        )
        .unwrap_or_else(|(file, e)| panic!("test server TLS ({file:?}): {e}"))
    }

    /// A client that trusts the test CA only, presenting the test client certificate
    /// when `with_client_cert`.
    pub fn client(&self, with_client_cert: bool) -> reqwest::Client {
        let ca = std::fs::read(&self.ca).expect("CA file");
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"));
        if with_client_cert {
            let mut pem = std::fs::read(&self.client_cert).expect("client certificate");
            pem.extend(std::fs::read(&self.client_key).expect("client key"));
            builder = builder.identity(reqwest::Identity::from_pem(&pem).expect("identity PEM"));
        }
        builder.build().expect("test https client")
    }
}

/// One request a recording server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

/// A server on 127.0.0.1 that answers 200 to anything and records what it got.
#[derive(Clone)]
pub struct Recorder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    /// Starts it, over TLS when `tls` is given (the hub's own TLS listener).
    pub async fn start(tls: Option<okno_hub::tls::ServerTls>) -> Recorder {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app = Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: HeaderMap,
                  body: String| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        headers,
                        body,
                    });
                    "recorded"
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the recorder");
        let addr = listener.local_addr().expect("recorder address");
        match tls {
            None => {
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            Some(tls) => {
                let listener =
                    okno_hub::tls::TlsListener::start(listener, move || tls.config.clone())
                        .expect("TLS listener");
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
        }
        Recorder { addr, seen }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
