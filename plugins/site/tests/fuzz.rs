//! The form decoder on input nobody should send: random bytes, random JSON objects of
//! the form's fields, and real forms cut, flipped and spliced. It may refuse, never panic.
//! `PROPTEST_CASES` sets the run's length (300 by default).

use okno_plugin_site::SiteConnector;
use okno_sdk::fuzz::{self, cases};
use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;
use proptest::prelude::*;

fn decode(content_type: &str, bytes: Vec<u8>) {
    let mut input = Inbound::from_bytes(bytes);
    input.content_type = Some(content_type.into());
    let _ = MockHost::new().run(|| SiteConnector::decode(input));
}

const JSON: &str = "application/json";
const URLENCODED: &str = "application/x-www-form-urlencoded";

/// A real form of each kind the site posts.
const FORMS: &[(&str, &str)] = &[
    (
        JSON,
        r#"{"surname":"Петрова","name":"Анна","email":"a@example.ru","text":"Нет воды","consent":true,"attachments":[{"name":"a.pdf","media_type":"application/pdf","content":"JVBERi0xLjQK"}]}"#,
    ),
    (
        URLENCODED,
        "surname=%D0%9F&name=A&postal_address=x&text=t&consent=on&phone=%2B7+912+345-67-89",
    ),
];

/// The form's fields.
const FIELDS: &[&str] = &[
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
];

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in fuzz::bytes(2048)) {
        decode(JSON, bytes.clone());
        decode(URLENCODED, bytes);
    }

    #[test]
    fn random_fields_never_panic(
        fields in prop::collection::btree_map(
            prop::sample::select(FIELDS).prop_map(String::from),
            fuzz::json_with_keys(FIELDS),
            0..12,
        )
    ) {
        let object: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        decode(JSON, serde_json::Value::Object(object).to_string().into_bytes());
    }

    #[test]
    fn mangled_forms_never_panic(mangling in fuzz::mangling(8, 64)) {
        let (content_type, form) = mangling.pick(FORMS);
        decode(content_type, mangling.apply(form.as_bytes()));
    }
}
