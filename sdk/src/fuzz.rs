//! Fuzzing a decoder natively (feature `fuzz`, not on wasm32), for plugins'
//! `tests/fuzz.rs`: the committed samples cut, flipped and spliced, random bytes, and
//! random JSON whose keys are mostly the format's own. A decoder may refuse such input,
//! never panic: a panic inside the sandbox is a trap for that message; natively, in the
//! test, it fails the test.
//!
//! It lives in the SDK, beside [`crate::testing::MockHost`] that runs the decoder and
//! [`crate::json_fuzz`] (feature `json-fuzz`, built on this one), because every plugin's
//! tests already depend on the SDK; the feature keeps proptest out of plugin builds.

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// Cases a property runs: `PROPTEST_CASES` when set (a longer run), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The files of `dir` whose extension is one of `extensions`, in name order; at least
/// `min` of them, so that a missing or moved folder fails the test instead of fuzzing
/// nothing.
pub fn samples(dir: &Path, extensions: &[&str], min: usize) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading the samples in {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| extensions.contains(&x))
        })
        .collect();
    paths.sort();
    assert!(
        paths.len() >= min,
        "{} holds {} samples ({}), not the {min} expected",
        dir.display(),
        paths.len(),
        extensions.join(", ")
    );
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())))
        .collect()
}

/// Random bytes, fewer than `max_len`.
pub fn bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max_len)
}

/// One way to spoil a sample: which sample, bytes overwritten, where it is cut, and
/// random bytes put after the cut.
#[derive(Clone, Debug)]
pub struct Mangling {
    which: Index,
    flips: Vec<(Index, u8)>,
    cut: Index,
    splice: Vec<u8>,
}

/// Manglings with fewer than `max_flips` bytes overwritten and fewer than `max_splice`
/// bytes spliced in.
pub fn mangling(max_flips: usize, max_splice: usize) -> impl Strategy<Value = Mangling> {
    (
        any::<Index>(),
        proptest::collection::vec((any::<Index>(), any::<u8>()), 0..max_flips),
        any::<Index>(),
        proptest::collection::vec(any::<u8>(), 0..max_splice),
    )
        .prop_map(|(which, flips, cut, splice)| Mangling {
            which,
            flips,
            cut,
            splice,
        })
}

impl Mangling {
    /// The sample of `samples` this mangling spoils (with what goes with it, e.g. its
    /// content type).
    pub fn pick<'a, T>(&self, samples: &'a [T]) -> &'a T {
        assert!(!samples.is_empty(), "no samples to mangle");
        &samples[self.which.index(samples.len())]
    }

    /// `sample` with the flips, cut after the flips, and the splice after the cut.
    pub fn apply(&self, sample: &[u8]) -> Vec<u8> {
        let mut bytes = sample.to_vec();
        if !bytes.is_empty() {
            for (at, value) in &self.flips {
                let at = at.index(bytes.len());
                bytes[at] = *value;
            }
        }
        bytes.truncate(self.cut.index(bytes.len() + 1));
        bytes.extend_from_slice(&self.splice);
        bytes
    }

    /// The picked sample of `samples`, mangled.
    pub fn of(&self, samples: &[Vec<u8>]) -> Vec<u8> {
        self.apply(self.pick::<Vec<u8>>(samples))
    }
}

/// Random JSON: null, booleans, integers, floats, strings (now and then one of `keys`),
/// and arrays and objects nested four deep, their keys mostly from `keys` (the format's
/// field names) and otherwise short random names.
pub fn json_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        proptest::sample::select(keys).prop_map(|k| Value::String(k.into())),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        let key = prop_oneof![
            3 => proptest::sample::select(keys).prop_map(String::from),
            1 => "[a-z_]{0,12}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
