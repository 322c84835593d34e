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
        return compile_on_own_threads(engine, bytes);
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
    let component = compile_on_own_threads(engine, bytes)?;
    let serialized = component.serialize().map_err(anyhow::Error::from)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serialized).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(component)
}

/// Compiles on threads that end with the compilation, then returns what they freed.
/// Cranelift allocates tens of MiB per plugin, and memory a thread freed stays with that
/// thread until it allocates again: on rayon's global pool, idle once the hub runs, it
/// stayed resident for the hub's whole life.
fn compile_on_own_threads(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    // A scoped pool's threads have all exited when `build_scoped` returns.
    let component = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("okno-compile-{i}"))
        .build_scoped(
            |thread| thread.run(),
            |pool| pool.install(|| Component::new(engine, bytes)),
        )
        .context("starting the compiler threads")?;
    crate::memory::return_freed_memory();
    Ok(component?)
}
