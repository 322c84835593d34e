use okno_sdk::testing::MockHost;

use super::*;

const HEATING: &str =
    "Нет отопления. Уже неделю в квартире холодно, батареи ледяные, котельная не работает, \
                       дети мерзнут. Когда дадут тепло?";

fn assert_well_formed(a: &TopicAssignment) {
    let mut seen = std::collections::HashSet::new();
    for t in std::iter::once(&a.best).chain(&a.alternatives) {
        let entry =
            table::find(&t.code).unwrap_or_else(|| panic!("{} is not in the classifier", t.code));
        assert!(
            table::entry(entry).level >= 4,
            "{} is navigation, not assignable",
            t.code
        );
        assert_eq!(table::entry(entry).name(), t.name);
        assert!(
            (0.0..=1.0).contains(&t.confidence),
            "{} has confidence {}",
            t.code,
            t.confidence
        );
        assert!(seen.insert(t.code.clone()), "{} listed twice", t.code);
    }
    assert!(a.alternatives.len() <= 5);
    assert!(a
        .alternatives
        .iter()
        .all(|t| t.confidence <= a.best.confidence));
    // Codes follow their confidence, except that among the first three a code of a тема
    // not yet offered may go before a more confident one.
    let tema = |code: &str| code.split('.').take(3).collect::<Vec<_>>().join(".");
    for (j, t) in a.alternatives.iter().enumerate() {
        if a.alternatives[j + 1..]
            .iter()
            .any(|later| later.confidence > t.confidence)
        {
            let offered: Vec<String> = std::iter::once(&a.best)
                .chain(&a.alternatives[..j])
                .map(|o| tema(&o.code))
                .collect();
            assert!(
                j < 2 && !offered.contains(&tema(&t.code)),
                "{} goes before a more confident code without opening a new тема",
                t.code
            );
        }
    }
}

#[test]
fn the_first_three_codes_offer_distinct_temas_when_scores_are_close() {
    let code = |c: &str| table::find(c).unwrap_or_else(|| panic!("{c} exists"));
    let top = [
        (code("0005.0005.0056.1156"), 1.0),
        (code("0005.0005.0056.1154"), 0.95),
        (code("0005.0005.0056.1148"), 0.9),
        (code("0003.0009.0099.0742"), 0.7),
        (code("0002.0007.0072.0289"), 0.68),
    ];
    assert_eq!(model::offer_order(&top, 0.3), vec![0, 3, 4, 1, 2]);
    assert_eq!(model::offer_order(&top, 0.1), vec![0, 1, 2, 3, 4]);
    // Only the two places after the best are reordered.
    assert_eq!(model::offer_order(&top, 0.26), vec![0, 3, 1, 2, 4]);
}

#[test]
fn the_embedded_table_is_complete() {
    assert_eq!(table::ENTRIES.len(), 2108);
    let count = |level| table::ENTRIES.iter().filter(|e| e.level == level).count();
    assert_eq!(
        (count(1), count(2), count(3), count(4), count(5)),
        (5, 21, 206, 1225, 651)
    );
    let quoted = table::find("0002.0007.0074.0301").expect("entry exists");
    assert!(table::entry(quoted)
        .name()
        .starts_with("Звание \"Ветеран труда\""));
    let leaf = table::find("0003.0009.0099.0737.0061").expect("entry exists");
    assert_eq!(
        table::entry(table::ancestor_at(leaf, 2)).code(),
        "0003.0009.0000.0000"
    );
}

#[test]
fn heating_outage_lands_in_housing_and_utilities() {
    let a = classify_text(HEATING, &[]);
    assert_well_formed(&a);
    assert!(
        a.best.code.starts_with("0005.0005."),
        "got {} {}",
        a.best.code,
        a.best.name
    );
    assert_eq!(a.best.code, "0005.0005.0056.1156");
    assert!(!a.low_confidence);
    assert!(a.reasons[0].contains("отоплен(ия)"), "{:?}", a.reasons);
}

