//! What the plugin's tests share: the real samples, packets assembled from them, and
//! notifications written the way МЭДО participants write them.

#![allow(dead_code)]

use std::io::Write;

use okno_plugin_edms::EdmsConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

pub fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/medo/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The real 2.7 packet of the samples as a gateway's folder, zipped: envelope.ltr and
/// document.xml as they are, and document.edc.zip holding the real passport.xml with
/// stand-ins for the PDF, the signature and the stamps (not in the source repository).
pub fn real_packet() -> Vec<u8> {
    let container = zip(&[
        (
            "passport.xml",
            &sample("medo27_container_passport_minvostokrazvitiya.xml"),
        ),
        ("874070.pdf", b"%PDF-1.4 stand-in for the letter\n%%EOF\n"),
        ("visa1.sig", b"stand-in for the detached signature"),
        ("visa1.png", b"stand-in stamp"),
        ("reg.png", b"stand-in stamp"),
    ]);
    zip(&[
        (
            "38773995_1/envelope.ltr",
            &sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
        ),
        (
            "38773995_1/document.xml",
            &sample("medo27_document_transport_minvostokrazvitiya.xml"),
        ),
        ("38773995_1/document.edc.zip", &container),
    ])
}

/// A notification as МЭДО 2.x writes one (the structure of real «Уведомление» files).
pub fn notification(kind: &str, uid: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<xdms:communication xmlns:xdms="http://www.infpres.com/IEDMS" xdms:version="2.2">
  <xdms:header xdms:type="Уведомление" xdms:uid="b99ecde8-2582-42ea-be3a-065685884827" xdms:created="2026-03-30T10:41:12.502">
    <xdms:source xdms:uid="39b3deb1-9f60-49a5-8fb9-2af8020071ed">
      <xdms:organization>Министерство промышленности и науки</xdms:organization>
    </xdms:source>
  </xdms:header>
  <xdms:notification xdms:type="{kind}" xdms:uid="{uid}">
{body}
  </xdms:notification>
</xdms:communication>
"#
    )
}

pub fn decode_with(
    host: &MockHost,
    bytes: Vec<u8>,
    content_type: Option<&str>,
) -> Result<Message, PluginError> {
    let mut input = Inbound::from_bytes(bytes);
    input.content_type = content_type.map(str::to_string);
    host.run(|| EdmsConnector::decode(input))
        .map(|mut m| m.remove(0))
}

pub fn decode(bytes: Vec<u8>) -> Result<Message, PluginError> {
    decode_with(&MockHost::new(), bytes, None)
}

pub fn meta<'a>(message: &'a Message, key: &str) -> Option<&'a str> {
    message.metadata_value(key)
}
