//! SMTP in: a listener per source with `transport = "smtp"`, answering `250` only once
//! the message is journaled through the same ingest an HTTP-posted message takes.
//!
//! - `session`: one connection's protocol (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
//!   ENHANCEDSTATUSCODES, STARTTLS and AUTH PLAIN/LOGIN), generic over a [`Backend`].
//! - `source`: the backend of a configured source: recipients from its config, relay
//!   logins from the token store, messages into the pipeline's ingest.
//! - `config`: `[sources.smtp]` and `[sinks.smtp]`.
//!
//! SMTP out is `transport::smtp_sink`.

pub mod config;
pub mod session;
mod source;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use session::{Backend, Delivered, Limits};
pub use source::SourceBackend;

/// Binds `listen` and serves SMTP sessions into `backend` until the process ends, at
/// most `max_connections` at once (more wait in the kernel's backlog). Returns the
/// address bound.
pub async fn listen<B: Backend>(
    listen: &str,
    limits: Limits,
    max_connections: usize,
    backend: Arc<B>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening for SMTP on {listen}"))?;
    let addr = listener.local_addr()?;
    let limits = Arc::new(limits);
    let connections = Arc::new(Semaphore::new(max_connections));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = connections.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting an SMTP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (limits, backend) = (limits.clone(), backend.clone());
            tokio::spawn(async move {
                session::run(stream, peer, limits, backend).await;
                drop(permit);
            });
        }
    });
    Ok(addr)
}

/// Starts the listener of every source with `transport = "smtp"`; returns each source's
/// name and bound address. Called once at start: a reload keeps these listeners, and
/// their recipients and logins follow the configuration in force.
pub async fn start_sources(
    hub: &Arc<crate::pipeline::Hub>,
) -> anyhow::Result<Vec<(String, SocketAddr)>> {
    let active = hub.active();
    let mut bound = Vec::new();
    for source in &active.config.sources {
        let Some(smtp) = source.smtp.as_ref() else {
            continue;
        };
        let name = source.name.get_ref().clone();
        let limits = Limits {
            hostname: smtp.hostname.clone(),
            max_message_bytes: smtp.max_message_bytes,
            max_recipients: smtp.max_recipients,
            command_timeout: Duration::from_millis(smtp.command_timeout_ms),
            data_timeout: Duration::from_millis(smtp.data_timeout_ms),
            tls: smtp
                .tls
                .as_ref()
                .and_then(|t| t.loaded.as_ref())
                .map(|t| t.config.clone()),
            require_tls: smtp.require_tls,
            auth: smtp.auth,
            require_auth: smtp.require_auth,
        };
        let backend = Arc::new(SourceBackend::new(hub.clone(), &name));
        let addr = listen(smtp.listen.get_ref(), limits, smtp.max_connections, backend)
            .await
            .with_context(|| format!("source {name:?}"))?;
        tracing::info!(source = %name, %addr, "SMTP listener started");
        bound.push((name, addr));
    }
    Ok(bound)
}
