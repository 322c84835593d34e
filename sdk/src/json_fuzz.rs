//! Fuzzing a JSON decoder against its JSON Schema (feature `json-fuzz`, native only): the
//! committed documents with one part removed, replaced by random JSON, nulled, or joined by
//! an unknown field. A decoder may refuse such a document, never panic, and must refuse
//! whatever the schema refuses. Used by the SOG and KND connectors' `tests/fuzz.rs`.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

use crate::types::{ErrorKind, PluginError};

/// Cases a property runs: `PROPTEST_CASES`, else 256 (a few seconds).
pub fn cases() -> u32 {
    crate::fuzz::cases(256)
}

/// The `.json` files of `dir`, in name order; at least `min` of them.
pub fn documents(dir: &Path, min: usize) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let value = serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= min,
        "the documents in {} are missing",
        dir.display()
    );
    out.into_iter().map(|(_, v)| v).collect()
}

/// The JSON Schema (2020-12) in `path`, formats checked.
pub fn schema(path: &Path) -> jsonschema::Validator {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&serde_json::from_slice(&text).unwrap())
        .unwrap()
}

/// A format's committed documents and its schema, as a fuzz test loads them once.
pub struct Corpus {
    pub documents: Vec<Value>,
    pub schema: jsonschema::Validator,
}

impl Corpus {
    /// The `.json` files of `workspace/documents` (at least `min`) and the schema in
    /// `workspace/schema`.
    pub fn load(workspace: &Path, documents: &str, min: usize, schema: &str) -> Corpus {
        Corpus {
            documents: self::documents(&workspace.join(documents), min),
            schema: self::schema(&workspace.join(schema)),
        }
    }
}

/// One step of a path into a document.
#[derive(Clone, Debug)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// What is done at one place of a document.
#[derive(Clone, Debug)]
pub enum Mutation {
    Remove,
    Replace(Value),
    AddUnknownField,
}

/// Every place in a document, as a path of keys and indexes.
pub fn places(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
        let mut visit = |step: Step, v: &Value| {
            let mut next = at.clone();
            next.push(step);
            out.push(next.clone());
            walk(v, next, out);
        };
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| visit(Step::Key(k.clone()), v)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| visit(Step::Index(i), v)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, Vec::new(), &mut out);
    out
}

/// Applies `mutation` at `path` of `doc`.
pub fn mutate(doc: &mut Value, path: &[Step], mutation: Mutation) {
    let (last, parent_path) = path.split_last().expect("a non-empty path");
    let mut parent = doc;
    for step in parent_path {
        parent = match step {
            Step::Key(k) => &mut parent[k.as_str()],
            Step::Index(i) => &mut parent[*i],
        };
    }
    let unknown = |obj: &mut serde_json::Map<String, Value>| {
        obj.insert("unknown_field".into(), Value::Bool(true));
    };
    match (mutation, last) {
        (Mutation::Remove, Step::Key(k)) => {
            parent.as_object_mut().unwrap().remove(k);
        }
        (Mutation::Remove, Step::Index(i)) => {
            parent.as_array_mut().unwrap().remove(*i);
        }
        (Mutation::Replace(v), Step::Key(k)) => parent[k.as_str()] = v,
        (Mutation::Replace(v), Step::Index(i)) => parent[*i] = v,
        (Mutation::AddUnknownField, Step::Key(k)) => {
            if let Some(obj) = parent[k.as_str()].as_object_mut() {
                unknown(obj);
            } else if let Some(obj) = parent.as_object_mut() {
                unknown(obj);
            }
        }
        (Mutation::AddUnknownField, Step::Index(_)) => {
            if let Some(obj) = parent.as_object_mut() {
                unknown(obj);
            }
        }
    }
}

/// Random JSON, its strings now and then one of `words` (values the format knows, right
/// and nearly right).
pub fn json_value(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        proptest::sample::select(words).prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A mutation, replacements drawn from [`json_value`] with `words`.
pub fn mutation(words: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        json_value(words).prop_map(Mutation::Replace),
        Just(Mutation::Replace(Value::Null)),
        Just(Mutation::AddUnknownField),
    ]
}

/// `docs[doc]` with `mutation` at its place number `place` (both taken modulo the count).
pub fn mangled(docs: &[Value], doc: usize, place: usize, mutation: Mutation) -> Value {
    let mut out = docs[doc % docs.len()].clone();
    let all = places(&out);
    let path = all[place % all.len()].clone();
    mutate(&mut out, &path, mutation);
    out
}

/// What a decoder's `result` on the mangled `doc` must be: a refusal whenever `schema`
/// refuses `doc`; and any refusal of one of `kinds`, its message starting with the JSON
/// path of what it refuses (`$…`).
pub fn check_refusal<T>(
    doc: &Value,
    schema: &jsonschema::Validator,
    result: &Result<T, PluginError>,
    kinds: &[ErrorKind],
) -> Result<(), TestCaseError> {
    if !schema.is_valid(doc) {
        prop_assert!(
            result.is_err(),
            "the schema refuses {doc}, the plugin took it"
        );
    }
    if let Err(e) = result {
        prop_assert!(
            kinds.contains(&e.kind),
            "{:?} is not one of {kinds:?}",
            e.kind
        );
        prop_assert!(e.message.starts_with('$'), "no JSON path in {}", e.message);
    }
    Ok(())
}
