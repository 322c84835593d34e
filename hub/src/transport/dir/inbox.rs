//! The inbox of a `dir` source.
//!
//! A file is read only once it is complete: its size and modification time must be the
//! same at two scans in a row. Names starting with `.` and ending with `.tmp` or `.part`
//! are never read, so a writer that writes under such a name and renames when done is
//! picked up at the next two scans.
//!
//! A folder in the inbox is one packet (a МЭДО packet delivered as a folder:
//! `envelope.ltr`, the transport file and the files it names): it is taken once its
//! listing — names, sizes, modification times, to one level of subfolders — is the same
//! at two scans in a row, and a writer that builds it under a `.`-name and renames it when
//! done is never read half. Its files go to the connector as one zip container (the
//! folder's name as its top folder, entries in name order), and the folder moves to
//! `done/` or `failed/` whole. `done/` and `failed/` themselves are never read.
//!
//! Each file is passed whole to the source's connector as one input (a `.zip` container
//! as its bytes with content type `application/zip`; the connector opens it), with
//! `file.name`, `file.size` and `file.sha256` in the input's metadata, then journaled
//! like a message posted over HTTP. Messages the connector gave no idempotency key get
//! `file:NAME:SHA256#N`, so a file read again after a restart (the hub stopped between
//! journaling it and moving it) is a duplicate of the first time, not a second appeal.
//! Once journaled the file moves to `done/`; a file the connector refuses, or one over
//! `max_file_bytes`, moves to `failed/` with `NAME.error` saying why. When the hub
//! cannot journal (queue full, disk failing), the file stays and is tried at a later
//! scan. The inbox and `done/` must be on one filesystem, so a move is a rename.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::config::{DirInConfig, InboxPaths};
use crate::model::Inbound;
use crate::observability::for_log;
use crate::pipeline::{Hub, IngestError};

const TRANSPORT: &str = "dir";
/// How often the config in force is looked at for dir sources added or removed.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

/// Starts watching the inbox of every `dir` source of the config in force, and follows
/// reloads as the poll transport does.
pub fn start(hub: &Arc<Hub>) {
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut running: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            running.retain(|_, task| !task.is_finished());
            let active = hub.active();
            for source in &active.config.sources {
                let name = source.name.get_ref();
                if source.transport.get_ref() == TRANSPORT && !running.contains_key(name) {
                    let task = tokio::spawn(watch(hub.clone(), name.clone()));
                    running.insert(name.clone(), task);
                }
            }
            drop(active);
            tokio::time::sleep(SUPERVISE_EVERY).await;
        }
    });
}

fn current(hub: &Hub, name: &str) -> Option<(DirInConfig, InboxPaths)> {
    let active = hub.active();
    let source = active.config.source(name)?;
    if source.transport.get_ref() != TRANSPORT {
        return None;
    }
    let dir = source.dir.clone()?;
    let paths = dir.paths(&active.config);
    Some((dir, paths))
}

/// What a file (or a packet folder) looked like at the last scan.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    modified: Option<SystemTime>,
    /// Files in a folder; 1 for a file.
    files: u64,
    folder: bool,
}

/// Subfolders of a packet folder read, below the packet itself.
const FOLDER_DEPTH: u32 = 1;

/// Files of one packet folder, at most.
const FOLDER_FILES: usize = 512;

