//! Measures the detector on a labelled set: precision and recall per kind (a finding
//! counts when its kind and exact text match a labelled span) and mean time per text.
//!
//! `cargo run --release -p okno-plugin-pii --example eval-pii -- tests/data/pii.jsonl`

use okno_sdk::eval::Tally;
use std::collections::BTreeMap;
use std::time::Instant;

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: eval PATH.jsonl")?;
    let mut cases = Vec::new();
    for case in okno_sdk::eval::read_jsonl(&path)? {
        let text = case.string("text")?;
        let mut gold = Vec::new();
        for s in case.value["spans"]
            .as_array()
            .ok_or_else(|| case.error("no spans"))?
        {
            let kind = s["kind"]
                .as_str()
                .ok_or_else(|| case.error("span without kind"))?;
            let value = s["text"]
                .as_str()
                .ok_or_else(|| case.error("span without text"))?;
            gold.push((kind.to_string(), value.to_string()));
        }
        cases.push((text, gold));
    }

    let mut counts: BTreeMap<String, Tally> = BTreeMap::new();
    let mut errors = Vec::new();
    let started = Instant::now();
    let found: Vec<_> = cases
        .iter()
        .map(|(text, _)| okno_plugin_pii::find_pii(text))
        .collect();
    let elapsed = started.elapsed();

    for ((text, gold), spans) in cases.iter().zip(&found) {
        let mut unmatched: Vec<&(String, String)> = gold.iter().collect();
        for (kind, _) in gold {
            counts.entry(kind.clone()).or_default().gold += 1;
        }
        for span in spans {
            let kind = span.kind.as_str();
            let value = &text[span.start..span.end];
            let entry = counts.entry(kind.to_string()).or_default();
            entry.found += 1;
            if let Some(pos) = unmatched.iter().position(|(k, v)| k == kind && v == value) {
                unmatched.remove(pos);
                entry.hits += 1;
            } else {
                errors.push(format!("extra   {kind:9} {value:?}"));
            }
        }
        for (kind, value) in unmatched {
            errors.push(format!("missed  {kind:9} {value:?}"));
        }
    }

    println!("{}", Tally::header("kind"));
    let mut all = Tally::default();
    for (kind, tally) in &counts {
        println!("{}", tally.row(kind));
        all += *tally;
    }
    println!("{}", all.row("all"));
    println!(
        "texts: {}, mean {:.1} µs per text",
        cases.len(),
        elapsed.as_secs_f64() * 1e6 / cases.len() as f64
    );
    for e in errors {
        println!("{e}");
    }
    Ok(())
}
