//! The VK and Telegram decoder on input nobody should send: random bytes, random JSON,
//! and the committed samples (tests/data/social) cut, flipped and spliced, with and
//! without the secret. It may refuse, never panic. `PROPTEST_CASES` sets the run's length
//! (300 by default).

use std::path::Path;

use okno_plugin_social::SocialConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

/// The field names of VK's and Telegram's updates.
const FIELDS: &[&str] = &[
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
];

fn samples() -> Vec<Vec<u8>> {
    fuzz::samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/social"),
        &["json"],
        8,
    )
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

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(2048), webhook in any::<bool>()) {
        decode(bytes, webhook);
    }

    #[test]
    fn random_json_never_panics(value in fuzz::json_with_keys(FIELDS), webhook in any::<bool>()) {
        decode(value.to_string().into_bytes(), webhook);
    }

    #[test]
    fn mangled_samples_never_panic(mangling in fuzz::mangling(8, 64), webhook in any::<bool>()) {
        decode(mangling.of(&samples()), webhook);
    }
}
