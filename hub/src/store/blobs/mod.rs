//! The blob store: attachments and the raw inbound bytes, kept by their SHA-256.
//!
//! Files rather than a sled tree: a blob is written once and read whole (an attachment
//! forwarded to the EDMS, a raw e-mail looked at by an admin), often megabytes, and sled
//! keeps values in memory pages and its log, where megabyte values would crowd out the
//! records the hub reads all the time. A file per blob, `DATA_DIR/blobs/ab/cdef…` (the first
//! two hex digits as a directory, so that no directory holds more than 1/256 of them), is
//! written to a temporary name, fsynced, renamed into place and its directory fsynced: a
//! crash leaves either the whole blob or none, and the same content is one file however
//! often it arrives.
//!
//! Bounded: a blob over `max_blob_bytes` or one that would take the store past
//! `quota_bytes` is not kept (the message still is, with its reference; a sink that needs
//! the content then fails naming it). Retention: a blob is kept `retention_days` after it
//! was last stored; `sweep` removes older ones, and temporary files a crash left.

pub mod extract;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

/// Limits of the blob store (`[hub.blobs]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobLimits {
    /// The largest blob kept, in bytes.
    pub max_blob_bytes: u64,
    /// All blobs together, in bytes.
    pub quota_bytes: u64,
    /// Days a blob is kept after it was last stored.
    pub retention_days: u32,
    /// Keep the raw inbound bytes of every message; otherwise only of those with
    /// attachments (the evidence they came from).
    pub keep_raw: bool,
}

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits {
            max_blob_bytes: 32 << 20,
            quota_bytes: 4 << 30,
            retention_days: 365,
            keep_raw: false,
        }
    }
}

/// Why a blob was not kept.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("a blob of {size} bytes is over the limit of {max} bytes (hub.blobs.max_blob_bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("the blob store is full: {used} of {quota} bytes used, {size} more asked (hub.blobs.quota_bytes)")]
    Full { used: u64, quota: u64, size: u64 },
    #[error("{0:#}")]
    Io(anyhow::Error),
}

pub struct Blobs {
    dir: PathBuf,
    limits: Mutex<BlobLimits>,
    /// Bytes in the store: summed at open, kept up to date on put and sweep.
    used: AtomicU64,
    /// Serialises puts, so that two writes of one new blob count its size once and the
    /// quota check and the write are one step.
    writing: Mutex<()>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn valid_sha(sha: &str) -> bool {
    sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Blobs {
    /// Opens (creating) the store in `dir` and counts what it holds.
    pub fn open(dir: &Path) -> anyhow::Result<Blobs> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the blob store {}", dir.display()))?;
        let blobs = Blobs {
            dir: dir.to_path_buf(),
            limits: Mutex::new(BlobLimits::default()),
            used: AtomicU64::new(0),
            writing: Mutex::new(()),
        };
        let mut used = 0;
        blobs.each(|_, _, meta| used += meta.len())?;
        blobs.used.store(used, Ordering::Relaxed);
        Ok(blobs)
    }

    /// Applies the limits of the config in force.
    pub fn configure(&self, limits: BlobLimits) {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    fn limits(&self) -> BlobLimits {
        self.limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(&sha[..2]).join(&sha[2..])
    }

    /// Keeps `bytes`; returns their SHA-256. Storing what is there already only renews
    /// its retention.
    pub fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = sha256_hex(bytes);
        let limits = self.limits();
        let size = bytes.len() as u64;
        if size > limits.max_blob_bytes {
            return Err(BlobError::TooLarge {
                size,
                max: limits.max_blob_bytes,
            });
        }
        let path = self.path(&sha);
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        if path.exists() {
            // Renewed: retention counts from the last time the content arrived.
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()));
            if let Err(e) = file {
                tracing::warn!(blob = %sha, error = %e, "could not renew a blob's retention");
            }
            return Ok(sha);
        }
        let used = self.used_bytes();
        if used.saturating_add(size) > limits.quota_bytes {
            return Err(BlobError::Full {
                used,
                quota: limits.quota_bytes,
                size,
            });
        }
        write_atomically(&path, bytes).map_err(BlobError::Io)?;
        self.used.fetch_add(size, Ordering::Relaxed);
        Ok(sha)
    }

    /// The blob with this SHA-256, checked against it; `None` when the store does not
    /// hold it (never kept, swept, or damaged on disk).
    pub fn get(&self, sha: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if !valid_sha(sha) {
            return Ok(None);
        }
        let path = self.path(sha);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading blob {}", path.display())),
        };
        if sha256_hex(&bytes) != sha {
            tracing::error!(blob = %sha, "a blob on disk does not match its SHA-256; ignored");
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// Removes blobs last stored more than `retention_days` before `now`, and temporary
    /// files older than an hour (a crash in the middle of a write). Returns how many
    /// blobs went.
    pub fn sweep(&self, now: SystemTime) -> anyhow::Result<usize> {
        let keep = Duration::from_secs(u64::from(self.limits().retention_days) * 86_400);
        let mut old = Vec::new();
        self.each(|path, temporary, meta| {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let limit = if temporary {
                Duration::from_secs(3600)
            } else {
                keep
            };
            if age > limit {
                old.push((path.to_path_buf(), temporary, meta.len()));
            }
        })?;
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = 0;
        for (path, temporary, size) in old {
            match std::fs::remove_file(&path) {
                Ok(()) if !temporary => {
                    removed += 1;
                    self.used.fetch_sub(size, Ordering::Relaxed);
                }
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing blob {}", path.display()))
                }
            }
        }
        Ok(removed)
    }

    /// Calls `f` with every file under the store: (path, is it a temporary file, metadata).
    fn each(&self, mut f: impl FnMut(&Path, bool, &std::fs::Metadata)) -> anyhow::Result<()> {
        for shard in std::fs::read_dir(&self.dir)
            .with_context(|| format!("listing {}", self.dir.display()))?
        {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(shard.path())? {
                let file = file?;
                let meta = file.metadata()?;
                if meta.is_file() {
                    let temporary = file.file_name().to_string_lossy().starts_with('.');
                    f(&file.path(), temporary, &meta);
                }
            }
        }
        Ok(())
    }
}

