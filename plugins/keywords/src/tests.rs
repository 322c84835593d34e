//! The classifier as the hub calls it, with settings served by a mock host.

use okno_sdk::prelude::*;
use okno_sdk::testing::MockHost;

use super::*;

const HEATING: &str = "0005.0005.0056.1156";
const PAYMENT: &str = "0005.0005.0056.1149";

fn host() -> MockHost {
    MockHost::new()
        .setting(
            "rules.heating.words",
            "отопление, батарея, теплоснабжение, холодно",
        )
        .setting("rules.heating.topic", HEATING)
        .setting("rules.heating.tags", "housing, heating")
        .setting(
            "rules.payment.words",
            "квитанция, оплата, начисление, отопление",
        )
        .setting("rules.payment.topic", PAYMENT)
        .setting("rules.payment.tags", "housing")
        .setting("rules.roads.words", "дорога, яма, асфальт")
        .setting("rules.roads.tags", "roads")
}

fn classify(
    host: &MockHost,
    subject: Option<&str>,
    body: &str,
) -> Result<Classification, PluginError> {
    let mut message = Message::new(Channel::Mail, body);
    message.subject = subject.map(str::to_string);
    host.run(|| Keywords::classify(message, Classification::default()))
}

#[test]
fn matches_across_word_forms() {
    let out = classify(
        &host(),
        Some("Нет отопления"),
        "Третью неделю холодные батареи, в квартире холодно.",
    )
    .unwrap();
    let topic = out.topic.expect("a topic");
    assert_eq!(topic.best.code, HEATING);
    assert_eq!(topic.best.name, "Перебои в теплоснабжении");
    assert_eq!(topic.best.confidence, 0.875, "three distinct words");
    assert!(!topic.low_confidence);
    assert_eq!(
        topic.reasons[0],
        "Ключевые слова правила «heating»: «отопления», «батареи», «холодные»"
    );
    assert_eq!(
        topic.alternatives.len(),
        1,
        "payment matched «отопления» too"
    );
    assert_eq!(topic.alternatives[0].code, PAYMENT);
    assert_eq!(topic.alternatives[0].confidence, 0.5);
}

#[test]
fn yo_and_e_are_one_letter() {
    let host = MockHost::new()
        .setting("rules.trees.words", "ёлка, зелёные насаждения")
        .setting("rules.trees.tags", "greenery");
    let out = classify(&host, None, "Срубили елки и зеленые НАСАЖДЕНИЯ во дворе").unwrap();
    assert_eq!(out.tags, ["greenery"]);

    let host = MockHost::new()
        .setting("rules.trees.words", "елка")
        .setting("rules.trees.tags", "greenery");
    assert_eq!(
        classify(&host, None, "Ёлку у подъезда сломали")
            .unwrap()
            .tags,
        ["greenery"]
    );
}

#[test]
fn every_matching_rule_adds_its_tags_once() {
    let host = host();
    let mut message = Message::new(
        Channel::Mail,
        "Яма на дороге, а в квитанции за отопление ошибка",
    );
    message.subject = None;
    let mut current = Classification::default();
    current.tags.push("housing".into());
    let out = host.run(|| Keywords::classify(message, current)).unwrap();
    assert_eq!(out.tags, ["housing", "roads", "heating"]);
}

#[test]
fn one_word_is_low_confidence() {
    let out = classify(&host(), None, "Когда дадут теплоснабжение?").unwrap();
    let topic = out.topic.unwrap();
    assert_eq!(topic.best.code, HEATING);
    assert!(topic.low_confidence);
    assert_eq!(topic.best.confidence, 0.5);
}

#[test]
fn a_tie_between_topics_is_low_confidence() {
    let out = classify(&host(), None, "Квитанция за батарею").unwrap();
    let topic = out.topic.unwrap();
    assert!(topic.low_confidence);
    assert_eq!(
        topic.best.code, HEATING,
        "equal scores: the rule named first wins"
    );
    assert_eq!(topic.alternatives[0].code, PAYMENT);
    assert_eq!(topic.reasons.len(), 2);
}

#[test]
fn phrases_match_only_as_phrases() {
    let host = MockHost::new()
        .setting("rules.water.words", "горячая вода")
        .setting("rules.water.tags", "hot-water");
    assert_eq!(
        classify(&host, None, "Нет горячей воды с понедельника")
            .unwrap()
            .tags,
        ["hot-water"]
    );
    assert!(classify(&host, None, "Горячий спор о воде")
        .unwrap()
        .tags
        .is_empty());
}

#[test]
fn unknown_code_is_a_config_error() {
    let host = host().setting("rules.roads.topic", "0009.0009.0009.0009");
    let err = classify(&host, None, "Яма").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("rules.roads.topic"), "{}", err.message);
    assert!(
        err.message.contains("0009.0009.0009.0009"),
        "{}",
        err.message
    );
}

#[test]
fn empty_rules_pass_the_classification_through() {
    let mut current = Classification::default();
    current.tags.push("from-earlier".into());
    let message = Message::new(Channel::Mail, "Холодно, батареи ледяные");
    let out = MockHost::new()
        .run(|| Keywords::classify(message, current))
        .unwrap();
    assert_eq!(out.tags, ["from-earlier"]);
    assert!(out.topic.is_none());
}

#[test]
fn no_match_changes_nothing() {
    let out = classify(
        &host(),
        Some("Благодарность"),
        "Спасибо сотрудникам МФЦ за помощь",
    )
    .unwrap();
    assert!(out.topic.is_none());
    assert!(out.tags.is_empty());
}

fn earlier_topic(code: &str, confidence: f32) -> TopicAssignment {
    TopicAssignment {
        best: Topic {
            code: code.into(),
            name: "earlier".into(),
            confidence,
        },
        alternatives: vec![],
        low_confidence: false,
        reasons: vec!["earlier classifier".into()],
    }
}

#[test]
fn a_surer_earlier_topic_stands() {
    let rules = host()
        .run(|| Rules::from_settings(&okno_sdk::config::get_all()))
        .unwrap();
    let message = Message::new(Channel::Mail, "Батареи холодные, отопления нет");
    let current = Classification {
        topic: Some(earlier_topic("0005.0005.0054.0000", 0.9)),
        ..Classification::default()
    };
    let out = classify_with_rules(&rules, &message, current)
        .topic
        .unwrap();
    assert_eq!(out.best.code, "0005.0005.0054.0000");
    assert_eq!(out.reasons, ["earlier classifier"]);
    let codes: Vec<&str> = out.alternatives.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(
        codes,
        [HEATING, PAYMENT],
        "our topics are offered as alternatives, best first"
    );
}

#[test]
fn a_less_sure_earlier_topic_gives_way() {
    let rules = host()
        .run(|| Rules::from_settings(&okno_sdk::config::get_all()))
        .unwrap();
    let message = Message::new(Channel::Mail, "Батареи холодные, отопления нет");
    let current = Classification {
        topic: Some(earlier_topic("0005.0005.0054.0000", 0.3)),
        ..Classification::default()
    };
    let out = classify_with_rules(&rules, &message, current)
        .topic
        .unwrap();
    assert_eq!(out.best.code, HEATING);
    let codes: Vec<&str> = out.alternatives.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(codes, [PAYMENT, "0005.0005.0054.0000"]);
}
