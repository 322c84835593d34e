//! An SMEV 3 adapter, as far as the `epgu` connector can tell: SOAP envelopes over HTTP.
//!
//! - A queue of incoming requests (whole `GetRequestResponse` envelopes, plain or MTOM),
//!   seeded from files or by [`SmevHandle::enqueue`] / `POST /sim/queue`.
//! - `GetRequestRequest` hands out the oldest request of the asked message type that is
//!   not handed out already (one at a time); a request not acknowledged within
//!   `redeliver_after` is handed out again, as SMEV does. An empty queue answers an empty
//!   `GetRequestResponse`.
//! - `AckRequest` removes the request (accepted or refused); an unknown MessageID answers
//!   the `TargetMessageIsNotFound` fault.
//! - `SendResponseRequest` is recorded ([`SmevHandle::responses`], `GET /sim/responses`)
//!   and answered with `SendResponseResponse`; a MessageID seen before answers
//!   `MessageIsAlreadySent`.
//! - A fault on demand: [`SmevHandle::fail_next`] (or `POST /sim/fault?code=…`) makes the
//!   next call answer that SOAP fault with HTTP 500.
//!
//! Signatures are not checked or made: that is the real adapter's work with the
//! ministry's key, and the connector never sees it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::Serialize;

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES: &str = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/";

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SmevOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// A request handed out and not acknowledged is handed out again after this long.
    pub redeliver_after: Duration,
}

impl Default for SmevOptions {
    fn default() -> Self {
        SmevOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            redeliver_after: Duration::from_secs(60),
        }
    }
}

/// A request waiting in the queue.
#[derive(Debug, Clone)]
struct Queued {
    message_id: String,
    /// Namespace and root element of the payload, for `MessageTypeSelector`.
    namespace: String,
    root: String,
    reply_to: Option<String>,
    body: Vec<u8>,
    content_type: String,
    handed_out: Option<Instant>,
}

/// A `SendResponseRequest` the simulator received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SentResponse {
    pub message_id: String,
    /// The `To` it was addressed to.
    pub to: String,
    /// The MessageID of the request whose `ReplyTo` that is, if the simulator handed it out.
    pub answers: Option<String>,
    /// `status`, `result` or `rejected`.
    pub kind: String,
    pub status_code: Option<String>,
    pub status_description: Option<String>,
    /// The whole envelope as received.
    pub envelope: String,
}

/// An acknowledgement the simulator received: (MessageID, accepted).
pub type Ack = (String, bool);

/// A fault the next call answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// The detail element: `SignatureVerificationFault`, `DestinationOverflow`, …
    pub code: String,
    pub description: String,
}

impl Fault {
    pub fn new(code: &str, description: &str) -> Fault {
        Fault {
            code: code.into(),
            description: description.into(),
        }
    }
}

#[derive(Default)]
struct SimState {
    queue: Vec<Queued>,
    acks: Vec<Ack>,
    responses: Vec<SentResponse>,
    calls: Vec<String>,
    faults: Vec<Fault>,
    /// ReplyTo → MessageID of requests handed out, to tell which request an answer is for.
    reply_tos: Vec<(String, String)>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<SimState>>,
    redeliver_after: Duration,
}

/// The running simulator: its address, and what tests inspect and steer.
#[derive(Clone)]
pub struct SmevHandle {
    pub addr: SocketAddr,
    shared: Shared,
}

impl SmevHandle {
    /// The endpoint the connector's `adapter-url` points at.
    pub fn url(&self) -> String {
        format!("http://{}/ws", self.addr)
    }

    /// Queues a `GetRequestResponse` envelope (with its content type: `text/xml`, or
    /// `multipart/related` for MTOM); returns its MessageID.
    pub fn enqueue(&self, body: Vec<u8>, content_type: &str) -> anyhow::Result<String> {
        let queued = inspect(body, content_type)?;
        let id = queued.message_id.clone();
        self.shared.state.lock().unwrap().queue.push(queued);
        Ok(id)
    }

    /// Queues a file: `.xml` as `text/xml`, `.mtom` as `multipart/related` with the
    /// boundary and start read from the file.
    pub fn enqueue_file(&self, path: &Path) -> anyhow::Result<String> {
        let body = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let content_type = if path.extension().is_some_and(|e| e == "mtom") {
            mtom_content_type(&body)
                .with_context(|| format!("{} is not a multipart package", path.display()))?
        } else {
            "text/xml; charset=utf-8".to_string()
        };
        self.enqueue(body, &content_type)
    }

