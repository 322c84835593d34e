//! Identifiers written with digits: phones, SNILS, INN, passports and bank cards.
//!
//! The text is cut into runs of digit groups joined by the separators people type inside
//! numbers (space, `-`, brackets). Every contiguous part of a run is then tried against
//! each identifier's shape and checksum, so a phone glued to a house number still
//! matches, and a sum like `12 500` never does.

use crate::checksum::{inn_ok, luhn_ok, snils_ok};
use crate::{Kind, Span};

#[derive(Clone, Copy, Debug)]
struct Group {
    start: usize,
    end: usize,
}

/// The lower-cased text just before `pos`, about `bytes` long, for context words.
fn before(text: &str, pos: usize, bytes: usize) -> String {
    let mut from = pos.saturating_sub(bytes);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    crate::text::to_lowercase_folded(&text[from..pos])
}

fn is_word_char(c: char) -> bool {
    crate::text::is_alphanumeric(c) || c == '_'
}

/// Runs of digit groups; a run breaks on anything that is not a separator.
fn runs(text: &str) -> Vec<Vec<Group>> {
    let bytes = text.as_bytes();
    let mut runs: Vec<Vec<Group>> = Vec::new();
    let mut current: Vec<Group> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let group = Group { start, end: i };
        let glued_before = text[..start].chars().next_back().is_some_and(is_word_char);
        let glued_after = text[i..]
            .chars()
            .next()
            .is_some_and(|c| crate::text::is_alphabetic(c) || c == '_');
        let joins_current = current
            .last()
            .is_some_and(|last| is_separator(&text[last.end..start]));
        if !joins_current && !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
        if glued_before || glued_after {
            // `70а`, `A1234`: part of a word, never an identifier; it also ends a run.
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            continue;
        }
        current.push(group);
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn is_separator(between: &str) -> bool {
    !between.is_empty()
        && between.len() <= 3
        && between
            .chars()
            .all(|c| matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}'))
        && between
            .chars()
            .filter(|c| *c == ' ' || *c == '\u{a0}')
            .count()
            <= 1
}

struct Candidate<'a> {
    text: &'a str,
    groups: &'a [Group],
    digits: Vec<u8>,
}

impl Candidate<'_> {
    fn lens(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.end - g.start).collect()
    }

    fn separators(&self) -> Vec<&str> {
        self.groups
            .windows(2)
            .map(|w| &self.text[w[0].end..w[1].start])
            .collect()
    }

    fn start(&self) -> usize {
        self.groups[0].start
    }

    fn end(&self) -> usize {
        self.groups[self.groups.len() - 1].end
    }
}

fn card(c: &Candidate) -> bool {
    let n = c.digits.len();
    if !(13..=19).contains(&n) || !(2..=6).contains(&c.digits[0]) || !luhn_ok(&c.digits) {
        return false;
    }
    let lens = c.lens();
    let seps = c.separators();
    let uniform =
        seps.windows(2).all(|w| w[0] == w[1]) && seps.iter().all(|s| *s == " " || *s == "-");
    let fours = lens[..lens.len() - 1].iter().all(|l| *l == 4);
    lens.len() == 1 || (uniform && fours)
}

fn snils(c: &Candidate, text: &str) -> bool {
    if c.digits.len() != 11 || !snils_ok(&c.digits) {
        return false;
    }
    let lens = c.lens();
    lens == [3, 3, 3, 2] || (lens.len() == 1 && before(text, c.start(), 40).contains("снилс"))
}

fn inn(c: &Candidate, text: &str) -> bool {
    if c.groups.len() != 1 || !inn_ok(&c.digits) {
        return false;
    }
    // A registration or case number that happens to pass the check is not an INN.
    let context = before(text, c.start(), 24);
    let context = context.trim_end();
    !(context.ends_with('№') || context.ends_with("номер") || context.ends_with("n"))
}

fn passport(c: &Candidate, text: &str) -> bool {
    if c.digits.len() != 10 {
        return false;
    }
    let lens = c.lens();
    let spaced = c.separators().iter().all(|s| *s == " ");
    spaced && (lens == [2, 2, 6] || (lens == [4, 6] && passport_context(text, c.start())))
}

fn passport_context(text: &str, pos: usize) -> bool {
    let context = before(text, pos, 60);
    context.contains("паспорт") || context.contains("сери")
}

fn phone(c: &Candidate, text: &str) -> bool {
    let plus = text[..c.start()].ends_with('+');
    let d = &c.digits;
    let national_ok = d.len() == 11 && matches!(d[1], 3 | 4 | 8 | 9);
    // `+7` and `7` are the country code; `8` is the trunk prefix and never follows `+`.
    national_ok && (d[0] == 7 || (!plus && d[0] == 8))
}

