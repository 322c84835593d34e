//! The cues. A cue is a sequence of word patterns that must appear in order within one
//! sentence, at most two words apart. A pattern lists alternatives split by `|`; each
//! is a lower-case stem (`ё` as `е`): four letters or more match as a word prefix, a
//! shorter one must equal the word's stem.

use okno_sdk::prelude::AppealKind;
use AppealKind::*;

pub struct Cue {
    pub kind: AppealKind,
    pub words: &'static [&'static str],
    pub weight: f32,
}

const fn cue(kind: AppealKind, words: &'static [&'static str], weight: f32) -> Cue {
    Cue {
        kind,
        words,
        weight,
    }
}

/// Full forms: a four-letter stem such as `прош` would also match `прошёл`.
const ASK: &str = "прошу|просим|просил|просьб";

pub const CUES: &[Cue] = &[
    // Inquiry: asking to be told or explained something.
    cue(Inquiry, &[ASK, "разъясн|поясн|сообщ|уточн|консульт|информир|дать"], 2.5),
    cue(Inquiry, &["подскаж|подскаж"], 2.5),
    cue(Inquiry, &["разъясн|поясн|объясните|уточните"], 2.0),
    cue(Inquiry, &["как", "получ|оформ|записа|узна|продл|рассчит|встать|стать"], 2.0),
    cue(Inquiry, &["хочу|хотел|хотела|хотелось", "узна"], 2.0),
    cue(Inquiry, &["интерес"], 2.0),
    cue(Inquiry, &["консультац"], 2.0),
    cue(Inquiry, &["что", "нужн|необходим|требует"], 1.5),
    cue(Inquiry, &["вопрос"], 0.5),
    cue(Inquiry, &["какие|какой|какая|каков|где|куда|когда|сколько|почему|зачем|положен"], 1.0),
    cue(Inquiry, &["можно|возможно|имею|существует|положена|положен", "ли"], 1.5),
    // Proposal: suggesting a change.
    cue(Proposal, &["предлага|предлож"], 2.5),
    cue(Proposal, &["было|будет", "бы", "хорош|неплох|здоров|целесообраз|удобн|правильн"], 2.5),
    cue(Proposal, &["хорош", "бы"], 2.5),
    cue(Proposal, &["хотелось", "бы", "чтоб"], 2.0),
    cue(Proposal, &["целесообраз"], 2.0),
    cue(Proposal, &["имеет", "смысл"], 2.0),
    cue(Proposal, &["стоит", "сдела|установ|организ"], 1.5),
    cue(Proposal, &["может", "стоит"], 1.5),
    cue(Proposal, &["рекоменд"], 2.0),
    cue(Proposal, &["инициатив"], 2.0),
    cue(Proposal, &["иде"], 2.0),
    // Statement: asking for something to be done for the author.
    cue(
        Statement,
        &[
            ASK,
            "предостав|выда|выдел|оказа|рассмотр|назнач|включ|произв|приня|постав|направ|восстанов|обеспеч|\
             установ|компенс|продл|перев|зачисл|оформ|провест|отремонт|разреш|организ|выплат|перенест|зарегистр",
        ],
        2.0,
    ),
    cue(Statement, &[ASK], 1.0),
    cue(Statement, &["заявлен"], 0.5),
    // Complaint: rights violated, officials failing, demands for action.
    cue(Complaint, &["жалоб|жалу|пожалова"], 3.0),
    cue(Complaint, &["обжалу"], 3.0),
    cue(Complaint, &["наруш"], 2.0),
    cue(Complaint, &["бездейств|бездейству"], 2.5),
    cue(Complaint, &["незакон|неправомер"], 2.5),
    cue(Complaint, &["отказал|отказыва|отказа"], 1.0),
    cue(Complaint, &["требу"], 2.0),
    cue(Complaint, &["возмущ|возмут|безобраз|хамств|нагруб|груб"], 2.0),
    cue(Complaint, &["отписк"], 2.0),
    cue(Complaint, &["превыс"], 2.0),
    cue(Complaint, &["обман"], 1.5),
    cue(Complaint, &[ASK, "приня|провест", "мер|провер"], 3.0),
    cue(Complaint, &["привлеч|наказа", "ответствен|виновн"], 3.0),
    cue(Complaint, &["наказа"], 2.0),
    cue(Complaint, &["разобрать"], 2.0),
    cue(Complaint, &["не", "соглас"], 2.5),
    cue(Complaint, &["никто|ничего", "не"], 1.5),
    cue(Complaint, &["не", "реагир"], 1.5),
    cue(Complaint, &["сколько", "можно"], 2.5),
    // Gratitude.
    cue(Gratitude, &["благодар|поблагодар"], 3.0),
    cue(Gratitude, &["спасиб"], 3.0),
    cue(Gratitude, &["признател"], 3.0),
    // Other: notices and cover letters, when nothing else is asked.
    cue(Other, &["сообща|уведомля|информиру|направля|прилага|пересыла|отзыва|дополнен"], 1.0),
    cue(Other, &["во", "вложен"], 1.0),
];

/// Cues that the text refers to an earlier appeal on the same matter.
pub const REPEAT: &[&[&str]] = &[
    &["повторн"],
    &[
        "ранее|уже|прежде",
        "обраща|обращал|направлял|писал|подавал|поданн|обращени|заявлени",
    ],
    &["обращал|направлял|писал|подавал", "ранее|уже|прежде"],
    &["ответ|ответа", "на", "обращени|заявлени|письм|жалоб|запрос"],
    &["предыдущ|прежн", "обращени|письм|заявлени|жалоб"],
    &["второй|третий|очередной|который|пятый|четвертый", "раз"],
    &[
        "второе|третье|очередное|повторное",
        "обращени|заявлени|письм",
    ],
    &[
        "мое|моему|моего|моей|моим",
        "обращени|заявлени|письм|предложени",
        "от|№",
    ],
    &["к|по", "обращени|заявлени", "№"],
    &["ваш|ваша|вашу|вашей", "отписк|ответ"],
    &["снова|опять", "жалу|обраща|пишу"],
    &["жалу|обраща|пишу", "снова|опять"],
    &["соглас", "с", "ответ"],
    &["осталось|остался|остались", "без", "ответ|рассмотрен"],
];
