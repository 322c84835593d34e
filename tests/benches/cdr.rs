//! Call record decoding: rows per second through the phone connector inside the sandbox
//! (a fresh instance per file, as the hub calls it), against the same code natively.
//!
//! `cargo bench -p okno-tests --bench cdr` prints a table (figures in README).
//! `OKNO_BENCH_ROWS=50000` sets the size of the large file (default 20,000 rows).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use okno_hub::model::Inbound;
use okno_hub::runtime::{Limits, Plugin, PluginContext, Runtime};
use okno_sdk::testing::MockHost;
use okno_sdk::Connector;
use okno_tests::{plugin_context, workspace};

fn phone_plugin() -> PathBuf {
    use okno_hub::cli::build::{build_plugins, wasm_target_dir};
    let root = workspace();
    let crates = vec![(
        "okno-plugin-phone".to_string(),
        root.join("plugins").join("phone"),
    )];
    let out = wasm_target_dir(&root).join("test-dist").join("cdr-bench");
    build_plugins(&crates, &out, &mut |line| eprintln!("{line}"))
        .expect("building the phone plugin")
        .remove(0)
        .path
}

fn load(rt: &Runtime, settings: &[(&str, &str)]) -> Plugin {
    let context = PluginContext {
        fixed_now: Some(1_790_000_000_000),
        ..plugin_context("phone", settings)
    };
    rt.load(
        &phone_plugin(),
        None,
        None,
        context,
        Limits {
            cpu: Duration::from_secs(10),
            wall: Duration::from_secs(60),
            ..Limits::default()
        },
    )
    .expect("loading the phone plugin")
}

fn record(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/data/phone").join(name)).expect("a call record")
}

/// The classic 18-column file copied until it has `rows` rows, each copy's uniqueids
/// made its own (`1427211880.0` → `1427211880.0-7`), so that every copy is new calls.
fn large_file(rows: usize) -> Vec<u8> {
    let text = String::from_utf8(record(
        "asterisk_master_ivr_voicemail_busy_failed_TelephonySwitching.csv",
    ))
    .expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for i in 0..rows {
        let line = lines[i % lines.len()];
        let copy = i / lines.len();
        // The row ends with `"UNIQUEID",""` (uniqueid, then an empty userfield).
        let at = line.rfind("\",\"\"").expect("the uniqueid column");
        out.push_str(&line[..at]);
        out.push_str(&format!("-{copy}"));
        out.push_str(&line[at..]);
        out.push('\n');
    }
    out.into_bytes()
}

struct Input {
    label: String,
    rows: usize,
    bytes: Vec<u8>,
    settings: Vec<(&'static str, &'static str)>,
}

fn rows_of(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn main() {
    let large: usize = std::env::var("OKNO_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut inputs = Vec::new();
    for (name, settings) in [
        (
            "asterisk_master_linkedid_ringgroup_ru_dj-asterisk-cdr.csv",
            vec![("charset", "windows-1251")],
        ),
        (
            "asterisk_master_ivr_voicemail_busy_failed_TelephonySwitching.csv",
            vec![],
        ),
        ("freeswitch_cdr_csv_Master_freeswitch_tools.csv", vec![]),
    ] {
        let bytes = record(name);
        inputs.push(Input {
            label: name.to_string(),
            rows: rows_of(&bytes),
            bytes,
            settings,
        });
    }
    let bytes = large_file(large);
    inputs.push(Input {
        label: format!("classic cdr_csv, {large} rows"),
        rows: large,
        bytes,
        settings: vec![],
    });

    let rt = Runtime::new(Default::default()).expect("the runtime");
    let tokio = tokio::runtime::Runtime::new().unwrap();
    println!("| file | rows | WASM ms per file | WASM rows/s | native rows/s | WASM/native |");
    println!("|---|---|---|---|---|---|");
    for input in &inputs {
        let plugin = load(&rt, &input.settings);
        let host = input
            .settings
            .iter()
            .fold(MockHost::new(), |h, (k, v)| h.setting(k, v));
        // About two seconds of work per row, at least three rounds.
        let rounds = (200_000 / input.rows).clamp(3, 2000);
        let (mut wasm, mut native) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            let inbound = Inbound {
                bytes: input.bytes.clone(),
                content_type: Some("text/csv".into()),
                metadata: vec![],
            };
            let started = Instant::now();
            let messages = tokio
                .block_on(plugin.decode(inbound))
                .unwrap_or_else(|e| panic!("{}: {e}", input.label));
            wasm += started.elapsed();
            assert!(!messages.is_empty());
            let sdk = okno_sdk::types::Inbound::from_bytes(input.bytes.clone());
            let started = Instant::now();
            host.run(|| okno_plugin_phone::PhoneConnector::decode(sdk))
                .expect("native decode");
            native += started.elapsed();
        }
        let per_row = |total: Duration| (input.rows * rounds) as f64 / total.as_secs_f64();
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.0} | {:.2}× |",
            input.label,
            input.rows,
            wasm.as_secs_f64() * 1000.0 / rounds as f64,
            per_row(wasm),
            per_row(native),
            wasm.as_secs_f64() / native.as_secs_f64()
        );
    }
}
