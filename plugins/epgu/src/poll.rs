//! The connector as a poller: `poll` asks the ministry's SMEV adapter for the next
//! request (`GetRequestRequest`), `ack` tells it the request is journaled
//! (`AckRequest`). SMEV keeps handing out a request until it is acknowledged, so a hub
//! that stops between the two gets it again, and its MessageID makes it a duplicate.
//!
//! With several message types configured, each poll asks for the next one in turn (the
//! position is kept in kv); an empty answer moves on to the next type at once, until
//! every type was asked once in the round.

use okno_sdk::http::{Request, Response};
use okno_sdk::prelude::*;
use okno_sdk::{clock, config, kv, log};

use crate::decode::{self, DecodeError};
use crate::encode::{self, MessageType};
use crate::settings::{non_empty, version_setting, DecodeSettings};
use crate::smev::{self, Version};

/// The kv key of the next message type to ask for.
const NEXT_TYPE_KEY: &str = "poll.next-type";

/// What `poll` and `ack` need.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// `adapter-url`: where the adapter takes SMEV envelopes, e.g.
    /// `http://smev-adapter.minprom.local:7575/ws`.
    pub adapter_url: String,
    /// `message-types`: payload namespaces (`urn:…`) or `{urn:…}RootElement`, separated
    /// by commas; none: ask for any type.
    pub message_types: Vec<MessageType>,
    /// `smev-version`: the types version of the envelopes written.
    pub version: Version,
    /// `node-id`: this node's id, for adapters serving several nodes of one system.
    pub node_id: Option<String>,
}

impl PollSettings {
    pub fn from_config() -> Result<Self, PluginError> {
        let adapter_url = non_empty("adapter-url").ok_or_else(|| {
            PluginError::config(
                "setting `adapter-url` is missing: the SMEV adapter's endpoint, e.g. \
                 `http://smev-adapter.example.local:7575/ws`",
            )
        })?;
        if !adapter_url.starts_with("http://") && !adapter_url.starts_with("https://") {
            return Err(PluginError::config(format!(
                "setting `adapter-url` is `{adapter_url}`; give an http:// or https:// URL"
            )));
        }
        let mut message_types = Vec::new();
        if let Some(list) = config::get("message-types") {
            for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                message_types.push(MessageType::parse(item).ok_or_else(|| {
                    PluginError::config(format!(
                        "setting `message-types`: `{item}` is neither a namespace URI nor \
                         `{{namespace}}RootElement`"
                    ))
                })?);
            }
        }
        Ok(PollSettings {
            adapter_url,
            message_types,
            version: version_setting()?,
            node_id: non_empty("node-id"),
        })
    }
}

/// One poll: at most one request from SMEV's queue.
pub fn poll() -> Result<Batch, PluginError> {
    let settings = PollSettings::from_config()?;
    let decode_settings = DecodeSettings::from_config()?;
    let types = settings.message_types.len();
    let index = if types == 0 { 0 } else { next_type()? % types };
    let selector = settings.message_types.get(index);
    let envelope = encode::get_request_request(
        settings.version,
        selector,
        clock::now(),
        settings.node_id.as_deref(),
    );
    let response = call(&settings, "urn:GetRequest", envelope)?;
    let content_type = header(&response, "content-type");
    match decode::decode(&response.body, content_type.as_deref(), &decode_settings) {
        Ok(decoded) => {
            for warning in &decoded.warnings {
                log::warn(warning);
            }
            let got = !decoded.messages.is_empty();
            let mut more = got;
            if !got && types > 1 {
                // Nothing of this type: ask for the next one now, until the round is done.
                let next = (index + 1) % types;
                set_next_type(next)?;
                more = next != 0;
            }
            Ok(Batch {
                ack: decoded.message_ids.first().cloned(),
                messages: decoded.messages,
                more,
            })
        }
        Err(DecodeError::Smev(fault)) => Err(PluginError::upstream(format!(
            "GetRequest to the SMEV adapter: {fault}"
        ))),
        Err(e) => {
            // A request SMEV delivered but that cannot be read would come back on every
            // poll and hold up the queue: refuse it to SMEV (accepted="false"), which
            // tells its sender, and report why.
            let error = PluginError::from(e);
            if error.kind == ErrorKind::InvalidInput {
                if let Some(id) = message_id_hint(&response.body) {
                    let ack = encode::ack_request(settings.version, &id, false);
                    let refused = call(&settings, "urn:Ack", ack);
                    log::log(
                        log::Level::Error,
                        &format!(
                            "SMEV request {id} refused (AckRequest accepted=\"false\"{}): {}",
                            match &refused {
                                Ok(_) => String::new(),
                                Err(e) => format!(", which failed: {}", e.message),
                            },
                            error.message
                        ),
                    );
                    return Err(PluginError::invalid_input(format!(
                        "SMEV request {id} could not be read and was refused to SMEV: {}",
                        error.message
                    )));
                }
            }
            Err(error)
        }
    }
}

