//! E-mail addresses, Latin or Cyrillic (`почта@пример.рф`).

use crate::{Kind, Span};

fn local_char(c: char) -> bool {
    crate::text::is_alphanumeric(c) || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn domain_char(c: char) -> bool {
    crate::text::is_alphanumeric(c) || matches!(c, '.' | '-')
}

pub fn find(text: &str, out: &mut Vec<Span>) {
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let mut start = start;
        // A sentence may end right before the address: `...почту.ivanov@mail.ru` is rare,
        // but a leading dot is never part of a valid local part.
        while text[start..at].starts_with(['.', '-']) {
            start += 1;
        }
        let domain_len: usize = text[at + 1..]
            .chars()
            .take_while(|c| domain_char(*c))
            .map(char::len_utf8)
            .sum();
        let domain = text[at + 1..at + 1 + domain_len].trim_end_matches(['.', '-']);
        if start == at || !valid_domain(domain) {
            continue;
        }
        out.push(Span {
            kind: Kind::Email,
            start,
            end: at + 1 + domain.len(),
        });
    }
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && labels.last().is_some_and(|tld| {
            tld.chars().count() >= 2 && tld.chars().all(crate::text::is_alphabetic)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut out);
        out.iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn addresses_and_their_edges() {
        assert_eq!(found("пишите на ivanov.i@mail.ru."), ["ivanov.i@mail.ru"]);
        assert_eq!(
            found("(mama_lena@kostroma.gov.ru)"),
            ["mama_lena@kostroma.gov.ru"]
        );
        assert_eq!(
            found("почта@администрация.рф, спасибо"),
            ["почта@администрация.рф"]
        );
        assert!(found("встреча @ 10:00").is_empty());
        assert!(found("user@localhost").is_empty());
    }
}
