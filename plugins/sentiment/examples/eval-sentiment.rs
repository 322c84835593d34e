//! Measures the classifier on a labelled set: precision and recall per label and mean
//! time per text.
//!
//! `cargo run --release -p okno-plugin-sentiment --example eval-sentiment -- tests/data/sentiment.jsonl`

use okno_sdk::eval::{ratio, Tally};
use okno_sdk::prelude::{SentimentLabel, WitName};
use std::time::Instant;

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: eval PATH.jsonl")?;
    let mut cases = Vec::new();
    for case in okno_sdk::eval::read_jsonl(&path)? {
        let text = case.string("text")?;
        let label = case.string("label")?;
        cases.push((text, label));
    }
    let started = Instant::now();
    let results: Vec<_> = cases
        .iter()
        .map(|(t, _)| okno_plugin_sentiment::assess(t))
        .collect();
    let elapsed = started.elapsed();

    println!("{}", Tally::header("label"));
    for label in SentimentLabel::ALL.iter().map(|l| l.as_str()) {
        let mut tally = Tally::default();
        for ((_, gold), r) in cases.iter().zip(&results) {
            tally.add(gold == label, r.label.as_str() == label);
        }
        println!("{}", tally.row(label));
    }
    let correct = cases
        .iter()
        .zip(&results)
        .filter(|((_, l), r)| r.label.as_str() == l)
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
        if r.label.as_str() != gold {
            println!(
                "{gold:>8} -> {:8} {:+.2} {text}  {:?}",
                r.label.as_str(),
                r.score,
                r.reasons
            );
        }
    }
    Ok(())
}
