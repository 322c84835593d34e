//! `okno token ...` and `okno audit verify`: run on the hub's machine, against its data
//! dir, whether the hub is running or not.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::json;

use crate::audit::{Action, AuditLog};
use crate::auth::{parse_expiry, Role, TokenStore};

/// The data dir: `--data-dir` wins, else the config file's `hub.data_dir` (relative to
/// the file, as `okno serve` takes it). Only that key is read, so the command works while
/// the config's plugins are not built yet.
pub fn data_dir(config: &Path, data_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = data_dir {
        return Ok(dir);
    }
    let text = std::fs::read_to_string(config).with_context(|| {
        format!(
            "reading {} for hub.data_dir (or give --data-dir)",
            config.display()
        )
    })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", config.display(), e.message()))?;
    let dir = table
        .get("hub")
        .and_then(|hub| hub.get("data_dir"))
        .and_then(|dir| dir.as_str())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::config::HubConfig::default().data_dir);
    if dir.is_absolute() {
        return Ok(dir);
    }
    let base = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(base.join(dir))
}

pub fn token_create(
    data_dir: &Path,
    name: &str,
    role: &str,
    source: Option<&str>,
    expires: Option<&str>,
) -> anyhow::Result<String> {
    let Some(role) = Role::parse(role) else {
        bail!("role {role:?} is not one of admin, operator, integrator, client, metrics, source");
    };
    let expires = expires.map(parse_expiry).transpose()?;
    let tokens = TokenStore::open(data_dir);
    let (token, record) = tokens.create(name, role, source, expires)?;
    AuditLog::open(data_dir).append(Action {
        actor: &crate::audit::cli_actor(),
        role: "admin",
        action: "token.create",
        target: &record.name,
        changes: record.summary(),
    })?;
    Ok(token)
}

pub fn token_revoke(data_dir: &Path, name: &str) -> anyhow::Result<()> {
    let record = TokenStore::open(data_dir).revoke(name)?;
    AuditLog::open(data_dir).append(Action {
        actor: &crate::audit::cli_actor(),
        role: "admin",
        action: "token.revoke",
        target: &record.name,
        changes: record.summary(),
    })?;
    eprintln!("revoked token {name:?}");
    Ok(())
}

pub fn token_list(data_dir: &Path, as_json: bool) -> anyhow::Result<()> {
    let tokens = TokenStore::open(data_dir).list()?;
    if as_json {
        let items: Vec<_> = tokens.iter().map(|t| t.summary()).collect();
        println!("{}", json!({ "items": items }));
        return Ok(());
    }
    println!(
        "{:<24} {:<10} {:<12} {:<20} {:<20} REVOKED",
        "NAME", "ROLE", "SOURCE", "CREATED", "EXPIRES"
    );
    for t in &tokens {
        let time = |at: Option<i64>| at.map(crate::sla::format_time).unwrap_or("-".into());
        println!(
            "{:<24} {:<10} {:<12} {:<20} {:<20} {}",
            t.name,
            t.role,
            t.source.as_deref().unwrap_or("-"),
            crate::sla::format_time(t.created_at),
            time(t.expires_at),
            time(t.revoked_at)
        );
    }
    Ok(())
}

pub fn audit_verify(data_dir: &Path, expect_head: Option<&str>) -> anyhow::Result<()> {
    match AuditLog::open(data_dir).verify(expect_head) {
        Ok((count, head)) => {
            println!("audit log intact: {count} entries, head {head}");
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            bail!(
                "the audit log in {} fails verification ({} problem(s))",
                data_dir.display(),
                problems.len()
            )
        }
    }
}
