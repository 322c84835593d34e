//! Text of a file in the charset its bytes are in. МЭДО files are windows-1251 or UTF-8,
//! and real ones lie: notifications declared `windows-1251` are seen written in UTF-8.
//! Bytes that are valid UTF-8 with letters beyond ASCII cannot be meaningful
//! windows-1251 Russian (its letters would have to pair up as UTF-8 sequences), so such
//! a file is read as UTF-8 with a warning; bytes that contradict a declared UTF-8 are
//! refused.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use crate::error::EdmsError;

/// A file's text and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    /// The charset the text was read in (`utf-8`, `windows-1251`, ...).
    pub charset: &'static str,
    /// Set when the declaration and the bytes disagreed: what was declared, what was read.
    pub mismatch: Option<String>,
}

/// Reads an XML file: its BOM, else its declaration's `encoding`, checked against its bytes.
pub fn read_xml(bytes: &[u8], file: &str) -> Result<Text, EdmsError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest, file, None);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let encoding = if bytes[0] == 0xFF { UTF_16LE } else { UTF_16BE };
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        if had_errors {
            return Err(EdmsError::Charset {
                file: file.into(),
                reason: format!("the bytes are not valid {}", encoding.name()),
            });
        }
        return Ok(Text {
            text: text.into_owned(),
            charset: encoding.name(),
            mismatch: None,
        });
    }
    let declared = declared_encoding(bytes);
    let encoding = match &declared {
        None => UTF_8,
        Some(label) => {
            Encoding::for_label(label.as_bytes()).ok_or_else(|| EdmsError::UnknownCharset {
                file: file.into(),
                charset: format!("declared encoding=\"{label}\""),
            })?
        }
    };
    if encoding == UTF_8 {
        return utf8(bytes, file, declared.as_deref());
    }
    if encoding == UTF_16LE || encoding == UTF_16BE {
        // Declared UTF-16 but read as an ASCII-compatible declaration: the bytes cannot be UTF-16.
        return Err(EdmsError::Charset {
            file: file.into(),
            reason: format!(
                "the declaration says {} but the bytes are a single-byte or UTF-8 text",
                encoding.name()
            ),
        });
    }
    single_byte_or_utf8(bytes, file, encoding, "declared")
}

/// Reads a file that declares nothing and is windows-1251 by convention (envelope.ltr).
pub fn read_windows_1251(bytes: &[u8], file: &str) -> Result<Text, EdmsError> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(EdmsError::UnknownCharset {
            file: file.into(),
            charset: "UTF-16, by its byte order mark".into(),
        });
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest, file, None);
    }
    single_byte_or_utf8(bytes, file, encoding_rs::WINDOWS_1251, "expected")
}

fn single_byte_or_utf8(
    bytes: &[u8],
    file: &str,
    encoding: &'static Encoding,
    how: &str,
) -> Result<Text, EdmsError> {
    if !bytes.is_ascii() {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Ok(Text {
                text: text.to_string(),
                charset: "utf-8",
                mismatch: Some(format!(
                    "{how} {}, but the bytes are UTF-8: read as UTF-8",
                    encoding.name()
                )),
            });
        }
    }
    let (text, _, had_errors) = encoding.decode(bytes);
    if had_errors {
        return Err(EdmsError::Charset {
            file: file.into(),
            reason: format!("the bytes are neither valid {} nor UTF-8", encoding.name()),
        });
    }
    Ok(Text {
        text: text.into_owned(),
        charset: encoding.name(),
        mismatch: None,
    })
}

fn utf8(bytes: &[u8], file: &str, declared: Option<&str>) -> Result<Text, EdmsError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Text {
            text: text.to_string(),
            charset: "utf-8",
            mismatch: None,
        }),
        Err(e) => Err(EdmsError::Charset {
            file: file.into(),
            reason: format!(
                "{} UTF-8, but byte {} is not UTF-8 (a windows-1251 file that declares the wrong encoding?)",
                declared.map_or("read as".to_string(), |d| format!("declared encoding=\"{d}\" is")),
                e.valid_up_to()
            ),
        }),
    }
}

/// The `encoding` of an `<?xml …?>` declaration at the very start, if there is one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_windows_1251_written_in_utf8_is_read_as_utf8_with_a_warning() {
        let xml = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Зарегистрирован</a>";
        let text = read_xml(xml.as_bytes(), "document.xml").unwrap();
        assert_eq!(text.charset, "utf-8");
        assert!(text.text.contains("Зарегистрирован"));
        assert!(text.mismatch.unwrap().contains("windows-1251"));
    }

    #[test]
    fn windows_1251_as_declared() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251
            .encode("<?xml version=\"1.0\" encoding=\"windows-1251\"?><a>Письмо</a>");
        let text = read_xml(&bytes, "document.xml").unwrap();
        assert_eq!(text.charset, "windows-1251");
        assert!(text.text.contains("Письмо"));
        assert_eq!(text.mismatch, None);
    }

    #[test]
    fn declared_utf8_written_in_windows_1251_is_refused() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251
            .encode("<?xml version=\"1.0\" encoding=\"utf-8\"?><a>Письмо</a>");
        let err = read_xml(&bytes, "document.xml").unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    #[test]
    fn an_unknown_declared_charset_is_named() {
        let err = read_xml(
            b"<?xml version=\"1.0\" encoding=\"x-klingon\"?><a/>",
            "d.xml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("x-klingon"), "{err}");
    }
}
