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
    let limits = crate::transport::http_in::ServerLimits::from_config(&hub.active().config.hub);
    let started_tls = hub
        .active()
        .config
        .hub
        .tls
        .as_ref()
        .and_then(|t| t.loaded.clone());
    match started_tls {
        None => {
            tokio::spawn(async move {
                crate::transport::http_in::serve(listener, app, limits).await;
            });
        }
        Some(started) => {
            // HTTPS only. Each handshake takes the configuration in force, so a reload
            // with renewed certificate files applies to new connections (a reload cannot
            // turn TLS off; see `Hub::reload`).
            let current = hub.clone();
            let listener = crate::tls::TlsListener::start(listener, move || {
                current
                    .active()
                    .config
                    .hub
                    .tls
                    .as_ref()
                    .and_then(|t| t.loaded.as_ref())
                    .unwrap_or(&started)
                    .config
                    .clone()
            })
            .with_context(|| format!("listening with TLS on {listen}"))?;
            tokio::spawn(async move {
                crate::transport::http_in::serve(listener, app, limits).await;
            });
        }
    }
    crate::transport::smtp::start_sources(&hub).await?;
    crate::transport::poll::start(&hub);
    crate::transport::dir::start(&hub);
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
                let result = hub.reload();
                let changes = match &result {
                    Ok(()) => serde_json::json!({"result": "reloaded"}),
                    Err(e) => {
                        serde_json::json!({"result": "refused", "reason": crate::observability::for_log(&format!("{e:#}"))})
                    }
                };
                if let Err(e) = &result {
                    tracing::error!(error = %crate::observability::for_log(&format!("{e:#}")), "reload on SIGHUP refused; the old configuration stays");
                }
                let entry = hub.audit.append(crate::audit::Action {
                    actor: "signal:SIGHUP",
                    role: "admin",
                    action: "reload",
                    target: &hub.config_path().display().to_string(),
                    changes,
                });
                if let Err(e) = entry {
                    tracing::error!(error = %format!("{e:#}"), "the reload on SIGHUP could not be recorded in the audit log");
                }
            }
        });
    }
    Ok((hub, addr))
}

pub async fn serve(config: PathBuf, overrides: Overrides) -> anyhow::Result<()> {
    let (hub, addr) = start(config, overrides).await?;
    let scheme = if hub.active().config.hub.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, scheme, "okno is serving; Ctrl-C stops it");
    tokio::select! {
        stop = tokio::signal::ctrl_c() => stop?,
        // sled stopped after an I/O error and the disk takes writes again: the store is
        // opened anew by running the hub anew in this process.
        () = hub.store.durability.reopen_wanted() => {
            tracing::warn!("opening the store again: the hub starts anew in this process");
            let error = crate::store::reexec();
            return Err(error).context("executing the hub anew to reopen its store");
        }
    }
    tracing::info!("stopping");
    Ok(())
}
