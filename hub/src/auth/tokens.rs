//! The token file: create, list, revoke, and look up a presented token by its hash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::{bail, Context};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuthError, Caller, Role};
use crate::files;

const TOKEN_PREFIX: &str = "okno_";
/// Longest token name: names go into the audit log and into log lines.
const MAX_NAME_CHARS: usize = 64;

/// One issued token as the file keeps it: never the token itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

impl TokenRecord {
    /// What `token list` and the API show: everything but the hash.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "role": self.role,
            "source": self.source,
            "created_at": crate::sla::format_time(self.created_at),
            "expires_at": self.expires_at.map(crate::sla::format_time),
            "revoked_at": self.revoked_at.map(crate::sla::format_time),
        })
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// What the file looked like when it was last read: a change means read it again.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Option<Stamp>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&meta),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

struct Loaded {
    stamp: Option<Stamp>,
    by_hash: HashMap<String, TokenRecord>,
}

/// The token file of one data dir.
pub struct TokenStore {
    path: PathBuf,
    loaded: Mutex<Option<Loaded>>,
}

pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn read_file(path: &Path) -> anyhow::Result<TokenFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid token file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_file(path: &Path, file: &TokenFile) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(file)?;
    bytes.push(b'\n');
    files::write_atomic(path, &bytes)
}

/// A name people can read in logs and the audit: letters, digits, `-`, `_`, `.`, `@`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        bail!("a token name has 1 to {MAX_NAME_CHARS} characters, got {name:?}");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')))
    {
        bail!("a token name may hold letters, digits, '-', '_', '.' and '@'; {c:?} is not allowed in {name:?}");
    }
    Ok(())
}

impl TokenStore {
    pub fn open(data_dir: &Path) -> TokenStore {
        TokenStore {
            path: data_dir.join("tokens.json"),
            loaded: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Issues a token; returns it (the only time it is seen) and its record. A name is
    /// unique among tokens not revoked.
    pub fn create(
        &self,
        name: &str,
        role: Role,
        source: Option<&str>,
        expires_at: Option<i64>,
    ) -> anyhow::Result<(String, TokenRecord)> {
        check_name(name)?;
        match (role, source) {
            (Role::Source, None) => {
                bail!("a source token is bound to one source: give --source NAME")
            }
            (Role::Source, Some(_)) => {}
            (_, Some(_)) => bail!("only a source token is bound to a source (role {role})"),
            (_, None) => {}
        }
        let now = crate::sla::now_millis();
        if expires_at.is_some_and(|at| at <= now) {
            bail!("the expiry date is in the past");
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let record = TokenRecord {
            name: name.into(),
            role,
            source: source.map(String::from),
            sha256: sha256_hex(&token),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let _lock = files::lock(&self.path)?;
        let mut file = read_file(&self.path)?;
        if file
            .tokens
            .iter()
            .any(|t| t.name == name && t.revoked_at.is_none())
        {
            bail!("a token named {name:?} exists already; revoke it first or choose another name");
        }
        file.tokens.push(record.clone());
        write_file(&self.path, &file)?;
        Ok((token, record))
    }

    /// Revokes the live token of that name; returns its record.
    pub fn revoke(&self, name: &str) -> anyhow::Result<TokenRecord> {
        let _lock = files::lock(&self.path)?;
        let mut file = read_file(&self.path)?;
        let Some(record) = file
            .tokens
            .iter_mut()
            .find(|t| t.name == name && t.revoked_at.is_none())
        else {
            bail!("no live token is named {name:?} (see `okno token list`)");
        };
        record.revoked_at = Some(crate::sla::now_millis());
        let revoked = record.clone();
        write_file(&self.path, &file)?;
        Ok(revoked)
    }

    pub fn list(&self) -> anyhow::Result<Vec<TokenRecord>> {
        Ok(read_file(&self.path)?.tokens)
    }

    /// The caller a presented token stands for.
    pub fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(AuthError::Unknown);
        }
        let hash = sha256_hex(token);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        let current = stamp(&self.path).map_err(|e| AuthError::Unavailable(e.into()))?;
        if loaded.as_ref().is_none_or(|l| l.stamp != current) {
            // Read again: a token was created or revoked. An unreadable file refuses
            // everyone rather than keep honouring what may have been revoked.
            let file = read_file(&self.path).map_err(AuthError::Unavailable)?;
            *loaded = Some(Loaded {
                stamp: current,
                by_hash: file
                    .tokens
                    .into_iter()
                    .map(|t| (t.sha256.clone(), t))
                    .collect(),
            });
        }
        let record = loaded
            .as_ref()
            .and_then(|l| l.by_hash.get(&hash))
            .ok_or(AuthError::Unknown)?;
        if record.revoked_at.is_some() {
            return Err(AuthError::Revoked(record.name.clone()));
        }
        if record
            .expires_at
            .is_some_and(|at| at <= crate::sla::now_millis())
        {
            return Err(AuthError::Expired(record.name.clone()));
        }
        Ok(Caller {
            name: record.name.clone(),
            role: record.role,
            source: record.source.clone(),
        })
    }
}

/// `--expires`: a date (`2027-01-31`, the start of that day in UTC) or an RFC 3339 time.
pub fn parse_expiry(text: &str) -> anyhow::Result<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
        format!("--expires {text:?} is neither a date (2027-01-31) nor an RFC 3339 time")
    })?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_authenticates_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (token, record) = store.create("crm", Role::Operator, None, None).unwrap();
        assert!(token.starts_with("okno_") && token.len() == 5 + 64);
        assert!(!std::fs::read_to_string(store.path())
            .unwrap()
            .contains(&token));
        assert_eq!(record.sha256, sha256_hex(&token));
        let caller = store.authenticate(&token).unwrap();
        assert_eq!((caller.name.as_str(), caller.role), ("crm", Role::Operator));
        // A second store on the same file (another process) revokes it.
        TokenStore::open(dir.path()).revoke("crm").unwrap();
        assert!(matches!(
            store.authenticate(&token),
            Err(AuthError::Revoked(_))
        ));
        assert!(matches!(
            store.authenticate("okno_00"),
            Err(AuthError::Unknown)
        ));
    }

    #[test]
    fn source_binding_names_and_expiry_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        assert!(store.create("a", Role::Source, None, None).is_err());
        assert!(store.create("a", Role::Admin, Some("mail"), None).is_err());
        assert!(store.create("bad name", Role::Admin, None, None).is_err());
        assert!(store.create("old", Role::Admin, None, Some(1)).is_err());
        store.create("a", Role::Admin, None, None).unwrap();
        assert!(store.create("a", Role::Admin, None, None).is_err());
        assert_eq!(
            parse_expiry("2027-01-31").unwrap(),
            parse_expiry("2027-01-31T00:00:00Z").unwrap()
        );
        assert!(parse_expiry("31.01.2027").is_err());
    }

    #[test]
    fn an_unreadable_token_file_refuses_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (token, _) = store.create("a", Role::Admin, None, None).unwrap();
        std::fs::write(store.path(), b"{broken").unwrap();
        assert!(matches!(
            store.authenticate(&token),
            Err(AuthError::Unavailable(_))
        ));
    }
}
