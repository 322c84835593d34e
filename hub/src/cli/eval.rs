//! `okno eval classify`: how well a topic classifier assigns the official classifier's
//! codes to labelled appeals.
//!
//! Every appeal is classified as a new mail message whose body is the appeal's text, by
//! one compiled plugin given a fresh in-memory kv per call. That kv holds the examples
//! the plugin may learn from, in the form the hub writes officials' corrections
//! (`okno.corrections/<key>` → `{"code", "text"}`): those of `--examples`, and with
//! `--leave-one-out` every other appeal of the data set, so that an appeal never sees its
//! own answer. With examples, each appeal is classified on its kv until a call leaves the
//! kv unchanged: the first calls read the examples into whatever the plugin keeps in kv
//! (as the hub's first calls after new corrections do; topics indexes a bounded amount a
//! call), and the last, whose time is reported as the time per call, costs what every
//! later call in the hub costs. The mean time of the first calls, together, is reported
//! too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::classifier_table;
use crate::model::{Channel, Classification, Client, Message, Thread};
use crate::runtime::kv::{MemoryKv, PluginKv, CORRECTIONS_PREFIX};
use crate::runtime::{Limits, Runtime, RuntimeOptions, World};

/// Options of `okno eval classify`.
pub struct EvalOptions {
    pub plugin: PathBuf,
    pub data: PathBuf,
    pub leave_one_out: bool,
    pub examples: Option<PathBuf>,
    pub settings: Vec<(String, String)>,
    pub limits: Limits,
    /// Where compiled components are cached; `None` compiles every run.
    pub cache_dir: Option<PathBuf>,
}

/// One labelled appeal of a JSONL file.
#[derive(Clone, Debug)]
pub struct Appeal {
    /// 1-based line of the file.
    pub line: usize,
    pub text: String,
    pub code: String,
}

#[derive(Deserialize)]
struct AppealLine {
    text: String,
    code: String,
}

/// Reads labelled appeals: one JSON object a line with `text` and `code` (other fields are
/// ignored, blank lines skipped). The code must be an entry of the official classifier.
pub fn read_appeals(path: &Path) -> anyhow::Result<Vec<Appeal>> {
    let data =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut appeals = Vec::new();
    for (index, raw) in data.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: AppealLine = serde_json::from_str(raw).with_context(|| {
            format!(
                "{}:{line}: not a JSON object with string fields \"text\" and \"code\"",
                path.display()
            )
        })?;
        let code = parsed.code.trim().to_string();
        if classifier_table::lookup(&code).is_none() {
            bail!(
                "{}:{line}: code {code:?} is not in the official classifier",
                path.display()
            );
        }
        appeals.push(Appeal {
            line,
            text: parsed.text,
            code,
        });
    }
    Ok(appeals)
}

