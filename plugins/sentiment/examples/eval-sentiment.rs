//! Measures the classifier on a labelled set: precision and recall per label and mean
//! time per text.
//!
//! `cargo run --release -p okno-plugin-sentiment --example eval-sentiment -- tests/data/sentiment.jsonl`

use okno_sdk::prelude::SentimentLabel;
use std::time::Instant;

const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

fn name(label: SentimentLabel) -> &'static str {
    match label {
        SentimentLabel::Negative => "negative",
        SentimentLabel::Neutral => "neutral",
        SentimentLabel::Positive => "positive",
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
        let label = v["label"]
            .as_str()
            .ok_or(format!("{path}:{}: no label", n + 1))?
            .to_string();
        cases.push((text, label));
    }
    let started = Instant::now();
    let results: Vec<_> = cases
        .iter()
        .map(|(t, _)| okno_plugin_sentiment::assess(t))
        .collect();
    let elapsed = started.elapsed();

    println!(
        "{:10} {:>9} {:>9} {:>6} {:>6}",
        "label", "precision", "recall", "found", "gold"
    );
    for label in LABELS {
        let found = results.iter().filter(|r| name(r.label) == label).count();
        let gold = cases.iter().filter(|(_, l)| l == label).count();
        let hits = cases
            .iter()
            .zip(&results)
            .filter(|((_, l), r)| l == label && name(r.label) == label)
            .count();
        println!(
            "{label:10} {:>9.3} {:>9.3} {found:>6} {gold:>6}",
            ratio(hits, found),
            ratio(hits, gold)
        );
    }
    let correct = cases
        .iter()
        .zip(&results)
        .filter(|((_, l), r)| name(r.label) == l)
        .count();
    println!(
        "accuracy {:.3} ({correct}/{})",
        ratio(correct, cases.len()),
        cases.len()
    );
    println!(
        "mean {:.1} µs per text",
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64
    );
    for ((text, gold), r) in cases.iter().zip(&results) {
        if name(r.label) != gold {
            println!(
                "{gold:>8} -> {:8} {:+.2} {text}  {:?}",
                name(r.label),
                r.score,
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
