//! Logging setup, and what the hub does to text from outside (a sink's answer, a plugin's
//! error or log line) before it logs or stores it: bound it, and for a log also mask the
//! personal data in it and escape what could break the line.

use std::borrow::Cow;

use tracing_subscriber::EnvFilter;

/// The most characters of one outside string a log line shows.
pub const LOG_TEXT_CHARS: usize = 512;

/// How far past what a log line can show personal data is still looked for, so that a
/// name or an address running over the cut is masked whole rather than shown in part.
const SCAN_MARGIN_BYTES: usize = 1024;

/// The most bytes of one outside string the hub keeps in a record, a trace or a dead
/// letter (a sink's error answer, a plugin's error message).
pub const STORED_TEXT_BYTES: usize = 2048;

/// Replaces phone numbers, e-mail addresses, SNILS, INN, passport and card numbers,
/// addresses and full names with `[kind]`, by the same rules as the `pii` plugin.
/// For a log line use [`for_log`], which also escapes and bounds.
pub fn mask_personal_data(text: &str) -> String {
    okno_pii::mask_all(text)
}

/// `text` from outside the hub, made fit for one log line: personal data masked as
/// `[kind]`, line breaks, other control characters and bidi overrides escaped (`\n`,
/// `\u{202e}`), so that one event stays one line that reads as written, and at most
/// [`LOG_TEXT_CHARS`] characters, with a note of how much was left out.
///
/// Backslashes are left as they are: a `\n` written by the sender reads like an escaped
/// line break, but it cannot start a line, and paths and regexes stay readable.
pub fn for_log(text: &str) -> String {
    // Personal data is looked for only near what can be shown: the work stays bounded
    // whatever the size of `text`. A shown character takes at most 4 bytes.
    let scan_end = floor_char_boundary(text, LOG_TEXT_CHARS * 4 + SCAN_MARGIN_BYTES);
    let scanned = &text[..scan_end];
    // Something cut by the scan's end may have gone unrecognised, so nothing within the
    // margin before it is shown raw.
    let show_end = if scan_end < text.len() {
        floor_char_boundary(text, scan_end.saturating_sub(SCAN_MARGIN_BYTES))
    } else {
        text.len()
    };
    let spans = okno_pii::find_pii(scanned);
    let mut spans = spans.iter().peekable();

    let mut out = String::with_capacity(text.len().min(LOG_TEXT_CHARS) + 16);
    let mut shown = 0;
    let mut pos = 0;
    let mut piece = String::new();
    while pos < show_end {
        while spans.next_if(|s| s.start < pos).is_some() {}
        let next_pos = match spans.peek() {
            Some(span) if span.start == pos => {
                piece.clear();
                piece.push('[');
                piece.push_str(span.kind.as_str());
                piece.push(']');
                span.end
            }
            _ => {
                let Some(c) = text[pos..].chars().next() else {
                    break;
                };
                piece.clear();
                escape_into(&mut piece, c);
                pos + c.len_utf8()
            }
        };
        let piece_chars = piece.chars().count();
        if shown + piece_chars > LOG_TEXT_CHARS {
            break;
        }
        out.push_str(&piece);
        shown += piece_chars;
        pos = next_pos;
    }
    if pos < text.len() {
        let left = text[pos..].chars().count();
        out.push_str(&format!("… ({left} more characters not logged)"));
    }
    out
}

/// Pushes `c`, or its escape when it could break or disguise a log line.
fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        _ => out.push(c),
    }
}

/// C0 and C1 controls (ESC starts a terminal's escape sequences, NEL breaks a line in
/// some readers), the Unicode line and paragraph separators, and the marks and overrides
/// that reorder text on screen, so that a line cannot show something else than it holds.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` cut to at most `max_bytes` at a character boundary, with a note of how much was
/// cut: for outside text kept in a record, a trace or a dead letter.
pub fn bounded(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let end = floor_char_boundary(text, max_bytes);
    Cow::Owned(format!(
        "{}… ({} more bytes cut)",
        &text[..end],
        text.len() - end
    ))
}

