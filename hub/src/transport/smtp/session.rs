//! One SMTP connection (RFC 5321), as an explicit state machine over tokio: commands are
//! parsed by `smtp-proto` (which also undoes dot-stuffing in DATA), answers are written
//! here. Pipelined commands are read from one buffer and answered together; bytes a
//! client sent after STARTTLS and before the handshake are thrown away (RFC 3207 4.2).
//!
//! What a transaction ends in is the backend's: the session only moves bytes, checks
//! the envelope against the listener's limits and asks the backend for the rest.

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request, AUTH_LOGIN, AUTH_PLAIN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::model::Inbound;

/// Longest line of an AUTH exchange (base64 of a user and a token fits easily).
const MAX_AUTH_LINE: usize = 2048;
/// Failed AUTH attempts before the connection is closed.
const MAX_AUTH_FAILURES: u32 = 3;
/// Commands that are neither a transaction nor a reply to one, before the connection
/// is closed: a client that only probes holds a connection slot for nothing.
const MAX_ERRORS: u32 = 20;

/// What a session needs from the hub. The listener's own settings (size, timeouts, TLS)
/// are fixed when it starts; what a backend answers follows the configuration in force.
pub trait Backend: Send + Sync + 'static {
    /// Whether mail to `address` is taken by this source.
    fn accepts_recipient(&self, address: &str) -> bool;
    /// Whether `user` with `password` may relay into this source.
    fn authenticate(&self, user: &str, password: &str) -> bool;
    /// `Err(reason)` when the hub cannot take mail now (queue full, store failing): MAIL
    /// is then answered `451` before the client sends the message.
    fn ready(&self) -> Result<(), String>;
    /// Journals one message durably and returns once it is on disk (or why not).
    fn deliver(&self, inbound: Inbound) -> impl Future<Output = Delivered> + Send;
}

/// How the backend took one message.
#[derive(Debug)]
pub enum Delivered {
    /// On disk, with these message ids (a repeat of a known Message-ID gives its id).
    Accepted(Vec<String>),
    /// Not now: answered `451`, the client keeps the mail and retries.
    TryLater(String),
    /// Never: answered `554`, the mail is bounced to its sender.
    Refused(String),
}

/// The listener's fixed settings.
#[derive(Clone)]
pub struct Limits {
    pub hostname: String,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub require_tls: bool,
    pub auth: bool,
    pub require_auth: bool,
}

/// A connection, from the greeting to QUIT or a dropped socket. Nothing reaches the
/// backend unless a whole DATA arrived.
pub async fn run<B: Backend>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    limits: Arc<Limits>,
    backend: Arc<B>,
) {
    let mut session = Session {
        limits,
        backend,
        peer,
        helo: None,
        tls: false,
        user: None,
        mail_from: None,
        recipients: Vec::new(),
        auth_failures: 0,
        errors: 0,
    };
    let mut plain = stream;
    let outcome = session.serve(&mut plain, Some(b"220 ".as_slice())).await;
    match outcome {
        Ok(End::StartTls) => {
            let Some(config) = session.limits.tls.clone() else {
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let mut tls =
                match tokio::time::timeout(crate::tls::HANDSHAKE_TIMEOUT, acceptor.accept(plain))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "SMTP STARTTLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("SMTP STARTTLS handshake timed out");
                        return;
                    }
                };
            // RFC 3207 4.2: the client starts over with EHLO; nothing said before counts.
            session.tls = true;
            session.helo = None;
            session.reset();
            if let Err(e) = session.serve(&mut tls, None).await {
                tracing::debug!(error = %e, "SMTP session over TLS ended");
            }
            let _ = tls.shutdown().await;
        }
        Ok(End::Quit) => {}
        Err(e) => tracing::debug!(error = %e, "SMTP session ended"),
    }
}

enum End {
    Quit,
    StartTls,
}

/// Why a session ended before QUIT.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("the client closed the connection")]
    Closed,
    #[error("the client sent nothing for {0:?}")]
    Timeout(Duration),
    #[error("the client took longer than {0:?} for DATA")]
    DataTimeout(Duration),
    #[error("too many errors or failed logins")]
    TooManyErrors,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the bytes read go next.
enum Mode {
    Command,
    Data {
        receiver: DataReceiver,
        body: Vec<u8>,
        deadline: Instant,
    },
    /// A message over the size limit: read to its end, kept nowhere, answered `552`.
    Discard {
        receiver: DummyDataReceiver,
        deadline: Instant,
    },
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword {
        user: String,
    },
}