#[test]
fn typical_appeals_get_fitting_temas() {
    let cases = [
        (
            "На нашей улице огромные ямы на дороге, асфальт разбит, машины ломаются",
            "0003.0009.0099",
        ),
        (
            "Автобус 12 маршрута не ходит по расписанию, люди часами ждут на остановке",
            "0003.0009.0099",
        ),
        (
            "Мне отказали в назначении единого пособия на ребенка",
            "0002.0007.0072",
        ),
        (
            "Не могу записаться к врачу в поликлинике, регистратура не берет трубку",
            "0002.0014.0143",
        ),
        (
            "Контейнерная площадка переполнена, мусор не вывозят две недели",
            "0005.0005.0056",
        ),
        // «свое» stems to «сво», the abbreviation of the special military operation.
        (
            "Не получила ответ на свое обращение в администрацию района, прошло больше месяца",
            "0001.0002.0027",
        ),
        (
            "Мошенники по телефону списали деньги с карты, полиция не возбуждает уголовное дело",
            "0004.0016.0162",
        ),
        (
            "Прошу установить пандус в подъезде для инвалида-колясочника",
            "0002.0007.0067",
        ),
        (
            "Сотрудник полиции нагрубил и отказался принять заявление",
            "0004.0016.0159",
        ),
        // The regional list of commercial property taxed at cadastral value, named
        // without a word of tax.
        (
            "Как мой жилой дом попал в реестр торговых объектов, если коммерческой деятельности в нём никто не ведёт?",
            "0003.0008.0086",
        ),
        (
            "Электричка до областного центра отменена, добираться на работу не на чем",
            "0003.0009.0099",
        ),
        (
            "Прошу выделить путевку в санаторий как инвалиду второй группы",
            "0002.0007.0074",
        ),
    ];
    for (text, tema) in cases {
        let a = classify_text(text, &[]);
        assert_well_formed(&a);
        assert!(
            a.best.code.starts_with(tema),
            "{text}: got {} {}",
            a.best.code,
            a.best.name
        );
    }
}

#[test]
fn a_correction_teaches_the_code_for_a_similar_text() {
    let corrected = "0005.0005.0056.1164";
    let before = classify_text(HEATING, &[]);
    assert_ne!(
        before.best.code, corrected,
        "the test needs a correction that changes the answer"
    );
    let examples = [Example {
        code: corrected.into(),
        text: HEATING.into(),
    }];
    let later = "Нет отопления! Неделю в квартире холодно, батареи ледяные, котельная не работает, дети мерзнут.";
    let after = classify_text(later, &examples);
    assert_well_formed(&after);
    assert_eq!(after.best.code, corrected);
    assert!(
        after
            .reasons
            .iter()
            .any(|r| r.contains("исправленное специалистом")),
        "{:?}",
        after.reasons
    );
}

#[test]
fn unusable_examples_are_ignored() {
    let examples = [
        Example {
            code: "9999.9999.9999.9999".into(),
            text: HEATING.into(),
        },
        Example {
            code: "0005.0005.0056.0000".into(),
            text: HEATING.into(),
        },
        Example {
            code: "0005.0005.0056.1164".into(),
            text: "   ".into(),
        },
    ];
    assert!(prepare(&examples).is_empty());
}

#[test]
fn no_words_means_low_confidence_not_an_error() {
    for text in [
        "",
        "   \n",
        "Здравствуйте! Прошу, пожалуйста. Спасибо.",
        "12345 ...",
    ] {
        let a = classify_text(text, &[]);
        assert_well_formed(&a);
        assert!(a.low_confidence, "{text:?}");
        assert_eq!(a.best.code, model::NO_TEXT_CODE);
        assert_eq!(a.best.confidence, 0.0);
        assert!(a.alternatives.is_empty());
    }
}

#[test]
fn an_unrelated_text_is_not_confident() {
    let a = classify_text("Просто хотел сказать, что погода сегодня странная", &[]);
    assert_well_formed(&a);
    assert!(a.low_confidence, "{} {}", a.best.code, a.best.confidence);
}

#[test]
fn a_clear_refinement_picks_the_level_5_entry() {
    let a = classify_text(
        "Нехватка мест в детском саду: ребенка не берут в детский сад, очередь в садик",
        &[],
    );
    assert_well_formed(&a);
    assert!(
        a.best.code.starts_with("0002.0013.0139."),
        "{} {}",
        a.best.code,
        a.best.name
    );
}

fn message(subject: &str, body: &str) -> Message {
    let mut m = Message::new(Channel::Mail, body);
    m.subject = Some(subject.into());
    m
}

fn correction(code: &str, text: &str) -> Vec<u8> {
    serde_json::json!({ "code": code, "text": text })
        .to_string()
        .into_bytes()
}

