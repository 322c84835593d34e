//! # okno-plugin-mail: e-mail appeals in, acknowledgements out
//!
//! A connector for the `connector` world of `okno:plugin`.
//!
//! **decode** reads one RFC 5322 e-mail (as an SMTP listener or a mail-drop directory
//! hands it over) into one message on channel `mail`:
//!
//! - body: the text/plain parts; HTML reduced to readable text when there is no plain
//!   text. Quoted-printable and base64, `format=flowed`, and the charsets of Russian mail
//!   (utf-8, koi8-r, windows-1251 and the rest mail-parser knows) are decoded. 8-bit text
//!   or header fields that declare no usable charset are read as windows-1251 or KOI8-R,
//!   whichever reads as Russian (or as `fallback-charset`).
//! - `idempotency_key`: the Message-ID without angle brackets; `subject`: the Subject with
//!   RFC 2047 encoded words decoded; `sent_at`: the Date, when it is a valid date;
//!   `thread.in_reply_to`: In-Reply-To, else the last References id.
//! - client: the From display name; `email` contacts: Reply-To first when it differs
//!   from From (answers go there), then From. Kind `client-kind`, or `unknown` without From.
//! - attachments: decoded file name, media type, size, SHA-256 of the content as sent
//!   (transfer encoding undone), `content_ref` `sha256:<hex>`.
//! - metadata: `mail.from-domain`, `mail.to`, `mail.charset` (of the body),
//!   `mail.charset-guessed`, `mail.header-charset` (8-bit header fields were re-read),
//!   `mail.body-from-html`, `mail.date-invalid` (the raw Date that could not be read),
//!   `mail.auto-submitted` (the sender is an auto-responder: do not answer it),
//!   `mail.language` (Content-Language's primary tag, else `ru` or `en` by the script of
//!   the subject and text, with `mail.language-guessed`), and the SMTP envelope the
//!   listener passed in (`smtp.mail-from`, `smtp.rcpt-to` with every recipient,
//!   `smtp.client-ip`, `smtp.helo`, `smtp.tls`, `smtp.auth`).
//!
//! Input that is not an e-mail (empty, no header fields, binary data) or an e-mail with
//! neither text nor attachments fails with `invalid-input` and a reason.
//!
//! **encode** writes a plain-text UTF-8 reply (a MIME message built with mail-builder) to
//! the client's first `email` contact: `Re: <subject> [number]`, In-Reply-To and
//! References pointing to the original Message-ID, `Auto-Submitted: auto-replied`,
//! Content-Language, and an acknowledgement in the appeal's language (English when
//! `mail.language` is `en`, else Russian) with the number to quote: the registration
//! number from `edms.reg-number` or `sog.reg-number` when a registering system gave one,
//! else the hub's id, called the number in the intake system; the topic when the
//! classifier is sure of it, and the answer deadline as a hub-local date. Content type
//! `message/rfc822`; transport headers `smtp.mail-from` and `smtp.rcpt-to` carry the
//! envelope. A client without an `email` contact fails with `unsupported`.
//!
//! ## Settings
//! | key | default | meaning |
//! |---|---|---|
//! | `client-kind` | `citizen` | kind of every sender: `citizen`, `business`, `internal`, `unknown` |
//! | `fallback-charset` | `auto` | charset for 8-bit text that declares none; `auto` guesses windows-1251 or koi8-r |
//! | `from` | (required by encode) | sender address of replies, e.g. `priemnaya@minsoc.example.ru` |
//! | `from-name` | none | display name beside `from`, e.g. `Приёмная министерства` |
//! | `signature` | none | lines closing the reply, after «С уважением,» |
//! | `signature-en` | `signature` | the same for replies in English, after "Kind regards," |
//! | `reply-language` | `auto` | `auto` (the appeal's `mail.language`), `ru` or `en` |
//! | `transfer-encoding` | `quoted-printable` | body encoding of replies: `quoted-printable` or `base64` |

mod charset;
mod decode;
mod encode;
mod html;
mod language;
mod mime;
mod reply;
mod settings;

use okno_sdk::clock;
use okno_sdk::prelude::*;

use settings::{DecodeSettings, EncodeSettings};

/// The mail connector.
pub struct MailConnector;

impl Connector for MailConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = DecodeSettings::from_config()?;
        let mut message = decode::decode(&input.bytes, &settings)?;
        message.metadata.extend(envelope(&input.metadata));
        Ok(vec![message])
    }

    fn encode(
        message: Message,
        classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = EncodeSettings::from_config()?;
        encode::encode(
            &message,
            &classification,
            &decision,
            &settings,
            clock::now(),
            clock::utc_offset_minutes(),
        )
    }
}

/// Most `smtp.*` facts kept, and the longest value (a hundred recipients fit).
const MAX_ENVELOPE_ENTRIES: usize = 16;
const MAX_ENVELOPE_VALUE: usize = 8192;

/// The SMTP envelope the listener saw (`smtp.mail-from`, `smtp.rcpt-to`,
/// `smtp.client-ip`, `smtp.helo`, `smtp.tls`, `smtp.auth`), kept in the message's
/// metadata: the envelope's recipients are who the mail was for, whatever its To says.
fn envelope(inbound: &[(String, String)]) -> Vec<(String, String)> {
    inbound
        .iter()
        .filter(|(key, _)| key.starts_with("smtp."))
        .filter(|(_, value)| value.len() <= MAX_ENVELOPE_VALUE)
        .take(MAX_ENVELOPE_ENTRIES)
        .cloned()
        .collect()
}

okno_sdk::export_connector!(MailConnector);
