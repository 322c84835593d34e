//! Embeds the plugin project templates (`sdk/templates/<lang>/<world>/`) and the contract
//! (`wit/`) in the `okno` binary, so `okno plugin new` works from a released binary
//! without the repository. Writes `$OUT_DIR/templates.rs`: two lists of (relative path,
//! bytes) built with `include_bytes!`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let repo = manifest.parent().expect("hub/ is inside the repository");
    let templates = repo.join("sdk").join("templates");
    let wit = repo.join("wit");
    // A directory here makes cargo rerun this script when any file under it changes.
    println!("cargo:rerun-if-changed={}", templates.display());
    println!("cargo:rerun-if-changed={}", wit.display());

    let mut out = String::new();
    write_list(&mut out, "TEMPLATES", &templates);
    write_list(&mut out, "WIT", &wit);
    let path =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("templates.rs");
    std::fs::write(&path, out).expect("writing templates.rs");
}

fn write_list(out: &mut String, name: &str, dir: &Path) {
    let mut files = Vec::new();
    if dir.is_dir() {
        collect(dir, dir, &mut files);
    }
    files.sort();
    writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
    for (relative, absolute) in files {
        writeln!(
            out,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("reading a template directory") {
        let path = entry.expect("a directory entry").path();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Build output and dependencies a template author may have left behind.
        if matches!(
            file_name,
            "target" | "node_modules" | "__pycache__" | "dist"
        ) {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files);
        } else {
            let relative = path
                .strip_prefix(base)
                .expect("under the base")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path));
        }
    }
}