#[test]
fn the_plugin_learns_from_corrections_in_kv_and_keeps_an_index() {
    let corrected = "0005.0005.0056.1164";
    let mut host = MockHost::new();
    host.kv.insert(
        format!("{}m1", store::CORRECTIONS_PREFIX),
        correction(corrected, HEATING),
    );
    host.kv.insert(
        format!("{}m2", store::CORRECTIONS_PREFIX),
        b"not json".to_vec(),
    );
    let m = message(
        "Нет отопления",
        "Неделю в квартире холодно, батареи ледяные, котельная не работает, дети мерзнут.",
    );
    let (result, after) =
        host.run_and_keep(|| Topics::classify(m.clone(), Classification::default()));
    let topic = result.expect("classifies").topic.expect("topic set");
    assert_eq!(topic.best.code, corrected);

    let index = after.kv.get(store::INDEX_KEY).expect("index written");
    let decoded = store::decode(index).expect("index readable");
    assert_eq!(decoded.len(), 2);
    assert!(decoded[0].1.is_some() && decoded[1].1.is_none());
    assert!(
        after
            .logs
            .iter()
            .all(|(_, line)| !line.contains("котельная")),
        "appeal text in logs"
    );

    // With the index in place and the corrections' values gone, the index alone serves:
    // the same keys need no re-reading.
    let mut cached = after.clone();
    for key in [
        format!("{}m1", store::CORRECTIONS_PREFIX),
        format!("{}m2", store::CORRECTIONS_PREFIX),
    ] {
        cached.kv.insert(key, Vec::new());
    }
    let topic = cached
        .run(|| Topics::classify(m.clone(), Classification::default()))
        .expect("classifies")
        .topic;
    assert_eq!(topic.map(|t| t.best.code).as_deref(), Some(corrected));

    // A deleted correction leaves the index and stops voting.
    let mut removed = after.clone();
    removed
        .kv
        .remove(&format!("{}m1", store::CORRECTIONS_PREFIX));
    let (result, last) = removed.run_and_keep(|| Topics::classify(m, Classification::default()));
    assert_ne!(
        result
            .expect("classifies")
            .topic
            .map(|t| t.best.code)
            .as_deref(),
        Some(corrected)
    );
    assert_eq!(
        store::decode(&last.kv[store::INDEX_KEY]).map(|d| d.len()),
        Some(1)
    );
}

#[test]
fn the_index_round_trips_and_rejects_damage() {
    let prepared = prepare(&[Example {
        code: "0005.0005.0056.1156".into(),
        text: HEATING.into(),
    }]);
    let index = vec![
        ("okno.corrections/a".to_string(), prepared.first().cloned()),
        ("okno.corrections/b".into(), None),
    ];
    let bytes = store::encode(&index);
    let back = store::decode(&bytes).expect("decodes");
    assert_eq!(back.len(), 2);
    let (a, b) = (back[0].1.as_ref().expect("kept"), prepared[0].clone());
    assert_eq!(a.entry, b.entry);
    for ((h1, w1), (h2, w2)) in a.vector.iter().zip(&b.vector) {
        assert_eq!(h1, h2);
        assert!((w1 - w2).abs() < 1e-4);
    }
    assert!(store::decode(&bytes[..bytes.len() - 1]).is_none());
    let mut other_build = bytes.clone();
    other_build[0] ^= 0xff;
    assert!(store::decode(&other_build).is_none());
}

#[test]
fn a_subject_alone_is_classified() {
    let a = MockHost::new()
        .run(|| {
            Topics::classify(
                message("Перебои в водоснабжении, нет горячей воды", ""),
                Classification::default(),
            )
        })
        .expect("classifies")
        .topic
        .expect("topic set");
    assert!(
        a.best.code.starts_with("0005.0005.0056."),
        "{}",
        a.best.code
    );
}

#[test]
fn stems_and_words() {
    let t = text::Tokenizer::new();
    let stems: Vec<String> = t
        .tokens("Отопление, батареи! Ёлка и УК")
        .into_iter()
        .map(|t| t.stem)
        .collect();
    assert_eq!(stems, ["отоплен", "батар", "елк", "ук"]);
    assert_eq!(query::display("отоплен", "отопление"), "отоплен(ие)");
}