/// Acknowledges the request with this MessageID, once it is journaled.
pub fn ack(token: String) -> Result<(), PluginError> {
    let settings = PollSettings::from_config()?;
    let envelope = encode::ack_request(settings.version, token.trim(), true);
    let response = call(&settings, "urn:Ack", envelope)?;
    let text = String::from_utf8_lossy(&response.body);
    // SMEV forgets a request acknowledged before (or expired): it is out of the queue,
    // which is what the acknowledgement is for.
    if text.contains("TargetMessageIsNotFound") {
        log::warn(&format!(
            "AckRequest for {token}: SMEV no longer holds the message (TargetMessageIsNotFound)"
        ));
        return Ok(());
    }
    if !text.contains("AckResponse") {
        return Err(PluginError::upstream(format!(
            "AckRequest for {token}: the adapter's answer is not an AckResponse: {}",
            smev::bounded(&text)
        )));
    }
    Ok(())
}

/// POSTs an envelope to the adapter. A SOAP fault comes back as 500 with the fault in
/// the body, which the caller reads; other failures are `upstream` errors.
fn call(settings: &PollSettings, action: &str, envelope: String) -> Result<Response, PluginError> {
    let request = Request {
        method: "POST".into(),
        url: settings.adapter_url.clone(),
        headers: vec![
            ("content-type".into(), encode::CONTENT_TYPE.into()),
            ("soapaction".into(), action.into()),
        ],
        body: Some(envelope.into_bytes()),
    };
    let response = okno_sdk::http::send(&request).map_err(|e| {
        PluginError::upstream(format!(
            "{action} to the SMEV adapter at {}: {}",
            settings.adapter_url,
            okno_sdk::http::describe(&e)
        ))
    })?;
    let soap = String::from_utf8_lossy(&response.body[..response.body.len().min(4096)])
        .contains("Envelope");
    if (200..300).contains(&response.status) || (response.status == 500 && soap) {
        if response.status == 500 && action == "urn:Ack" {
            // A fault answering an Ack: read it here, the caller expects an AckResponse.
            let text = String::from_utf8_lossy(&response.body);
            if !text.contains("TargetMessageIsNotFound") {
                let fault = decode::decode(&response.body, None, &DecodeSettings::from_config()?)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| smev::bounded(&text));
                return Err(PluginError::upstream(format!("{action}: {fault}")));
            }
        }
        return Ok(response);
    }
    Err(PluginError::upstream(format!(
        "{action} to the SMEV adapter at {} answered HTTP {}: {}",
        settings.adapter_url,
        response.status,
        smev::bounded(&String::from_utf8_lossy(&response.body))
    )))
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn next_type() -> Result<usize, PluginError> {
    let value = kv::get(NEXT_TYPE_KEY)
        .map_err(|e| PluginError::internal(format!("kv get {NEXT_TYPE_KEY}: {e:?}")))?;
    Ok(value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn set_next_type(index: usize) -> Result<(), PluginError> {
    kv::set(NEXT_TYPE_KEY, index.to_string().as_bytes())
        .map_err(|e| PluginError::internal(format!("kv set {NEXT_TYPE_KEY}: {e:?}")))
}

/// The first `MessageID` of an envelope that could not be decoded, found by a plain
/// scan: enough to refuse that request to SMEV.
pub fn message_id_hint(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 20)]);
    let at = text.find("MessageID>")? + "MessageID>".len();
    let id: String = text[at..].chars().take(36).collect();
    let ok = id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    ok.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_message_id_of_an_unreadable_envelope() {
        let text =
            b"<a><ns2:MessageID>1c16b6d2-0b1a-11ef-9876-0242ac120002</ns2:MessageID><b>&xxe;</b>";
        assert_eq!(
            message_id_hint(text).as_deref(),
            Some("1c16b6d2-0b1a-11ef-9876-0242ac120002")
        );
        assert_eq!(message_id_hint(b"<MessageID>nope</MessageID>"), None);
    }

    #[test]
    fn settings_need_an_adapter_url() {
        use okno_sdk::testing::MockHost;
        let err = MockHost::new().run(PollSettings::from_config).unwrap_err();
        assert!(err.message.contains("`adapter-url` is missing"));
        let err = MockHost::new()
            .setting("adapter-url", "http://a/ws")
            .setting("message-types", "{urn:x}")
            .run(PollSettings::from_config)
            .unwrap_err();
        assert!(err.message.contains("`{urn:x}`"), "{}", err.message);
        let ok = MockHost::new()
            .setting("adapter-url", "http://a/ws")
            .setting("message-types", "urn:a, {urn:b}Root")
            .run(PollSettings::from_config)
            .unwrap();
        assert_eq!(ok.message_types.len(), 2);
    }
}
