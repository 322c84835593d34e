//! Russian text normalisation shared by the build script (which indexes the classifier at
//! compile time) and the plugin (which indexes appeals at run time): both sides must cut
//! words into exactly the same stems, or nothing would ever match.

use rust_stemmers::{Algorithm, Stemmer};

/// One word of a text: its stem and the word as written (lower case), kept so that a
/// reason can show `отоплен(ие)` rather than a bare stem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub stem: String,
    pub word: String,
}

/// Words that carry no topic: grammar, politeness formulas of an appeal, and the
/// bureaucratic filler that every appeal and every classifier entry share.
const STOP_WORDS: &[&str] = &[
    "а",
    "без",
    "более",
    "бы",
    "был",
    "была",
    "были",
    "было",
    "быть",
    "в",
    "вам",
    "вас",
    "весь",
    "во",
    "вот",
    "все",
    "всего",
    "всех",
    "вы",
    "где",
    "да",
    "даже",
    "для",
    "до",
    "его",
    "ее",
    "ей",
    "ему",
    "если",
    "есть",
    "еще",
    "же",
    "за",
    "здесь",
    "и",
    "из",
    "или",
    "им",
    "их",
    "к",
    "как",
    "какие",
    "какой",
    "ко",
    "когда",
    "кто",
    "ли",
    "либо",
    "мне",
    "мной",
    "мы",
    "на",
    "над",
    "нам",
    "нас",
    "не",
    "него",
    "нее",
    "нет",
    "ни",
    "них",
    "но",
    "ну",
    "о",
    "об",
    "он",
    "она",
    "они",
    "оно",
    "от",
    "по",
    "под",
    "при",
    "с",
    "со",
    "так",
    "также",
    "там",
    "то",
    "тогда",
    "того",
    "тоже",
    "только",
    "том",
    "тот",
    "ту",
    "у",
    "уже",
    "чем",
    "что",
    "чтобы",
    "эта",
    "эти",
    "это",
    "этот",
    "этого",
    "этой",
    "я",
    "мой",
    "моя",
    "мою",
    "моего",
    "моей",
    "мои",
    "моих",
    "наш",
    "наша",
    "наше",
    "наши",
    "нашего",
    "нашей",
    "наших",
    "ваш",
    "ваша",
    "вашего",
    "вашей",
    "свой",
    "своей",
    "свои",
    "свое",
    "своего",
    "своему",
    "своим",
    "своем",
    "своя",
    "свою",
    "своими",
    "своих",
    "себя",
    "себе",
    "который",
    "которая",
    "которые",
    "которого",
    "которой",
    "которых",
    "котором",
    "сам",
    "сама",
    "самом",
    "очень",
    "можно",
    "нельзя",
    "надо",
    "нужно",
    "будет",
    "будут",
    "может",
    "могу",
    "могут",
    "этом",
    "всё",
    "ещё",
    "её",
    "тк",
    "т",
    "д",
    "г",
    "ул",
    "кв",
    "пр",
    "т.д",
    "др",
    "пос",
    "здравствуйте",
    "добрый",
    "доброе",
    "день",
    "вечер",
    "утро",
    "уважаемый",
    "уважаемая",
    "уважаемые",
    "пожалуйста",
    "прошу",
    "просим",
    "спасибо",
    "заранее",
    "благодарю",
    "уважением",
    "подскажите",
    "хочу",
    "хотела",
    "хотел",
    "хотелось",
    "обращаюсь",
    "обращаемся",
    "обращение",
    "обращения",
    "вопрос",
    "вопросу",
    "вопросы",
    "вопроса",
    "ответ",
    "ответа",
    "ситуация",
    "ситуации",
    "данный",
    "данного",
    "данной",
    "данные",
    "данных",
    "связи",
    "т.е",
    "год",
    "года",
    "году",
    "лет",
    "время",
    "сих",
    "пор",
    "сегодня",
    "числе",
    "исключением",
    "иные",
    "иных",
    "иной",
    "других",
    "другие",
    "общие",
    "положения",
    "вопросов",
    "вопросами",
    "российской",
    "федерации",
    "рф",
    "субъектов",
    "субъекта",
    "отдельных",
    "категорий",
    "тч",
    "ст",
    "п",
    "н",
    "м",
    "г.о.г",
    "т.п",
    // Whom an appeal is addressed to and how it refers to itself say nothing of its topic.
    "администрация",
    "администрации",
    "администрацию",
    "глава",
    "главе",
    "губернатор",
    "губернатору",
    "губернатора",
    "правительство",
    "правительства",
    "министерство",
    "министерства",
    "департамент",
    "адрес",
    "адресу",
    "адреса",
    "просьба",
    "просьбу",
    "прошение",
    "часть",
    "части",
    "место",
    "месте",
    "места",
    "сторона",
    "стороны",
    "случае",
    "случай",
    "факт",
    "факту",
    "момент",
    "момента",
    "настоящее",
    "настоящий",
    "являюсь",
    "является",
    "являются",
    "имеется",
    "имеются",
    "указанный",
    "указанному",
    "вышеуказанный",
    "вышеуказанному",
    "результатам",
    "основании",
    "связанных",
    "связанные",
    "иное",
    // Pronouns, numerals and particles whose stems («эт», «мен», «им», «одн», «лиш»)
    // coincide with stems of the classifier's words.
    "этим",
    "этими",
    "этих",
    "этому",
    "эту",
    "меня",
    "менее",
    "ими",
    "ним",
    "ними",
    "лишь",
    "путем",
    "виде",
    "один",
    "одна",
    "одно",
    "одни",
    "одного",
    "одной",
    "одном",
    "одну",
    "одним",
    "иная",
    "иную",
    "иного",
    "против",
    "многие",
    "много",
    "какие-то",
    "какой-то",
    "каким",
    "образом",
    "почему",
    "сколько",
    "мая",
    "января",
    "февраля",
    "марта",
    "апреля",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
    "месяц",
    "месяца",
    "месяцев",
    "дней",
    "дня",
    "числа",
];

