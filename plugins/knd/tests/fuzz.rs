//! The KND portal decoder on input nobody should send: random bytes, and the committed documents
//! with one part removed, replaced by random JSON, nulled, or joined by an unknown field.
//! It may refuse, never panic; and whatever the committed schema refuses, it refuses too.
//! `PROPTEST_CASES` sets the run's length (256 by default, a few seconds).

use std::path::PathBuf;
use std::sync::OnceLock;

use okno_plugin_knd::KndConnector;
use okno_sdk::json_fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;
use serde_json::Value;

/// Values the format knows, right and nearly right.
const WORDS: &[&str] = &[
    "question",
    "visit_request",
    "slot_choice",
    "answer",
    "preventive_visit",
    "2026-12-03T10:00:00+03:00",
    "2026-12-03 10:00",
    "0001.0002.0025.0098",
    "",
];

fn workspace(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn documents() -> &'static Vec<Value> {
    static DOCUMENTS: OnceLock<Vec<Value>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| json_fuzz::documents(&workspace("tests/data/knd"), 4))
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| json_fuzz::schema(&workspace("examples/formats/knd.schema.json")))
}

fn decode(bytes: Vec<u8>) -> Result<Vec<Message>, PluginError> {
    MockHost::new().run(|| KndConnector::decode(Inbound::from_bytes(bytes)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(bytes);
    }

    #[test]
    fn a_mangled_document_is_refused_whenever_the_schema_refuses_it(
        doc in 0usize..64, place in 0usize..4096, mutation in json_fuzz::mutation(WORDS)
    ) {
        let doc = json_fuzz::mangled(documents(), doc, place, mutation);
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
