//! Postal addresses: a chain of parts such as `156000, Костромская обл., г. Кострома,
//! ул. Ленина, д. 5, кв. 12`. A city or a street alone is not personal data; a chain
//! counts when it reaches a house (or starts with a postal index), so the span is the
//! address someone can be found at.

use crate::tokens::{Token, TokenKind};
use crate::{Kind, Span};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Index,
    Region,
    Place,
    Street,
    House,
    Unit,
}

const PLACE: &[&str] = &[
    "г",
    "город",
    "пгт",
    "пос",
    "поселок",
    "с",
    "село",
    "дер",
    "деревня",
    "п",
    "д",
];
const STREET: &[&str] = &[
    "ул",
    "улица",
    "пр-т",
    "проспект",
    "пр",
    "пер",
    "переулок",
    "пл",
    "площадь",
    "б-р",
    "бульвар",
    "ш",
    "шоссе",
    "наб",
    "набережная",
    "мкр",
    "мкрн",
    "микрорайон",
    "проезд",
    "туп",
    "тупик",
];
const HOUSE: &[&str] = &["д", "дом"];
const UNIT: &[&str] = &[
    "корп",
    "корпус",
    "к",
    "стр",
    "строение",
    "кв",
    "квартира",
    "оф",
    "офис",
    "комн",
    "комната",
];
const REGION: &[&str] = &[
    "обл",
    "область",
    "р-н",
    "район",
    "край",
    "респ",
    "республика",
];
/// Markers that read as abbreviations only with a dot: `с.`, `п.`, `д.`, `к.`, `ш.`.
const NEEDS_DOT: &[&str] = &["с", "п", "д", "к", "ш", "г"];

/// Skips the marker and its dot; `None` when a one-letter marker has no dot.
fn after_marker(tokens: &[Token], i: usize) -> Option<usize> {
    let dot = tokens.get(i + 1).is_some_and(|t| t.is_punct('.'));
    if tokens[i].is_any(NEEDS_DOT) && !dot {
        return None;
    }
    Some(if dot { i + 2 } else { i + 1 })
}

/// A proper name after a marker: up to three capitalised words or numbers (`8 Марта`).
fn name_end(tokens: &[Token], from: usize) -> Option<usize> {
    let mut end = None;
    let mut j = from;
    while j < tokens.len() && j < from + 3 {
        let t = &tokens[j];
        let marker = t.is_any(HOUSE) || t.is_any(UNIT);
        if t.is_capitalised() && !marker {
            end = Some(j);
        } else if t.kind == TokenKind::Number
            && j + 1 < tokens.len()
            && tokens[j + 1].is_capitalised()
        {
            // a number only starts or continues a name when a word follows it
        } else {
            break;
        }
        j += 1;
    }
    end
}

/// One part starting at token `i`: its kind and the index of its last token.
fn part(tokens: &[Token], i: usize) -> Option<(Part, usize)> {
    let t = &tokens[i];
    match t.kind {
        TokenKind::Number => {
            let six = t.text.len() == 6 && t.text.bytes().all(|b| b.is_ascii_digit());
            let first_ok = matches!(t.text.as_bytes()[0], b'1'..=b'6');
            (six && first_ok).then_some((Part::Index, i))
        }
        TokenKind::Word => {
            if t.is_capitalised() && tokens.get(i + 1).is_some_and(|n| n.is_any(REGION)) {
                let end = if tokens.get(i + 2).is_some_and(|d| d.is_punct('.')) {
                    i + 2
                } else {
                    i + 1
                };
                return Some((Part::Region, end));
            }
            let next = after_marker(tokens, i)?;
            let follow = tokens.get(next)?;
            if (t.is_any(HOUSE) || t.is_any(UNIT)) && follow.kind == TokenKind::Number {
                let kind = if t.is_any(HOUSE) {
                    Part::House
                } else {
                    Part::Unit
                };
                return Some((kind, next));
            }
            if t.is_any(STREET) {
                return name_end(tokens, next).map(|e| (Part::Street, e));
            }
            if t.is_any(PLACE) {
                return name_end(tokens, next).map(|e| (Part::Place, e));
            }
            None
        }
        TokenKind::Punct => None,
    }
}

pub fn find(tokens: &[Token], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < tokens.len() {
        let mut parts = Vec::new();
        let mut j = i;
        let mut last = i;
        while j < tokens.len() {
            let Some((kind, end)) = part(tokens, j) else {
                break;
            };
            if kind == Part::Index && !parts.is_empty() {
                break;
            }
            parts.push(kind);
            last = end;
            j = end + 1;
            if tokens.get(j).is_some_and(|t| t.is_punct(',')) {
                j += 1;
            }
        }
        let has = |k: Part| parts.contains(&k);
        let indexed = parts.first() == Some(&Part::Index);
        let housed = has(Part::House) && (has(Part::Street) || has(Part::Place));
        if housed || (indexed && (has(Part::Place) || has(Part::Street))) {
            out.push(Span {
                kind: Kind::Address,
                start: tokens[i].start,
                end: tokens[last].end,
            });
            i = last + 1;
        } else if indexed && i > 0 && tokens[i - 1].is("индекс") {
            // `индекс 156000` on its own still narrows a person down to a few streets.
            out.push(Span {
                kind: Kind::Address,
                start: tokens[i].start,
                end: tokens[i].end,
            });
            i += 1;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::tokenize;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(&tokenize(text), &mut out);
        out.iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn full_and_short_addresses() {
        let a = "156000, г. Кострома, ул. Ленина, д. 5, кв. 12";
        assert_eq!(found(&format!("живу по адресу: {a}.")), [a]);
        assert_eq!(
            found("на ул. 8 Марта, дом 94, квартира 31 нет света"),
            ["ул. 8 Марта, дом 94, квартира 31"]
        );
        assert_eq!(
            found("с. Сусанино, ул. Ленина, д. 1"),
            ["с. Сусанино, ул. Ленина, д. 1"]
        );
        assert_eq!(
            found("157234, Костромская обл., г. Шарья, ул. Московская, д. 83"),
            ["157234, Костромская обл., г. Шарья, ул. Московская, д. 83"]
        );
        assert_eq!(found("индекс 156013, прошу учесть"), ["156013"]);
        assert_eq!(found("Индекс 157344, Костромская область."), ["157344"]);
    }

    #[test]
    fn a_city_or_street_alone_is_not_an_address() {
        assert!(found("В г. Костроме не хватает мест").is_empty());
        assert!(found("На ул. Ленина снова прорвало трубу.").is_empty());
        assert!(found("Выплата 150000 рублей положена").is_empty());
        assert!(found("Площадь квартиры 54,3 кв. м").is_empty());
    }
}
