//! The storage behind a plugin's `kv` interface: sled in the hub, memory for dry runs.
//!
//! A value is at most [`MAX_VALUE_BYTES`], and each plugin's kv holds at most its quota
//! (keys plus values, in bytes; `kv_quota_mib` of the plugin's config entry, default
//! [`DEFAULT_QUOTA_MIB`]), as `wit/host.wit` promises. Both bound the plugin's own writes
//! (`set` answers `quota-exceeded`) and the hub's writes of labelled examples alike: a
//! looping plugin or a large import fills its own quota, not the disk. A write that does
//! not make the kv larger always goes through, so a kv over a lowered quota can still be
//! rewritten smaller.
//!
//! The sled kv keeps its running total under a reserved key in the plugin's own tree,
//! updated in the same transaction as the write it accounts for: the total survives a
//! crash exactly, and the several handles a reload opens on one tree share it. The key is
//! not UTF-8, so no plugin key (a WIT string) can name it, and listings never show it. A
//! tree from before the total was kept is summed once, when it is opened without one.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sled::transaction::{ConflictableTransactionError, TransactionError};

/// Larger values are refused with `quota-exceeded`: kv is for state, not for files.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// A plugin's kv quota when its config entry gives none.
pub const DEFAULT_QUOTA_MIB: u64 = 64;

/// Where the hub puts labelled examples (officials' corrections, imported history) in a
/// classifier's kv, as JSON `{"code": "...", "text": "..."}`.
pub const CORRECTIONS_PREFIX: &str = "okno.corrections/";

/// Where the hub writes a new random value each time it has changed the examples in a
/// kv, so that a classifier can tell, from one read, that its index of them is current.
pub const CORRECTIONS_REVISION_KEY: &str = "okno.corrections.revision";

/// The sled kv's running total of bytes held. 0xFF never occurs in UTF-8.
const USAGE_KEY: &[u8] = b"\xffokno.kv.usage";

/// Why a write was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The value is over [`MAX_VALUE_BYTES`], or the write would take the kv past its
    /// quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

/// A refused write as the plugin's `set` answers it.
impl From<KvError> for super::bindings::host_world::okno::plugin::kv::KvError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::QuotaExceeded(m) => Self::QuotaExceeded(m),
            KvError::Store(m) => Self::Store(m),
        }
    }
}

/// What a successful write did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The key did not exist.
    New,
    /// The key's earlier value was replaced.
    Replaced,
}

/// Bytes a kv holds (keys plus values) and may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub quota: u64,
}

/// One plugin's key space. Errors are messages for the plugin.
pub trait PluginKv: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;

    /// Writes the entries in order, each checked on its own against the value limit and
    /// the quota: one refused entry leaves the others written. The outer error means the
    /// store failed and nothing was written.
    fn set_many(&self, entries: &[(&str, &[u8])]) -> Result<Vec<Result<Written, KvError>>, String>;

    fn set(&self, key: &str, value: &[u8]) -> Result<Written, KvError> {
        self.set_many(&[(key, value)])
            .map_err(KvError::Store)?
            .pop()
            .unwrap_or_else(|| Err(KvError::Store("the store wrote nothing".into())))
    }

    /// Deletes the keys; true for each that was there. The error means the store failed
    /// and nothing was deleted.
    fn delete_many(&self, keys: &[&str]) -> Result<Vec<bool>, String>;

    fn delete(&self, key: &str) -> Result<(), String> {
        self.delete_many(&[key]).map(drop)
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String>;

    fn usage(&self) -> Result<Usage, String>;
}

/// The bytes an entry takes from the quota.
fn entry_size(key: &str, value_len: usize) -> u64 {
    (key.len() + value_len) as u64
}

/// The kv's total after writing `value` over an entry of `old` bytes (0: none), or why not.
fn account(used: u64, quota: u64, key: &str, value: &[u8], old: u64) -> Result<u64, KvError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::QuotaExceeded(format!(
            "value of {} bytes for key {key:?} is over the {MAX_VALUE_BYTES} byte limit",
            value.len()
        )));
    }
    let new = entry_size(key, value.len());
    let after = used.saturating_sub(old).saturating_add(new);
    if new > old && after > quota {
        return Err(KvError::QuotaExceeded(format!(
            "writing {new} bytes under key {key:?} would take the plugin's kv to {after} bytes, over its quota of {quota} bytes (kv_quota_mib)"
        )));
    }
    Ok(after)
}

/// A kv that lives as long as the process: for `okno plugin run`, `okno eval` and tests.
pub struct MemoryKv {
    state: Mutex<MemoryState>,
    quota: u64,
}

