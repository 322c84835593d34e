use super::*;

fn kind(text: &str) -> AppealKind {
    assign(text).kind
}

#[test]
fn the_five_forms_and_other() {
    assert_eq!(
        kind("Прошу разъяснить порядок получения субсидии."),
        AppealKind::Inquiry
    );
    assert_eq!(kind("Подскажите, куда обращаться?"), AppealKind::Inquiry);
    assert_eq!(kind("Предлагаю установить светофор."), AppealKind::Proposal);
    assert_eq!(kind("Было бы хорошо открыть аптеку."), AppealKind::Proposal);
    assert_eq!(
        kind("Прошу выдать справку о составе семьи."),
        AppealKind::Statement
    );
    assert_eq!(
        kind("Мне отказали незаконно, нарушены мои права."),
        AppealKind::Complaint
    );
    assert_eq!(kind("Выражаю благодарность врачу."), AppealKind::Gratitude);
    assert_eq!(kind("Добрый день."), AppealKind::Other);
    assert_eq!(kind(""), AppealKind::Other);
}

#[test]
fn stronger_cue_wins_over_a_request() {
    // A request to look into a proposal is a proposal; a request for measures is a complaint.
    assert_eq!(
        kind("Прошу рассмотреть моё предложение о велодорожке."),
        AppealKind::Proposal
    );
    assert_eq!(
        kind("Прошу принять меры к застройщику."),
        AppealKind::Complaint
    );
    assert_eq!(
        kind("Прошу сообщить, когда придёт выплата."),
        AppealKind::Inquiry
    );
}

#[test]
fn reason_quotes_the_deciding_cue() {
    let a = assign("Прошу разъяснить порядок.");
    assert_eq!(a.reasons, ["«прошу разъяснить»"]);
}

#[test]
fn cues_do_not_cross_sentences() {
    // "прошу" ends one sentence, "выдать" starts the next: no statement cue.
    let a = assign("Ничего не прошу. Выдать справку нельзя?");
    assert_ne!(
        a.reasons.first().map(String::as_str),
        Some("«прошу выдать»")
    );
}

#[test]
fn repeat_detection() {
    assert!(assign("Повторно прошу выдать справку.").repeat);
    assert!(assign("Ранее обращался по этому вопросу.").repeat);
    assert!(assign("Ответ на обращение № 15-2024/388 не получен.").repeat);
    assert!(assign("Дополнение к обращению № 48: прилагаю договор.").repeat);
    assert!(!assign("Прошу выдать справку.").repeat);
    assert!(!assign("Отвечаю на ваш вопрос о графике.").repeat);
}

#[test]
fn classify_sets_kind_and_tag_once() {
    let mut current = Classification::default();
    current.tags.push("repeat".into());
    let out = Kind::classify(
        Message::new(Channel::Mail, "Повторно жалуюсь на шум."),
        current,
    )
    .expect("classify");
    assert_eq!(out.tags, ["repeat", "kind:complaint"]);
    let k = out.kind.expect("kind");
    assert_eq!((k.kind, k.repeat), (AppealKind::Complaint, true));

    let mut message = Message::new(Channel::Sog, "Прошу выдать справку.");
    message.thread.repeat_of = Some("44-2024-17".into());
    let out = Kind::classify(message, Classification::default()).expect("classify");
    assert!(out.kind.is_some_and(|k| k.repeat));
    assert_eq!(out.tags, ["repeat", "kind:statement"]);
}

fn data(name: &str) -> String {
    format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The federal вид on the set written from the typology's definitions
/// (`tests/data/kind_federal.jsonl`); README reports the figure.
#[test]
fn federal_kind_on_its_own_set() {
    let path = data("kind_federal.jsonl");
    let cases = okno_sdk::eval::read_jsonl(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut wrong = Vec::new();
    for case in &cases {
        let text = case.string("text").unwrap_or_else(|e| panic!("{e}"));
        let gold = case.value["vid"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}", case.error("no vid")));
        let (found, cue) = read(&text).federal;
        if u64::from(found.number()) != gold {
            wrong.push(format!("{gold} -> {} {cue}: {text}", found.number()));
        }
    }
    let accuracy = 1.0 - wrong.len() as f64 / cases.len() as f64;
    assert!(accuracy >= 0.9, "accuracy {accuracy:.3}: {wrong:#?}");
}

/// Segments on `tests/data/segments.jsonl`: precision and recall over all (text,
/// segment) pairs, at least what README reports.
#[test]
fn segments_precision_and_recall() {
    let path = data("segments.jsonl");
    let cases = okno_sdk::eval::read_jsonl(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 60, "{path}: {} texts", cases.len());
    let mut tally = okno_sdk::eval::Tally::default();
    let mut wrong = Vec::new();
    for case in &cases {
        let text = case.string("text").unwrap_or_else(|e| panic!("{e}"));
        let gold: Vec<&str> = case.value["segments"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", case.error("no segments")))
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        let found = read(&text).segments;
        for segment in [
            "senior",
            "disabled",
            "large-family",
            "entrepreneur",
            "self-employed",
            "representative",
            "organisation",
        ] {
            tally.add(gold.contains(&segment), found.contains(&segment));
        }
        if found != gold {
            wrong.push(format!("{gold:?} -> {found:?}: {text}"));
        }
    }
    println!(
        "segments: precision {:.3} recall {:.3} ({} found, {} gold)",
        tally.precision(),
        tally.recall(),
        tally.found,
        tally.gold
    );
    assert!(
        tally.precision() >= 0.95 && tally.recall() >= 0.95,
        "precision {:.3} recall {:.3}: {wrong:#?}",
        tally.precision(),
        tally.recall()
    );
}

#[test]
fn classify_tags_federal_kind_and_segments() {
    let out = Kind::classify(
        Message::new(
            Channel::Mail,
            "Я пенсионер, мне 74 года, инвалид 2 группы. Прошу разъяснить, почему выплата прекращена.",
        ),
        Classification::default(),
    )
    .expect("classify");
    assert_eq!(
        out.tags,
        [
            "kind:information-request",
            "segment:senior",
            "segment:disabled"
        ]
    );
    let out = Kind::classify(
        Message::new(Channel::Mail, "Инспектор потребовал взятку за разрешение."),
        Classification::default(),
    )
    .expect("classify");
    assert_eq!(out.tags, ["kind:corruption-report"]);
    let k = out.kind.expect("kind");
    assert!(
        k.reasons
            .iter()
            .any(|r| r == "вид 9 «Сообщение о коррупции»: «взятку»"),
        "{:?}",
        k.reasons
    );
}
