//! # okno-plugin-edms: an EDMS over МЭДО
//!
//! A connector for the `connector` world of `okno:plugin`: documents, containers,
//! acknowledgments and notifications of МЭДО (the interdepartmental electronic document
//! exchange every Russian EDMS product speaks) in; document packets and registration
//! notifications out. See `README.md` beside this file for the metadata keys and
//! settings.
//!
//! **decode** reads one input into one message on channel `edms`:
//! - a packet: a zip container (content type `application/zip`, or bytes starting with
//!   `PK`), also a zipped packet folder — `envelope.ltr` (windows-1251), the transport file
//!   (`document.xml`, or `container.xml` in 2.7.1) and the files it names; for МЭДО 2.7 the
//!   container zip inside it with `passport.xml`;
//! - one XML file alone: an `xdms:communication` of МЭДО 2.x (document, acknowledgment,
//!   notification) or a container passport of 2.7 (`http://minsvyaz.ru/container`) or
//!   2.7.1 (`urn:IEDMS:CONTAINER`).
//!
//! **encode** writes a zip packet for a МЭДО gateway's outgoing folder: an appeal as a
//! document «Документ» (its text in `appeal.txt`), or, for a document that came in over
//! МЭДО, the notification «Зарегистрирован» back to its sender.

mod charset;
mod decode;
mod encode;
pub mod error;
mod ltr;
mod medo;
mod packet;
mod settings;
pub mod uid;
mod xml;

use okno_sdk::clock;
use okno_sdk::config;
use okno_sdk::prelude::*;

pub use decode::normalise_date;
use packet::Limits;
use settings::{EncodeSettings, Settings};

/// The EDMS connector.
pub struct EdmsConnector;

fn limits() -> Result<Limits, PluginError> {
    let read = |key: &str, default: u64| -> Result<u64, PluginError> {
        match config::get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    PluginError::config(format!(
                    "setting `{key}` is `{v}`; give a number of bytes above zero, e.g. `{default}`"
                ))
                }),
        }
    };
    Ok(Limits {
        max_entry_bytes: read("max-entry-bytes", packet::DEFAULT_MAX_ENTRY_BYTES)?,
        max_total_bytes: read("max-packet-bytes", packet::DEFAULT_MAX_TOTAL_BYTES)?,
    })
}

impl Connector for EdmsConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = Settings::from_config()?;
        let message = decode::decode(&input, &settings, limits()?)?;
        Ok(vec![message])
    }

    fn encode(
        message: Message,
        classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = Settings::from_config()?;
        let out = EncodeSettings::from_config()?;
        encode::encode(
            &message,
            &classification,
            &decision,
            &settings,
            &out,
            clock::utc_offset_minutes(),
        )
    }
}

okno_sdk::export_connector!(EdmsConnector);
