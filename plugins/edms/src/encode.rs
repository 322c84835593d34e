//! A message written as a МЭДО packet: a zip container with `envelope.ltr`,
//! `document.xml` and the document's text, as a МЭДО gateway takes it from its outgoing
//! folder. An appeal becomes a document (МЭДО 2.x, header type «Документ»); a document
//! that came in over МЭДО becomes the notification «Зарегистрирован» back to its sender.

use okno_sdk::prelude::*;
use quick_xml::escape::escape;

use crate::ltr;
use crate::medo::IEDMS;
use crate::packet;
use crate::settings::{EncodeSettings, Settings};
use crate::uid;

/// What a packet is made of: document.xml, the other files, and the envelope's subject.
type Parts = (String, Vec<(String, Vec<u8>)>, String);

/// The document's text travels as this file.
pub const TEXT_FILE: &str = "appeal.txt";

pub fn encode(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    settings: &Settings,
    out: &EncodeSettings,
    utc_offset_minutes: i32,
) -> Result<Outbound, PluginError> {
    let incoming_document = message.channel == Channel::Edms
        && message.metadata_value("edms.event") == Some("document");
    let (xml, files, subject) = if incoming_document {
        notification(message, settings, out, utc_offset_minutes)?
    } else {
        document(message, classification, decision, out, utc_offset_minutes)
    };
    let mut entries = vec![
        (
            "envelope.ltr".to_string(),
            ltr::write(
                &subject,
                std::slice::from_ref(&out.medo_address),
                &std::iter::once("document.xml".to_string())
                    .chain(files.iter().map(|(n, _)| n.clone()))
                    .collect::<Vec<_>>(),
            ),
        ),
        ("document.xml".to_string(), xml.into_bytes()),
    ];
    entries.extend(files);
    let bytes = packet::zip(&entries)
        .map_err(|e| PluginError::internal(format!("writing the zip container: {e}")))?;
    Ok(Outbound {
        bytes,
        content_type: "application/zip".into(),
        headers: vec![(
            "filename".into(),
            format!("okno-{}.zip", safe_name(&message.id)),
        )],
    })
}

fn safe_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

fn local_date(at: Timestamp, offset: i32) -> String {
    let d = okno_sdk::time::local_date_with_offset(at, offset);
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn local_time(at: Timestamp, offset: i32) -> String {
    let local = at + i64::from(offset) * 60_000;
    let secs = local.div_euclid(1000);
    let day = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    let d = okno_sdk::time::civil_from_days(day);
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        s / 3600,
        s % 3600 / 60,
        s % 60,
        offset.abs() / 60,
        offset.abs() % 60
    )
}

fn header(kind: &str, uid: &str, created: &str, out: &EncodeSettings) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<xdms:communication xmlns:xdms=\"{IEDMS}\" xdms:version=\"{}\">\n  <xdms:header xdms:type=\"{kind}\" xdms:uid=\"{uid}\" xdms:created=\"{created}\">\n    <xdms:source xdms:uid=\"{}\">\n      <xdms:organization>{}</xdms:organization>\n    </xdms:source>\n  </xdms:header>\n",
        escape(out.version.as_str()),
        escape(out.source_uid.as_str()),
        escape(out.organization.as_str()),
    )
}

fn element(name: &str, value: &str) -> String {
    format!("<xdms:{name}>{}</xdms:{name}>", escape(value.trim()))
}

fn document(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    out: &EncodeSettings,
    offset: i32,
) -> Parts {
    let date = local_date(message.received_at, offset);
    let created = local_time(message.received_at, offset);
    let mut xml = header(
        "Документ",
        &uid::derived(&message.id, "header"),
        &created,
        out,
    );
    // The annotation is what a registrar reads first: the subject, the topic the hub
    // found, the answer's deadline; the text itself is in the file.
    let mut annotation = message
        .subject
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| message.body.chars().take(300).collect());
    if let Some(topic) = classification.topic.as_ref().filter(|t| !t.low_confidence) {
        annotation.push_str(&format!(". Тема: {} {}", topic.best.code, topic.best.name));
    }
    if let Some(deadline) = decision.answer_deadline {
        annotation.push_str(&format!(". Срок ответа: {}", local_date(deadline, offset)));
    }
    xml.push_str(&format!(
        "  <xdms:document xdms:uid=\"{}\" xdms:id=\"{}\">\n    {}\n    <xdms:num>{}{}</xdms:num>\n",
        uid::for_message(&message.id),
        escape(message.id.as_str()),
        element("kind", &out.document_kind),
        element("number", &message.id),
        element("date", &date),
    ));
    xml.push_str(&format!(
        "    <xdms:signatories><xdms:signatory>{}<xdms:signed>{date}</xdms:signed></xdms:signatory></xdms:signatories>\n",
        element("organization", &out.organization)
    ));
    xml.push_str(&format!(
        "    <xdms:addressees><xdms:addressee>{}{}</xdms:addressee></xdms:addressees>\n",
        element("organization", &out.addressee),
        decision
            .responsible
            .as_deref()
            .map(|r| element("department", r))
            .unwrap_or_default()
    ));
    xml.push_str(&format!(
        "    <xdms:pages>1</xdms:pages>\n    {}\n",
        element("annotation", &annotation)
    ));
    let contacts: Vec<String> = message
        .client
        .contacts
        .iter()
        .map(|c| format!("{}: {}", c.kind, c.value))
        .collect();
    xml.push_str(&format!(
        "    <xdms:correspondents><xdms:correspondent>{}{}{}</xdms:correspondent></xdms:correspondents>\n",
        message
            .client
            .name
            .as_deref()
            .map(|n| element("person", n))
            .unwrap_or_default(),
        if contacts.is_empty() {
            String::new()
        } else {
            element("contactInfo", &contacts.join("; "))
        },
        message
            .idempotency_key
            .as_deref()
            .map(|k| format!("<xdms:num>{}</xdms:num>", element("number", k)))
            .unwrap_or_default()
    ));
    if let Some(responsible) = &decision.responsible {
        xml.push_str(&format!(
            "    <xdms:executor>{}{}</xdms:executor>\n",
            element("organization", &out.organization),
            element("department", responsible)
        ));
    }
    xml.push_str("  </xdms:document>\n  <xdms:files>\n");
    xml.push_str(&format!(
        "    <xdms:file xdms:localName=\"{TEXT_FILE}\" xdms:localId=\"0\">{}{}</xdms:file>\n",
        element("group", "Текст документа"),
        element("description", "Текст обращения")
    ));
    let attached = attachments(message);
    for (i, (name, original, _)) in attached.iter().enumerate() {
        xml.push_str(&format!(
            "    <xdms:file xdms:localName=\"{}\" xdms:localId=\"{}\">{}{}</xdms:file>\n",
            escape(name.as_str()),
            i + 1,
            element("group", "Приложение"),
            element("description", original)
        ));
    }
    xml.push_str("  </xdms:files>\n</xdms:communication>\n");
    let mut text = String::new();
    if let Some(subject) = &message.subject {
        text.push_str(subject.trim());
        text.push_str("\r\n\r\n");
    }
    text.push_str(&message.body.replace("\r\n", "\n").replace('\n', "\r\n"));
    let subject = format!(
        "№ {} от {} {}",
        message.id,
        date.split('-').rev().collect::<Vec<_>>().join("/"),
        out.document_kind
    );
    let mut files = vec![(TEXT_FILE.to_string(), text.into_bytes())];
    files.extend(
        attached
            .into_iter()
            .map(|(name, _, content)| (name, content)),
    );
    (xml, files, subject)
}

