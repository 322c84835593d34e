//! The VK and Telegram decoder on input nobody should send: random bytes, random JSON,
//! and the committed samples (tests/data/social) cut and flipped, with and without the
//! secret. It may refuse, never panic.

use okno_plugin_social::SocialConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn samples() -> Vec<Vec<u8>> {
    let dir = format!("{}/../../tests/data/social", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| std::fs::read(p).expect("a sample"))
        .collect();
    out.sort();
    assert!(out.len() >= 8, "the samples are missing");
    out
}

fn decode(bytes: Vec<u8>, webhook: bool) {
    let mut input = Inbound::from_bytes(bytes);
    if webhook {
        input.metadata.push(("http.route".into(), "webhook".into()));
        input.metadata.push((
            "http.header.x-telegram-bot-api-secret-token".into(),
            "t0ken".into(),
        ));
    }
    let host = MockHost::new()
        .setting("vk.secret", "s3cret")
        .setting("vk.confirmation", "abc")
        .setting("telegram.secret-token", "t0ken")
        .setting("telegram.bot-username", "minsoc_bot")
        .setting("telegram.channel-ids", "-1002236736395");
    let _ = host.run(|| SocialConnector::decode(input));
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "type",
                    "object",
                    "group_id",
                    "secret",
                    "message",
                    "from_id",
                    "text",
                    "id",
                    "update_id",
                    "chat",
                    "from",
                    "message_id",
                    "reply_to_message",
                    "sender_chat",
                    "callback_query",
                    "channel_post",
                    "edited_message",
                    "post_id",
                    "date",
                ])
                .prop_map(String::from),
                inner,
                0..6,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), webhook in any::<bool>()) {
        decode(bytes, webhook);
    }

    #[test]
    fn random_json_never_panics(value in json_value(), webhook in any::<bool>()) {
        decode(value.to_string().into_bytes(), webhook);
    }

    #[test]
    fn mangled_samples_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        webhook in any::<bool>(),
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
        decode(bytes, webhook);
    }
}
