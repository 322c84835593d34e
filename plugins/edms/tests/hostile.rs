//! Input nobody should send: each is refused with a typed error naming what and where.

mod common;

use common::*;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

fn refused(bytes: Vec<u8>) -> String {
    let err = decode(bytes).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{}", err.message);
    err.message
}

#[test]
fn an_entity_bomb_is_refused_at_its_doctype() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<xdms:communication xmlns:xdms="http://www.infpres.com/IEDMS">&lol2;</xdms:communication>"#;
    let message = refused(bomb.as_bytes().to_vec());
    assert!(message.contains("document.xml:2: a DOCTYPE"), "{message}");
}

#[test]
fn an_external_entity_is_refused() {
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<c>&xxe;</c>"#;
    assert!(refused(xxe.as_bytes().to_vec()).contains("DOCTYPE"));
    // Without the DOCTYPE, the reference alone names an entity nobody declared.
    let bare = "<xdms:communication xmlns:xdms=\"http://www.infpres.com/IEDMS\">\n<xdms:header xdms:type=\"&xxe;\"/></xdms:communication>";
    let message = refused(bare.as_bytes().to_vec());
    assert!(message.contains("&xxe;"), "{message}");
}

#[test]
fn truncated_xml_says_where_it_ends() {
    let mut bytes = sample("medo27_container_passport_minvostokrazvitiya.xml");
    bytes.truncate(1200);
    let message = refused(bytes);
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn a_wrong_namespace_is_named() {
    let text = String::from_utf8(sample("medo20_acknowledgment_fso.xml"))
        .unwrap()
        .replace(
            "http://www.infpres.com/IEDMS",
            "http://example.org/not-medo",
        );
    let message = refused(text.into_bytes());
    assert!(
        message.contains("http://example.org/not-medo")
            && message.contains("http://www.infpres.com/IEDMS"),
        "{message}"
    );
}

#[test]
fn a_packet_missing_its_document() {
    // The envelope and the transport file, but not the container they name.
    let packet = zip(&[
        (
            "envelope.ltr",
            &sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
        ),
        (
            "document.xml",
            &sample("medo27_document_transport_minvostokrazvitiya.xml"),
        ),
    ]);
    let message = refused(packet);
    assert!(
        message.contains("missing its document") && message.contains("document.edc.zip"),
        "{message}"
    );

    // The container, whose passport names a PDF it does not hold.
    let container = zip(&[(
        "passport.xml",
        &sample("medo27_container_passport_minvostokrazvitiya.xml"),
    )]);
    let message = refused(container);
    assert!(message.contains("874070.pdf"), "{message}");

    // Only an envelope.
    let message = refused(zip(&[(
        "envelope.ltr",
        &sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
    )]));
    assert!(message.contains("no document.xml"), "{message}");
    let message = refused(sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"));
    assert!(message.contains("envelope.ltr alone"), "{message}");
}

#[test]
fn an_envelope_in_an_unknown_charset() {
    let text = encoding_rs::WINDOWS_1251
        .decode(&sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"))
        .0
        .into_owned();
    let koi8 = encoding_rs::KOI8_R.encode(&text).0.into_owned();
    let packet = zip(&[
        ("envelope.ltr", &koi8),
        (
            "document.xml",
            &sample("medo27_document_transport_minvostokrazvitiya.xml"),
        ),
    ]);
    let message = refused(packet);
    assert!(
        message.contains("envelope.ltr is in an unknown charset"),
        "{message}"
    );
}

#[test]
fn declared_utf8_with_other_bytes_is_refused() {
    let text = String::from_utf8(sample("medo20_acknowledgment_fso.xml")).unwrap();
    let bytes = encoding_rs::WINDOWS_1251.encode(&text).0.into_owned();
    let message = refused(bytes);
    assert!(message.contains("not UTF-8"), "{message}");
}

/// A zip entry whose header claims about 4 GB (the most a zip32 header can say) is
/// refused on its claim, before a byte of it is inflated.
#[test]
fn an_entry_claiming_gigabytes_is_refused() {
    let mut packet = zip(&[("document.xml", &sample("medo20_acknowledgment_fso.xml"))]);
    // The uncompressed size: offset 22 in the local header, 24 in the central one.
    let central = packet
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("a central directory");
    packet[22..26].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    packet[central + 24..central + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let message = refused(packet);
    assert!(message.contains("declares 4294967280 bytes"), "{message}");
}

#[test]
fn an_entry_that_inflates_past_the_limit_is_refused() {
    let packet = zip(&[("document.xml", &vec![b' '; 300_000])]);
    let host = MockHost::new().setting("max-entry-bytes", "100000");
    let err = decode_with(&host, packet, Some("application/zip")).unwrap_err();
    assert!(err.message.contains("document.xml"), "{}", err.message);
}

#[test]
fn not_medo_at_all() {
    assert!(refused(b"\x00\x01binary".to_vec()).contains("neither a zip container nor XML"));
    assert!(refused(b"<html><body>hi</body></html>".to_vec()).contains("root element <html>"));
    let broken_zip = b"PK\x03\x04 not really a zip".to_vec();
    assert!(refused(broken_zip).contains("cannot be read"));
}
