//! # okno-plugin-epgu: EPGU through SMEV 3
//!
//! A connector for the `connector` world of `okno:plugin`. It speaks raw SMEV 3
//! envelopes (message-exchange types 1.1, 1.2 and 1.3) with the ministry's own SMEV
//! adapter; signing (XMLDSig with GOST R 34.10-2012) and checking SMEV's signatures is
//! the adapter's work, as is fetching large files from SMEV's file storage. See
//! README.md beside this crate.
//!
//! **decode** reads what the adapter answers:
//! - `GetRequestResponse`: the request in `RequestMessage/Request/SenderProvidedRequestData`
//!   becomes one message on channel `epgu`; its `MessageID` is the idempotency key;
//!   `ReplyTo` is kept in metadata (`smev.reply-to`) for the answer; the payload of
//!   `MessagePrimaryContent` is mapped to client, subject and body (see `application`);
//!   attachments come from `AttachmentHeaderList` (base64 or MTOM `xop:Include`) and
//!   `RefAttachmentHeaderList`/`FSAttachmentsList`. No `RequestMessage`: no message.
//! - `GetResponseResponse`: an answer to the ministry's own request, threaded to it by
//!   `OriginalMessageId`; an `AsyncProcessingStatus` that rejects it is an error.
//! - A SOAP fault (`SignatureVerificationFault`, `TargetMessageIsNotFound`, …) is an
//!   error naming SMEV's code.
//!
//! **poll** (the `poller` world) sends `GetRequestRequest` to the adapter at
//! `adapter-url` and decodes its answer (an empty queue is an empty batch); the
//! request's MessageID is the batch's ack token, and **ack** sends `AckRequest` for it.
//!
//! **encode** writes `SendResponseRequest`: a `RequestStatus` (setting `response =
//! "status"`) or the service's result (`response = "result"`), to the request's ReplyTo.

mod application;
mod attachments;
pub mod decode;
pub mod encode;
mod mtom;
pub mod poll;
pub mod settings;
pub mod smev;
pub mod xml;

use okno_sdk::prelude::*;
use okno_sdk::{clock, log};

use settings::{DecodeSettings, EncodeSettings};

/// The EPGU connector.
pub struct EpguConnector;

impl Connector for EpguConnector {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let settings = DecodeSettings::from_config()?;
        let decoded = decode::decode(&input.bytes, input.content_type.as_deref(), &settings)?;
        for warning in &decoded.warnings {
            log::warn(warning);
        }
        Ok(decoded.messages)
    }

    fn encode(
        message: Message,
        classification: Classification,
        decision: Decision,
    ) -> Result<Outbound, PluginError> {
        let settings = EncodeSettings::from_config()?;
        encode::send_response_request(
            &message,
            &classification,
            &decision,
            &settings,
            clock::utc_offset_minutes(),
        )
    }
}

impl Poller for EpguConnector {
    fn poll() -> Result<Batch, PluginError> {
        poll::poll()
    }

    fn ack(token: String) -> Result<(), PluginError> {
        poll::ack(token)
    }
}

okno_sdk::export_poller!(EpguConnector);
