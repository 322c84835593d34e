//! The JSON decoder on input nobody should send: random bytes and random JSON values.
//! It may refuse, never panic.

use okno_plugin_http_json::HttpJsonConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;
use serde_json::Value;

fn decode(bytes: Vec<u8>) {
    let host = MockHost::new();
    let _ = host.run(|| HttpJsonConnector::decode(Inbound::from_bytes(bytes)));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("body"),
            Just("subject"),
            Just("channel"),
            Just("client"),
            Just("id"),
            Just("received_at"),
            Just("sent_at"),
            Just("attachments"),
            Just("metadata"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("body".to_string()),
                    Just("subject".to_string()),
                    Just("channel".to_string()),
                    Just("client".to_string()),
                    Just("contacts".to_string()),
                    Just("name".to_string()),
                    Just("sent_at".to_string()),
                    Just("messages".to_string()),
                    Just("attachments".to_string()),
                    Just("metadata".to_string()),
                    ".{0,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        decode(bytes);
    }

    #[test]
    fn random_json_never_panics(value in json_value()) {
        decode(serde_json::to_vec(&value).unwrap());
    }
}
