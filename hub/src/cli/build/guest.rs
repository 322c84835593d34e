//! `okno plugin build DIR` for plugins written in JavaScript or Python: the directory says
//! which language it holds (a `package.json` is JavaScript, an `app.py` or a
//! `pyproject.toml` Python), and the language's own component toolchain builds it against
//! the same WIT as the Rust plugins.
//!
//! - JavaScript: `componentize-js` (StarlingMonkey, SpiderMonkey compiled to WebAssembly
//!   and pre-initialised with the plugin's module), about 12 MB per component.
//! - Python: `componentize-py` (CPython compiled to WebAssembly, pre-initialised with the
//!   plugin's modules imported), about 18 MB per component.
//!
//! Both toolchains are pinned and installed by `scripts/install-plugin-toolchains` into
//! `/var/tmp/okno-toolchains` (or `$OKNO_TOOLCHAINS`); a toolchain found on `PATH` is used
//! when that directory has none.
//!
//! The world (connector, classifier, policy) is the one the project names —
//! `"okno": {"world": ...}` in package.json, `[tool.okno] world` in pyproject.toml — or,
//! when it names none, the one whose function the source defines (`classify`, `decide`,
//! `decode`). The WIT is the project's own `wit/` directory, else the nearest `wit/`
//! above it (this repository's, for the plugins kept here).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use super::BuiltPlugin;

/// Where `scripts/install-plugin-toolchains` puts the toolchains unless told otherwise.
pub const DEFAULT_TOOLCHAINS: &str = "/var/tmp/okno-toolchains";

/// A plugin project in a language other than Rust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestLanguage {
    JavaScript,
    Python,
}

impl GuestLanguage {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestLanguage::JavaScript => "JavaScript",
            GuestLanguage::Python => "Python",
        }
    }
}

/// What `dir` holds, if it is a JavaScript or Python plugin project (a Cargo.toml makes
/// it a Rust crate, whatever else it has).
pub fn guest_language(dir: &Path) -> Option<GuestLanguage> {
    if dir.join("Cargo.toml").is_file() {
        return None;
    }
    if dir.join("package.json").is_file() {
        Some(GuestLanguage::JavaScript)
    } else if dir.join("pyproject.toml").is_file() || dir.join("app.py").is_file() {
        Some(GuestLanguage::Python)
    } else {
        None
    }
}

/// The directory the toolchains are installed in.
pub fn toolchains_dir() -> PathBuf {
    std::env::var_os("OKNO_TOOLCHAINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TOOLCHAINS))
}

/// Builds the JavaScript or Python plugin in `dir` to `out_dir/NAME.wasm` (`out_dir`
/// defaults to `dir/dist`).
pub fn build_guest(
    dir: &Path,
    out_dir: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<BuiltPlugin> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{} does not exist", dir.display()))?;
    let language = guest_language(&dir).with_context(|| {
        format!(
            "{} is not a JavaScript plugin (no package.json) nor a Python one (no app.py or pyproject.toml)",
            dir.display()
        )
    })?;
    let project = match language {
        GuestLanguage::JavaScript => javascript_project(&dir)?,
        GuestLanguage::Python => python_project(&dir)?,
    };
    let wit = find_wit(&dir)?;
    let out_dir = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("dist"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join(format!("{}.wasm", project.name));
    progress(&format!(
        "building the {} {} plugin {} from {} against {}",
        language.as_str(),
        project.world,
        project.name,
        project.entry,
        wit.display()
    ));
    let mut command = match language {
        GuestLanguage::JavaScript => {
            let mut command = Command::new("node");
            command
                .arg(tool(
                    &["js", "node_modules", ".bin", "componentize-js"],
                    "componentize-js",
                )?)
                .arg(dir.join(&project.entry))
                .arg("--wit")
                .arg(&wit)
                .args(["--world-name", project.world])
                // The hub links no wasi:http: the okno `http` interface is the only way out.
                .args(["--disable", "http", "fetch-event"])
                .arg("--out")
                .arg(&path);
            command
        }
        GuestLanguage::Python => {
            let mut command =
                Command::new(tool(&["py", "bin", "componentize-py"], "componentize-py")?);
            command
                .arg("--wit-path")
                .arg(&wit)
                .args(["--world", project.world, "componentize"])
                .arg(&project.entry)
                .arg("--python-path")
                .arg(&dir)
                .arg("--output")
                .arg(&path)
                // Only the project's own modules: no virtualenv of the caller's.
                .env_remove("VIRTUAL_ENV");
            command
        }
    };
    command.current_dir(&dir);
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "building {} failed ({}):\n{}{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "the {} toolchain wrote no component at {}",
            language.as_str(),
            path.display()
        )
    })?;
    let sha256 = crate::runtime::sha256_hex(&bytes);
    progress(&format!(
        "  {:<12} {:>8} KiB  sha256 {sha256}  {}",
        project.name,
        bytes.len() / 1024,
        path.display()
    ));
    Ok(BuiltPlugin {
        name: project.name,
        path,
        sha256,
        size: bytes.len() as u64,
    })
}

/// What to build: the plugin's short name, its world and its entry (a file for
/// JavaScript, a module name for Python).
struct Project {
    name: String,
    world: &'static str,
    entry: String,
}

