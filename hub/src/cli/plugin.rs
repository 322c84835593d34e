//! `okno plugin inspect|run|build`: the integrator's tools for one plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::model::{Classification, Decision, Inbound, Message};
use crate::runtime::kv::MemoryKv;
use crate::runtime::{HttpGrant, Limits, Plugin, PluginContext, Runtime, RuntimeOptions, World};

/// The cache for compiled plugins used by the CLI tools (the hub uses its data dir).
pub fn cli_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("okno").join("compiled"))
}

pub fn inspect(file: &Path, json: bool) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: cli_cache_dir(),
        ..Default::default()
    })?;
    let (_, info) = runtime.inspect_file(file)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("file:         {}", file.display());
    println!("world:        {}", info.world);
    println!("contract:     okno:plugin@{}", info.contract_version);
    println!("exports:      {}", info.exports.join(", "));
    println!(
        "capabilities: {}",
        if info.capabilities.is_empty() {
            "none".into()
        } else {
            info.capabilities.join(", ")
        }
    );
    println!("imports:");
    for import in &info.imports {
        println!("  {import}");
    }
    println!("size:         {} bytes", info.size);
    println!("sha256:       {}", info.sha256);
    Ok(())
}

/// Options of `okno plugin run`.
pub struct RunOptions {
    pub file: PathBuf,
    pub input: PathBuf,
    pub settings: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub encode: bool,
    pub http_allow: Vec<String>,
    pub limits: Limits,
}

/// What a classifier or policy takes on the command line: a message, or a message with
/// the classification so far.
// Parsed once per command: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Deserialize)]
#[serde(untagged)]
enum MessageInput {
    Envelope {
        message: Message,
        #[serde(default)]
        classification: Classification,
        #[serde(default)]
        decision: Decision,
    },
    Bare(Message),
}

impl MessageInput {
    fn into_parts(self) -> (Message, Classification, Decision) {
        match self {
            MessageInput::Envelope {
                message,
                classification,
                decision,
            } => (message, classification, decision),
            MessageInput::Bare(message) => {
                (message, Classification::default(), Decision::default())
            }
        }
    }
}

pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// Loads one plugin file for local use: no sha256 pin, an in-memory kv, the given settings.
pub fn load_local(
    runtime: &Runtime,
    file: &Path,
    settings: Vec<(String, String)>,
    http_allow: Vec<String>,
    limits: Limits,
) -> anyhow::Result<Plugin> {
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_string();
    let rules = HttpGrant::parse(&http_allow).map_err(|e| anyhow::anyhow!("--http-allow: {e}"))?;
    let context = PluginContext {
        name,
        settings: settings.into_iter().collect::<BTreeMap<_, _>>(),
        http: HttpGrant {
            rules,
            ..HttpGrant::none()
        },
        kv: Arc::new(MemoryKv::default()),
        fixed_now: None,
        utc_offset_minutes: 180,
    };
    Ok(runtime.load(file, None, None, context, limits)?)
}

pub async fn run(options: RunOptions) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: cli_cache_dir(),
        ..Default::default()
    })?;
    let plugin = load_local(
        &runtime,
        &options.file,
        options.settings,
        options.http_allow,
        options.limits,
    )?;
    let input = std::fs::read(&options.input)
        .with_context(|| format!("reading input {}", options.input.display()))?;
    let parse_message = |bytes: &[u8]| -> anyhow::Result<(Message, Classification, Decision)> {
        let parsed: MessageInput = serde_json::from_slice(bytes).with_context(|| {
            format!(
                "{} is not a message JSON (or {{\"message\", \"classification\", \"decision\"}})",
                options.input.display()
            )
        })?;
        let (mut message, c, d) = parsed.into_parts();
        if message.received_at == 0 {
            message.received_at = crate::sla::now_millis();
        }
        Ok((message, c, d))
    };
    let output = match (plugin.world(), options.encode) {
        (World::Connector | World::Poller, false) => {
            let inbound = Inbound {
                bytes: input,
                content_type: options.content_type,
                metadata: Vec::new(),
            };
            serde_json::to_value(plugin.decode(inbound).await?)?
        }
        (World::Connector | World::Poller, true) => {
            let (m, c, d) = parse_message(&input)?;
            serde_json::to_value(plugin.encode(&m, &c, &d).await?)?
        }
        (World::Classifier, _) => {
            let (m, c, _) = parse_message(&input)?;
            serde_json::to_value(plugin.classify(&m, &c).await?)?
        }
        (World::Policy, _) => {
            let (m, c, _) = parse_message(&input)?;
            serde_json::to_value(plugin.decide(&m, &c).await?)?
        }
    };
    if options.encode && !plugin.world().serves_as(World::Connector) {
        bail!(
            "--encode is for connectors; {} is a {}",
            options.file.display(),
            plugin.world()
        );
    }
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}
