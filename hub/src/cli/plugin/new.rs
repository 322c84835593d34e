//! `okno plugin new NAME --world W [--lang L] [--dir DIR]`: a ready-to-build plugin
//! project from the embedded template `sdk/templates/<lang>/<world>/`, with a README, a
//! passing test and the WIT files it needs.
//!
//! Inside the Okno workspace a Rust plugin becomes one of its members (added to
//! `[workspace] members` in the root Cargo.toml, the file's layout kept) and inherits the
//! workspace's package fields and `okno-sdk`. Anywhere else it is a standalone project:
//! its own `[workspace]` table (so no workspace above captures it), the `plugin` build
//! profile, and `okno-sdk` by path to an Okno checkout (`--sdk`, the one the current
//! directory is in, or the one this binary was built from) or else by version.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::templates;

pub struct NewOptions {
    pub name: String,
    pub world: String,
    pub lang: String,
    pub dir: Option<PathBuf>,
    /// The `sdk/` directory of an Okno checkout, for a standalone project's dependency.
    pub sdk: Option<PathBuf>,
}

/// The `plugin` profile of the Okno workspace, for standalone projects (see
/// `hub/src/cli/build.rs` for why each setting).
const STANDALONE_TABLES: &str = r#"
# A project of its own: no Cargo workspace above this directory captures it.
[workspace]

# `okno plugin build` builds with this profile: small, stripped and reproducible, so the
# sha256 pinned in a hub's config matches a build on any machine.
[profile.plugin]
inherits = "release"
strip = true
debug = false
codegen-units = 1
opt-level = 3
panic = "abort"
"#;

/// Creates the project and returns its directory.
pub fn new_project(options: NewOptions) -> anyhow::Result<PathBuf> {
    let name = options.name.as_str();
    check_name(name)?;
    let world = options.world.as_str();
    super::parse_world(world)?;
    let lang = options.lang.as_str();
    let files = templates::files(lang, world);
    if files.is_empty() {
        bail!(
            "there is no {lang} template for a {world} plugin; templates exist for: {}",
            templates::available().join(", ")
        );
    }
    let cwd = std::env::current_dir()
        .context("reading the current directory")?
        .canonicalize()
        .context("resolving the current directory")?;
    let dir = match &options.dir {
        Some(dir) => absolute(&cwd, dir),
        None => match okno_workspace_above(&cwd) {
            Some(root) => root.join("plugins").join(name),
            None => cwd.join(name),
        },
    };
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty; choose another --dir",
            dir.display()
        );
    }
    let workspace = okno_workspace_above(&dir);
    let member = lang == "rust" && workspace.is_some();

    let mut vars: Vec<(&str, String)> = vec![
        ("name", name.to_string()),
        ("package", format!("okno-plugin-{name}")),
        (
            "crate_name",
            format!("okno_plugin_{}", name.replace('-', "_")),
        ),
        ("type_name", type_name(name)),
        ("world", world.to_string()),
        ("contract_version", okno_sdk::CONTRACT_VERSION.to_string()),
    ];
    if lang == "rust" {
        if member {
            vars.push((
                "package_fields",
                "version.workspace = true\nedition.workspace = true\nlicense.workspace = true\nrust-version.workspace = true".into(),
            ));
            vars.push(("okno_sdk", "okno-sdk.workspace = true".into()));
            vars.push(("standalone", String::new()));
        } else {
            vars.push((
                "package_fields",
                "version = \"0.1.0\"\nedition = \"2021\"\nrust-version = \"1.95\"".into(),
            ));
            vars.push(("okno_sdk", sdk_dependency(options.sdk.as_deref(), &cwd)?));
            vars.push(("standalone", STANDALONE_TABLES.into()));
        }
    }

    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (relative, bytes) in files {
        let relative = relative.strip_suffix(".tmpl").unwrap_or(relative);
        let bytes = match std::str::from_utf8(bytes) {
            Ok(text) => fill(text, &vars).into_bytes(),
            Err(_) => bytes.to_vec(),
        };
        write(&dir.join(relative), &bytes)?;
    }
    // Inside the workspace the SDK reads the repository's own wit/; a copy would drift.
    if !member {
        for (relative, bytes) in templates::WIT {
            write(&dir.join("wit").join(relative), bytes)?;
        }
        if !dir.join(".gitignore").exists() {
            write(&dir.join(".gitignore"), b"target/\ndist/\n")?;
        }
    }
    if member {
        let root = workspace.expect("a member has a workspace");
        let relative = dir
            .strip_prefix(&root)
            .expect("the project is inside the workspace")
            .to_string_lossy()
            .replace('\\', "/");
        add_member(&root.join("Cargo.toml"), &relative)?;
    }
    Ok(dir)
}

