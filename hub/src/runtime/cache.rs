//! Compiled components kept on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so that a restart (or a second hub on the same disk) skips Cranelift.
//!
//! # Why every cached file carries a tag
//!
//! A compiled component is native code, and wasmtime runs what it deserializes without
//! checking it. The sha256 pin in the config covers the `.wasm` only; a file in the cache
//! is found by its name alone. So each file ends with an HMAC-SHA256, under a key of the
//! hub's own, of its name (the component's sha256 and the engine's hash) and the compiled
//! bytes. A file whose tag does not match, or that has none, is not deserialized: the
//! component is compiled again from its pinned `.wasm` and the file replaced.
//!
//! The key is 256 random bits made on first use, in a file readable by the hub's user only
//! (mode 0600) beside the cache directory, not in it: `DATA_DIR/compiled.key` for the
//! hub, `~/.cache/okno/compiled.key` for the command-line tools.
//!
//! What that protects against: someone who can write the cache directory but cannot read
//! the key cannot plant native code in it, nor swap one plugin's compiled code for
//! another's (the name is under the tag), nor bring back a file from another hub (another
//! key). What it cannot protect against: someone who can read the key (the hub's user,
//! root, or a reader of the hub's data dir where its mode was widened), or who can write
//! the directory that holds it and so replace the key with one of their own; they can tag
//! what they like. The data dir must stay the hub's.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Bytes of the HMAC-SHA256 tag at the end of every cached file.
const TAG_BYTES: usize = 32;

/// What the tag covers before the name and the bytes, so that it can mean nothing else.
const TAG_CONTEXT: &[u8] = b"okno compiled component v1\0";

/// The cache directory and the key its files are tagged with.
pub struct Cache {
    dir: PathBuf,
    key: [u8; 32],
}

impl Cache {
    /// Creates `dir` if need be, and reads its key (or makes one: see [`key_path`]).
    pub fn open(dir: &Path) -> anyhow::Result<Cache> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the plugin cache {}", dir.display()))?;
        let key_path = key_path(dir)?;
        let key = read_or_create_key(&key_path)?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn tag(&self, name: &str, bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(TAG_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(bytes);
        mac
    }

    /// The compiled bytes in `path`, if its tag is this cache's for `name`.
    fn read(&self, path: &Path, name: &str) -> Cached {
        let mut file = match read_regular_file(path) {
            Ok(Some(file)) => file,
            Ok(None) => return Cached::Untrusted,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Cached::Absent,
            Err(e) => return Cached::Unreadable(e.to_string()),
        };
        let Some(body_len) = file.len().checked_sub(TAG_BYTES) else {
            return Cached::Untrusted;
        };
        let (body, tag) = file.split_at(body_len);
        if self.tag(name, body).verify_slice(tag).is_err() {
            return Cached::Untrusted;
        }
        file.truncate(body_len);
        Cached::Trusted(file)
    }

    /// Writes `bytes` with their tag to `path`: to a temporary file renamed into place, so
    /// a concurrent reader never sees half a file.
    fn write(&self, path: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = path.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let tag = self.tag(name, bytes).finalize().into_bytes();
        let written = std::fs::File::create(&tmp).and_then(|mut file| {
            file.write_all(bytes)?;
            file.write_all(&tag)
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("writing {}", tmp.display()));
        }
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
    }
}

/// The most a cached file is read into memory: far more than any plugin compiles to (the
/// reference plugins compile to 0.4–1.5 MiB), far less than what a file planted in the
/// cache could make the hub allocate.
const MAX_CACHED_BYTES: u64 = 256 << 20;

/// The bytes of `path` if it is a regular file of at most [`MAX_CACHED_BYTES`]; `None` for
/// anything else (a directory, a device, a pipe that would block the read).
fn read_regular_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() || meta.len() > MAX_CACHED_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(MAX_CACHED_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CACHED_BYTES {
        return Ok(None);
    }
    Ok(Some(bytes))
}

enum Cached {
    Absent,
    Unreadable(String),
    /// No tag, or one this cache's key did not make for this name and these bytes.
    Untrusted,
    Trusted(Vec<u8>),
}

/// `DIR.key` beside the cache directory `DIR`: outside it, so that the right to write
/// the cache gives no way to the key.
fn key_path(dir: &Path) -> anyhow::Result<PathBuf> {
    // A path that ends in `..` (or is `/`) has no name of its own; its real one has.
    let dir = match dir.file_name() {
        Some(_) => dir.to_path_buf(),
        None => std::fs::canonicalize(dir)
            .with_context(|| format!("resolving the plugin cache {}", dir.display()))?,
    };
    let mut name = dir
        .file_name()
        .with_context(|| {
            format!(
                "the plugin cache {} has no name to put its key beside; use a directory of its own",
                dir.display()
            )
        })?
        .to_os_string();
    name.push(".key");
    Ok(dir.with_file_name(name))
}

/// Reads the key at `path`, or makes a random one there, readable by this user only.
fn read_or_create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse_key(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading the plugin cache key {}", path.display()))
        }
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    // Written whole to a private temporary file, then linked into place: a hub and an
    // `okno` command starting together never read half a key, and the first key made
    // stays (the other sees the link exist and reads it).
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "key.tmp{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the plugin cache key {}", path.display()))?;
            parse_key(path, &text)
        }
        Err(e) => {
            Err(e).with_context(|| format!("creating the plugin cache key {}", path.display()))
        }
    }
}