    /// MessageIDs still in the queue (handed out or not), oldest first.
    pub fn queued(&self) -> Vec<String> {
        let state = self.shared.state.lock().unwrap();
        state.queue.iter().map(|q| q.message_id.clone()).collect()
    }

    pub fn acks(&self) -> Vec<Ack> {
        self.shared.state.lock().unwrap().acks.clone()
    }

    pub fn responses(&self) -> Vec<SentResponse> {
        self.shared.state.lock().unwrap().responses.clone()
    }

    /// The operations called, in order (`GetRequest`, `Ack`, `SendResponse`, …).
    pub fn calls(&self) -> Vec<String> {
        self.shared.state.lock().unwrap().calls.clone()
    }

    /// The next call answers this fault (several queue up, one per call).
    pub fn fail_next(&self, fault: Fault) {
        self.shared.state.lock().unwrap().faults.push(fault);
    }
}

/// Starts the simulator; it runs until the runtime stops.
pub async fn start(options: SmevOptions) -> anyhow::Result<SmevHandle> {
    let shared = Shared {
        state: Arc::default(),
        redeliver_after: options.redeliver_after,
    };
    let app = Router::new()
        .route("/ws", post(soap))
        .route("/sim/queue", post(queue_post).get(queue_get))
        .route("/sim/responses", get(responses_get))
        .route("/sim/acks", get(acks_get))
        .route("/sim/fault", post(fault_post))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding the SMEV simulator to {}", options.listen))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%addr, "SMEV 3 adapter simulator listening");
    Ok(SmevHandle { addr, shared })
}

/// Starts the simulator with every `.xml` and `.mtom` file of `dir` queued (by name).
pub async fn start_seeded(options: SmevOptions, dir: &Path) -> anyhow::Result<SmevHandle> {
    let handle = start(options).await?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "xml" || e == "mtom"))
        .collect();
    files.sort();
    for file in files {
        handle.enqueue_file(&file)?;
    }
    Ok(handle)
}

async fn soap(State(shared): State<Shared>, body: Bytes) -> Response {
    let request = match read_request(&body) {
        Ok(request) => request,
        Err(e) => {
            return fault(
                "InvalidContent",
                &format!("the request is not an SMEV envelope: {e}"),
                "1.2",
            )
        }
    };
    let mut state = shared.state.lock().unwrap();
    state.calls.push(
        request
            .operation
            .strip_suffix("Request")
            .unwrap_or(&request.operation)
            .to_string(),
    );
    if !state.faults.is_empty() {
        let f = state.faults.remove(0);
        return fault(&f.code, &f.description, &request.version);
    }
    match request.operation.as_str() {
        "GetRequestRequest" => {
            let now = Instant::now();
            let redeliver = shared.redeliver_after;
            let pick = state.queue.iter_mut().find(|q| {
                let wanted = request
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| ns == q.namespace)
                    && request.root.as_deref().is_none_or(|r| r == q.root);
                let free = q
                    .handed_out
                    .is_none_or(|at| now.duration_since(at) >= redeliver);
                wanted && free
            });
            match pick {
                Some(q) => {
                    q.handed_out = Some(now);
                    let (body, content_type) = (q.body.clone(), q.content_type.clone());
                    if let Some(reply_to) = q.reply_to.clone() {
                        let id = q.message_id.clone();
                        state.reply_tos.push((reply_to, id));
                    }
                    ([(header::CONTENT_TYPE, content_type)], body).into_response()
                }
                None => xml_ok(envelope(&format!(
                    "<ns2:GetRequestResponse xmlns:ns2=\"{TYPES}{v}\"/>",
                    v = request.version
                ))),
            }
        }
        "AckRequest" => {
            let Some(id) = request.ack_target.clone() else {
                return fault(
                    "InvalidContent",
                    "AckRequest without AckTargetMessage",
                    &request.version,
                );
            };
            let Some(at) = state.queue.iter().position(|q| q.message_id == id) else {
                return fault(
                    "TargetMessageIsNotFound",
                    &format!("Сообщение {id} не найдено"),
                    &request.version,
                );
            };
            state.queue.remove(at);
            state.acks.push((id, request.accepted));
            xml_ok(envelope(&format!(
                "<ns2:AckResponse xmlns:ns2=\"{TYPES}{v}\"/>",
                v = request.version
            )))
        }
        "SendResponseRequest" => {
            let (Some(id), Some(to)) = (request.message_id.clone(), request.to.clone()) else {
                return fault(
                    "InvalidContent",
                    "SendResponseRequest without SenderProvidedResponseData/MessageID and To",
                    &request.version,
                );
            };
            if !is_uuid_v1(&id) {
                return fault(
                    "InvalidMessageIdFormat",
                    &format!("MessageID {id} is not a version 1 UUID"),
                    &request.version,
                );
            }
            if state.responses.iter().any(|r| r.message_id == id) {
                return fault(
                    "MessageIsAlreadySent",
                    &format!("Сообщение {id} уже отправлено"),
                    &request.version,
                );
            }
            let answers = state
                .reply_tos
                .iter()
                .find(|(r, _)| *r == to)
                .map(|(_, m)| m.clone());
            state.responses.push(SentResponse {
                message_id: id.clone(),
                to,
                answers,
                kind: request.response_kind.clone(),
                status_code: request.status_code.clone(),
                status_description: request.status_description.clone(),
                envelope: String::from_utf8_lossy(&body).into_owned(),
            });
            xml_ok(envelope(&format!(
                "<ns2:SendResponseResponse xmlns:ns2=\"{TYPES}{v}\"><ns2:MessageMetadata><ns2:MessageId>{id}</ns2:MessageId><ns2:MessageType>RESPONSE</ns2:MessageType><ns2:Status>responseIsQueued</ns2:Status></ns2:MessageMetadata></ns2:SendResponseResponse>",
                v = request.version
            )))
        }
        other => fault(
            "InvalidContent",
            &format!("{other} is not served by this simulator"),
            &request.version,
        ),
    }
}

