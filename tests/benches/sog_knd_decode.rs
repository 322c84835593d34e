//! Decode throughput of the SOG and KND portal connectors inside the sandbox, on the
//! committed examples (tests/data/sog, tests/data/knd): each call a fresh instance, as
//! the hub makes it, from the bytes in to the checked message out.
//!
//! `cargo bench -p okno-tests --bench sog_knd_decode` prints a table (figures in README);
//! `OKNO_BENCH_ROUNDS` sets how many times each example is decoded (default 300).

use std::time::{Duration, Instant};

use okno_hub::model::Inbound;
use okno_hub::runtime::{Limits, Plugin, Runtime, RuntimeOptions};
use okno_tests::{plugin, plugin_context, workspace};

fn examples(dir: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(workspace().join(dir))
        .expect("the committed examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn load(rt: &Runtime, name: &str, settings: &[(&str, &str)]) -> Plugin {
    rt.load(
        &plugin(name),
        None,
        None,
        plugin_context(name, settings),
        Limits {
            cpu: Duration::from_secs(1),
            ..Limits::default()
        },
    )
    .unwrap_or_else(|e| panic!("loading {name}: {e:#}"))
}

fn measure(
    rt: &tokio::runtime::Runtime,
    label: &str,
    plugin: &Plugin,
    inputs: &[Vec<u8>],
    rounds: usize,
) {
    // One call each first: the compiled code is warm, as in a running hub.
    for input in inputs {
        rt.block_on(plugin.decode(Inbound {
            bytes: input.clone(),
            content_type: Some("application/json".into()),
            ..Default::default()
        }))
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    let mut times = Vec::with_capacity(inputs.len() * rounds);
    let mut bytes = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for input in inputs {
            let t = Instant::now();
            let messages = rt
                .block_on(plugin.decode(Inbound {
                    bytes: input.clone(),
                    content_type: Some("application/json".into()),
                    ..Default::default()
                }))
                .expect("decode");
            times.push(t.elapsed());
            assert_eq!(messages.len(), 1);
            bytes += input.len();
        }
    }
    let total = started.elapsed();
    times.sort();
    let n = times.len();
    let mean = times.iter().sum::<Duration>() / n as u32;
    let p99 = times[(n * 99 / 100).min(n - 1)];
    println!(
        "| {label} | {} | {:.1} KB | {:.1} | {:.1} | {:.0} | {:.2} |",
        inputs.len(),
        inputs.iter().map(Vec::len).sum::<usize>() as f64 / inputs.len() as f64 / 1024.0,
        mean.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        n as f64 / total.as_secs_f64(),
        bytes as f64 / total.as_secs_f64() / 1e6,
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
    let sog = load(
        &engine,
        "sog",
        &[
            ("department.ОЛ-2", "licensing"),
            ("department.ПРОМ-3", "industry"),
        ],
    );
    let knd = load(&engine, "knd", &[]);
    println!("| connector | examples | mean size | mean µs | p99 µs | messages/s | MB/s |");
    println!("|---|---|---|---|---|---|---|");
    measure(&rt, "sog decode", &sog, &examples("tests/data/sog"), rounds);
    measure(&rt, "knd decode", &knd, &examples("tests/data/knd"), rounds);
}
