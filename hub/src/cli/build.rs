//! `okno plugin build`: builds plugin crates for wasm32-wasip2, reproducibly, and copies
//! each component to `plugins/dist/NAME.wasm`.
//!
//! Reproducible means: the same source and toolchain give the same bytes on any machine and
//! in any directory, so the sha256 an admin pins in a config stays valid on a fresh clone.
//! The build remaps the workspace and cargo home paths (which end up in panic messages),
//! and uses the workspace's `plugin` profile (stripped, one codegen unit). It also sets
//! the plugin's initial memory (see [`PLUGIN_INITIAL_MEMORY`]) and how much LLVM inlines
//! (see [`PLUGIN_INLINE_THRESHOLD`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Linear memory a plugin starts with, in bytes (rustc's default is about 1.1 MiB: the
/// 1 MiB stack and the data). The hub gives every call a fresh instance, and an
/// instance that grows its memory costs two `mprotect` calls (grant, then revoke when
/// the slot is reused), each of which makes the kernel flush the TLBs of every core
/// running the hub. Starting at 2 MiB, which covers what the reference plugins use on
/// a 10 KB appeal, took a fifth of the hub's CPU per message off in the pipeline
/// benchmark. Pages a call does not touch cost nothing.
const PLUGIN_INITIAL_MEMORY: usize = 2 << 20;

/// LLVM's inlining threshold for plugins (its default at opt-level 3 is 250). Inside the
/// sandbox a call costs more than natively: Cranelift's calling convention, and an epoch
/// check at every function entry. Inlining more made keywords and topics 3–7% faster, for
/// plugins 5–25% larger; 5000 was no faster, only larger.
const PLUGIN_INLINE_THRESHOLD: u32 = 1000;

#[derive(Debug, Clone)]
pub struct BuiltPlugin {
    /// The short name: crate `okno-plugin-mail` is `mail`.
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// The workspace root above `start` (the directory whose Cargo.toml has `[workspace]`).
pub fn workspace_root(start: &Path) -> anyhow::Result<PathBuf> {
    let start = start
        .canonicalize()
        .with_context(|| format!("{} does not exist", start.display()))?;
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() && std::fs::read_to_string(&manifest)?.contains("[workspace]") {
            return Ok(dir.to_path_buf());
        }
    }
    bail!("no Cargo workspace above {}", start.display())
}

/// Plugin crates under `path`: the crate itself if `path` has a Cargo.toml with a
/// package, else every direct subdirectory that has one.
pub fn find_plugin_crates(path: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let package_name = |dir: &Path| -> Option<String> {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let manifest: toml::Value = toml::from_str(&text).ok()?;
        manifest
            .get("package")?
            .get("name")?
            .as_str()
            .map(String::from)
    };
    if let Some(name) = package_name(path) {
        return Ok(vec![(name, path.to_path_buf())]);
    }
    let mut crates = Vec::new();
    let entries = std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?;
    for entry in entries {
        let dir = entry?.path();
        if let Some(name) = package_name(&dir) {
            crates.push((name, dir));
        }
    }
    crates.sort();
    if crates.is_empty() {
        bail!(
            "no plugin crate at {} (a directory with a Cargo.toml, or a directory of them)",
            path.display()
        );
    }
    Ok(crates)
}

fn short_name(package: &str) -> String {
    package
        .strip_prefix("okno-plugin-")
        .unwrap_or(package)
        .to_string()
}

/// Where nested plugin builds put their artifacts: beside the host's target dir, never in
/// it, so a build started from a test or a build script does not wait on cargo's lock.
pub fn wasm_target_dir(workspace: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("okno-wasm"),
        None => workspace.join("target").join("okno-wasm"),
    }
}

