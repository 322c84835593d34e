//! SMEV 3 requests the connector writes for the ministry's adapter: `GetRequestRequest`
//! (give me the next request), `AckRequest` (that one is journaled) and
//! `SendResponseRequest` (the application's status, or the service's result).
//!
//! They are written unsigned, with the `Id="SIGNED_BY_CALLER"` the signature refers
//! to: the adapter adds the XMLDSig signature (GOST R 34.10-2012) with the ministry's key
//! before the envelope reaches SMEV.

use quick_xml::escape::escape;
use sha2::{Digest, Sha256};

use okno_sdk::prelude::*;

use crate::settings::{EncodeSettings, ResponseKind};
use crate::smev::{self, Version};

pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// One kind of message SMEV's queue is asked for: the namespace of its payload and,
/// optionally, the payload's root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageType {
    pub namespace: String,
    pub root: Option<String>,
}

impl MessageType {
    /// `urn:ns` or `{urn:ns}Root`.
    pub fn parse(text: &str) -> Option<MessageType> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix('{') {
            let (namespace, root) = rest.split_once('}')?;
            let root = root.trim();
            if namespace.trim().is_empty() || root.is_empty() {
                return None;
            }
            return Some(MessageType {
                namespace: namespace.trim().into(),
                root: Some(root.into()),
            });
        }
        (!text.is_empty() && !text.contains(char::is_whitespace)).then(|| MessageType {
            namespace: text.into(),
            root: None,
        })
    }
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{}\"><soap:Header/><soap:Body>{body}</soap:Body></soap:Envelope>\n",
        smev::SOAP11
    )
}

/// Asks the adapter for the next request in this system's queue, of one message type or
/// of any.
pub fn get_request_request(
    version: Version,
    selector: Option<&MessageType>,
    now: Timestamp,
    node_id: Option<&str>,
) -> String {
    let mut selector_xml = String::new();
    if let Some(t) = selector {
        selector_xml.push_str(&format!(
            "<basic:NamespaceURI>{}</basic:NamespaceURI>",
            escape(t.namespace.as_str())
        ));
        if let Some(root) = &t.root {
            selector_xml.push_str(&format!(
                "<basic:RootElementLocalName>{}</basic:RootElementLocalName>",
                escape(root.as_str())
            ));
        }
    }
    selector_xml.push_str(&format!(
        "<basic:Timestamp>{}</basic:Timestamp>",
        xs_date_time(now)
    ));
    if let Some(node) = node_id {
        selector_xml.push_str(&format!("<basic:NodeID>{}</basic:NodeID>", escape(node)));
    }
    envelope(&format!(
        "<tns:GetRequestRequest xmlns:tns=\"{}\" xmlns:basic=\"{}\"><basic:MessageTypeSelector Id=\"SIGNED_BY_CALLER\">{selector_xml}</basic:MessageTypeSelector></tns:GetRequestRequest>",
        version.types_ns(),
        version.basic_ns()
    ))
}

/// Tells SMEV the message is taken (`accepted`) or refused, so it leaves the queue.
pub fn ack_request(version: Version, message_id: &str, accepted: bool) -> String {
    envelope(&format!(
        "<tns:AckRequest xmlns:tns=\"{}\" xmlns:basic=\"{}\"><basic:AckTargetMessage Id=\"SIGNED_BY_CALLER\" accepted=\"{accepted}\">{}</basic:AckTargetMessage></tns:AckRequest>",
        version.types_ns(),
        version.basic_ns(),
        escape(message_id)
    ))
}