/// The metadata key of the raw inbound's SHA-256 on a message whose raw bytes are kept.
pub const RAW_KEY: &str = "okno.raw-sha256";

/// The metadata key prefix under which a sink's connector gets an attachment's content.
pub const CONTENT_KEY: &str = "okno.attachment.";

/// Unpacked from containers while looking for attachments, at most (per input).
const SEARCH_BUDGET: u64 = 256 << 20;

/// An attachment whose content was not kept, and why (for the message's trace; the log
/// line names only its SHA-256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotKept {
    pub sha256: String,
    pub reason: String,
}

impl NotKept {
    /// One line per attachment of `messages` that was not kept, naming it.
    pub fn describe(not_kept: &[NotKept], messages: &[crate::model::Message]) -> Vec<String> {
        let mut lines = Vec::new();
        for n in not_kept {
            let names: Vec<&str> = messages
                .iter()
                .flat_map(|m| &m.attachments)
                .filter(|a| a.content_ref.strip_prefix("sha256:") == Some(n.sha256.as_str()))
                .map(|a| a.name.as_str())
                .collect();
            let name = names.first().copied().unwrap_or("?");
            lines.push(format!(
                "attachment {name:?} (sha256:{}) not kept: {}",
                n.sha256, n.reason
            ));
        }
        lines
    }
}

/// Which of a poll's answers a message came from, told by its idempotency key: the
/// first answer holding the key, or else its id part (connectors write keys as
/// `prefix:id` or `prefix:id#revision`, as `knd:…` and `sog:…#3`, while the remote
/// system's bytes hold the id alone). Ids shorter than 8 bytes are not looked for: a
/// number that short turns up in any answer.
fn input_holding_key(inputs: &[&[u8]], key: &str) -> Option<usize> {
    const SHORTEST: usize = 8;
    let id = key.split_once(':').map_or(key, |(_, id)| id);
    let bare = id.split_once('#').map_or(id, |(bare, _)| bare);
    [key, id, bare]
        .into_iter()
        .filter(|needle| needle.len() >= SHORTEST)
        .find_map(|needle| {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            inputs.iter().position(|input| finder.find(input).is_some())
        })
}

impl Blobs {
    /// How much of a poll's answers is kept to look for attachments in: twice
    /// `hub.blobs.max_blob_bytes`, as an answer holding a file at the limit carries it as
    /// base64 (a third larger) inside its envelope.
    pub fn poll_record_bytes(&self) -> u64 {
        self.limits().max_blob_bytes.saturating_mul(2)
    }

    /// Keeps what a decode named: each attachment with a `sha256:` reference, found in the
    /// raw bytes it came from, and the raw bytes themselves when a message has
    /// attachments (or `keep_raw`), noted on the message as `okno.raw-sha256`. What cannot
    /// be kept (too large, quota, not found) is logged, returned and left out: the message
    /// is still journaled, and a sink that needs the content fails naming it.
    pub fn keep_inbound(&self, raw: &[u8], messages: &mut [crate::model::Message]) -> Vec<NotKept> {
        self.keep_inbound_from(&[raw], messages)
    }