#[test]
fn a_typo_reads_as_the_word_it_misspells() {
    let t = text::Tokenizer::new();
    // «банере» for «баннере»: one letter of a double left out.
    let q = query::Query::new(&t, "Почему на банере у остановки такая картинка?");
    let banner = text::term_hash("баннер");
    assert!(
        q.terms.iter().any(|term| term.hash == banner),
        "{:?}",
        q.terms
    );
    // The table reads the typo as the word: advertising, not the road it stands by.
    let text = "Почему на банере у дороги изображено такое?";
    let table_alone = crate::learned::Model::empty();
    let a = classify_with_model(text, &[], &Params::for_model(&table_alone), &table_alone);
    assert_eq!(a.best.code, "0003.0012.0137.0885", "{}", a.best.name);
    // The learned model, which has seen roads far more often than banners, puts the
    // road first; advertising stays among the first three codes offered.
    let a = classify_text(text, &[]);
    assert!(
        std::iter::once(&a.best)
            .chain(&a.alternatives)
            .take(3)
            .any(|t| t.code == "0003.0012.0137.0885"),
        "{a:?}"
    );
    // A short word is never «corrected»: too many words are one letter away from it.
    let q = query::Query::new(&t, "дом");
    assert_eq!(q.terms.len(), 1);
}

#[test]
fn a_code_of_law_is_read_as_its_name() {
    let t = text::Tokenizer::new();
    let words = |s: &str| -> Vec<String> { t.tokens(s).into_iter().map(|t| t.word).collect() };
    assert_eq!(
        words("ст. 140 УК РФ и ст. 5.39 КоАП"),
        [
            "уголовный",
            "кодекс",
            "кодекс",
            "административных",
            "правонарушениях"
        ]
    );
    // Without «РФ», «УК» is the management company of a house.
    assert_eq!(words("УК не убирает подъезд"), ["ук", "убирает", "подъезд"]);
}

// Indexing in bounded steps.

const ROADS: &str = "Во дворе дома огромная яма на дороге, асфальт разбит, машины не проехать.";

fn import_key(n: usize) -> String {
    format!("{}import-{n:06}", store::CORRECTIONS_PREFIX)
}

/// The keys in the stored index, shard after shard, each shard checked on the way.
fn indexed(host: &MockHost) -> Vec<String> {
    let mut keys = Vec::new();
    for n in 0.. {
        let Some(shard) = host.kv.get(&store::shard_key(n)) else {
            break;
        };
        assert!(
            shard.len() <= 1 << 20,
            "shard {n} is over the kv value limit"
        );
        let entries = store::decode(shard).expect("a readable shard");
        assert!(entries.len() <= store::SHARD_EXAMPLES);
        keys.extend(entries.into_iter().map(|(k, _)| k));
    }
    keys
}

/// Classifies `m` on `host`, keeps what the call left in kv, and returns the topic code.
fn classify_on(host: &mut MockHost, m: &Message) -> String {
    let (result, after) =
        host.run_and_keep(|| Topics::classify(m.clone(), Classification::default()));
    *host = after;
    result
        .expect("classifies")
        .topic
        .expect("topic set")
        .best
        .code
}

fn heating_message() -> Message {
    message(
        "Нет отопления",
        "Неделю в квартире холодно, батареи ледяные, котельная не работает, дети мерзнут.",
    )
}

#[test]
fn a_large_import_is_indexed_a_bounded_step_per_call_in_shards() {
    let mut host = MockHost::new();
    let total = 2 * store::SHARD_EXAMPLES + 7;
    for n in 0..total {
        host.kv.insert(
            import_key(n),
            correction("0003.0009.0097.0699", &format!("{ROADS} Дом {n}.")),
        );
    }
    host.kv
        .insert(store::REVISION_KEY.into(), b"first".to_vec());
    let m = heating_message();
    let mut calls = 0;
    loop {
        let before = indexed(&host).len();
        classify_on(&mut host, &m);
        calls += 1;
        let now = indexed(&host).len();
        assert!(
            now > before && now - before <= store::INDEX_BATCH,
            "call {calls}: {before} → {now}"
        );
        // The head appears only once every example is in.
        assert_eq!(host.kv.contains_key(store::HEAD_KEY), now == total);
        if now == total {
            break;
        }
    }
    assert_eq!(calls, total.div_ceil(store::INDEX_BATCH));
    let expected: Vec<String> = (0..total).map(import_key).collect();
    assert_eq!(indexed(&host), expected);
    assert_eq!(
        (0..4)
            .filter(|n| host.kv.contains_key(&store::shard_key(*n)))
            .count(),
        3
    );
}

