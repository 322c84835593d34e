//! The learned model: a multinomial naive Bayes over stems and stem bigrams, trained on
//! citizens' own wording (regional feedback portals whose themes are mapped to official
//! codes, `data/portal_themes.csv`) by `okno train topics`, and compiled into the plugin
//! from `data/model.bin`.
//!
//! The classifier's wording (the table) knows every code but few of the words citizens
//! use; the portals' texts know those words but only some hundred codes. The model's
//! posterior therefore adds to the table's score ([`crate::model`]) and never replaces
//! it: it has a class `none` (portal themes with no code, and the classifier's wording
//! of every code without training data), so an appeal about a matter the portals never
//! see gives its mass to `none` and leaves the table to decide.
//!
//! ## The file (`data/model.bin`), little-endian, written by [`encode`]
//! ```text
//! magic "OKNB", version u32
//! threshold f32   low-confidence threshold chosen on the training sources
//! beta f32        sharpness of the posterior (per known feature)
//! scale f32       weight of one quantisation step
//! labels u32, features u32, pairs u32
//! labels × [u8; 20]   code (19 characters) or "none", zero-padded
//! labels × f32        log-probability of a feature the class never saw
//! labels × u32        the label's entry in the classifier table (u32::MAX for none)
//! features × (hash u32, first pair u32), sorted by hash
//! pairs × (label u8, weight u8): log P(f|c) above the class's unseen value, quantised
//!
//! One byte each keeps the model small: its data, with the table's, must fit the 1 MiB
//! beside the stack in the plugin's initial memory (`hub/src/cli/build.rs`).
//! ```
//! The same bytes always come from the same data: every map is ordered and every sum is
//! taken in a fixed order.

use crate::query::Query;
use crate::table;
use crate::text::{term_hash, Tokenizer};

const MAGIC: &[u8; 4] = b"OKNB";
const VERSION: u32 = 2;
/// Most labels: a pair names its label in one byte.
pub const MAX_LABELS: usize = 256;
const HEADER: usize = 4 + 4 + 4 * 3 + 4 * 3;
const LABEL_BYTES: usize = 20;
/// The label of texts that belong to no code the model scores.
pub const NONE: &str = "none";

/// The model as compiled in; empty (no labels) when the plugin was built without one.
static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.bin"));

/// The features of a text: its stems and the bigrams of neighbouring stems (stop words
/// dropped), each once, as hashes sorted. A bigram keeps what a bag of stems loses:
/// `нет свет` is an outage, `свет` alone may be street lighting. The stems the query
/// reads a word as are added too (a typo's word, a known prefix, a synonym's expansion:
/// `банер` counts as `баннер`), so that the model and the table read a text alike.
pub fn features(tokenizer: &Tokenizer, text: &str, query: &Query) -> Vec<u32> {
    let stems: Vec<String> = tokenizer.tokens(text).into_iter().map(|t| t.stem).collect();
    let mut out: Vec<u32> = stems.iter().map(|s| term_hash(s)).collect();
    for pair in stems.windows(2) {
        out.push(bigram_hash(&pair[0], &pair[1]));
    }
    out.extend(query.terms.iter().map(|t| t.hash));
    out.sort_unstable();
    out.dedup();
    out
}

/// [`features`] of a text not yet read as a query.
pub fn text_features(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    features(tokenizer, text, &Query::new(tokenizer, text))
}

fn bigram_hash(a: &str, b: &str) -> u32 {
    let mut joined = String::with_capacity(a.len() + b.len() + 1);
    joined.push_str(a);
    joined.push(' ');
    joined.push_str(b);
    term_hash(&joined)
}

/// A read-only view of a model file; parsing checks the sizes once, lookups read in place.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    bytes: &'a [u8],
    pub threshold: f32,
    pub beta: f32,
    scale: f32,
    labels: usize,
    features: usize,
    pairs: usize,
}

