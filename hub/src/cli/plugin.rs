//! `okno plugin inspect|run|example|test|new` (and `build`, in `build.rs`): the
//! integrator's tools for one plugin.

mod cases;
mod diff;
pub mod example;
pub mod input;
mod new;
mod templates;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::model::Inbound;
use crate::runtime::kv::MemoryKv;
use crate::runtime::{
    AddressRule, CallError, HttpGrant, Limits, Plugin, PluginContext, Runtime, RuntimeOptions,
    World,
};

pub use cases::{test, TestOptions};
pub use new::{new_project, NewOptions};

use input::Envelope;

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
    /// The input file, or `-` for standard input.
    pub input: PathBuf,
    /// Of an array of messages, run only this one.
    pub index: Option<usize>,
    /// Print each message with its classification and decision, ready for the next run.
    pub envelope: bool,
    pub settings: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// Metadata passed to a connector's decode.
    pub metadata: Vec<(String, String)>,
    pub encode: bool,
    pub grants: LocalGrants,
    pub limits: Limits,
}

pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// What a local run grants and fixes, beyond the plugin's settings.
#[derive(Clone, Default)]
pub struct LocalGrants {
    /// Hosts the plugin may call (`--http-allow`, as a config's `http_allow`).
    pub http_allow: Vec<String>,
    /// Addresses it may reach although not public (`--http-allow-address`, as a config's
    /// `http_allow_addresses`).
    pub http_allow_addresses: Vec<String>,
    /// The largest HTTP answer taken (`--http-max-response-bytes`, as a config's
    /// `http_max_response_bytes`); 1 MiB when not given.
    pub http_max_response_bytes: Option<u64>,
    /// A fixed clock (for cases whose expected output must not change with the time).
    pub fixed_now: Option<i64>,
}

/// Loads one plugin file for local use: no sha256 pin, an in-memory kv, the given settings.
pub fn load_local(
    runtime: &Runtime,
    file: &Path,
    settings: Vec<(String, String)>,
    http_allow: Vec<String>,
    limits: Limits,
) -> anyhow::Result<Plugin> {
    load_local_with(
        runtime,
        file,
        settings,
        LocalGrants {
            http_allow,
            ..LocalGrants::default()
        },
        limits,
    )
}

/// [`load_local`] with address grants and a fixed clock.
pub fn load_local_with(
    runtime: &Runtime,
    file: &Path,
    settings: Vec<(String, String)>,
    grants: LocalGrants,
    limits: Limits,
) -> anyhow::Result<Plugin> {
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_string();
    let rules =
        HttpGrant::parse(&grants.http_allow).map_err(|e| anyhow::anyhow!("--http-allow: {e}"))?;
    let addresses = grants
        .http_allow_addresses
        .iter()
        .map(|a| a.parse::<AddressRule>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--http-allow-address: {e}"))?;
    let context = PluginContext {
        name,
        settings: settings.into_iter().collect::<BTreeMap<_, _>>(),
        http: HttpGrant {
            rules,
            addresses,
            max_response_bytes: grants
                .http_max_response_bytes
                .unwrap_or(crate::runtime::DEFAULT_MAX_RESPONSE_BYTES),
            ..HttpGrant::none()
        },
        kv: Arc::new(MemoryKv::default()),
        fixed_now: grants.fixed_now,
        utc_offset_minutes: 180,
    };
    Ok(runtime.load(file, None, None, context, limits)?)
}

/// The runtime the CLI tools use: compiled plugins cached in the user's cache dir.
fn cli_runtime() -> anyhow::Result<Arc<Runtime>> {
    Runtime::new(RuntimeOptions {
        cache_dir: cli_cache_dir(),
        ..Default::default()
    })
}

/// Reads an input file, or standard input for `-`.
fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("reading input {}", path.display()))
}

