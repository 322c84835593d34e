//! `envelope.ltr`: the МЭДО gateway's cover letter, an INI file in windows-1251 with
//! `[ПИСЬМО КП ПС СЗИ]` (subject and flags), `[АДРЕСАТЫ]` (gateway addresses) and
//! `[ФАЙЛЫ]` (the packet's files). Line ends are CRLF, LF, or both in one file.

use crate::charset;
use crate::error::EdmsError;

pub const LETTER: &str = "ПИСЬМО КП ПС СЗИ";
pub const ADDRESSEES: &str = "АДРЕСАТЫ";
pub const FILES: &str = "ФАЙЛЫ";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `ТЕМА`: usually `№ <number> от <dd/mm/yyyy> <note>`.
    pub subject: Option<String>,
    pub addresses: Vec<String>,
    pub files: Vec<String>,
    pub mismatch: Option<String>,
}

pub fn parse(bytes: &[u8], file: &str) -> Result<Envelope, EdmsError> {
    let text = charset::read_windows_1251(bytes, file)?;
    let mut envelope = Envelope {
        mismatch: text.mismatch,
        ..Envelope::default()
    };
    let mut section: Option<String> = None;
    let mut known_sections = 0;
    for line in text.text.lines() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_uppercase();
            if [LETTER, ADDRESSEES, FILES].contains(&name.as_str()) {
                known_sections += 1;
            }
            section = Some(name);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match section.as_deref() {
            Some(LETTER) if key.trim().eq_ignore_ascii_case("ТЕМА") || key.trim() == "ТЕМА" =>
            {
                envelope.subject = Some(value).filter(|v| !v.is_empty());
            }
            Some(ADDRESSEES) if !value.is_empty() => envelope.addresses.push(value),
            Some(FILES) if !value.is_empty() => envelope.files.push(value),
            _ => {}
        }
    }
    if known_sections == 0 {
        // Read as windows-1251 (or UTF-8) it has none of its sections: another charset
        // (KOI8-R, UTF-16, CP866) or not an envelope at all.
        return Err(EdmsError::UnknownCharset {
            file: file.into(),
            charset: format!(
                "neither windows-1251 nor UTF-8 gives its [{LETTER}], [{ADDRESSEES}] or [{FILES}] section"
            ),
        });
    }
    Ok(envelope)
}

/// Writes an envelope in windows-1251 with CRLF line ends, as gateways expect.
pub fn write(subject: &str, addresses: &[String], files: &[String]) -> Vec<u8> {
    let mut text = format!(
        "[{LETTER}]\r\nТЕМА={}\r\nШИФРОВАНИЕ=0\r\nЭЦП=0\r\n[{ADDRESSEES}]\r\n",
        one_line(subject)
    );
    for (i, address) in addresses.iter().enumerate() {
        text.push_str(&format!("{i}={}\r\n", one_line(address)));
    }
    text.push_str(&format!("[{FILES}]\r\n"));
    for (i, file) in files.iter().enumerate() {
        text.push_str(&format!("{i}={}\r\n", one_line(file)));
    }
    // Characters windows-1251 lacks become numeric references; no МЭДО text needs them.
    encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_windows_1251() {
        let bytes = write(
            "№ 1 от 01/02/2026",
            &["MINPROM~MEDOGU".into()],
            &["document.xml".into()],
        );
        let envelope = parse(&bytes, "envelope.ltr").unwrap();
        assert_eq!(envelope.subject.as_deref(), Some("№ 1 от 01/02/2026"));
        assert_eq!(envelope.addresses, vec!["MINPROM~MEDOGU"]);
        assert_eq!(envelope.files, vec!["document.xml"]);
        assert_eq!(envelope.mismatch, None);
    }

    #[test]
    fn koi8_is_an_unknown_charset() {
        let (bytes, _, _) = encoding_rs::KOI8_R
            .encode("[ПИСЬМО КП ПС СЗИ]\r\nТЕМА=x\r\n[ФАЙЛЫ]\r\n0=document.xml\r\n");
        let err = parse(&bytes, "envelope.ltr").unwrap_err();
        assert!(matches!(err, EdmsError::UnknownCharset { .. }), "{err:?}");
    }
}