/// What the model says of a text: the probability of each label, label by label.
pub struct Posterior {
    pub probabilities: Vec<f32>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_bits(u32_at(b, at))
}

impl Model<'static> {
    /// The compiled-in model (build.rs checked it).
    pub fn embedded() -> Model<'static> {
        Model::parse(EMBEDDED).unwrap_or_else(|_| Model::empty())
    }
}

impl<'a> Model<'a> {
    /// A model with no labels: the table alone decides.
    pub fn empty() -> Model<'a> {
        Model {
            bytes: &[],
            threshold: 0.5,
            beta: 1.0,
            scale: 0.0,
            labels: 0,
            features: 0,
            pairs: 0,
        }
    }

    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, String> {
        if bytes.is_empty() {
            return Ok(Model::empty());
        }
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return Err("not a topics model (no OKNB header)".into());
        }
        let version = u32_at(bytes, 4);
        if version != VERSION {
            return Err(format!("model version {version}, expected {VERSION}"));
        }
        let labels = u32_at(bytes, 20) as usize;
        let features = u32_at(bytes, 24) as usize;
        let pairs = u32_at(bytes, 28) as usize;
        let expected = HEADER + labels * (LABEL_BYTES + 8) + features * 8 + pairs * 2;
        if bytes.len() != expected {
            return Err(format!(
                "model is {} bytes, its header says {expected}",
                bytes.len()
            ));
        }
        if labels > MAX_LABELS {
            return Err(format!("{labels} labels, at most {MAX_LABELS}"));
        }
        Ok(Model {
            bytes,
            threshold: f32_at(bytes, 8),
            beta: f32_at(bytes, 12),
            scale: f32_at(bytes, 16),
            labels,
            features,
            pairs,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.labels == 0
    }

    pub fn labels(&self) -> usize {
        self.labels
    }

    /// The label's code, or [`NONE`].
    pub fn label(&self, i: usize) -> &'a str {
        let at = HEADER + i * LABEL_BYTES;
        let raw = &self.bytes[at..at + LABEL_BYTES];
        let len = raw.iter().position(|&b| b == 0).unwrap_or(LABEL_BYTES);
        std::str::from_utf8(&raw[..len]).unwrap_or(NONE)
    }

    fn unseen(&self, i: usize) -> f32 {
        f32_at(self.bytes, HEADER + self.labels * LABEL_BYTES + i * 4)
    }

    fn features_at(&self) -> usize {
        HEADER + self.labels * (LABEL_BYTES + 8)
    }

    fn pairs_at(&self) -> usize {
        self.features_at() + self.features * 8
    }

    /// The pairs of a feature, as a range of pair indices.
    fn lookup(&self, hash: u32) -> Option<(usize, usize)> {
        let base = self.features_at();
        let (mut lo, mut hi) = (0usize, self.features);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let h = u32_at(self.bytes, base + mid * 8);
            if h < hash {
                lo = mid + 1;
            } else if h > hash {
                hi = mid;
            } else {
                let start = u32_at(self.bytes, base + mid * 8 + 4) as usize;
                let end = if mid + 1 < self.features {
                    u32_at(self.bytes, base + (mid + 1) * 8 + 4) as usize
                } else {
                    self.pairs
                };
                return Some((start, end));
            }
        }
        None
    }

    /// The posterior over labels for a text's [`features`], under a uniform prior (the
    /// portals' mix of themes is not a ministry's). `None` when the model is empty or
    /// knows none of the features.
    pub fn posterior(&self, features: &[u32]) -> Option<Posterior> {
        if self.is_empty() {
            return None;
        }
        let mut log = vec![0.0f32; self.labels];
        let mut known = 0usize;
        let pairs = self.pairs_at();
        for &f in features {
            let Some((start, end)) = self.lookup(f) else {
                continue;
            };
            known += 1;
            for p in start..end {
                let label = self.bytes[pairs + p * 2] as usize;
                let q = self.bytes[pairs + p * 2 + 1];
                log[label] += f32::from(q) * self.scale;
            }
        }
        if known == 0 {
            return None;
        }
        for (i, l) in log.iter_mut().enumerate() {
            *l += known as f32 * self.unseen(i);
        }
        // Naive Bayes is overconfident in proportion to the words it multiplies; the
        // log-likelihood per known feature, sharpened by beta, gives probabilities that
        // mean about the same for a line and for a page.
        let max = log.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let scale = self.beta / known as f32;
        let mut total = 0.0f32;
        for l in &mut log {
            *l = ((*l - max) * scale).exp();
            total += *l;
        }
        for l in &mut log {
            *l /= total;
        }
        Some(Posterior { probabilities: log })
    }

    /// The label's classifier entry (`None` for [`NONE`]), as recorded when training;
    /// [`Model::check`] makes sure it is the label's code.
    pub fn entry(&self, i: usize) -> Option<usize> {
        let e = u32_at(self.bytes, HEADER + self.labels * (LABEL_BYTES + 4) + i * 4);
        (e != u32::MAX && (e as usize) < table::ENTRIES.len()).then_some(e as usize)
    }

    /// Every label names a classifier entry at its recorded index, or is [`NONE`].
    pub fn check(&self) -> Result<(), String> {
        for i in 0..self.labels {
            let code = self.label(i);
            match (code, self.entry(i)) {
                (NONE, None) => {}
                (_, Some(e)) if table::entry(e).code() == code => {}
                _ => return Err(format!("label {i} ({code}) is not that classifier entry")),
            }
        }
        Ok(())
    }
}

