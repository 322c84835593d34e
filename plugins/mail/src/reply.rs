//! The text of the acknowledgement sent to the client: plain Russian, lines of at most
//! [`MAX_LINE`](crate::mime::MAX_LINE) characters.

use okno_sdk::prelude::*;
use okno_sdk::time;

use crate::mime::MAX_LINE;

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// The acknowledgement for `message`. The topic is named only when the classifier was
/// sure of it: a wrong topic in a letter to a citizen does more harm than none.
pub fn acknowledgement(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    signature: Option<&str>,
) -> String {
    let mut paragraphs = Vec::new();
    paragraphs.push(
        match message
            .client
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            Some(name) => format!("Здравствуйте, {name}!"),
            None => "Здравствуйте!".to_string(),
        },
    );

    let mut registered = if message.id.is_empty() {
        "Ваше обращение зарегистрировано.".to_string()
    } else {
        format!(
            "Ваше обращение зарегистрировано под номером {}.",
            message.id
        )
    };
    if let Some(topic) = classification.topic.as_ref().filter(|t| !t.low_confidence) {
        registered.push_str(&format!("\nТема обращения: «{}».", topic.best.name.trim()));
    }
    paragraphs.push(registered);

    if let Some(deadline) = decision.answer_deadline {
        paragraphs.push(format!(
            // The date ends with «г.», which also ends the sentence.
            "Ответ будет направлен вам не позднее {}",
            russian_date(time::local_date(deadline))
        ));
    }
    paragraphs.push(
        "При переписке по этому обращению, пожалуйста, указывайте его номер. \
         Это письмо отправлено автоматически."
            .to_string(),
    );

    let mut closing = "С уважением,".to_string();
    if let Some(signature) = signature {
        closing.push('\n');
        closing.push_str(signature.trim());
    }
    paragraphs.push(closing);

    let mut text = String::new();
    for paragraph in paragraphs {
        for line in paragraph.lines() {
            for wrapped in wrap(line, MAX_LINE) {
                text.push_str(&wrapped);
                text.push('\n');
            }
        }
        text.push('\n');
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}

/// `12 февраля 2026 г.`
pub fn russian_date(date: Date) -> String {
    let month = MONTHS_GENITIVE[usize::from(date.month.clamp(1, 12) - 1)];
    format!("{} {month} {} г.", date.day, date.year)
}

/// Breaks `line` at spaces into lines of at most `width` characters; a word longer than
/// `width` (a long registration number or URL) is cut.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for word in line.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if current_len > 0 {
                lines.push(std::mem::take(&mut current));
                current_len = 0;
            }
            lines.push(word.drain(..width).collect());
        }
        let word_len = word.len();
        if current_len > 0 && current_len + 1 + word_len > width {
            lines.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if current_len > 0 {
            current.push(' ');
            current_len += 1;
        }
        current.extend(word);
        current_len += word_len;
    }
    if current_len > 0 || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries() {
        let line = "Ответ будет направлен вам не позднее двенадцатого февраля две тысячи двадцать шестого года.";
        let lines = wrap(line, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert_eq!(lines.join(" "), line);
        assert_eq!(wrap("", 10), vec![String::new()]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn writes_dates_in_russian() {
        assert_eq!(
            russian_date(Date {
                year: 2026,
                month: 2,
                day: 12
            }),
            "12 февраля 2026 г."
        );
    }
}
