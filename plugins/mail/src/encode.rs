//! The reply e-mail that acknowledges an appeal to its author.

use okno_sdk::prelude::*;

use crate::mime;
use crate::reply;
use crate::settings::{EncodeSettings, TransferEncoding};

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
    let subject = match message
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(subject) if has_reply_prefix(subject) => subject.to_string(),
        Some(subject) => format!("Re: {subject}"),
        None if message.id.is_empty() => "Ваше обращение зарегистрировано".to_string(),
        None => format!("Обращение № {} зарегистрировано", message.id),
    };

    let mut head = String::new();
    head.push_str(&mime::raw_header(
        "From",
        &mime::mailbox(settings.from_name.as_deref(), &settings.from),
    ));
    head.push_str(&mime::raw_header(
        "To",
        &mime::mailbox(message.client.name.as_deref(), to),
    ));
    head.push_str(&mime::header("Subject", &subject));
    head.push_str(&mime::raw_header(
        "Date",
        &mime::rfc5322_date(now, utc_offset_minutes),
    ));
    head.push_str(&mime::raw_header(
        "Message-ID",
        &reply_message_id(message, settings, now),
    ));
    // Only an e-mail's own Message-ID threads the reply in the client's mail program; a
    // SMEV or portal key would mean nothing there.
    if let Some(original) = message
        .idempotency_key
        .as_deref()
        .filter(|_| message.channel == Channel::Mail)
        .filter(|key| is_message_id(key))
    {
        head.push_str(&mime::raw_header("In-Reply-To", &format!("<{original}>")));
        head.push_str(&mime::raw_header("References", &format!("<{original}>")));
    }
    // RFC 3834: marks the reply as automatic, so the client's auto-responder stays quiet.
    head.push_str("Auto-Submitted: auto-replied\r\n");
    head.push_str("MIME-Version: 1.0\r\n");
    head.push_str("Content-Type: text/plain; charset=utf-8\r\n");

    let text = reply::acknowledgement(
        message,
        classification,
        decision,
        settings.signature.as_deref(),
    );
    let body = match settings.transfer_encoding {
        TransferEncoding::QuotedPrintable => {
            head.push_str("Content-Transfer-Encoding: quoted-printable\r\n");
            mime::quoted_printable(text.trim_end_matches('\n'))
        }
        TransferEncoding::Base64 => {
            head.push_str("Content-Transfer-Encoding: base64\r\n");
            mime::base64_body(text.as_bytes())
        }
    };

    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body.as_bytes());
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

/// `<id.reply@domain>`: derived from the hub's message id, so a retried delivery
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
        format!("<{now}.reply@{domain}>")
    } else {
        format!("<{local}.reply@{domain}>")
    }
}
