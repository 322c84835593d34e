//! An RFC 5322 e-mail read into one canonical message.

use std::borrow::Cow;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Encoding, HeaderName, HeaderValue, Message as Mail, MessageParser, MessagePart, MimeHeaders,
    PartType,
};
use okno_sdk::prelude::*;

use crate::charset;
use crate::html;
use crate::language;
use crate::settings::DecodeSettings;

/// Reads `bytes` as one e-mail. Fails with `invalid-input` when the bytes are not an
/// e-mail, or when the e-mail has neither text nor attachments.
pub fn decode(bytes: &[u8], settings: &DecodeSettings) -> Result<Message, PluginError> {
    let header_end = check_header_block(bytes)?;
    let mut metadata = Vec::new();
    let bytes = recode_header_block(bytes, header_end, settings, &mut metadata);

    let mail = MessageParser::default()
        .parse(bytes.as_ref())
        .ok_or_else(|| {
            PluginError::invalid_input(
                "the e-mail could not be parsed: no header fields or body were found",
            )
        })?;

    let body = body_text(&mail, settings);
    let attachments = attachments(&mail);
    if body.text.trim().is_empty() && attachments.is_empty() {
        return Err(PluginError::invalid_input(
            "the e-mail has no body text and no attachments: there is nothing to register",
        ));
    }

    let mut message = Message::new(Channel::Mail, body.text);
    message.attachments = attachments;
    message.idempotency_key = mail.message_id().and_then(clean_id);
    message.subject = mail
        .subject()
        .map(collapse_whitespace)
        .filter(|s| !s.is_empty());
    message.thread.in_reply_to =
        first_id(mail.in_reply_to()).or_else(|| last_id(mail.references()));
    message.client = client(&mail, settings, &mut metadata);

    match mail.date() {
        Some(date) if date.is_valid() => message.sent_at = Some(date.to_timestamp() * 1000),
        _ => {
            if let Some(raw) = mail.header_raw(HeaderName::Date) {
                // The raw value helps whoever checks the sender's clock; it holds no personal data.
                metadata.push(("mail.date-invalid".into(), collapse_whitespace(raw)));
            }
        }
    }

    let to: Vec<&str> = mail
        .to()
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .collect();
    if !to.is_empty() {
        metadata.push(("mail.to".into(), to.join(", ")));
    }
    if let Some(charset) = body.charset {
        metadata.push(("mail.charset".into(), charset));
    }
    if body.charset_guessed {
        metadata.push(("mail.charset-guessed".into(), "true".into()));
    }
    if let Some(auto) = mail
        .header_raw("Auto-Submitted")
        .map(collapse_whitespace)
        .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("no"))
    {
        metadata.push(("mail.auto-submitted".into(), auto));
    }
    if body.from_html {
        metadata.push(("mail.body-from-html".into(), "true".into()));
    }
    let declared = mail
        .header_raw("Content-Language")
        .and_then(language::from_content_language);
    match declared {
        Some(language) => metadata.push(("mail.language".into(), language)),
        None => {
            // The start of the text tells the script as well as the whole would.
            let sample: String = message
                .subject
                .as_deref()
                .unwrap_or_default()
                .chars()
                .chain([' '])
                .chain(message.body.chars())
                .take(4000)
                .collect();
            if let Some(language) = language::guess(&sample) {
                metadata.push(("mail.language".into(), language.into()));
                metadata.push(("mail.language-guessed".into(), "true".into()));
            }
        }
    }
    message.metadata = metadata;
    Ok(message)
}

/// Checks that the input starts with header fields and returns where the header block
/// ends (the offset of its terminating blank line, or the input's length).
fn check_header_block(bytes: &[u8]) -> Result<usize, PluginError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PluginError::invalid_input(format!(
            "the e-mail is empty ({} bytes, none of them text)",
            bytes.len()
        )));
    }
    // A message saved from an mbox file starts with a `From ` separator line, not a header.
    let start = if bytes.starts_with(b"From ") {
        bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1)
    } else {
        0
    };
    let header_end = find_blank_line(bytes, start).unwrap_or(bytes.len());
    if header_end == start {
        return Err(PluginError::invalid_input(
            "the e-mail has no header fields: it starts with a blank line, so From, Subject and the body's format are unknown",
        ));
    }
    if let Some(offset) = bytes[start..header_end].iter().position(|&b| b == 0) {
        return Err(PluginError::invalid_input(format!(
            "byte {} of the header block is NUL: this is binary data, not an e-mail",
            start + offset
        )));
    }
    let first_line = bytes[start..header_end]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let name_len = first_line.iter().position(|&b| b == b':');
    let is_field = name_len.is_some_and(|len| {
        len > 0
            && first_line[..len]
                .iter()
                .all(|&b| (0x21..=0x7e).contains(&b))
    });
    if !is_field {
        return Err(PluginError::invalid_input(format!(
            "line {} is not a header field (`Name: value`): this is not an RFC 5322 e-mail",
            if start == 0 { 1 } else { 2 }
        )));
    }
    Ok(header_end)
}

