//! TLS for the hub: the listener's certificate (and the client CAs it may demand), and
//! what outbound clients trust and present. Every file is read and checked when the
//! config is, so that a missing or broken file is a config error with its position, not
//! a failure at the first delivery.
//!
//! One crypto provider, ring, as reqwest's rustls uses it: a second provider in the
//! binary would make rustls refuse to pick a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// CA certificates to trust, from a PEM file: each must be usable as a trust anchor.
pub fn read_ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = read_certificates(path)?;
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots.add(cert.clone()).map_err(|e| {
            format!(
                "certificate {} in {} is not usable as a CA: {e}",
                i + 1,
                path.display()
            )
        })?;
    }
    Ok(certs)
}

/// The PEM certificates in a file: at least one, each parseable as X.509.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    for (i, cert) in certs.iter().enumerate() {
        // The same parse rustls applies to a peer's certificate: a file that passes here
        // does not fail at the first connection.
        webpki_parse(cert).map_err(|e| {
            format!(
                "certificate {} in {} is not a valid X.509 certificate: {e}",
                i + 1,
                path.display()
            )
        })?;
    }
    Ok(certs)
}

fn webpki_parse(cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
    rustls::server::ParsedCertificate::try_from(cert).map(|_| ())
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        format!(
            "{} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            path.display()
        )
    })
}

/// Checks that the key is one rustls can sign with and belongs to the chain's first
/// certificate; names the key file when it does not.
fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    cert_file: &Path,
    key_file: &Path,
) -> Result<rustls::sign::CertifiedKey, String> {
    rustls::sign::CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "the private key in {} does not belong to the certificate in {}",
            key_file.display(),
            cert_file.display()
        ),
        other => format!(
            "the private key in {} is refused: {other}",
            key_file.display()
        ),
    })
}

/// Which file a TLS error is about, so the config can point at the key that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    Cert,
    Key,
    Ca,
}

/// A certificate chain and its key, as a client presents them (PEM text, which is what
/// reqwest takes).
#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pem: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    // The key's bytes stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Reads and checks a client certificate and its key; the error says which of the
    /// two files is at fault.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<ClientIdentity, (TlsFile, String)> {
        let chain = read_certificates(cert_file).map_err(|e| (TlsFile::Cert, e))?;
        let key = read_private_key(key_file).map_err(|e| (TlsFile::Key, e))?;
        let certified = certified_key(chain, key.clone_key(), cert_file, key_file)
            .map_err(|e| (TlsFile::Key, e))?;
        let mut pem = Vec::new();
        for cert in &certified.cert {
            pem.extend_from_slice(pem_block("CERTIFICATE", cert.as_ref()).as_bytes());
        }
        let key_label = match &key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem.extend_from_slice(pem_block(key_label, key.secret_der()).as_bytes());
        Ok(ClientIdentity {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            pem,
        })
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// What an outbound client trusts besides the system roots, and what it presents.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// Extra trusted roots: the hub's `[hub.tls_client] ca_file`, then a sink's or
    /// plugin's own `ca_file`.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// A client certificate, for systems that demand one (SMEV adapters do).
    pub identity: Option<ClientIdentity>,
}

impl ClientTls {
    /// These settings on top of `base` (the hub-wide ones): roots add up, and this
    /// identity, if any, is the one presented.
    pub fn over(&self, base: &ClientTls) -> ClientTls {
        let mut extra_roots = base.extra_roots.clone();
        extra_roots.extend(self.extra_roots.iter().cloned());
        ClientTls {
            extra_roots,
            identity: self.identity.clone().or_else(|| base.identity.clone()),
        }
    }

    pub fn is_default(&self) -> bool {
        self.extra_roots.is_empty() && self.identity.is_none()
    }

    /// A reqwest client builder on rustls with the system roots and these settings.
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, String> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(true);
        for root in &self.extra_roots {
            let cert = reqwest::Certificate::from_der(root.as_ref())
                .map_err(|e| format!("an extra CA certificate is refused: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(identity) = &self.identity {
            let id = reqwest::Identity::from_pem(&identity.pem).map_err(|e| {
                format!(
                    "the client certificate {} is refused: {}",
                    identity.cert_file.display(),
                    describe(&e)
                )
            })?;
            builder = builder.identity(id);
        }
        Ok(builder)
    }
}

/// An error with its causes, `outer: inner: innermost`: reqwest's own text ("error
/// sending request") says nothing of a TLS alert or a refused address underneath.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text
}

/// The listener's TLS: its certificate and key, and the CAs whose client certificates it
/// demands when `client_ca_file` is given.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub requires_client_certificate: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field(
                "requires_client_certificate",
                &self.requires_client_certificate,
            )
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    pub fn load(
        cert_file: &Path,
        key_file: &Path,
        client_ca_file: Option<&Path>,
    ) -> Result<ServerTls, (TlsFile, String)> {
        let chain = read_certificates(cert_file).map_err(|e| (TlsFile::Cert, e))?;
        let key = read_private_key(key_file).map_err(|e| (TlsFile::Key, e))?;
        let certified =
            certified_key(chain, key, cert_file, key_file).map_err(|e| (TlsFile::Key, e))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| (TlsFile::Cert, format!("TLS versions: {e}")))?;
        let builder = match client_ca_file {
            None => builder.with_no_client_auth(),
            Some(ca_file) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_ca_certificates(ca_file).map_err(|e| (TlsFile::Ca, e))? {
                    roots
                        .add(cert)
                        .map_err(|e| (TlsFile::Ca, format!("{}: {e}", ca_file.display())))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()
                .map_err(|e| (TlsFile::Ca, format!("{}: {e}", ca_file.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(SingleCert(Arc::new(certified))));
        // The API speaks HTTP/1.1 (axum is built without HTTP/2).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            requires_client_certificate: client_ca_file.is_some(),
        })
    }
}

/// The one certificate the listener has, whatever name the client asks for.
#[derive(Debug)]
struct SingleCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for SingleCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; past it, accepting waits for one to finish.
const MAX_HANDSHAKES: usize = 256;

/// A listener that hands axum only connections whose TLS handshake is done. Handshakes
/// run in tasks of their own with a deadline, so a client that connects and stalls holds
/// up nobody else.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `tcp`. `config` is asked for the server config per connection,
    /// so a reload that renews the certificate applies to the next handshake.
    pub fn start(
        tcp: TcpListener,
        config: impl Fn() -> Arc<rustls::ServerConfig> + Send + Sync + 'static,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = tokio::select! {
                    accepted = tcp.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of file descriptors and the like: wait rather than spin.
                            tracing::warn!(error = %e, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = sender.closed() => return,
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(config());
                let sender = sender.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    drop(permit);
                    match handshake {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => {
                            tracing::debug!(%peer, timeout_s = HANDSHAKE_TIMEOUT.as_secs(), "TLS handshake timed out")
                        }
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when this receiver is gone; never reached while
            // the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_read_back_as_the_same_bytes() {
        for len in [0usize, 1, 2, 3, 4, 47, 48, 49, 100, 1000] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pem = pem_block("CERTIFICATE", &der);
            let back = CertificateDer::from_pem_slice(pem.as_bytes())
                .unwrap_or_else(|e| panic!("{len} bytes: {e}\n{pem}"));
            assert_eq!(back.as_ref(), der.as_slice(), "{len} bytes");
            assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
        }
    }

    #[test]
    fn causes_are_spelled_out_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "sending failed")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("certificate required"));
        assert_eq!(describe(&e), "sending failed: certificate required");
    }
}
