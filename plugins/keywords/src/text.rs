//! Words and their stems, the same way for the rules' words and for an appeal's text, so
//! that «отопление», «отопления» and «ОТОПЛЕНИЕМ» meet on one stem.

use rust_stemmers::{Algorithm, Stemmer};

/// A word of the text as it was written (lower-cased) and its stem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub surface: String,
    pub stem: String,
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
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        text.split(|c: char| !okno_sdk::text::is_alphanumeric(c))
            .filter(|w| !w.is_empty())
            .map(|word| {
                let surface = normalize(word);
                let stem = fold_stem(self.stemmer.stem(&surface).into_owned());
                Token { surface, stem }
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

fn normalize(word: &str) -> String {
    let lower = okno_sdk::text::to_lowercase(word);
    if lower.contains('ё') {
        lower.replace('ё', "е")
    } else {
        lower
    }
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
        let surfaces: Vec<&str> = tokens.iter().map(|t| t.surface.as_str()).collect();
        assert_eq!(surfaces, ["елка", "еще", "батареи", "холодно"]);
    }
}
