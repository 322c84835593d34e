//! # okno-plugin-kind: the form of an appeal under 59-FZ
//!
//! Tells a proposal, a statement (заявление), a complaint, an inquiry and thanks apart
//! by weighted cues (`прошу разъяснить` → inquiry, `предлагаю` → proposal, `нарушены
//! права` → complaint), and notices when the text refers to an earlier appeal
//! (`повторно`, `ранее обращался`, `ответ на обращение № … не получен`). The reason given
//! is the cue that decided, quoted as the author wrote it.
//!
//! It also tags the вид of the federal typology (`kind:corruption-report`, see
//! [`federal`]) and the client segments the author names (`segment:senior`, see
//! [`segments`]): the WIT kind keeps the 59-FZ forms, and tags are what a classifier can add.

mod cues;
pub mod federal;
mod segments;

use cues::{Cue, CUES, REPEAT};
use okno_sdk::prelude::*;
use rust_stemmers::{Algorithm, Stemmer};

/// Below this total no kind is claimed: the appeal is `other`.
const MIN_SCORE: f32 = 1.0;
/// How many words may stand between two words of one cue.
const MAX_GAP: usize = 2;
/// A question mark is weak evidence of an inquiry.
const QUESTION_WEIGHT: f32 = 1.0;

struct Word<'a> {
    lower: String,
    stem: String,
    original: &'a str,
    sentence: usize,
    /// [`initial`] of `lower`.
    initial: u64,
}

/// A bit for the [`okno_sdk::text::initial_class`] of a word. A pattern matches only
/// words that begin as one of its alternatives does, so these bits are compared first.
fn initial(word: &str) -> u64 {
    okno_sdk::text::initial_class(word).map_or(0, |class| 1 << class)
}

fn words<'a>(text: &'a str) -> (Vec<Word<'a>>, bool) {
    let stemmer = Stemmer::create(Algorithm::Russian);
    let mut out = Vec::new();
    let mut sentence = 0;
    let mut question = false;
    let mut start: Option<usize> = None;
    let push = |out: &mut Vec<Word<'a>>, from: usize, to: usize, sentence: usize| {
        let original = &text[from..to];
        let lower = okno_sdk::text::to_lowercase_folded(original);
        let stem = stemmer.stem(&lower).into_owned();
        out.push(Word {
            initial: initial(&lower),
            lower,
            stem,
            original,
            sentence,
        });
    };
    for (i, c) in text.char_indices() {
        let in_word = okno_sdk::text::is_alphanumeric(c) || (c == '-' && start.is_some());
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                push(&mut out, s, i, sentence);
                start = None;
            }
            _ => {}
        }
        match c {
            '.' | '!' | '?' | ';' | '\n' => sentence += 1,
            '№' => push(&mut out, i, i + c.len_utf8(), sentence),
            _ => {}
        }
        question |= c == '?';
    }
    if let Some(s) = start {
        push(&mut out, s, text.len(), sentence);
    }
    (out, question)
}

/// One word pattern of a cue, split into its alternatives once per call: the cues are
/// matched against every word of the text, so splitting and measuring the pattern
/// strings there would repeat the same work thousands of times.
struct Pattern {
    /// Alternatives of four letters or more: a word starting with one matches.
    prefixes: Vec<&'static str>,
    /// Shorter alternatives: a word whose stem or whole lower-case form is one matches.
    exact: Vec<&'static str>,
    /// The [`initial`]s of the alternatives. A word's stem begins as the word does.
    initials: u64,
}

impl Pattern {
    fn new(pattern: &'static str) -> Self {
        let (prefixes, exact) = pattern.split('|').partition(|alt| alt.chars().count() >= 4);
        let initials = pattern.split('|').fold(0, |bits, alt| bits | initial(alt));
        Pattern {
            prefixes,
            exact,
            initials,
        }
    }

    fn matches(&self, word: &Word) -> bool {
        if self.initials & word.initial == 0 {
            return false;
        }
        self.prefixes.iter().any(|p| word.lower.starts_with(p))
            || self
                .exact
                .iter()
                .any(|e| word.stem == *e || word.lower == *e)
    }
}

fn compile(patterns: &[&'static str]) -> Vec<Pattern> {
    patterns.iter().copied().map(Pattern::new).collect()
}

/// The first place the pattern sequence occurs: indices of the first and last word.
fn find(patterns: &[Pattern], words: &[Word]) -> Option<(usize, usize)> {
    'start: for first in 0..words.len() {
        if !patterns[0].matches(&words[first]) {
            continue;
        }
        let mut at = first;
        for pattern in &patterns[1..] {
            let next = (at + 1..=at + 1 + MAX_GAP)
                .take_while(|j| *j < words.len() && words[*j].sentence == words[first].sentence)
                .find(|j| pattern.matches(&words[*j]));
            match next {
                Some(j) => at = j,
                None => continue 'start,
            }
        }
        return Some((first, at));
    }
    None
}

fn quote(words: &[Word], from: usize, to: usize) -> String {
    let inner: Vec<&str> = words[from..=to].iter().map(|w| w.original).collect();
    format!("«{}»", okno_sdk::text::to_lowercase(&inner.join(" ")))
}