async fn queue_post(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/xml")
        .to_string();
    match inspect(body.to_vec(), &content_type) {
        Ok(queued) => {
            let id = queued.message_id.clone();
            shared.state.lock().unwrap().queue.push(queued);
            (
                StatusCode::CREATED,
                Json(serde_json::json!({ "message_id": id })),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": format!("{e:#}") })),
        )
            .into_response(),
    }
}

async fn queue_get(State(shared): State<Shared>) -> Json<Vec<String>> {
    let state = shared.state.lock().unwrap();
    Json(state.queue.iter().map(|q| q.message_id.clone()).collect())
}

async fn responses_get(State(shared): State<Shared>) -> Json<Vec<SentResponse>> {
    Json(shared.state.lock().unwrap().responses.clone())
}

async fn acks_get(State(shared): State<Shared>) -> Json<Vec<Ack>> {
    Json(shared.state.lock().unwrap().acks.clone())
}

#[derive(serde::Deserialize)]
struct FaultQuery {
    code: String,
    #[serde(default)]
    description: String,
}

async fn fault_post(State(shared): State<Shared>, Query(q): Query<FaultQuery>) -> StatusCode {
    shared
        .state
        .lock()
        .unwrap()
        .faults
        .push(Fault::new(&q.code, &q.description));
    StatusCode::NO_CONTENT
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{SOAP11}\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

fn xml_ok(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], text).into_response()
}

/// A SOAP fault with SMEV's detail, as the adapter relays it: HTTP 500.
fn fault(code: &str, description: &str, version: &str) -> Response {
    let text = quick_xml::escape::escape(description);
    let body = envelope(&format!(
        "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>{text}</faultstring><detail><ns3:{code} xmlns:ns3=\"{TYPES}faults/{version}\"><ns3:Code>SIM-{code}</ns3:Code><ns3:Description>{text}</ns3:Description></ns3:{code}></detail></soap:Fault>"
    ));
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// What the simulator reads from a call.
#[derive(Debug, Default)]
struct Call {
    operation: String,
    version: String,
    namespace: Option<String>,
    root: Option<String>,
    ack_target: Option<String>,
    accepted: bool,
    message_id: Option<String>,
    to: Option<String>,
    response_kind: String,
    status_code: Option<String>,
    status_description: Option<String>,
}

/// Elements of a document as (namespace, local name, attributes, own text, depth), in
/// document order. DOCTYPEs and entities other than the predefined ones are refused.
type Flat = Vec<(String, String, Vec<(String, String)>, String, usize)>;

fn flatten(text: &str) -> anyhow::Result<Flat> {
    let mut reader = NsReader::from_str(text);
    let mut out: Flat = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event()?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.0.to_string(),
            _ => String::new(),
        };
        match event {
            Event::DocType(_) => bail!("a DOCTYPE is refused"),
            Event::Start(ref s) | Event::Empty(ref s) => {
                let attrs = s
                    .attributes()
                    .filter_map(|a| a.ok())
                    .map(|a| (a.key.local_name().as_ref().to_string(), a.value.to_string()))
                    .collect();
                out.push((
                    ns,
                    s.local_name().as_ref().to_string(),
                    attrs,
                    String::new(),
                    open.len(),
                ));
                if matches!(event, Event::Start(_)) {
                    open.push(out.len() - 1);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].3.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match &*r {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    other => r
                        .resolve_char_ref()?
                        .with_context(|| format!("entity &{other}; is refused"))?,
                };
                if let Some(&i) = open.last() {
                    out[i].3.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() {
        bail!("the envelope is truncated");
    }
    Ok(out)
}

fn read_request(body: &[u8]) -> anyhow::Result<Call> {
    let text = std::str::from_utf8(body).context("not UTF-8")?;
    let flat = flatten(text)?;
    let body_at = flat
        .iter()
        .position(|(ns, name, ..)| ns == SOAP11 && name == "Body")
        .context("no SOAP 1.1 Body")?;
    let (ns, operation, ..) = flat.get(body_at + 1).context("an empty Body")?;
    let version = ns
        .strip_prefix(TYPES)
        .filter(|v| ["1.1", "1.2", "1.3"].contains(v))
        .with_context(|| format!("<{operation}> is in `{ns}`, not an SMEV types namespace"))?;
    let mut call = Call {
        operation: operation.clone(),
        version: version.to_string(),
        response_kind: "status".into(),
        ..Call::default()
    };
    let content_depth = flat
        .iter()
        .find(|(_, name, ..)| name == "MessagePrimaryContent")
        .map(|(.., depth)| *depth);
    for (_, name, attrs, text, depth) in &flat {
        let text = text.trim();
        let value = (!text.is_empty()).then(|| text.to_string());
        // Inside the result document, names are the service's, not SMEV's.
        if content_depth.is_some_and(|d| *depth > d) {
            continue;
        }
        match name.as_str() {
            "NamespaceURI" => call.namespace = value,
            "RootElementLocalName" => call.root = value,
            "AckTargetMessage" => {
                call.ack_target = value;
                call.accepted = attrs.iter().any(|(k, v)| k == "accepted" && v == "true");
            }
            "MessageID" => call.message_id = value,
            "To" => call.to = value,
            "StatusCode" => call.status_code = value,
            "StatusDescription" => call.status_description = value,
            "MessagePrimaryContent" => call.response_kind = "result".into(),
            "RequestRejected" => call.response_kind = "rejected".into(),
            _ => {}
        }
    }
    Ok(call)
}

/// Reads a queued envelope's MessageID, ReplyTo and payload type.
fn inspect(body: Vec<u8>, content_type: &str) -> anyhow::Result<Queued> {
    let xml_part = if content_type.to_ascii_lowercase().starts_with("multipart/") {
        root_part(&body).context("the multipart package has no XML part")?
    } else {
        body.clone()
    };
    let text = String::from_utf8_lossy(&xml_part);
    let flat = flatten(&text)?;
    if !flat.iter().any(|(_, n, ..)| n == "GetRequestResponse") {
        bail!("not a GetRequestResponse envelope");
    }
    let find = |name: &str| {
        flat.iter()
            .find(|(_, n, ..)| n == name)
            .map(|(.., t, _)| t.trim().to_string())
    };
    let message_id = find("MessageID").context("no MessageID")?;
    let content = flat
        .iter()
        .position(|(_, n, ..)| n == "MessagePrimaryContent");
    let (namespace, root) = content
        .and_then(|i| flat.get(i + 1))
        .map(|(ns, n, ..)| (ns.clone(), n.clone()))
        .unwrap_or_default();
    Ok(Queued {
        message_id,
        namespace,
        root,
        reply_to: find("ReplyTo"),
        body,
        content_type: content_type.to_string(),
        handed_out: None,
    })
}

/// The first part of a MIME multipart body (the SOAP envelope of an MTOM package).
fn root_part(body: &[u8]) -> Option<Vec<u8>> {
    let text = body;
    let first_line_end = text.windows(2).position(|w| w == b"\r\n")?;
    let boundary = &text[..first_line_end];
    let headers_end = text.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let rest = &text[headers_end..];
    let mut marker = b"\r\n".to_vec();
    marker.extend_from_slice(boundary);
    let end = rest
        .windows(marker.len())
        .position(|w| w == marker.as_slice())?;
    Some(rest[..end].to_vec())
}

/// The Content-Type of an MTOM file: its boundary is its first line, its start the
/// first part's Content-ID.
fn mtom_content_type(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let boundary = text.lines().next()?.strip_prefix("--")?.trim().to_string();
    let start = text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-id")
            .then(|| value.trim().to_string())
    })?;
    Some(format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"{start}\"; start-info=\"text/xml\""
    ))
}

fn is_uuid_v1(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
        && &id[14..15] == "1"
}