/// Plugin names become crate names and file names: lower-case ASCII letters, digits and
/// `-`, starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!("plugin name {name:?}: use lower-case letters, digits and `-`, starting with a letter (e.g. water-alerts)");
    }
    Ok(())
}

/// `water-alerts` → `WaterAlerts`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn fill(text: &str, vars: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `path` made absolute, with its existing part resolved (symbolic links, `..`), so it
/// compares with the canonical workspace root.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let Some(existing) = path.ancestors().find(|p| p.exists()) else {
        return path;
    };
    let tail = path
        .strip_prefix(existing)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    match existing.canonicalize() {
        Ok(base) => base.join(tail),
        Err(_) => path,
    }
}

/// The root of the Okno workspace `path` is in (it need not exist yet): a Cargo.toml with
/// `[workspace]` whose `workspace.dependencies` has `okno-sdk`.
pub fn okno_workspace_above(path: &Path) -> Option<PathBuf> {
    let existing = path.ancestors().find(|p| p.exists())?.canonicalize().ok()?;
    for dir in existing.ancestors() {
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let Ok(manifest) = toml::from_str::<toml::Value>(&text) else {
            continue;
        };
        if let Some(workspace) = manifest.get("workspace") {
            let has_sdk = workspace
                .get("dependencies")
                .and_then(|d| d.get("okno-sdk"))
                .is_some();
            return has_sdk.then(|| dir.to_path_buf());
        }
    }
    None
}

/// The `okno-sdk` dependency line of a standalone project.
fn sdk_dependency(sdk: Option<&Path>, cwd: &Path) -> anyhow::Result<String> {
    let is_sdk = |dir: &Path| {
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .map(|t| t.contains("name = \"okno-sdk\""))
            .unwrap_or(false)
    };
    let path = match sdk {
        Some(dir) => {
            let dir = absolute(cwd, dir);
            if !is_sdk(&dir) {
                bail!("--sdk {}: no okno-sdk crate there (give the sdk/ directory of an Okno checkout)", dir.display());
            }
            Some(dir)
        }
        None => okno_workspace_above(cwd)
            .map(|root| root.join("sdk"))
            .or_else(|| {
                // The checkout this binary was built from, while it is still there.
                let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sdk");
                is_sdk(&built_from).then_some(built_from)
            })
            .filter(|dir| is_sdk(dir)),
    };
    Ok(match path {
        Some(dir) => {
            let dir = dir.canonicalize().unwrap_or(dir);
            let literal = toml::Value::String(dir.to_string_lossy().into_owned()).to_string();
            format!("okno-sdk = {{ path = {literal} }}")
        }
        None => format!("okno-sdk = \"{}\"", env!("CARGO_PKG_VERSION")),
    })
}

/// Adds `member` to `[workspace] members` of `manifest`, editing the text so the file's
/// comments and layout stay as they are.
fn add_member(manifest: &Path, member: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let parsed: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let listed = parsed
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array());
    if listed.is_some_and(|m| m.iter().any(|v| v.as_str() == Some(member))) {
        return Ok(());
    }
    let updated = insert_member(&text, member).with_context(|| {
        format!(
            "adding {member:?} to [workspace] members in {}; add it by hand",
            manifest.display()
        )
    })?;
    let check: toml::Value = toml::from_str(&updated)
        .with_context(|| format!("the edited {} does not parse", manifest.display()))?;
    let now = check
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array());
    if !now.is_some_and(|m| m.iter().any(|v| v.as_str() == Some(member))) {
        bail!(
            "could not add {member:?} to [workspace] members in {}; add it by hand",
            manifest.display()
        );
    }
    std::fs::write(manifest, updated).with_context(|| format!("writing {}", manifest.display()))
}