/// The files the hub handed over for a sink with `attachments = true` (metadata
/// `okno.attachment.<sha256>`, base64), checked against their digest: (name in the packet,
/// the sender's name, content). An attachment without its content is left out: a sink that
/// needs every file is refused by the hub before encode.
fn attachments(message: &Message) -> Vec<(String, String, Vec<u8>)> {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let mut taken: Vec<String> = vec![
        "envelope.ltr".into(),
        "document.xml".into(),
        TEXT_FILE.into(),
    ];
    let mut out = Vec::new();
    for (i, a) in message.attachments.iter().enumerate() {
        let sha = a.content_ref.strip_prefix("sha256:").unwrap_or(&a.sha256);
        let Some(content) = message
            .metadata_value(&format!("okno.attachment.{sha}"))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        else {
            continue;
        };
        let digest: String = Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != sha {
            continue;
        }
        let mut name = packet_name(&a.name, i + 1);
        if taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            name = format!("{}-{name}", i + 1);
        }
        taken.push(name.clone());
        out.push((name, a.name.clone(), content));
    }
    out
}

/// A file's name inside the packet: the sender's, without any folder or control
/// character, at most 100 characters; `attachment-N` when nothing is left.
fn packet_name(name: &str, n: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        format!("attachment-{n}")
    } else {
        cleaned
    }
}

fn notification(
    message: &Message,
    settings: &Settings,
    out: &EncodeSettings,
    offset: i32,
) -> Result<Parts, PluginError> {
    let doc_uid = message
        .metadata_value("edms.doc-uid")
        .or_else(|| message.metadata_value("edms.packet-uid"))
        .ok_or_else(|| {
            PluginError::unsupported(
                "the МЭДО document has no edms.doc-uid or edms.packet-uid: a notification must name the document's uid",
            )
        })?;
    let kind = settings.type_of("registered").unwrap_or("Зарегистрирован");
    // The number this body's registry gave it: the EDMS's or the appeals system's when
    // one has been carried back onto the message, else the hub's own id.
    let number = message
        .metadata_value("edms.reg-number")
        .or_else(|| message.metadata_value("sog.reg-number"))
        .unwrap_or(message.id.as_str());
    let date = message
        .metadata_value("edms.reg-date")
        .or_else(|| message.metadata_value("sog.reg-date"))
        .map(str::to_string)
        .unwrap_or_else(|| local_date(message.received_at, offset));
    let created = local_time(message.received_at, offset);
    let mut xml = header(
        "Уведомление",
        &uid::derived(&message.id, "registered"),
        &created,
        out,
    );
    let foundation = match (
        message.metadata_value("edms.doc-number"),
        message.metadata_value("edms.doc-date"),
    ) {
        (Some(n), Some(d)) => format!(
            "<xdms:num>{}{}</xdms:num>",
            element("number", n),
            element("date", d)
        ),
        (Some(n), None) => format!("<xdms:num>{}</xdms:num>", element("number", n)),
        _ => String::new(),
    };
    xml.push_str(&format!(
        "  <xdms:notification xdms:type=\"{}\" xdms:uid=\"{}\">\n    <xdms:documentAccepted>\n      {}\n      <xdms:foundation>{}{foundation}</xdms:foundation>\n      <xdms:correspondent>{}</xdms:correspondent>\n      <xdms:num>{}{}</xdms:num>\n    </xdms:documentAccepted>\n  </xdms:notification>\n</xdms:communication>\n",
        escape(kind),
        escape(doc_uid),
        element("time", &created),
        element("organization", message.metadata_value("edms.source-org").unwrap_or("")),
        element("organization", &out.organization),
        element("number", number),
        element("date", &date),
    ));
    let subject = format!("Уведомление о регистрации № {number}");
    Ok((xml, Vec::new(), subject))
}
