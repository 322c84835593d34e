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
    /// The code; or else the first of `codes` (the seed appeals' form).
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    codes: Vec<String>,
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
        let Some(code) = parsed.code.or_else(|| parsed.codes.into_iter().next()) else {
            bail!("{}:{line}: no \"code\" (nor \"codes\")", path.display());
        };
        let code = code.trim().to_string();
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
    /// Among the answers not marked `low_confidence`, the share whose best code is right
    /// (`None` when every answer was marked).
    pub precision_not_flagged: Option<f64>,
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

/// Whether a code given is the labelled one. A label at the тема level (a portal theme
/// mapped to a тема as a whole, `XXXX.XXXX.XXXX.0000`) is met by any code of the тема.
fn exact(given: &str, label: &str) -> bool {
    match label.strip_suffix(".0000") {
        Some(_) if label.split('.').count() == 4 => {
            let depth = label
                .split('.')
                .position(|b| b.chars().all(|c| c == '0'))
                .unwrap_or(4);
            depth > 0 && same_blocks(given, label, depth)
        }
        _ => given == label,
    }
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
    let exact_within = |k: usize| {
        move |a: &Appeal, o: &Outcome| o.candidates.iter().take(k).any(|c| exact(c, &a.code))
    };
    let not_flagged: Vec<(&Appeal, &Outcome)> = appeals
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !o.low_confidence && !o.candidates.is_empty())
        .collect();
    let precision_not_flagged = (!not_flagged.is_empty()).then(|| {
        not_flagged
            .iter()
            .filter(|(a, o)| exact(&o.candidates[0], &a.code))
            .count() as f64
            / not_flagged.len() as f64
    });

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
        precision_not_flagged,
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
    if let Some(p) = report.precision_not_flagged {
        let _ = writeln!(out, "right, not flagged:{:>5.1}%", p * 100.0);
    }
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

/// Options of `okno eval per-source`.
#[derive(clap::Args, Debug)]
pub struct PerSourceArgs {
    /// The folder of external data (kursk_cp2022/, nashdom_ryazan/, nash_spb/).
    #[arg(long, default_value = "../shared/data/external")]
    pub external: PathBuf,
    /// The mapping of portal themes to codes.
    #[arg(long, default_value = "plugins/topics/data/portal_themes.csv")]
    pub mapping: PathBuf,
    /// The portals, comma-separated; each is tested with a model trained on the others.
    #[arg(long, value_delimiter = ',', default_value = "kursk,ryazan,spb")]
    pub sources: Vec<String>,
    /// Labelled appeals measured with leave-one-out, and imported as corrections for the
    /// curve (JSONL as for `eval classify`).
    #[arg(long)]
    pub appeals: Option<PathBuf>,
    /// Labelled appeals measured as a test only (JSONL; `code` or `codes`).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Most texts of a held-out portal classified (picked by a hash of the text).
    #[arg(long, default_value_t = 1500)]
    pub test_cap: usize,
    /// Print one JSON array.
    #[arg(long)]
    pub json: bool,
}

/// One line of the per-source table.
#[derive(Clone, Debug, Serialize)]
pub struct PerSourceRow {
    /// What is measured.
    pub test: String,
    /// What the learned model was trained on (`-` for the table alone), and the examples.
    pub model: String,
    /// The low-confidence threshold in force (chosen on the model's training sources).
    pub threshold: f32,
    pub report: EvalReport,
}

/// Classifies `appeals` natively with `model`; `examples(i)` are the corrections the
/// i-th appeal sees.
fn native_outcomes(
    appeals: &[Appeal],
    model: &okno_plugin_topics::learned::Model,
    examples: &dyn Fn(usize) -> Vec<okno_plugin_topics::PreparedExample>,
) -> (Vec<Outcome>, usize) {
    let params = okno_plugin_topics::Params::for_model(model);
    let mut most = 0;
    let outcomes = appeals
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let prepared = examples(i);
            most = most.max(prepared.len());
            let started = Instant::now();
            let t = okno_plugin_topics::classify_with_model(&a.text, &prepared, &params, model);
            Outcome {
                candidates: std::iter::once(t.best.code)
                    .chain(t.alternatives.into_iter().map(|x| x.code))
                    .collect(),
                low_confidence: t.low_confidence,
                millis: started.elapsed().as_secs_f64() * 1000.0,
            }
        })
        .collect();
    (outcomes, most)
}

