//! The form decoder on input nobody should send: random bytes, random JSON objects of
//! the form's fields, and real forms cut and flipped. It may refuse, never panic.

use okno_plugin_site::SiteConnector;
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn decode(content_type: &str, bytes: Vec<u8>) {
    let mut input = Inbound::from_bytes(bytes);
    input.content_type = Some(content_type.into());
    let _ = MockHost::new().run(|| SiteConnector::decode(input));
}

const FORM: &str = r#"{"surname":"Петрова","name":"Анна","email":"a@example.ru","text":"Нет воды","consent":true,"attachments":[{"name":"a.pdf","media_type":"application/pdf","content":"JVBERi0xLjQK"}]}"#;
const URLENCODED: &str =
    "surname=%D0%9F&name=A&postal_address=x&text=t&consent=on&phone=%2B7+912+345-67-89";

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "surname",
        "name",
        "patronymic",
        "email",
        "postal_address",
        "phone",
        "organisation",
        "subject",
        "text",
        "consent",
        "attachments",
        "id",
    ])
    .prop_map(String::from)
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decode("application/json", bytes.clone());
        decode("application/x-www-form-urlencoded", bytes);
    }

    #[test]
    fn random_fields_never_panic(fields in prop::collection::btree_map(field(), json_value(), 0..12)) {
        let object: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        decode("application/json", serde_json::Value::Object(object).to_string().into_bytes());
    }

    #[test]
    fn mangled_forms_never_panic(
        which in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let (content_type, text) = if which { ("application/json", FORM) } else { ("application/x-www-form-urlencoded", URLENCODED) };
        let mut bytes = text.as_bytes().to_vec();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        decode(content_type, bytes);
    }
}
