//! What the topics plugin's calls cost in the sandbox while it indexes a large import of
//! examples step by step, and once it has: each call is a fresh instance on a sled kv,
//! as in the hub.
//!
//! `cargo bench -p okno-tests --bench topics_index` prints a table (figures in README).
//! `OKNO_BENCH_EXAMPLES=1000,20000` sets the numbers of examples tried.

use std::time::{Duration, Instant};

use okno_hub::model::Classification;
use okno_hub::runtime::kv::{PluginKv, CORRECTIONS_PREFIX, CORRECTIONS_REVISION_KEY};
use okno_hub::runtime::{Limits, PluginContext, Runtime, RuntimeOptions};
use okno_plugin_topics::store;
use okno_tests::{plugin, plugin_context};

// This bench loads its plugin on a kv of its own and uses only part of the shared module.
#[allow(dead_code)]
mod common;
use common::{appeals, hub_message};

/// Level-4 codes the examples are filed under (any will do for the cost).
const CODES: &[&str] = &[
    "0005.0005.0056.1161",
    "0003.0008.0086.0544",
    "0005.0005.0056.1164",
    "0003.0009.0097.0699",
];

/// `n` examples made from the appeals: whole appeals with one word left out (`long`),
/// or eight-word pieces of them (`short`), each unlike the others.
fn examples(appeals: &[String], n: usize, long: bool) -> Vec<(String, Vec<u8>)> {
    let words: Vec<Vec<&str>> = appeals
        .iter()
        .map(|a| a.split_whitespace().collect())
        .collect();
    (0..n)
        .map(|i| {
            let w = &words[i % words.len()];
            let round = i / words.len();
            let text = if long {
                let skip = round % w.len();
                w.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != skip)
                    .map(|(_, s)| *s)
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                let start = (round * 3) % w.len().saturating_sub(8).max(1);
                format!("{} {round}", w[start..(start + 8).min(w.len())].join(" "))
            };
            let value = serde_json::json!({"code": CODES[i % CODES.len()], "text": text})
                .to_string()
                .into_bytes();
            (format!("{CORRECTIONS_PREFIX}import-{i:08}"), value)
        })
        .collect()
}

/// Examples in the stored index, and its bytes.
fn indexed(kv: &dyn PluginKv) -> (usize, usize) {
    let (mut entries, mut bytes) = (0, 0);
    for n in 0.. {
        match kv.get(&store::shard_key(n)) {
            Ok(Some(shard)) => {
                entries += store::decode(&shard).map_or(0, |d| d.len());
                bytes += shard.len();
            }
            _ => break,
        }
    }
    (entries, bytes)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = Runtime::new(RuntimeOptions::default()).expect("engine");
    // OKNO_TOPICS_WASM: another build of the plugin, e.g. one with its symbols for `perf`.
    let path = std::env::var_os("OKNO_TOPICS_WASM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| plugin("topics"));
    let texts = appeals();
    let sizes: Vec<usize> = std::env::var("OKNO_BENCH_EXAMPLES")
        .unwrap_or_else(|_| "1000,5000,10000,20000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("| examples | texts | indexing calls | indexing mean ms | indexing max ms | then mean ms | then p99 ms | index KB |");
    println!("|---|---|---|---|---|---|---|---|");
    for long in [false, true] {
        for &n in &sizes {
            let dir = tempfile::tempdir().expect("temporary directory");
            let hub_store = okno_hub::store::Store::open(dir.path()).expect("store");
            let kv = hub_store
                .plugin_kv("topics", u64::MAX)
                .expect("the plugin's kv");
            for chunk in examples(&texts, n, long).chunks(1000) {
                let entries: Vec<(&str, &[u8])> = chunk
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_slice()))
                    .collect();
                for outcome in kv.set_many(&entries).expect("the store works") {
                    outcome.expect("an example fits");
                }
            }
            // As the hub does after changing the examples.
            kv.set(CORRECTIONS_REVISION_KEY, format!("bench-{n}").as_bytes())
                .expect("the revision");
            let context = PluginContext {
                kv: kv.clone(),
                fixed_now: Some(1_790_000_000_000),
                ..plugin_context("topics", &[])
            };
            // A long limit: the bench measures what a call costs, not whether it fits.
            let limits = Limits {
                cpu: Duration::from_secs(10),
                ..Limits::default()
            };
            let topics = runtime
                .load(&path, None, None, context, limits)
                .expect("loading topics");
            let messages: Vec<_> = texts.iter().map(|t| hub_message(t)).collect();
            let mut call = 0usize;
            let mut classify = || {
                let message = &messages[call % messages.len()];
                call += 1;
                let t = Instant::now();
                rt.block_on(topics.classify(message, &Classification::default()))
                    .expect("classify");
                t.elapsed()
            };
            let mut indexing = Vec::new();
            let limit = n.min(store::MAX_EXAMPLES as usize);
            while indexed(kv.as_ref()).0 < limit {
                indexing.push(classify());
                assert!(indexing.len() <= n + 1, "indexing does not progress");
            }
            let mut then: Vec<Duration> = (0..100).map(|_| classify()).collect();
            then.sort();
            let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len().max(1) as u32;
            println!(
                "| {n} | {} | {} | {} | {} | {} | {} | {} |",
                if long { "whole appeals" } else { "8 words" },
                indexing.len(),
                ms(mean(&indexing)),
                ms(indexing.iter().max().copied().unwrap_or_default()),
                ms(mean(&then)),
                ms(then[then.len() * 99 / 100]),
                indexed(kv.as_ref()).1 / 1024,
            );
        }
    }
}
