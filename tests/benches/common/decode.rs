//! What the decode benchmarks share (`epgu_decode`, `edms_decode`): one connector built for
//! wasm32-wasip2, and decode timed call by call, each a fresh instance as the hub makes it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use okno_hub::model::Inbound;
use okno_hub::runtime::Plugin;
use okno_tests::workspace;

/// Builds `plugins/<name>` (crate `okno-plugin-<name>`) for wasm32-wasip2; the component.
pub fn built(name: &str) -> PathBuf {
    use okno_hub::cli::build::{build_plugins, wasm_target_dir};
    let root = workspace();
    let out = wasm_target_dir(&root).join("bench-dist").join(name);
    build_plugins(
        &[(
            format!("okno-plugin-{name}"),
            root.join("plugins").join(name),
        )],
        &out,
        &mut |line| eprintln!("{line}"),
    )
    .unwrap_or_else(|e| panic!("building the {name} plugin: {e:#}"))
    .remove(0)
    .path
}

/// `OKNO_BENCH_ROUNDS`, else 300.
pub fn rounds() -> usize {
    std::env::var("OKNO_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Decodes `input` `rounds` times (after one warm-up call) and prints a table row: size,
/// mean and p99 µs, messages/s, MB/s.
pub fn measure(
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
