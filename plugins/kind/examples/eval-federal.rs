//! Measures the federal вид (1–9) on a labelled set: per вид precision and recall, and
//! accuracy. A line has `text` and the вид as `vid` (a number) or `question_type` (a
//! string, as in the official-coded seed appeals).
//!
//! `cargo run --release -p okno-plugin-kind --example eval-federal -- tests/data/kind_federal.jsonl`

use okno_plugin_kind::federal::FederalKind;
use okno_sdk::eval::{ratio, Tally};

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: eval-federal PATH.jsonl")?;
    let mut cases = Vec::new();
    for case in okno_sdk::eval::read_jsonl(&path)? {
        let text = case.string("text")?;
        let vid = case.value["vid"]
            .as_u64()
            .or_else(|| case.value["question_type"].as_str()?.parse().ok())
            .filter(|v| (1..=9).contains(v))
            .ok_or_else(|| case.error("no vid (1–9) nor question_type"))?;
        cases.push((text, vid as u8));
    }
    let found: Vec<_> = cases
        .iter()
        .map(|(t, _)| okno_plugin_kind::read(t).federal)
        .collect();
    println!("{}", Tally::header("вид"));
    for kind in FederalKind::ALL {
        let mut tally = Tally::default();
        for ((_, gold), (f, _)) in cases.iter().zip(&found) {
            tally.add(*gold == kind.number(), f.number() == kind.number());
        }
        println!(
            "{}",
            tally.row(&format!("{} {}", kind.number(), kind.label()))
        );
    }
    let correct = cases
        .iter()
        .zip(&found)
        .filter(|((_, gold), (f, _))| f.number() == *gold)
        .count();
    println!(
        "вид accuracy {:.3} ({correct}/{})",
        ratio(correct, cases.len()),
        cases.len()
    );
    for ((text, gold), (f, cue)) in cases.iter().zip(&found) {
        if f.number() != *gold {
            println!("{gold} -> {} {cue}  {text}", f.number());
        }
    }
    Ok(())
}
