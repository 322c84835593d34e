//! Attachments of an SMEV message, in its three forms:
//!
//! - `AttachmentHeaderList` + `AttachmentContentList`: content in the envelope, as base64
//!   text or, with MTOM, an `xop:Include` pointing at a part of the multipart package.
//!   The hub gets name, type, size and SHA-256 of the real bytes.
//! - `RefAttachmentHeaderList` + `FSAttachmentsList`: large files left in SMEV's file
//!   storage, which the ministry's adapter fetches. Their content is not in the input, so
//!   size and SHA-256 are unknown (0 and empty) and `content_ref` is `smev-fs:<uuid>`;
//!   the GOST hash SMEV gives goes to metadata. The storage's user name and password
//!   never leave the plugin.
//!
//! A size claimed by a header (a `Size` element, a part's `Content-Length`) or found in
//! the content above `max-attachment-bytes` is refused before anything is hashed.

use base64::Engine;
use okno_sdk::prelude::*;
use sha2::{Digest, Sha256};

use crate::decode::DecodeError;
use crate::mtom::Package;
use crate::smev;
use crate::xml::Element;

/// More attachments than this in one message is not a real application.
pub const MAX_ATTACHMENTS: usize = 1000;

/// Elements some adapters add to an attachment header with the file's size in bytes.
const SIZE_ELEMENTS: [&str; 4] = ["Size", "FileSize", "Length", "ContentLength"];

pub fn read(
    data: &Element,
    envelope_part: &Element,
    message_part: &Element,
    package: &Package,
    max_bytes: u64,
    meta: &mut Vec<(String, String)>,
) -> Result<Vec<Attachment>, DecodeError> {
    let mut out = Vec::new();
    let contents: Vec<&Element> = [envelope_part, message_part]
        .into_iter()
        .filter_map(|e| e.child("AttachmentContentList"))
        .flat_map(|list| list.children_named("AttachmentContent"))
        .collect();

    let headers: Vec<&Element> = data
        .children_named("AttachmentHeaderList")
        .flat_map(|list| list.children_named("AttachmentHeader"))
        .collect();
    let refs: Vec<&Element> = data
        .children_named("RefAttachmentHeaderList")
        .flat_map(|list| list.children_named("RefAttachmentHeader"))
        .collect();
    if headers.len() + refs.len() > MAX_ATTACHMENTS {
        return Err(DecodeError::Attachment {
            which: "headers".into(),
            problem: format!(
                "{} attachment headers, more than the {MAX_ATTACHMENTS} one message may carry",
                headers.len() + refs.len()
            ),
        });
    }

    for header in headers {
        let content_id = header
            .child_text("contentId")
            .ok_or_else(|| DecodeError::Structure {
                path: "SenderProvidedRequestData/AttachmentHeaderList/AttachmentHeader".into(),
                problem: "no contentId".into(),
            })?;
        let which = format!("`{}` (AttachmentHeader)", smev::bounded(content_id));
        check_claim(header, &which, max_bytes)?;
        let media_type = header
            .child_text("MimeType")
            .unwrap_or("application/octet-stream");
        let content = contents
            .iter()
            .find(|c| c.attr("Id") == Some(content_id))
            .and_then(|c| c.child("Content"))
            .ok_or_else(|| DecodeError::Attachment {
                which: which.clone(),
                problem: "no AttachmentContent with this Id in AttachmentContentList".into(),
            })?;
        let bytes = content_bytes(content, package, &which, max_bytes)?;
        out.push(attachment(content_id, media_type, &bytes));
    }

    let fs: Vec<&Element> = [envelope_part, message_part]
        .into_iter()
        .filter_map(|e| e.child("FSAttachmentsList"))
        .flat_map(|list| list.children_named("FSAttachment"))
        .collect();
    for (i, header) in refs.into_iter().enumerate() {
        let uuid = header
            .child_text("uuid")
            .ok_or_else(|| DecodeError::Structure {
                path: "RefAttachmentHeaderList/RefAttachmentHeader".into(),
                problem: "no uuid".into(),
            })?;
        let which = format!("{} (RefAttachmentHeader)", smev::bounded(uuid));
        check_claim(header, &which, max_bytes)?;
        let file = fs.iter().find(|f| f.child_text("uuid") == Some(uuid));
        if let Some(file) = file {
            check_claim(
                file,
                &format!("{} (FSAttachment)", smev::bounded(uuid)),
                max_bytes,
            )?;
        }
        let name = file
            .and_then(|f| f.child_text("FileName"))
            .map(|n| n.trim_start_matches('/').to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| uuid.to_string());
        let claimed = claimed_size(header).or_else(|| file.and_then(|f| claimed_size(f)));
        out.push(Attachment {
            name: smev::bounded(&name),
            media_type: smev::bounded(
                header
                    .child_text("MimeType")
                    .unwrap_or("application/octet-stream"),
            ),
            size: claimed.unwrap_or(0),
            sha256: String::new(),
            content_ref: format!("smev-fs:{}", smev::bounded(uuid)),
        });
        if let Some(hash) = header.child_text("Hash") {
            meta.push((
                format!("smev.ref-attachment.{i}.gost-hash"),
                smev::bounded(hash),
            ));
        }
        meta.push((format!("smev.ref-attachment.{i}.uuid"), smev::bounded(uuid)));
    }
    Ok(out)
}

