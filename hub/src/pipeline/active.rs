//! The configuration in force, with its plugins loaded: swapped as a whole on reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::runtime::kv::DEFAULT_QUOTA_MIB;
use crate::runtime::{Limits, Plugin, PluginContext, Runtime};
use crate::store::Store;
use crate::tls::ClientTls;

pub struct Active {
    pub config: Config,
    pub plugins: HashMap<String, Arc<Plugin>>,
    /// The client of sinks without TLS settings of their own (the hub-wide CA only).
    sink_client: reqwest::Client,
    /// One client per sink with its own CA or client certificate.
    own_sink_clients: HashMap<String, reqwest::Client>,
    /// The relay client of each `smtp` sink.
    smtp_sinks: HashMap<String, crate::transport::smtp_sink::SmtpSink>,
}

fn build_sink_client(tls: &ClientTls) -> Result<reqwest::Client, String> {
    // A redirect would deliver to a URL the admin did not configure.
    tls.client_builder()?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| crate::tls::describe(&e))
}

impl Active {
    pub fn load(config: Config, runtime: &Runtime, store: &Store) -> anyhow::Result<Active> {
        let mut plugins = HashMap::new();
        for p in &config.plugins {
            let name = p.name.get_ref().clone();
            let context = PluginContext {
                name: name.clone(),
                settings: Config::flat_settings(p),
                http: p.http_grant(),
                kv: store.plugin_kv(
                    &name,
                    p.kv_quota_mib
                        .unwrap_or(DEFAULT_QUOTA_MIB)
                        .saturating_mul(1 << 20),
                )?,
                fixed_now: None,
                utc_offset_minutes: config.hub.utc_offset_minutes,
            };
            let limits = Limits {
                cpu: Duration::from_millis(p.cpu_ms.unwrap_or(config.hub.plugin_cpu_ms)),
                wall: Duration::from_millis(p.wall_ms.unwrap_or(config.hub.plugin_wall_ms)),
                memory_bytes: p.memory_mib.unwrap_or(config.hub.plugin_memory_mib) << 20,
            };
            let plugin = runtime
                .load(
                    &config.plugin_path(p),
                    Some(p.sha256.get_ref()),
                    Some(*p.kind.get_ref()),
                    context,
                    limits,
                )
                .with_context(|| format!("loading plugin {name:?}"))?;
            plugins.insert(name, Arc::new(plugin));
        }
        let sink_client = build_sink_client(&config.hub.tls_client.loaded)
            .map_err(|e| anyhow::anyhow!("building the sinks' http client: {e}"))?;
        let mut own_sink_clients = HashMap::new();
        for sink in &config.sinks {
            if let Some(tls) = &sink.tls {
                let client = build_sink_client(tls).map_err(|e| {
                    anyhow::anyhow!(
                        "building the http client of sink {:?}: {e}",
                        sink.name.get_ref()
                    )
                })?;
                own_sink_clients.insert(sink.name.get_ref().clone(), client);
            }
        }
        let mut smtp_sinks = HashMap::new();
        for sink in config
            .sinks
            .iter()
            .filter(|s| s.transport.get_ref() == "smtp")
        {
            let tls = sink
                .tls
                .clone()
                .unwrap_or_else(|| config.hub.tls_client.loaded.clone());
            let client = crate::transport::smtp_sink::SmtpSink::build(sink, &tls).map_err(|e| {
                anyhow::anyhow!(
                    "building the SMTP client of sink {:?}: {e}",
                    sink.name.get_ref()
                )
            })?;
            smtp_sinks.insert(sink.name.get_ref().clone(), client);
        }
        Ok(Active {
            config,
            plugins,
            sink_client,
            own_sink_clients,
            smtp_sinks,
        })
    }

    /// The client that delivers to `sink`.
    pub fn sink_client(&self, sink: &str) -> &reqwest::Client {
        self.own_sink_clients.get(sink).unwrap_or(&self.sink_client)
    }

    /// The relay client of `sink`, when it is an `smtp` sink.
    pub fn smtp_sink(&self, sink: &str) -> Option<&crate::transport::smtp_sink::SmtpSink> {
        self.smtp_sinks.get(sink)
    }

    pub fn plugin(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.get(name)
    }

    pub fn source_connector(&self, source: &str) -> Option<&Arc<Plugin>> {
        self.plugin(self.config.source(source)?.connector.get_ref())
    }
}