fn parse_key(path: &Path, text: &str) -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        anyhow::anyhow!(
            "the plugin cache key {} is not 64 hex digits; delete it and the hub makes a new one (the cache is then compiled again)",
            path.display()
        )
    })?;
    warn_if_others_can_read(path);
    Ok(key)
}

/// The tags are worth what the key's secrecy is worth.
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                key = %path.display(),
                "the plugin cache key can be read by other users; whoever reads it can plant native code in the cache (chmod 600 it)"
            );
        }
    }
}

/// Warns about a cached file once per process, so that a cache the hub cannot rewrite
/// does not repeat itself on every reload.
fn warn_once(cached: &str, what: &str, detail: Option<&str>) {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let first = WARNED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(format!("{cached} {what}"));
    if first {
        match detail {
            Some(detail) => tracing::warn!(cached, detail, "{what}"),
            None => tracing::warn!(cached, "{what}"),
        }
    }
}

pub fn compile(
    engine: &Engine,
    cache: Option<&Cache>,
    bytes: &[u8],
    sha256: &str,
) -> anyhow::Result<Component> {
    let Some(cache) = cache else {
        return compile_on_own_threads(engine, bytes);
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let name = format!("{sha256}-{:016x}.cwasm", hasher.finish());
    let path = cache.dir.join(&name);
    match cache.read(&path, &name) {
        Cached::Absent => {}
        Cached::Unreadable(e) => warn_once(
            &name,
            "a compiled plugin in the cache cannot be read; compiling it again",
            Some(&e),
        ),
        Cached::Untrusted => warn_once(
            &name,
            "a compiled plugin in the cache is not tagged with this hub's key (changed, swapped, or written before tags or by another hub); compiling it again and replacing it",
            None,
        ),
        Cached::Trusted(compiled) => {
            // SAFETY: the tag, made with the key only this hub's user can read, over this
            // name and these bytes, shows that this hub wrote them: the output of
            // `Component::serialize` by an engine with the compatibility hash in the name.
            // They are checked in memory and deserialized from there, so the file cannot
            // change between the check and the use.
            match unsafe { Component::deserialize(engine, &compiled) } {
                Ok(component) => return Ok(component),
                Err(e) => warn_once(
                    &name,
                    "a compiled plugin in the cache is unusable; compiling it again",
                    Some(&format!("{e:#}")),
                ),
            }
        }
    }
    let component = compile_on_own_threads(engine, bytes)?;
    let serialized = component.serialize().map_err(anyhow::Error::from)?;
    // The component is compiled and good; a cache that cannot be written only costs the
    // next start a compilation.
    if let Err(e) = cache.write(&path, &name, &serialized) {
        warn_once(
            &name,
            "a compiled plugin could not be written to the cache",
            Some(&format!("{e:#}")),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary one, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(what: &str) -> Scratch {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "okno-cache-{what}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The smallest component there is: the preamble of the component binary format.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn engine() -> Engine {
        Engine::new(wasmtime::Config::new().wasm_component_model(true)).expect("engine")
    }

    fn cached_file(dir: &Path) -> PathBuf {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }

    #[test]
    fn the_key_is_private_beside_the_cache_and_kept() {
        let scratch = Scratch::new("key");
        let dir = scratch.0.join("compiled");
        let first = Cache::open(&dir).expect("cache");
        let key_file = scratch.0.join("compiled.key");
        let text = std::fs::read_to_string(&key_file).expect("the key is beside the cache");
        assert_eq!(text.trim().len(), 64, "{text:?}");
        assert_eq!(std::fs::read_dir(&dir).expect("cache dir").count(), 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file)
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = Cache::open(&dir).expect("cache");
        assert_eq!(first.key, second.key, "a second open reads the same key");

        let other = Cache::open(&scratch.0.join("other")).expect("cache");
        assert_ne!(first.key, other.key, "each cache makes a random key");

        std::fs::write(&key_file, "not a key").expect("damage");
        let error = Cache::open(&dir).err().expect("a damaged key is refused");
        assert!(format!("{error:#}").contains("delete it"), "{error:#}");
    }

    #[test]
    fn a_changed_or_foreign_file_is_compiled_again_and_replaced() {
        let scratch = Scratch::new("tamper");
        let cache = Cache::open(&scratch.0.join("compiled")).expect("cache");
        let engine = engine();
        let sha = "a".repeat(64);
        compile(&engine, Some(&cache), EMPTY_COMPONENT, &sha).expect("compile");
        let file = cached_file(&cache.dir);
        let good = std::fs::read(&file).expect("cached");
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        assert!(matches!(cache.read(&file, &name), Cached::Trusted(_)));

        // One byte of the compiled code changed.
        let mut changed = good.clone();
        changed[good.len() / 2] ^= 0x40;
        std::fs::write(&file, &changed).expect("tamper");
        assert!(matches!(cache.read(&file, &name), Cached::Untrusted));
        compile(&engine, Some(&cache), EMPTY_COMPONENT, &sha).expect("compile again");
        let rewritten = std::fs::read(&file).expect("cached");
        assert_ne!(rewritten, changed, "the changed file was replaced");
        assert!(matches!(cache.read(&file, &name), Cached::Trusted(_)));

        // The tag alone cut off, as a file from before tags were written looks.
        std::fs::write(&file, &good[..good.len() - TAG_BYTES]).expect("untag");
        assert!(matches!(cache.read(&file, &name), Cached::Untrusted));

        // A well-tagged file under another component's name.
        std::fs::write(&file, &good).expect("restore");
        let other = format!("{}{}", "b".repeat(64), &name[64..]);
        std::fs::copy(&file, cache.dir.join(&other)).expect("copy");
        assert!(matches!(
            cache.read(&cache.dir.join(&other), &other),
            Cached::Untrusted
        ));

        // A file tagged by another hub's key.
        let foreign = Cache::open(&scratch.0.join("foreign")).expect("cache");
        assert!(matches!(foreign.read(&file, &name), Cached::Untrusted));
    }

    #[test]
    fn a_trusted_file_is_used_as_it_is() {
        let scratch = Scratch::new("reuse");
        let cache = Cache::open(&scratch.0.join("compiled")).expect("cache");
        let engine = engine();
        let sha = "c".repeat(64);
        compile(&engine, Some(&cache), EMPTY_COMPONENT, &sha).expect("compile");
        let file = cached_file(&cache.dir);
        let before = std::fs::metadata(&file).expect("cached");
        compile(&engine, Some(&cache), EMPTY_COMPONENT, &sha).expect("from the cache");
        let after = std::fs::metadata(&file).expect("cached");
        // A rewrite renames a new file into place.
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(before.ino(), after.ino(), "the file was not rewritten");
        }
        assert_eq!(before.modified().ok(), after.modified().ok());
    }
}