#[test]
fn officials_corrections_are_indexed_first_and_vote_while_the_rest_waits() {
    let corrected = "0005.0005.0056.1164";
    let mut host = MockHost::new();
    for n in 0..3 * store::INDEX_BATCH {
        host.kv.insert(
            import_key(n),
            correction("0003.0009.0097.0699", &format!("{ROADS} Дом {n}.")),
        );
    }
    // A correction of message 019a…: hex ids sort before "import-".
    let official = format!("{}019a2b3c4d5e00000001.1", store::CORRECTIONS_PREFIX);
    host.kv
        .insert(official.clone(), correction(corrected, HEATING));
    let code = classify_on(&mut host, &heating_message());
    assert_eq!(
        code, corrected,
        "the correction votes in the call that indexed it"
    );
    let keys = indexed(&host);
    assert_eq!(keys.len(), store::INDEX_BATCH);
    assert_eq!(keys[0], official);
    assert!(!host.kv.contains_key(store::HEAD_KEY));
}

#[test]
fn a_call_reads_a_bounded_number_of_bytes_of_new_examples_and_at_least_one() {
    let long_text = |n: usize| format!("{HEATING} {n}. ").repeat(20 * 1024 / HEATING.len() + 1);
    let mut host = MockHost::new();
    for n in 0..20 {
        host.kv.insert(
            import_key(n),
            correction("0005.0005.0056.1164", &long_text(n)),
        );
    }
    classify_on(&mut host, &heating_message());
    let first = indexed(&host);
    let value_bytes = |keys: &[String]| -> usize { keys.iter().map(|k| host.kv[k].len()).sum() };
    assert!(
        first.len() > 1 && first.len() < 20,
        "{} indexed",
        first.len()
    );
    // It stops at the first example that reaches the budget.
    assert!(value_bytes(&first[..first.len() - 1]) < store::INDEX_BYTES);
    assert!(value_bytes(&first) >= store::INDEX_BYTES);

    // One example larger than the whole budget is still indexed, from the start of its
    // text.
    let mut host = MockHost::new();
    let huge = format!("{HEATING} ").repeat(2 * store::INDEX_BYTES / HEATING.len());
    host.kv
        .insert(import_key(0), correction("0005.0005.0056.1164", &huge));
    host.kv
        .insert(import_key(1), correction("0003.0009.0097.0699", ROADS));
    assert_eq!(
        classify_on(&mut host, &heating_message()),
        "0005.0005.0056.1164"
    );
    assert_eq!(indexed(&host), vec![import_key(0)]);
    classify_on(&mut host, &heating_message());
    assert_eq!(indexed(&host), vec![import_key(0), import_key(1)]);
}

#[test]
fn with_the_revision_unchanged_a_call_reads_only_the_index() {
    let corrected = "0005.0005.0056.1164";
    let mut host = MockHost::new();
    host.kv
        .insert(import_key(0), correction(corrected, HEATING));
    host.kv.insert(store::REVISION_KEY.into(), b"one".to_vec());
    let m = heating_message();
    assert_eq!(classify_on(&mut host, &m), corrected);
    assert!(host.kv.contains_key(store::HEAD_KEY));

    // A key written without a new revision is not listed, so not seen.
    host.kv
        .insert(import_key(1), correction("0003.0009.0097.0699", ROADS));
    classify_on(&mut host, &m);
    assert_eq!(indexed(&host), vec![import_key(0)]);

    // The hub's new revision makes the next call list and index it.
    host.kv.insert(store::REVISION_KEY.into(), b"two".to_vec());
    classify_on(&mut host, &m);
    assert_eq!(indexed(&host), vec![import_key(0), import_key(1)]);

    // A removed example stops voting once the revision says so.
    host.kv.remove(&import_key(0));
    host.kv
        .insert(store::REVISION_KEY.into(), b"three".to_vec());
    assert_ne!(classify_on(&mut host, &m), corrected);
    assert_eq!(indexed(&host), vec![import_key(1)]);
}

#[test]
fn shards_of_two_generations_are_merged_in_key_order() {
    let prepared = |text: &str| {
        prepare(&[Example {
            code: "0005.0005.0056.1164".into(),
            text: text.into(),
        }])
        .pop()
    };
    let (a, b, c) = (import_key(0), import_key(1), import_key(2));
    let mut host = MockHost::new();
    for key in [&a, &b, &c] {
        host.kv
            .insert(key.clone(), correction("0005.0005.0056.1164", HEATING));
    }
    // As a call cut short between two shard writes may leave them: a repeated key and
    // keys out of order.
    host.kv.insert(
        store::shard_key(0),
        store::encode(&[
            (a.clone(), prepared(HEATING)),
            (c.clone(), prepared(HEATING)),
        ]),
    );
    host.kv.insert(
        store::shard_key(1),
        store::encode(&[
            (b.clone(), prepared(HEATING)),
            (c.clone(), prepared(HEATING)),
        ]),
    );
    classify_on(&mut host, &heating_message());
    assert_eq!(indexed(&host), vec![a, b, c]);
    assert!(!host.kv.contains_key(&store::shard_key(1)));
}

