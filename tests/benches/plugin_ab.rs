//! Two builds of the same classifiers, side by side: is a change to a plugin, the SDK or
//! the build flags faster inside the sandbox?
//!
//! ```sh
//! okno plugin build plugins && cp -r plugins/dist /tmp/before
//! # change something, then:
//! okno plugin build plugins
//! OKNO_AB_BEFORE=/tmp/before OKNO_AB_AFTER=plugins/dist cargo bench -p okno-tests --bench plugin_ab
//! ```
//!
//! On a shared machine the speed drifts by tens of percent between runs of the `plugins`
//! bench, more than most changes gain. Here both builds run in one process and each
//! appeal goes through both back to back, in alternating order, so drift weighs on both
//! alike. Each directory holds `NAME.wasm` for the classifiers compared; a classifier
//! missing from either is skipped, with a line saying so. A relative directory is taken
//! from the workspace root.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use okno_hub::model::{Classification, Message};
use okno_hub::runtime::{Plugin, Runtime, RuntimeOptions};
use okno_sdk::testing::MockHost;

mod common;
use common::{appeals, hub_message, load, KEYWORD_RULES};
use okno_tests::workspace;

const CLASSIFIERS: [&str; 5] = ["keywords", "topics", "sentiment", "kind", "pii"];

/// The directory `variable` names; a relative one is taken from the workspace root, since
/// cargo runs a bench in its package's directory.
fn directory(variable: &str) -> PathBuf {
    let dir = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{variable} must name a directory of plugin builds"));
    let dir = workspace().join(dir);
    assert!(
        dir.is_dir(),
        "{variable}: {} is not a directory",
        dir.display()
    );
    dir
}

fn call(rt: &tokio::runtime::Runtime, plugin: &Plugin, message: &Message) -> Duration {
    let start = Instant::now();
    rt.block_on(plugin.classify(message, &Classification::default()))
        .expect("classify");
    start.elapsed()
}

fn main() {
    let before_dir = directory("OKNO_AB_BEFORE");
    let after_dir = directory("OKNO_AB_AFTER");
    let rounds: usize = std::env::var("OKNO_AB_ROUNDS").map_or(20, |v| {
        v.parse()
            .expect("OKNO_AB_ROUNDS must be a number of rounds")
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).expect("engine");
    let messages: Vec<Message> = appeals().iter().map(|t| hub_message(t)).collect();

    println!("| classifier, 43 appeals | before µs | after µs | after/before |");
    println!("|---|---|---|---|");
    for name in CLASSIFIERS {
        let file = format!("{name}.wasm");
        let (before_path, after_path) = (before_dir.join(&file), after_dir.join(&file));
        if let Some(missing) = [&before_path, &after_path]
            .into_iter()
            .find(|p| !p.exists())
        {
            eprintln!("{name}: skipped, no {}", missing.display());
            continue;
        }
        let settings = if name == "keywords" {
            KEYWORD_RULES
        } else {
            &[]
        };
        let before = load(&runtime, &before_path, name, settings);
        let after = load(&runtime, &after_path, name, settings);
        let mut host = MockHost::new();
        for (key, value) in settings {
            host = host.setting(key, value);
        }
        let (mut before_total, mut after_total) = (Duration::ZERO, Duration::ZERO);
        host.run(|| {
            for message in messages.iter().take(3) {
                call(&rt, &before, message);
                call(&rt, &after, message);
            }
            for round in 0..rounds {
                for message in &messages {
                    // Whichever runs second finds the caches warmer; alternate.
                    if round % 2 == 0 {
                        before_total += call(&rt, &before, message);
                        after_total += call(&rt, &after, message);
                    } else {
                        after_total += call(&rt, &after, message);
                        before_total += call(&rt, &before, message);
                    }
                }
            }
        });
        let calls = (rounds * messages.len()) as f64;
        println!(
            "| {name} | {:.1} | {:.1} | {:.3} |",
            before_total.as_secs_f64() * 1e6 / calls,
            after_total.as_secs_f64() * 1e6 / calls,
            after_total.as_secs_f64() / before_total.as_secs_f64(),
        );
    }
}