/// The answer to a request that came through SMEV: the message's status or result,
/// addressed to the request's `ReplyTo`.
pub fn send_response_request(
    message: &Message,
    classification: &Classification,
    decision: &Decision,
    settings: &EncodeSettings,
    utc_offset_minutes: i32,
) -> Result<Outbound, PluginError> {
    let reply_to = message
        .metadata_value("smev.reply-to")
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            PluginError::unsupported(format!(
                "message {} did not come through SMEV with a ReplyTo (no `smev.reply-to` \
                 metadata): there is no one to send a SendResponseRequest to; route only \
                 channel `epgu` messages to this sink",
                message.id
            ))
        })?;
    let version = message
        .metadata_value("smev.version")
        .and_then(Version::parse)
        .unwrap_or(settings.version);
    let kind = match settings.response {
        ResponseKind::Status => "status",
        ResponseKind::Result => "result",
    };
    let message_id = uuid_v1(message.received_at, &format!("{}/{kind}", message.id));
    let number = registration_number(message);
    let deadline = decision.answer_deadline.map(|at| {
        let d = okno_sdk::time::local_date_with_offset(at, utc_offset_minutes);
        format!("{:02}.{:02}.{:04}", d.day, d.month, d.year)
    });

    let content = match settings.response {
        ResponseKind::Status => {
            let mut text = format!("Заявление зарегистрировано, номер {number}.");
            if let Some(deadline) = &deadline {
                text.push_str(&format!(" Срок рассмотрения — до {deadline}."));
            }
            format!(
                "<tns:RequestStatus><tns:StatusCode>{}</tns:StatusCode><tns:StatusDescription>{}</tns:StatusDescription></tns:RequestStatus>",
                escape(settings.status_code.as_str()),
                escape(text.as_str())
            )
        }
        ResponseKind::Result => {
            let mut fields = String::new();
            let mut field = |name: &str, value: Option<&str>| {
                if let Some(value) = value {
                    fields.push_str(&format!("<r:{name}>{}</r:{name}>", escape(value)));
                }
            };
            field("RegistrationNumber", Some(number.as_str()));
            field("OriginalMessageId", message.idempotency_key.as_deref());
            field("OrderNumber", message.metadata_value("epgu.order-number"));
            field("Responsible", decision.responsible.as_deref());
            field("AnswerDeadline", deadline.as_deref());
            field("Priority", Some(decision.priority.as_str()));
            if let Some(topic) = &classification.topic {
                field("TopicCode", Some(topic.best.code.as_str()));
                field("TopicName", Some(topic.best.name.as_str()));
            }
            for reason in &decision.reasons {
                field("Reason", Some(reason.as_str()));
            }
            format!(
                "<basic:MessagePrimaryContent><r:ServiceResult xmlns:r=\"{}\">{fields}</r:ServiceResult></basic:MessagePrimaryContent>",
                escape(settings.result_namespace.as_str())
            )
        }
    };
    let body = envelope(&format!(
        "<tns:SendResponseRequest xmlns:tns=\"{}\" xmlns:basic=\"{}\"><tns:SenderProvidedResponseData Id=\"SIGNED_BY_CALLER\"><tns:MessageID>{message_id}</tns:MessageID><tns:To>{}</tns:To>{content}</tns:SenderProvidedResponseData></tns:SendResponseRequest>",
        version.types_ns(),
        version.basic_ns(),
        escape(reply_to.trim())
    ));
    Ok(Outbound {
        bytes: body.into_bytes(),
        content_type: CONTENT_TYPE.into(),
        headers: vec![("SOAPAction".into(), "urn:SendResponse".into())],
    })
}

/// The number the applicant is told: the one the EDMS or SOG assigned when the hub has
/// it, else the hub's own id.
fn registration_number(message: &Message) -> String {
    message
        .metadata_value("registration.number")
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| message.id.clone())
}

/// A version 1 UUID, as SMEV requires for MessageID, made deterministic: its time is
/// `at` and its clock sequence and node come from a hash of `seed`, so a retried
/// delivery of the same answer carries the same MessageID and SMEV drops the repeat.
pub fn uuid_v1(at: Timestamp, seed: &str) -> String {
    // 100-nanosecond intervals since 1582-10-15, the Gregorian reform.
    let ticks = (at.max(0) as u64 + 12_219_292_800_000) * 10_000;
    let hash = Sha256::digest(seed.as_bytes());
    let time_low = ticks & 0xffff_ffff;
    let time_mid = (ticks >> 32) & 0xffff;
    let time_hi = ((ticks >> 48) & 0x0fff) | 0x1000;
    let clock_seq = (u16::from_be_bytes([hash[0], hash[1]]) & 0x3fff) | 0x8000;
    // A node id not taken from a network card has its multicast bit set (RFC 4122 4.5).
    let mut node = [hash[2], hash[3], hash[4], hash[5], hash[6], hash[7]];
    node[0] |= 0x01;
    format!(
        "{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{clock_seq:04x}-{}",
        node.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// `xs:dateTime` in UTC with milliseconds, as SMEV's Timestamp elements carry it.
pub fn xs_date_time(at: Timestamp) -> String {
    let days = at.div_euclid(86_400_000);
    let ms = at.rem_euclid(86_400_000);
    let d = okno_sdk::time::civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        d.year,
        d.month,
        d.day,
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_version_1_and_stable() {
        let a = uuid_v1(1_700_000_000_000, "m1/status");
        assert_eq!(a, uuid_v1(1_700_000_000_000, "m1/status"));
        assert_ne!(a, uuid_v1(1_700_000_000_000, "m1/result"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "1", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn message_types_parse() {
        assert_eq!(
            MessageType::parse("{urn:x}Root"),
            Some(MessageType {
                namespace: "urn:x".into(),
                root: Some("Root".into())
            })
        );
        assert_eq!(MessageType::parse("urn:x").unwrap().root, None);
        assert_eq!(MessageType::parse("{urn:x}"), None);
        assert_eq!(MessageType::parse("a b"), None);
    }

    #[test]
    fn dates_are_xs_date_time() {
        assert_eq!(xs_date_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(xs_date_time(1_601_638_808_123), "2020-10-02T11:40:08.123Z");
    }
}