#[derive(Default)]
struct MemoryState {
    map: BTreeMap<String, Vec<u8>>,
    used: u64,
    writes: u64,
}

impl Default for MemoryKv {
    fn default() -> Self {
        MemoryKv::with_quota(DEFAULT_QUOTA_MIB << 20)
    }
}

impl MemoryKv {
    pub fn with_quota(quota_bytes: u64) -> MemoryKv {
        MemoryKv {
            state: Mutex::new(MemoryState::default()),
            quota: quota_bytes,
        }
    }

    /// Entries written or deleted so far: `okno eval` calls a plugin until a call
    /// leaves this unchanged, so that a plugin indexing its examples over several calls
    /// has them all.
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A poisoned lock only means another call panicked mid-update of a plain map.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PluginKv for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.state().map.get(key).cloned())
    }

    fn set_many(&self, entries: &[(&str, &[u8])]) -> Result<Vec<Result<Written, KvError>>, String> {
        let mut state = self.state();
        Ok(entries
            .iter()
            .map(|(key, value)| {
                let old = state.map.get(*key).map(|v| entry_size(key, v.len()));
                state.used = account(state.used, self.quota, key, value, old.unwrap_or(0))?;
                state.map.insert(key.to_string(), value.to_vec());
                state.writes += 1;
                Ok(if old.is_some() {
                    Written::Replaced
                } else {
                    Written::New
                })
            })
            .collect())
    }

    fn delete_many(&self, keys: &[&str]) -> Result<Vec<bool>, String> {
        let mut state = self.state();
        Ok(keys
            .iter()
            .map(|key| match state.map.remove(*key) {
                Some(old) => {
                    state.used = state.used.saturating_sub(entry_size(key, old.len()));
                    state.writes += 1;
                    true
                }
                None => false,
            })
            .collect())
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        Ok(self
            .state()
            .map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit as usize)
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn usage(&self) -> Result<Usage, String> {
        Ok(Usage {
            used: self.state().used,
            quota: self.quota,
        })
    }
}

/// A plugin's kv in the hub's store: one sled tree.
pub struct SledKv {
    tree: sled::Tree,
    quota: u64,
}

fn read_usage(bytes: Option<sled::IVec>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, u64::from_le_bytes)
}

fn store_error<E: std::fmt::Debug>(e: TransactionError<E>) -> String {
    match e {
        TransactionError::Storage(e) => e.to_string(),
        TransactionError::Abort(e) => format!("{e:?}"),
    }
}

impl SledKv {
    /// Opens the kv in `tree`, summing what it holds if no total is kept yet.
    pub fn open(tree: sled::Tree, quota_bytes: u64) -> sled::Result<SledKv> {
        if tree.get(USAGE_KEY)?.is_none() {
            let mut used = 0u64;
            for entry in tree.iter() {
                let (key, value) = entry?;
                used += (key.len() + value.len()) as u64;
            }
            // Kept only if no write set a total since: that write counted from zero.
            let _ = tree.compare_and_swap(
                USAGE_KEY,
                None as Option<&[u8]>,
                Some(&used.to_le_bytes()[..]),
            )?;
        }
        Ok(SledKv {
            tree,
            quota: quota_bytes,
        })
    }
}

