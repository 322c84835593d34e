//! The control-and-supervision (KND) portal, as far as the `knd` connector can tell:
//! documents of `examples/formats/knd.schema.json` over HTTP+JSON.
//!
//! - Businesses' documents (questions, visit and consultation requests, slot choices,
//!   self-assessments) enter by [`KndHandle::submit`] (or `POST /sim/submit`); each is
//!   checked against the committed schema, queued for a poller (`GET /api/outbox?after=N`,
//!   `POST /api/outbox/ack` with `{"seq": N}`) and, with [`KndOptions::push`], posted to
//!   the hub.
//! - `POST /api/replies` takes the body's replies: an `answer`, a `slot_offer` or an
//!   `appointment_confirmation`, checked against the schema (422 otherwise) and refused
//!   with 404 when `in_reply_to` names no document the portal sent. A confirmation books
//!   the request; a repeated `Idempotency-Key` changes nothing.
//! - [`KndHandle::choose_offered_slot`] plays the business taking one of the offered slots:
//!   a `slot_choice` goes back to the hub, which confirms it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use crate::sog::Push;

const SCHEMA: &str = include_str!("../../formats/knd.schema.json");
const INCOMING: [&str; 4] = [
    "question",
    "visit_request",
    "slot_choice",
    "self_assessment",
];
const REPLIES: [&str; 3] = ["answer", "slot_offer", "appointment_confirmation"];

#[derive(Debug, Clone)]
pub struct KndOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Post businesses' documents to the hub; `None`: only the outbox serves them.
    pub push: Option<Push>,
}

impl Default for KndOptions {
    fn default() -> Self {
        KndOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            push: None,
        }
    }
}

/// A reply the portal took, with the document it answers.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub in_reply_to: String,
    pub kind: String,
    pub document: Value,
}

#[derive(Default)]
struct PortalState {
    /// Documents businesses sent, by id.
    sent: Vec<Value>,
    outbox: Vec<(u64, Value)>,
    seq: u64,
    replies: Vec<Reply>,
    seen_keys: Vec<String>,
    pushes: Vec<u16>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<PortalState>>,
    options: Arc<KndOptions>,
    client: reqwest::Client,
}

pub struct KndHandle {
    pub addr: SocketAddr,
    shared: Shared,
}

impl KndHandle {
    /// The URL a sink posts replies to.
    pub fn replies_url(&self) -> String {
        format!("http://{}/api/replies", self.addr)
    }

    /// A business sends a document through the portal.
    pub async fn submit(&self, document: Value) -> anyhow::Result<()> {
        accept(&self.shared, &document).map_err(|e| anyhow::anyhow!("{e}"))?;
        push(&self.shared, &document).await;
        Ok(())
    }

    pub fn replies(&self) -> Vec<Reply> {
        self.shared.state.lock().unwrap().replies.clone()
    }

    pub fn replies_to(&self, id: &str) -> Vec<Reply> {
        self.replies()
            .into_iter()
            .filter(|r| r.in_reply_to == id)
            .collect()
    }

    pub fn pushes(&self) -> Vec<u16> {
        self.shared.state.lock().unwrap().pushes.clone()
    }

    /// The business takes slot `index` of the last offer made for `request_id`: sends a
    /// `slot_choice` with id `choice_id`.
    pub async fn choose_offered_slot(
        &self,
        request_id: &str,
        index: usize,
        choice_id: &str,
    ) -> anyhow::Result<Value> {
        let (offer, request) = {
            let state = self.shared.state.lock().unwrap();
            let offer = state
                .replies
                .iter()
                .rev()
                .find(|r| r.in_reply_to == request_id && r.kind == "slot_offer")
                .map(|r| r.document.clone());
            let request = state.sent.iter().find(|d| d["id"] == request_id).cloned();
            (offer, request)
        };
        let (Some(offer), Some(request)) = (offer, request) else {
            bail!("no offer was made for {request_id}");
        };
        let Some(slot) = offer["slots"].get(index) else {
            bail!("the offer for {request_id} has no slot {index}");
        };
        let choice = json!({
            "format": "knd/1",
            "type": "slot_choice",
            "id": choice_id,
            "created_at": request["created_at"],
            "in_reply_to": request_id,
            "applicant": request["applicant"],
            "meeting_format": offer["meeting_format"],
            "slot": slot,
        });
        self.submit(choice.clone()).await?;
        Ok(choice)
    }
}

