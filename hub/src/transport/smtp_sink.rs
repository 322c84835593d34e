//! An SMTP sink: the connector's RFC 5322 bytes sent through a configured relay with
//! lettre, STARTTLS or TLS from the first byte, with AUTH when a user is configured.
//! Retries and dead letters are the delivery loop's, as for every sink.
//!
//! The envelope comes from the connector: `smtp.mail-from` and `smtp.rcpt-to` (several
//! recipients separated by commas) in the outbound headers. The message's own
//! Message-ID, derived from the hub's id by the mail connector, lets the receiving side
//! see a retried delivery as the same letter.

use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Identity, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::http_sink::SendError;
use super::smtp::config::{parse_relay, StartTls};
use crate::config::SinkConfig;
use crate::model::Outbound;
use crate::tls::ClientTls;

/// A relay's client, built once per configuration: its connections are pooled.
pub struct SmtpSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    relay: String,
}

impl SmtpSink {
    /// The client for `sink` (`transport = "smtp"`), trusting the system's roots plus
    /// `tls`'s, and presenting `tls`'s client certificate if any.
    pub fn build(sink: &SinkConfig, tls: &ClientTls) -> Result<SmtpSink, String> {
        let relay = parse_relay(sink.url.get_ref())?;
        let settings = sink.smtp.as_ref();
        let mut params = TlsParameters::builder(relay.host.clone());
        for root in &tls.extra_roots {
            let cert = Certificate::from_der(root.as_ref().to_vec())
                .map_err(|e| format!("an extra CA certificate is refused: {e}"))?;
            params = params.add_root_certificate(cert);
        }
        if let Some(identity) = &tls.identity {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))
            };
            let id = Identity::from_pem(&read(&identity.cert_file)?, &read(&identity.key_file)?)
                .map_err(|e| {
                    format!(
                        "the client certificate {} is refused: {e}",
                        identity.cert_file.display()
                    )
                })?;
            params = params.identify_with(id);
        }
        let params = params
            .build_rustls()
            .map_err(|e| format!("TLS settings of the relay {}: {e}", relay.host))?;
        let tls = if relay.implicit_tls {
            Tls::Wrapper(params)
        } else {
            match settings.map(|s| s.starttls).unwrap_or_default() {
                StartTls::Required => Tls::Required(params),
                StartTls::Opportunistic => Tls::Opportunistic(params),
                StartTls::None => Tls::None,
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
            .port(relay.port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(sink.timeout_ms)))
            .pool_config(
                PoolConfig::new()
                    .max_size(sink.concurrency.min(u32::MAX as usize) as u32)
                    .idle_timeout(Duration::from_secs(30)),
            );
        if let Some(name) = settings.and_then(|s| s.hello_name.clone()) {
            builder = builder.hello_name(ClientId::Domain(name));
        }
        if let (Some(user), Some(password)) = (
            settings.and_then(|s| s.user.as_ref()),
            settings.and_then(|s| s.password.as_ref()),
        ) {
            builder = builder
                .credentials(Credentials::new(user.get_ref().clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(SmtpSink {
            transport: builder.build(),
            relay: format!("{}:{}", relay.host, relay.port),
        })
    }
}

/// Sends one message. A `5xx` answer is permanent; everything else (a refused or lost
/// connection, a timeout, a TLS failure, a `4xx`) is worth retrying.
pub async fn send(smtp: &SmtpSink, message_id: &str, outbound: Outbound) -> Result<(), SendError> {
    let envelope = envelope(&outbound.headers).map_err(SendError::Permanent)?;
    match smtp.transport.send_raw(&envelope, &outbound.bytes).await {
        Ok(_) => {
            tracing::debug!(message_id, relay = %smtp.relay, "sent by SMTP");
            Ok(())
        }
        Err(e) => {
            let text = format!(
                "sending to the relay {}: {}",
                smtp.relay,
                crate::tls::describe(&e)
            );
            if e.is_permanent() {
                Err(SendError::Permanent(text))
            } else {
                Err(SendError::Transient(text))
            }
        }
    }
}

/// The envelope the connector gave. Addresses are personal data, so the errors name the
/// header and not its value.
fn envelope(headers: &[(String, String)]) -> Result<Envelope, String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let from = match get("smtp.mail-from") {
        None | Some("") => None,
        Some(text) => Some(text.parse::<Address>().map_err(|e| {
            format!("the connector's smtp.mail-from is not an address ({e}); fix the connector's `from` setting")
        })?),
    };
    let to = get("smtp.rcpt-to").ok_or(
        "the connector gave no smtp.rcpt-to header: an smtp sink needs the recipients (use the mail connector)",
    )?;
    let recipients = to
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse::<Address>().map_err(|e| {
                format!("a recipient in the connector's smtp.rcpt-to is not an address ({e})")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, recipients).map_err(|e| format!("the envelope is refused: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_comes_from_the_connector_headers() {
        let headers = vec![
            (
                "smtp.mail-from".to_string(),
                "priemnaya@minsoc.example.ru".to_string(),
            ),
            (
                "smtp.rcpt-to".to_string(),
                "ivan@example.ru, maria@example.ru".to_string(),
            ),
        ];
        let envelope = envelope(&headers).unwrap();
        assert_eq!(envelope.to().len(), 2);
        assert_eq!(
            envelope.from().map(|a| a.to_string()).as_deref(),
            Some("priemnaya@minsoc.example.ru")
        );
        let err = envelope_err(&[("smtp.mail-from", "a@b.ru")]);
        assert!(err.contains("no smtp.rcpt-to"), "{err}");
        let err = envelope_err(&[("smtp.rcpt-to", "not an address")]);
        assert!(err.contains("not an address"), "{err}");
    }

    fn envelope_err(pairs: &[(&str, &str)]) -> String {
        let headers: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        envelope(&headers).unwrap_err()
    }
}
