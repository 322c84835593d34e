//! The storage behind a plugin's `kv` interface: sled in the hub, memory for dry runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Larger values are refused with `quota-exceeded`: kv is for state, not for files.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Where the hub puts labelled examples (officials' corrections, imported history) in a
/// classifier's kv, as JSON `{"code": "...", "text": "..."}`.
pub const CORRECTIONS_PREFIX: &str = "okno.corrections/";

/// One plugin's key space. Errors are messages for the plugin.
pub trait PluginKv: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    fn delete(&self, key: &str) -> Result<(), String>;
    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String>;
}

/// A kv that lives as long as the process: for `okno plugin run`, `okno eval` and tests.
#[derive(Default)]
pub struct MemoryKv(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemoryKv {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A poisoned lock only means another call panicked mid-update of a plain map.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PluginKv for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.map().get(key).cloned())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.map().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.map().remove(key);
        Ok(())
    }

    fn list_keys(&self, prefix: &str, limit: u32) -> Result<Vec<String>, String> {
        Ok(self
            .map()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit as usize)
            .map(|(k, _)| k.clone())
            .collect())
    }
}
