//! The configuration in force, with its plugins loaded: swapped as a whole on reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::runtime::{HttpGrant, Limits, Plugin, PluginContext, Runtime};
use crate::store::Store;

pub struct Active {
    pub config: Config,
    pub plugins: HashMap<String, Arc<Plugin>>,
}

impl Active {
    pub fn load(config: Config, runtime: &Runtime, store: &Store) -> anyhow::Result<Active> {
        let mut plugins = HashMap::new();
        for p in &config.plugins {
            let name = p.name.get_ref().clone();
            let context = PluginContext {
                name: name.clone(),
                settings: Config::flat_settings(p),
                http: HttpGrant {
                    hosts: p.http_allow.clone(),
                    ..HttpGrant::none()
                },
                kv: store.plugin_kv(&name)?,
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
        Ok(Active { config, plugins })
    }

    pub fn plugin(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.get(name)
    }

    pub fn source_connector(&self, source: &str) -> Option<&Arc<Plugin>> {
        self.plugin(self.config.source(source)?.connector.get_ref())
    }
}
