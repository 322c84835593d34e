//! Finding an attachment's content within the raw inbound bytes it was decoded from.
//!
//! A connector's `decode` names each attachment by the SHA-256 of its decoded content
//! (`content_ref` `sha256:<hex>`, "within the raw inbound", as `wit/types.wit` says); the
//! content itself stays in the raw bytes. The hub takes it out by looking at what those
//! bytes contain — the bytes themselves, the parts of a MIME message (transfer encoding
//! undone, nested messages too; an MTOM package), the entries of a zip container (a МЭДО
//! packet, the 2.7 container inside it), and the base64 text of an XML or JSON document
//! (SMEV's `AttachmentContent/Content`, a SOG card's `attachments[].content`) — and keeping
//! each piece whose SHA-256 an attachment names. The digest is the check: nothing a sender
//! writes can make the hub keep content under another attachment's name. Bounded in depth
//! and in the bytes unpacked or decoded.
//!
//! Base64 in XML and JSON is found without parsing either: every run of base64 characters
//! (with the line breaks base64 is wrapped with, written as they are, as XML character
//! references `&#13;`/`&#10;` or as JSON escapes `\n`, and JSON's `\/` for `/`) is decoded
//! and its digest compared. A text node or a string value is such a run, delimited by
//! `<`, `>`, `"` and the rest; no DTD, entity or nesting is ever looked at, so an entity
//! bomb or a deep document costs one linear scan. A run that is not valid base64 (a word,
//! a number, a hostile `Content`) is passed over.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;

use super::sha256_hex;

/// Containers inside containers, at most.
const MAX_DEPTH: u32 = 3;

/// Entries of one zip container looked at, at most.
const MAX_ZIP_ENTRIES: usize = 512;

/// Base64 text shorter than this (3 bytes decoded) is not looked at.
const MIN_BASE64_CHARS: usize = 4;

/// The attachments of `wanted` (SHA-256 hex) found in `raw`, by SHA-256. `budget` bounds
/// the bytes unpacked from compressed containers and decoded from base64 text.
pub fn find(raw: &[u8], wanted: &HashSet<String>, budget: u64) -> HashMap<String, Vec<u8>> {
    find_in(&[raw], wanted, budget)
        .into_iter()
        .map(|(sha, (_, content))| (sha, content))
        .collect()
}

/// As [`find`], over several inputs (the answers a poller's HTTP calls got) with one
/// budget for all: each piece found with the index of the input it was in.
pub fn find_in(
    inputs: &[&[u8]],
    wanted: &HashSet<String>,
    budget: u64,
) -> HashMap<String, (usize, Vec<u8>)> {
    let mut search = Search {
        wanted,
        found: HashMap::new(),
        budget,
        input: 0,
    };
    for (i, raw) in inputs.iter().enumerate() {
        if search.done() {
            break;
        }
        search.input = i;
        search.visit(raw, 0);
    }
    search.found
}

struct Search<'a> {
    wanted: &'a HashSet<String>,
    found: HashMap<String, (usize, Vec<u8>)>,
    budget: u64,
    /// The input being looked at.
    input: usize,
}