/// The files of a packet folder, relative paths with `/`, in name order.
fn folder_files(root: &Path) -> std::io::Result<Vec<(String, std::fs::Metadata)>> {
    fn walk(
        dir: &Path,
        prefix: &str,
        depth: u32,
        out: &mut Vec<(String, std::fs::Metadata)>,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let meta = entry.metadata()?;
            let relative = format!("{prefix}{name}");
            if meta.is_dir() {
                if depth < FOLDER_DEPTH {
                    walk(&entry.path(), &format!("{relative}/"), depth + 1, out)?;
                }
            } else if meta.is_file() {
                out.push((relative, meta));
            }
            if out.len() > FOLDER_FILES {
                return Ok(());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, "", 0, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A folder's listing as one [`Seen`]: total size, latest modification, file count.
fn folder_seen(root: &Path, meta: &std::fs::Metadata) -> std::io::Result<Seen> {
    let files = folder_files(root)?;
    let latest = files
        .iter()
        .filter_map(|(_, m)| m.modified().ok())
        .chain(meta.modified().ok())
        .max();
    Ok(Seen {
        size: files.iter().map(|(_, m)| m.len()).sum(),
        modified: latest,
        files: files.len() as u64,
        folder: true,
    })
}

/// Why a scan could not go on; the source reports it once and tries again later.
#[derive(Debug, thiserror::Error)]
enum ScanError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the hub cannot journal now, so {0} stays in the inbox: {1}")]
    Journal(String, IngestError),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ScanError + 'a {
    move |source| ScanError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

async fn watch(hub: Arc<Hub>, name: String) {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut failing = false;
    if let Some((_, paths)) = current(&hub, &name) {
        tracing::info!(source = %name, inbox = %paths.inbox.display(), "watching the inbox");
    }
    hub.metrics.transport_failing(TRANSPORT, &name, false);
    while let Some((settings, paths)) = current(&hub, &name) {
        match scan(&hub, &name, &settings, &paths, &mut seen).await {
            Ok(()) if failing => {
                failing = false;
                hub.metrics.transport_failing(TRANSPORT, &name, false);
                tracing::info!(source = %name, "the inbox is read again");
            }
            Ok(()) => {}
            Err(error) => {
                hub.metrics.transport_event(TRANSPORT, &name, "error", 1);
                if !failing {
                    failing = true;
                    hub.metrics.transport_failing(TRANSPORT, &name, true);
                    tracing::warn!(source = %name, error = %for_log(&error.to_string()), "reading the inbox fails; trying again at each scan");
                }
            }
        }
        tokio::time::sleep(settings.scan_interval()).await;
    }
    tracing::info!(source = %name, "stopped watching the inbox: the source is no longer a dir source");
}

/// Whether a name in the inbox is a file being written or hidden, never to be read.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part")
}

/// One look at the inbox: files unchanged since the last look are ingested, in name order.
async fn scan(
    hub: &Hub,
    name: &str,
    settings: &DirInConfig,
    paths: &InboxPaths,
    seen: &mut HashMap<String, Seen>,
) -> Result<(), ScanError> {
    for dir in [&paths.inbox, &paths.done, &paths.failed] {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let mut ready = Vec::new();
    let mut present = HashSet::new();
    let entries = std::fs::read_dir(&paths.inbox).map_err(io("listing", &paths.inbox))?;
    for entry in entries {
        let entry = entry.map_err(io("listing", &paths.inbox))?;
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        if skipped(&file_name) {
            continue;
        }
        // A file that vanished since the listing was moved by someone else: skip it.
        let Ok(meta) = entry.metadata() else { continue };
        let now = if meta.is_file() {
            Seen {
                size: meta.len(),
                modified: meta.modified().ok(),
                files: 1,
                folder: false,
            }
        } else if meta.is_dir() {
            let path = entry.path();
            if path == paths.done || path == paths.failed {
                continue;
            }
            // A folder changing under the walk is simply not stable yet.
            let Ok(seen) = folder_seen(&path, &meta) else {
                continue;
            };
            seen
        } else {
            continue;
        };
        present.insert(file_name.clone());
        if seen.insert(file_name.clone(), now) == Some(now) {
            ready.push((file_name, now.folder));
        }
    }
    seen.retain(|file_name, _| present.contains(file_name));
    ready.sort();
    for (file_name, folder) in ready {
        if folder {
            take_folder(hub, name, settings, paths, &file_name).await?;
        } else {
            take(hub, name, settings, paths, &file_name).await?;
        }
        seen.remove(&file_name);
    }
    Ok(())
}

/// Reads one complete file, ingests it, and moves it to done/ or failed/.
async fn take(
    hub: &Hub,
    source: &str,
    settings: &DirInConfig,
    paths: &InboxPaths,
    file_name: &str,
) -> Result<(), ScanError> {
    let path = paths.inbox.join(file_name);
    let max = *settings.max_file_bytes.get_ref();
    let mut bytes = Vec::new();
    let file = std::fs::File::open(&path).map_err(io("opening", &path))?;
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io("reading", &path))?;
    if bytes.len() as u64 > max {
        let reason = format!(
            "the file is larger than sources.dir.max_file_bytes = {max} bytes; it was not read"
        );
        return fail(hub, source, paths, file_name, &reason);
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let inbound = Inbound {
        content_type: content_type(file_name).map(str::to_string),
        metadata: vec![
            ("file.name".into(), file_name.to_string()),
            ("file.size".into(), bytes.len().to_string()),
            ("file.sha256".into(), sha256.clone()),
        ],
        bytes,
    };
    let key = format!("file:{file_name}:{sha256}");
    journal(hub, source, paths, file_name, inbound, &key).await
}

/// Ingests one input read from the inbox entry `name` (a file or a packet folder) and
/// moves the entry to done/, or to failed/ when the connector refuses it. When the hub
/// cannot journal, the entry stays for a later scan.
async fn journal(
    hub: &Hub,
    source: &str,
    paths: &InboxPaths,
    name: &str,
    inbound: Inbound,
    key: &str,
) -> Result<(), ScanError> {
    match hub.ingest_with_key(source, inbound, Some(key)).await {
        Ok(accepted) => {
            let path = paths.inbox.join(name);
            let target = free_name(&paths.done, name);
            std::fs::rename(&path, &target).map_err(io("moving to done", &path))?;
            sync_dir(&paths.inbox);
            hub.metrics.transport_event(TRANSPORT, source, "done", 1);
            let ids: Vec<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
            tracing::info!(source, entry = %for_log(name), messages = ?ids, "journaled and moved to done");
            Ok(())
        }
        Err(IngestError::Decode(error)) => fail(hub, source, paths, name, &error.to_string()),
        Err(error) => Err(ScanError::Journal(name.to_string(), error)),
    }
}

/// Reads one complete packet folder, ingests it as a zip container, and moves the folder
/// to done/ or failed/.
async fn take_folder(
    hub: &Hub,
    source: &str,
    settings: &DirInConfig,
    paths: &InboxPaths,
    folder: &str,
) -> Result<(), ScanError> {
    let root = paths.inbox.join(folder);
    let max = *settings.max_file_bytes.get_ref();
    let files = folder_files(&root).map_err(io("listing", &root))?;
    if files.len() > FOLDER_FILES {
        let reason = format!("the folder holds more than {FOLDER_FILES} files; it was not read");
        return fail(hub, source, paths, folder, &reason);
    }
    let total: u64 = files.iter().map(|(_, m)| m.len()).sum();
    if total > max {
        let reason = format!(
            "the folder's files are larger than sources.dir.max_file_bytes = {max} bytes together; they were not read"
        );
        return fail(hub, source, paths, folder, &reason);
    }
    // The key digests names and contents, not the zip (whose bytes could change with
    // the library), so a folder read again after a restart is a duplicate.
    let mut digest = Sha256::new();
    let mut contents = Vec::with_capacity(files.len());
    for (relative, _) in &files {
        let path = root.join(relative);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
            .map_err(io("reading", &path))?;
        digest.update(relative.as_bytes());
        digest.update([0]);
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(&bytes);
        contents.push((format!("{folder}/{relative}"), bytes));
    }
    let sha256 = hex::encode(digest.finalize());
    let bytes = match zip_folder(&contents) {
        Ok(bytes) => bytes,
        Err(e) => {
            let reason = format!("the folder could not be packed: {e}");
            return fail(hub, source, paths, folder, &reason);
        }
    };
    let inbound = Inbound {
        content_type: Some("application/zip".into()),
        metadata: vec![
            ("file.name".into(), folder.to_string()),
            ("file.folder".into(), "true".into()),
            ("file.size".into(), total.to_string()),
            ("file.sha256".into(), sha256.clone()),
        ],
        bytes,
    };
    let key = format!("folder:{folder}:{sha256}");
    journal(hub, source, paths, folder, inbound, &key).await
}

/// A packet folder's files as a zip container, stored (not compressed: it is unpacked
/// again at once), with a fixed time so that the same folder gives the same bytes.
fn zip_folder(files: &[(String, Vec<u8>)]) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .large_file(files.iter().any(|(_, b)| b.len() as u64 >= u32::MAX as u64));
    for (name, bytes) in files {
        writer.start_file(name.as_str(), options)?;
        writer.write_all(bytes)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Moves a refused file to failed/, with `NAME.error` beside it. The reason is written
/// before the move: a stop in between leaves the file in the inbox, to be refused again.
fn fail(
    hub: &Hub,
    source: &str,
    paths: &InboxPaths,
    file_name: &str,
    reason: &str,
) -> Result<(), ScanError> {
    let path = paths.inbox.join(file_name);
    let target = free_name(&paths.failed, file_name);
    let mut error_file = target.clone().into_os_string();
    error_file.push(".error");
    let error_file = PathBuf::from(error_file);
    std::fs::write(&error_file, format!("{reason}\n")).map_err(io("writing", &error_file))?;
    std::fs::rename(&path, &target).map_err(io("moving to failed", &path))?;
    sync_dir(&paths.inbox);
    hub.metrics.transport_event(TRANSPORT, source, "failed", 1);
    tracing::warn!(source, file = %for_log(file_name), reason = %for_log(reason), "file refused and moved to failed");
    Ok(())
}

/// `dir/NAME`, or `dir/NAME.1`, `dir/NAME.2`… when a file of that name is already there
/// (a system that sends the same name twice keeps both).
fn free_name(dir: &Path, file_name: &str) -> PathBuf {
    let first = dir.join(file_name);
    if !first.exists() {
        return first;
    }
    (1u32..)
        .map(|n| dir.join(format!("{file_name}.{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Makes a rename in `dir` durable; a failure only weakens that, so it is logged.
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "syncing the directory failed");
    }
}

/// The content type a file's extension says, for connectors that take several kinds.
fn content_type(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "zip" => "application/zip",
        "xml" => "application/xml",
        "json" => "application/json",
        "eml" => "message/rfc822",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_being_written_are_never_read() {
        assert!(skipped(".hidden"));
        assert!(skipped("packet.zip.part"));
        assert!(skipped("card.json.tmp"));
        assert!(!skipped("card.json"));
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a.xml"), dir.path().join("a.xml"));
        std::fs::write(dir.path().join("a.xml"), "x").unwrap();
        assert_eq!(free_name(dir.path(), "a.xml"), dir.path().join("a.xml.1"));
    }
}
