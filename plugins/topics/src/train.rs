//! Training the learned model ([`crate::learned`]) from labelled texts, and choosing its
//! low-confidence threshold on the training sources only. Reading the portals' files is
//! the hub's (`okno train topics`); this module sees texts, codes and source names.
//!
//! Deterministic: the same texts give the same bytes (examples are picked by a hash of
//! their text, every map is ordered, sums run in a fixed order).

use std::collections::{BTreeMap, BTreeSet};

use crate::learned::{self, Model, Parts, NONE};
use crate::model::Params;
use crate::table;
use crate::text::Tokenizer;

/// One training text: where it comes from, and the code its portal theme maps to (a
/// тема or вопрос of the classifier) or [`NONE`].
#[derive(Clone, Debug)]
pub struct Labelled {
    pub source: String,
    pub text: String,
    pub code: String,
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Most texts kept per source and code: St Petersburg's 60,000 short complaints about
    /// yards would otherwise drown Kursk's and Ryazan's few of other matters.
    pub per_source_code_cap: usize,
    /// Additive smoothing of the word counts.
    pub alpha: f32,
    /// Least number of texts a feature appears in to be kept.
    pub min_texts: u32,
    /// Most features kept, those in most texts first: the model must stay small enough
    /// for the plugin's initial memory.
    pub max_features: usize,
    /// Sharpness of the posterior per known feature ([`learned::Model::posterior`]).
    pub beta: f32,
    /// Share of not-flagged top-1 codes that must be right on the held-out training
    /// sources; the low-confidence threshold is the least that reaches it.
    pub precision_goal: f32,
    /// Most texts of a held-out source classified when choosing the threshold.
    pub calibration_cap: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            per_source_code_cap: 300,
            alpha: 0.5,
            min_texts: 2,
            max_features: 12_000,
            beta: 4.0,
            precision_goal: 0.6,
            calibration_cap: 1500,
        }
    }
}

/// What training did, for the statistics committed beside the model.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    /// (source, code) → texts kept.
    pub kept: BTreeMap<(String, String), usize>,
    pub features: usize,
    pub pairs: usize,
    pub threshold: f32,
    /// Held-out training source → (texts classified, not flagged, right among them).
    pub calibration: BTreeMap<String, (usize, usize, usize)>,
}

/// FNV-1a of a text, to pick a deterministic, unbiased subset.
fn text_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Distinct texts, at most `cap` per source and code, picked by text hash.
pub fn select(examples: &[Labelled], cap: usize) -> Vec<&Labelled> {
    // (source, code) → the group's texts by (hash, text).
    type Group<'a> = BTreeMap<(u64, &'a str), &'a Labelled>;
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    for e in examples {
        let text = e.text.trim();
        if text.is_empty() {
            continue;
        }
        groups
            .entry((e.source.as_str(), e.code.as_str()))
            .or_default()
            .entry((text_hash(text), text))
            .or_insert(e);
    }
    groups
        .into_values()
        .flat_map(|g| g.into_values().take(cap))
        .collect()
}

/// Trains on all `examples`; the threshold is chosen by leaving each training source out
/// in turn (with one source only, the default 0.5 is kept).
pub fn train(examples: &[Labelled], options: &TrainOptions) -> (Vec<u8>, TrainReport) {
    let tokenizer = Tokenizer::new();
    let selected = select(examples, options.per_source_code_cap);
    let featured: Vec<(&Labelled, Vec<u32>)> = selected
        .iter()
        .map(|e| (*e, learned::text_features(&tokenizer, &e.text)))
        .collect();
    let sources: BTreeSet<&str> = featured.iter().map(|(e, _)| e.source.as_str()).collect();
    let mut report = TrainReport::default();
    for (e, _) in &featured {
        *report
            .kept
            .entry((e.source.clone(), e.code.clone()))
            .or_default() += 1;
    }

    let mut threshold = 0.5;
    if sources.len() >= 2 {
        let mut judged: Vec<(f32, bool)> = Vec::new();
        let mut by_source: Vec<(&str, f32, bool)> = Vec::new();
        for held in &sources {
            let rest: Vec<&(&Labelled, Vec<u32>)> =
                featured.iter().filter(|(e, _)| e.source != *held).collect();
            let (bytes, _, _) = fit(&rest, 0.5, options);
            let model = Model::parse(&bytes).expect("a model just encoded parses");
            let params = Params::for_model(&model);
            let mut tested: Vec<&Labelled> = featured
                .iter()
                .filter(|(e, _)| e.source == *held && e.code != NONE)
                .map(|(e, _)| *e)
                .collect();
            tested.sort_by_key(|e| (text_hash(&e.text), e.text.as_str()));
            tested.truncate(options.calibration_cap);
            for e in tested {
                let a = crate::model::classify(&e.text, &[], &params, &model);
                let right = code_matches(&a.best.code, &e.code);
                judged.push((a.best.confidence, right));
                by_source.push((held, a.best.confidence, right));
            }
        }
        threshold = choose_threshold(&judged, options.precision_goal);
        for (source, confidence, right) in by_source {
            let row = report.calibration.entry(source.to_string()).or_default();
            row.0 += 1;
            if confidence >= threshold {
                row.1 += 1;
                row.2 += usize::from(right);
            }
        }
    }
    let all: Vec<&(&Labelled, Vec<u32>)> = featured.iter().collect();
    let (bytes, features, pairs) = fit(&all, threshold, options);
    report.features = features;
    report.pairs = pairs;
    report.threshold = threshold;
    (bytes, report)
}

