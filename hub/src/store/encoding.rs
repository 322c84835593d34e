//! How a message's [`Record`] is kept in the `messages` tree: JSON, compressed with zstd
//! against a dictionary that ships with the hub, behind a format byte.
//!
//! JSON inside rather than a binary serde format: records carry `#[serde(default)]`
//! fields added over the versions, which a self-describing format reads from records
//! written before them, and the dictionary plus zstd take away what JSON costs (the field
//! names, the stage and plugin names that every record repeats).
//!
//! The first byte says how the rest is written:
//! - `{`: plain JSON, as every version before this one wrote records; read as before, and
//!   written compressed the next time the record changes, so no migration is needed.
//! - [`ZSTD_DICT_1`]: one zstd frame, compressed with [`DICTIONARY_1`].
//!
//! A dictionary is part of the format: records written with it can be read only with the
//! same bytes, so it is never changed (a test pins its SHA-256); a better one comes as a
//! new format byte beside it.

use std::cell::RefCell;
use std::sync::OnceLock;

use anyhow::Context as _;

use crate::store::Record;

/// The format byte of a zstd frame compressed with [`DICTIONARY_1`].
pub const ZSTD_DICT_1: u8 = 0x01;

/// A raw-content dictionary: a record's shape as the hub writes it (field names, stage
/// and plugin names, the reasons the reference plugins give), without any appeal's text.
/// zstd finds in it what a record repeats of every other one.
pub const DICTIONARY_1: &[u8] = include_bytes!("record-dictionary-1.json");

/// zstd's level for records. A record is written several times on its way (accepted,
/// classified, routed, delivered), so its compression is paid each time: level 9 saved
/// 8 % of the bytes for four times the CPU (README, "Bytes on disk per message").
pub const LEVEL: i32 = 3;

/// The largest record read back, in bytes of JSON: far above what the body, key and
/// correction limits let a record grow to, it bounds what a damaged frame can make the
/// hub allocate.
const MAX_RECORD_BYTES: usize = 256 << 20;

fn encoder_dictionary() -> &'static zstd::dict::EncoderDictionary<'static> {
    static DICT: OnceLock<zstd::dict::EncoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| zstd::dict::EncoderDictionary::copy(DICTIONARY_1, LEVEL))
}

fn decoder_dictionary() -> &'static zstd::dict::DecoderDictionary<'static> {
    static DICT: OnceLock<zstd::dict::DecoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| zstd::dict::DecoderDictionary::copy(DICTIONARY_1))
}

thread_local! {
    // A zstd context allocates its tables once; records are encoded on every stage of
    // every message, so each thread keeps its own.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// The bytes the `messages` tree keeps for `record`.
pub fn encode(record: &Record) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_vec(record)?;
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = match cell.as_mut() {
            Some(c) => c,
            None => cell.insert(zstd::bulk::Compressor::with_prepared_dictionary(
                encoder_dictionary(),
            )?),
        };
        let frame = compressor
            .compress(&json)
            .context("compressing a message record")?;
        let mut out = Vec::with_capacity(1 + frame.len());
        out.push(ZSTD_DICT_1);
        out.extend_from_slice(&frame);
        Ok(out)
    })
}

/// The record kept as `bytes`, in any format this or an earlier version wrote.
pub fn decode(bytes: &[u8]) -> anyhow::Result<Record> {
    match bytes.first() {
        Some(b'{') => serde_json::from_slice(bytes)
            .context("the store holds an unreadable message record (JSON)"),
        Some(&ZSTD_DICT_1) => {
            let json = DECOMPRESSOR
                .with(|cell| -> anyhow::Result<Vec<u8>> {
                    let mut cell = cell.borrow_mut();
                    let decompressor = match cell.as_mut() {
                        Some(d) => d,
                        None => cell.insert(zstd::bulk::Decompressor::with_prepared_dictionary(
                            decoder_dictionary(),
                        )?),
                    };
                    Ok(decompressor.decompress(&bytes[1..], MAX_RECORD_BYTES)?)
                })
                .context("the store holds an unreadable message record (zstd)")?;
            serde_json::from_slice(&json)
                .context("the store holds an unreadable message record (JSON in zstd)")
        }
        Some(other) => anyhow::bail!(
            "the store holds a message record of unknown format 0x{other:02x} \
             (written by a newer version of the hub?)"
        ),
        None => anyhow::bail!("the store holds an empty message record"),
    }
}

/// A compressor at `level`, with [`DICTIONARY_1`] or without a dictionary: what the disk
/// bench weighs the level and the dictionary with.
pub fn compressor(
    level: i32,
    dictionary: bool,
) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    if dictionary {
        zstd::bulk::Compressor::with_dictionary(level, DICTIONARY_1)
    } else {
        zstd::bulk::Compressor::new(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{State, TraceEntry};

    fn record() -> Record {
        let message = serde_json::from_value(serde_json::json!({
            "id": "01a22bc6568e00000000",
            "channel": "mail",
            "source": "mail",
            "subject": "Нет отопления",
            "body": "Здравствуйте! В доме по улице Ленина, 15 третий день нет отопления.",
        }))
        .unwrap();
        let mut record = Record::accepted(message);
        record.state = State::Routed;
        record.trace.push(TraceEntry {
            at: 1_796_030_748_302,
            stage: "decode".into(),
            plugin: Some("mail".into()),
            plugin_version: Some("71757d4557a8".into()),
            duration_us: 1244,
            result: "ok".into(),
            reasons: vec!["1 message(s) from source \"mail\"".into()],
        });
        record
    }

    fn as_json(record: &Record) -> serde_json::Value {
        serde_json::to_value(record).unwrap()
    }

    #[test]
    fn a_record_is_kept_compressed_and_read_back_whole() {
        let record = record();
        let bytes = encode(&record).unwrap();
        assert_eq!(bytes[0], ZSTD_DICT_1);
        assert!(
            bytes.len() < serde_json::to_vec(&record).unwrap().len() / 2,
            "{} bytes",
            bytes.len()
        );
        assert_eq!(as_json(&decode(&bytes).unwrap()), as_json(&record));
    }

    #[test]
    fn a_record_an_earlier_version_wrote_as_json_reads_as_before() {
        let record = record();
        let json = serde_json::to_vec(&record).unwrap();
        assert_eq!(as_json(&decode(&json).unwrap()), as_json(&record));
    }

    #[test]
    fn damaged_or_unknown_bytes_are_an_error_that_says_so() {
        let mut bytes = encode(&record()).unwrap();
        let err = decode(&[0x7f, 1, 2]).unwrap_err().to_string();
        assert!(err.contains("unknown format 0x7f"), "{err}");
        let err = decode(&[]).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        bytes.truncate(bytes.len() / 2);
        let err = format!("{:#}", decode(&bytes).unwrap_err());
        assert!(err.contains("unreadable message record (zstd)"), "{err}");
    }

    #[test]
    fn the_dictionary_of_format_1_never_changes() {
        // Records written with it need these very bytes to be read: a new dictionary
        // comes with a new format byte, beside this one.
        assert_eq!(
            crate::store::blobs::sha256_hex(DICTIONARY_1),
            "bd5d327592f8a7329cfa76112fcf90f320459ead216e121c296e1de771b9bf6b"
        );
    }
}