impl Search<'_> {
    fn done(&self) -> bool {
        self.found.len() == self.wanted.len()
    }

    fn visit(&mut self, bytes: &[u8], depth: u32) {
        if self.done() {
            return;
        }
        self.check(bytes);
        if depth >= MAX_DEPTH || self.done() {
            return;
        }
        if bytes.starts_with(b"PK\x03\x04") {
            self.zip(bytes, depth);
        } else if looks_like_mime(bytes) {
            self.mime(bytes, depth);
        } else if looks_like_markup(bytes) {
            self.base64_runs(bytes);
        }
    }

    /// Keeps `bytes` if an attachment names their digest.
    fn check(&mut self, bytes: &[u8]) {
        let sha = sha256_hex(bytes);
        if self.wanted.contains(&sha) {
            let input = self.input;
            self.found
                .entry(sha)
                .or_insert_with(|| (input, bytes.to_vec()));
        }
    }

    /// Decodes each run of base64 text in an XML or JSON document and checks it.
    fn base64_runs(&mut self, bytes: &[u8]) {
        // A run longer than this would decode to more than the budget: not collected.
        let cap = usize::try_from(self.budget.saturating_mul(4) / 3 + 4).unwrap_or(usize::MAX);
        let mut run: Vec<u8> = Vec::new();
        let mut over = false;
        let mut i = 0;
        loop {
            let (skip, push) = match bytes.get(i..) {
                None | Some([]) => (0, None),
                Some([c, ..]) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=') => {
                    (1, Some(*c))
                }
                Some([b' ' | b'\t' | b'\r' | b'\n', ..]) => (1, None),
                Some([b'\\', b'/', ..]) => (2, Some(b'/')),
                Some([b'\\', b'n' | b'r' | b't', ..]) => (2, None),
                Some(rest @ [b'&', ..]) => (whitespace_reference(rest).unwrap_or(0), None),
                Some(_) => (0, None),
            };
            if skip == 0 {
                // The run ends here.
                if !over {
                    self.decoded(&run);
                }
                if self.done() || i >= bytes.len() {
                    return;
                }
                run.clear();
                over = false;
                i += 1;
                continue;
            }
            if let Some(c) = push {
                if run.len() >= cap {
                    over = true;
                    run.clear();
                } else if !over {
                    run.push(c);
                }
            }
            i += skip;
        }
    }

    /// Checks one run of base64 characters, decoded, within the budget.
    fn decoded(&mut self, run: &[u8]) {
        use base64::Engine as _;
        if run.len() < MIN_BASE64_CHARS || run.len() % 4 == 1 {
            return;
        }
        if (run.len() as u64 / 4 * 3) > self.budget {
            return;
        }
        // Padding or not, as producers differ; the digest is the check.
        const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        let Ok(content) = ENGINE.decode(run) else {
            return;
        };
        self.budget = self.budget.saturating_sub(content.len() as u64);
        self.check(&content);
    }

    fn zip(&mut self, bytes: &[u8], depth: u32) {
        let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
            return;
        };
        for i in 0..archive.len().min(MAX_ZIP_ENTRIES) {
            let Ok(entry) = archive.by_index(i) else {
                continue;
            };
            if entry.is_dir() || entry.size() > self.budget {
                continue;
            }
            // The declared size is the sender's word: read no more than the budget.
            let mut content = Vec::new();
            if entry
                .take(self.budget + 1)
                .read_to_end(&mut content)
                .is_err()
                || content.len() as u64 > self.budget
            {
                continue;
            }
            self.budget -= content.len() as u64;
            self.visit(&content, depth + 1);
            if self.done() {
                return;
            }
        }
    }

    fn mime(&mut self, bytes: &[u8], depth: u32) {
        let Some(message) = mail_parser::MessageParser::default().parse(bytes) else {
            return;
        };
        self.parts(&message, depth);
    }

    fn parts(&mut self, message: &mail_parser::Message<'_>, depth: u32) {
        use mail_parser::PartType;
        for part in &message.parts {
            match &part.body {
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    let b = b.to_vec();
                    self.visit(&b, depth + 1);
                }
                PartType::Text(t) | PartType::Html(t) => {
                    // A text attachment: as decoded to UTF-8 (what the mail connector
                    // digests for a UTF-8 part).
                    self.visit(t.as_bytes(), depth + 1);
                }
                PartType::Message(inner) => {
                    if depth + 1 < MAX_DEPTH {
                        self.parts(inner, depth + 1);
                    }
                }
                PartType::Multipart(_) => {}
            }
            if self.done() {
                return;
            }
        }
    }
}

/// An XML or JSON document: `<`, `{` or `[` first, after a byte order mark and white
/// space. Only these are scanned for base64 text (a PDF or an image is not).
fn looks_like_markup(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'<' | b'{' | b'[')
    )
}

/// The length of a character reference to a line break or tab at the start of `rest`
/// (Java's XML writers put `&#13;` into wrapped base64), if there is one.
fn whitespace_reference(rest: &[u8]) -> Option<usize> {
    const REFERENCES: [&[u8]; 6] = [b"&#13;", b"&#10;", b"&#9;", b"&#xd;", b"&#xa;", b"&#x9;"];
    let head = &rest[..rest.len().min(6)];
    REFERENCES
        .iter()
        .find(|r| head.len() >= r.len() && head[..r.len()].eq_ignore_ascii_case(r))
        .map(|r| r.len())
}