struct Session<B> {
    limits: Arc<Limits>,
    backend: Arc<B>,
    peer: SocketAddr,
    helo: Option<String>,
    tls: bool,
    /// The user an AUTH succeeded for.
    user: Option<String>,
    mail_from: Option<String>,
    recipients: Vec<String>,
    auth_failures: u32,
    errors: u32,
}

impl<B: Backend> Session<B> {
    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
    }

    /// Serves commands on `io` until QUIT, STARTTLS or the connection's end. `greet`:
    /// send the greeting first (on a new connection, not after STARTTLS).
    async fn serve<S>(&mut self, io: &mut S, greet: Option<&[u8]>) -> Result<End, SessionError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut out: Vec<u8> = Vec::new();
        if let Some(code) = greet {
            out.extend_from_slice(code);
            out.extend_from_slice(
                format!("{} ESMTP Okno ready\r\n", self.limits.hostname).as_bytes(),
            );
        }
        let mut input: Vec<u8> = Vec::with_capacity(8192);
        let mut requests = RequestReceiver::default();
        // A line of an AUTH exchange split across reads.
        let mut auth_line: Vec<u8> = Vec::new();
        let mut mode = Mode::Command;
        loop {
            // Answer what was asked so far before waiting for more: a pipelining client
            // waits for these answers once its batch is sent.
            if !out.is_empty() {
                io.write_all(&out).await?;
                io.flush().await?;
                out.clear();
            }
            let timeout = match &mode {
                Mode::Data { deadline, .. } | Mode::Discard { deadline, .. } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        reply(
                            &mut out,
                            "451 4.4.2 DATA took too long; the message was not kept",
                        );
                        let _ = io.write_all(&out).await;
                        return Err(SessionError::DataTimeout(self.limits.data_timeout));
                    }
                    left.min(self.limits.command_timeout)
                }
                _ => self.limits.command_timeout,
            };
            input.clear();
            let read = tokio::time::timeout(timeout, io.read_buf(&mut input)).await;
            match read {
                Err(_) => {
                    reply(&mut out, "421 4.4.2 idle too long, closing");
                    let _ = io.write_all(&out).await;
                    return Err(SessionError::Timeout(timeout));
                }
                Ok(Ok(0)) => return Err(SessionError::Closed),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.into()),
            }
            let mut bytes = input.iter();
            while !bytes.as_slice().is_empty() {
                match &mut mode {
                    Mode::Data {
                        receiver,
                        body,
                        deadline,
                    } => {
                        let done = receiver.ingest(&mut bytes, body);
                        if body.len() > self.limits.max_message_bytes {
                            // Keep reading to the end of DATA without keeping the bytes.
                            let discard = DummyDataReceiver::new_data(receiver);
                            let deadline = *deadline;
                            if done {
                                mode = Mode::Command;
                                self.too_large(&mut out);
                            } else {
                                mode = Mode::Discard {
                                    receiver: discard,
                                    deadline,
                                };
                            }
                            continue;
                        }
                        if done {
                            let Mode::Data { body, .. } =
                                std::mem::replace(&mut mode, Mode::Command)
                            else {
                                unreachable!("matched above");
                            };
                            // Answers so far go out first: the backend may take a while.
                            if !out.is_empty() {
                                io.write_all(&out).await?;
                                io.flush().await?;
                                out.clear();
                            }
                            let answer = self.finish(body).await;
                            reply(&mut out, &answer);
                        }
                    }
                    Mode::Discard { receiver, .. } => {
                        if receiver.ingest(&mut bytes) {
                            mode = Mode::Command;
                            self.too_large(&mut out);
                        }
                    }
                    Mode::AuthPlain | Mode::AuthLoginUser | Mode::AuthLoginPassword { .. } => {
                        let Some(line) = take_line(&mut bytes, &mut auth_line) else {
                            continue;
                        };
                        let line = match line {
                            Ok(line) => line,
                            Err(()) => {
                                mode = Mode::Command;
                                self.errors += 1;
                                reply(&mut out, "500 5.5.6 authentication line too long");
                                continue;
                            }
                        };
                        if line == "*" {
                            mode = Mode::Command;
                            reply(&mut out, "501 5.0.0 authentication cancelled");
                            continue;
                        }
                        let Some(decoded) = decode_base64(&line) else {
                            mode = Mode::Command;
                            self.errors += 1;
                            reply(&mut out, "501 5.5.2 not valid base64");
                            continue;
                        };
                        match std::mem::replace(&mut mode, Mode::Command) {
                            Mode::AuthPlain => {
                                if self.auth_plain(&decoded, &mut out).is_err() {
                                    let _ = io.write_all(&out).await;
                                    return Err(SessionError::TooManyErrors);
                                }
                            }
                            Mode::AuthLoginUser => {
                                mode = Mode::AuthLoginPassword {
                                    user: String::from_utf8_lossy(&decoded).into_owned(),
                                };
                                // "Password:"
                                reply(&mut out, "334 UGFzc3dvcmQ6");
                            }
                            Mode::AuthLoginPassword { user } => {
                                let password = String::from_utf8_lossy(&decoded).into_owned();
                                if self.check_login(&user, &password, &mut out).is_err() {
                                    let _ = io.write_all(&out).await;
                                    return Err(SessionError::TooManyErrors);
                                }
                            }
                            _ => unreachable!("matched above"),
                        }
                    }
                    Mode::Command => {
                        let request = match requests.ingest(&mut bytes) {
                            Ok(request) => request.into_owned(),
                            Err(ProtoError::NeedsMoreData { .. }) => break,
                            Err(e) => {
                                self.errors += 1;
                                if self.errors > MAX_ERRORS {
                                    reply(&mut out, "421 4.7.0 too many errors, closing");
                                    let _ = io.write_all(&out).await;
                                    return Err(SessionError::TooManyErrors);
                                }
                                reply(&mut out, &syntax_error(&e));
                                continue;
                            }
                        };
                        match self.command(request, &mut out, &mut mode) {
                            Step::Go => {}
                            Step::Quit => {
                                io.write_all(&out).await?;
                                io.flush().await?;
                                return Ok(End::Quit);
                            }
                            Step::StartTls => {
                                // What follows STARTTLS in the same read is dropped.
                                io.write_all(&out).await?;
                                io.flush().await?;
                                return Ok(End::StartTls);
                            }
                            Step::Close => {
                                let _ = io.write_all(&out).await;
                                return Err(SessionError::TooManyErrors);
                            }
                        }
                    }
                }
            }
        }
    }

    fn too_large(&mut self, out: &mut Vec<u8>) {
        self.reset();
        reply(
            out,
            &format!(
                "552 5.3.4 message larger than {} bytes; not kept",
                self.limits.max_message_bytes
            ),
        );
    }

    fn command(&mut self, request: Request<String>, out: &mut Vec<u8>, mode: &mut Mode) -> Step {
        match request {
            Request::Ehlo { host } => {
                self.helo = Some(host.clone());
                self.reset();
                let mut lines = vec![
                    format!("{} greets {}", self.limits.hostname, printable(&host)),
                    "PIPELINING".to_string(),
                    format!("SIZE {}", self.limits.max_message_bytes),
                    "8BITMIME".to_string(),
                    "ENHANCEDSTATUSCODES".to_string(),
                ];
                if self.limits.tls.is_some() && !self.tls {
                    lines.push("STARTTLS".into());
                }
                if self.limits.auth && self.tls && self.user.is_none() {
                    lines.push("AUTH PLAIN LOGIN".into());
                }
                let last = lines.len() - 1;
                for (i, line) in lines.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    out.extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
                }
            }
            Request::Helo { host } => {
                self.helo = Some(host.clone());
                self.reset();
                reply(out, &format!("250 {}", self.limits.hostname));
            }
            Request::Lhlo { .. } => reply(out, "500 5.5.1 this is SMTP, not LMTP"),
            Request::StartTls => {
                if self.tls {
                    reply(out, "503 5.5.1 TLS is already on");
                } else if self.limits.tls.is_none() {
                    reply(out, "502 5.5.1 STARTTLS is not offered here");
                } else {
                    reply(out, "220 2.0.0 ready to start TLS");
                    return Step::StartTls;
                }
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => {
                if !self.limits.auth {
                    reply(out, "502 5.5.1 AUTH is not offered here");
                } else if !self.tls {
                    reply(out, "538 5.7.11 AUTH needs STARTTLS first");
                } else if self.user.is_some() {
                    reply(out, "503 5.5.1 already authenticated");
                } else if self.mail_from.is_some() {
                    reply(out, "503 5.5.1 AUTH is not allowed during a transaction");
                } else if mechanism == AUTH_PLAIN {
                    if initial_response.is_empty() {
                        *mode = Mode::AuthPlain;
                        reply(out, "334 ");
                    } else {
                        match decode_base64(&initial_response) {
                            Some(decoded) => {
                                if self.auth_plain(&decoded, out).is_err() {
                                    return Step::Close;
                                }
                            }
                            None => reply(out, "501 5.5.2 not valid base64"),
                        }
                    }
                } else if mechanism == AUTH_LOGIN {
                    if initial_response.is_empty() {
                        *mode = Mode::AuthLoginUser;
                        // "Username:"
                        reply(out, "334 VXNlcm5hbWU6");
                    } else {
                        match decode_base64(&initial_response) {
                            Some(user) => {
                                *mode = Mode::AuthLoginPassword {
                                    user: String::from_utf8_lossy(&user).into_owned(),
                                };
                                reply(out, "334 UGFzc3dvcmQ6");
                            }
                            None => reply(out, "501 5.5.2 not valid base64"),
                        }
                    }
                } else {
                    reply(out, "504 5.5.4 mechanisms offered: PLAIN LOGIN");
                }
            }
            Request::Mail { from } => {
                if self.helo.is_none() {
                    reply(out, "503 5.5.1 say EHLO first");
                } else if self.mail_from.is_some() {
                    reply(out, "503 5.5.1 a transaction is open; RSET first");
                } else if self.limits.require_tls && !self.tls {
                    reply(out, "530 5.7.0 STARTTLS first");
                } else if self.limits.require_auth && self.user.is_none() {
                    reply(out, "530 5.7.0 authentication required");
                } else if from.size > self.limits.max_message_bytes {
                    reply(
                        out,
                        &format!(
                            "552 5.3.4 message larger than {} bytes",
                            self.limits.max_message_bytes
                        ),
                    );
                } else if let Err(reason) = self.backend.ready() {
                    reply(
                        out,
                        &format!("451 4.3.0 {}; try again later", oneline(&reason)),
                    );
                } else {
                    self.mail_from = Some(from.address);
                    reply(out, "250 2.1.0 sender ok");
                }
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    reply(out, "503 5.5.1 MAIL first");
                } else if self.recipients.len() >= self.limits.max_recipients {
                    reply(
                        out,
                        &format!(
                            "452 4.5.3 at most {} recipients per message",
                            self.limits.max_recipients
                        ),
                    );
                } else if !self.backend.accepts_recipient(&to.address) {
                    reply(out, "550 5.1.1 no such recipient here");
                } else {
                    if !self
                        .recipients
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&to.address))
                    {
                        self.recipients.push(to.address);
                    }
                    reply(out, "250 2.1.5 recipient ok");
                }
            }
            Request::Data => {
                if self.mail_from.is_none() {
                    reply(out, "503 5.5.1 MAIL first");
                } else if self.recipients.is_empty() {
                    reply(out, "554 5.5.1 no valid recipients");
                } else {
                    let mut receiver = DataReceiver::new();
                    // The CRLF that ends the DATA line starts the first line of the body:
                    // an empty message ends at once with ".".
                    receiver.ingest(&mut b"\r\n".iter(), &mut Vec::new());
                    *mode = Mode::Data {
                        receiver,
                        body: Vec::new(),
                        deadline: Instant::now() + self.limits.data_timeout,
                    };
                    reply(out, "354 end data with <CR><LF>.<CR><LF>");
                }
            }
            Request::Bdat { .. } => reply(out, "502 5.5.1 CHUNKING is not offered; use DATA"),
            Request::Rset => {
                self.reset();
                reply(out, "250 2.0.0 reset");
            }
            Request::Noop { .. } => reply(out, "250 2.0.0 ok"),
            Request::Vrfy { .. } => reply(out, "252 2.5.2 cannot verify; send the mail"),
            Request::Expn { .. } => reply(out, "502 5.5.1 EXPN is not offered"),
            Request::Help { .. } => reply(out, "214 2.0.0 see RFC 5321"),
            Request::Quit => {
                reply(out, "221 2.0.0 bye");
                return Step::Quit;
            }
            Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                reply(out, "502 5.5.1 not offered")
            }
        }
        Step::Go
    }

    /// AUTH PLAIN's answer: `authzid NUL authcid NUL password`.
    fn auth_plain(&mut self, decoded: &[u8], out: &mut Vec<u8>) -> Result<(), SessionError> {
        let mut parts = decoded.split(|&b| b == 0);
        let (_authzid, user, password) = (parts.next(), parts.next(), parts.next());
        match (user, password, parts.next()) {
            (Some(user), Some(password), None) => self.check_login(
                &String::from_utf8_lossy(user),
                &String::from_utf8_lossy(password),
                out,
            ),
            _ => {
                reply(out, "501 5.5.2 PLAIN wants authzid NUL user NUL password");
                Ok(())
            }
        }
    }

    fn check_login(
        &mut self,
        user: &str,
        password: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        if self.backend.authenticate(user, password) {
            self.user = Some(user.to_string());
            reply(out, "235 2.7.0 authenticated");
            return Ok(());
        }
        self.auth_failures += 1;
        tracing::debug!(peer = %self.peer.ip(), failures = self.auth_failures, "SMTP AUTH refused");
        if self.auth_failures >= MAX_AUTH_FAILURES {
            reply(out, "421 4.7.0 too many failed logins, closing");
            return Err(SessionError::TooManyErrors);
        }
        reply(out, "535 5.7.8 authentication credentials invalid");
        Ok(())
    }

    /// A whole message arrived: hand it to the backend with its envelope.
    async fn finish(&mut self, body: Vec<u8>) -> String {
        let mut metadata = vec![
            (
                "smtp.mail-from".to_string(),
                self.mail_from.clone().unwrap_or_default(),
            ),
            ("smtp.rcpt-to".to_string(), self.recipients.join(", ")),
            ("smtp.client-ip".to_string(), self.peer.ip().to_string()),
            (
                "smtp.helo".to_string(),
                self.helo.as_deref().map(printable).unwrap_or_default(),
            ),
            ("smtp.tls".to_string(), self.tls.to_string()),
        ];
        if let Some(user) = &self.user {
            metadata.push(("smtp.auth".to_string(), user.clone()));
        }
        self.reset();
        let inbound = Inbound {
            bytes: body,
            content_type: Some("message/rfc822".into()),
            metadata,
        };
        match self.backend.deliver(inbound).await {
            Delivered::Accepted(ids) => format!("250 2.0.0 accepted as {}", ids.join(" ")),
            Delivered::TryLater(reason) => {
                format!("451 4.3.0 {}; try again later", oneline(&reason))
            }
            Delivered::Refused(reason) => format!("554 5.6.0 {}", oneline(&reason)),
        }
    }
}