/// The largest character boundary in `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// `RUST_LOG` wins; otherwise `default` (e.g. "info").
pub fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_controls_are_escaped() {
        let forged = "sink said: boom\n2026-11-29T00:00:00Z ERROR forged\r\nnext";
        let line = for_log(forged);
        assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        assert_eq!(
            line,
            "sink said: boom\\n2026-11-29T00:00:00Z ERROR forged\\r\\nnext"
        );
        assert_eq!(
            for_log("a\tb\u{1b}[31mred\u{0}"),
            "a\\tb\\u{1b}[31mred\\u{0}"
        );
        // NEL (a C1 control), the Unicode line and paragraph separators, DEL.
        assert_eq!(
            for_log("a\u{85}b\u{2028}c\u{2029}d\u{7f}"),
            "a\\u{85}b\\u{2028}c\\u{2029}d\\u{7f}"
        );
        // Bidi overrides and isolates that would show the text reordered.
        assert_eq!(
            for_log("file\u{202e}fdp.exe \u{2066}x\u{2069}"),
            "file\\u{202e}fdp.exe \\u{2066}x\\u{2069}"
        );
        // Text that needs nothing stays as it is.
        let plain = "Ответ сервиса: 503 Service Unavailable (попробуйте позже)";
        assert_eq!(for_log(plain), plain);
    }

    #[test]
    fn personal_data_in_russian_text_is_masked() {
        let text = "Ошибка: обращение гражданина Смирнова Анна Петровна, тел. +7 (912) 345-67-89, \
                    почта anna.smirnova@example.ru не принято";
        let line = for_log(text);
        for secret in [
            "Смирнова",
            "Анна",
            "Петровна",
            "345-67-89",
            "912",
            "anna.smirnova",
            "example.ru",
        ] {
            assert!(!line.contains(secret), "{secret:?} left in {line:?}");
        }
        for mark in ["[name]", "[phone]", "[email]"] {
            assert!(line.contains(mark), "no {mark} in {line:?}");
        }
        assert!(
            line.starts_with("Ошибка: обращение гражданина [name]"),
            "{line:?}"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_with_a_note() {
        // Two-byte letters: a cut by bytes in the middle of one would not be a `str`.
        let text = "ж".repeat(LOG_TEXT_CHARS + 100);
        let line = for_log(&text);
        let (shown, note) = line.split_once('…').expect("a note of the cut");
        assert_eq!(shown, "ж".repeat(LOG_TEXT_CHARS));
        assert_eq!(note, " (100 more characters not logged)");

        // An escape is shown whole or not at all: the line break and ten letters are cut.
        let text = format!("{}\n{}", "a".repeat(LOG_TEXT_CHARS - 1), "b".repeat(10));
        let line = for_log(&text);
        assert_eq!(
            line,
            format!(
                "{}… (11 more characters not logged)",
                "a".repeat(LOG_TEXT_CHARS - 1)
            )
        );

        // Exactly at the limit: nothing is cut and no note is added.
        let text = "я".repeat(LOG_TEXT_CHARS);
        assert_eq!(for_log(&text), text);
    }

    #[test]
    fn a_phone_across_the_cut_is_masked_whole() {
        let phone = "+7 (912) 345-67-89";
        // The phone starts 6 characters before the limit: cutting the raw text there
        // would show "+7 (91" unmasked. Its mark does not fit, so none of it is shown.
        let x = "x".repeat(LOG_TEXT_CHARS - 7);
        let line = for_log(&format!("{x} {phone} и дальше"));
        assert_eq!(line, format!("{x} … (27 more characters not logged)"));
        // With room for its mark the phone is shown masked, and the cut comes after it.
        let x = "x".repeat(LOG_TEXT_CHARS - 12);
        let line = for_log(&format!("{x} {phone} и дальше"));
        assert_eq!(
            line,
            format!("{x} [phone] и д… (5 more characters not logged)")
        );
    }

    #[test]
    fn huge_text_is_scanned_only_near_what_is_shown() {
        // A megabyte of text whose personal data lies far past what a line can show.
        let mut text = "слово ".repeat(200_000);
        text.push_str("+7 (912) 345-67-89");
        let line = for_log(&text);
        assert!(line.chars().count() < LOG_TEXT_CHARS + 64, "{}", line.len());
        assert!(!line.contains("912"));
        assert!(line.ends_with("more characters not logged)"), "{line:?}");
    }

    #[test]
    fn bounded_cuts_at_a_character_boundary() {
        assert_eq!(bounded("short", 10), "short");
        let text = "ёж".repeat(10); // 40 bytes
        let cut = bounded(&text, 5);
        assert_eq!(cut, "ёж… (36 more bytes cut)");
    }
}