/// The size a header claims, if it has one of [`SIZE_ELEMENTS`].
fn claimed_size(header: &Element) -> Option<u64> {
    SIZE_ELEMENTS
        .iter()
        .find_map(|name| header.child_text(name))
        .and_then(|v| v.parse::<u64>().ok())
}

fn check_claim(header: &Element, which: &str, max_bytes: u64) -> Result<(), DecodeError> {
    for name in SIZE_ELEMENTS {
        if let Some(value) = header.child_text(name) {
            let size = value.parse::<u64>().map_err(|_| DecodeError::Attachment {
                which: which.to_string(),
                problem: format!("{name} `{}` is not a number of bytes", smev::bounded(value)),
            })?;
            if size > max_bytes {
                return Err(too_large(
                    which,
                    &format!("its {name} claims {size} bytes"),
                    max_bytes,
                ));
            }
        }
    }
    Ok(())
}

fn too_large(which: &str, what: &str, max_bytes: u64) -> DecodeError {
    DecodeError::Attachment {
        which: which.to_string(),
        problem: format!(
            "{what}, over the limit of {max_bytes} bytes (setting `max-attachment-bytes`)"
        ),
    }
}

/// The bytes of an `AttachmentContent/Content`: an `xop:Include` into the MTOM package,
/// or base64 text.
fn content_bytes(
    content: &Element,
    package: &Package,
    which: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, DecodeError> {
    if let Some(include) = content
        .children
        .iter()
        .find(|c| c.name == "Include" && c.ns == smev::XOP)
    {
        let href = include.attr("href").unwrap_or("");
        let part = package
            .by_href(href)
            .ok_or_else(|| DecodeError::Attachment {
                which: which.to_string(),
                problem: format!(
                    "xop:Include points at `{}`, which is not a part of the input (it must be \
                 multipart/related with a part of that Content-ID)",
                    smev::bounded(href)
                ),
            })?;
        if let Some(claimed) = part.claimed_length.filter(|n| *n > max_bytes) {
            return Err(too_large(
                which,
                &format!("its MIME part's Content-Length claims {claimed} bytes"),
                max_bytes,
            ));
        }
        if part.bytes.len() as u64 > max_bytes {
            return Err(too_large(
                which,
                &format!("it holds {} bytes", part.bytes.len()),
                max_bytes,
            ));
        }
        return Ok(part.bytes.clone());
    }
    let text: String = content.text.split_whitespace().collect();
    // base64 is 4 characters for 3 bytes: the decoded size is known before decoding.
    let size = text.len() as u64 / 4 * 3;
    if size > max_bytes {
        return Err(too_large(
            which,
            &format!("its content is about {size} bytes"),
            max_bytes,
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| DecodeError::Attachment {
            which: which.to_string(),
            problem: format!("its Content is neither xop:Include nor base64: {e}"),
        })
}

fn attachment(name: &str, media_type: &str, bytes: &[u8]) -> Attachment {
    let sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Attachment {
        name: smev::bounded(name),
        media_type: smev::bounded(media_type),
        size: bytes.len() as u64,
        content_ref: format!("sha256:{sha256}"),
        sha256,
    }
}
