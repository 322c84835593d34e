//! The appeals system «Обращения граждан» (SOG), as far as the `sog` connector can tell:
//! cards of `examples/formats/sog.schema.json` over HTTP+JSON.
//!
//! - `POST /api/cards` takes a card. Every card is checked against the committed schema
//!   (422 with the schema's errors otherwise). A card without `registration` is
//!   registered: SOG gives it a registration number (`<prefix>-<year>/<serial>`), today's
//!   date, its own `uid` and revision 1, and answers 201 with the registered card; the
//!   registered card then goes to the feed and, with [`SogOptions::push`], is posted to the
//!   hub, so the number reaches the message it was registered from (`external_id`). A card
//!   with `registration` updates that card (status, executor, deadline, answer,
//!   forwarding; the revision goes up) and answers 200; an unknown card answers 404. A
//!   repeated `Idempotency-Key` gets the first answer again and changes nothing.
//! - `GET /api/feed?after=N` serves cards registered or changed in SOG after sequence
//!   number N, oldest first, for a poller; `POST /api/feed/ack` with `{"seq": N}` drops
//!   them up to N.
//! - [`SogHandle::register`] (or `POST /sim/cards`) registers a card as SOG's own staff
//!   would, for the SOG → hub direction. `GET /sim/cards` lists every card with the updates
//!   it got.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const SCHEMA: &str = include_str!("../../formats/sog.schema.json");

pub use crate::json_http::Push;

#[derive(Debug, Clone)]
pub struct SogOptions {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The registration number's prefix, e.g. `МПН-ОГ`.
    pub number_prefix: String,
    /// Post registered cards to the hub; `None`: only the feed serves them.
    pub push: Option<Push>,
}

impl Default for SogOptions {
    fn default() -> Self {
        SogOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            number_prefix: "МПН-ОГ".into(),
            push: None,
        }
    }
}

/// A card as SOG keeps it, with what the hub sent about it.
#[derive(Debug, Clone, Serialize)]
pub struct SimCard {
    pub uid: String,
    pub reg_number: String,
    pub card: Value,
    /// The updates the hub posted, in order.
    pub updates: Vec<Value>,
}

#[derive(Default)]
struct State_ {
    cards: Vec<SimCard>,
    serial: u32,
    feed: Vec<(u64, Value)>,
    seq: u64,
    /// Idempotency-Key → (status, answer).
    answered: Vec<(String, u16, Value)>,
    /// Every card the hub posted, valid or not, in order.
    received: Vec<Value>,
    /// HTTP statuses the hub answered pushes with.
    pushes: Vec<u16>,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State_>>,
    options: Arc<SogOptions>,
    client: reqwest::Client,
}

pub struct SogHandle {
    pub addr: SocketAddr,
    shared: Shared,
}

impl SogHandle {
    /// The URL a sink posts cards to.
    pub fn cards_url(&self) -> String {
        format!("http://{}/api/cards", self.addr)
    }

    /// Registers a card as SOG's staff would and hands it to the feed (and the hub, with
    /// `push`). Returns the registered card.
    pub async fn register(&self, card: Value) -> anyhow::Result<Value> {
        check(&card).map_err(|errors| anyhow::anyhow!("not a SOG card: {errors:?}"))?;
        let registered = register(&self.shared, card);
        push(&self.shared, &registered).await;
        Ok(registered)
    }

    pub fn cards(&self) -> Vec<SimCard> {
        self.shared.state.lock().unwrap().cards.clone()
    }

    pub fn card_by_external_id(&self, external_id: &str) -> Option<SimCard> {
        self.cards()
            .into_iter()
            .find(|c| c.card["external_id"] == external_id)
    }

    /// Every body the hub posted to `/api/cards`, parsed.
    pub fn received(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().received.clone()
    }

    /// The statuses the hub answered the simulator's pushes with.
    pub fn pushes(&self) -> Vec<u16> {
        self.shared.state.lock().unwrap().pushes.clone()
    }
}

pub async fn start(options: SogOptions) -> anyhow::Result<SogHandle> {
    let shared = Shared {
        state: Arc::default(),
        options: Arc::new(options.clone()),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };
    let app = Router::new()
        .route("/api/cards", post(cards_post))
        .route("/api/feed", get(feed_get))
        .route("/api/feed/ack", post(feed_ack))
        .route("/sim/cards", post(sim_register).get(sim_cards))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("binding the SOG simulator to {}", options.listen))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(SogHandle { addr, shared })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| crate::json_http::validator(SCHEMA))
}