fn short_name(name: &str) -> String {
    name.strip_prefix("okno-plugin-")
        .unwrap_or(name)
        .trim_start_matches('@')
        .replace('/', "-")
}

fn parse_world(value: &str, file: &Path) -> anyhow::Result<&'static str> {
    match value {
        "connector" => Ok("connector"),
        "classifier" => Ok("classifier"),
        "policy" => Ok("policy"),
        "poller" => Ok("poller"),
        other => bail!(
            "{}: world {other:?} is not one of connector, classifier, policy, poller",
            file.display()
        ),
    }
}

/// The world whose function `source` defines, for a project that names none.
fn world_from_source(source: &str, file: &Path) -> anyhow::Result<&'static str> {
    let defines = |name: &str| {
        source.contains(&format!("function {name}("))
            || source.contains(&format!("def {name}("))
            || source.contains(&format!("const {name} ="))
    };
    if defines("decode") {
        Ok("connector")
    } else if defines("classify") {
        Ok("classifier")
    } else if defines("decide") {
        Ok("policy")
    } else {
        bail!(
            "{} defines none of `decode` (connector), `classify` (classifier), `decide` (policy); \
             name the world in the project file",
            file.display()
        )
    }
}

fn javascript_project(dir: &Path) -> anyhow::Result<Project> {
    let file = dir.join("package.json");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    let name = match manifest["name"].as_str() {
        Some(name) => short_name(name),
        None => dir_name(dir),
    };
    let entry = manifest["main"].as_str().unwrap_or("index.js").to_string();
    let entry_path = dir.join(&entry);
    let source = std::fs::read_to_string(&entry_path).with_context(|| {
        format!(
            "reading {} (the plugin's module: `main` in {})",
            entry_path.display(),
            file.display()
        )
    })?;
    let world = match manifest["okno"]["world"].as_str() {
        Some(world) => parse_world(world, &file)?,
        None => world_from_source(&source, &entry_path)?,
    };
    Ok(Project { name, world, entry })
}

fn python_project(dir: &Path) -> anyhow::Result<Project> {
    let file = dir.join("pyproject.toml");
    let manifest: Option<toml::Value> = match std::fs::read_to_string(&file) {
        Ok(text) => {
            Some(toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let okno = manifest
        .as_ref()
        .and_then(|m| m.get("tool"))
        .and_then(|t| t.get("okno"));
    let name = manifest
        .as_ref()
        .and_then(|m| m.get("project"))
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(short_name)
        .unwrap_or_else(|| dir_name(dir));
    let entry = okno
        .and_then(|o| o.get("module"))
        .and_then(|m| m.as_str())
        .unwrap_or("app")
        .to_string();
    let entry_path = dir.join(format!("{}.py", entry.replace('.', "/")));
    let world = match okno.and_then(|o| o.get("world")).and_then(|w| w.as_str()) {
        Some(world) => parse_world(world, &file)?,
        None => {
            let source = std::fs::read_to_string(&entry_path).with_context(|| {
                format!("reading {} (the plugin's module)", entry_path.display())
            })?;
            world_from_source(&source, &entry_path)?
        }
    };
    Ok(Project { name, world, entry })
}

fn dir_name(dir: &Path) -> String {
    short_name(
        &dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into()),
    )
}

/// The project's `wit/`, else the nearest one above it that holds the okno worlds.
fn find_wit(dir: &Path) -> anyhow::Result<PathBuf> {
    for candidate in dir.ancestors() {
        let wit = candidate.join("wit");
        if wit.join("worlds.wit").is_file() {
            return Ok(wit);
        }
    }
    bail!(
        "no wit/ directory with worlds.wit in {} or above it: copy the hub's wit/ into the project",
        dir.display()
    )
}

/// A toolchain program: under the toolchains directory, else on `PATH`.
fn tool(relative: &[&str], program: &str) -> anyhow::Result<PathBuf> {
    let installed = relative
        .iter()
        .fold(toolchains_dir(), |path, part| path.join(part));
    if installed.is_file() {
        return Ok(installed);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(program);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "{program} is not installed (looked at {} and on PATH): run scripts/install-plugin-toolchains",
        installed.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_says_the_language() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(guest_language(dir.path()), None);
        std::fs::write(dir.path().join("app.py"), "").unwrap();
        assert_eq!(guest_language(dir.path()), Some(GuestLanguage::Python));
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        assert_eq!(guest_language(dir.path()), Some(GuestLanguage::JavaScript));
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(guest_language(dir.path()), None);
    }

    #[test]
    fn the_world_comes_from_the_source_when_the_project_names_none() {
        let file = Path::new("app.py");
        assert_eq!(
            world_from_source("def classify(self, m, c):", file).unwrap(),
            "classifier"
        );
        assert_eq!(
            world_from_source("export function decide(m, c) {", file).unwrap(),
            "policy"
        );
        assert_eq!(
            world_from_source(
                "export function decode(i) {}\nexport function encode() {}",
                file
            )
            .unwrap(),
            "connector"
        );
        let err = world_from_source("print(1)", file).unwrap_err().to_string();
        assert!(err.contains("app.py") && err.contains("classify"), "{err}");
    }

    #[test]
    fn names_lose_the_plugin_prefix() {
        assert_eq!(short_name("okno-plugin-urgency-js"), "urgency-js");
        assert_eq!(short_name("@acme/triage"), "acme-triage");
    }
}
