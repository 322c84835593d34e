//! Decode throughput of the `edms` connector (МЭДО) inside the sandbox, on the committed
//! real samples (tests/data/medo) and the real 2.7 packet assembled from them: each call
//! a fresh instance, as the hub makes it, from the bytes in to the message out.
//!
//! `cargo bench -p okno-tests --bench edms_decode` prints a table (figures in README);
//! `OKNO_BENCH_ROUNDS` sets how many times each input is decoded (default 300).

use std::io::Write;
use std::time::Duration;

#[path = "common/decode.rs"]
mod decode;

use okno_hub::runtime::{Limits, Runtime, RuntimeOptions};
use okno_tests::{plugin_context, workspace};

fn medo(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/medo").join(name)).expect("the committed samples")
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The real packet: its envelope, transport file and passport, with a 200 KB stand-in
/// for the PDF it names (a one-page letter's usual size) and a stand-in signature.
fn real_packet() -> Vec<u8> {
    let pdf: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let container = zip(&[
        (
            "passport.xml",
            &medo("medo27_container_passport_minvostokrazvitiya.xml"),
        ),
        ("874070.pdf", &pdf),
        ("visa1.sig", &[0x30u8; 3000]),
    ]);
    zip(&[
        (
            "envelope.ltr",
            &medo("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
        ),
        (
            "document.xml",
            &medo("medo27_document_transport_minvostokrazvitiya.xml"),
        ),
        ("document.edc.zip", &container),
    ])
}

fn main() {
    let rounds = decode::rounds();
    let engine = Runtime::new(RuntimeOptions::default()).expect("engine");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let edms = engine
        .load(
            &decode::built("edms"),
            None,
            None,
            plugin_context("edms", &[]),
            Limits {
                cpu: Duration::from_secs(1),
                ..Limits::default()
            },
        )
        .expect("loading edms");
    println!("| input | size | mean µs | p99 µs | messages/s | MB/s |");
    println!("|---|---|---|---|---|---|");
    decode::measure(
        &rt,
        "receipt 2.0 (XML alone)",
        &edms,
        &medo("medo20_acknowledgment_fso.xml"),
        None,
        rounds,
    );
    decode::measure(
        &rt,
        "transport file 2.7 (XML alone)",
        &edms,
        &medo("medo27_document_transport_minvostokrazvitiya.xml"),
        None,
        rounds,
    );
    decode::measure(
        &rt,
        "passport 2.7 (XML alone)",
        &edms,
        &medo("medo27_container_passport_minvostokrazvitiya.xml"),
        None,
        rounds,
    );
    decode::measure(
        &rt,
        "packet 2.7 (zip, container inside, 200 KB PDF)",
        &edms,
        &real_packet(),
        Some("application/zip"),
        rounds,
    );
}
