//! The outbox of a `dir` sink: each encoded packet becomes one file, written atomically
//! (to a hidden temporary name in the same directory, flushed with fsync, renamed, and
//! the directory fsynced), so a reader of the directory never sees half a file and a
//! file that is there survives a power cut. A reader that skips names starting with `.`
//! (as the `dir` source does) never sees the temporary name either.
//!
//! The file's name is the connector's `filename` header when it gives one, else the
//! message id with an extension from the content type. A name is a single path
//! component: one with `/`, `\`, a NUL, `..`, or a leading `.` is refused for good (the
//! delivery is dead-lettered). Writing the same message again (at-least-once delivery)
//! replaces the file with the same bytes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::model::Outbound;
use crate::transport::http_sink::SendError;

/// Longest file name most filesystems take, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// The name `outbound` is written under, checked to stay inside the directory.
pub fn file_name(message_id: &str, outbound: &Outbound) -> Result<String, String> {
    let given = outbound
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("filename"))
        .map(|(_, value)| value.clone());
    let name = match given {
        Some(name) => name,
        None => format!("{message_id}{}", extension(&outbound.content_type)),
    };
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.contains("..")
    {
        return Err(format!(
            "the connector named the file {:?}: a file name must be one path component (no `/`, `\\`, `..` or leading `.`), at most {MAX_NAME_BYTES} bytes",
            crate::observability::bounded(&name, 300)
        ));
    }
    Ok(name)
}

fn extension(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence.to_ascii_lowercase().as_str() {
        "application/zip" => ".zip",
        "application/xml" | "text/xml" => ".xml",
        "application/json" => ".json",
        "message/rfc822" => ".eml",
        "text/plain" => ".txt",
        "text/csv" => ".csv",
        _ => ".bin",
    }
}

/// Writes `outbound` into `dir` atomically. A bad name is permanent; a failing disk is
/// transient (the delivery is retried).
pub async fn write_packet(
    dir: PathBuf,
    message_id: &str,
    outbound: Outbound,
) -> Result<(), SendError> {
    let name = file_name(message_id, &outbound).map_err(SendError::Permanent)?;
    tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &outbound.bytes))
        .await
        .map_err(|e| SendError::Transient(format!("writing the file stopped: {e}")))?
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SendError> {
    let failed = |what: &str, path: &Path, e: std::io::Error| {
        SendError::Transient(format!("{what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| failed("creating", dir, e))?;
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed("writing", &temporary, e));
    }
    let target = dir.join(name);
    if let Err(e) = std::fs::rename(&temporary, &target) {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed("renaming into", &target, e));
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed("syncing", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(headers: &[(&str, &str)], content_type: &str) -> Outbound {
        Outbound {
            bytes: b"x".to_vec(),
            content_type: content_type.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_name_never_leaves_the_directory() {
        for bad in ["../x", "a/b", "..", "", ".hidden", "a\\b", "a\0b"] {
            assert!(
                file_name("01J", &outbound(&[("filename", bad)], "text/plain")).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            file_name(
                "01J",
                &outbound(&[("Filename", "packet-1.zip")], "application/zip")
            ),
            Ok("packet-1.zip".to_string())
        );
        assert_eq!(
            file_name("01J", &outbound(&[], "application/json; charset=utf-8")),
            Ok("01J.json".to_string())
        );
    }

    #[test]
    fn writes_the_whole_file_and_no_temporary_stays() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "a.txt", b"hello").unwrap();
        write_atomically(dir.path(), "a.txt", b"hello").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["a.txt".to_string()]);
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"hello");
    }
}