fn find_blank_line(bytes: &[u8], from: usize) -> Option<usize> {
    let mut line_start = from;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        if b == b'\n' {
            let line = &bytes[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some(line_start);
            }
            line_start = i + 1;
        }
    }
    if line_start < bytes.len() && (&bytes[line_start..] == b"\r" || bytes[line_start..].is_empty())
    {
        return Some(line_start);
    }
    None
}

/// Header fields in raw 8-bit windows-1251 or KOI8-R (not RFC 2047 encoded words) are
/// re-encoded to UTF-8 before parsing, which mail-parser reads as RFC 6532 headers.
fn recode_header_block<'a>(
    bytes: &'a [u8],
    header_end: usize,
    settings: &DecodeSettings,
    metadata: &mut Vec<(String, String)>,
) -> Cow<'a, [u8]> {
    let block = &bytes[..header_end];
    if std::str::from_utf8(block).is_ok() {
        return Cow::Borrowed(bytes);
    }
    let (text, used) = charset::decode_undeclared(block, settings.fallback_charset.as_deref());
    okno_sdk::log::debug(&format!("8-bit header fields read as {used}"));
    metadata.push(("mail.header-charset".into(), used));
    let mut recoded = text.into_bytes();
    recoded.extend_from_slice(&bytes[header_end..]);
    Cow::Owned(recoded)
}

/// The body text and how it was found.
struct Body {
    text: String,
    /// Charset of the first body part, as declared or as detected.
    charset: Option<String>,
    charset_guessed: bool,
    from_html: bool,
}

/// The text/plain body parts; the HTML ones reduced to text when the plain ones are
/// missing or blank.
fn body_text(mail: &Mail<'_>, settings: &DecodeSettings) -> Body {
    let mut body = Body {
        text: String::new(),
        charset: None,
        charset_guessed: false,
        from_html: false,
    };
    let mut texts = Vec::new();
    for part in mail.text_bodies() {
        let text = match &part.body {
            PartType::Text(text) => {
                let text = redecode_if_undeclared(mail, part, text, settings, &mut body);
                unflow(&text, part)
            }
            PartType::Html(html_text) => {
                note_charset(part, &mut body);
                body.from_html = true;
                html::to_text(html_text)
            }
            _ => continue,
        };
        texts.push(clean_text(&text));
    }
    if texts.iter().all(|t| t.trim().is_empty()) {
        texts.clear();
        for part in mail.html_bodies() {
            if let PartType::Html(html_text) = &part.body {
                note_charset(part, &mut body);
                body.from_html = true;
                texts.push(clean_text(&html::to_text(html_text)));
            }
        }
    }
    body.text = texts
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    body
}

fn declared_charset(part: &MessagePart<'_>) -> Option<String> {
    part.content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|c| c.trim().to_ascii_lowercase())
}

fn note_charset(part: &MessagePart<'_>, body: &mut Body) {
    if body.charset.is_none() {
        body.charset = declared_charset(part);
    }
}

/// mail-parser reads text without a (known) charset as UTF-8, replacing what is not; such
/// text is read again from its bytes as legacy Russian 8-bit text.
fn redecode_if_undeclared<'t>(
    mail: &Mail<'_>,
    part: &MessagePart<'_>,
    text: &'t str,
    settings: &DecodeSettings,
    body: &mut Body,
) -> Cow<'t, str> {
    let declared = declared_charset(part);
    let undeclared = match declared.as_deref() {
        None | Some("us-ascii" | "ascii") => true,
        Some(name) => !charset::is_known(name),
    };
    if !(undeclared && text.contains('\u{FFFD}')) {
        note_charset(part, body);
        return Cow::Borrowed(text);
    }
    let Some(bytes) = transfer_decoded(mail, part) else {
        note_charset(part, body);
        return Cow::Borrowed(text);
    };
    let (recoded, used) = charset::decode_undeclared(&bytes, settings.fallback_charset.as_deref());
    okno_sdk::log::debug(&format!(
        "8-bit body part without a usable charset read as {used}"
    ));
    if body.charset.is_none() {
        body.charset = Some(used);
        body.charset_guessed = true;
    }
    Cow::Owned(recoded)
}

/// A part's content with the transfer encoding undone but the charset untouched.
fn transfer_decoded(mail: &Mail<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let raw = mail
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::None => Some(raw.to_vec()),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::Base64 => base64_decode(raw),
    }
}

