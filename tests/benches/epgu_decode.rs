//! Decode throughput of the `epgu` connector (SMEV 3) inside the sandbox, on the
//! committed samples (tests/data/smev): each call a fresh instance, as the hub makes it,
//! from the envelope's bytes in to the message out.
//!
//! `cargo bench -p okno-tests --bench epgu_decode` prints a table (figures in README);
//! `OKNO_BENCH_ROUNDS` sets how many times each input is decoded (default 300).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use okno_hub::model::Inbound;
use okno_hub::runtime::{Limits, Plugin, Runtime, RuntimeOptions};
use okno_tests::{plugin_context, workspace};

const MTOM_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";

fn smev(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/smev").join(name)).expect("the committed samples")
}

fn built_epgu() -> PathBuf {
    use okno_hub::cli::build::{build_plugins, wasm_target_dir};
    let root = workspace();
    let out = wasm_target_dir(&root).join("bench-dist").join("epgu");
    build_plugins(
        &[("okno-plugin-epgu".into(), root.join("plugins/epgu"))],
        &out,
        &mut |line| eprintln!("{line}"),
    )
    .expect("building the epgu plugin")
    .remove(0)
    .path
}

fn measure(
    rt: &tokio::runtime::Runtime,
    label: &str,
    plugin: &Plugin,
    input: &[u8],
    content_type: Option<&str>,
    rounds: usize,
) {
    let call = || {
        rt.block_on(plugin.decode(Inbound {
            bytes: input.to_vec(),
            content_type: content_type.map(str::to_string),
            ..Default::default()
        }))
    };
    // One call first: the compiled code is warm, as in a running hub.
    call().unwrap_or_else(|e| panic!("{label}: {e}"));
    let mut times = Vec::with_capacity(rounds);
    let started = Instant::now();
    for _ in 0..rounds {
        let t = Instant::now();
        let messages = call().expect("decode");
        times.push(t.elapsed());
        assert_eq!(messages.len(), 1);
    }
    let total = started.elapsed();
    times.sort();
    let n = times.len();
    let mean = times.iter().sum::<Duration>() / n as u32;
    let p99 = times[(n * 99 / 100).min(n - 1)];
    println!(
        "| {label} | {:.1} KB | {:.1} | {:.1} | {:.0} | {:.2} |",
        input.len() as f64 / 1024.0,
        mean.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        n as f64 / total.as_secs_f64(),
        (input.len() * n) as f64 / total.as_secs_f64() / 1e6,
    );
}

fn main() {
    let rounds: usize = std::env::var("OKNO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let engine = Runtime::new(RuntimeOptions::default()).expect("engine");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let epgu = engine
        .load(
            &built_epgu(),
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
        measure(&rt, label, &epgu, &smev(file), content_type, rounds);
    }
}