/// The schema's errors for `card`, each with its place.
fn check(card: &Value) -> Result<(), Vec<String>> {
    let errors = crate::json_http::schema_errors(validator(), card);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Today in Moscow, as SOG dates its registrations.
fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = (now + 3 * 3600).div_euclid(86_400);
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Gives a card SOG's registration and keeps it; the registered card goes to the feed.
fn register(shared: &Shared, mut card: Value) -> Value {
    let mut state = shared.state.lock().unwrap();
    state.serial += 1;
    let serial = state.serial;
    let date = today();
    if card.get("registration").is_none() {
        let number = format!(
            "{}-{}/{serial:05}",
            shared.options.number_prefix,
            &date[..4]
        );
        card["registration"] = json!({"number": number, "date": date});
        if card["status"] == "received" {
            card["status"] = "registered".into();
        }
    }
    let uid = card["uid"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("sog-{serial:08x}"));
    card["uid"] = uid.clone().into();
    card["revision"] = 1.into();
    let reg_number = card["registration"]["number"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    state.cards.push(SimCard {
        uid,
        reg_number,
        card: card.clone(),
        updates: Vec::new(),
    });
    state.seq += 1;
    let seq = state.seq;
    state.feed.push((seq, card.clone()));
    card
}

/// Fields of a card the hub may change; the rest is SOG's.
const UPDATABLE: [&str; 8] = [
    "executor",
    "responsible",
    "deadline",
    "status",
    "status_name",
    "forwarding",
    "answer",
    "questions",
];

fn update(shared: &Shared, card: &Value) -> Result<Value, (StatusCode, Value)> {
    let mut state = shared.state.lock().unwrap();
    let number = card["registration"]["number"].as_str().unwrap_or_default();
    let uid = card["uid"].as_str();
    let Some(stored) = state
        .cards
        .iter_mut()
        .find(|c| Some(c.uid.as_str()) == uid || c.reg_number == number)
    else {
        return Err((
            StatusCode::NOT_FOUND,
            json!({"error": format!("no card registered under {number}")}),
        ));
    };
    for key in UPDATABLE {
        if let Some(value) = card.get(key) {
            stored.card[key] = value.clone();
        }
    }
    let revision = stored.card["revision"].as_u64().unwrap_or(1) + 1;
    stored.card["revision"] = revision.into();
    stored.updates.push(card.clone());
    Ok(stored.card.clone())
}

async fn push(shared: &Shared, card: &Value) {
    let Some(target) = &shared.options.push else {
        return;
    };
    let status = crate::json_http::push(&shared.client, target, card).await;
    shared.state.lock().unwrap().pushes.push(status);
}

async fn cards_post(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(key) = &key {
        let state = shared.state.lock().unwrap();
        if let Some((_, status, answer)) = state.answered.iter().find(|(k, _, _)| k == key) {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
            return (status, Json(answer.clone())).into_response();
        }
    }
    let card: Value = match serde_json::from_slice(&body) {
        Ok(card) => card,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("not JSON: {e}")})),
            )
                .into_response()
        }
    };
    shared.state.lock().unwrap().received.push(card.clone());
    if let Err(errors) = check(&card) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "not a card of sog.schema.json", "details": errors})),
        )
            .into_response();
    }
    let (status, answer, registered) = if card.get("registration").is_none() {
        let registered = register(&shared, card);
        (StatusCode::CREATED, registered.clone(), Some(registered))
    } else {
        match update(&shared, &card) {
            Ok(updated) => (StatusCode::OK, updated, None),
            Err((status, answer)) => (status, answer, None),
        }
    };
    if let Some(key) = key {
        shared
            .state
            .lock()
            .unwrap()
            .answered
            .push((key, status.as_u16(), answer.clone()));
    }
    if let Some(registered) = registered {
        let shared = shared.clone();
        tokio::spawn(async move { push(&shared, &registered).await });
    }
    (status, Json(answer)).into_response()
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn feed_get(State(shared): State<Shared>, Query(q): Query<After>) -> Json<Value> {
    let state = shared.state.lock().unwrap();
    let items: Vec<Value> = state
        .feed
        .iter()
        .filter(|(seq, _)| *seq > q.after)
        .take(q.limit.min(1000))
        .map(|(seq, card)| json!({"seq": seq, "card": card}))
        .collect();
    Json(json!({"items": items}))
}

#[derive(Deserialize)]
struct Ack {
    seq: u64,
}

async fn feed_ack(State(shared): State<Shared>, Json(ack): Json<Ack>) -> StatusCode {
    shared
        .state
        .lock()
        .unwrap()
        .feed
        .retain(|(seq, _)| *seq > ack.seq);
    StatusCode::NO_CONTENT
}

async fn sim_register(State(shared): State<Shared>, Json(card): Json<Value>) -> Response {
    if let Err(errors) = check(&card) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "not a card of sog.schema.json", "details": errors})),
        )
            .into_response();
    }
    let registered = register(&shared, card);
    push(&shared, &registered).await;
    (StatusCode::CREATED, Json(registered)).into_response()
}

async fn sim_cards(State(shared): State<Shared>) -> Json<Vec<SimCard>> {
    Json(shared.state.lock().unwrap().cards.clone())
}
