//! Plugin call cost: instantiate + call in the sandbox, against the same logic natively.
//!
//! `cargo bench -p okno-tests --bench plugins` prints a table (figures in README).

use std::time::{Duration, Instant};

use okno_hub::model::{Classification, Inbound, Message};
use okno_hub::runtime::{Plugin, Runtime, RuntimeOptions};
use okno_sdk::testing::MockHost;
use okno_sdk::{Classifier, Connector};
use okno_tests::{plugin, sample};

mod common;
use common::{appeals, hub_message};

struct Stats {
    mean: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len().max(1);
    Stats {
        mean: samples.iter().sum::<Duration>() / n as u32,
        p99: samples[(n * 99 / 100).min(n - 1)],
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn load(rt: &Runtime, name: &str, settings: &[(&str, &str)]) -> Plugin {
    common::load(rt, &plugin(name), name, settings)
}

fn sdk_message(body: &str) -> okno_sdk::types::Message {
    let mut m = okno_sdk::types::Message::new(okno_sdk::types::Channel::Mail, body);
    m.id = "bench".into();
    m.received_at = 1_790_000_000_000;
    m
}

/// `OKNO_BENCH_ONLY=keywords` runs only the rows whose label contains that text (for
/// profiling one plugin).
fn selected(label: &str) -> bool {
    std::env::var("OKNO_BENCH_ONLY").map_or(true, |only| label.contains(&only))
}

/// Runs each input `rounds` times through WASM and natively; prints one table row.
fn compare_classifier<N>(
    rt: &tokio::runtime::Runtime,
    label: &str,
    wasm: &Plugin,
    host: &MockHost,
    inputs: &[String],
    rounds: usize,
    native: N,
) where
    N: Fn(okno_sdk::types::Message) -> okno_sdk::types::Classification,
{
    if !selected(label) {
        return;
    }
    let hub_inputs: Vec<Message> = inputs.iter().map(|t| hub_message(t)).collect();
    let sdk_inputs: Vec<okno_sdk::types::Message> = inputs.iter().map(|t| sdk_message(t)).collect();
    let mut wasm_times = Vec::new();
    let mut native_times = Vec::new();
    host.run(|| {
        for (hub, sdk) in hub_inputs.iter().zip(&sdk_inputs).take(3) {
            rt.block_on(wasm.classify(hub, &Classification::default()))
                .expect("warm-up");
            std::hint::black_box(native(sdk.clone()));
        }
        // Each input goes through WASM and natively back to back, so that both see the
        // machine in the same state (a shared virtual machine's speed drifts over seconds).
        for _ in 0..rounds {
            for (hub, sdk) in hub_inputs.iter().zip(&sdk_inputs) {
                let t = Instant::now();
                rt.block_on(wasm.classify(hub, &Classification::default()))
                    .expect("classify");
                wasm_times.push(t.elapsed());
                let m = sdk.clone();
                let t = Instant::now();
                std::hint::black_box(native(m));
                native_times.push(t.elapsed());
            }
        }
    });
    let (w, n) = (stats(wasm_times), stats(native_times));
    println!(
        "| {label} | {} | {} | {} | {} | {:.2}× | {} | {} |",
        us(w.mean),
        us(w.p99),
        us(n.mean),
        us(n.p99),
        w.mean.as_secs_f64() / n.mean.as_secs_f64().max(1e-9),
        us(w.mean.saturating_sub(n.mean)),
        wasm.peak_memory_bytes() / 1024,
    );
}

/// One row per `(label, texts, rounds)`: the classifier `name` on each set of inputs.
fn compare_on_inputs<N>(
    rt: &tokio::runtime::Runtime,
    name: &str,
    wasm: &Plugin,
    host: &MockHost,
    inputs: &[(&str, &[String], usize)],
    native: N,
) where
    N: Fn(okno_sdk::types::Message) -> okno_sdk::types::Classification,
{
    for (label, texts, rounds) in inputs {
        let label = format!("{name}, {label}");
        compare_classifier(rt, &label, wasm, host, texts, *rounds, &native);
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).expect("engine");
    let appeals = appeals();
    let mut ten_kb = String::new();
    for a in appeals.iter().cycle() {
        if ten_kb.len() >= 10 * 1024 {
            break;
        }
        ten_kb.push_str(a);
        ten_kb.push('\n');
    }
    let ten_kb = [ten_kb];

    println!("plugin sizes (bytes):");
    for name in [
        "mail",
        "keywords",
        "topics",
        "sentiment",
        "kind",
        "pii",
        "priority",
        "http-json",
    ] {
        println!(
            "  {name}: {}",
            std::fs::metadata(plugin(name))
                .map(|m| m.len())
                .unwrap_or(0)
        );
    }
    println!();
    println!("| call | WASM mean µs | WASM p99 µs | native mean µs | native p99 µs | WASM/native | overhead µs | peak memory KiB |");
    println!("|---|---|---|---|---|---|---|---|");

    // A plugin that does nothing: the cost of the sandbox itself.
    let empty = load(&runtime, "hostile", &[("mode", "ok")]);
    compare_classifier(
        &rt,
        "empty classifier (sandbox cost)",
        &empty,
        &MockHost::new(),
        &["x".to_string()],
        2000,
        |_| okno_sdk::types::Classification::default(),
    );

    // Each classifier on three kinds of input: the 43 labelled appeals; one 10 KB appeal,
    // where the text's length dominates; and a one-line appeal (as phone logs and social
    // networks bring), where what a call costs before the text counts dominates.
    let one_line = ["Прошу починить батарею, в квартире холодно.".to_string()];
    let inputs = |appeal_rounds| {
        [
            ("43 appeals", &appeals[..], appeal_rounds),
            ("10 KB appeal", &ten_kb[..], 50),
            ("one-line appeal", &one_line[..], 2000),
        ]
    };

    let rules = common::KEYWORD_RULES;
    let keywords = load(&runtime, "keywords", rules);
    let mut host = MockHost::new();
    for (k, v) in rules {
        host = host.setting(k, v);
    }
    compare_on_inputs(&rt, "keywords", &keywords, &host, &inputs(20), |m| {
        okno_plugin_keywords::Keywords::classify(m, Default::default()).expect("native keywords")
    });
    let topics = load(&runtime, "topics", &[]);
    compare_on_inputs(&rt, "topics", &topics, &MockHost::new(), &inputs(5), |m| {
        okno_plugin_topics::Topics::classify(m, Default::default()).expect("native topics")
    });
    let sentiment = load(&runtime, "sentiment", &[]);
    compare_on_inputs(
        &rt,
        "sentiment",
        &sentiment,
        &MockHost::new(),
        &inputs(20),
        |m| {
            okno_plugin_sentiment::SentimentClassifier::classify(m, Default::default())
                .expect("native sentiment")
        },
    );
    let kind = load(&runtime, "kind", &[]);
    compare_on_inputs(&rt, "kind", &kind, &MockHost::new(), &inputs(20), |m| {
        okno_plugin_kind::Kind::classify(m, Default::default()).expect("native kind")
    });
    let pii = load(&runtime, "pii", &[]);
    compare_on_inputs(&rt, "pii", &pii, &MockHost::new(), &inputs(20), |m| {
        okno_plugin_pii::Pii::classify(m, Default::default()).expect("native pii")
    });

    // The mail connector's decode on a real koi8-r appeal.
    if !selected("mail decode, koi8-r e-mail") {
        return;
    }
    let mail = load(&runtime, "mail", &[]);
    let eml = sample("examples/appeals/01-heating-outage-koi8r-qp.eml");
    let mut wasm_times = Vec::new();
    let mut native_times = Vec::new();
    MockHost::new().run(|| {
        for _ in 0..500 {
            let t = Instant::now();
            rt.block_on(mail.decode(Inbound {
                bytes: eml.clone(),
                ..Default::default()
            }))
            .expect("decode");
            wasm_times.push(t.elapsed());
            let input = okno_sdk::types::Inbound::from_bytes(eml.clone());
            let t = Instant::now();
            std::hint::black_box(
                okno_plugin_mail::MailConnector::decode(input).expect("native decode"),
            );
            native_times.push(t.elapsed());
        }
    });
    let (w, n) = (stats(wasm_times), stats(native_times));
    println!(
        "| mail decode, koi8-r e-mail | {} | {} | {} | {} | {:.2}× | {} | {} |",
        us(w.mean),
        us(w.p99),
        us(n.mean),
        us(n.p99),
        w.mean.as_secs_f64() / n.mean.as_secs_f64(),
        us(w.mean.saturating_sub(n.mean)),
        mail.peak_memory_bytes() / 1024
    );
}