/// What [`encode`] writes: labels with their unseen log-probability, and per feature the
/// labels that saw it with the log-probability above unseen.
pub struct Parts {
    pub threshold: f32,
    pub beta: f32,
    pub labels: Vec<(String, f32)>,
    /// Sorted by hash; each feature's pairs sorted by label.
    pub features: Vec<(u32, Vec<(u16, f32)>)>,
}

/// The model file's bytes. Weights are quantised to 8 bits of the largest weight.
///
/// Panics with more than [`MAX_LABELS`] labels.
pub fn encode(parts: &Parts) -> Vec<u8> {
    let max = parts
        .features
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, w)| *w))
        .fold(0.0f32, f32::max);
    assert!(
        parts.labels.len() <= MAX_LABELS,
        "{} labels, at most {MAX_LABELS}",
        parts.labels.len()
    );
    let scale = if max > 0.0 { max / 255.0 } else { 1.0 };
    let pairs: usize = parts.features.iter().map(|(_, p)| p.len()).sum();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&parts.threshold.to_le_bytes());
    out.extend_from_slice(&parts.beta.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend_from_slice(&(parts.labels.len() as u32).to_le_bytes());
    out.extend_from_slice(&(parts.features.len() as u32).to_le_bytes());
    out.extend_from_slice(&(pairs as u32).to_le_bytes());
    for (code, _) in &parts.labels {
        let mut field = [0u8; LABEL_BYTES];
        let b = code.as_bytes();
        field[..b.len().min(LABEL_BYTES)].copy_from_slice(&b[..b.len().min(LABEL_BYTES)]);
        out.extend_from_slice(&field);
    }
    for (_, unseen) in &parts.labels {
        out.extend_from_slice(&unseen.to_le_bytes());
    }
    for (code, _) in &parts.labels {
        let entry = match code.as_str() {
            NONE => u32::MAX,
            code => table::find(code).map_or(u32::MAX, |e| e as u32),
        };
        out.extend_from_slice(&entry.to_le_bytes());
    }
    let mut at = 0u32;
    for (hash, p) in &parts.features {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        at += p.len() as u32;
    }
    for (_, p) in &parts.features {
        for (label, w) in p {
            out.push(*label as u8);
            out.push((w / scale).round().clamp(0.0, 255.0) as u8);
        }
    }
    out
}
