//! The decoder on input nobody should send: random bytes, and the real samples cut,
//! flipped and spliced. It may refuse, never panic (a panic inside the sandbox is a trap
//! for that message; natively, here, it fails the test).

use okno_plugin_mail::MailConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| std::fs::read(p).expect("a sample"))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "the samples are missing");
    out
}

fn decode(bytes: Vec<u8>) {
    let host = MockHost::new();
    // Ok or a typed error: both are fine; only a panic fails.
    let _ = host.run(|| MailConnector::decode(Inbound::from_bytes(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        decode(bytes);
    }

    #[test]
    fn mangled_samples_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        splice in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let samples = samples();
        let mut bytes = samples[which.index(samples.len())].clone();
        for (at, value) in flips {
            let at = at.index(bytes.len().max(1));
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        let cut = cut.index(bytes.len() + 1);
        bytes.truncate(cut);
        bytes.extend_from_slice(&splice);
        decode(bytes);
    }
}
