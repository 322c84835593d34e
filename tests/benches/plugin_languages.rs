//! One plugin logic in three languages: what a Rust, a JavaScript and a Python component
//! cost the hub, so that an integrator can choose.
//!
//! ```sh
//! scripts/install-plugin-toolchains
//! cargo bench -p okno-tests --bench plugin_languages
//! ```
//!
//! The logic is the urgency classifier (`tests/plugins/urgency` in Rust,
//! `plugins/urgency-js`, `plugins/urgency-py`). For each component it measures:
//!
//! - its size, and the time to compile it with Cranelift (once per sha256: the hub keeps
//!   the compiled code on disk) and to load it from that cache on a restart;
//! - a call as the hub makes it, instantiate + `classify` on a fresh instance, over the
//!   43 labelled appeals (`tests/data/appeals_train.jsonl`): median and 90th percentile;
//! - the linear memory one instance grows to, and the process's resident memory after the
//!   calls (what the instances' pages cost once the pooling allocator keeps them).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okno_hub::model::{Classification, Message};
use okno_hub::runtime::{Runtime, RuntimeOptions};

// The keyword rules there are the other benches'.
#[allow(dead_code)]
mod common;
use common::{appeals, hub_message, load};
use okno_tests::{plugin, workspace};

const ROUNDS: usize = 20;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Builds the JavaScript or Python plugin with `okno plugin build`'s code.
fn build_guest(name: &str, out: &Path) -> PathBuf {
    let dir = workspace().join("plugins").join(name);
    okno_hub::cli::build::build_guest(&dir, Some(out), &mut |line| eprintln!("{line}"))
        .unwrap_or_else(|e| {
            panic!("building {name} (run scripts/install-plugin-toolchains first): {e:#}")
        })
        .path
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let out = okno_hub::cli::build::wasm_target_dir(&workspace())
        .join("bench-dist")
        .join("plugin_languages");
    let components = [
        ("Rust", "urgency", plugin("urgency")),
        ("JavaScript", "urgency-js", build_guest("urgency-js", &out)),
        ("Python", "urgency-py", build_guest("urgency-py", &out)),
    ];
    let messages: Vec<Message> = appeals().iter().map(|t| hub_message(t)).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "| language | component | compile | load from cache | call median | call p90 | instance memory | RSS after |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (language, name, path) in components {
        let size_mib = std::fs::metadata(&path).expect("component").len() as f64 / 1048576.0;
        // A fresh cache per component: the first load compiles, the second (another
        // runtime, as after a restart) deserializes.
        let cache = tempfile::tempdir().unwrap();
        let options = || RuntimeOptions {
            cache_dir: Some(cache.path().join("compiled")),
            ..RuntimeOptions::default()
        };
        let started = Instant::now();
        drop(load(
            &Runtime::new(options()).expect("engine"),
            &path,
            name,
            &[],
        ));
        let compile = started.elapsed();
        let runtime = Runtime::new(options()).expect("engine");
        let started = Instant::now();
        let p = load(&runtime, &path, name, &[]);
        let from_cache = started.elapsed();

        let rss_before = rss_mib();
        let mut calls = Vec::with_capacity(ROUNDS * messages.len());
        for _ in 0..ROUNDS {
            for message in &messages {
                let started = Instant::now();
                rt.block_on(p.classify(message, &Classification::default()))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                calls.push(started.elapsed());
            }
        }
        calls.sort();
        println!(
            "| {language} | {size_mib:.1} MiB | {:.2} s | {:.0} ms | {:.0} µs | {:.0} µs | {:.1} MiB | +{:.0} MiB |",
            compile.as_secs_f64(),
            from_cache.as_secs_f64() * 1000.0,
            percentile(&calls, 0.5).as_secs_f64() * 1e6,
            percentile(&calls, 0.9).as_secs_f64() * 1e6,
            p.peak_memory_bytes() as f64 / 1048576.0,
            rss_mib() - rss_before,
        );
    }
}