/// A held-out portal's texts as appeals: distinct, mapped to a code, at most `cap`
/// picked by a hash of the text.
fn portal_appeals(
    texts: &[okno_plugin_topics::train::Labelled],
    source: &str,
    cap: usize,
) -> Vec<Appeal> {
    let mut picked: BTreeMap<(u64, &str), &str> = BTreeMap::new();
    for t in texts {
        let text = t.text.trim();
        if t.source == source && t.code != okno_plugin_topics::learned::NONE && !text.is_empty() {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for b in text.bytes() {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            picked.entry((hash, text)).or_insert(t.code.as_str());
        }
    }
    picked
        .into_iter()
        .take(cap)
        .enumerate()
        .map(|(i, ((_, text), code))| Appeal {
            line: i + 1,
            text: text.to_string(),
            code: code.to_string(),
        })
        .collect()
}

/// The per-source evaluation: each portal tested with a model trained on the others
/// (and with the table alone), then the appeals with leave-one-out and the seed as a
/// test, with a model trained on all the portals, and the corrections curve.
pub fn per_source(args: &PerSourceArgs) -> anyhow::Result<Vec<PerSourceRow>> {
    use okno_plugin_topics::learned::Model;
    use okno_plugin_topics::train::{train, TrainOptions};
    use okno_plugin_topics::{prepare, Example};

    let mapping = super::train::read_mapping(&args.mapping)?;
    let set = super::train::labelled(&args.external, &mapping, &args.sources)?;
    let present: Vec<String> = args
        .sources
        .iter()
        .filter(|s| set.texts.iter().any(|t| &t.source == *s))
        .cloned()
        .collect();
    if present.is_empty() {
        bail!("no text of {} is mapped", args.sources.join(", "));
    }
    let options = TrainOptions::default();
    let mut rows = Vec::new();
    let empty = Model::empty();
    let none = |_: usize| Vec::new();
    let row = |test: String,
               model: String,
               m: &Model,
               appeals: &[Appeal],
               outcomes: (Vec<Outcome>, usize)| PerSourceRow {
        test,
        model,
        threshold: okno_plugin_topics::Params::for_model(m).low_confidence_below,
        report: measure(appeals, &outcomes.0, outcomes.1, Vec::new()),
    };
    if present.len() >= 2 {
        for held in &present {
            let training: Vec<_> = set
                .texts
                .iter()
                .filter(|t| &t.source != held)
                .cloned()
                .collect();
            let (bytes, _) = train(&training, &options);
            let model = Model::parse(&bytes).map_err(anyhow::Error::msg)?;
            let others: Vec<&str> = present
                .iter()
                .filter(|s| *s != held)
                .map(String::as_str)
                .collect();
            // The held-out portal's texts: up to CURVE_MAX of them (with a вопрос code)
            // serve as its officials' corrections for the curve, the rest are the test.
            let mut pool = portal_appeals(&set.texts, held, args.test_cap + CURVE_MAX);
            let mut corrections: Vec<Example> = Vec::new();
            let mut i = pool.len();
            while i > 0 && corrections.len() < CURVE_MAX {
                i -= 1;
                if !pool[i].code.ends_with(".0000") {
                    let a = pool.remove(i);
                    corrections.push(Example {
                        code: a.code,
                        text: a.text,
                    });
                }
            }
            if corrections.len() < CURVE_MAX || pool.len() < CURVE_MAX {
                // Too few texts for a curve: all of them are the test.
                pool = portal_appeals(&set.texts, held, args.test_cap);
                corrections.clear();
            }
            pool.truncate(args.test_cap);
            let appeals = pool;
            rows.push(row(
                held.clone(),
                "-".into(),
                &empty,
                &appeals,
                native_outcomes(&appeals, &empty, &none),
            ));
            rows.push(row(
                held.clone(),
                others.join("+"),
                &model,
                &appeals,
                native_outcomes(&appeals, &model, &none),
            ));
            if !corrections.is_empty() {
                for k in [10, 25, CURVE_MAX] {
                    let prepared = prepare(&corrections[..k]);
                    rows.push(row(
                        format!("{held}, {k} of its corrections"),
                        others.join("+"),
                        &model,
                        &appeals,
                        native_outcomes(&appeals, &model, &|_| prepared.clone()),
                    ));
                }
            }
        }
    }
    let (bytes, _) = train(&set.texts, &options);
    let model = Model::parse(&bytes).map_err(anyhow::Error::msg)?;
    let all = present.join("+");
    let as_examples = |appeals: &[Appeal]| -> Vec<Example> {
        appeals
            .iter()
            .map(|a| Example {
                code: a.code.clone(),
                text: a.text.clone(),
            })
            .collect()
    };
    let mut loo_examples: Vec<Example> = Vec::new();
    if let Some(path) = &args.appeals {
        let appeals = read_appeals(path)?;
        loo_examples = as_examples(&appeals);
        let name = path.display().to_string();
        let loo = |i: usize| {
            let mut others = loo_examples.clone();
            others.remove(i);
            prepare(&others)
        };
        for (m, label) in [(&empty, "-".to_string()), (&model, all.clone())] {
            rows.push(row(
                format!("{name}, no examples"),
                label.clone(),
                m,
                &appeals,
                native_outcomes(&appeals, m, &none),
            ));
            rows.push(row(
                format!("{name}, leave-one-out"),
                label,
                m,
                &appeals,
                native_outcomes(&appeals, m, &loo),
            ));
        }
    }
    if let Some(path) = &args.seed {
        let appeals = read_appeals(path)?;
        let name = path.display().to_string();
        rows.push(row(
            name.clone(),
            "-".into(),
            &empty,
            &appeals,
            native_outcomes(&appeals, &empty, &none),
        ));
        // The curve: the first k appeals of --appeals imported as corrections.
        let mut ks = vec![0usize];
        for k in [10, 25] {
            if k < loo_examples.len() {
                ks.push(k);
            }
        }
        if !loo_examples.is_empty() {
            ks.push(loo_examples.len());
        }
        for k in ks {
            let prepared = prepare(&loo_examples[..k]);
            rows.push(row(
                format!("{name}, {k} corrections"),
                all.clone(),
                &model,
                &appeals,
                native_outcomes(&appeals, &model, &|_| prepared.clone()),
            ));
        }
    }
    Ok(rows)
}

/// The largest number of corrections on the curve (as many as the 43 appeals).
const CURVE_MAX: usize = 43;

/// The rows as a Markdown table (shares in per cent).
pub fn render_per_source(rows: &[PerSourceRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| test | model trained on | n | раздел | тематика | тема | exact top-1 | exact top-5 | тема in top 3 | low confidence | top-1 right, not flagged | threshold |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    for r in rows {
        let p = &r.report;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            r.test,
            r.model,
            p.n,
            pct(p.section),
            pct(p.subject),
            pct(p.theme),
            pct(p.exact_top1),
            pct(p.exact_top5),
            pct(p.theme_top3),
            pct(p.low_confidence),
            p.precision_not_flagged.map_or("-".into(), pct),
            r.threshold
        );
    }
    out
}

/// `okno eval per-source`.
pub fn per_source_command(args: PerSourceArgs) -> anyhow::Result<()> {
    let rows = per_source(&args)?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        print!("{}", render_per_source(&rows));
    }
    Ok(())
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

    /// Three tiny portals in the external data's layout, and a mapping of their themes.
    fn portal_fixture(dir: &Path) -> PathBuf {
        use std::io::Write as _;
        let roads = [
            "Яма на дороге у дома, асфальт разбит",
            "Разбита дорога, ямы на проезжей части",
            "Ямы на дороге, нужен ремонт асфальта",
            "Дорогу не ремонтируют, сплошные ямы",
        ];
        let trash = [
            "Не вывозят мусор, контейнеры переполнены",
            "Мусор не вывозят неделю, контейнерная площадка",
            "Переполнены мусорные контейнеры во дворе",
            "Свалка мусора у контейнеров",
        ];
        std::fs::create_dir_all(dir.join("kursk_cp2022")).unwrap();
        std::fs::create_dir_all(dir.join("nashdom_ryazan")).unwrap();
        std::fs::create_dir_all(dir.join("nash_spb")).unwrap();
        let mut kursk = String::from("id,Текст Сообщения,Тематика,Ответственное лицо\n");
        let mut ryazan = String::from("\"id\",\"text\",\"category\",\"theme\",\"executor\"\n");
        let mut spb = String::from(
            "id,date,district,city_object,category,reason_id,reason,text,answer_org\n",
        );
        for (n, (r, t)) in roads.iter().zip(&trash).enumerate() {
            kursk.push_str(&format!(
                "{n},\"<p>{r}&nbsp;, Курск</p>\",Дороги,x\n{n},\"{t} в Курске\",Мусор,x\n"
            ));
            ryazan.push_str(&format!("\"{n}\",\"{r} в Рязани\",\"c\",\"Ямы\",\"x\"\n\"{n}\",\"{t} в Рязани\",\"c\",\"Отходы\",\"x\"\n"));
            spb.push_str(&format!("{n},2021-01-01,d,o,c,7,r,\"{r}, Петербург\",a\n{n},2021-01-01,d,o,c,9,r,\"{t}, Петербург\",a\n"));
        }
        std::fs::write(dir.join("kursk_cp2022/train_with_header.csv"), &kursk).unwrap();
        std::fs::write(
            dir.join("kursk_cp2022/test_with_header.csv"),
            "id,Текст Сообщения,Тематика,Ответственное лицо\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("nashdom_ryazan/NashDomRyazan-29-03-2019.csv"),
            &ryazan,
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(spb.as_bytes()).unwrap();
        std::fs::write(
            dir.join("nash_spb/nash_spb_appeals.csv.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        let mapping = dir.join("mapping.csv");
        std::fs::write(
            &mapping,
            "source,theme,code,reason\n\
             kursk,Дороги,0003.0009.0099.0742,roads\n\
             kursk,Мусор,0005.0005.0056.1161,rubbish\n\
             ryazan,Ямы,0003.0009.0099.0000,roads as a whole\n\
             ryazan,Отходы,0005.0005.0056.1161,rubbish\n\
             spb,7,0003.0009.0099.0742,roads\n\
             spb,9,none,no code\n",
        )
        .unwrap();
        mapping
    }

    #[test]
    fn per_source_tests_each_portal_with_a_model_trained_on_the_others() {
        let dir = std::env::temp_dir().join(format!("okno-eval-portals-{}", std::process::id()));
        let mapping = portal_fixture(&dir);
        let args = PerSourceArgs {
            external: dir.clone(),
            mapping: mapping.clone(),
            sources: vec!["kursk".into(), "ryazan".into(), "spb".into()],
            appeals: None,
            seed: None,
            test_cap: 100,
            json: false,
        };
        let rows = per_source(&args).expect("per-source evaluation");
        // Each portal twice (table alone, then trained on the other two); too few texts
        // for a corrections curve.
        let tests: Vec<(&str, &str, usize)> = rows
            .iter()
            .map(|r| (r.test.as_str(), r.model.as_str(), r.report.n))
            .collect();
        assert_eq!(
            tests,
            vec![
                ("kursk", "-", 8),
                ("kursk", "ryazan+spb", 8),
                ("ryazan", "-", 8),
                ("ryazan", "kursk+spb", 8),
                // St Petersburg's rubbish reason maps to none: only its roads are tested.
                ("spb", "-", 4),
                ("spb", "kursk+ryazan", 4),
            ]
        );
        // Trained on Kursk and Ryazan, the roads of St Petersburg land in the тема.
        let spb = &rows[5].report;
        assert_eq!(spb.theme, 1.0, "{spb:?}");
        assert!(render_per_source(&rows).contains("| spb | kursk+ryazan | 4 |"));

        // Training twice on the fixture gives the same bytes.
        let train_args = |out: &str| super::super::train::TrainTopicsArgs {
            external: dir.clone(),
            mapping: mapping.clone(),
            sources: vec!["kursk".into(), "ryazan".into(), "spb".into()],
            out: dir.join(out),
            stats: Some(dir.join(format!("{out}.csv"))),
        };
        super::super::train::topics_command(train_args("a.bin")).expect("trains");
        super::super::train::topics_command(train_args("b.bin")).expect("trains again");
        let (a, b) = (
            std::fs::read(dir.join("a.bin")).unwrap(),
            std::fs::read(dir.join("b.bin")).unwrap(),
        );
        assert!(!a.is_empty());
        assert_eq!(a, b, "the same data gives the same model");
        let stats = std::fs::read_to_string(dir.join("a.bin.csv")).unwrap();
        assert!(stats.contains("spb,none,4\n"), "{stats}");

        // A mapping naming a code the classifier lacks is refused with its line.
        std::fs::write(
            &mapping,
            "source,theme,code,reason\nkursk,Дороги,0003.0009.0099.9999,roads\n",
        )
        .unwrap();
        let error = super::super::train::read_mapping(&mapping).expect_err("unknown code");
        assert!(format!("{error:#}").contains(":2: code"), "{error:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
