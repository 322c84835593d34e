//! Client segments read from the text: the author says «я пенсионер», «инвалид II группы»,
//! «многодетная мать», «ИП», «по доверенности». A classifier cannot set
//! `client.segments`, so these become tags `segment:<name>`, which the `priority` policy
//! counts like the connector's segments.
//!
//! A cue is a sequence of word patterns within one sentence, at most two words apart
//! (as for the kind cues). An alternative ending in `*` matches a word's beginning; any
//! other must equal the whole lower-case word, so `инвалид` does not match «инвалидная
//! коляска» and `пенсионер*` does not match «пенсионный фонд». An alternative written in
//! capitals (`ИП`, `ООО`) must match the word as written.

use super::{Word, MAX_GAP};

struct SegmentCue {
    segment: &'static str,
    words: &'static [&'static str],
}

const fn cue(segment: &'static str, words: &'static [&'static str]) -> SegmentCue {
    SegmentCue { segment, words }
}

const CUES: &[SegmentCue] = &[
    cue("senior", &["пенсионер*"]),
    cue("senior", &["пожилого|преклонного|пенсионного", "возраста"]),
    cue("senior", &["ветеран*", "труда"]),
    cue(
        "disabled",
        &["инвалид|инвалида|инвалидом|инвалиды|инвалидов|инвалидность|инвалидности|инвалидностью"],
    ),
    cue(
        "disabled",
        &["ребенок-инвалид*|ребенка-инвалида|ребенку-инвалиду|ребенком-инвалидом"],
    ),
    cue("large-family", &["многодетн*"]),
    cue(
        "large-family",
        &[
            "трое|четверо|пятеро|шестеро|троих|четверых|пятерых",
            "детей",
        ],
    ),
    cue("entrepreneur", &["ИП"]),
    cue("entrepreneur", &["индивидуальн*", "предпринимател*"]),
    cue(
        "entrepreneur",
        &["предприниматель|предпринимателем|предпринимательница"],
    ),
    cue("self-employed", &["самозанят*"]),
    cue("self-employed", &["налог*", "на", "профессиональный"]),
    cue("representative", &["по", "доверенности"]),
    cue(
        "representative",
        &[
            "в",
            "интересах",
            "моего|моей|моих|сына|дочери|матери|отца|мужа|жены|брата|сестры|бабушки|дедушки|\
             несовершеннолетн*|гражданина|гражданки|подопечн*|доверител*",
        ],
    ),
    cue("representative", &["представляю|представляя", "интересы"]),
    cue("representative", &["законный|законным", "представител*"]),
    cue(
        "representative",
        &["опекун|опекуном|попечитель|попечителем"],
    ),
    cue(
        "organisation",
        &["ООО|АО|ПАО|ЗАО|ОАО|ТСЖ|ТСН|СНТ|АНО|НКО|МУП|ГУП|ЖСК"],
    ),
    cue(
        "organisation",
        &[
            "от",
            "имени",
            "организации|компании|предприятия|общества|учреждения|товарищества",
        ],
    ),
    cue("organisation", &["генеральн*", "директор*"]),
    cue("organisation", &["председател*", "правления"]),
];

fn alternative_matches(alternative: &str, word: &Word) -> bool {
    if alternative.chars().all(|c| !c.is_lowercase()) {
        return word.original == alternative;
    }
    match alternative.strip_suffix('*') {
        Some(prefix) => word.lower.starts_with(prefix),
        None => word.lower == alternative,
    }
}

fn pattern_matches(pattern: &str, word: &Word) -> bool {
    pattern.split('|').any(|alt| alternative_matches(alt, word))
}

fn occurs(patterns: &[&str], words: &[Word]) -> bool {
    (0..words.len()).any(|first| {
        if !pattern_matches(patterns[0], &words[first]) {
            return false;
        }
        let mut at = first;
        for pattern in &patterns[1..] {
            let next = (at + 1..=at + 1 + MAX_GAP)
                .take_while(|j| *j < words.len() && words[*j].sentence == words[first].sentence)
                .find(|j| pattern_matches(pattern, &words[*j]));
            match next {
                Some(j) => at = j,
                None => return false,
            }
        }
        true
    })
}

/// The segments the text names, each once, in the order of [`CUES`].
pub(crate) fn segments(words: &[Word]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in CUES {
        if !out.contains(&c.segment) && occurs(c.words, words) {
            out.push(c.segment);
        }
    }
    out
}