/// Finds digit-written identifiers, possibly overlapping; the caller resolves overlaps.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let runs = runs(text);
    for run in &runs {
        for i in 0..run.len() {
            for j in (i..run.len()).rev() {
                let groups = &run[i..=j];
                let digits: Vec<u8> = groups
                    .iter()
                    .flat_map(|g| text.as_bytes()[g.start..g.end].iter().map(|b| b - b'0'))
                    .collect();
                if digits.len() > 19 {
                    continue;
                }
                let c = Candidate {
                    text,
                    groups,
                    digits,
                };
                let kind = if card(&c) {
                    Kind::Card
                } else if snils(&c, text) {
                    Kind::Snils
                } else if inn(&c, text) {
                    Kind::Inn
                } else if passport(&c, text) {
                    Kind::Passport
                } else if phone(&c, text) {
                    Kind::Phone
                } else {
                    continue;
                };
                let mut start = c.start();
                if kind == Kind::Phone && text[..start].ends_with('+') {
                    start -= 1;
                }
                out.push(Span {
                    kind,
                    start,
                    end: c.end(),
                });
            }
        }
    }
    numbered_passports(text, &runs, out);
}

/// `серия 4508 № 123456`, `45 08 номер 123456`: the sign or word splits the number in two runs.
fn numbered_passports(text: &str, runs: &[Vec<Group>], out: &mut Vec<Span>) {
    for pair in runs.windows(2) {
        let (series, number) = (&pair[0], &pair[1]);
        let lens: Vec<usize> = series.iter().map(|g| g.end - g.start).collect();
        let series_start = match lens.as_slice() {
            [.., 2, 2]
                if &text[series[series.len() - 2].end..series[series.len() - 1].start] == " " =>
            {
                series[series.len() - 2].start
            }
            [.., 4] => series[series.len() - 1].start,
            _ => continue,
        };
        let first = number[0];
        if first.end - first.start != 6 {
            continue;
        }
        let between = text[series[series.len() - 1].end..first.start]
            .trim()
            .to_lowercase();
        let linked = matches!(
            between.as_str(),
            "№" | "n" | "номер" | "no" | ", №" | ", номер"
        );
        if linked && passport_context(text, series_start) {
            out.push(Span {
                kind: Kind::Passport,
                start: series_start,
                end: first.end,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(Kind, &str)> {
        let mut out = Vec::new();
        find(text, &mut out);
        out.iter()
            .map(|s| (s.kind, &text[s.start..s.end]))
            .collect()
    }

    #[test]
    fn phones_in_common_formats() {
        for p in [
            "+7 (912) 345-67-89",
            "8 912 3456789",
            "89123456789",
            "+79123456789",
            "8(4942)31-22-45",
        ] {
            let text = format!("тел. {p}, звоните");
            assert!(
                found(&text).contains(&(Kind::Phone, p)),
                "{p}: {:?}",
                found(&text)
            );
        }
    }

    #[test]
    fn sums_dates_and_numbers_are_not_identifiers() {
        for text in [
            "сумма 12 500 руб.",
            "от 12.03.2024",
            "обращение № 15-2024/388",
            "статус заявки 2024-000178-55",
            "код подразделения 440-001",
            "дом 70а",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn checksums_decide() {
        assert_eq!(
            found("СНИЛС 112-233-445 95"),
            [(Kind::Snils, "112-233-445 95")]
        );
        assert!(found("СНИЛС 112-233-445 96").is_empty());
        assert_eq!(found("ИНН 7707083893"), [(Kind::Inn, "7707083893")]);
        assert!(found("письмо № 7707083893").is_empty());
        assert_eq!(
            found("карта 4111 1111 1111 1111."),
            [(Kind::Card, "4111 1111 1111 1111")]
        );
        assert!(found("карта 4111 1111 1111 1112.").is_empty());
    }

    #[test]
    fn passports_with_and_without_sign() {
        assert!(found("паспорт 45 08 123456").contains(&(Kind::Passport, "45 08 123456")));
        assert!(found("серия 4508 № 123456 выдан").contains(&(Kind::Passport, "4508 № 123456")));
        assert!(found("паспорт 4508 123456").contains(&(Kind::Passport, "4508 123456")));
        // Without the word "паспорт" or "серия" ten grouped digits are just a number.
        assert!(!found("итого 4508 123456")
            .iter()
            .any(|(k, _)| *k == Kind::Passport));
    }
}
