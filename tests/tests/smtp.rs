//! E-mail over SMTP end to end: a real SMTP client (lettre, and raw commands where a
//! client would not misbehave on purpose) into the hub's listener, and the hub's SMTP
//! sink into a real SMTP server (aiosmtpd, started by the test).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use okno_hub::auth::{Role, TokenStore};
use okno_hub::cli::serve;
use okno_hub::pipeline::Hub;
use okno_tests::hub_config::plugin_entry;
use okno_tests::tls::Pki;
use okno_tests::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(60);
const RECEPTION: &str = "priemnaya@minsoc.example.ru";
const MAX_MESSAGE_BYTES: usize = 65_536;

struct Started {
    hub: Arc<Hub>,
    smtp: String,
    data: PathBuf,
}

/// A hub with the source `smtp-mail` listening on SMTP. `smtp_settings` are TOML lines
/// for `[sources.smtp]`; `tls`: add the test certificate for STARTTLS.
async fn start_hub(dir: &Path, smtp_settings: &str, tls: Option<&Pki>, extra: &str) -> Started {
    start_hub_with(dir, smtp_settings, tls, extra, "workers = 2", &[]).await
}

/// As [`start_hub`], with `hub_settings` (TOML lines for `[hub]`) and the test plugin
/// `hostile` as extra classifiers (name, settings).
async fn start_hub_with(
    dir: &Path,
    smtp_settings: &str,
    tls: Option<&Pki>,
    extra: &str,
    hub_settings: &str,
    classifiers: &[(&str, &str)],
) -> Started {
    let listen = format!("127.0.0.1:{}", free_port());
    let smtp = format!("127.0.0.1:{}", free_port());
    let tls_table = tls
        .map(|pki| {
            format!(
                "[sources.smtp.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                pki.server_cert.display(),
                pki.server_key.display()
            )
        })
        .unwrap_or_default();
    // Without routes of its own, everything goes to a sink nobody listens on.
    let routes = if extra.is_empty() {
        one_sink(&Sink::url(free_port(), "nowhere"), 1)
    } else {
        extra.to_string()
    };
    let sinks = format!(
        "{routes}\n[[sources]]\nname = \"smtp-mail\"\ntransport = \"smtp\"\nconnector = \"mail\"\n\
         [sources.smtp]\nlisten = \"{smtp}\"\nhostname = \"okno.minsoc.example.ru\"\n\
         recipients = [\"{RECEPTION}\", \"@minister.minsoc.example.ru\"]\n\
         max_message_bytes = {MAX_MESSAGE_BYTES}\ncommand_timeout_ms = 5000\n{smtp_settings}\n{tls_table}\n",
    );
    let config = write_config_with(dir, &listen, hub_settings, &sinks, classifiers);
    let (hub, _) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    Started {
        hub,
        smtp,
        data: dir.join("data"),
    }
}

