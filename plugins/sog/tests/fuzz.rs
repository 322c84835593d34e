//! The card decoder on input nobody should send: random bytes, and the committed cards
//! with one part removed, replaced by random JSON, nulled, or joined by an unknown field.
//! It may refuse, never panic; and whatever the committed schema refuses, it refuses too.
//! `PROPTEST_CASES` sets the run's length (256 by default, a few seconds).

use std::path::Path;
use std::sync::OnceLock;

use okno_plugin_sog::SogConnector;
use okno_sdk::fuzz;
use okno_sdk::json_fuzz::{self, cases, Corpus};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

/// Values the format knows, right and nearly right.
const WORDS: &[&str] = &[
    "in_work",
    "forwarded",
    "answered",
    "citizen",
    "2026-02-30",
    "2026-12-01",
    "0001.0002.0025.0098",
    "9999.9999.9999.9999",
    "",
];

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        Corpus::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            "tests/data/sog",
            4,
            "examples/formats/sog.schema.json",
        )
    })
}

fn decode(bytes: Vec<u8>) -> Result<Vec<Message>, PluginError> {
    MockHost::new().run(|| SogConnector::decode(Inbound::from_bytes(bytes)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(2048)) {
        let _ = decode(bytes);
    }

    #[test]
    fn a_mangled_card_is_refused_whenever_the_schema_refuses_it(
        doc in 0usize..64, place in 0usize..4096, mutation in json_fuzz::mutation(WORDS)
    ) {
        let doc = json_fuzz::mangled(&corpus().documents, doc, place, mutation);
        let result = decode(serde_json::to_vec(&doc).unwrap());
        json_fuzz::check_refusal(&doc, &corpus().schema, &result, &[ErrorKind::InvalidInput])?;
    }
}
