//! A packet's files: a zip container unpacked within bounds, or one file alone.
//!
//! Bounds, checked on what an entry declares and again on what it actually inflates to:
//! at most [`MAX_ENTRIES`] entries, none over the entry limit, all together under the
//! total limit (the limits also bound the 2.7 container zip inside the packet, which
//! shares the packet's budget). A plugin has 64 MiB of memory by default; the packet's
//! own bytes are in it already.

use std::io::{Cursor, Read};

use crate::error::EdmsError;

pub const MAX_ENTRIES: usize = 256;
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 16 << 20;
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 24 << 20;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

/// One file of a packet: its path inside the packet (`/`-separated) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Entry {
    /// The last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Unpacks a zip container. `budget` is what is left of the total for this packet.
pub fn unzip(
    bytes: &[u8],
    packet: &str,
    limits: Limits,
    budget: &mut u64,
) -> Result<Vec<Entry>, EdmsError> {
    let zip_error = |e: zip::result::ZipError| EdmsError::Zip {
        packet: packet.into(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    if archive.len() > MAX_ENTRIES {
        return Err(EdmsError::TooLarge {
            packet: packet.into(),
            what: format!(
                "it holds {} entries; at most {MAX_ENTRIES} are read",
                archive.len()
            ),
        });
    }
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(zip_error)?;
        if file.is_dir() {
            continue;
        }
        let path = file
            .name()
            .map_err(|e| EdmsError::Zip {
                packet: packet.into(),
                reason: format!("entry {index}: {e}"),
            })?
            .replace('\\', "/");
        let path: String = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
            .collect::<Vec<_>>()
            .join("/");
        let declared = file.size();
        let limit = limits.max_entry_bytes.min(*budget);
        if declared > limit {
            return Err(EdmsError::TooLarge {
                packet: packet.into(),
                what: format!(
                    "entry {path} declares {declared} bytes; the limit is {} bytes per entry and {} for the packet",
                    limits.max_entry_bytes, limits.max_total_bytes
                ),
            });
        }
        let mut content = Vec::with_capacity(declared as usize);
        (&mut file)
            .take(limit + 1)
            .read_to_end(&mut content)
            .map_err(|e| EdmsError::Zip {
                packet: packet.into(),
                reason: format!("entry {path}: {e}"),
            })?;
        if content.len() as u64 > limit {
            return Err(EdmsError::TooLarge {
                packet: packet.into(),
                what: format!(
                    "entry {path} inflates past {limit} bytes although it declares {declared}"
                ),
            });
        }
        *budget -= content.len() as u64;
        entries.push(Entry {
            path,
            bytes: content,
        });
    }
    strip_common_folder(&mut entries);
    Ok(entries)
}

/// A zipped folder (`38773995_1/document.xml`, ...) reads like the folder's own files.
fn strip_common_folder(entries: &mut [Entry]) {
    let Some(first) = entries.first() else { return };
    let Some((folder, _)) = first.path.split_once('/') else {
        return;
    };
    let prefix = format!("{folder}/");
    if entries.iter().all(|e| e.path.starts_with(&prefix)) {
        for entry in entries.iter_mut() {
            entry.path = entry.path[prefix.len()..].to_string();
        }
    }
}

/// The entry at `path`, or a top-level one named so, case-insensitively (Windows
/// gateways write `Document.xml` as often as `document.xml`).
pub fn find<'a>(entries: &'a [Entry], path: &str) -> Option<&'a Entry> {
    let wanted = path.replace('\\', "/").to_lowercase();
    entries
        .iter()
        .find(|e| e.path.to_lowercase() == wanted)
        .or_else(|| entries.iter().find(|e| e.name().to_lowercase() == wanted))
}

/// The media type of a packet's file, by its extension.
pub fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        "txt" => "text/plain",
        "sig" | "p7s" => "application/pkcs7-signature",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "rtf" => "application/rtf",
        "odt" => "application/vnd.oasis.opendocument.text",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// Writes `files` into a zip container, deflated.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed time keeps a repeated encode byte-identical.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in files {
        writer
            .start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        writer.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(writer.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_strips_a_folder() {
        let bytes = zip(&[
            ("p/document.xml".into(), b"<a/>".to_vec()),
            ("p/envelope.ltr".into(), b"x".to_vec()),
        ])
        .unwrap();
        let mut budget = DEFAULT_MAX_TOTAL_BYTES;
        let entries = unzip(&bytes, "p.zip", Limits::default(), &mut budget).unwrap();
        assert_eq!(entries[0].path, "document.xml");
        assert!(find(&entries, "Document.XML").is_some());
    }

    #[test]
    fn an_entry_past_the_limit_is_refused() {
        let bytes = zip(&[("big.pdf".into(), vec![0u8; 200_000])]).unwrap();
        let limits = Limits {
            max_entry_bytes: 100_000,
            max_total_bytes: 1 << 20,
        };
        let mut budget = limits.max_total_bytes;
        let err = unzip(&bytes, "p.zip", limits, &mut budget).unwrap_err();
        assert!(err.to_string().contains("big.pdf"), "{err}");
    }
}
