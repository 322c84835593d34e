//! The call record decoder on input nobody should send: random bytes, and the committed
//! call records (tests/data/phone) cut, flipped and spliced. It may refuse, never panic.
//! `PROPTEST_CASES` sets the run's length (200 by default).

use std::path::Path;

use okno_plugin_phone::PhoneConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    fuzz::samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/phone"),
        &["csv", "json", "xml"],
        8,
    )
}

fn decode(bytes: Vec<u8>) {
    let _ = MockHost::new().run(|| PhoneConnector::decode(Inbound::from_bytes(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(4096)) {
        decode(bytes);
    }

    #[test]
    fn mangled_records_never_panic(mangling in fuzz::mangling(16, 64)) {
        decode(mangling.of(&samples()));
    }
}
