//! The reply e-mail that acknowledges an appeal to its author, as a MIME message built
//! with mail-builder: header fields encoded (RFC 2047) and folded by it, the body
//! encoded here as the `transfer-encoding` setting asks.

use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use okno_sdk::prelude::*;

use crate::mime;
use crate::reply::{self, Language, Reference};
use crate::settings::{EncodeSettings, ReplyLanguage, TransferEncoding};

/// Metadata keys that carry the registration number a registering system gave the
/// appeal, in the order they are looked at.
const REG_NUMBER_KEYS: [&str; 2] = ["edms.reg-number", "sog.reg-number"];

/// Writes the acknowledgement for `message` as an RFC 5322 e-mail to the client's first
/// `email` contact. `now` and `utc_offset_minutes` come from the hub's clock.
pub fn encode(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    settings: &EncodeSettings,
    now: Timestamp,
    utc_offset_minutes: i32,
) -> Result<Outbound, PluginError> {
    let to = recipient(&message.client)?;
    let language = language(message, settings);
    let reference = reference(message);
    let subject = subject(message, &reference, language);

    let text = reply::acknowledgement(
        message,
        classification,
        decision,
        &reference,
        language,
        settings.signature(language),
    );
    let (encoded, transfer) = match settings.transfer_encoding {
        TransferEncoding::QuotedPrintable => (
            mime::quoted_printable(text.trim_end_matches('\n')),
            "quoted-printable",
        ),
        TransferEncoding::Base64 => (mime::base64_body(text.as_bytes()), "base64"),
    };
    let body = MimePart::new("text/plain", encoded)
        .transfer_encoding(transfer)
        .language(language.tag());

    let from = match &settings.from_name {
        Some(name) => Address::new_address(Some(name.as_str()), settings.from.as_str()),
        None => Address::new_address(None::<&str>, settings.from.as_str()),
    };
    let client_name = message
        .client
        .name
        .as_deref()
        .map(clean_display_name)
        .filter(|n| !n.is_empty());
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(Address::new_address(client_name, to))
        .subject(subject)
        .header(
            "Date",
            Raw::new(mime::rfc5322_date(now, utc_offset_minutes)),
        )
        .message_id(reply_message_id(message, settings, now));
    // Only an e-mail's own Message-ID threads the reply in the client's mail program; a
    // SMEV or portal key would mean nothing there.
    if let Some(original) = message
        .idempotency_key
        .as_deref()
        .filter(|_| message.channel == Channel::Mail)
        .filter(|key| is_message_id(key))
    {
        builder = builder
            .in_reply_to(original.to_string())
            .references(original.to_string());
    }
    // RFC 3834: marks the reply as automatic, so the client's auto-responder stays quiet.
    let bytes = builder
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(body)
        .write_to_vec()
        .map_err(|e| PluginError::internal(format!("writing the reply failed: {e}")))?;

    Ok(Outbound {
        bytes,
        content_type: "message/rfc822".into(),
        // The envelope, for an SMTP transport that does not read the header.
        headers: vec![
            ("smtp.mail-from".into(), settings.from.clone()),
            ("smtp.rcpt-to".into(), to.to_string()),
        ],
    })
}

/// The reply's language: the setting, or the appeal's own (`mail.language`, which decode
/// sets) when it is English, else Russian.
fn language(message: &Message, settings: &EncodeSettings) -> Language {
    match settings.reply_language {
        ReplyLanguage::Russian => Language::Russian,
        ReplyLanguage::English => Language::English,
        ReplyLanguage::Auto => match message.metadata_value("mail.language") {
            Some(tag) if tag.eq_ignore_ascii_case("en") => Language::English,
            _ => Language::Russian,
        },
    }
}

/// The number the client should quote: the registering system's when it gave one,
/// else the hub's own id, which the reply calls by that name.
fn reference(message: &Message) -> Reference {
    let registered = REG_NUMBER_KEYS.iter().find_map(|key| {
        message
            .metadata_value(key)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().filter(|c| !c.is_control()).take(64).collect())
    });
    match registered {
        Some(number) => Reference::Registered(number),
        None if message.id.is_empty() => Reference::None,
        None => Reference::Intake(message.id.clone()),
    }
}

fn subject(message: &Message, reference: &Reference, language: Language) -> String {
    let label = reference.label(language);
    match message
        .subject
        .as_deref()
        .map(|s| s.trim().replace(['\r', '\n'], " "))
        .filter(|s| !s.is_empty())
    {
        Some(subject) => {
            let subject = if has_reply_prefix(&subject) {
                subject
            } else {
                format!("Re: {subject}")
            };
            // A reply to a reply keeps the number once.
            match (label, reference.number()) {
                (Some(label), Some(number)) if !subject.contains(number) => {
                    format!("{subject} [{label}]")
                }
                _ => subject,
            }
        }
        None => reply::default_subject(reference, language),
    }
}

/// A display name as mail-builder should see it: no line breaks or other controls.
fn clean_display_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The client's first `email` contact. Contact values are personal data, so errors name
/// only the kinds present.
fn recipient(client: &Client) -> Result<&str, PluginError> {
    let Some(contact) = client
        .contacts
        .iter()
        .find(|c| c.kind.eq_ignore_ascii_case("email"))
    else {
        let kinds: Vec<&str> = client.contacts.iter().map(|c| c.kind.as_str()).collect();
        return Err(PluginError::unsupported(format!(
            "the client has no `email` contact to reply to (contact kinds: {}); \
             route this message to a sink that can reach the client another way",
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            }
        )));
    };
    let address = contact.value.trim();
    if !mime::is_plain_address(address) {
        return Err(PluginError::invalid_input(
            "the client's `email` contact is not a plain address like `name@example.ru` \
             (it has spaces, angle brackets, a display name or no `@`); fix the contact in the source",
        ));
    }
    Ok(address)
}

fn has_reply_prefix(subject: &str) -> bool {
    let lower = subject.to_lowercase();
    lower.starts_with("re:") || lower.starts_with("ответ:")
}

fn is_message_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
}

/// `id.reply@domain`: derived from the hub's message id, so a retried delivery
/// carries the same Message-ID and the client's mail program shows one letter.
fn reply_message_id(message: &Message, settings: &EncodeSettings, now: Timestamp) -> String {
    let domain = settings
        .from
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let local: String = message
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if local.is_empty() {
        format!("{now}.reply@{domain}")
    } else {
        format!("{local}.reply@{domain}")
    }
}
