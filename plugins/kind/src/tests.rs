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
    assert_eq!(out.tags, ["repeat"]);
    let k = out.kind.expect("kind");
    assert_eq!((k.kind, k.repeat), (AppealKind::Complaint, true));

    let mut message = Message::new(Channel::Sog, "Прошу выдать справку.");
    message.thread.repeat_of = Some("44-2024-17".into());
    let out = Kind::classify(message, Classification::default()).expect("classify");
    assert!(out.kind.is_some_and(|k| k.repeat));
    assert_eq!(out.tags, ["repeat"]);
}
