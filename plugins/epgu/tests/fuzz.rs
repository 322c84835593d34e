//! The decoder on input nobody should send: random bytes, and the committed SMEV samples
//! cut, flipped and spliced. It may refuse, never panic (a panic inside the sandbox is a
//! trap for that message; natively, here, it fails the test).

use okno_plugin_epgu::EpguConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

const MTOM_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:6b62cda3-2b0c-4a4f-9b1e-0a4b4c1e2f00\"; start=\"<root.message@cxf.apache.org>\"";

fn samples() -> Vec<(Vec<u8>, Option<&'static str>)> {
    let dir = format!("{}/../../tests/data/smev", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(Vec<u8>, Option<&'static str>)> = std::fs::read_dir(&dir)
        .expect("the samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "mtom"))
        .map(|p| {
            let mtom = p.extension().is_some_and(|x| x == "mtom");
            (
                std::fs::read(p).expect("a sample"),
                mtom.then_some(MTOM_TYPE),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20, "the samples are missing");
    out
}

fn decode(bytes: Vec<u8>, content_type: Option<&str>) {
    let host = MockHost::new();
    let mut input = Inbound::from_bytes(bytes);
    input.content_type = content_type.map(str::to_string);
    // Ok or a typed error: both are fine; only a panic fails.
    let _ = host.run(|| EpguConnector::decode(input));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), mtom in any::<bool>()) {
        decode(bytes, mtom.then_some(MTOM_TYPE));
    }

    #[test]
    fn mangled_samples_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        splice in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let samples = samples();
        let (bytes, content_type) = &samples[which.index(samples.len())];
        let mut bytes = bytes.clone();
        for (at, value) in flips {
            let at = at.index(bytes.len().max(1));
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        let cut = cut.index(bytes.len() + 1);
        bytes.truncate(cut);
        bytes.extend_from_slice(&splice);
        decode(bytes, *content_type);
    }
}
