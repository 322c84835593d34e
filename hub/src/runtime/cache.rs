//! Compiled components kept on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so that a restart (or a second hub on the same disk) skips Cranelift.

use std::hash::{Hash, Hasher};
use std::path::Path;

use anyhow::Context as _;
use wasmtime::component::Component;
use wasmtime::Engine;

pub fn compile(
    engine: &Engine,
    cache_dir: Option<&Path>,
    bytes: &[u8],
    sha256: &str,
) -> anyhow::Result<Component> {
    let Some(dir) = cache_dir else {
        return Ok(Component::new(engine, bytes)?);
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let path = dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish()));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the
        // same compatibility hash, into the hub's own cache directory.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compiled plugin in the cache is unusable; recompiling")
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    let serialized = component.serialize().map_err(anyhow::Error::from)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serialized).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(component)
}
