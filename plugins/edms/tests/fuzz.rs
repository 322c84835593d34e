//! The decoder on input nobody should send: random bytes, and the real samples (and the
//! real packet) cut, flipped and spliced. It may refuse, never panic (a panic inside the
//! sandbox is a trap for that message; natively, here, it fails the test).
//! `PROPTEST_CASES=20000 cargo test --release -p okno-plugin-edms --test fuzz` runs longer
//! (300 cases by default).

mod common;

use common::*;
use okno_plugin_edms::EdmsConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    vec![
        sample("medo20_acknowledgment_fso.xml"),
        sample("medo27_container_passport_minvostokrazvitiya.xml"),
        sample("medo27_document_transport_minvostokrazvitiya.xml"),
        sample("medo_envelope_cp1251_minvostokrazvitiya.ltr"),
        real_packet(),
    ]
}

fn run(bytes: Vec<u8>, zip: bool) {
    let mut input = Inbound::from_bytes(bytes);
    if zip {
        input.content_type = Some("application/zip".into());
    }
    // Ok or a typed error: both are fine; only a panic fails.
    let _ = MockHost::new().run(|| EdmsConnector::decode(input));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(4096), zip in any::<bool>()) {
        run(bytes, zip);
    }

    #[test]
    fn mangled_samples_never_panic(mangling in fuzz::mangling(16, 64)) {
        run(mangling.of(&samples()), false);
    }
}