/// Whether a code given answers a label: the same вопрос (a подвопрос of it counts), or
/// for a тема-level label any code within the тема.
pub fn code_matches(given: &str, label: &str) -> bool {
    let blocks = |c: &str| c.split('.').map(String::from).collect::<Vec<_>>();
    let (g, l) = (blocks(given), blocks(label));
    let depth = l
        .iter()
        .rposition(|b| b.chars().any(|c| c != '0'))
        .map_or(0, |p| p + 1);
    depth > 0 && g.len() >= depth && g[..depth] == l[..depth]
}

/// The least confidence at or above which at least `goal` of the top-1 codes are right
/// (1.0, flagging everything, if no threshold reaches it).
pub fn choose_threshold(judged: &[(f32, bool)], goal: f32) -> f32 {
    let mut sorted: Vec<(f32, bool)> = judged.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best = 1.0f32;
    let mut right = 0usize;
    for (i, (confidence, ok)) in sorted.iter().enumerate() {
        right += usize::from(*ok);
        let last_of_value = sorted.get(i + 1).is_none_or(|n| n.0 < *confidence);
        if last_of_value && right as f32 >= goal * (i + 1) as f32 {
            best = *confidence;
        }
    }
    best
}

/// Fits naive Bayes on featured texts; returns the encoded model, its feature count and
/// its pair count.
fn fit(
    featured: &[&(&Labelled, Vec<u32>)],
    threshold: f32,
    options: &TrainOptions,
) -> (Vec<u8>, usize, usize) {
    let tokenizer = Tokenizer::new();
    // Codes with training texts, and the темы they cover.
    let trained: BTreeSet<&str> = featured
        .iter()
        .map(|(e, _)| e.code.as_str())
        .filter(|c| *c != NONE)
        .collect();
    let covered_temas: BTreeSet<usize> = trained
        .iter()
        .filter_map(|c| table::find(c))
        .map(|e| table::ancestor_at(e, 3))
        .collect();
    // The class `none` also holds the classifier's own wording of every вопрос outside
    // the темы trained, so that an appeal about pensions or taxes goes there rather than
    // to the nearest communal matter.
    let mut docs: Vec<(&str, Vec<u32>)> = featured
        .iter()
        .map(|(e, f)| (e.code.as_str(), f.clone()))
        .collect();
    for (i, entry) in table::ENTRIES.iter().enumerate() {
        if entry.level != 4 || covered_temas.contains(&table::ancestor_at(i, 3)) {
            continue;
        }
        let tema = table::entry(table::ancestor_at(i, 3));
        let text = format!("{} {}", tema.name(), entry.name());
        docs.push((NONE, learned::text_features(&tokenizer, &text)));
    }

    let mut texts_with: BTreeMap<u32, u32> = BTreeMap::new();
    for (_, f) in &docs {
        for h in f {
            *texts_with.entry(*h).or_default() += 1;
        }
    }
    let mut frequent: Vec<(u32, u32)> = texts_with
        .into_iter()
        .filter(|(_, n)| *n >= options.min_texts)
        .collect();
    frequent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    frequent.truncate(options.max_features);
    let kept: BTreeSet<u32> = frequent.into_iter().map(|(h, _)| h).collect();
    let mut labels: Vec<&str> = trained.into_iter().collect();
    labels.push(NONE);
    let index: BTreeMap<&str, u16> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (*l, i as u16))
        .collect();
    let mut counts: BTreeMap<u32, BTreeMap<u16, u32>> = BTreeMap::new();
    let mut totals = vec![0u64; labels.len()];
    for (label, f) in &docs {
        let l = index[label];
        for h in f.iter().filter(|h| kept.contains(h)) {
            *counts.entry(*h).or_default().entry(l).or_default() += 1;
            totals[l as usize] += 1;
        }
    }
    let v = kept.len() as f64;
    let alpha = f64::from(options.alpha);
    let label_parts: Vec<(String, f32)> = labels
        .iter()
        .zip(&totals)
        .map(|(l, &n)| (l.to_string(), (alpha / (n as f64 + alpha * v)).ln() as f32))
        .collect();
    let mut features = Vec::with_capacity(counts.len());
    let mut pairs = 0;
    for (h, per) in counts {
        let p: Vec<(u16, f32)> = per
            .into_iter()
            .map(|(l, n)| (l, ((f64::from(n) + alpha) / alpha).ln() as f32))
            .collect();
        pairs += p.len();
        features.push((h, p));
    }
    let n_features = features.len();
    let parts = Parts {
        threshold,
        beta: options.beta,
        labels: label_parts,
        features,
    };
    (learned::encode(&parts), n_features, pairs)
}
