use super::*;

fn label(text: &str) -> SentimentLabel {
    assess(text).label
}

#[test]
fn plain_complaint_and_thanks() {
    assert_eq!(
        label("Ужасное состояние дороги, ямы по колено."),
        SentimentLabel::Negative
    );
    assert_eq!(
        label("Большое спасибо врачу за внимательное отношение!"),
        SentimentLabel::Positive
    );
    assert_eq!(
        label("Подскажите, какие документы нужны для субсидии?"),
        SentimentLabel::Neutral
    );
}

#[test]
fn negation_flips() {
    assert_eq!(
        label("Лифт не работает вторую неделю."),
        SentimentLabel::Negative
    );
    assert_eq!(label("Мне не помогли."), SentimentLabel::Negative);
    assert_eq!(
        label("Не плохо поработали в этом году."),
        SentimentLabel::Positive
    );
    let s = assess("Не могу дозвониться в ЖЭК.");
    assert_eq!(s.label, SentimentLabel::Negative);
    assert!(
        s.reasons.iter().any(|r| r.contains("Не могу дозвониться")),
        "{:?}",
        s.reasons
    );
}

#[test]
fn irony_in_quotes() {
    let s = assess("Спасибо за «отличную» работу: три недели без горячей воды.");
    assert_eq!(s.label, SentimentLabel::Negative, "{:?}", s.reasons);
    assert!(s.reasons.iter().any(|r| r.starts_with("irony")));
    // A quoted name is not irony.
    assert_eq!(
        label("Огромная благодарность педагогам детского сада «Солнышко»!"),
        SentimentLabel::Positive
    );
}

#[test]
fn shouting_is_anger_unless_thanks() {
    let s = assess("КОГДА ПОЧИНЯТ ДОРОГУ?!!!");
    assert_eq!(s.label, SentimentLabel::Negative, "{:?}", s.reasons);
    assert_eq!(
        label("СПАСИБО ОГРОМНОЕ ЗА ПОМОЩЬ!!!"),
        SentimentLabel::Positive
    );
}

#[test]
fn complaint_phrases_and_bounds() {
    assert_eq!(
        label("Сколько можно ждать ремонта?"),
        SentimentLabel::Negative
    );
    assert_eq!(
        label("Благодарить не за что: ямы как были, так и остались."),
        SentimentLabel::Negative
    );
    let loud = assess(&"Безобразие! Ужас! Позор! ".repeat(50));
    assert!(loud.score >= -1.0 && loud.score < -0.9);
    let empty = assess("");
    assert_eq!((empty.label, empty.score), (SentimentLabel::Neutral, 0.0));
}

#[test]
fn classify_uses_subject_and_keeps_the_rest() {
    let mut current = Classification::default();
    current.tags.push("housing".into());
    let mut message = Message::new(Channel::Mail, "Прошу принять меры.");
    message.subject = Some("Безобразие в подъезде".into());
    let out = SentimentClassifier::classify(message, current).expect("classify");
    assert_eq!(out.tags, ["housing"]);
    assert_eq!(
        out.sentiment.map(|s| s.label),
        Some(SentimentLabel::Negative)
    );
}
