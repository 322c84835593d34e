//! Full names: surname, given name and patronymic (`Иванов Иван Иванович`, in any case:
//! `Ивановой Анне Петровне`), the same with the surname last, and `Иванов И. И.`.
//! The patronymic is what makes a run of capitalised words a name.

use crate::tokens::Token;
use crate::{Kind, Span};

/// Patronymic endings with their case forms, longest first.
const PATRONYMIC: &[&str] = &[
    "инична",
    "иничны",
    "иничне",
    "иничну",
    "иничной",
    "ович",
    "овича",
    "овичу",
    "овичем",
    "овиче",
    "евич",
    "евича",
    "евичу",
    "евичем",
    "евиче",
    "овна",
    "овны",
    "овне",
    "овну",
    "овной",
    "евна",
    "евны",
    "евне",
    "евну",
    "евной",
    "ична",
    "ичны",
    "ичне",
    "ичну",
    "ичной",
];
/// Old short patronymics: `Ильич`, `Фомич`, `Кузьмич`, `Лукич`, `Никитич`, `Саввич`.
const SHORT_PATRONYMIC_STEMS: &[&str] =
    &["ильич", "фомич", "кузьмич", "лукич", "никитич", "саввич"];
const CASE_ENDINGS: &[&str] = &["", "а", "у", "ем", "е"];

/// Capitalised words that start sentences or address people and are never surnames.
const NOT_SURNAME: &[&str] = &[
    "я",
    "мы",
    "вы",
    "уважаемый",
    "уважаемая",
    "уважаемые",
    "дорогой",
    "дорогая",
    "прошу",
    "просим",
    "гражданин",
    "гражданка",
    "заявитель",
    "заявительница",
    "господин",
    "госпожа",
    "товарищ",
    "мой",
    "моя",
    "мою",
    "моего",
    "моей",
    "моему",
    "директор",
    "врач",
    "сосед",
    "соседка",
    "от",
    "для",
    "на",
    "по",
    "здравствуйте",
    "спасибо",
    "благодарю",
    "пишет",
    "обращается",
    "жалоба",
    "заявление",
];

fn is_patronymic(t: &Token) -> bool {
    if !t.is_capitalised() {
        return false;
    }
    (t.text.chars().count() >= 6 && PATRONYMIC.iter().any(|e| t.ends_with(e)))
        || SHORT_PATRONYMIC_STEMS
            .iter()
            .any(|stem| CASE_ENDINGS.iter().any(|end| t.is_joined(stem, end)))
}

fn is_name_word(t: &Token) -> bool {
    t.is_capitalised() && t.text.chars().count() >= 2 && !t.is_any(NOT_SURNAME) && !is_patronymic(t)
}

/// `И.` — one upper-case letter and a dot.
fn is_initial(tokens: &[Token], i: usize) -> bool {
    let Some(t) = tokens.get(i) else { return false };
    let mut chars = t.text.chars();
    let one_upper = chars.next().is_some_and(crate::text::is_uppercase) && chars.next().is_none();
    one_upper && t.is_word() && tokens.get(i + 1).is_some_and(|d| d.is_punct('.'))
}

/// True when nothing but spaces separates the two tokens (no line break inside a name).
fn adjacent(text: &str, a: &Token, b: &Token) -> bool {
    text[a.end..b.start]
        .chars()
        .all(|c| c == ' ' || c == '\u{a0}')
}

pub fn find(text: &str, tokens: &[Token], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if is_patronymic(t)
            && i >= 1
            && is_name_word(&tokens[i - 1])
            && adjacent(text, &tokens[i - 1], t)
        {
            let given = &tokens[i - 1];
            if i >= 2 && is_name_word(&tokens[i - 2]) && adjacent(text, &tokens[i - 2], given) {
                out.push(Span {
                    kind: Kind::Name,
                    start: tokens[i - 2].start,
                    end: t.end,
                });
                i += 1;
                continue;
            }
            if let Some(surname) = tokens
                .get(i + 1)
                .filter(|s| is_name_word(s) && adjacent(text, t, s))
            {
                out.push(Span {
                    kind: Kind::Name,
                    start: given.start,
                    end: surname.end,
                });
                i += 2;
                continue;
            }
        }
        if is_name_word(t) && is_initial(tokens, i + 1) && is_initial(tokens, i + 3) {
            out.push(Span {
                kind: Kind::Name,
                start: t.start,
                end: tokens[i + 4].end,
            });
            i += 5;
            continue;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::tokenize;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &tokenize(text), &mut out);
        out.iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn triplets_in_any_case_and_order() {
        assert_eq!(
            found("Я, Иванов Иван Иванович, прошу"),
            ["Иванов Иван Иванович"]
        );
        assert_eq!(
            found("благодарю Смирновой Анне Петровне"),
            ["Смирновой Анне Петровне"]
        );
        assert_eq!(
            found("от Денисовой Юлии Никитичны"),
            ["Денисовой Юлии Никитичны"]
        );
        assert_eq!(
            found("Заявитель Шарапов Геннадий Фомич."),
            ["Шарапов Геннадий Фомич"]
        );
        assert_eq!(
            found("Прошу Петрова Петра Ильича вызвать"),
            ["Петрова Петра Ильича"]
        );
        assert_eq!(
            found("писал Пётр Ильич Чайковский"),
            ["Пётр Ильич Чайковский"]
        );
        assert_eq!(found("подписал Петров А. С. вчера"), ["Петров А. С."]);
    }

    #[test]
    fn greetings_and_lone_words_are_not_names() {
        assert!(found("Уважаемый Иван Петрович, добрый день").is_empty());
        assert!(found("В г. Костроме нет мест").is_empty());
        assert!(found("Иванов\nИван Иванович").is_empty());
        assert!(found("на ул. Маршала Новикова").is_empty());
    }
}