/// A header field name at the start: worth parsing as an e-mail.
fn looks_like_mime(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let first = &head[..line_end];
    match first.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(items: &[&[u8]]) -> HashSet<String> {
        items.iter().map(|b| sha256_hex(b)).collect()
    }

    #[test]
    fn finds_a_base64_mime_part() {
        let pdf = b"%PDF-1.4 not really a pdf\x00\x01\x02";
        let mail = format!(
            "From: a@example.ru\r\nTo: b@example.ru\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст\r\n--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pdf)
        );
        let found = find(mail.as_bytes(), &wanted(&[pdf]), 1 << 20);
        assert_eq!(
            found.get(&sha256_hex(pdf)).map(Vec::as_slice),
            Some(&pdf[..])
        );
    }

    #[test]
    fn finds_zip_entries_and_refuses_nothing_else() {
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buffer);
            let options = zip::write::SimpleFileOptions::default();
            zip.start_file("doc.pdf", options).unwrap();
            std::io::Write::write_all(&mut zip, b"document").unwrap();
            zip.finish().unwrap();
        }
        let packet = buffer.into_inner();
        let found = find(&packet, &wanted(&[b"document", b"absent"]), 1 << 20);
        assert_eq!(found.len(), 1);
        assert_eq!(found[&sha256_hex(b"document")], b"document");
        // Over the budget: not unpacked.
        assert!(find(&packet, &wanted(&[b"document"]), 4).is_empty());
    }

    fn b64(bytes: &[u8]) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
    }

    #[test]
    fn finds_base64_content_in_smev_xml_wrapped_as_java_writes_it() {
        let pdf: Vec<u8> = (0..200u8).collect();
        let encoded = b64(&pdf);
        // Wrapped at 76 with `&#13;` and a line break, as Java's writers do.
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"urn:s\"><s:Body><AttachmentContentList><AttachmentContent Id=\"a.pdf\"><Content>{}</Content></AttachmentContent></AttachmentContentList><Other>not base64 at all: ?!</Other><Id>1234</Id></s:Body></s:Envelope>",
            wrapped.join("&#13;\n")
        );
        let found = find_in(&[b"{}", xml.as_bytes()], &wanted(&[&pdf]), 1 << 20);
        assert_eq!(found.get(&sha256_hex(&pdf)), Some(&(1, pdf.clone())));
    }

    #[test]
    fn finds_base64_content_in_json_with_escapes() {
        // Find a content whose base64 has a `/`, written as `\/` (PHP's json_encode).
        let content = (0..=255u8).cycle().skip(3).take(300).collect::<Vec<u8>>();
        let encoded = b64(&content);
        assert!(encoded.contains('/'));
        let json = format!(
            "{{\"items\": [{{\"seq\": 1, \"card\": {{\"attachments\": [{{\"name\": \"скан.pdf\", \"content\": \"{}\"}}]}}}}]}}",
            encoded.replace('/', "\\/").replacen("A", "A\\n", 1)
        );
        let found = find(json.as_bytes(), &wanted(&[&content]), 1 << 20);
        assert_eq!(found.get(&sha256_hex(&content)), Some(&content));
    }

    #[test]
    fn finds_an_mtom_part() {
        let scan = b"%PDF-1.4 binary \x00\xff\x10 part";
        let entity = [
            &b"Content-Type: multipart/related; type=\"application/xop+xml\"; boundary=\"b1\"; start=\"<root@x>\"\r\n\r\n--b1\r\nContent-Type: application/xop+xml; charset=utf-8\r\nContent-ID: <root@x>\r\n\r\n<a><xop:Include href=\"cid:f1\"/></a>\r\n--b1\r\nContent-Type: application/pdf\r\nContent-ID: <f1>\r\nContent-Transfer-Encoding: binary\r\n\r\n"[..],
            scan,
            b"\r\n--b1--\r\n",
        ]
        .concat();
        let found = find(&entity, &wanted(&[scan]), 1 << 20);
        assert_eq!(
            found.get(&sha256_hex(scan)).map(Vec::as_slice),
            Some(&scan[..])
        );
    }

    #[test]
    fn hostile_text_is_passed_over_within_the_budget() {
        let wanted = wanted(&[b"absent"]);
        // Bad base64, a lone `&`, an entity bomb's text, a backslash at the very end,
        // multi-byte UTF-8: nothing found, nothing panics.
        for hostile in [
            &b"<Content>!!!not==base64===</Content><Content>A</Content><Content>AAAAA</Content>"[..],
            b"<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;&#13</l>&",
            b"{\"content\": \"QUJD\\",
            "<Текст>Привет, мир</Текст>".as_bytes(),
            b"<",
            b"{",
        ] {
            assert!(find(hostile, &wanted, 1 << 20).is_empty());
        }
        // A run of 3 MB of base64 with a budget of 1 MB: not decoded.
        let content = vec![7u8; 3 << 20];
        let xml = format!("<Content>{}</Content>", b64(&content));
        assert!(find(xml.as_bytes(), &super::tests::wanted(&[&content]), 1 << 20).is_empty());
        // Within the budget it is.
        assert_eq!(
            find(xml.as_bytes(), &super::tests::wanted(&[&content]), 4 << 20).len(),
            1
        );
        // A PDF is not scanned for base64 text.
        let pdf = format!("%PDF-1.4 {}", b64(b"inside"));
        assert!(find(pdf.as_bytes(), &super::tests::wanted(&[b"inside"]), 1 << 20).is_empty());
    }
}
