//! HTML reduced to readable text, for mail that has no text/plain part.
//!
//! Not a full HTML parser: it drops markup, the contents of `script`, `style` and similar
//! elements, comments and declarations; decodes character references; turns block
//! elements into line and paragraph breaks, and collapses whitespace outside `pre`.

/// Elements whose contents are never text a reader sees.
const HIDDEN: &[&str] = &["script", "style", "title", "noscript", "template"];

/// Elements that end a paragraph: a blank line before and after.
const PARAGRAPH: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "table",
    "ul",
    "ol",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "form",
    "fieldset",
    "dl",
    "hr",
];

/// Elements that start a new line.
const LINE: &[&str] = &["br", "tr", "li", "dt", "dd", "caption"];

/// Readable plain text of an HTML document or fragment.
pub fn to_text(html: &str) -> String {
    let mut out = TextSink::default();
    let mut rest = html;
    let mut pre_depth = 0usize;

    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            out.push_text(&decode_entities(rest), pre_depth > 0);
            break;
        };
        out.push_text(&decode_entities(&rest[..lt]), pre_depth > 0);
        rest = &rest[lt..];

        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }

        let Some(tag) = Tag::parse(rest) else {
            // A `<` that opens no tag (`a < b`) is text.
            out.push_text("<", pre_depth > 0);
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];
        let name = tag.name.as_str();
        if HIDDEN.contains(&name) && !tag.closing && !tag.self_closing {
            // Script and style text is not markup: `<` inside it opens no tag, so skip
            // straight to the closing tag.
            rest = skip_past_closing_tag(rest, name);
            continue;
        }
        if name == "pre" {
            pre_depth = if tag.closing {
                pre_depth.saturating_sub(1)
            } else {
                pre_depth + 1
            };
        }
        if PARAGRAPH.contains(&name) {
            out.paragraph_break();
        } else if LINE.contains(&name) {
            if !tag.closing {
                out.line_break();
                if name == "li" {
                    out.push_text("- ", true);
                }
            }
        } else if matches!(name, "td" | "th") && !tag.closing {
            out.cell_break();
        }
    }
    out.finish()
}

/// The text after `</name ...>`, matched without regard to case; empty if it never closes.
fn skip_past_closing_tag<'a>(text: &'a str, name: &str) -> &'a str {
    let needle = format!("</{name}");
    let lower = text.to_ascii_lowercase();
    match lower.find(&needle) {
        Some(at) => text[at..].find('>').map_or("", |end| &text[at + end + 1..]),
        None => "",
    }
}

/// One start or end tag, lower-cased name only: attributes are not needed for text.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    /// Bytes from `<` to `>` inclusive.
    len: usize,
}

impl Tag {
    fn parse(text: &str) -> Option<Tag> {
        let bytes = text.as_bytes();
        let mut i = 1;
        let closing = bytes.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let name_start = i;
        while bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric()) {
            i += 1;
        }
        if i == name_start || !bytes[name_start].is_ascii_alphabetic() {
            return None;
        }
        let name = text[name_start..i].to_ascii_lowercase();
        // Skip attributes, honouring quotes so that `>` inside a value does not end the tag.
        let mut quote: Option<u8> = None;
        while let Some(&b) = bytes.get(i) {
            match (quote, b) {
                (Some(q), _) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b'>') => {
                    let self_closing = i > 0 && bytes[i - 1] == b'/';
                    return Some(Tag {
                        name,
                        closing,
                        self_closing,
                        len: i + 1,
                    });
                }
                _ => {}
            }
            i += 1;
        }
        // An unterminated tag swallows the rest, as browsers do.
        Some(Tag {
            name,
            closing,
            self_closing: false,
            len: text.len(),
        })
    }
}

/// Collects text, collapsing whitespace and line breaks the way a browser renders them.
#[derive(Default)]
struct TextSink {
    text: String,
    pending_space: bool,
    /// Newlines owed before the next text: 1 for a line break, 2 for a paragraph break.
    pending_newlines: usize,
}