    /// As [`Blobs::keep_inbound`] for a poller's batch: the attachments are looked for in
    /// the answers its HTTP calls got during the poll (the remote system's own bytes: an
    /// SMEV envelope with base64 `Content` or an MTOM package, a feed of SOG cards). A
    /// multipart answer (MTOM) is looked at as a MIME entity with its Content-Type.
    pub fn keep_polled(
        &self,
        responses: &[crate::runtime::Fetched],
        messages: &mut [crate::model::Message],
    ) -> Vec<NotKept> {
        let inputs: Vec<std::borrow::Cow<'_, [u8]>> = responses
            .iter()
            .map(|r| match r.content_type.as_deref() {
                Some(ct)
                    if ct
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("multipart/") =>
                {
                    // The body alone starts with its boundary: give it the header it came
                    // with, so that it is read (and kept as raw) as the MIME entity it is.
                    let ct: String = ct.chars().filter(|c| !c.is_control()).collect();
                    let mut entity = format!("Content-Type: {ct}\r\n\r\n").into_bytes();
                    entity.extend_from_slice(&r.body);
                    std::borrow::Cow::Owned(entity)
                }
                _ => std::borrow::Cow::Borrowed(r.body.as_slice()),
            })
            .collect();
        let inputs: Vec<&[u8]> = inputs.iter().map(|c| c.as_ref()).collect();
        self.keep_inbound_from(&inputs, messages)
    }

    /// Keeps the attachments of `messages` found in any of `inputs`, and the raw bytes: with
    /// one input it is every message's raw inbound; with several (a poll's answers), a
    /// message's raw inbound is the input its first attachment was found in, or else the
    /// first input holding its idempotency key (see [`input_holding_key`]); a message
    /// found in neither way has no raw kept.
    fn keep_inbound_from(
        &self,
        inputs: &[&[u8]],
        messages: &mut [crate::model::Message],
    ) -> Vec<NotKept> {
        let keep_raw = self.limits().keep_raw;
        let mut not_kept = Vec::new();
        let wanted: HashSet<String> = messages
            .iter()
            .flat_map(|m| &m.attachments)
            .filter_map(|a| a.content_ref.strip_prefix("sha256:"))
            .filter(|sha| valid_sha(sha) && !self.path(sha).exists())
            .map(str::to_string)
            .collect();
        let mut found_in: HashMap<String, usize> = HashMap::new();
        if !wanted.is_empty() {
            let found = extract::find_in(inputs, &wanted, SEARCH_BUDGET);
            for sha in &wanted {
                match found.get(sha) {
                    Some((input, content)) => {
                        found_in.insert(sha.clone(), *input);
                        if let Err(e) = self.put(content) {
                            tracing::warn!(blob = %sha, error = %e, "an attachment is not kept");
                            not_kept.push(NotKept {
                                sha256: sha.clone(),
                                reason: e.to_string(),
                            });
                        }
                    }
                    None => {
                        tracing::warn!(blob = %sha, "an attachment's content is not in the raw inbound; not kept");
                        not_kept.push(NotKept {
                            sha256: sha.clone(),
                            reason: "its content is not in what the source sent (not found by \
                                     its SHA-256 in the raw bytes, their MIME parts, zip entries \
                                     or base64 text)"
                                .into(),
                        });
                    }
                }
            }
        }
        not_kept.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        if !(keep_raw || messages.iter().any(|m| !m.attachments.is_empty())) {
            return not_kept;
        }
        let mut kept: HashMap<usize, Option<String>> = HashMap::new();
        for m in messages.iter_mut() {
            let input = if inputs.len() == 1 {
                Some(0)
            } else {
                m.attachments
                    .iter()
                    .filter_map(|a| a.content_ref.strip_prefix("sha256:"))
                    .find_map(|sha| found_in.get(sha).copied())
                    .or_else(|| {
                        m.idempotency_key
                            .as_deref()
                            .and_then(|key| input_holding_key(inputs, key))
                    })
            };
            let Some(input) = input else { continue };
            let sha = kept
                .entry(input)
                .or_insert_with(|| match self.put(inputs[input]) {
                    Ok(sha) => Some(sha),
                    Err(e) => {
                        tracing::warn!(error = %e, "the raw inbound is not kept");
                        None
                    }
                });
            if let Some(sha) = sha {
                m.metadata.retain(|(k, _)| k != RAW_KEY);
                m.metadata.push((RAW_KEY.into(), sha.clone()));
            }
        }
        not_kept
    }