/// The text of a manifest with `member` appended to the `members` array of its
/// `[workspace]` table (created when the table has none).
fn insert_member(text: &str, member: &str) -> anyhow::Result<String> {
    let quoted = toml::Value::String(member.to_string()).to_string();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines
        .iter()
        .position(|l| l.trim() == "[workspace]")
        .context("no [workspace] table")?;
    // The table ends at the next header.
    let end = lines[header + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map(|i| header + 1 + i)
        .unwrap_or(lines.len());
    let offset = |line: usize| lines[..line].iter().map(|l| l.len()).sum::<usize>();
    let Some(members_line) = (header + 1..end).find(|&i| {
        let l = lines[i].trim_start();
        l.starts_with("members") && l["members".len()..].trim_start().starts_with('=')
    }) else {
        let at = offset(header + 1);
        return Ok(format!(
            "{}members = [{quoted}]\n{}",
            &text[..at],
            &text[at..]
        ));
    };
    let start = offset(members_line);
    let open = start + text[start..].find('[').context("members is not an array")?;
    // The closing bracket: the first `]` outside a string.
    let mut in_string = false;
    let mut close = None;
    for (i, c) in text[open + 1..].char_indices() {
        match c {
            '"' => in_string = !in_string,
            ']' if !in_string => {
                close = Some(open + 1 + i);
                break;
            }
            _ => {}
        }
    }
    let close = close.context("members has no closing `]`")?;
    let inside = &text[open + 1..close];
    if !inside.contains('\n') {
        let sep = if inside.trim().is_empty() {
            ""
        } else if inside.trim_end().ends_with(',') {
            " "
        } else {
            ", "
        };
        let body = inside.trim_end();
        return Ok(format!(
            "{}{body}{sep}{quoted}]{}",
            &text[..open + 1],
            &text[close + 1..]
        ));
    }
    // One entry a line: indent as the last entry, and keep its trailing comma style.
    let last = inside
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let indent: String = last
        .map(|l| l.chars().take_while(|c| c.is_whitespace()).collect())
        .unwrap_or_else(|| "    ".into());
    let content_end = open + 1 + inside.trim_end().len();
    let before = &text[..content_end];
    let needs_comma = last.is_some_and(|l| !l.trim_end().ends_with(','));
    Ok(format!(
        "{before}{}\n{indent}{quoted},{}",
        if needs_comma { "," } else { "" },
        &text[content_end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_member_keeping_the_layout() {
        let text = "# the workspace\n[workspace]\nresolver = \"2\"\nmembers = [\n    \"hub\",\n    # plugins\n    \"plugins/mail\",\n]\n\n[workspace.package]\nversion = \"0.1.0\"\n";
        let out = insert_member(text, "plugins/shouting").unwrap();
        assert_eq!(
            out,
            "# the workspace\n[workspace]\nresolver = \"2\"\nmembers = [\n    \"hub\",\n    # plugins\n    \"plugins/mail\",\n    \"plugins/shouting\",\n]\n\n[workspace.package]\nversion = \"0.1.0\"\n"
        );
        let no_comma = "[workspace]\nmembers = [\n  \"a\"\n]\n";
        assert_eq!(
            insert_member(no_comma, "b").unwrap(),
            "[workspace]\nmembers = [\n  \"a\",\n  \"b\",\n]\n"
        );
        assert_eq!(
            insert_member("[workspace]\nmembers = [\"a\"]\n", "b").unwrap(),
            "[workspace]\nmembers = [\"a\", \"b\"]\n"
        );
        assert_eq!(
            insert_member("[workspace]\nresolver = \"2\"\n", "b").unwrap(),
            "[workspace]\nmembers = [\"b\"]\nresolver = \"2\"\n"
        );
    }

    #[test]
    fn names_and_types() {
        assert!(check_name("water-alerts").is_ok());
        for bad in ["Water", "1st", "a_b", "a-", "", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(type_name("water-alerts2"), "WaterAlerts2");
    }
}