/// Lower-cases, folds `ё` into `е` and cuts the text into words of letters.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !okno_sdk::text::is_alphabetic(c) && c != '-')
        .flat_map(|w| w.split('-'))
        .filter(|w| !w.is_empty())
        .map(okno_sdk::text::to_lowercase_folded)
}

/// [`STOP_WORDS`] sorted, for a binary search. The list is kept in groups for reading;
/// sorting it when compiling spares every call (a fresh instance) a sort of some 350
/// strings, which inside the sandbox cost more than the appeal's own stemming.
const SORTED_STOP_WORDS: [&str; STOP_WORDS.len()] = {
    let mut sorted = [""; STOP_WORDS.len()];
    let mut i = 0;
    while i < sorted.len() {
        sorted[i] = STOP_WORDS[i];
        i += 1;
    }
    // Insertion sort: `const` code cannot call `sort`.
    let mut i = 1;
    while i < sorted.len() {
        let mut j = i;
        while j > 0 && bytes_less(sorted[j].as_bytes(), sorted[j - 1].as_bytes()) {
            let earlier = sorted[j - 1];
            sorted[j - 1] = sorted[j];
            sorted[j] = earlier;
            j -= 1;
        }
        i += 1;
    }
    sorted
};

/// `a < b` in the order of `str`'s `Ord` (bytewise), for `const` code.
const fn bytes_less(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

pub fn is_stop_word(word: &str) -> bool {
    SORTED_STOP_WORDS.binary_search(&word).is_ok()
}

/// Cuts the text into stemmed tokens, without stop words and one-letter words.
pub struct Tokenizer {
    stemmer: Stemmer,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    pub fn new() -> Self {
        Tokenizer {
            stemmer: Stemmer::create(Algorithm::Russian),
        }
    }

    pub fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut words: Vec<String> = words(text).collect();
        let mut spelt: Vec<String> = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            match code_of_law(&words[i], words.get(i + 1).map(String::as_str)) {
                Some((name, used)) => {
                    spelt.extend(name.split(' ').map(String::from));
                    i += used;
                }
                None => {
                    spelt.push(std::mem::take(&mut words[i]));
                    i += 1;
                }
            }
        }
        spelt
            .into_iter()
            .filter(|w| w.chars().count() > 1 && !is_stop_word(w))
            .map(|word| Token {
                stem: self.stem(&word),
                word,
            })
            .filter(|t| t.stem.chars().count() > 1)
            .collect()
    }
}

/// The code of law that an abbreviation names, and how many words it takes: «УК РФ» is
/// the criminal code, not a management company («УК»), and «ЖК РФ» or «ТК РФ» points to
/// housing or labour. Most of these abbreviations name a code only with «РФ» after them
/// («ЖК» alone is a housing estate); «КоАП» always does.
fn code_of_law(abbreviation: &str, next: Option<&str>) -> Option<(&'static str, usize)> {
    let with_rf = next == Some("рф");
    if abbreviation == "коап" {
        return Some((
            "кодекс об административных правонарушениях",
            1 + usize::from(with_rf),
        ));
    }
    if !with_rf {
        return None;
    }
    let name = match abbreviation {
        "ук" => "уголовный кодекс",
        "упк" => "уголовно-процессуальный кодекс",
        "гк" => "гражданский кодекс",
        "гпк" => "гражданский процессуальный кодекс",
        "жк" => "жилищный кодекс",
        "зк" => "земельный кодекс",
        "тк" => "трудовой кодекс",
        "нк" => "налоговый кодекс",
        "ск" => "семейный кодекс",
        "бк" => "бюджетный кодекс",
        _ => return None,
    };
    Some((name, 2))
}

/// FNV-1a of a stem: terms are kept as 32-bit hashes in the compiled index and in the
/// examples index, which keeps both small and makes a lookup a binary search.
pub fn term_hash(stem: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in stem.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_sorted_when_compiling_are_the_list_sorted() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(SORTED_STOP_WORDS.to_vec(), sorted);
        assert!(is_stop_word("свое") && is_stop_word("и") && !is_stop_word("отопление"));
    }
}