pub async fn start(options: KndOptions) -> anyhow::Result<KndHandle> {
    let shared = Shared {
        state: Arc::default(),
        options: Arc::new(options.clone()),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };
    let app = Router::new()
        .route("/api/replies", post(replies_post))
        .route("/api/outbox", get(outbox_get))
        .route("/api/outbox/ack", post(outbox_ack))
        .route("/sim/submit", post(sim_submit))
        .route("/sim/replies", get(sim_replies))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding the KND portal simulator to {}", options.listen))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(KndHandle { addr, shared })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| crate::json_http::validator(SCHEMA))
}

fn check(document: &Value, allowed: &[&str]) -> Result<(), String> {
    let errors = crate::json_http::schema_errors(validator(), document);
    if !errors.is_empty() {
        return Err(format!("not a document of knd.schema.json: {errors:?}"));
    }
    let kind = document["type"].as_str().unwrap_or_default();
    if !allowed.contains(&kind) {
        return Err(format!(
            "`{kind}` does not go this way; expected one of {allowed:?}"
        ));
    }
    Ok(())
}

fn accept(shared: &Shared, document: &Value) -> Result<(), String> {
    check(document, &INCOMING)?;
    let mut state = shared.state.lock().unwrap();
    state.sent.push(document.clone());
    state.seq += 1;
    let seq = state.seq;
    state.outbox.push((seq, document.clone()));
    Ok(())
}

async fn push(shared: &Shared, document: &Value) {
    let Some(target) = &shared.options.push else {
        return;
    };
    let status = crate::json_http::push(&shared.client, target, document).await;
    shared.state.lock().unwrap().pushes.push(status);
}

async fn replies_post(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let document: Value = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("not JSON: {e}")})),
            )
                .into_response()
        }
    };
    if let Err(e) = check(&document, &REPLIES) {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": e}))).into_response();
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut state = shared.state.lock().unwrap();
    if let Some(key) = &key {
        if state.seen_keys.contains(key) {
            return StatusCode::OK.into_response();
        }
    }
    let in_reply_to = document["in_reply_to"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !state.sent.iter().any(|d| d["id"] == in_reply_to.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("the portal sent no document {in_reply_to}")})),
        )
            .into_response();
    }
    state.replies.push(Reply {
        in_reply_to,
        kind: document["type"].as_str().unwrap_or_default().to_string(),
        document,
    });
    if let Some(key) = key {
        state.seen_keys.push(key);
    }
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
}

async fn outbox_get(State(shared): State<Shared>, Query(q): Query<After>) -> Json<Value> {
    let state = shared.state.lock().unwrap();
    let items: Vec<Value> = state
        .outbox
        .iter()
        .filter(|(seq, _)| *seq > q.after)
        .take(100)
        .map(|(seq, doc)| json!({"seq": seq, "document": doc}))
        .collect();
    Json(json!({"items": items}))
}

#[derive(Deserialize)]
struct Ack {
    seq: u64,
}

async fn outbox_ack(State(shared): State<Shared>, Json(ack): Json<Ack>) -> StatusCode {
    shared
        .state
        .lock()
        .unwrap()
        .outbox
        .retain(|(seq, _)| *seq > ack.seq);
    StatusCode::NO_CONTENT
}

async fn sim_submit(State(shared): State<Shared>, Json(document): Json<Value>) -> Response {
    if let Err(e) = accept(&shared, &document) {
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": e}))).into_response();
    }
    push(&shared, &document).await;
    StatusCode::ACCEPTED.into_response()
}

async fn sim_replies(State(shared): State<Shared>) -> Json<Vec<Reply>> {
    Json(shared.state.lock().unwrap().replies.clone())
}