/// What one call of a plugin returns, as JSON. With `envelope`, a classifier's or
/// policy's answer is given back inside the message's envelope, so it can be the next
/// plugin's input.
async fn call(
    plugin: &Plugin,
    item: Envelope,
    encode: bool,
    envelope: bool,
) -> Result<serde_json::Value, CallError> {
    let to_json = |v: serde_json::Result<serde_json::Value>| v.expect("the model serializes");
    Ok(match (plugin.world(), encode) {
        (World::Connector | World::Poller, _) => to_json(serde_json::to_value(
            plugin
                .encode(&item.message, &item.classification, &item.decision)
                .await?,
        )),
        (World::Classifier, _) => {
            let classification = plugin.classify(&item.message, &item.classification).await?;
            if envelope {
                to_json(serde_json::to_value(Envelope {
                    classification,
                    ..item
                }))
            } else {
                to_json(serde_json::to_value(classification))
            }
        }
        (World::Policy, _) => {
            let decision = plugin.decide(&item.message, &item.classification).await?;
            if envelope {
                to_json(serde_json::to_value(Envelope { decision, ..item }))
            } else {
                to_json(serde_json::to_value(decision))
            }
        }
    })
}

/// A connector's decode of raw bytes, as JSON: the messages, or with `envelope` each in
/// an envelope.
async fn call_decode(
    plugin: &Plugin,
    inbound: Inbound,
    envelope: bool,
) -> Result<serde_json::Value, CallError> {
    let messages = plugin.decode(inbound).await?;
    let value = if envelope {
        let items: Vec<Envelope> = messages
            .into_iter()
            .map(|message| Envelope {
                message,
                classification: Default::default(),
                decision: Default::default(),
            })
            .collect();
        serde_json::to_value(items)
    } else {
        serde_json::to_value(messages)
    };
    Ok(value.expect("the model serializes"))
}

pub async fn run(options: RunOptions) -> anyhow::Result<()> {
    let runtime = cli_runtime()?;
    let plugin = load_local_with(
        &runtime,
        &options.file,
        options.settings,
        options.grants,
        options.limits,
    )?;
    let world = plugin.world();
    if options.encode && !world.serves_as(World::Connector) {
        bail!(
            "--encode is for connectors; {} is a {world}",
            options.file.display()
        );
    }
    let input = read_input(&options.input)?;
    let source = options.input.display().to_string();

    if world.serves_as(World::Connector) && !options.encode {
        if options.index.is_some() {
            bail!("--index picks one of several messages; a connector's decode reads raw bytes (use --encode to encode a message)");
        }
        let inbound = Inbound {
            bytes: input,
            content_type: options.content_type,
            metadata: options.metadata,
        };
        let output = call_decode(&plugin, inbound, options.envelope).await?;
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }

    let is_array = input
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    let mut items = input::parse(&input, &source)?;
    for item in &mut items {
        if item.message.received_at == 0 {
            item.message.received_at = crate::sla::now_millis();
        }
    }
    if let Some(index) = options.index {
        if index >= items.len() {
            bail!(
                "--index {index}: {source} has {} message(s), numbered from 0",
                items.len()
            );
        }
        let item = items.swap_remove(index);
        let output = call(&plugin, item, options.encode, options.envelope).await?;
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    let mut outputs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let output = call(&plugin, item, options.encode, options.envelope)
            .await
            .map_err(|e| {
                if is_array {
                    anyhow::anyhow!("message [{i}] of {source}: {e}")
                } else {
                    anyhow::Error::from(e)
                }
            })?;
        outputs.push(output);
    }
    let output = if is_array {
        serde_json::Value::Array(outputs)
    } else {
        outputs.pop().expect("one message")
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

/// `okno plugin example --world W`: prints a complete input for a plugin of that world.
pub fn example(world: &str) -> anyhow::Result<()> {
    let world = parse_world(world)?;
    if world.serves_as(World::Connector) {
        eprintln!("a connector's decode reads raw bytes; this is the input of its --encode");
    }
    println!("{}", serde_json::to_string_pretty(&example::input(world))?);
    Ok(())
}

pub(crate) fn parse_world(text: &str) -> anyhow::Result<World> {
    Ok(match text {
        "connector" => World::Connector,
        "classifier" => World::Classifier,
        "policy" => World::Policy,
        "poller" => World::Poller,
        other => bail!("unknown world {other:?}: write connector, classifier, policy or poller"),
    })
}
