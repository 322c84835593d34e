//! Pieces of a hub config as TOML text, for tests that write a config of their own (a few
//! plugins, sources of their own) rather than [`crate::write_config`]'s, and the source
//! tokens such a hub takes.

use std::path::Path;

use okno_hub::auth::{Role, TokenStore};
use okno_hub::config::Config;

/// `[hub]` listening on `listen`, its data dir `DIR/data`, with `settings` (TOML lines,
/// e.g. `workers = 2`).
pub fn hub_table(dir: &Path, listen: &str, settings: &str) -> String {
    format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\n{settings}\n\n",
        dir.join("data").display()
    )
}

/// One `[[plugins]]` entry: the component at `file`, pinned by its sha256, then
/// `settings` (TOML lines: limits, grants, a `[plugins.settings]` table).
pub fn plugin_entry(name: &str, kind: &str, file: &Path, settings: &str) -> String {
    format!(
        "[[plugins]]\nname = \"{name}\"\nkind = \"{kind}\"\nfile = \"{}\"\nsha256 = \"{}\"\n{settings}\n\n",
        file.display(),
        crate::sha256_of(file)
    )
}

/// A `[[sources]]` entry taking pushes over HTTP, decoded by `connector`.
pub fn http_source(name: &str, connector: &str) -> String {
    format!("[[sources]]\nname = \"{name}\"\ntransport = \"http\"\nconnector = \"{connector}\"\n\n")
}

/// An HTTP `[[sinks]]` entry encoded by `connector`, three attempts with short backoff.
pub fn http_sink(name: &str, url: &str, connector: &str) -> String {
    format!(
        "[[sinks]]\nname = \"{name}\"\ntransport = \"http\"\nurl = \"{url}\"\nconnector = \"{connector}\"\nmax_attempts = 3\nbackoff_ms = 50\nmax_backoff_ms = 200\n\n"
    )
}

/// A token `name` in `data_dir` for pushing to the source `source`.
pub fn source_token(data_dir: &Path, name: &str, source: &str) -> String {
    TokenStore::open(data_dir)
        .create(name, Role::Source, Some(source), None)
        .expect("issuing a source token")
        .0
}

/// `text` written as `DIR/okno.toml` and loaded: the error it must be refused with.
pub fn config_error(dir: &Path, text: &str) -> String {
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).expect("writing the config");
    match Config::load(&path) {
        Ok(_) => panic!("config accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}
