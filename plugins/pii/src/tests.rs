//! Whole-text behaviour: overlaps, masking and the labelled set in tests/data/pii.jsonl.

use super::*;

#[test]
fn spans_are_sorted_and_disjoint() {
    let text = "Иванов Иван Иванович, 156000, г. Кострома, ул. Ленина, д. 5, кв. 12, \
                тел. +7 (912) 345-67-89, ivanov@mail.ru, СНИЛС 112-233-445 95";
    let spans = find_pii(text);
    let kinds: Vec<&str> = spans.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["name", "address", "phone", "email", "snils"]);
    for w in spans.windows(2) {
        assert!(w[0].end <= w[1].start);
    }
}

#[test]
fn mask_replaces_and_skips_bad_spans() {
    let text = "звоните 89123456789 утром";
    assert_eq!(mask_all(text), "звоните [phone] утром");
    // Offsets inside a Cyrillic letter or past the end are ignored, not panicked on.
    let bad = [
        Span {
            kind: Kind::Name,
            start: 1,
            end: 3,
        },
        Span {
            kind: Kind::Name,
            start: 5,
            end: 500,
        },
    ];
    assert_eq!(mask("звоните", &bad), "звоните");
    let overlapping = [
        Span {
            kind: Kind::Phone,
            start: 0,
            end: 4,
        },
        Span {
            kind: Kind::Email,
            start: 2,
            end: 6,
        },
    ];
    assert_eq!(mask("abcdefgh", &overlapping), "[phone]efgh");
}

#[test]
fn classify_sets_spans_and_tag() {
    let mut current = Classification::default();
    current.pii.push(PiiSpan {
        kind: "stale".into(),
        start: 0,
        end: 1,
    });
    current.tags.push("housing".into());
    let message = Message::new(Channel::Mail, "Мой телефон 8 912 3456789.");
    let out = Pii::classify(message, current).expect("classify");
    assert_eq!(out.pii.len(), 1);
    assert_eq!(
        (out.pii[0].kind.as_str(), out.pii[0].start, out.pii[0].end),
        ("phone", 22, 35)
    );
    assert_eq!(out.tags, ["housing", "pii"]);

    let clean = Pii::classify(
        Message::new(Channel::Mail, "Сумма 12 500 руб."),
        Classification::default(),
    )
    .expect("classify");
    assert!(clean.pii.is_empty() && clean.tags.is_empty());
}

struct Labelled {
    text: String,
    spans: Vec<(String, String)>,
}

fn labelled() -> Vec<Labelled> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pii.jsonl");
    let path = path.to_str().expect("a UTF-8 path");
    okno_sdk::eval::read_jsonl(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|case| {
            let v = &case.value;
            let spans = v["spans"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| {
                            (
                                s["kind"].as_str().unwrap_or("").to_string(),
                                s["text"].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Labelled {
                text: v["text"].as_str().unwrap_or("").to_string(),
                spans,
            }
        })
        .collect()
}

#[test]
fn every_planted_identifier_is_masked() {
    let mut missed = Vec::new();
    for case in labelled() {
        let masked = mask_all(&case.text);
        for (kind, value) in &case.spans {
            if masked.contains(value.as_str()) {
                missed.push(format!("{kind} {value:?} in {:?}", case.text));
            }
        }
    }
    assert!(missed.is_empty(), "left unmasked:\n{}", missed.join("\n"));
}

#[test]
fn clean_texts_keep_their_numbers() {
    let mut wrong = Vec::new();
    for case in labelled().iter().filter(|c| c.spans.is_empty()) {
        for span in find_pii(&case.text) {
            let found = &case.text[span.start..span.end];
            if found.chars().count() > 3 {
                wrong.push(format!("{} {found:?} in {:?}", span.kind, case.text));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "masked in clean texts:\n{}",
        wrong.join("\n")
    );
}
