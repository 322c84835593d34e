//! One input — a packet (zip container or zipped folder) or one of its XML files alone —
//! read into one canonical message: a document's registration card, or an event of its
//! registration and execution control.

use okno_sdk::prelude::*;
use okno_sdk::{clock, log};
use sha2::{Digest, Sha256};

use crate::charset;
use crate::error::EdmsError;
use crate::ltr::{self, Envelope};
use crate::medo::{
    self, Acknowledgment, Body, Communication, Document, Header, MedoFile, Notification,
};
use crate::packet::{self, Entry, Limits};
use crate::settings::Settings;
use crate::uid;
use crate::xml;

/// Metadata values are cut here: a hostile document may put megabytes in one element.
const MAX_VALUE_CHARS: usize = 2000;

pub fn decode(input: &Inbound, settings: &Settings, limits: Limits) -> Result<Message, EdmsError> {
    let name = input
        .metadata
        .iter()
        .find(|(k, _)| k == "file.name")
        .map(|(_, v)| v.rsplit(['/', '\\']).next().unwrap_or(v).to_string());
    let zip_declared = input
        .content_type
        .as_deref()
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/zip"));
    let mut notes = Notes::default();
    let message = if packet::is_zip(&input.bytes) || zip_declared {
        let packet = name.unwrap_or_else(|| "packet.zip".into());
        let mut budget = limits.max_total_bytes;
        let entries = packet::unzip(&input.bytes, &packet, limits, &mut budget)?;
        from_packet(&entries, &packet, settings, limits, &mut budget, &mut notes)?
    } else if looks_like_xml(&input.bytes) {
        let file = name.unwrap_or_else(|| "document.xml".into());
        let parsed = read_xml(&input.bytes, &file, &mut notes)?;
        match parsed {
            MedoFile::Communication(c) => {
                from_communication(c, None, &[], &file, settings, &mut notes)?
            }
            MedoFile::Passport(d) => {
                from_document(None, d, None, &[], &file, settings, &mut notes)?
            }
        }
    } else if ltr::parse(&input.bytes, "envelope.ltr").is_ok() {
        return Err(EdmsError::MissingDocument {
            packet: name.unwrap_or_else(|| "envelope.ltr".into()),
            what: "an envelope.ltr alone carries no document: send the whole packet (zip or folder) or its document.xml".into(),
        });
    } else {
        return Err(EdmsError::NotMedo {
            reason: format!(
                "{} bytes that are neither a zip container nor XML",
                input.bytes.len()
            ),
        });
    };
    Ok(finish(message, notes))
}

/// Warnings on the way (charsets that contradicted their declaration).
#[derive(Default)]
struct Notes {
    mismatches: Vec<String>,
}

fn finish(mut message: Message, notes: Notes) -> Message {
    if !notes.mismatches.is_empty() {
        let text = notes.mismatches.join("; ");
        // No content of the file here: only its name and the two charsets.
        log::warn(&format!("МЭДО charset mismatch: {text}"));
        message
            .metadata
            .push(("edms.charset-mismatch".into(), text));
    }
    message
}