/// Makes sure the toolchain that `rust-toolchain.toml` selects has the wasm32-wasip2
/// target, adding it with rustup when it is missing (rustup does not add a toolchain
/// file's targets to an already installed toolchain by itself).
fn ensure_wasm_target(workspace: &Path, progress: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
    let sysroot = Command::new("rustc")
        .current_dir(workspace)
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot (is Rust installed?)")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib")
        .join("rustlib")
        .join(WASM_TARGET)
        .is_dir()
    {
        return Ok(());
    }
    progress(&format!("adding the {WASM_TARGET} target with rustup"));
    let status = Command::new("rustup")
        .current_dir(workspace)
        .args(["target", "add", WASM_TARGET])
        .status()
        .with_context(|| {
            format!("the {WASM_TARGET} target is missing and rustup could not be run to add it")
        })?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status}); plugins cannot be built without it");
    }
    Ok(())
}

/// Builds the crates, copies each component to `out_dir/NAME.wasm`, and returns what it
/// built. `progress` receives one line per step.
pub fn build_plugins(
    crates: &[(String, PathBuf)],
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<BuiltPlugin>> {
    let first = &crates.first().context("nothing to build")?.1;
    let workspace = workspace_root(first)?;
    ensure_wasm_target(&workspace, progress)?;
    let target_dir = wasm_target_dir(&workspace);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|_| PathBuf::from("/root/.cargo"));
    let rustflags = [
        format!("--remap-path-prefix={}=/okno", workspace.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        format!("-Clink-arg=--initial-memory={PLUGIN_INITIAL_MEMORY}"),
        format!("-Cllvm-args=-inline-threshold={PLUGIN_INLINE_THRESHOLD}"),
    ]
    .join("\x1f");

    let mut command = Command::new(&cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--target",
            WASM_TARGET,
            "--profile",
            "plugin",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env_remove("RUSTFLAGS")
        // The outer cargo (a test or `cargo run`) sets these for its own target.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (package, _) in crates {
        command.args(["-p", package]);
    }
    progress(&format!(
        "building {} plugin(s) for {WASM_TARGET} into {}",
        crates.len(),
        target_dir.display()
    ));
    let mut child = command
        .spawn()
        .with_context(|| format!("running {cargo}"))?;
    let mut log = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling") || trimmed.starts_with("Finished") {
                progress(&format!("  {trimmed}"));
            }
            log.push(line);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!(
            "cargo build of the plugins failed ({status}):\n{}",
            log.join("\n")
        );
    }

    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut built = Vec::new();
    for (package, _) in crates {
        let artifact = target_dir
            .join(WASM_TARGET)
            .join("plugin")
            .join(format!("{}.wasm", package.replace('-', "_")));
        let bytes = std::fs::read(&artifact).with_context(|| {
            format!(
                "{package} built no component at {} (is its crate-type cdylib?)",
                artifact.display()
            )
        })?;
        let name = short_name(package);
        let path = out_dir.join(format!("{name}.wasm"));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        let sha256 = crate::runtime::sha256_hex(&bytes);
        progress(&format!(
            "  {name:<12} {:>8} KiB  sha256 {sha256}  {}",
            bytes.len() / 1024,
            path.display()
        ));
        built.push(BuiltPlugin {
            name,
            path,
            sha256,
            size: bytes.len() as u64,
        });
    }
    Ok(built)
}

/// Rewrites the `sha256` of every `[[plugins]]` entry in `config` whose `file` is one of
/// `built`, keeping the file's comments and layout.
pub fn pin_in_config(config: &Path, built: &[BuiltPlugin]) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("parsing {}", config.display()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let mut pinned = 0;
    if let Some(plugins) = doc
        .get_mut("plugins")
        .and_then(|p| p.as_array_of_tables_mut())
    {
        for entry in plugins.iter_mut() {
            let Some(file) = entry.get("file").and_then(|f| f.as_str()) else {
                continue;
            };
            let file = base.join(file);
            let Ok(file) = file.canonicalize() else {
                continue;
            };
            if let Some(b) = built
                .iter()
                .find(|b| b.path.canonicalize().ok().as_ref() == Some(&file))
            {
                entry["sha256"] = toml_edit::value(b.sha256.clone());
                pinned += 1;
            }
        }
    }
    std::fs::write(config, doc.to_string())
        .with_context(|| format!("writing {}", config.display()))?;
    Ok(pinned)
}
