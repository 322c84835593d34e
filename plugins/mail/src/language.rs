//! The language of an appeal, so that the reply speaks it: the e-mail's
//! Content-Language when it names one, else a guess from the script of its text.
//! Replies are written in Russian or English (see `reply`).

/// A language tag's primary subtag, lower-cased (`ru` from `ru-RU`), when it is one.
pub fn from_content_language(value: &str) -> Option<String> {
    let first = value.split(',').next()?.trim();
    let primary = first.split('-').next()?.trim().to_ascii_lowercase();
    (2..=3)
        .contains(&primary.len())
        .then_some(())
        .filter(|_| primary.chars().all(|c| c.is_ascii_lowercase()))
        .map(|_| primary)
}

/// `ru` when Cyrillic letters outnumber Latin ones, `en` when Latin ones do, `None`
/// for text with neither.
pub fn guess(text: &str) -> Option<&'static str> {
    let (mut cyrillic, mut latin) = (0usize, 0usize);
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            latin += 1;
        } else if ('\u{0400}'..='\u{04FF}').contains(&c) {
            cyrillic += 1;
        }
    }
    match (cyrillic, latin) {
        (0, 0) => None,
        (c, l) if c >= l => Some("ru"),
        _ => Some("en"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags_and_guesses_scripts() {
        assert_eq!(from_content_language("ru-RU").as_deref(), Some("ru"));
        assert_eq!(from_content_language(" EN, ru").as_deref(), Some("en"));
        assert_eq!(from_content_language("x1"), None);
        assert_eq!(from_content_language(""), None);
        assert_eq!(guess("Прошу проверить счёт за ЖКУ"), Some("ru"));
        assert_eq!(guess("Please check my bill, ЖКУ"), Some("en"));
        assert_eq!(guess("12345 !!"), None);
    }
}