const KINDS: [AppealKind; 6] = [
    AppealKind::Complaint,
    AppealKind::Statement,
    AppealKind::Proposal,
    AppealKind::Inquiry,
    AppealKind::Gratitude,
    AppealKind::Other,
];

/// Everything the plugin reads from one text.
pub struct Reading {
    pub assignment: KindAssignment,
    /// The вид of the federal typology and the cue that decided it.
    pub federal: (federal::FederalKind, String),
    /// Client segments named in the text: `senior`, `disabled`, `large-family`,
    /// `entrepreneur`, `self-employed`, `representative`, `organisation`.
    pub segments: Vec<&'static str>,
}

/// Reads the form, the federal вид and the client segments of an appeal.
pub fn read(text: &str) -> Reading {
    let (words, question) = words(text);
    let assignment = assign_words(&words, question);
    let federal = federal::federal(&words, assignment.kind);
    Reading {
        federal,
        segments: segments::segments(&words),
        assignment,
    }
}

/// Reads the kind of an appeal and whether it repeats an earlier one.
pub fn assign(text: &str) -> KindAssignment {
    let (words, question) = words(text);
    assign_words(&words, question)
}

fn assign_words(words: &[Word], question: bool) -> KindAssignment {
    // Per kind (in KINDS order): total weight and the strongest cue with its quote.
    let mut sums = [0.0_f32; 6];
    let mut best: [Option<(f32, String)>; 6] = Default::default();
    let mut add = |k: usize, weight: f32, cue: String| {
        sums[k] += weight;
        if best[k].as_ref().is_none_or(|(w, _)| weight > *w) {
            best[k] = Some((weight, cue));
        }
    };
    for Cue {
        kind,
        words: patterns,
        weight,
    } in CUES
    {
        let Some((from, to)) = find(&compile(patterns), words) else {
            continue;
        };
        let k = KINDS.iter().position(|x| x == kind).unwrap_or(5);
        add(k, *weight, quote(words, from, to));
    }
    if question {
        let inquiry = KINDS
            .iter()
            .position(|k| *k == AppealKind::Inquiry)
            .unwrap_or(3);
        add(inquiry, QUESTION_WEIGHT, "«?»".to_string());
    }
    // The strongest cue decides; the others only break near-ties. Summing them would let
    // overlapping cues (`прошу` inside `прошу рассмотреть`) outvote one clear cue.
    let mut totals = [0.0_f32; 6];
    for k in 0..KINDS.len() {
        if let Some((strongest, _)) = &best[k] {
            totals[k] = strongest + 0.1 * (sums[k] - strongest);
        }
    }

    // Ties go to the kind listed first in KINDS: a complaint must not be lost.
    let mut winner = 5;
    let mut top = 0.0_f32;
    for (k, total) in totals.iter().enumerate() {
        if *total >= MIN_SCORE && *total > top {
            winner = k;
            top = *total;
        }
    }
    let mut reasons = Vec::new();
    match &best[winner] {
        Some((_, cue)) if totals[winner] >= MIN_SCORE => reasons.push(cue.clone()),
        _ => {
            winner = 5;
            reasons
                .push("no cue of a proposal, statement, complaint, inquiry or thanks".to_string());
        }
    }

    let repeat_cue = REPEAT.iter().find_map(|p| find(&compile(p), words));
    if let Some((from, to)) = repeat_cue {
        reasons.push(format!("repeat: {}", quote(words, from, to)));
    }
    KindAssignment {
        kind: KINDS[winner],
        repeat: repeat_cue.is_some(),
        reasons,
    }
}

/// Adds `tag` unless the classification has it already.
fn tag(current: &mut Classification, tag: String) {
    if !current.tags.contains(&tag) {
        current.tags.push(tag);
    }
}

/// The classifier: sets `classification.kind`, and the tags `repeat` for a repeated
/// appeal, `kind:<federal вид>` and `segment:<name>` for each segment named.
pub struct Kind;

impl Classifier for Kind {
    fn classify(
        message: Message,
        mut current: Classification,
    ) -> Result<Classification, PluginError> {
        let text = match &message.subject {
            Some(subject) if !subject.trim().is_empty() => format!("{subject}.\n{}", message.body),
            _ => message.body.clone(),
        };
        let reading = read(&text);
        let mut assignment = reading.assignment;
        let (federal, cue) = reading.federal;
        assignment.reasons.push(format!(
            "вид {} «{}»: {cue}",
            federal.number(),
            federal.name()
        ));
        // A connector that knows the earlier appeal (SOG, EPGU) says so in the thread.
        if !assignment.repeat {
            if let Some(earlier) = &message.thread.repeat_of {
                assignment.repeat = true;
                assignment
                    .reasons
                    .push(format!("repeat: the source links it to {earlier}"));
            }
        }
        if assignment.repeat {
            tag(&mut current, "repeat".to_string());
        }
        tag(&mut current, format!("kind:{}", federal.label()));
        for segment in reading.segments {
            tag(&mut current, format!("segment:{segment}"));
        }
        current.kind = Some(assignment);
        Ok(current)
    }
}

okno_sdk::export_classifier!(Kind);

#[cfg(test)]
mod tests;
