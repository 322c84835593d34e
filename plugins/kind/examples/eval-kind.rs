//! Measures the classifier on a labelled set: precision and recall per kind and for the
//! repeat flag, and mean time per text.
//!
//! `cargo run --release -p okno-plugin-kind --example eval-kind -- tests/data/kind.jsonl`

use okno_sdk::prelude::AppealKind;
use std::time::Instant;

const KINDS: [&str; 6] = [
    "proposal",
    "statement",
    "complaint",
    "inquiry",
    "gratitude",
    "other",
];

fn name(kind: AppealKind) -> &'static str {
    match kind {
        AppealKind::Proposal => "proposal",
        AppealKind::Statement => "statement",
        AppealKind::Complaint => "complaint",
        AppealKind::Inquiry => "inquiry",
        AppealKind::Gratitude => "gratitude",
        AppealKind::Other => "other",
    }
}

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: eval PATH.jsonl")?;
    let data = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut cases = Vec::new();
    for (n, line) in data
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        let text = v["text"]
            .as_str()
            .ok_or(format!("{path}:{}: no text", n + 1))?
            .to_string();
        let kind = v["kind"]
            .as_str()
            .ok_or(format!("{path}:{}: no kind", n + 1))?
            .to_string();
        let repeat = v["repeat"]
            .as_bool()
            .ok_or(format!("{path}:{}: no repeat", n + 1))?;
        cases.push((text, kind, repeat));
    }
    let started = Instant::now();
    let results: Vec<_> = cases
        .iter()
        .map(|(t, _, _)| okno_plugin_kind::assign(t))
        .collect();
    let elapsed = started.elapsed();

    println!(
        "{:10} {:>9} {:>9} {:>6} {:>6}",
        "kind", "precision", "recall", "found", "gold"
    );
    for kind in KINDS {
        let found = results.iter().filter(|r| name(r.kind) == kind).count();
        let gold = cases.iter().filter(|(_, k, _)| k == kind).count();
        let hits = cases
            .iter()
            .zip(&results)
            .filter(|((_, k, _), r)| k == kind && name(r.kind) == kind)
            .count();
        println!(
            "{kind:10} {:>9.3} {:>9.3} {found:>6} {gold:>6}",
            ratio(hits, found),
            ratio(hits, gold)
        );
    }
    let found = results.iter().filter(|r| r.repeat).count();
    let gold = cases.iter().filter(|(_, _, r)| *r).count();
    let hits = cases
        .iter()
        .zip(&results)
        .filter(|((_, _, g), r)| *g && r.repeat)
        .count();
    println!(
        "{:10} {:>9.3} {:>9.3} {found:>6} {gold:>6}",
        "repeat",
        ratio(hits, found),
        ratio(hits, gold)
    );
    let correct = cases
        .iter()
        .zip(&results)
        .filter(|((_, k, _), r)| name(r.kind) == k)
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
        if name(r.kind) != kind || r.repeat != *repeat {
            println!(
                "{kind:>9}/{repeat:<5} -> {:9}/{:<5} {text}  {:?}",
                name(r.kind),
                r.repeat,
                r.reasons
            );
        }
    }
    Ok(())
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}
