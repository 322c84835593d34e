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

mod guest;
pub use guest::{build_guest, guest_language, toolchains_dir, GuestLanguage};

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

/// The Cargo workspace a plugin crate builds in: its root, and whether it is the crate's
/// own (a standalone project with an empty `[workspace]` table, built with its own target
/// dir) or a workspace the crate is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BuildRoot {
    root: PathBuf,
    standalone: bool,
}

/// Where `crate_dir` builds. A crate inside a workspace it is not a member of cannot be
/// built by cargo at all, so that is refused here with the two ways out.
fn build_root(
    crate_dir: &Path,
    members: &mut Vec<(PathBuf, Vec<PathBuf>)>,
) -> anyhow::Result<BuildRoot> {
    let crate_dir = crate_dir
        .canonicalize()
        .with_context(|| format!("{} does not exist", crate_dir.display()))?;
    let root = workspace_root(&crate_dir)?;
    if root == crate_dir {
        return Ok(BuildRoot {
            root,
            standalone: true,
        });
    }
    let known = match members.iter().find(|(r, _)| *r == root) {
        Some((_, known)) => known.clone(),
        None => {
            let known = workspace_members(&root)?;
            members.push((root.clone(), known.clone()));
            known
        }
    };
    if !known.contains(&crate_dir) {
        let relative = crate_dir.strip_prefix(&root).unwrap_or(&crate_dir);
        bail!(
            "{} is inside the Cargo workspace {} but is not one of its members, so cargo cannot build it: \
             add \"{}\" to `members` in {} (`okno plugin new` does this for the plugins it creates), \
             or give the plugin's Cargo.toml an empty `[workspace]` table to build it as a project of its own",
            crate_dir.display(),
            root.display(),
            relative.display(),
            root.join("Cargo.toml").display()
        );
    }
    Ok(BuildRoot {
        root,
        standalone: false,
    })
}

/// The package directories of the workspace at `root`, from `cargo metadata`.
fn workspace_members(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .current_dir(root)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .with_context(|| format!("running {cargo} metadata"))?;
    if !output.status.success() {
        bail!(
            "cargo metadata for the workspace {} failed:\n{}",
            root.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading cargo metadata's answer")?;
    let mut dirs = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        if let Some(manifest) = package["manifest_path"].as_str() {
            if let Some(dir) = Path::new(manifest).parent() {
                dirs.push(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()));
            }
        }
    }
    Ok(dirs)
}

/// Builds the crates, copies each component to `out_dir/NAME.wasm`, and returns what it
/// built. `progress` receives one line per step.
///
/// Crates that are members of one workspace build together in it; a standalone project
/// (its own `[workspace]` table, e.g. made by `okno plugin new` outside this repository)
/// builds on its own, into its own `target/okno-wasm`, so it never waits on another
/// build's lock.
pub fn build_plugins(
    crates: &[(String, PathBuf)],
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<BuiltPlugin>> {
    if crates.is_empty() {
        bail!("nothing to build");
    }
    let mut members = Vec::new();
    let mut groups: Vec<(BuildRoot, Vec<(String, PathBuf)>)> = Vec::new();
    for (package, dir) in crates {
        let root = build_root(dir, &mut members)?;
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, list)) => list.push((package.clone(), dir.clone())),
            None => groups.push((root, vec![(package.clone(), dir.clone())])),
        }
    }
    let mut built = Vec::new();
    for (root, group) in &groups {
        built.extend(build_group(root, group, out_dir, progress)?);
    }
    Ok(built)
}

/// Builds the crates of one workspace (see [`build_plugins`]).
fn build_group(
    root: &BuildRoot,
    crates: &[(String, PathBuf)],
    out_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<BuiltPlugin>> {
    let workspace = &root.root;
    ensure_wasm_target(workspace, progress)?;
    let target_dir = if root.standalone {
        workspace.join("target").join("okno-wasm")
    } else {
        wasm_target_dir(workspace)
    };
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
        .current_dir(workspace)
        .args(["build", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .args([
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
    if !has_plugin_profile(workspace)? {
        // A project without the `plugin` profile gets the same one from the command line.
        for setting in PLUGIN_PROFILE {
            command.args(["--config", setting]);
        }
    }
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

/// The workspace's `plugin` profile (Cargo.toml at the root), as `--config` settings for
/// a project that has none.
const PLUGIN_PROFILE: [&str; 6] = [
    "profile.plugin.inherits=\"release\"",
    "profile.plugin.strip=true",
    "profile.plugin.debug=false",
    "profile.plugin.codegen-units=1",
    "profile.plugin.opt-level=3",
    "profile.plugin.panic=\"abort\"",
];

fn has_plugin_profile(root: &Path) -> anyhow::Result<bool> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    Ok(value.get("profile").and_then(|p| p.get("plugin")).is_some())
}

/// Where `okno plugin build PATH` puts components by default: `plugins/dist` in the Okno
/// workspace (or any workspace with a `plugins` directory), else `dist` in the project.
pub fn default_out_dir(path: &Path) -> anyhow::Result<PathBuf> {
    let root = workspace_root(path)?;
    if root.join("plugins").is_dir() {
        Ok(root.join("plugins").join("dist"))
    } else {
        Ok(root.join("dist"))
    }
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
