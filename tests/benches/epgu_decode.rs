//! Decode throughput of the `epgu` connector (SMEV 3) inside the sandbox, on the
//! committed samples (tests/data/smev): each call a fresh instance, as the hub makes it,
//! from the envelope's bytes in to the message out.
//!
//! `cargo bench -p okno-tests --bench epgu_decode` prints a table (figures in README);
//! `OKNO_BENCH_ROUNDS` sets how many times each input is decoded (default 300).

#[path = "common/decode.rs"]
mod decode;

use okno_hub::runtime::{Limits, Runtime, RuntimeOptions};
use okno_tests::{plugin_context, workspace};

const MTOM_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";

fn smev(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/smev").join(name)).expect("the committed samples")
}

fn main() {
    let rounds = decode::rounds();
    let engine = Runtime::new(RuntimeOptions::default()).expect("engine");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let epgu = engine
        .load(
            &decode::built("epgu"),
            None,
            None,
            plugin_context("epgu", &[]),
            Limits::default(),
        )
        .expect("loading epgu");
    println!("| input | size | mean µs | p99 µs | messages/s | MB/s |");
    println!("|---|---|---|---|---|---|");
    for (label, file, content_type) in [
        (
            "real GetRequestResponse 1.1 (citizen, file-storage attachment)",
            "smevclient_get_request_response_incoming.xml",
            None,
        ),
        (
            "real GetResponseResponse 1.2",
            "smevclient_get_response_response.xml",
            None,
        ),
        (
            "scrap-metal licence 1.3, two base64 attachments",
            "own_scrap_licence_request_1.3.xml",
            None,
        ),
        (
            "scrap-metal licence 1.3, MTOM",
            "own_scrap_licence_request_1.3.mtom",
            Some(MTOM_TYPE),
        ),
        ("appeal 1.2", "own_appeal_request_1.2.xml", None),
    ] {
        decode::measure(&rt, label, &epgu, &smev(file), content_type, rounds);
    }
}
