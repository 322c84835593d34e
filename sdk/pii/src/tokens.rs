//! Splits text into words, numbers and punctuation with byte offsets, for the detectors
//! that reason about neighbouring words (addresses, names).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Letters, possibly joined by inner hyphens (`пр-т`, `Санкт-Петербург`).
    Word,
    /// Starts with a digit; may carry a letter or a fraction (`70а`, `12/3`).
    Number,
    /// Any other non-space character.
    Punct,
}

#[derive(Clone, Copy, Debug)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl<'a> Token<'a> {
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct && self.text.starts_with(c)
    }

    /// `Кострома`, `Северной`, `Санкт-Петербург`: upper-case first letter, then lower case.
    pub fn is_capitalised(&self) -> bool {
        if self.kind != TokenKind::Word {
            return false;
        }
        let mut chars = self.text.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        let mut after_hyphen = false;
        let mut lower_seen = false;
        for c in chars {
            if c == '-' {
                after_hyphen = true;
                continue;
            }
            if crate::text::is_uppercase(c) && !after_hyphen {
                return false;
            }
            lower_seen |= crate::text::is_lowercase(c);
            after_hyphen = false;
        }
        crate::text::is_uppercase(first) && lower_seen
    }

    /// Compares case-insensitively, reading `ё` as `е`, against a lower-case word.
    pub fn is(&self, lower: &str) -> bool {
        self.is_chars(lower.chars())
    }

    /// Same as `is(&format!("{head}{tail}"))`, without building the string: this runs
    /// for every capitalised word against every stem and ending.
    pub fn is_joined(&self, head: &str, tail: &str) -> bool {
        self.is_chars(head.chars().chain(tail.chars()))
    }

    fn is_chars(&self, mut b: impl Iterator<Item = char>) -> bool {
        let mut a = self.text.chars().map(fold);
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x == y => {}
                _ => return false,
            }
        }
    }

    pub fn is_any(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.is(w))
    }

    /// True when the lower-cased word ends with `suffix`.
    pub fn ends_with(&self, suffix: &str) -> bool {
        let n = suffix.chars().count();
        let total = self.text.chars().count();
        if total < n {
            return false;
        }
        self.text
            .chars()
            .skip(total - n)
            .map(fold)
            .eq(suffix.chars())
    }
}

fn fold(c: char) -> char {
    match c {
        'ё' | 'Ё' => 'е',
        _ => crate::text::lowercase_char(c),
    }
}

pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let kind = if crate::text::is_alphabetic(c) {
            TokenKind::Word
        } else if c.is_ascii_digit() {
            TokenKind::Number
        } else {
            TokenKind::Punct
        };
        let mut end = start + c.len_utf8();
        if kind != TokenKind::Punct {
            while let Some(&(i, n)) = chars.peek() {
                let joins = match kind {
                    TokenKind::Word => crate::text::is_alphabetic(n),
                    _ => crate::text::is_alphanumeric(n),
                };
                // An inner `-` or `/` belongs to the token only when a letter or digit follows.
                let inner = (n == '-' || (n == '/' && kind == TokenKind::Number))
                    && text[i + 1..].chars().next().is_some_and(|f| match kind {
                        TokenKind::Word => crate::text::is_alphabetic(f),
                        _ => crate::text::is_alphanumeric(f),
                    });
                if joins || inner {
                    end = i + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
        }
        tokens.push(Token {
            kind,
            text: &text[start..end],
            start,
            end,
        });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_numbers_and_punctuation() {
        let t = tokenize("г. Кострома, пр-т Мира, д. 70а, кв. 12/3");
        let texts: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(
            texts,
            [
                "г",
                ".",
                "Кострома",
                ",",
                "пр-т",
                "Мира",
                ",",
                "д",
                ".",
                "70а",
                ",",
                "кв",
                ".",
                "12/3"
            ]
        );
        assert!(t[2].is_capitalised());
        assert!(!t[4].is_capitalised());
        assert_eq!(t[9].kind, TokenKind::Number);
    }

    #[test]
    fn compares_ignoring_case_and_yo() {
        let t = tokenize("Посёлок");
        assert!(t[0].is("поселок"));
        assert!(t[0].ends_with("лок"));
        assert!(!tokenize("МФЦ")[0].is_capitalised());
    }
}
