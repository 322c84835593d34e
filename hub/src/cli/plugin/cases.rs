//! `okno plugin test FILE.wasm --cases DIR`: runs a plugin on a folder of cases and shows
//! where its output differs from the expected one, by JSON path. Exits non-zero on any
//! difference, so it serves in an integrator's CI.
//!
//! A case is a name with files in DIR:
//! - `NAME.input.json`: a message, an envelope or an array of them, for a classifier, a
//!   policy or a connector's encode (`okno plugin run`'s input);
//! - `NAME.in`: raw bytes for a connector's decode, with `NAME.meta.json` optionally
//!   giving `{"content_type": "...", "metadata": {"key": "value"}}`;
//! - `NAME.expected.json`: the output `okno plugin run` prints, or for a call that fails
//!   `{"error": {"kind": "...", "message": "..."}}`.
//!
//! `DIR/cases.json` may give `{"settings": {"key": "value"}, "now": MILLIS}`. The clock is
//! fixed (to `now`, by default 2026-03-02T09:15:00+03:00) and a message without
//! `received_at` gets it, so expected files do not change with the time of the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::model::Inbound;
use crate::runtime::{CallError, Limits, Plugin, World};

use super::{call, call_decode, diff, input, LocalGrants};

/// The clock of a case run unless `cases.json` says otherwise: 2026-03-02T09:15:00+03:00.
const DEFAULT_NOW: i64 = 1_772_432_100_000;

pub struct TestOptions {
    pub file: PathBuf,
    pub cases: PathBuf,
    pub settings: Vec<(String, String)>,
    /// Write each case's output as its expected file instead of comparing.
    pub update: bool,
    pub grants: LocalGrants,
    pub limits: Limits,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CasesConfig {
    #[serde(default)]
    settings: BTreeMap<String, String>,
    now: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Meta {
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

enum CaseInput {
    /// `NAME.input.json`
    Messages(PathBuf),
    /// `NAME.in`
    Raw(PathBuf),
}

struct Case {
    name: String,
    input: CaseInput,
    expected: PathBuf,
}

/// The outcome of a run: how many cases passed and which failed.
pub struct Outcome {
    pub passed: usize,
    pub failed: Vec<String>,
}

fn find_cases(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the cases in {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let (name, input) = if let Some(name) = file_name.strip_suffix(".input.json") {
            (name, CaseInput::Messages(path.clone()))
        } else if let Some(name) = file_name.strip_suffix(".in") {
            (name, CaseInput::Raw(path.clone()))
        } else {
            continue;
        };
        cases.push(Case {
            name: name.to_string(),
            input,
            expected: dir.join(format!("{name}.expected.json")),
        });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    if cases.is_empty() {
        bail!(
            "no cases in {}: a case is NAME.input.json (a message) or NAME.in (raw bytes for a connector), with NAME.expected.json",
            dir.display()
        );
    }
    Ok(cases)
}

/// A failed call as the expected files spell it.
fn error_value(error: CallError) -> serde_json::Value {
    match error {
        CallError::Plugin { error, .. } => serde_json::json!({
            "error": { "kind": serde_json::to_value(error.kind).expect("serializes"), "message": error.message }
        }),
        other => {
            serde_json::json!({ "error": { "kind": other.kind(), "message": other.to_string() } })
        }
    }
}

async fn run_case(plugin: &Plugin, case: &Case, now: i64) -> anyhow::Result<serde_json::Value> {
    let world = plugin.world();
    match &case.input {
        CaseInput::Raw(path) => {
            if !world.serves_as(World::Connector) {
                bail!(
                    "{}: raw input (.in) is for connectors; this plugin is a {world}",
                    path.display()
                );
            }
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let meta_path = path.with_extension("meta.json");
            let meta: Meta = if meta_path.exists() {
                let text = std::fs::read(&meta_path)
                    .with_context(|| format!("reading {}", meta_path.display()))?;
                serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text))
                    .map_err(|e| {
                    anyhow::anyhow!("{}: {}: {}", meta_path.display(), e.path(), e.inner())
                })?
            } else {
                Meta::default()
            };
            let inbound = Inbound {
                bytes,
                content_type: meta.content_type,
                metadata: meta.metadata.into_iter().collect(),
            };
            Ok(call_decode(plugin, inbound, false)
                .await
                .unwrap_or_else(error_value))
        }
        CaseInput::Messages(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let is_array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
            let items = input::parse(&bytes, &path.display().to_string())?;
            let mut outputs = Vec::new();
            for mut item in items {
                if item.message.received_at == 0 {
                    item.message.received_at = now;
                }
                let encode = world.serves_as(World::Connector);
                outputs.push(
                    call(plugin, item, encode, false)
                        .await
                        .unwrap_or_else(error_value),
                );
            }
            Ok(if is_array {
                serde_json::Value::Array(outputs)
            } else {
                outputs.pop().expect("one message")
            })
        }
    }
}

/// Runs every case; prints one line per case and the differences of those that fail.
pub async fn test(options: TestOptions) -> anyhow::Result<Outcome> {
    let cases = find_cases(&options.cases)?;
    let config_path = options.cases.join("cases.json");
    let config: CasesConfig = if config_path.exists() {
        let text = std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text)).map_err(
            |e| anyhow::anyhow!("{}: {}: {}", config_path.display(), e.path(), e.inner()),
        )?
    } else {
        CasesConfig::default()
    };
    let now = config.now.unwrap_or(DEFAULT_NOW);
    let mut settings = config.settings;
    settings.extend(options.settings);

    let runtime = super::cli_runtime()?;
    let mut outcome = Outcome {
        passed: 0,
        failed: Vec::new(),
    };
    for case in &cases {
        // A fresh plugin per case: its kv starts empty, so cases do not depend on order.
        let plugin = super::load_local_with(
            &runtime,
            &options.file,
            settings.clone().into_iter().collect(),
            LocalGrants {
                fixed_now: Some(now),
                ..options.grants.clone()
            },
            options.limits.clone(),
        )?;
        let actual = run_case(&plugin, case, now).await?;
        if options.update {
            let text = serde_json::to_string_pretty(&actual)? + "\n";
            std::fs::write(&case.expected, text)
                .with_context(|| format!("writing {}", case.expected.display()))?;
            println!("updated {}", case.name);
            outcome.passed += 1;
            continue;
        }
        let differences = match std::fs::read(&case.expected) {
            Ok(text) => {
                let expected: serde_json::Value = serde_json::from_slice(&text)
                    .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", case.expected.display()))?;
                diff::diff(&expected, &actual)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![format!(
                "no {} (write it with --update once the output is right)",
                case.expected.display()
            )],
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", case.expected.display()))
            }
        };
        if differences.is_empty() {
            println!("ok    {}", case.name);
            outcome.passed += 1;
        } else {
            println!("FAIL  {}", case.name);
            for line in &differences {
                println!("      {line}");
            }
            outcome.failed.push(case.name.clone());
        }
    }
    println!(
        "{} case(s): {} passed, {} failed",
        cases.len(),
        outcome.passed,
        outcome.failed.len()
    );
    Ok(outcome)
}
