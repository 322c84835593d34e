//! Measures the classifier on a labelled set: precision and recall per kind and for the
//! repeat flag, and mean time per text.
//!
//! `cargo run --release -p okno-plugin-kind --example eval-kind -- tests/data/kind.jsonl`

use okno_sdk::eval::{ratio, Tally};
use okno_sdk::prelude::{AppealKind, WitName};
use std::time::Instant;

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: eval PATH.jsonl")?;
    let mut cases = Vec::new();
    for case in okno_sdk::eval::read_jsonl(&path)? {
        let text = case.string("text")?;
        let kind = case.string("kind")?;
        let repeat = case.value["repeat"]
            .as_bool()
            .ok_or_else(|| case.error("no repeat"))?;
        cases.push((text, kind, repeat));
    }
    let started = Instant::now();
    let results: Vec<_> = cases
        .iter()
        .map(|(t, _, _)| okno_plugin_kind::assign(t))
        .collect();
    let elapsed = started.elapsed();

    println!("{}", Tally::header("kind"));
    for kind in AppealKind::ALL.iter().map(|k| k.as_str()) {
        let mut tally = Tally::default();
        for ((_, gold, _), r) in cases.iter().zip(&results) {
            tally.add(gold == kind, r.kind.as_str() == kind);
        }
        println!("{}", tally.row(kind));
    }
    let mut repeat = Tally::default();
    for ((_, _, gold), r) in cases.iter().zip(&results) {
        repeat.add(*gold, r.repeat);
    }
    println!("{}", repeat.row("repeat"));
    let correct = cases
        .iter()
        .zip(&results)
        .filter(|((_, k, _), r)| r.kind.as_str() == k)
        .count();
    println!(
        "kind accuracy {:.3} ({correct}/{})",
        ratio(correct, cases.len()),
        cases.len()
    );
    println!(
        "mean {:.1} µs per text",
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64
    );
    for ((text, kind, repeat), r) in cases.iter().zip(&results) {
        if r.kind.as_str() != kind || r.repeat != *repeat {
            println!(
                "{kind:>9}/{repeat:<5} -> {:9}/{:<5} {text}  {:?}",
                r.kind.as_str(),
                r.repeat,
                r.reasons
            );
        }
    }
    Ok(())
}
