//! Leave-one-out evaluation of the topic classifier on labelled appeals.
//!
//! ```text
//! cargo run -p okno-plugin-topics --release --example eval-topics -- appeals.jsonl [name=value ...]
//! ```
//! Each line of the file is a JSON object with `text` and `code`. For appeal i the
//! examples are all the others (never i itself); the same run is then repeated with no
//! examples at all, i.e. from the classifier's wording alone. `name=value` pairs override
//! [`Params`] fields, for measuring a change before making it the default.

use std::time::Instant;

use okno_plugin_topics::{classify_prepared, prepare, Example, Params};

fn main() {
    if let Err(e) = run() {
        eprintln!("eval: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: eval FILE.jsonl [name=value ...]")?;
    let mut params = Params::default();
    for arg in args {
        let (name, value) = arg
            .split_once('=')
            .ok_or(format!("expected name=value, got {arg}"))?;
        let v: f32 = value.parse().map_err(|e| format!("{name}: {e}"))?;
        match name {
            "tema_weight" => params.tema_weight = v,
            "tematika_weight" => params.tematika_weight = v,
            "knn_sharpness" => params.knn_sharpness = v,
            "knn_code_weight" => params.knn_code_weight = v,
            "knn_tema_weight" => params.knn_tema_weight = v,
            "knn_k" => params.knn_k = v as usize,
            "knn_min" => params.knn_min = v,
            "temperature" => params.temperature = v,
            "low_confidence_below" => params.low_confidence_below = v,
            "refine_min" => params.refine_min = v,
            "diversity_margin" => params.diversity_margin = v,
            _ => return Err(format!("unknown parameter {name}")),
        }
    }
    let mut appeals = Vec::new();
    for appeal in okno_sdk::eval::read_jsonl(&path)? {
        appeals.push(Example {
            code: appeal.string("code")?,
            text: appeal.string("text")?,
        });
    }
    let verbose = std::env::var_os("EVAL_VERBOSE").is_some();
    println!("{} appeals, leave-one-out", appeals.len());
    report(
        "with the other appeals as examples",
        &appeals,
        &params,
        true,
        verbose,
    );
    report(
        "with no examples (classifier wording only)",
        &appeals,
        &params,
        false,
        verbose,
    );
    scaling(&appeals, &params);
    Ok(())
}

fn blocks(code: &str, n: usize) -> String {
    code.split('.').take(n).collect::<Vec<_>>().join(".")
}

fn report(title: &str, appeals: &[Example], params: &Params, with_examples: bool, verbose: bool) {
    let all = prepare(appeals);
    let n = appeals.len() as f32;
    let (mut razdel, mut tematika, mut tema, mut top1, mut top3, mut top5, mut tema3, mut low) =
        (0, 0, 0, 0, 0, 0, 0, 0);
    let (mut low_right, mut sure_right) = (0, 0);
    let mut times = Vec::new();
    for (i, appeal) in appeals.iter().enumerate() {
        // The prepared list keeps the order of `appeals` when every example is usable;
        // dropping index i removes exactly appeal i.
        let examples: Vec<_> = if with_examples && all.len() == appeals.len() {
            all.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, e)| e.clone())
                .collect()
        } else if with_examples {
            let others: Vec<Example> = appeals
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, e)| e.clone())
                .collect();
            prepare(&others)
        } else {
            Vec::new()
        };
        let start = Instant::now();
        let a = classify_prepared(&appeal.text, &examples, params);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let gold = appeal.code.as_str();
        let ranked: Vec<&str> = std::iter::once(a.best.code.as_str())
            .chain(a.alternatives.iter().map(|t| t.code.as_str()))
            .collect();
        let hit = |k: usize| ranked.iter().take(k).any(|c| *c == gold);
        razdel += usize::from(blocks(&a.best.code, 1) == blocks(gold, 1));
        tematika += usize::from(blocks(&a.best.code, 2) == blocks(gold, 2));
        tema += usize::from(blocks(&a.best.code, 3) == blocks(gold, 3));
        top1 += usize::from(hit(1));
        top3 += usize::from(hit(3));
        top5 += usize::from(hit(5));
        tema3 += usize::from(
            ranked
                .iter()
                .take(3)
                .any(|c| blocks(c, 3) == blocks(gold, 3)),
        );
        if a.low_confidence {
            low += 1;
            low_right += usize::from(hit(1));
        } else {
            sure_right += usize::from(hit(1));
        }
        if verbose {
            println!(
                "{} {:5} gold {gold} got {} ({:.2}{}) {:?}",
                if hit(1) {
                    "+"
                } else if blocks(&a.best.code, 3) == blocks(gold, 3) {
                    "~"
                } else {
                    "-"
                },
                i + 1,
                a.best.code,
                a.best.confidence,
                if a.low_confidence { " low" } else { "" },
                a.reasons
                    .iter()
                    .map(|r| r.chars().take(70).collect::<String>())
                    .collect::<Vec<_>>()
            );
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let p99 = times
        .get(((times.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    let pct = |x: usize| 100.0 * x as f32 / n;
    println!("\n== {title} ==");
    println!("раздел (1st block)        {:5.1}%", pct(razdel));
    println!("тематика (2 blocks)       {:5.1}%", pct(tematika));
    println!("тема (3 blocks)           {:5.1}%", pct(tema));
    println!("exact top-1               {:5.1}%", pct(top1));
    println!("exact top-3               {:5.1}%", pct(top3));
    println!("exact top-5               {:5.1}%", pct(top5));
    println!("тема within top 3         {:5.1}%", pct(tema3));
    println!(
        "low confidence            {:5.1}%  (exact top-1: {}/{} of low, {}/{} of confident)",
        pct(low),
        low_right,
        low,
        sure_right,
        appeals.len() - low
    );
    println!("time per appeal           mean {mean:.3} ms, p99 {p99:.3} ms (native)");
}

/// Time per appeal with 3000 examples (the appeals repeated), and the cost of the stored
/// index for them: what a deployment with imported history pays.
fn scaling(appeals: &[Example], params: &Params) {
    let one = prepare(appeals);
    let many: Vec<_> = one.iter().cycle().take(3000).cloned().collect();
    let start = Instant::now();
    for appeal in appeals {
        classify_prepared(&appeal.text, &many, params);
    }
    let per = start.elapsed().as_secs_f64() * 1000.0 / appeals.len().max(1) as f64;
    let index: Vec<_> = many
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("okno.corrections/{i:08}"), Some(p.clone())))
        .collect();
    let bytes = okno_plugin_topics::store::encode(&index);
    let start = Instant::now();
    let decoded = okno_plugin_topics::store::decode(&bytes).map_or(0, |d| d.len());
    let decode_ms = start.elapsed().as_secs_f64() * 1000.0;
    println!("\n== 3000 examples ==");
    println!("time per appeal           mean {per:.3} ms (native)");
    println!("stored index              {} KiB, decoded {decoded} examples in {decode_ms:.3} ms (native)", bytes.len() / 1024);
}