impl PluginKv for SledKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.tree
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(|e| e.to_string())
    }

    fn set_many(&self, entries: &[(&str, &[u8])]) -> Result<Vec<Result<Written, KvError>>, String> {
        // sled may run the closure again after a conflict, so it starts afresh each time.
        self.tree
            .transaction(|tx| {
                let mut used = read_usage(tx.get(USAGE_KEY)?);
                let mut outcomes = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let old = tx.get(key.as_bytes())?.map(|v| entry_size(key, v.len()));
                    match account(used, self.quota, key, value, old.unwrap_or(0)) {
                        Ok(after) => {
                            tx.insert(key.as_bytes(), *value)?;
                            used = after;
                            outcomes.push(Ok(if old.is_some() {
                                Written::Replaced
                            } else {
                                Written::New
                            }));
                        }
                        Err(e) => outcomes.push(Err(e)),
                    }
                }
                tx.insert(USAGE_KEY, &used.to_le_bytes()[..])?;
                Ok::<_, ConflictableTransactionError<()>>(outcomes)
            })
            .map_err(store_error)
    }

    fn delete_many(&self, keys: &[&str]) -> Result<Vec<bool>, String> {
        self.tree
            .transaction(|tx| {
                let mut used = read_usage(tx.get(USAGE_KEY)?);
                let mut removed = Vec::with_capacity(keys.len());
                for key in keys {
                    let old = tx.remove(key.as_bytes())?;
                    if let Some(old) = &old {
                        used = used.saturating_sub(entry_size(key, old.len()));
                    }
                    removed.push(old.is_some());
                }
                if removed.contains(&true) {
                    tx.insert(USAGE_KEY, &used.to_le_bytes()[..])?;
                }
                Ok::<_, ConflictableTransactionError<()>>(removed)
            })
            .map_err(store_error)
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        for key in self.tree.scan_prefix(prefix).keys() {
            if keys.len() >= limit as usize {
                break;
            }
            let key = key.map_err(|e| e.to_string())?;
            // Only the reserved total is not UTF-8: every plugin key came in as a string.
            if let Ok(key) = std::str::from_utf8(&key) {
                keys.push(key.to_string());
            }
        }
        Ok(keys)
    }

    fn usage(&self) -> Result<Usage, String> {
        Ok(Usage {
            used: read_usage(self.tree.get(USAGE_KEY).map_err(|e| e.to_string())?),
            quota: self.quota,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvs(quota: u64) -> (Vec<Box<dyn PluginKv>>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = sled::open(dir.path()).expect("sled");
        let sled = SledKv::open(db.open_tree("kv:test").expect("tree"), quota).expect("open");
        (
            vec![Box::new(MemoryKv::with_quota(quota)), Box::new(sled)],
            dir,
        )
    }

    #[test]
    fn the_total_follows_writes_replacements_and_deletes() {
        let (kvs, _dir) = kvs(1000);
        for kv in kvs {
            assert_eq!(kv.set("a", b"12345"), Ok(Written::New));
            assert_eq!(kv.set("bb", b"123"), Ok(Written::New));
            assert_eq!(kv.usage().map(|u| u.used), Ok(11));
            assert_eq!(kv.set("a", b"1"), Ok(Written::Replaced));
            assert_eq!(kv.usage().map(|u| u.used), Ok(7));
            assert_eq!(kv.delete_many(&["bb", "missing"]), Ok(vec![true, false]));
            assert_eq!(kv.usage().map(|u| u.used), Ok(2));
            assert_eq!(kv.list_keys("", 10), Ok(vec!["a".to_string()]));
        }
    }

    #[test]
    fn a_write_past_the_quota_is_refused_and_the_others_go_through() {
        let (kvs, _dir) = kvs(100);
        for kv in kvs {
            let big = vec![b'x'; 60];
            let outcomes = kv
                .set_many(&[("one", &big), ("two", &big), ("three", b"small")])
                .expect("the store works");
            assert_eq!(outcomes[0], Ok(Written::New));
            assert!(matches!(&outcomes[1], Err(KvError::QuotaExceeded(m)) if m.contains("quota")));
            assert_eq!(outcomes[2], Ok(Written::New));
            assert_eq!(kv.get("two"), Ok(None));
            assert_eq!(kv.usage().map(|u| u.used), Ok(3 + 60 + 5 + 5));
            // Shrinking is always allowed, even at the limit.
            assert_eq!(kv.set("one", b"y"), Ok(Written::Replaced));
        }
    }

    #[test]
    fn a_value_over_the_limit_is_refused_whatever_the_quota() {
        let (kvs, _dir) = kvs(u64::MAX);
        for kv in kvs {
            let huge = vec![0u8; MAX_VALUE_BYTES + 1];
            assert!(
                matches!(kv.set("k", &huge), Err(KvError::QuotaExceeded(m)) if m.contains("byte limit"))
            );
            assert_eq!(kv.usage().map(|u| u.used), Ok(0));
        }
    }

    #[test]
    fn a_sled_tree_without_a_total_is_summed_when_opened_and_the_total_is_hidden() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = sled::open(dir.path()).expect("sled");
        let tree = db.open_tree("kv:old").expect("tree");
        tree.insert("old-key", &b"0123456789"[..]).expect("insert");
        let kv = SledKv::open(tree.clone(), 1 << 20).expect("open");
        assert_eq!(kv.usage().map(|u| u.used), Ok(17));
        assert_eq!(kv.list_keys("", 100), Ok(vec!["old-key".to_string()]));
        kv.set("new", b"1").expect("set");
        // Another handle on the same tree (as a reload opens) sees the same total.
        let again = SledKv::open(tree, 1 << 20).expect("open again");
        assert_eq!(again.usage().map(|u| u.used), Ok(21));
    }
}
