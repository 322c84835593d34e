//! The decoder on input nobody should send: random bytes, and the real samples cut,
//! flipped and spliced. It may refuse, never panic (a panic inside the sandbox is a trap
//! for that message; natively, here, it fails the test). `PROPTEST_CASES` sets the run's
//! length (300 by default).

use std::path::Path;

use okno_plugin_mail::MailConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    fuzz::samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
        &["eml"],
        10,
    )
}

fn decode(bytes: Vec<u8>) {
    // Ok or a typed error: both are fine; only a panic fails.
    let _ = MockHost::new().run(|| MailConnector::decode(Inbound::from_bytes(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(4096)) {
        decode(bytes);
    }

    #[test]
    fn mangled_samples_never_panic(mangling in fuzz::mangling(16, 64)) {
        decode(mangling.of(&samples()));
    }
}