fn fixture() -> Vec<crate::train::Labelled> {
    let rows: &[(&str, &str, &str)] = &[
        (
            "a",
            "Яма на дороге у дома, асфальт разбит",
            "0003.0009.0099.0742",
        ),
        (
            "a",
            "Разбита дорога, ямы на проезжей части",
            "0003.0009.0099.0742",
        ),
        (
            "a",
            "Не вывозят мусор, контейнеры переполнены",
            "0005.0005.0056.1161",
        ),
        (
            "a",
            "Мусор не вывозят неделю, контейнерная площадка",
            "0005.0005.0056.1161",
        ),
        (
            "b",
            "Ямы на дороге, нужен ремонт асфальта",
            "0003.0009.0099.0742",
        ),
        (
            "b",
            "Переполнены мусорные контейнеры во дворе",
            "0005.0005.0056.1161",
        ),
        ("b", "Спасибо за концерт в парке", "none"),
        ("b", "Спасибо за концерт", "none"),
    ];
    rows.iter()
        .map(|(s, t, c)| crate::train::Labelled {
            source: s.to_string(),
            text: t.to_string(),
            code: c.to_string(),
        })
        .collect()
}

#[test]
fn training_is_deterministic_and_its_model_reads_back() {
    let options = crate::train::TrainOptions::default();
    let (first, report) = crate::train::train(&fixture(), &options);
    let mut shuffled = fixture();
    shuffled.reverse();
    let (second, _) = crate::train::train(&shuffled, &options);
    assert_eq!(first, second, "the same texts give the same bytes");
    let model = crate::learned::Model::parse(&first).expect("parses");
    model.check().expect("labels are classifier entries");
    assert_eq!(model.labels(), 3, "two codes and none");
    assert!(report.features > 0 && report.pairs >= report.features);
    // Each source was held out once to choose the threshold.
    assert_eq!(report.calibration.len(), 2);
    let tokenizer = crate::text::Tokenizer::new();
    let p = model
        .posterior(&crate::learned::text_features(&tokenizer, "яма на дороге"))
        .expect("known words");
    let road = (0..model.labels())
        .find(|&i| model.label(i) == "0003.0009.0099.0742")
        .expect("the road label");
    let best = (0..model.labels())
        .max_by(|&a, &b| p.probabilities[a].total_cmp(&p.probabilities[b]))
        .unwrap();
    assert_eq!(best, road);
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn a_damaged_model_is_refused() {
    let (bytes, _) = crate::train::train(&fixture(), &crate::train::TrainOptions::default());
    assert!(crate::learned::Model::parse(&bytes[..bytes.len() - 1]).is_err());
    let mut wrong = bytes.clone();
    wrong[0] = b'X';
    assert!(crate::learned::Model::parse(&wrong).is_err());
    assert!(crate::learned::Model::parse(&[]).expect("empty").is_empty());
}

#[test]
fn the_embedded_model_names_classifier_entries() {
    let model = crate::learned::Model::embedded();
    model.check().expect("every label is its classifier entry");
}

#[test]
fn the_threshold_is_the_least_confidence_reaching_the_precision_goal() {
    use crate::train::choose_threshold;
    let judged = [
        (0.9, true),
        (0.8, true),
        (0.7, false),
        (0.6, true),
        (0.5, false),
        (0.4, false),
        (0.3, false),
    ];
    // At 0.6 three of four are right (75%); at 0.5, three of five (60%); at 0.4, 50%.
    assert_eq!(choose_threshold(&judged, 0.6), 0.5);
    assert_eq!(choose_threshold(&judged, 0.75), 0.6);
    assert_eq!(choose_threshold(&[(0.9, false)], 0.6), 1.0);
}

#[test]
fn a_label_at_the_tema_level_is_met_by_any_of_its_questions() {
    use crate::train::code_matches;
    assert!(code_matches("0003.0009.0099.0742", "0003.0009.0099.0000"));
    assert!(code_matches("0003.0009.0099.0742", "0003.0009.0099.0742"));
    assert!(!code_matches("0003.0009.0099.0729", "0003.0009.0099.0742"));
    assert!(!code_matches("0003.0009.0097.0699", "0003.0009.0099.0000"));
}
