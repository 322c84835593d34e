//! Finding an attachment's content within the raw inbound bytes it was decoded from.
//!
//! A connector's `decode` names each attachment by the SHA-256 of its decoded content
//! (`content_ref` `sha256:<hex>`, "within the raw inbound", as `wit/types.wit` says); the
//! content itself stays in the raw bytes. The hub takes it out by looking at what those
//! bytes contain — the bytes themselves, the parts of a MIME message (transfer encoding
//! undone, nested messages too), the entries of a zip container (a МЭДО packet, the 2.7
//! container inside it) — and keeping each piece whose SHA-256 an attachment names. The
//! digest is the check: nothing a sender writes can make the hub keep content under
//! another attachment's name. Bounded in depth and in the bytes unpacked.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;

use super::sha256_hex;

/// Containers inside containers, at most.
const MAX_DEPTH: u32 = 3;

/// Entries of one zip container looked at, at most.
const MAX_ZIP_ENTRIES: usize = 512;

/// The attachments of `wanted` (SHA-256 hex) found in `raw`, by SHA-256. `budget` bounds
/// the bytes unpacked from compressed containers.
pub fn find(raw: &[u8], wanted: &HashSet<String>, budget: u64) -> HashMap<String, Vec<u8>> {
    let mut search = Search {
        wanted,
        found: HashMap::new(),
        budget,
    };
    search.visit(raw, 0);
    search.found
}

struct Search<'a> {
    wanted: &'a HashSet<String>,
    found: HashMap<String, Vec<u8>>,
    budget: u64,
}

impl Search<'_> {
    fn done(&self) -> bool {
        self.found.len() == self.wanted.len()
    }

    fn visit(&mut self, bytes: &[u8], depth: u32) {
        if self.done() {
            return;
        }
        let sha = sha256_hex(bytes);
        if self.wanted.contains(&sha) {
            self.found.entry(sha).or_insert_with(|| bytes.to_vec());
        }
        if depth >= MAX_DEPTH || self.done() {
            return;
        }
        if bytes.starts_with(b"PK\x03\x04") {
            self.zip(bytes, depth);
        } else if looks_like_mime(bytes) {
            self.mime(bytes, depth);
        }
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
}
