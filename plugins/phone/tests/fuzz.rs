//! The call record decoder on input nobody should send: random bytes, and the committed
//! call records (tests/data/phone) cut, flipped and spliced. It may refuse, never panic.

use okno_plugin_phone::PhoneConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    let dir = format!("{}/../../tests/data/phone", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the call records")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "csv" || x == "json" || x == "xml")
        })
        .map(|p| std::fs::read(p).expect("a call record"))
        .collect();
    out.sort();
    assert!(out.len() >= 8, "the call records are missing");
    out
}

fn decode(bytes: Vec<u8>) {
    let _ = MockHost::new().run(|| PhoneConnector::decode(Inbound::from_bytes(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        decode(bytes);
    }

    #[test]
    fn mangled_records_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        splice in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let samples = samples();
        let mut bytes = samples[which.index(samples.len())].clone();
        for (at, value) in flips {
            let at = at.index(bytes.len().max(1));
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        bytes.extend_from_slice(&splice);
        decode(bytes);
    }
}