/// The report of one evaluation. Shares are fractions of `n` in [0, 1].
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub n: usize,
    /// The раздел (first block of the code) is right.
    pub section: f64,
    /// The тематика (first two blocks) is right.
    pub subject: f64,
    /// The тема (first three blocks) is right.
    pub theme: f64,
    pub exact_top1: f64,
    /// The exact code is the best one or among the next two alternatives.
    pub exact_top3: f64,
    pub exact_top5: f64,
    /// One of the first three candidates has the right тема.
    pub theme_top3: f64,
    /// Answers the plugin marked `low_confidence`.
    pub low_confidence: f64,
    /// Wall time of one classify call, instantiation included (with examples, once the
    /// plugin has indexed them).
    pub mean_ms: f64,
    pub p99_ms: f64,
    /// With examples: the mean, over the fresh kvs, of the first calls on each, which
    /// read and index them (together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_call_mean_ms: Option<f64>,
    /// Examples in each call's kv (the most, with `--leave-one-out`).
    pub examples: usize,
    /// Appeals the plugin failed on or gave no topic for; they count as wrong.
    pub errors: Vec<AppealError>,
    /// The true тематики with the most misses at the тематика level, worst first.
    pub confusion: Vec<Confusion>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AppealError {
    pub line: usize,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Confusion {
    /// The true тематика, as its two blocks (`0003.0009`).
    pub subject: String,
    pub name: String,
    /// Appeals of this тематика in the data.
    pub total: usize,
    /// Of them, those given another тематика (or none).
    pub wrong: usize,
    /// What they got instead, most frequent first.
    pub confused_with: Vec<ConfusedWith>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfusedWith {
    /// The тематика given, or `None` when the plugin gave no answer.
    pub subject: Option<String>,
    pub name: String,
    pub count: usize,
}

/// How many true тематики the confusion summary lists.
const CONFUSION_ROWS: usize = 5;

/// The first `n` blocks of a code, or `None` if it has fewer.
fn blocks(code: &str, n: usize) -> Option<String> {
    let parts: Vec<&str> = code.split('.').take(n).collect();
    (parts.len() == n).then(|| parts.join("."))
}

fn same_blocks(a: &str, b: &str, n: usize) -> bool {
    matches!((blocks(a, n), blocks(b, n)), (Some(x), Some(y)) if x == y)
}

/// The name of a тематика given as two blocks.
fn subject_name(subject: &str) -> String {
    classifier_table::lookup(&format!("{subject}.0000.0000"))
        .map(|e| e.name.clone())
        .unwrap_or_default()
}

fn example_value(appeal: &Appeal) -> Vec<u8> {
    serde_json::json!({"code": appeal.code, "text": appeal.text})
        .to_string()
        .into_bytes()
}

fn message_for(appeal: &Appeal) -> Message {
    Message {
        id: format!("eval-{}", appeal.line),
        idempotency_key: None,
        channel: Channel::Mail,
        source: "eval".into(),
        received_at: crate::sla::now_millis(),
        sent_at: None,
        client: Client::default(),
        subject: None,
        body: appeal.text.clone(),
        attachments: Vec::new(),
        metadata: Vec::new(),
        thread: Thread::default(),
    }
}

/// What one appeal got.
struct Outcome {
    /// The best code, then the alternatives in the plugin's order; empty on failure.
    candidates: Vec<String>,
    low_confidence: bool,
    millis: f64,
}

/// Classifies every appeal of `options.data` and measures the answers.
pub async fn classify(options: &EvalOptions) -> anyhow::Result<EvalReport> {
    let appeals = read_appeals(&options.data)?;
    if appeals.is_empty() {
        bail!("{} holds no appeals", options.data.display());
    }
    let given: Vec<(String, Vec<u8>)> = match &options.examples {
        Some(path) => read_appeals(path)?
            .iter()
            .map(|a| {
                (
                    format!("{CORRECTIONS_PREFIX}examples-{}", a.line),
                    example_value(a),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    let own: Vec<(String, Vec<u8>)> = if options.leave_one_out {
        appeals
            .iter()
            .map(|a| (format!("{CORRECTIONS_PREFIX}{}", a.line), example_value(a)))
            .collect()
    } else {
        Vec::new()
    };

    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: options.cache_dir.clone(),
        ..Default::default()
    })?;
    let plugin = super::plugin::load_local(
        &runtime,
        &options.plugin,
        options.settings.clone(),
        Vec::new(),
        options.limits.clone(),
    )?;
    if plugin.world() != World::Classifier {
        bail!(
            "{} is a {} plugin; eval classify needs a classifier",
            options.plugin.display(),
            plugin.world()
        );
    }

    let mut outcomes = Vec::with_capacity(appeals.len());
    let mut errors = Vec::new();
    let mut most_examples = 0;
    let mut first_calls: Vec<f64> = Vec::new();
    for (index, appeal) in appeals.iter().enumerate() {
        let kv = MemoryKv::default();
        let mut seeded = 0;
        for (key, value) in given.iter().chain(
            own.iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, e)| e),
        ) {
            kv.set(key, value)
                .map_err(|e| anyhow::anyhow!("seeding the examples: {e}"))?;
            seeded += 1;
        }
        most_examples = most_examples.max(seeded);
        let kv = Arc::new(kv);
        let call = plugin.with_kv(kv.clone());
        let message = message_for(appeal);
        if seeded > 0 {
            // Each call that indexes reads at least one example, so this many suffice.
            let mut indexing = 0.0;
            for _ in 0..=seeded {
                let writes = kv.writes();
                let started = Instant::now();
                // Its answer is the same as the timed call's; an error shows there too.
                let _ = call.classify(&message, &Classification::default()).await;
                if kv.writes() == writes {
                    break;
                }
                indexing += started.elapsed().as_secs_f64() * 1000.0;
            }
            first_calls.push(indexing);
        }
        let started = Instant::now();
        let result = call.classify(&message, &Classification::default()).await;
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = match result {
            Ok(Classification {
                topic: Some(topic), ..
            }) => Outcome {
                candidates: std::iter::once(topic.best.code)
                    .chain(topic.alternatives.into_iter().map(|t| t.code))
                    .collect(),
                low_confidence: topic.low_confidence,
                millis,
            },
            Ok(_) => {
                errors.push(AppealError {
                    line: appeal.line,
                    error: "the plugin assigned no topic".into(),
                });
                Outcome {
                    candidates: Vec::new(),
                    low_confidence: false,
                    millis,
                }
            }
            Err(e) => {
                errors.push(AppealError {
                    line: appeal.line,
                    error: e.to_string(),
                });
                Outcome {
                    candidates: Vec::new(),
                    low_confidence: false,
                    millis,
                }
            }
        };
        outcomes.push(outcome);
    }
    let mut report = measure(&appeals, &outcomes, most_examples, errors);
    if !first_calls.is_empty() {
        report.first_call_mean_ms =
            Some(first_calls.iter().sum::<f64>() / first_calls.len() as f64);
    }
    Ok(report)
}

fn measure(
    appeals: &[Appeal],
    outcomes: &[Outcome],
    examples: usize,
    errors: Vec<AppealError>,
) -> EvalReport {
    let n = appeals.len();
    let share = |hit: &dyn Fn(&Appeal, &Outcome) -> bool| {
        appeals
            .iter()
            .zip(outcomes)
            .filter(|(a, o)| hit(a, o))
            .count() as f64
            / n as f64
    };
    let best_shares = |blocks: usize| {
        move |a: &Appeal, o: &Outcome| {
            o.candidates
                .first()
                .is_some_and(|c| same_blocks(c, &a.code, blocks))
        }
    };
    let exact_within =
        |k: usize| move |a: &Appeal, o: &Outcome| o.candidates.iter().take(k).any(|c| *c == a.code);

    let mut times: Vec<f64> = outcomes.iter().map(|o| o.millis).collect();
    times.sort_by(f64::total_cmp);
    // Nearest rank: the smallest time that at least 99% of the calls did not exceed.
    let p99 = times[(n * 99).div_ceil(100).max(1) - 1];

    EvalReport {
        n,
        section: share(&best_shares(1)),
        subject: share(&best_shares(2)),
        theme: share(&best_shares(3)),
        exact_top1: share(&exact_within(1)),
        exact_top3: share(&exact_within(3)),
        exact_top5: share(&exact_within(5)),
        theme_top3: share(&|a, o| {
            o.candidates
                .iter()
                .take(3)
                .any(|c| same_blocks(c, &a.code, 3))
        }),
        low_confidence: share(&|_, o| o.low_confidence),
        mean_ms: times.iter().sum::<f64>() / n as f64,
        p99_ms: p99,
        first_call_mean_ms: None,
        examples,
        errors,
        confusion: confusion(appeals, outcomes),
    }
}

fn confusion(appeals: &[Appeal], outcomes: &[Outcome]) -> Vec<Confusion> {
    struct Row {
        total: usize,
        wrong: HashMap<Option<String>, usize>,
    }
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (appeal, outcome) in appeals.iter().zip(outcomes) {
        let Some(truth) = blocks(&appeal.code, 2) else {
            continue;
        };
        let row = rows.entry(truth.clone()).or_insert_with(|| Row {
            total: 0,
            wrong: HashMap::new(),
        });
        row.total += 1;
        let given = outcome.candidates.first().and_then(|c| blocks(c, 2));
        if given.as_deref() != Some(truth.as_str()) {
            *row.wrong.entry(given).or_default() += 1;
        }
    }
    let mut out: Vec<Confusion> = rows
        .into_iter()
        .filter(|(_, row)| !row.wrong.is_empty())
        .map(|(subject, row)| {
            let mut confused_with: Vec<ConfusedWith> = row
                .wrong
                .into_iter()
                .map(|(given, count)| ConfusedWith {
                    name: given
                        .as_deref()
                        .map(subject_name)
                        .unwrap_or_else(|| "no answer".into()),
                    subject: given,
                    count,
                })
                .collect();
            confused_with.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.subject.cmp(&b.subject))
            });
            Confusion {
                name: subject_name(&subject),
                wrong: confused_with.iter().map(|c| c.count).sum(),
                subject,
                total: row.total,
                confused_with,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.wrong
            .cmp(&a.wrong)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    out.truncate(CONFUSION_ROWS);
    out
}

/// `okno eval classify`: runs the evaluation and prints the report.
pub async fn classify_command(options: EvalOptions, json: bool) -> anyhow::Result<()> {
    let report = classify(&options).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print!("{}", render(&report, &options));
    Ok(())
}

fn render(report: &EvalReport, options: &EvalOptions) -> String {
    use std::fmt::Write as _;
    let n = report.n;
    let mut out = String::new();
    let examples = match (options.leave_one_out, &options.examples) {
        (false, None) => "none".to_string(),
        (true, None) => format!("leave-one-out, {} per appeal", report.examples),
        (false, Some(path)) => format!("{} from {}", report.examples, path.display()),
        (true, Some(path)) => format!(
            "{} per appeal: {} and the other appeals",
            report.examples,
            path.display()
        ),
    };
    let _ = writeln!(out, "appeals:          {n} from {}", options.data.display());
    let _ = writeln!(out, "plugin:           {}", options.plugin.display());
    let _ = writeln!(out, "examples:         {examples}");
    let line = |out: &mut String, label: &str, share: f64| {
        let _ = writeln!(
            out,
            "{label:<18}{:>5.1}%  ({}/{n})",
            share * 100.0,
            (share * n as f64).round() as usize
        );
    };
    line(&mut out, "раздел:", report.section);
    line(&mut out, "тематика:", report.subject);
    line(&mut out, "тема:", report.theme);
    line(&mut out, "exact top-1:", report.exact_top1);
    line(&mut out, "exact top-3:", report.exact_top3);
    line(&mut out, "exact top-5:", report.exact_top5);
    line(&mut out, "тема in top 3:", report.theme_top3);
    line(&mut out, "low confidence:", report.low_confidence);
    let _ = writeln!(
        out,
        "time per call:    mean {:.1} ms, p99 {:.1} ms",
        report.mean_ms, report.p99_ms
    );
    if let Some(first) = report.first_call_mean_ms {
        let _ = writeln!(
            out,
            "first calls:      mean {first:.1} ms in all (reading the {} examples from a fresh kv)",
            report.examples
        );
    }
    let _ = writeln!(out, "plugin errors:    {}", report.errors.len());
    for error in &report.errors {
        let _ = writeln!(out, "  line {}: {}", error.line, error.error);
    }
    if !report.confusion.is_empty() {
        let _ = writeln!(out, "тематики missed most (true → given):");
        for row in &report.confusion {
            let given: Vec<String> = row
                .confused_with
                .iter()
                .map(|c| {
                    format!(
                        "{} «{}» ×{}",
                        c.subject.as_deref().unwrap_or("-"),
                        c.name,
                        c.count
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} «{}»: {} of {} wrong → {}",
                row.subject,
                row.name,
                row.wrong,
                row.total,
                given.join(", ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appeal(line: usize, code: &str) -> Appeal {
        Appeal {
            line,
            text: String::new(),
            code: code.into(),
        }
    }

    fn outcome(codes: &[&str], low: bool, millis: f64) -> Outcome {
        Outcome {
            candidates: codes.iter().map(|c| c.to_string()).collect(),
            low_confidence: low,
            millis,
        }
    }

    #[test]
    fn levels_top_k_and_confusion_are_counted_per_appeal() {
        let appeals = [
            appeal(1, "0003.0008.0086.0544"),
            appeal(2, "0003.0009.0097.0689"),
            appeal(3, "0003.0009.0097.0699"),
            appeal(4, "0005.0005.0056.1161"),
        ];
        let outcomes = [
            outcome(&["0003.0008.0086.0544"], false, 1.0),
            outcome(
                &[
                    "0003.0009.0097.0699",
                    "0001.0001.0001.0001",
                    "0003.0009.0097.0689",
                ],
                true,
                2.0,
            ),
            outcome(
                &[
                    "0003.0008.0086.0544",
                    "0003.0009.0097.0689",
                    "0003.0009.0097.0699",
                ],
                false,
                3.0,
            ),
            outcome(&[], false, 10.0),
        ];
        let r = measure(
            &appeals,
            &outcomes,
            3,
            vec![AppealError {
                line: 4,
                error: "trap".into(),
            }],
        );
        assert_eq!(r.n, 4);
        assert_eq!(r.section, 0.75);
        assert_eq!(r.subject, 0.5);
        assert_eq!(r.theme, 0.5);
        assert_eq!(r.exact_top1, 0.25);
        assert_eq!(r.exact_top3, 0.75);
        assert_eq!(r.theme_top3, 0.75);
        assert_eq!(r.low_confidence, 0.25);
        assert_eq!(r.mean_ms, 4.0);
        assert_eq!(r.p99_ms, 10.0);
        assert_eq!(r.confusion.len(), 2);
        let housing = r
            .confusion
            .iter()
            .find(|c| c.subject == "0005.0005")
            .expect("the failed appeal's тематика");
        assert_eq!((housing.wrong, housing.total), (1, 1));
        assert_eq!(housing.confused_with[0].subject, None);
        let economy = r
            .confusion
            .iter()
            .find(|c| c.subject == "0003.0009")
            .expect("a missed тематика");
        assert_eq!((economy.wrong, economy.total), (1, 2));
        assert_eq!(
            economy.confused_with[0].subject.as_deref(),
            Some("0003.0008")
        );
        assert!(!economy.name.is_empty());
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let dir = std::env::temp_dir().join(format!("okno-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, "{\"text\": \"a\", \"code\": \"0003.0008.0086.0544\", \"id\": 1}\n\n{\"text\": \"b\"}\n").expect("write");
        let error = read_appeals(&path).expect_err("line 3 has no code");
        assert!(format!("{error:#}").contains(":3:"), "{error:#}");
        std::fs::write(
            &path,
            "{\"text\": \"a\", \"code\": \"0003.0008.0086.9999\"}\n",
        )
        .expect("write");
        let error = read_appeals(&path).expect_err("an unknown code");
        assert!(format!("{error:#}").contains(":1: code"), "{error:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