impl TextSink {
    fn push_text(&mut self, text: &str, preformatted: bool) {
        if preformatted {
            for ch in text.chars() {
                if ch == '\n' {
                    self.text.push('\n');
                } else {
                    self.flush_breaks();
                    self.text.push(ch);
                }
            }
            return;
        }
        for ch in text.chars() {
            if ch.is_whitespace() {
                self.pending_space = true;
            } else {
                self.flush_breaks();
                if self.pending_space && !self.text.is_empty() && !self.text.ends_with('\n') {
                    self.text.push(' ');
                }
                self.pending_space = false;
                self.text.push(ch);
            }
        }
    }

    fn flush_breaks(&mut self) {
        if self.pending_newlines > 0 {
            if !self.text.is_empty() {
                let have = self.text.chars().rev().take_while(|&c| c == '\n').count();
                for _ in have..self.pending_newlines {
                    self.text.push('\n');
                }
            }
            self.pending_newlines = 0;
            self.pending_space = false;
        }
    }

    fn line_break(&mut self) {
        // Two `<br>` in a row are a visible blank line.
        if self.pending_newlines >= 1 {
            self.pending_newlines = 2;
        } else {
            self.pending_newlines = 1;
        }
    }

    fn paragraph_break(&mut self) {
        self.pending_newlines = 2;
    }

    fn cell_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') && self.pending_newlines == 0 {
            self.pending_space = true;
        }
    }

    fn finish(self) -> String {
        let lines: Vec<&str> = self.text.lines().map(str::trim_end).collect();
        let mut out = String::with_capacity(self.text.len());
        let mut blank_run = 0;
        for line in lines {
            if line.trim().is_empty() {
                blank_run += 1;
                if blank_run > 1 {
                    continue;
                }
                out.push('\n');
            } else {
                blank_run = 0;
                out.push_str(line);
                out.push('\n');
            }
        }
        out.trim().to_string()
    }
}

/// Decodes `&name;`, `&#NNN;` and `&#xHH;`; an unknown or broken reference stays as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let candidate = rest
            .char_indices()
            .skip(1)
            .take(32)
            .find(|&(_, c)| c == ';' || c.is_whitespace() || c == '&' || c == '<')
            .filter(|&(_, c)| c == ';')
            .map(|(i, _)| &rest[1..i]);
        match candidate.and_then(|name| entity(name).map(|ch| (name, ch))) {
            Some((name, ch)) => {
                out.push(ch);
                rest = &rest[name.len() + 2..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        // A non-breaking space reads as a space in a plain-text appeal.
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "shy" | "zwnj" | "zwj" => return None,
        "laquo" => '«',
        "raquo" => '»',
        "bdquo" => '„',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "mdash" => '—',
        "ndash" => '–',
        "minus" => '−',
        "hellip" => '…',
        "bull" => '•',
        "middot" => '·',
        "numero" => '№',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "euro" => '€',
        "rub" => '₽',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_scripts_styles_and_comments() {
        let html = "<html><head><title>Письмо</title><style>p{color:red}</style></head>\
            <body><script>alert('x<y')</script><!-- скрыто --><p>Текст</p></body></html>";
        assert_eq!(to_text(html), "Текст");
    }

    #[test]
    fn keeps_paragraph_and_line_breaks() {
        let html =
            "<p>Первый абзац,\n   с переносом.</p><p>Второй<br>строка два</p><div>Третий</div>";
        assert_eq!(
            to_text(html),
            "Первый абзац, с переносом.\n\nВторой\nстрока два\n\nТретий"
        );
    }

    #[test]
    fn decodes_entities() {
        assert_eq!(
            to_text("&laquo;Дом&nbsp;№&#160;5&raquo; &amp; &#x410;&#1041; &bogus; 3 &lt; 4"),
            "«Дом № 5» & АБ &bogus; 3 < 4"
        );
        assert_eq!(decode_entities("AT&T & co"), "AT&T & co");
    }

    #[test]
    fn keeps_preformatted_text_and_lists() {
        let html = "<ul><li>один</li><li>два</li></ul><pre>a  b\nc</pre>";
        assert_eq!(to_text(html), "- один\n- два\n\na  b\nc");
    }

    #[test]
    fn tolerates_broken_markup() {
        assert_eq!(
            to_text("a < b and <b>bold</b> <p unterminated"),
            "a < b and bold"
        );
        assert_eq!(to_text("<a href=\"x>y\">ссылка</a>"), "ссылка");
        assert_eq!(to_text(""), "");
    }
}
