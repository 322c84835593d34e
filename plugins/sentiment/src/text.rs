//! Words of a text with what sentiment rules need around them: quotes, shouting and
//! the clause each word is in.

pub struct Word {
    /// Lower-case, `ё` read as `е`.
    pub lower: String,
    /// The word as written, for reasons.
    pub original: String,
    /// Inside «», "" or „“ quotes; `quote` is the quote's index.
    pub quote: Option<usize>,
    /// Index of the clause: punctuation other than quotes and hyphens starts a new one.
    pub clause: usize,
    /// Written in capitals and long enough not to be an abbreviation like МФЦ.
    pub shouted: bool,
}

pub struct Quote {
    /// The quoted text starts with a lower-case letter: an ordinary word set apart,
    /// not a name like «Солнышко».
    pub lower_start: bool,
}

pub struct Text {
    pub words: Vec<Word>,
    pub quotes: Vec<Quote>,
    /// Runs of two or more `!`.
    pub exclamations: usize,
}

fn fold(c: char) -> char {
    match c {
        'ё' | 'Ё' => 'е',
        _ => okno_sdk::text::lowercase_char(c),
    }
}

pub fn analyse(text: &str) -> Text {
    let mut words = Vec::new();
    let mut quotes: Vec<Quote> = Vec::new();
    let mut open_quote: Option<usize> = None;
    let mut clause = 0;
    let mut exclamations = 0;
    let mut chars = text.chars().peekable();
    let mut current = String::new();
    let mut need_quote_start = false;

    let flush =
        |current: &mut String, words: &mut Vec<Word>, quote: Option<usize>, clause: usize| {
            if current.is_empty() {
                return;
            }
            let letters = current
                .chars()
                .filter(|&c| okno_sdk::text::is_alphabetic(c))
                .count();
            let shouted = letters >= 5 && current.chars().all(|c| !okno_sdk::text::is_lowercase(c));
            words.push(Word {
                lower: current.chars().map(fold).collect(),
                original: std::mem::take(current),
                quote,
                clause,
                shouted,
            });
        };

    while let Some(c) = chars.next() {
        if okno_sdk::text::is_alphabetic(c)
            || (c == '-'
                && !current.is_empty()
                && chars
                    .peek()
                    .is_some_and(|&n| okno_sdk::text::is_alphabetic(n)))
        {
            if need_quote_start {
                if let Some(q) = open_quote.and_then(|q| quotes.get_mut(q)) {
                    q.lower_start = okno_sdk::text::is_lowercase(c);
                }
                need_quote_start = false;
            }
            current.push(c);
            continue;
        }
        flush(&mut current, &mut words, open_quote, clause);
        match c {
            '«' | '„' => {
                quotes.push(Quote { lower_start: false });
                open_quote = Some(quotes.len() - 1);
                need_quote_start = true;
            }
            '»' | '“' => open_quote = None,
            '"' => {
                if open_quote.is_some() {
                    open_quote = None;
                } else {
                    quotes.push(Quote { lower_start: false });
                    open_quote = Some(quotes.len() - 1);
                    need_quote_start = true;
                }
            }
            '!' => {
                let mut run = 1;
                while chars.peek() == Some(&'!') {
                    chars.next();
                    run += 1;
                }
                if run >= 2 {
                    exclamations += 1;
                }
                clause += 1;
            }
            '.' | ',' | ';' | ':' | '?' | '(' | ')' | '—' | '–' => clause += 1,
            _ => {}
        }
    }
    flush(&mut current, &mut words, open_quote, clause);

    Text {
        words,
        quotes,
        exclamations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_clauses_and_shouting() {
        let t = analyse(
            "Спасибо за «отличную» работу, детский сад «Солнышко». НЕТ ВОДЫ ТРЕТИЙ ДЕНЬ!!! МФЦ",
        );
        let w = |s: &str| t.words.iter().find(|w| w.lower == s).expect(s);
        assert_eq!(w("отличную").quote, Some(0));
        assert!(t.quotes[0].lower_start);
        assert!(!t.quotes[1].lower_start);
        assert_eq!(w("спасибо").quote, None);
        assert!(w("третий").shouted && !w("мфц").shouted);
        assert!(w("работу").clause < w("детский").clause);
        assert_eq!(t.exclamations, 1);
        let lower: Vec<&str> = t.words.iter().map(|w| w.lower.as_str()).collect();
        assert!(lower.join(" ").contains("нет воды третий день"));
    }
}