/// Joins the soft line breaks of `format=flowed` text (RFC 3676).
fn unflow(text: &str, part: &MessagePart<'_>) -> String {
    let Some(ct) = part.content_type() else {
        return text.to_string();
    };
    if !ct
        .attribute("format")
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
    {
        return text.to_string();
    }
    let del_sp = ct
        .attribute("delsp")
        .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    let mut out = String::with_capacity(text.len());
    for line in text.replace("\r\n", "\n").split('\n') {
        let line = line.strip_prefix(' ').unwrap_or(line);
        let flowed = line.ends_with(' ') && line != "-- ";
        if flowed {
            out.push_str(if del_sp {
                &line[..line.len() - 1]
            } else {
                line
            });
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// LF line ends, no trailing spaces, no leading or trailing blank lines, no NULs.
fn clean_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace(['\r', '\0'], "");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_matches('\n').to_string()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

fn first_id(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(id) => clean_id(id),
        HeaderValue::TextList(ids) => ids.iter().find_map(|id| clean_id(id)),
        _ => None,
    }
}

fn last_id(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(id) => clean_id(id),
        HeaderValue::TextList(ids) => ids.iter().rev().find_map(|id| clean_id(id)),
        _ => None,
    }
}

/// The sender. Contacts list the Reply-To address first when it differs from From,
/// since that is where the sender asked answers to go.
fn client(
    mail: &Mail<'_>,
    settings: &DecodeSettings,
    metadata: &mut Vec<(String, String)>,
) -> Client {
    let from = mail.from().and_then(|a| a.first());
    let from_address = from
        .and_then(|a| a.address())
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let reply_to = mail
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::trim)
        .filter(|a| !a.is_empty());

    let mut contacts = Vec::new();
    if let Some(reply_to) = reply_to {
        if !from_address.is_some_and(|f| f.eq_ignore_ascii_case(reply_to)) {
            contacts.push(Contact {
                kind: "email".into(),
                value: reply_to.to_string(),
            });
        }
    }
    if let Some(address) = from_address {
        contacts.push(Contact {
            kind: "email".into(),
            value: address.to_string(),
        });
        if let Some((_, domain)) = address.rsplit_once('@') {
            metadata.push(("mail.from-domain".into(), domain.to_ascii_lowercase()));
        }
    }
    let name = from
        .and_then(|a| a.name())
        .map(collapse_whitespace)
        .filter(|n| !n.is_empty() && Some(n.as_str()) != from_address);

    // Without a From there is nobody to call a citizen.
    let kind = if from_address.is_some() {
        settings.client_kind
    } else {
        ClientKind::Unknown
    };
    Client {
        kind,
        name,
        contacts,
        segments: Vec::new(),
    }
}

/// Every attachment, with the digest of its content as sent (transfer encoding undone).
fn attachments(mail: &Mail<'_>) -> Vec<Attachment> {
    mail.attachments()
        .enumerate()
        .map(|(index, part)| {
            let content: Cow<'_, [u8]> = match &part.body {
                PartType::Text(_) | PartType::Html(_) => {
                    transfer_decoded(mail, part).map_or(Cow::Borrowed(part.contents()), Cow::Owned)
                }
                _ => Cow::Borrowed(part.contents()),
            };
            let media_type = media_type(part);
            let name = part
                .attachment_name()
                .map(collapse_whitespace)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| {
                    let extension = if media_type == "message/rfc822" {
                        ".eml"
                    } else {
                        ""
                    };
                    format!("attachment-{}{extension}", index + 1)
                });
            let sha256 = hex_sha256(&content);
            Attachment {
                name,
                media_type,
                size: content.len() as u64,
                content_ref: format!("sha256:{sha256}"),
                sha256,
            }
        })
        .collect()
}

fn media_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match &part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

/// An attachment's digest, as its `content_ref` names it.
fn hex_sha256(content: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DecodeSettings {
        DecodeSettings {
            client_kind: ClientKind::Citizen,
            fallback_charset: None,
        }
    }

    #[test]
    fn finds_the_end_of_the_header_block() {
        assert_eq!(find_blank_line(b"A: b\r\n\r\nbody", 0), Some(6));
        assert_eq!(find_blank_line(b"A: b\n\nbody", 0), Some(5));
        assert_eq!(find_blank_line(b"A: b\n", 0), None);
    }

    #[test]
    fn rejects_what_is_not_an_email() {
        for (input, expected) in [
            (&b""[..], "empty"),
            (b" \r\n\t", "empty"),
            (b"\r\nHello", "starts with a blank line"),
            (
                b"Hello, I have no heating\r\n",
                "line 1 is not a header field",
            ),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "NUL: this is binary data"),
            (
                b"\xff\xd8\xff\xe0 JFIF: x\r\n\r\n\x01\x02",
                "line 1 is not a header field",
            ),
            (b"Subject: x\r\nX-Bin: \0\x01\r\n\r\nbody", "NUL"),
            (
                b"Subject: nothing here\r\n\r\n  \r\n",
                "no body text and no attachments",
            ),
        ] {
            let err = decode(input, &settings()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput);
            assert!(err.message.contains(expected), "{input:?}: {}", err.message);
        }
    }

    #[test]
    fn unflows_format_flowed_text() {
        let raw = b"From: a@b.ru\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n\
            First line continues \r\non the next.\r\n\r\n-- \r\nSig\r\n";
        let message = decode(raw, &settings()).unwrap();
        assert_eq!(message.body, "First line continues on the next.\n\n--\nSig");
    }

    #[test]
    fn skips_an_mbox_separator_line() {
        let raw = b"From a@b.ru Mon Jan 12 09:00:00 2026\nFrom: a@b.ru\nSubject: s\n\nbody\n";
        let message = decode(raw, &settings()).unwrap();
        assert_eq!(message.body, "body");
    }
}