    /// Puts each attachment's content into `message`'s metadata for a sink's connector
    /// (`okno.attachment.<sha256>`, base64). Fails naming the first one the store lacks.
    pub fn attach_contents(&self, message: &mut crate::model::Message) -> Result<(), String> {
        use base64::Engine as _;
        let mut contents = Vec::new();
        for a in &message.attachments {
            let sha = a.content_ref.strip_prefix("sha256:").unwrap_or(&a.sha256);
            if sha.is_empty() {
                // A reference to content the hub never held (`smev-fs:<uuid>`: a file left
                // in SMEV's storage for the adapter to fetch): the connector passes the
                // reference on, there is no content to hand it.
                continue;
            }
            let content = self
                .get(sha)
                .map_err(|e| format!("reading attachment {:?}: {e:#}", a.name))?
                .ok_or_else(|| {
                    format!(
                        "attachment {:?} ({}) is not in the blob store (too large, over the quota, or past retention)",
                        a.name, a.content_ref
                    )
                })?;
            contents.push((
                format!("{CONTENT_KEY}{sha}"),
                base64::engine::general_purpose::STANDARD.encode(content),
            ));
        }
        message.metadata.extend(contents);
        Ok(())
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary dot-file beside it, fsynced,
/// renamed, and the directory fsynced so that the rename survives a crash.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().context("a blob path has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .context("a blob path has a file name")?
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file =
        std::fs::File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", temp.display()))?;
    drop(file);
    std::fs::rename(&temp, path).with_context(|| format!("renaming into {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_bounded_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        blobs.configure(BlobLimits {
            max_blob_bytes: 10,
            quota_bytes: 15,
            retention_days: 1,
            keep_raw: false,
        });
        let sha = blobs.put(b"hello").unwrap();
        assert_eq!(sha, sha256_hex(b"hello"));
        assert!(dir.path().join(&sha[..2]).join(&sha[2..]).is_file());
        assert_eq!(blobs.get(&sha).unwrap().as_deref(), Some(&b"hello"[..]));
        // The same content again is the same blob, counted once.
        blobs.put(b"hello").unwrap();
        assert_eq!(blobs.used_bytes(), 5);
        assert!(matches!(
            blobs.put(b"eleven byte"),
            Err(BlobError::TooLarge { size: 11, max: 10 })
        ));
        blobs.put(b"0123456789").unwrap();
        assert!(matches!(blobs.put(b"x"), Err(BlobError::Full { .. })));
        assert_eq!(blobs.get(&"0".repeat(64)).unwrap(), None);
        assert_eq!(blobs.get("../../etc/passwd").unwrap(), None);
        // Reopened, the store counts what it holds.
        assert_eq!(Blobs::open(dir.path()).unwrap().used_bytes(), 15);
        // A day and a bit later both are past retention.
        assert_eq!(blobs.sweep(SystemTime::now()).unwrap(), 0);
        let later = SystemTime::now() + Duration::from_secs(86_400 + 60);
        assert_eq!(blobs.sweep(later).unwrap(), 2);
        assert_eq!(blobs.get(&sha).unwrap(), None);
        assert_eq!(blobs.used_bytes(), 0);
    }

    #[test]
    fn a_damaged_blob_is_not_returned() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let sha = blobs.put(b"content").unwrap();
        std::fs::write(dir.path().join(&sha[..2]).join(&sha[2..]), b"other").unwrap();
        assert_eq!(blobs.get(&sha).unwrap(), None);
    }

    #[test]
    fn a_poll_of_several_answers_keeps_each_message_its_own_raw() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        blobs.configure(BlobLimits {
            keep_raw: true,
            ..BlobLimits::default()
        });
        let list = br#"{"items":[{"id":"a1b2c3d4-0001"},{"id":"a1b2c3d4-0002"}]}"#;
        let first = br#"{"card":{"uid":"a1b2c3d4-0001","text":"first"}}"#;
        let second = br#"{"card":{"uid":"a1b2c3d4-0002","text":"second"}}"#;
        let message = |key: &str| {
            serde_json::from_value::<crate::model::Message>(
                serde_json::json!({"channel": "sog", "idempotency_key": key}),
            )
            .unwrap()
        };
        // Keys as connectors write them: with a prefix, with a revision, and one too short
        // to tell an answer by.
        let mut messages = [
            message("sog:a1b2c3d4-0002#3"),
            message("knd:a1b2c3d4-0001"),
            message("x:42"),
        ];
        let inputs: [&[u8]; 3] = [first, second, list];
        assert!(blobs.keep_inbound_from(&inputs, &mut messages).is_empty());
        let raw = |m: &crate::model::Message| {
            m.metadata_value(RAW_KEY)
                .map(|sha| blobs.get(sha).unwrap().unwrap())
        };
        assert_eq!(raw(&messages[0]).as_deref(), Some(&second[..]));
        assert_eq!(raw(&messages[1]).as_deref(), Some(&first[..]));
        assert_eq!(raw(&messages[2]), None);
    }
}
