//! Small files the hub keeps beside its store (tokens, the audit log's head), written so
//! that the hub and an `okno` command run at the same time never see half a file or
//! lose each other's change.
//!
//! sled holds an exclusive lock on the store while the hub runs, so what an admin must be
//! able to change from the command line with the hub running lives in these files
//! instead, each guarded by an advisory lock on a `NAME.lock` file beside it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Holds the exclusive lock of one file until dropped.
pub struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Takes the exclusive lock that guards `path` (a `.lock` file beside it), waiting for
/// another process that holds it.
pub fn lock(path: &Path) -> anyhow::Result<FileLock> {
    let lock_path = with_suffix(path, ".lock");
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    Ok(FileLock { file })
}

/// Replaces `path` with `bytes`: written to a temporary file, synced, renamed over it,
/// and the directory synced, so a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = with_suffix(path, &format!(".tmp{}", std::process::id()));
    {
        let mut file = private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    sync_dir(path)
}

/// Syncs the directory holding `path`, so that a rename or a new file in it is durable.
pub fn sync_dir(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing directory {}", dir.display()))?;
    }
    Ok(())
}

/// Options that create files readable by the hub's user only: tokens' hashes and the
/// audit log are nobody else's business.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
