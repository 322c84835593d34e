//! The decoder on input nobody should send: random bytes, and the committed SMEV samples
//! cut, flipped and spliced. It may refuse, never panic (a panic inside the sandbox is a
//! trap for that message; natively, here, it fails the test). `PROPTEST_CASES` sets the
//! run's length (300 by default).

use std::path::Path;

use okno_plugin_epgu::EpguConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

const MTOM_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";

/// The samples, each with the content type it comes with: SOAP as is, MTOM packages as
/// multipart.
fn samples() -> Vec<(Vec<u8>, Option<&'static str>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/smev");
    let soap = fuzz::samples(&dir, &["xml"], 1);
    let mtom = fuzz::samples(&dir, &["mtom"], 1);
    let mut out: Vec<(Vec<u8>, Option<&'static str>)> = soap
        .into_iter()
        .map(|b| (b, None))
        .chain(mtom.into_iter().map(|b| (b, Some(MTOM_TYPE))))
        .collect();
    out.sort();
    assert!(out.len() >= 20, "the samples are missing");
    out
}

fn decode(bytes: Vec<u8>, content_type: Option<&str>) {
    let mut input = Inbound::from_bytes(bytes);
    input.content_type = content_type.map(str::to_string);
    // Ok or a typed error: both are fine; only a panic fails.
    let _ = MockHost::new().run(|| EpguConnector::decode(input));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(4096), mtom in any::<bool>()) {
        decode(bytes, mtom.then_some(MTOM_TYPE));
    }

    #[test]
    fn mangled_samples_never_panic(mangling in fuzz::mangling(16, 64)) {
        let samples = samples();
        let (bytes, content_type) = mangling.pick(&samples);
        decode(mangling.apply(bytes), *content_type);
    }
}
