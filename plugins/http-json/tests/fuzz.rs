//! The JSON decoder on input nobody should send: random bytes and random JSON values.
//! It may refuse, never panic. `PROPTEST_CASES` sets the run's length (300 by default).

use okno_plugin_http_json::HttpJsonConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

/// The field names of the format, as keys and as values.
const FIELDS: &[&str] = &[
    "body",
    "subject",
    "channel",
    "client",
    "contacts",
    "name",
    "id",
    "received_at",
    "sent_at",
    "messages",
    "attachments",
    "metadata",
];

fn decode(bytes: Vec<u8>) {
    let _ = MockHost::new().run(|| HttpJsonConnector::decode(Inbound::from_bytes(bytes)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(2048)) {
        decode(bytes);
    }

    #[test]
    fn random_json_never_panics(value in fuzz::json_with_keys(FIELDS)) {
        decode(serde_json::to_vec(&value).unwrap());
    }
}
