//! MTOM/XOP: an envelope sent as `multipart/related`, its root part the XML and its
//! other parts the binary content that `xop:Include href="cid:…"` elements point to.

use mail_parser::{MessageParser, MimeHeaders};

/// The XML root and the other parts, by Content-ID (angle brackets removed).
#[derive(Debug, Default)]
pub struct Package {
    pub root: Vec<u8>,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub struct Part {
    pub content_id: String,
    pub bytes: Vec<u8>,
    /// A `Content-Length` the part's header claims, if it has one.
    pub claimed_length: Option<u64>,
}

impl Package {
    /// The part an `xop:Include` `href` names (`cid:` URL, percent-encoded per RFC 2392).
    pub fn by_href(&self, href: &str) -> Option<&Part> {
        let cid = href.trim().strip_prefix("cid:")?;
        let cid = percent_decode(cid);
        self.parts.iter().find(|p| p.content_id == cid)
    }
}

/// True for a `multipart/related` content type.
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/related")
    })
}

/// Splits a `multipart/related` body. The root is the part the `start` parameter names,
/// else the first part.
pub fn split(content_type: &str, body: &[u8]) -> Result<Package, String> {
    // mail-parser reads a MIME entity: give the body the header it came with.
    let mut entity = format!("Content-Type: {}\r\n\r\n", content_type.trim()).into_bytes();
    entity.extend_from_slice(body);
    let message = MessageParser::default()
        .parse(&entity)
        .ok_or("the multipart/related body could not be read as MIME")?;
    let top = message
        .parts
        .first()
        .ok_or("the multipart/related body has no parts")?;
    let start = top
        .content_type()
        .and_then(|ct| ct.attribute("start"))
        .map(|s| s.trim().trim_matches(|c| c == '<' || c == '>').to_string());
    let Some(ids) = top.sub_parts() else {
        return Err(format!(
            "the body is not multipart/related with a boundary that its parts use (Content-Type: {})",
            crate::smev::bounded(content_type)
        ));
    };
    let mut parts = Vec::new();
    for id in ids {
        let Some(part) = message.parts.get(*id as usize) else {
            continue;
        };
        let content_id = part
            .content_id()
            .map(|c| c.trim().trim_matches(|c| c == '<' || c == '>').to_string())
            .unwrap_or_default();
        let claimed_length = part
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case("content-length"))
            .and_then(|h| h.value().as_text())
            .and_then(|v| v.trim().parse::<u64>().ok());
        parts.push(Part {
            content_id,
            bytes: part.contents().to_vec(),
            claimed_length,
        });
    }
    if parts.is_empty() {
        return Err("the multipart/related body has no parts".into());
    }
    let root_index = start
        .as_deref()
        .and_then(|s| parts.iter().position(|p| p.content_id == s))
        .unwrap_or(0);
    let root = parts.remove(root_index);
    Ok(Package {
        root: root.bytes,
        parts,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_root_and_parts_and_finds_them_by_href() {
        let body = b"--b1\r\nContent-Type: application/xop+xml; charset=utf-8; type=\"text/xml\"\r\nContent-ID: <root@x>\r\n\r\n<a/>\r\n--b1\r\nContent-Type: application/pdf\r\nContent-ID: <f1@urn:x>\r\nContent-Transfer-Encoding: binary\r\n\r\n%PDF-1.4 bytes\r\n--b1--\r\n";
        let package = split(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"b1\"; start=\"<root@x>\"",
            body,
        )
        .unwrap();
        assert_eq!(package.root, b"<a/>");
        let part = package.by_href("cid:f1%40urn%3Ax").unwrap();
        assert_eq!(part.bytes, b"%PDF-1.4 bytes");
        assert!(package.by_href("cid:nothing").is_none());
    }
}
