//! The KND portal decoder on input nobody should send: random bytes, and the committed documents
//! with one part removed, replaced by random JSON, nulled, or joined by an unknown field.
//! It may refuse, never panic; and whatever the committed schema refuses, it refuses too.
//! `PROPTEST_CASES` sets the run's length (256 by default, a few seconds).

use std::sync::OnceLock;

use okno_plugin_knd::KndConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn dir(relative: &str) -> String {
    format!("{}/../../{relative}", env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> &'static Vec<Value> {
    static DOCUMENTS: OnceLock<Vec<Value>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let mut out: Vec<(String, Value)> = std::fs::read_dir(dir("tests/data/knd"))
            .expect("the documents")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                (p.display().to_string(), value)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(out.len() >= 4, "the documents are missing");
        out.into_iter().map(|(_, v)| v).collect()
    })
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = std::fs::read(dir("examples/formats/knd.schema.json")).unwrap();
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&serde_json::from_slice(&text).unwrap())
            .unwrap()
    })
}

fn decode(bytes: Vec<u8>) -> Result<Vec<Message>, PluginError> {
    MockHost::new().run(|| KndConnector::decode(Inbound::from_bytes(bytes)))
}

/// Every place in a document, as a path of keys and indexes.
fn places(value: &Value, at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut next = at.clone();
                next.push(Step::Key(k.clone()));
                out.push(next.clone());
                places(v, next, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut next = at.clone();
                next.push(Step::Index(i));
                out.push(next.clone());
                places(v, next, out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug)]
enum Mutation {
    Remove,
    Replace(Value),
    AddUnknownField,
}

fn mutate(doc: &mut Value, path: &[Step], mutation: Mutation) {
    let (last, parent_path) = path.split_last().expect("a non-empty path");
    let mut parent = doc;
    for step in parent_path {
        parent = match step {
            Step::Key(k) => &mut parent[k.as_str()],
            Step::Index(i) => &mut parent[*i],
        };
    }
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
                obj.insert("unknown_field".into(), Value::Bool(true));
            } else if let Some(obj) = parent.as_object_mut() {
                obj.insert("unknown_field".into(), Value::Bool(true));
            }
        }
        (Mutation::AddUnknownField, Step::Index(_)) => {
            if let Some(obj) = parent.as_object_mut() {
                obj.insert("unknown_field".into(), Value::Bool(true));
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("question"),
            Just("visit_request"),
            Just("slot_choice"),
            Just("answer"),
            Just("preventive_visit"),
            Just("2026-12-03T10:00:00+03:00"),
            Just("2026-12-03 10:00"),
            Just("0001.0002.0025.0098"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        json_value().prop_map(Mutation::Replace),
        Just(Mutation::Replace(Value::Null)),
        Just(Mutation::AddUnknownField),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(bytes);
    }

    #[test]
    fn a_mangled_document_is_refused_whenever_the_schema_refuses_it(
        doc_index in 0usize..64, place in 0usize..4096, mutation in mutation()
    ) {
        let mut doc = documents()[doc_index % documents().len()].clone();
        let mut all = Vec::new();
        places(&doc, Vec::new(), &mut all);
        let path = all[place % all.len()].clone();
        mutate(&mut doc, &path, mutation);
        let result = decode(serde_json::to_vec(&doc).unwrap());
        if !schema().is_valid(&doc) {
            prop_assert!(result.is_err(), "the schema refuses {doc}, the plugin took it");
        }
        if let Err(e) = result {
            // A reply to the portal, well formed, is `unsupported`: the hub does not take it in.
            prop_assert!(matches!(e.kind, ErrorKind::InvalidInput | ErrorKind::Unsupported));
            prop_assert!(e.message.starts_with('$'), "no JSON path in {}", e.message);
        }
    }
}