enum Step {
    Go,
    Quit,
    StartTls,
    Close,
}

fn reply(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// One line of an AUTH exchange from the input; `None` until its end has arrived.
/// `buf` holds a line split across reads.
fn take_line(
    bytes: &mut std::slice::Iter<'_, u8>,
    buf: &mut Vec<u8>,
) -> Option<Result<String, ()>> {
    let rest = bytes.as_slice();
    match rest.iter().position(|&b| b == b'\n') {
        Some(pos) => {
            buf.extend_from_slice(&rest[..pos]);
            *bytes = rest[pos + 1..].iter();
            let line = std::mem::take(buf);
            if line.len() > MAX_AUTH_LINE {
                return Some(Err(()));
            }
            let text = String::from_utf8_lossy(&line);
            Some(Ok(text.trim_end_matches('\r').trim().to_string()))
        }
        None => {
            if buf.len() + rest.len() > MAX_AUTH_LINE {
                buf.clear();
                *bytes = [].iter();
                return Some(Err(()));
            }
            buf.extend_from_slice(rest);
            *bytes = [].iter();
            None
        }
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text == "=" {
        return Some(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn syntax_error(error: &ProtoError) -> String {
    match error {
        ProtoError::UnknownCommand => "500 5.5.1 unknown command".into(),
        ProtoError::ResponseTooLong => "500 5.5.6 line too long".into(),
        ProtoError::InvalidSenderAddress => "501 5.1.7 bad sender address".into(),
        ProtoError::InvalidRecipientAddress => "501 5.1.3 bad recipient address".into(),
        ProtoError::SyntaxError { syntax } => format!("501 5.5.2 syntax: {syntax}"),
        ProtoError::InvalidParameter { param } => format!("501 5.5.4 bad value of {param}"),
        ProtoError::UnsupportedParameter { param } => {
            format!("555 5.5.4 parameter {} not offered", printable(param))
        }
        other => format!("500 5.5.2 {}", printable(&format!("{other:?}"))),
    }
}

/// A client's text as it may appear in an answer: printable ASCII, at most 64 characters.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}

/// A reason on one line, without characters that could end the answer early.
fn oneline(text: &str) -> Cow<'_, str> {
    if text.chars().all(|c| !c.is_control()) && text.len() <= 400 {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(400)
                .collect(),
        )
    }
}
