//! `okno serve`: the hub with its HTTP API, until Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::pipeline::{Hub, Overrides};

/// Starts the hub and its API; returns the hub and the address it listens on.
pub async fn start(
    config: PathBuf,
    overrides: Overrides,
) -> anyhow::Result<(Arc<Hub>, std::net::SocketAddr)> {
    let hub = Hub::start(config, overrides).await?;
    let listen = hub.active().config.hub.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let app = crate::api::router(hub.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the API server stopped");
        }
    });
    #[cfg(unix)]
    {
        let hub = hub.clone();
        tokio::spawn(async move {
            let Ok(mut hangup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hangup.recv().await.is_some() {
                if let Err(e) = hub.reload() {
                    tracing::error!(error = %format!("{e:#}"), "reload on SIGHUP refused; the old configuration stays");
                }
            }
        });
    }
    Ok((hub, addr))
}

pub async fn serve(config: PathBuf, overrides: Overrides) -> anyhow::Result<()> {
    let (_hub, addr) = start(config, overrides).await?;
    tracing::info!(%addr, "okno is serving; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping");
    Ok(())
}
