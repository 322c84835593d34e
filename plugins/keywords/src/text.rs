//! Words and their stems, the same way for the rules' words and for an appeal's text, so
//! that «отопление», «отопления» and «ОТОПЛЕНИЕМ» meet on one stem.

use rust_stemmers::{Algorithm, Stemmer};

/// A word of the text and its stem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token<'t> {
    /// The word as the text wrote it.
    pub written: &'t str,
    pub stem: String,
}

impl Token<'_> {
    /// The word lower-cased, with `ё` as `е`: how a matched word is reported.
    pub fn surface(&self) -> String {
        okno_sdk::text::to_lowercase_folded(self.written)
    }
}

pub(crate) struct Stems {
    stemmer: Stemmer,
}

impl Stems {
    pub fn russian() -> Self {
        Stems {
            stemmer: Stemmer::create(Algorithm::Russian),
        }
    }

    /// Splits `text` at every character that is not a letter or digit (punctuation,
    /// spaces, hyphens), lower-cases each word and writes `ё` as `е`, as most Russian
    /// text does, so a rule written either way matches both.
    pub fn tokens<'t>(&self, text: &'t str) -> Vec<Token<'t>> {
        // One buffer for every word's lower case: only the stem is kept per word, and an
        // allocation costs more inside the sandbox than natively.
        let mut lower = String::new();
        text.split(|c: char| !okno_sdk::text::is_alphanumeric(c))
            .filter(|w| !w.is_empty())
            .map(|written| {
                lower.clear();
                okno_sdk::text::push_lowercase_folded(&mut lower, written);
                let stem = fold_stem(self.stemmer.stem(&lower).into_owned());
                Token { written, stem }
            })
            .collect()
    }

    /// The stems of a configured word or phrase, in order.
    pub fn stems(&self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.stem).collect()
    }
}

/// Snowball leaves the `е` of nouns in -ея/-ей/-ее on some forms and not on others
/// («батарея» → «батаре», «батареи» → «батар»; «музея» → «музе», «музей» → «муз»), so an
/// admin's word would miss half its forms. Dropping that final `е` on both sides joins
/// them; a stem of three letters or fewer is left alone, too short to lose a letter.
fn fold_stem(mut stem: String) -> String {
    if stem.ends_with('е') && stem.chars().count() > 3 {
        stem.pop();
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_forms_share_a_stem() {
        let stems = Stems::russian();
        let forms = stems.stems("отопление отопления отоплением ОТОПЛЕНИЮ");
        assert_eq!(forms.len(), 4);
        assert!(forms.iter().all(|s| *s == forms[0]), "{forms:?}");
    }

    #[test]
    fn nouns_in_ya_keep_one_stem() {
        let stems = Stems::russian();
        for words in [
            "батарея батареи батарею батареей батарей батареях",
            "музей музея музеи музеем",
        ] {
            let forms = stems.stems(words);
            assert!(forms.iter().all(|s| *s == forms[0]), "{forms:?}");
        }
        assert_ne!(stems.stems("вода"), stems.stems("водка"));
    }

    #[test]
    fn splits_on_punctuation_and_folds_yo() {
        let tokens = Stems::russian().tokens("Ёлка,ещё!(батареи)—холодно");
        let surfaces: Vec<String> = tokens.iter().map(Token::surface).collect();
        assert_eq!(surfaces, ["елка", "еще", "батареи", "холодно"]);
    }
}
