//! `okno route check|explain`: validate a config, and show where a message would go.

use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::model::{Classification, Decision, Message};
use crate::runtime::{Runtime, RuntimeOptions};

/// Validates the config and loads (compiles, verifies) every plugin it names.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: super::plugin::cli_cache_dir(),
        ..Default::default()
    })?;
    let mut errors = Vec::new();
    for p in &config.plugins {
        let file = config.plugin_path(p);
        let context = crate::runtime::PluginContext {
            name: p.name.get_ref().clone(),
            settings: Config::flat_settings(p),
            // The real grant, so that its client (TLS files, address checks) is built
            // as the hub would build it.
            http: p.http_grant(),
            kv: std::sync::Arc::new(crate::runtime::kv::MemoryKv::default()),
            fixed_now: None,
            utc_offset_minutes: config.hub.utc_offset_minutes,
        };
        if let Err(e) = runtime.load(
            &file,
            Some(p.sha256.get_ref()),
            Some(*p.kind.get_ref()),
            context,
            Default::default(),
        ) {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let offset = p.sha256.span().start;
            let line = text[..offset.min(text.len())].matches('\n').count() + 1;
            errors.push(format!(
                "{}:{line}: plugin {:?}: {e}",
                path.display(),
                p.name.get_ref()
            ));
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    println!(
        "{}: ok ({} plugins, {} sources, {} sinks, {} routes)",
        path.display(),
        config.plugins.len(),
        config.sources.len(),
        config.sinks.len(),
        config.routes.len()
    );
    Ok(())
}

#[derive(serde::Deserialize)]
struct Envelope {
    message: Message,
    classification: Option<Classification>,
    decision: Option<Decision>,
}

/// Shows each route's verdict for a message (with its classification and decision, as
/// `GET /v1/messages/{id}` returns them, or a bare message).
pub fn explain(config_path: &Path, message_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(message_path)
        .with_context(|| format!("reading {}", message_path.display()))?;
    let envelope: Envelope = match serde_json::from_str::<Envelope>(&text) {
        Ok(e) => e,
        Err(_) => Envelope {
            message: serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is neither a message nor {{\"message\", \"classification\", \"decision\"}}",
                    message_path.display()
                )
            })?,
            classification: None,
            decision: None,
        },
    };
    let classification = envelope.classification.unwrap_or_default();
    let decision = envelope.decision.unwrap_or_default();
    let explained = config.explain_routes(&envelope.message, &classification, &decision);
    for e in &explained {
        println!(
            "{} {}  → {}",
            if e.matched { "MATCH" } else { "-    " },
            e.route,
            e.sinks.join(", ")
        );
        for r in &e.reasons {
            println!("        {r}");
        }
    }
    let (_, sinks) = config.route(&envelope.message, &classification, &decision);
    println!(
        "delivers to: {}",
        if sinks.is_empty() {
            "nothing".into()
        } else {
            sinks.join(", ")
        }
    );
    Ok(())
}