/// lettre on loopback; with `pki`, STARTTLS required and the test CA trusted.
fn client(
    smtp: &str,
    pki: Option<&Pki>,
    login: Option<(&str, &str)>,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let port: u16 = smtp.rsplit_once(':').unwrap().1.parse().unwrap();
    let tls = match pki {
        None => Tls::None,
        Some(pki) => {
            let ca = std::fs::read(&pki.ca).unwrap();
            Tls::Required(
                TlsParameters::builder("localhost".into())
                    .add_root_certificate(Certificate::from_pem(&ca).unwrap())
                    .build_rustls()
                    .unwrap(),
            )
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some((user, password)) = login {
        builder = builder
            .credentials(Credentials::new(user.into(), password.into()))
            .authentication(vec![Mechanism::Plain]);
    }
    builder.build()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        Some(from.parse::<Address>().unwrap()),
        to.iter().map(|a| a.parse::<Address>().unwrap()).collect(),
    )
    .unwrap()
}

/// The hub's id from `250 2.0.0 accepted as ID`.
fn accepted_id(response: &lettre::transport::smtp::response::Response) -> String {
    let text: Vec<&str> = response.message().collect();
    let line = text.join(" ");
    assert!(
        line.starts_with("2.0.0 accepted as "),
        "{:?} {line}",
        response.code()
    );
    line.rsplit(' ').next().unwrap().to_string()
}

fn record(hub: &Hub, id: &str) -> okno_hub::store::Record {
    hub.store.get(id).unwrap().expect("the message is stored")
}

/// A client that speaks raw SMTP, to misbehave on purpose.
struct RawClient {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl RawClient {
    async fn connect(smtp: &str) -> RawClient {
        let stream = TcpStream::connect(smtp)
            .await
            .expect("the listener accepts");
        let (read, writer) = stream.into_split();
        let mut client = RawClient {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    /// One whole answer, its lines joined by `\n`.
    async fn reply(&mut self) -> String {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(LIMIT, self.reader.read_line(&mut line))
                .await
                .expect("an answer in time")
                .expect("reading the answer");
            assert!(n > 0, "the server closed the connection after {text:?}");
            text.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                return text;
            }
            text.push('\n');
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// The answers to commands already sent (pipelined), each checked to start with its
    /// expected code, in order.
    async fn expect_replies(&mut self, expected: &[&str]) {
        for (n, expected) in expected.iter().enumerate() {
            let answer = self.reply().await;
            assert!(
                answer.starts_with(expected),
                "answer {n} was {answer:?}, expected {expected:?}"
            );
        }
    }

    /// One command after another, each answer checked to start with its expected code
    /// (such as `"250 "` or `"550 5.1.1"`); returns the answers.
    async fn converse(&mut self, steps: &[(&str, &str)]) -> Vec<String> {
        let mut answers = Vec::new();
        for (line, expected) in steps {
            let answer = self.command(line).await;
            assert!(
                answer.starts_with(expected),
                "{line:?} was answered {answer:?}, expected {expected:?}"
            );
            answers.push(answer);
        }
        answers
    }

    /// MAIL FROM, RCPT TO the reception, DATA: ready for the message.
    async fn open_data(&mut self) {
        let rcpt = format!("RCPT TO:<{RECEPTION}>");
        self.converse(&[
            ("MAIL FROM:<a@example.ru>", "250 "),
            (&rcpt, "250 "),
            ("DATA", "354 "),
        ])
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_to_two_recipients_is_one_message_with_its_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let started = start_hub(dir.path(), "", None, "").await;
    let mail = format!(
        "From: Ivan Petrov <ivan.petrov@example.ru>\r\nTo: {RECEPTION}\r\nCc: minister@minister.minsoc.example.ru\r\nSubject: =?utf-8?B?0J3QtdGCINC+0YLQvtC/0LvQtdC90LjRjw==?=\r\nMessage-ID: <smtp-two-1@example.ru>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nВ доме нет отопления.\r\n.точка в начале строки\r\n..\r\nКонец.\r\n"
    );
    let response = client(&started.smtp, None, None)
        .send_raw(
            &envelope(
                "ivan.petrov@example.ru",
                &[RECEPTION, "minister@minister.minsoc.example.ru"],
            ),
            mail.as_bytes(),
        )
        .await
        .expect("the hub answers 250");
    assert_eq!(response.code().to_string(), "250");
    let id = accepted_id(&response);
    let record = record(&started.hub, &id);
    let message = &record.message;
    assert_eq!(message.source, "smtp-mail");
    assert_eq!(message.subject.as_deref(), Some("Нет отопления"));
    assert_eq!(
        message.idempotency_key.as_deref(),
        Some("smtp-two-1@example.ru")
    );
    // Dot-stuffing undone: lines that began with a dot keep it, once.
    assert!(
        message
            .body
            .contains("В доме нет отопления.\n.точка в начале строки\n..\nКонец."),
        "{:?}",
        message.body
    );
    assert_eq!(
        message.metadata_value("smtp.rcpt-to"),
        Some("priemnaya@minsoc.example.ru, minister@minister.minsoc.example.ru")
    );
    assert_eq!(
        message.metadata_value("smtp.mail-from"),
        Some("ivan.petrov@example.ru")
    );
    assert_eq!(message.metadata_value("smtp.client-ip"), Some("127.0.0.1"));
    assert_eq!(message.metadata_value("smtp.tls"), Some("false"));
    assert!(message
        .metadata_value("smtp.helo")
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(started.hub.store.message_count(), 1);

    // The same Message-ID again is the same message.
    let again = client(&started.smtp, None, None)
        .send_raw(
            &envelope("ivan.petrov@example.ru", &[RECEPTION]),
            mail.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(accepted_id(&again), id);
    assert_eq!(started.hub.store.message_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_auth_with_a_source_token() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let started = start_hub(
        dir.path(),
        "require_tls = true\nauth = true\nrequire_auth = true",
        Some(&pki),
        "",
    )
    .await;
    let tokens = TokenStore::open(&started.data);
    let (relay_token, _) = tokens
        .create("relay-1", Role::Source, Some("smtp-mail"), None)
        .unwrap();
    let (other_token, _) = tokens
        .create("relay-other", Role::Source, Some("mail"), None)
        .unwrap();

    // Plain text: no MAIL before STARTTLS, and no AUTH offered.
    let mut raw = RawClient::connect(&started.smtp).await;
    let ehlo = raw
        .converse(&[
            ("EHLO relay.example.ru", "250-"),
            ("MAIL FROM:<a@example.ru>", "530 "),
            ("AUTH PLAIN AHJlbGF5LTEAeA==", "538 "),
        ])
        .await
        .remove(0);
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(
        ehlo.contains(&format!("SIZE {MAX_MESSAGE_BYTES}")),
        "{ehlo}"
    );
    assert!(!ehlo.contains("AUTH"), "{ehlo}");

    let mail = mail("smtp-tls-1@example.ru", "Обращение", "Прошу ответить.");
    let response = client(&started.smtp, Some(&pki), Some(("relay-1", &relay_token)))
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &mail)
        .await
        .expect("250 over STARTTLS with AUTH");
    let id = accepted_id(&response);
    let message = record(&started.hub, &id).message;
    assert_eq!(message.metadata_value("smtp.tls"), Some("true"));
    assert_eq!(message.metadata_value("smtp.auth"), Some("relay-1"));

    // TLS without a login is refused, as are a wrong token, a token of another source
    // and a right token under another name.
    let refused = client(&started.smtp, Some(&pki), None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &mail)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("authentication required"),
        "{refused}"
    );
    for (user, password) in [
        ("relay-1", "okno_wrong"),
        ("relay-other", other_token.as_str()),
        ("relay-2", relay_token.as_str()),
    ] {
        let refused = client(&started.smtp, Some(&pki), Some((user, password)))
            .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &mail)
            .await
            .unwrap_err();
        assert!(refused.is_permanent(), "{user}: {refused}");
        assert!(refused.to_string().contains("535"), "{user}: {refused}");
    }
    assert_eq!(started.hub.store.message_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_nothing_is_stored_and_the_listener_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let started = start_hub(dir.path(), "", None, "").await;
    let hub = &started.hub;
    let mut raw = RawClient::connect(&started.smtp).await;
    raw.converse(&[
        ("EHLO client.example.ru", "250-"),
        // A recipient the source does not take; DATA with no valid recipient.
        ("MAIL FROM:<a@example.ru>", "250 "),
        ("RCPT TO:<someone@elsewhere.example.ru>", "550 5.1.1"),
        ("RCPT TO:<other@minsoc.example.ru>", "550 "),
        ("DATA", "554 "),
        ("RSET", "250 "),
    ])
    .await;

    // Over the size limit: declared, then sent without declaring it.
    let declared = format!("MAIL FROM:<a@example.ru> SIZE={}", MAX_MESSAGE_BYTES + 1);
    raw.converse(&[(&declared, "552 ")]).await;
    raw.open_data().await;
    let big = mail(
        "smtp-big@example.ru",
        "Большое",
        &"строка текста\r\n".repeat(5_000),
    );
    assert!(big.len() > MAX_MESSAGE_BYTES);
    raw.send(&big).await;
    raw.converse(&[(".", "552 5.3.4")]).await;

    // Not an e-mail: the connector's reason, permanently.
    raw.open_data().await;
    raw.send(b"just some words, no header\r\n").await;
    let garbage = raw.converse(&[(".", "554 5.6.0")]).await.remove(0);
    assert!(garbage.contains("header"), "{garbage}");
    assert_eq!(hub.store.message_count(), 0);

    // Pipelined: a whole transaction in one write, answered in order.
    let good = mail("smtp-pipelined@example.ru", "Обращение", "Прошу ответить.");
    let mut batch = format!("MAIL FROM:<a@example.ru>\r\nRCPT TO:<{RECEPTION}>\r\nRCPT TO:<nobody@example.ru>\r\nDATA\r\n").into_bytes();
    batch.extend_from_slice(&good);
    batch.extend_from_slice(b".\r\nNOOP\r\n");
    raw.send(&batch).await;
    raw.expect_replies(&[
        "250 2.1.0",
        "250 2.1.5",
        "550 ",
        "354 ",
        "250 2.0.0 accepted as ",
        "250 ",
    ])
    .await;
    assert_eq!(raw.command("QUIT").await, "221 2.0.0 bye");
    assert_eq!(hub.store.message_count(), 1);

    // A connection dropped in the middle of DATA leaves nothing behind.
    let mut cut = RawClient::connect(&started.smtp).await;
    cut.converse(&[("EHLO client.example.ru", "250")]).await;
    cut.open_data().await;
    let whole = mail(
        "smtp-cut@example.ru",
        "Обрыв",
        "Текст, который не дойдёт до конца.",
    );
    cut.send(&whole[..whole.len() / 2]).await;
    drop(cut);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hub.store.message_count(),
        1,
        "a truncated DATA is not stored"
    );

    // And the listener still takes mail.
    let response = client(&started.smtp, None, None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &whole)
        .await
        .unwrap();
    accepted_id(&response);
    assert_eq!(hub.store.message_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_flush_gets_451_until_it_can() {
    let dir = tempfile::tempdir().unwrap();
    let started = start_hub(dir.path(), "", None, "").await;
    let hub = &started.hub;
    let first = mail("smtp-flush-1@example.ru", "Обращение", "Первое.");
    client(&started.smtp, None, None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &first)
        .await
        .expect("250 while the disk works");

    // The flush cannot list the store's blobs: a failing disk, as far as it can tell.
    let store = started.data.join("db");
    std::fs::rename(store.join("blobs"), dir.path().join("blobs.away")).unwrap();
    std::fs::write(store.join("blobs"), b"in the way").unwrap();

    let second = mail("smtp-flush-2@example.ru", "Обращение", "Второе.");
    let refused = client(&started.smtp, None, None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &second)
        .await
        .unwrap_err();
    assert!(refused.is_transient(), "{refused}");
    assert!(refused.to_string().contains("451"), "{refused}");
    // Refused at MAIL now, before the client sends the message.
    let mut raw = RawClient::connect(&started.smtp).await;
    raw.converse(&[
        ("EHLO client.example.ru", "250"),
        ("MAIL FROM:<a@example.ru>", "451 4.3.0"),
    ])
    .await;
    drop(raw);

    std::fs::remove_file(store.join("blobs")).unwrap();
    std::fs::rename(dir.path().join("blobs.away"), store.join("blobs")).unwrap();
    eventually("the store flushes again", LIMIT, || {
        hub.store.durability.failing().is_none()
    })
    .await;
    let third = mail("smtp-flush-3@example.ru", "Обращение", "Третье.");
    let response = client(&started.smtp, None, None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &third)
        .await
        .expect("250 once the store flushes");
    accepted_id(&response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_gets_451_and_keeps_what_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    // One worker, a queue of one, and a classifier that holds the worker for 2 s on `[loop]`.
    let started = start_hub_with(
        dir.path(),
        "",
        None,
        "",
        "workers = 1\nqueue_capacity = 1",
        &[(
            "slow",
            "cpu_ms = 2000\n[plugins.settings]\nmode = \"by-body\"",
        )],
    )
    .await;
    let hub = &started.hub;
    let mut accepted = Vec::new();
    let mut refused = None;
    for i in 0..6 {
        let bytes = mail(
            &format!("smtp-busy-{i}@example.ru"),
            "Обращение",
            "Текст [loop] обращения",
        );
        match client(&started.smtp, None, None)
            .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &bytes)
            .await
        {
            Ok(response) => accepted.push(accepted_id(&response)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a full queue must refuse rather than grow");
    assert!(refused.is_transient(), "{refused}");
    assert!(refused.to_string().contains("451"), "{refused}");
    assert!(refused.to_string().contains("queue is full"), "{refused}");
    // What was accepted is kept, and nothing of the refused mail.
    assert_eq!(hub.store.message_count(), accepted.len());
    for id in &accepted {
        record(hub, id);
    }
    // Once the worker is through the backlog, mail is taken again.
    eventually("the queue drains", LIMIT, || hub.queue_depth() == 0).await;
    let later = mail("smtp-busy-later@example.ru", "Обращение", "Без задержек.");
    let response = client(&started.smtp, None, None)
        .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &later)
        .await
        .expect("250 once the queue has room");
    accepted_id(&response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_charset_samples_arrive_through_smtp_as_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let started = start_hub(dir.path(), "", None, "").await;
    let listen = started.hub.active().config.hub.listen.clone();
    let samples = [
        "plugins/mail/tests/data/imaptools_attachment_8bit_cp1251_multipart_mixed.eml",
        "plugins/mail/tests/data/imaptools_attachment_7bit_utf8_qp_multipart_mixed.eml",
        "plugins/mail/tests/data/imaptools_raw_email_bad_time_cp1251_qp_malformed_date.eml",
        "plugins/mail/tests/data/rspamd_next2last_doublebad_malformed_cp1251_filename.eml",
        "examples/appeals/01-heating-outage-koi8r-qp.eml",
    ];
    for path in samples {
        let bytes = sample(path);
        let response = client(&started.smtp, None, None)
            .send_raw(&envelope("sender@example.ru", &[RECEPTION]), &bytes)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let by_smtp = record(&started.hub, &accepted_id(&response)).message;
        let (status, body) = post_mail(&listen, bytes).await;
        assert_eq!(status, 202, "{path}: {body}");
        let id = body["ids"][0].as_str().unwrap();
        let by_http = record(&started.hub, id).message;
        assert_eq!(by_smtp.subject, by_http.subject, "{path}");
        assert_eq!(by_smtp.body, by_http.body, "{path}");
        assert_eq!(by_smtp.attachments, by_http.attachments, "{path}");
        assert_eq!(
            by_smtp.metadata_value("mail.charset"),
            by_http.metadata_value("mail.charset"),
            "{path}"
        );
        assert!(
            !by_smtp.body.trim().is_empty() || !by_smtp.attachments.is_empty(),
            "{path}"
        );
    }
    // Spot checks of the charsets, as the mail connector's own tests read these files.
    let first = client(&started.smtp, None, None);
    let again = first
        .send_raw(
            &envelope("sender@example.ru", &[RECEPTION]),
            &sample(samples[0]),
        )
        .await
        .unwrap();
    let m = record(&started.hub, &accepted_id(&again)).message;
    assert_eq!(m.client.name.as_deref(), Some("Каукин Владимир"));
    let again = first
        .send_raw(
            &envelope("sender@example.ru", &[RECEPTION]),
            &sample(samples[2]),
        )
        .await
        .unwrap();
    let m = record(&started.hub, &accepted_id(&again)).message;
    assert_eq!(m.client.name.as_deref(), Some("Атиковa"));
    assert_eq!(m.metadata_value("mail.charset"), Some("windows-1251"));
    let again = first
        .send_raw(
            &envelope("sender@example.ru", &[RECEPTION]),
            &sample(samples[4]),
        )
        .await
        .unwrap();
    let m = record(&started.hub, &accepted_id(&again)).message;
    assert_eq!(
        m.subject.as_deref(),
        Some("СРОЧНО! Нет отопления уже четвёртые сутки")
    );
}

/// aiosmtpd on loopback with AUTH required, over STARTTLS (required) or, in `smtps` mode,
/// TLS from the first byte; it keeps each message it takes as `N.eml` with its envelope in
/// `N.json`. Recipients starting with `reject` get 550; those starting with `tempfail`
/// get 451 the first time.
struct Relay {
    child: std::process::Child,
    port: u16,
    out: PathBuf,
    user: String,
    password: String,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RELAY_SCRIPT: &str = r#"
import json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, out, cert, key, user, password, mode = sys.argv[1:9]
tempfailed = set()

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("tempfail") and address not in tempfailed:
            tempfailed.add(address)
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(out) if f.endswith(".json")])
        base = os.path.join(out, str(n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": server.transport.get_extra_info("ssl_object") is not None,
                       "authenticated": bool(session.authenticated)}, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 2.0.0 kept"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    return AuthResult(success=ok)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
if mode == "smtps":
    # TLS from the first byte: no STARTTLS, and the session is encrypted all along.
    controller = Controller(Handler(), hostname=host, port=int(port), ssl_context=context,
                            authenticator=authenticator, auth_required=True,
                            auth_require_tls=False)
else:
    controller = Controller(Handler(), hostname=host, port=int(port), tls_context=context,
                            require_starttls=True, authenticator=authenticator,
                            auth_required=True, auth_require_tls=True)
controller.start()
while True:
    time.sleep(3600)
"#;

impl Relay {
    async fn start(dir: &Path, pki: &Pki, user: &str, password: &str) -> Relay {
        Relay::start_in(dir, pki, user, password, "starttls").await
    }

    /// `mode`: `starttls` or `smtps`.
    async fn start_in(dir: &Path, pki: &Pki, user: &str, password: &str, mode: &str) -> Relay {
        let port = free_port();
        let out = dir.join("relay-received");
        std::fs::create_dir_all(&out).unwrap();
        let script = dir.join("relay.py");
        std::fs::write(&script, RELAY_SCRIPT).unwrap();
        let child = std::process::Command::new("python3")
            .arg(&script)
            .arg("127.0.0.1")
            .arg(port.to_string())
            .arg(&out)
            .arg(&pki.server_cert)
            .arg(&pki.server_key)
            .arg(user)
            .arg(password)
            .arg(mode)
            .spawn()
            .expect(
                "python3 with aiosmtpd (`python3 -m pip install aiosmtpd`; .ci/run installs it)",
            );
        let relay = Relay {
            child,
            port,
            out,
            user: user.to_string(),
            password: password.to_string(),
        };
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if TcpStream::connect(&addr).await.is_ok() {
                return relay;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "aiosmtpd did not start on {addr}: is it installed (python3 -m pip install aiosmtpd)?"
        );
    }

    /// The messages kept so far: (envelope JSON, raw message).
    fn received(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        let mut got = Vec::new();
        for n in 0.. {
            let json = self.out.join(format!("{n}.json"));
            let Ok(text) = std::fs::read_to_string(&json) else {
                break;
            };
            let eml = std::fs::read(self.out.join(format!("{n}.eml"))).unwrap();
            got.push((serde_json::from_str(&text).unwrap(), eml));
        }
        got
    }
}

/// The mail connector as `mail-reply` (settings: `from` and `plugin_settings`), an SMTP
/// sink `reply` to `relay` at `SCHEME://localhost:PORT` trusting the test CA and logging
/// in with the relay's user and password (written to `DIR/relay.pass`), with
/// `smtp_settings` in `[sinks.smtp]`, and a route of everything from `smtp-mail` to it.
fn reply_through(
    dir: &Path,
    relay: &Relay,
    pki: &Pki,
    scheme: &str,
    plugin_settings: &str,
    smtp_settings: &str,
) -> String {
    std::fs::write(dir.join("relay.pass"), format!("{}\n", relay.password)).unwrap();
    format!(
        "{}[[sinks]]\nname = \"reply\"\ntransport = \"smtp\"\nurl = \"{scheme}://localhost:{}\"\n\
         connector = \"mail-reply\"\nmax_attempts = 3\nbackoff_ms = 50\nmax_backoff_ms = 100\n\
         timeout_ms = 10000\nca_file = \"{}\"\n[sinks.smtp]\nuser = \"{}\"\n\
         password_file = \"relay.pass\"\n{smtp_settings}\n\n\
         [[routes]]\nname = \"acknowledge\"\nmatch = {{ source = [\"smtp-mail\"] }}\nsinks = [\"reply\"]\n",
        plugin_entry(
            "mail-reply",
            "connector",
            &plugin("mail"),
            &format!("[plugins.settings]\nfrom = \"{RECEPTION}\"\n{plugin_settings}"),
        ),
        relay.port,
        pki.ca.display(),
        relay.user,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_out_through_a_relay_with_starttls_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let relay = Relay::start(dir.path(), &pki, "okno", "relay-secret").await;
    let reply_sink = reply_through(
        dir.path(),
        &relay,
        &pki,
        "smtp",
        "from-name = \"Приёмная министерства\"",
        "starttls = \"required\"\nhello_name = \"okno.minsoc.example.ru\"",
    );
    let started = start_hub(dir.path(), "", None, &reply_sink).await;

    let appeal = "From: =?utf-8?B?0JDQvdC90LAg0J/QtdGC0YDQvtCy0LA=?= <a.petrova@example.ru>\r\nTo: priemnaya@minsoc.example.ru\r\nSubject: =?utf-8?B?0J3QtdGCINC+0YLQvtC/0LvQtdC90LjRjw==?=\r\nMessage-ID: <relay-appeal-1@example.ru>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nВ доме нет отопления третьи сутки.\r\n";
    let response = client(&started.smtp, None, None)
        .send_raw(
            &envelope("a.petrova@example.ru", &[RECEPTION]),
            appeal.as_bytes(),
        )
        .await
        .unwrap();
    let id = accepted_id(&response);
    eventually("the reply reaches the relay", LIMIT, || {
        !relay.received().is_empty()
    })
    .await;
    let (envelope_seen, raw) = relay.received().remove(0);
    assert_eq!(envelope_seen["mail_from"], RECEPTION, "{envelope_seen}");
    assert_eq!(
        envelope_seen["rcpt_tos"],
        serde_json::json!(["a.petrova@example.ru"])
    );
    assert_eq!(envelope_seen["tls"], true);
    assert_eq!(envelope_seen["authenticated"], true);

    let reply = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("the relay got a MIME message");
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some("relay-appeal-1@example.ru")
    );
    assert_eq!(
        reply.references().as_text(),
        Some("relay-appeal-1@example.ru")
    );
    assert_eq!(
        reply.subject().map(str::to_string),
        Some(format!("Re: Нет отопления [№ {id} в системе приёма]"))
    );
    let to = reply.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.address(), Some("a.petrova@example.ru"));
    assert_eq!(to.name(), Some("Анна Петрова"));
    assert_eq!(
        reply.message_id().map(str::to_string),
        Some(format!("{id}.reply@minsoc.example.ru"))
    );
    let body = reply.body_text(0).unwrap();
    assert!(body.starts_with("Здравствуйте, Анна Петрова!"), "{body}");
    assert!(body.contains(&id), "{body}");
    eventually("delivered", LIMIT, || {
        record(&started.hub, &id).state == okno_hub::store::State::Delivered
    })
    .await;

    // A relay that refuses the recipient for good: a dead letter, no retries.
    let refused = appeal
        .replace("a.petrova@example.ru", "reject.me@example.ru")
        .replace("relay-appeal-1", "relay-appeal-2");
    let response = client(&started.smtp, None, None)
        .send_raw(
            &envelope("reject.me@example.ru", &[RECEPTION]),
            refused.as_bytes(),
        )
        .await
        .unwrap();
    let refused_id = accepted_id(&response);
    eventually("dead-lettered", LIMIT, || {
        record(&started.hub, &refused_id).state == okno_hub::store::State::Failed
    })
    .await;
    let letters = started.hub.store.dead_letters(100).unwrap();
    let letter = letters
        .iter()
        .find(|l| l.id == refused_id)
        .expect("a dead letter");
    assert_eq!(letter.target, "sink:reply");
    assert!(letter.reason.contains("550"), "{}", letter.reason);
    assert!(
        letter.reason.contains("after 1 attempt"),
        "{}",
        letter.reason
    );
    assert_eq!(relay.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_out_over_implicit_tls_and_a_relay_busy_for_now_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let relay = Relay::start_in(dir.path(), &pki, "okno", "relay-secret", "smtps").await;
    let reply_sink = reply_through(dir.path(), &relay, &pki, "smtps", "", "");
    let started = start_hub(dir.path(), "", None, &reply_sink).await;

    // The relay answers the first attempt 451 (busy for now): the sink tries again.
    let appeal = "From: tempfail.citizen@example.ru\r\nTo: priemnaya@minsoc.example.ru\r\nSubject: =?utf-8?B?0J3QtdGCINC+0YLQvtC/0LvQtdC90LjRjw==?=\r\nMessage-ID: <relay-smtps-1@example.ru>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nВ доме нет отопления.\r\n";
    let response = client(&started.smtp, None, None)
        .send_raw(
            &envelope("tempfail.citizen@example.ru", &[RECEPTION]),
            appeal.as_bytes(),
        )
        .await
        .unwrap();
    let id = accepted_id(&response);
    eventually("delivered", LIMIT, || {
        record(&started.hub, &id).state == okno_hub::store::State::Delivered
    })
    .await;
    let delivery = record(&started.hub, &id)
        .deliveries
        .get("reply")
        .cloned()
        .expect("a delivery to the reply sink");
    assert_eq!(delivery.attempts, 2, "{delivery:?}");
    let received = relay.received();
    assert_eq!(received.len(), 1, "one letter, sent once");
    let (envelope_seen, raw) = &received[0];
    assert_eq!(
        envelope_seen["rcpt_tos"],
        serde_json::json!(["tempfail.citizen@example.ru"])
    );
    assert_eq!(envelope_seen["tls"], true, "{envelope_seen}");
    assert_eq!(envelope_seen["authenticated"], true, "{envelope_seen}");
    let reply = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("the relay got a MIME message");
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some("relay-smtps-1@example.ru")
    );
}
