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

/// The language a reply is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Russian,
    English,
}

impl Language {
    /// The BCP 47 tag for Content-Language.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Russian => "ru",
            Language::English => "en",
        }
    }
}

/// The number a client quotes in later letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// Given by the registering system (EDMS, SOG): the appeal's registration number.
    Registered(String),
    /// The hub's own id, before a registering system gave a number: called the number in
    /// the intake system, never a registration number.
    Intake(String),
    None,
}

impl Reference {
    pub fn number(&self) -> Option<&str> {
        match self {
            Reference::Registered(n) | Reference::Intake(n) => Some(n),
            Reference::None => None,
        }
    }

    /// What goes in brackets after the subject.
    pub fn label(&self, language: Language) -> Option<String> {
        Some(match (self, language) {
            (Reference::Registered(n), Language::Russian) => format!("рег. № {n}"),
            (Reference::Registered(n), Language::English) => format!("reg. no. {n}"),
            (Reference::Intake(n), Language::Russian) => format!("№ {n} в системе приёма"),
            (Reference::Intake(n), Language::English) => format!("intake no. {n}"),
            (Reference::None, _) => return None,
        })
    }
}

/// The subject of a reply to an appeal that had none.
pub fn default_subject(reference: &Reference, language: Language) -> String {
    match (reference, language) {
        (Reference::Registered(n), Language::Russian) => {
            format!("Обращение зарегистрировано, рег. № {n}")
        }
        (Reference::Registered(n), Language::English) => {
            format!("Your appeal is registered, reg. no. {n}")
        }
        (Reference::Intake(n), Language::Russian) => {
            format!("Обращение принято, № {n} в системе приёма")
        }
        (Reference::Intake(n), Language::English) => {
            format!("Your appeal is received, intake no. {n}")
        }
        (Reference::None, Language::Russian) => "Ваше обращение принято".to_string(),
        (Reference::None, Language::English) => "Your appeal is received".to_string(),
    }
}

/// The acknowledgement for `message`. The topic is named only when the classifier was
/// sure of it: a wrong topic in a letter to a citizen does more harm than none.
pub fn acknowledgement(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    reference: &Reference,
    language: Language,
    signature: Option<&str>,
) -> String {
    let russian = language == Language::Russian;
    let mut paragraphs = Vec::new();
    let name = message
        .client
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    paragraphs.push(match (name, russian) {
        (Some(name), true) => format!("Здравствуйте, {name}!"),
        (None, true) => "Здравствуйте!".to_string(),
        (Some(name), false) => format!("Dear {name},"),
        (None, false) => "Hello,".to_string(),
    });

    let mut registered = match (reference, russian) {
        (Reference::Registered(n), true) => {
            format!("Ваше обращение зарегистрировано, регистрационный номер {n}.")
        }
        (Reference::Registered(n), false) => {
            format!("Your appeal has been registered under number {n}.")
        }
        (Reference::Intake(n), true) => {
            format!("Ваше обращение принято, его номер в системе приёма обращений {n}.")
        }
        (Reference::Intake(n), false) => {
            format!("Your appeal has been received; its number in our intake system is {n}.")
        }
        (Reference::None, true) => "Ваше обращение принято.".to_string(),
        (Reference::None, false) => "Your appeal has been received.".to_string(),
    };
    if let Some(topic) = classification.topic.as_ref().filter(|t| !t.low_confidence) {
        let topic = topic.best.name.trim();
        if russian {
            registered.push_str(&format!("\nТема обращения: «{topic}»."));
        } else {
            registered.push_str(&format!("\nTopic: “{topic}”."));
        }
    }
    paragraphs.push(registered);

    if let Some(deadline) = decision.answer_deadline {
        let date = time::local_date(deadline);
        paragraphs.push(if russian {
            // The date ends with «г.», which also ends the sentence.
            format!(
                "Ответ будет направлен вам не позднее {}",
                russian_date(date)
            )
        } else {
            format!("You will receive an answer by {}.", english_date(date))
        });
    }
    paragraphs.push(if russian {
        "При переписке по этому обращению, пожалуйста, указывайте его номер. \
         Это письмо отправлено автоматически."
            .to_string()
    } else {
        "Please quote this number in any letter about this appeal. \
         This message was sent automatically."
            .to_string()
    });

    let mut closing = if russian {
        "С уважением,"
    } else {
        "Kind regards,"
    }
    .to_string();
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

/// `12 February 2026`
pub fn english_date(date: Date) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = MONTHS[usize::from(date.month.clamp(1, 12) - 1)];
    format!("{} {month} {}", date.day, date.year)
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