fn looks_like_xml(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

fn read_xml(bytes: &[u8], file: &str, notes: &mut Notes) -> Result<MedoFile, EdmsError> {
    let text = charset::read_xml(bytes, file)?;
    if let Some(mismatch) = text.mismatch {
        notes.mismatches.push(format!("{file}: {mismatch}"));
    }
    let root = xml::parse(&text.text, file)?;
    medo::read(&root, file)
}

fn from_packet(
    entries: &[Entry],
    packet: &str,
    settings: &Settings,
    limits: Limits,
    budget: &mut u64,
    notes: &mut Notes,
) -> Result<Message, EdmsError> {
    let envelope = match packet::find(entries, "envelope.ltr") {
        Some(entry) => {
            let envelope = ltr::parse(&entry.bytes, &entry.path)?;
            if let Some(mismatch) = &envelope.mismatch {
                notes.mismatches.push(format!("{}: {mismatch}", entry.path));
            }
            Some(envelope)
        }
        None => None,
    };
    // The transport file: the envelope's XML files first, then any top-level XML.
    let mut candidates: Vec<&Entry> = Vec::new();
    for name in envelope.iter().flat_map(|e| e.files.iter()) {
        if name.to_lowercase().ends_with(".xml") {
            if let Some(entry) = packet::find(entries, name) {
                candidates.push(entry);
            }
        }
    }
    for entry in entries {
        if !entry.path.contains('/')
            && entry.path.to_lowercase().ends_with(".xml")
            && !candidates.iter().any(|c| c.path == entry.path)
        {
            candidates.push(entry);
        }
    }
    let mut passport: Option<(Document, String)> = None;
    for entry in candidates {
        match read_xml(&entry.bytes, &entry.path, notes)? {
            MedoFile::Communication(communication) => {
                return match communication.body {
                    Body::Container(ref body) => {
                        let container = packet::find(entries, body).ok_or_else(|| {
                            EdmsError::MissingDocument {
                                packet: packet.into(),
                                what: format!(
                                    "{} names its container {body}, which the packet does not hold",
                                    entry.path
                                ),
                            }
                        })?;
                        let inner = packet::unzip(&container.bytes, body, limits, budget)?;
                        let (document, file) = find_passport(&inner, body, notes)?;
                        from_document(
                            Some(&communication.header),
                            document,
                            envelope.as_ref(),
                            &inner,
                            &file,
                            settings,
                            notes,
                        )
                    }
                    _ => from_communication(
                        communication,
                        envelope.as_ref(),
                        entries,
                        &entry.path,
                        settings,
                        notes,
                    ),
                };
            }
            MedoFile::Passport(document) => passport = Some((document, entry.path.clone())),
        }
    }
    // A 2.7 container zip on its own: its passport names the document.
    let (document, file) = match passport {
        Some(found) => found,
        None => find_passport(entries, packet, notes)?,
    };
    from_document(
        None,
        document,
        envelope.as_ref(),
        entries,
        &file,
        settings,
        notes,
    )
}

fn find_passport(
    entries: &[Entry],
    packet: &str,
    notes: &mut Notes,
) -> Result<(Document, String), EdmsError> {
    let entry =
        packet::find(entries, "passport.xml").ok_or_else(|| EdmsError::MissingDocument {
            packet: packet.into(),
            what: format!(
                "no document.xml (xdms:communication) or passport.xml among its {} files{}",
                entries.len(),
                if entries.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        entries
                            .iter()
                            .take(10)
                            .map(|e| e.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        })?;
    match read_xml(&entry.bytes, &entry.path, notes)? {
        MedoFile::Passport(document) => Ok((document, entry.path.clone())),
        MedoFile::Communication(_) => Err(EdmsError::UnknownRoot {
            file: entry.path.clone(),
            element: "communication (a passport must be a c:container)".into(),
        }),
    }
}

fn from_communication(
    communication: Communication,
    envelope: Option<&Envelope>,
    entries: &[Entry],
    file: &str,
    settings: &Settings,
    notes: &mut Notes,
) -> Result<Message, EdmsError> {
    let header = communication.header;
    match communication.body {
        Body::Document(document) => from_document(
            Some(&header),
            *document,
            envelope,
            entries,
            file,
            settings,
            notes,
        ),
        Body::Container(body) => Ok(from_transport_alone(&header, &body, settings)),
        Body::Acknowledgment(ack) => Ok(from_acknowledgment(&header, ack, settings)),
        Body::Notification(note) => from_notification(&header, note, file, settings),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        text.to_string()
    } else {
        text.chars().take(MAX_VALUE_CHARS).collect::<String>() + "…"
    }
}

struct Meta(Vec<(String, String)>);

impl Meta {
    fn put(&mut self, key: &str, value: Option<impl AsRef<str>>) {
        if let Some(value) = value {
            let value = value.as_ref().trim();
            if !value.is_empty() {
                self.0.push((key.to_string(), cut(value)));
            }
        }
    }
}

fn header_meta(meta: &mut Meta, header: &Header) {
    meta.put("edms.version", header.version.as_deref());
    meta.put("edms.packet-type", Some(&header.kind));
    meta.put("edms.packet-uid", header.uid.as_deref());
    meta.put("edms.source-uid", header.source_uid.as_deref());
    meta.put("edms.source-org", header.source_org.as_deref());
}

fn sender(header: Option<&Header>, settings: &Settings) -> Client {
    let mut client = Client {
        kind: settings.client_kind,
        name: header.and_then(|h| h.source_org.clone()),
        contacts: Vec::new(),
        segments: Vec::new(),
    };
    if let Some(uid) = header.and_then(|h| h.source_uid.clone()) {
        client.contacts.push(Contact {
            kind: "medo-uid".into(),
            value: uid,
        });
    }
    client
}

/// `YYYY-MM-DD` from an ISO date or time, or from `DD.MM.YYYY`.
pub fn normalise_date(text: &str) -> Option<String> {
    let text = text.trim();
    let b = text.as_bytes();
    if b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && text[..10].bytes().filter(u8::is_ascii_digit).count() == 8
    {
        return Some(text[..10].to_string());
    }
    if b.len() >= 10
        && b[2] == b'.'
        && b[5] == b'.'
        && text[..10].bytes().filter(u8::is_ascii_digit).count() == 8
    {
        return Some(format!("{}-{}-{}", &text[6..10], &text[3..5], &text[0..2]));
    }
    None
}

/// A МЭДО time: RFC 3339, or without a zone (then the hub's local time).
fn timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    okno_sdk::time::timestamp_from_rfc3339(text).or_else(|| {
        let offset = clock::utc_offset_minutes();
        let sign = if offset < 0 { '-' } else { '+' };
        let zone = format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60);
        okno_sdk::time::timestamp_from_rfc3339(&format!("{text}{zone}"))
    })
}

fn from_document(
    header: Option<&Header>,
    document: Document,
    envelope: Option<&Envelope>,
    entries: &[Entry],
    file: &str,
    settings: &Settings,
    _notes: &mut Notes,
) -> Result<Message, EdmsError> {
    // In a packet every file the document names must be there; alone, the XML names them.
    let mut attachments = Vec::new();
    if !entries.is_empty() {
        for (index, reference) in document.files.iter().enumerate() {
            let Some(entry) = packet::find(entries, &reference.name) else {
                return Err(EdmsError::MissingDocument {
                    packet: file.into(),
                    what: format!(
                        "{} names {} «{}», which the packet does not hold",
                        file,
                        if index == 0 {
                            "its main file"
                        } else {
                            "the file"
                        },
                        reference.name
                    ),
                });
            };
            attachments.push(Attachment {
                name: entry.name().to_string(),
                media_type: packet::media_type(entry.name()).into(),
                size: entry.bytes.len() as u64,
                sha256: Sha256::digest(&entry.bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                content_ref: String::new(),
            });
        }
        for a in &mut attachments {
            a.content_ref = format!("sha256:{}", a.sha256);
        }
    }
    let number_and_date = match (&document.number, &document.date) {
        (Some(n), Some(d)) => format!(" № {n} от {d}"),
        (Some(n), None) => format!(" № {n}"),
        _ => String::new(),
    };
    let kind = document.kind.clone().unwrap_or_else(|| "Документ".into());
    let subject = format!("{kind}{number_and_date}");
    let body = document
        .annotation
        .clone()
        .unwrap_or_else(|| subject.clone());
    let mut message = Message::new(Channel::Edms, body);
    message.subject = Some(subject);
    message.attachments = attachments;
    message.idempotency_key = header
        .and_then(|h| h.uid.clone())
        .or_else(|| document.uid.clone());
    message.sent_at = header
        .and_then(|h| h.created.as_deref())
        .and_then(timestamp);
    message.client = sender(header, settings);
    if settings.is_citizen_kind(document.kind.as_deref()) {
        if let Some(citizen) = document.correspondents.iter().find(|c| c.person.is_some()) {
            message.client.kind = ClientKind::Citizen;
            message.client.name = citizen.person.clone();
        }
    }
    if message.client.name.is_none() {
        message.client.name = document
            .correspondents
            .iter()
            .find_map(|c| c.organization.clone());
    }
    let mut meta = Meta(Vec::new());
    meta.put("edms.event", Some("document"));
    if let Some(header) = header {
        header_meta(&mut meta, header);
    }
    meta.put("edms.doc-uid", document.uid.as_deref());
    meta.put("edms.doc-kind", document.kind.as_deref());
    meta.put(
        "edms.doc-type",
        Some(settings.doc_type(document.kind.as_deref())),
    );
    meta.put("edms.doc-number", document.number.as_deref());
    meta.put("edms.doc-date", document.date.as_deref());
    meta.put("edms.addressees", Some(document.addressees.join("; ")));
    meta.put("edms.signatories", Some(document.signatories.join("; ")));
    meta.put("edms.author-executor", document.executor.as_deref());
    meta.put("edms.pages", document.pages.as_deref());
    meta.put(
        "edms.files",
        Some(
            document
                .files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    let correspondent_numbers: Vec<String> = document
        .correspondents
        .iter()
        .filter_map(|c| match (&c.organization, &c.number) {
            (Some(o), Some(n)) => Some(format!(
                "{o}: № {n}{}",
                c.date
                    .as_deref()
                    .map(|d| format!(" от {d}"))
                    .unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    meta.put(
        "edms.correspondents",
        Some(correspondent_numbers.join("; ")),
    );
    if let Some(envelope) = envelope {
        meta.put("edms.envelope-subject", envelope.subject.as_deref());
        meta.put(
            "edms.envelope-addresses",
            Some(envelope.addresses.join(", ")),
        );
    }
    extras(&mut meta, &document.element, settings);
    message.metadata = meta.0;
    Ok(message)
}

fn extras(meta: &mut Meta, element: &xml::Element, settings: &Settings) {
    for (key, path) in &settings.extras {
        meta.put(&format!("edms.x.{key}"), element.text_at(path).as_deref());
    }
}

fn reference(message: &mut Message, meta: &mut Meta, uid: &str) {
    meta.put("edms.ref-uid", Some(uid));
    match uid::message_of(uid) {
        Some(id) => {
            meta.put("edms.ref-message", Some(&id));
            message.thread.in_reply_to = Some(id);
        }
        None => message.thread.in_reply_to = Some(uid.to_string()),
    }
}

/// A 2.7 transport file on its own: who sent which container, without the document
/// itself (that is inside the container zip, which did not come with it).
fn from_transport_alone(header: &Header, container: &str, settings: &Settings) -> Message {
    let body = format!(
        "Транспортный контейнер МЭДО{}: документ в {container}.",
        header
            .source_org
            .as_deref()
            .map(|o| format!(" от {o}"))
            .unwrap_or_default()
    );
    let mut message = Message::new(Channel::Edms, cut(&body));
    message.subject = Some(header.kind.clone());
    message.idempotency_key = header.uid.clone();
    message.sent_at = header.created.as_deref().and_then(timestamp);
    message.client = sender(Some(header), settings);
    let mut meta = Meta(Vec::new());
    meta.put("edms.event", Some("document"));
    header_meta(&mut meta, header);
    meta.put("edms.container", Some(container));
    meta.put("edms.container-missing", Some("true"));
    message.metadata = meta.0;
    message
}

fn from_acknowledgment(header: &Header, ack: Acknowledgment, settings: &Settings) -> Message {
    let body = if ack.accepted {
        format!("Квитанция: сообщение {} доставлено и принято.", ack.uid)
    } else {
        format!(
            "Квитанция: сообщение {} не принято{}",
            ack.uid,
            if ack.errors.is_empty() {
                ".".to_string()
            } else {
                format!(": {}", ack.errors.join("; "))
            }
        )
    };
    let mut message = Message::new(Channel::Edms, cut(&body));
    message.subject = Some("Квитанция МЭДО".into());
    message.idempotency_key = Some(
        header
            .uid
            .clone()
            .unwrap_or_else(|| format!("ack:{}:{}", ack.uid, ack.time.as_deref().unwrap_or(""))),
    );
    message.sent_at = ack.time.as_deref().and_then(timestamp);
    message.client = sender(Some(header), settings);
    let mut meta = Meta(Vec::new());
    meta.put(
        "edms.event",
        Some(if ack.accepted {
            "acknowledged"
        } else {
            "not-accepted"
        }),
    );
    header_meta(&mut meta, header);
    reference(&mut message, &mut meta, &ack.uid);
    meta.put("edms.time", ack.time.as_deref());
    meta.put("edms.reason", Some(ack.errors.join("; ")));
    message.metadata = meta.0;
    message
}

fn field(note: &Notification, settings: &Settings, name: &str) -> Option<String> {
    settings
        .paths(name)
        .iter()
        .find_map(|path| note.body.text_at(path))
}

fn from_notification(
    header: &Header,
    note: Notification,
    file: &str,
    settings: &Settings,
) -> Result<Message, EdmsError> {
    let event = settings.event_of(&note.kind).unwrap_or("notification");
    let get = |name: &str| field(&note, settings, name);
    let reg_number = get("reg-number");
    let reg_date = get("reg-date").map(|d| normalise_date(&d).unwrap_or(d));
    let doc_number = get("doc-number");
    let doc_date = get("doc-date");
    let reason = get("reason");
    let executor = get("executor");
    let controller = get("controller");
    let deadline_raw = get("deadline");
    let time = get("time");
    let require = |value: &Option<String>, field: &str| -> Result<(), EdmsError> {
        if value.is_none() {
            return Err(EdmsError::Missing {
                file: file.into(),
                path: format!(
                    "notification «{}» ({event}): {} (looked for at {} under xdms:{}; setting `field.{field}`)",
                    note.kind,
                    field,
                    settings.paths(field).join(" or "),
                    if note.body.name.is_empty() { "notification/…" } else { &note.body.name }
                ),
            });
        }
        Ok(())
    };
    match event {
        "registered" => require(&reg_number, "reg-number")?,
        "refused" | "report-rejected" => require(&reason, "reason")?,
        "assignment" => require(&executor, "executor")?,
        _ => {}
    }
    let deadline = match &deadline_raw {
        Some(raw) => Some(normalise_date(raw).ok_or_else(|| EdmsError::Invalid {
            file: file.into(),
            path: format!("notification «{}»: deadline", note.kind),
            reason: format!(
                "`{}` is not a date (YYYY-MM-DD or DD.MM.YYYY)",
                raw.chars().take(32).collect::<String>()
            ),
        })?),
        None => None,
    };
    let about = match (&doc_number, &doc_date) {
        (Some(n), Some(d)) => format!("Документ № {n} от {d}"),
        (Some(n), None) => format!("Документ № {n}"),
        _ => format!("Документ {}", note.uid),
    };
    let body = match event {
        "registered" => format!(
            "{about} зарегистрирован{}: рег. № {}{}.",
            header
                .source_org
                .as_deref()
                .map(|o| format!(" в {o}"))
                .unwrap_or_default(),
            reg_number.as_deref().unwrap_or(""),
            reg_date
                .as_deref()
                .map(|d| format!(" от {d}"))
                .unwrap_or_default()
        ),
        "refused" => format!(
            "{about}: отказано в регистрации. Причина: {}.",
            reason.as_deref().unwrap_or("")
        ),
        "assignment" => format!(
            "{about}: поручение исполнителю {}{}{}.",
            executor.as_deref().unwrap_or(""),
            controller
                .as_deref()
                .map(|c| format!(", контролёр {c}"))
                .unwrap_or_default(),
            deadline
                .as_deref()
                .map(|d| format!(", срок {d}"))
                .unwrap_or_default()
        ),
        "report-submitted" => format!(
            "{about}: доклад об исполнении направлен{}.",
            executor
                .as_deref()
                .map(|e| format!(" исполнителем {e}"))
                .unwrap_or_default()
        ),
        "report-accepted" => format!(
            "{about}: доклад об исполнении принят{}.",
            controller
                .as_deref()
                .map(|c| format!(" контролёром {c}"))
                .unwrap_or_default()
        ),
        "report-rejected" => format!(
            "{about}: доклад об исполнении отклонён{}. Причина: {}{}.",
            controller
                .as_deref()
                .map(|c| format!(" контролёром {c}"))
                .unwrap_or_default(),
            reason.as_deref().unwrap_or(""),
            deadline
                .as_deref()
                .map(|d| format!("; новый срок {d}"))
                .unwrap_or_default()
        ),
        _ => format!("{about}: уведомление «{}».", note.kind),
    };
    let mut message = Message::new(Channel::Edms, cut(&body));
    message.subject = Some(format!("Уведомление МЭДО: {}", note.kind));
    message.idempotency_key = Some(header.uid.clone().unwrap_or_else(|| {
        format!(
            "notification:{}:{}:{}",
            note.uid,
            note.kind,
            time.as_deref().unwrap_or("")
        )
    }));
    message.sent_at = time
        .as_deref()
        .and_then(timestamp)
        .or_else(|| header.created.as_deref().and_then(timestamp));
    message.client = sender(Some(header), settings);
    let mut meta = Meta(Vec::new());
    meta.put("edms.event", Some(event));
    meta.put("edms.notification-type", Some(&note.kind));
    header_meta(&mut meta, header);
    reference(&mut message, &mut meta, &note.uid);
    meta.put("edms.reg-number", reg_number.as_deref());
    meta.put("edms.reg-date", reg_date.as_deref());
    meta.put("edms.doc-number", doc_number.as_deref());
    meta.put("edms.doc-date", doc_date.as_deref());
    meta.put("edms.executor", executor.as_deref());
    meta.put("edms.controller", controller.as_deref());
    meta.put("edms.deadline", deadline.as_deref());
    meta.put("edms.reason", reason.as_deref());
    meta.put("edms.comment", note.comment.as_deref());
    meta.put("edms.time", time.as_deref());
    extras(&mut meta, &note.body, settings);
    message.metadata = meta.0;
    Ok(message)
}
