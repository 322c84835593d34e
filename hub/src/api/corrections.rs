//! Officials' corrections of the topic, and imports of labelled history: what topic
//! classifiers learn from.
//!
//! A labelled example goes into the kv of every classifier of the pipeline, under
//! `okno.corrections/<key>` as JSON `{"code": "...", "text": "..."}` with the text as the
//! classifier saw it (subject, newline, body). A classifier may index an example once and
//! never read its key again, so a changed example always comes under a new key and the
//! older one of the same appeal is deleted:
//! - a correction of message ID: `okno.corrections/ID.N`, N counting that message's
//!   corrections (ids are lower-case hex in time order, so `list-keys` gives
//!   corrections before imports);
//! - an imported line with an `id`: `okno.corrections/import-ID.H`, H a hash of the
//!   example, so importing the same line again changes nothing;
//! - an imported line without one: `okno.corrections/import-H`, so that lines of
//!   different files never take each other's place.
//!
//! A correction's `by` is cut to 200 characters. A message's record keeps its latest 10
//! corrections (and their trace entries), so a record stays bounded however often its
//! topic is corrected; every correction is kept apart, numbered, and listed by
//! `GET /v1/messages/{id}/corrections?after=N&limit=M`.
//!
//! After each change the hub writes a new random value under
//! `okno.corrections.revision` in every kv it changed: a classifier whose index was
//! complete at that value need not list the examples again. If that write fails the key
//! is deleted, and the classifier lists on every call rather than miss the change.
//!
//! `POST /v1/corrections/import` takes JSONL (`Content-Type: application/x-ndjson`), one
//! object a line with `text`, `code` and optionally `id`, or CSV (`text/csv`): a header
//! naming the columns `text`, `code` and optionally `id` in any order, separated by `;`
//! (as spreadsheets write it in Russian locales) or `,`, whichever the header uses, with
//! standard quoting, so a quoted text may hold separators and line breaks. An import of
//! more than `hub.import_max_lines` examples is refused whole (413) before anything is
//! written; otherwise each line is imported or reported with its line number: a bad
//! code, an empty text, an example larger than one kv value (1 MiB as stored), or one a
//! classifier's kv quota cannot take. The body is read once and parsed a line at a time,
//! written a chunk of lines at a time. The answer lists each imported line's key.
//!
//! `DELETE /v1/corrections/import` takes back imported examples: `?key=import-…` (a key
//! as the import answered it), `?id=ID` (every example imported under that id), or a body
//! in the import's format, whose lines' examples are removed (the same file undoes its
//! import).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::auth::Caller;
use crate::classifier_table;
use crate::model::{Classification, Message, Topic, TopicAssignment};
use crate::pipeline::Hub;
use crate::runtime::kv::{
    PluginKv, Written, CORRECTIONS_PREFIX, CORRECTIONS_REVISION_KEY, MAX_VALUE_BYTES,
};
use crate::runtime::World;
use crate::store::{Correction, State as MessageState};

/// Longest name of the official who corrected a topic.
const MAX_BY_CHARS: usize = crate::store::MAX_CORRECTION_BY_CHARS;
/// Longest `id` an imported line may carry.
const MAX_ID_CHARS: usize = 100;
/// Keys listed when looking for the older examples of one message or imported id. Only
/// the latest is kept, so there are seldom more than two.
const MAX_KEYS_PER_MESSAGE: u32 = 1000;

pub fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/v1/messages/{id}/classification", post(correct))
        .route("/v1/messages/{id}/corrections", get(list_corrections))
        .route("/v1/corrections/import", post(import).delete(remove))
}

#[derive(Deserialize)]
struct CorrectionRequest {
    code: String,
    #[serde(default)]
    by: Option<String>,
}

/// A code a person may assign: a level-4 вопрос or level-5 подвопрос of the classifier.
fn assignable(code: &str) -> Result<&'static classifier_table::Entry, String> {
    match classifier_table::lookup(code) {
        None => Err(format!("{code:?} is not a code of the official classifier")),
        Some(entry) if entry.level < 4 => Err(format!(
            "{code:?} is a level-{} entry of the classifier, kept for navigation; an appeal gets a level-4 or level-5 code",
            entry.level
        )),
        Some(entry) => Ok(entry),
    }
}

/// The text a classifier sees: the subject, then the body (as the topics plugin reads it).
fn message_text(message: &Message) -> String {
    match message
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(subject) => format!("{subject}\n{}", message.body),
        None => message.body.clone(),
    }
}

fn example_value(code: &str, text: &str) -> Vec<u8> {
    json!({"code": code, "text": text}).to_string().into_bytes()
}

/// The kvs of the pipeline's classifiers, by plugin name.
fn classifier_kvs(hub: &Hub) -> Vec<(String, Arc<dyn PluginKv>)> {
    let active = hub.active();
    active
        .config
        .pipeline
        .classifiers
        .iter()
        .filter_map(|name| active.plugin(name.get_ref()))
        .filter(|plugin| plugin.world() == World::Classifier)
        .map(|plugin| (plugin.name().to_string(), plugin.context.kv.clone()))
        .collect()
}

/// Writes one example into every kv, or into none: a failure takes back what was written.
fn write_example(
    kvs: &[(String, Arc<dyn PluginKv>)],
    key: &str,
    value: &[u8],
) -> Result<(), String> {
    for (index, (name, kv)) in kvs.iter().enumerate() {
        if let Err(e) = kv.set(key, value) {
            for (_, written) in &kvs[..index] {
                let _ = written.delete(key);
            }
            return Err(format!("writing into the kv of plugin {name:?}: {e}"));
        }
    }
    Ok(())
}

/// Deletes the keys under `prefix` that end in a number below the highest one present.
/// Every writer does this after writing its own key, so whichever lists last sees every
/// key and leaves only the latest.
fn keep_latest(kvs: &[(String, Arc<dyn PluginKv>)], prefix: &str) -> Result<(), String> {
    for (name, kv) in kvs {
        let keys = kv
            .list_keys(prefix, MAX_KEYS_PER_MESSAGE)
            .map_err(|e| format!("listing the kv of plugin {name:?}: {e}"))?;
        let numbered: Vec<(u64, &String)> = keys
            .iter()
            .filter_map(|k| Some((k.strip_prefix(prefix)?.parse::<u64>().ok()?, k)))
            .collect();
        let Some(latest) = numbered.iter().map(|(n, _)| *n).max() else {
            continue;
        };
        for (n, key) in &numbered {
            if *n < latest {
                kv.delete(key)
                    .map_err(|e| format!("deleting {key} in the kv of plugin {name:?}: {e}"))?;
            }
        }
    }
    Ok(())
}

async fn correct(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<CorrectionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::new(e.status(), "bad_body", e.body_text()))?;
    let Some(existing) = hub.store.get(&id).map_err(ApiError::internal)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no message {id:?}"),
        ));
    };
    let code = request.code.trim().to_string();
    let entry = assignable(&code)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_code", m))?;
    // The pipeline writes the whole record when it has classified and routed a message;
    // a correction made before that would be overwritten.
    if existing.state == MessageState::Accepted {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_classified",
            format!("message {id:?} is still being classified; correct it once it is routed"),
        ));
    }
    // The official's name as the client gives it, bounded; else the token's name.
    let by = request
        .by
        .map(|b| b.trim().chars().take(MAX_BY_CHARS).collect::<String>())
        .filter(|b| !b.is_empty())
        .or_else(|| Some(caller.name.clone()));
    let now = crate::sla::now_millis();
    let mut number = 0;
    let record = hub
        .store
        .update(&id, |r| {
            let classification = r.classification.get_or_insert_with(Classification::default);
            let previous = classification.topic.take();
            let previous_code = previous.as_ref().map(|t| t.best.code.clone());
            let mut alternatives: Vec<Topic> = Vec::new();
            if let Some(old) = previous {
                for topic in std::iter::once(old.best).chain(old.alternatives) {
                    if topic.code != code && !alternatives.iter().any(|t| t.code == topic.code) {
                        alternatives.push(topic);
                    }
                }
            }
            let was = previous_code.as_deref().unwrap_or("none");
            let reason = match &by {
                Some(by) => format!("topic {was} → {code} «{}», corrected by {by}", entry.name),
                None => format!(
                    "topic {was} → {code} «{}», corrected by an official",
                    entry.name
                ),
            };
            classification.topic = Some(TopicAssignment {
                best: Topic {
                    code: code.clone(),
                    name: entry.name.clone(),
                    confidence: 1.0,
                },
                alternatives,
                low_confidence: false,
                reasons: vec![reason.clone()],
            });
            let correction = Correction {
                at: now,
                code: code.clone(),
                name: entry.name.clone(),
                previous: previous_code,
                by: by.clone(),
            };
            number = r.add_correction(correction, crate::pipeline::trace_entry("correct", &reason));
        })
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no message {id:?}"),
            )
        })?;

    // The full history, kept apart from the record (which keeps the latest few).
    if let Some(latest) = record.corrections.last() {
        hub.store
            .save_correction(&id, number, latest)
            .map_err(ApiError::internal)?;
    }
    let kvs = classifier_kvs(&hub);
    let prefix = format!("{CORRECTIONS_PREFIX}{id}.");
    let key = format!("{prefix}{number}");
    write_example(
        &kvs,
        &key,
        &example_value(&code, &message_text(&record.message)),
    )
    .and_then(|()| keep_latest(&kvs, &prefix))
    .map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "the correction is recorded, but not given to the classifiers: {e}"
        ))
    })?;
    new_revision(&kvs);
    // The policy decides again on the corrected topic; a new responsible or deadline
    // reassigns the appeal with history (see sla::correct). The correction stands even
    // if that fails: the log says why.
    let by_name = by.clone().unwrap_or_else(|| caller.name.clone());
    if let Err(e) = crate::sla::correct::on_corrected(&hub, &id, &by_name).await {
        tracing::warn!(message_id = %id, error = %crate::observability::for_log(&format!("{e:#}")), "re-deciding after a correction failed");
    }
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(message_id = %id, code = %code, classifiers = kvs.len(), "topic corrected");
    let previous = record.corrections.last().and_then(|c| c.previous.clone());
    super::admin::record(
        &hub,
        &caller,
        "correct",
        &id,
        json!({"from": previous, "to": code, "by": by}),
    )?;
    Ok(Json(record).into_response())
}

#[derive(Deserialize)]
struct CorrectionsQuery {
    /// The number of the last correction already read.
    after: Option<u64>,
    limit: Option<usize>,
}

/// Every correction of a message, oldest first, a page at a time (the record keeps only
/// the latest few).
async fn list_corrections(
    State(hub): State<Arc<Hub>>,
    Path(id): Path<String>,
    query: Result<Query<CorrectionsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(e.status(), "bad_query", e.body_text()))?;
    if hub.store.get(&id).map_err(ApiError::internal)?.is_none() {
        return Err(ApiError::not_found(format!("no message {id:?}")));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let page = hub
        .store
        .corrections(&id, q.after.unwrap_or(0), limit)
        .map_err(ApiError::internal)?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|(n, _)| *n))
        .flatten();
    let items: Vec<Value> = page
        .into_iter()
        .map(|(number, c)| json!({"number": number, "correction": c}))
        .collect();
    Ok(Json(json!({"items": items, "next_after": next})).into_response())
}

/// One labelled example of an import, with the line it starts on.
struct ImportLine {
    line: usize,
    id: Option<String>,
    text: String,
    code: String,
}

type Parsed = Result<ImportLine, (usize, String)>;

/// The formats an import (and its removal) takes.
#[derive(Clone, Copy)]
enum Format {
    Jsonl,
    Csv,
}

impl Format {
    fn from_headers(headers: &HeaderMap) -> Result<Format, ApiError> {
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media_type.as_str() {
            "application/x-ndjson" | "application/jsonl" => Ok(Format::Jsonl),
            "text/csv" => Ok(Format::Csv),
            other => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type {other:?}: send application/x-ndjson (JSONL) or text/csv"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// The body's examples, parsed one at a time, after checking that there are at most
/// `hub.import_max_lines` of them: more are refused whole, before anything is written.
fn import_lines(
    format: Format,
    body: &[u8],
    limit: usize,
) -> Result<Box<dyn Iterator<Item = Parsed> + '_>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_body(format!("the body is not UTF-8: {e}")))?;
    let count = match format {
        Format::Jsonl => text.lines().filter(|l| !l.trim().is_empty()).count(),
        Format::Csv => count_csv_records(text),
    };
    if count > limit {
        return Err(ApiError {
            details: json!({"lines": count, "limit": limit}),
            ..ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_lines",
                format!(
                    "the body holds {count} examples, more than the {limit} one request may carry (hub.import_max_lines); nothing was imported: split it into several requests"
                ),
            )
        });
    }
    Ok(match format {
        Format::Jsonl => Box::new(parse_jsonl(text)),
        Format::Csv => Box::new(
            parse_csv(text)
                .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_csv", m))?,
        ),
    })
}

/// An example ready to be written: its kv key and value.
struct Example {
    line: usize,
    id: Option<String>,
    key: String,
    value: Vec<u8>,
}

/// Checks one parsed line and makes its example; an error is for that line only.
fn example_of(item: Parsed) -> Result<Example, (usize, String)> {
    let line = item?;
    let entry = assignable(line.code.trim()).map_err(|m| (line.line, m))?;
    if line.text.trim().is_empty() {
        return Err((line.line, "the text is empty".into()));
    }
    let value = example_value(entry.code, &line.text);
    if value.len() > MAX_VALUE_BYTES {
        return Err((
            line.line,
            format!(
                "the example takes {} bytes as stored, more than the {MAX_VALUE_BYTES} bytes of one kv value: shorten its text",
                value.len()
            ),
        ));
    }
    let hash = hex::encode(&Sha256::digest(&value)[..6]);
    let key = match &line.id {
        Some(id) => format!("{CORRECTIONS_PREFIX}import-{id}.{hash}"),
        None => format!("{CORRECTIONS_PREFIX}import-{hash}"),
    };
    Ok(Example {
        line: line.line,
        id: line.id,
        key,
        value,
    })
}

/// Lines written per kv transaction.
const CHUNK_LINES: usize = 512;

/// Writes a chunk of examples into every kv; each example goes into all of them or
/// into none, and a refusal (its kv's quota) is that example's error.
fn write_chunk(kvs: &[(String, Arc<dyn PluginKv>)], chunk: &[Example]) -> Vec<Result<(), String>> {
    let entries: Vec<(&str, &[u8])> = chunk
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_slice()))
        .collect();
    let mut outcomes: Vec<Result<(), String>> = vec![Ok(()); chunk.len()];
    // Per kv, which examples it did not hold before: those are taken back on failure.
    let mut created: Vec<Vec<bool>> = Vec::with_capacity(kvs.len());
    for (name, kv) in kvs {
        let mut new = vec![false; chunk.len()];
        match kv.set_many(&entries) {
            Ok(results) => {
                for (i, result) in results.into_iter().enumerate() {
                    match result {
                        Ok(written) => new[i] = written == Written::New,
                        Err(e) => {
                            if outcomes[i].is_ok() {
                                outcomes[i] =
                                    Err(format!("writing into the kv of plugin {name:?}: {e}"));
                            }
                        }
                    }
                }
            }
            Err(e) => {
                for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                    *outcome = Err(format!("writing into the kv of plugin {name:?}: {e}"));
                }
            }
        }
        created.push(new);
    }
    for ((name, kv), new) in kvs.iter().zip(&created) {
        let undo: Vec<&str> = chunk
            .iter()
            .zip(new)
            .zip(&outcomes)
            .filter(|((_, new), outcome)| **new && outcome.is_err())
            .map(|((e, _), _)| e.key.as_str())
            .collect();
        if !undo.is_empty() {
            if let Err(e) = kv.delete_many(&undo) {
                tracing::warn!(plugin = %name, error = %e, "taking back examples that other classifiers refused");
            }
        }
    }
    outcomes
}

/// Tells every kv's classifier that its examples changed (see the module doc).
fn new_revision(kvs: &[(String, Arc<dyn PluginKv>)]) {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let revision = hex::encode(nonce);
    for (name, kv) in kvs {
        if let Err(e) = kv.set(CORRECTIONS_REVISION_KEY, revision.as_bytes()) {
            tracing::warn!(plugin = %name, error = %e, "cannot write the examples' revision; removing it, so that the classifier lists its examples on every call");
            if let Err(e) = kv.delete(CORRECTIONS_REVISION_KEY) {
                tracing::error!(plugin = %name, error = %e, "cannot remove the examples' revision: the classifier may not see the change until the next one");
            }
        }
    }
}

fn no_classifiers() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_classifiers",
        "the pipeline has no classifier to give the examples to",
    )
}

/// Runs `work` off the async workers: an import of 100,000 lines takes seconds.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the import's work stopped: {e}")))?
}

async fn import(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(ApiError::from)?;
    let format = Format::from_headers(&headers)?;
    let limit = hub.active().config.hub.import_max_lines.get();
    let kvs = classifier_kvs(&hub);
    let (keys, errors) = {
        let kvs = kvs.clone();
        blocking(move || import_body(&kvs, format, &body, limit)).await?
    };
    let imported = keys.len();
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    let plugins: Vec<&str> = kvs.iter().map(|(name, _)| name.as_str()).collect();
    tracing::info!(
        imported,
        rejected = errors.len(),
        ?plugins,
        "corrections imported"
    );
    super::admin::record(
        &hub,
        &caller,
        "import",
        "corrections",
        json!({"format": format.name(), "imported": imported, "rejected": errors.len(), "plugins": plugins}),
    )?;
    Ok(Json(json!({
        "imported": imported,
        "errors": errors,
        "keys": keys,
        "plugins": plugins,
    }))
    .into_response())
}

/// Imports the body's lines into every kv: the key of each line imported, and the error
/// of each line not.
fn import_body(
    kvs: &[(String, Arc<dyn PluginKv>)],
    format: Format,
    body: &[u8],
    limit: usize,
) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let lines = import_lines(format, body, limit)?;
    if kvs.is_empty() {
        return Err(no_classifiers());
    }
    let mut keys: Vec<Value> = Vec::new();
    let mut errors: Vec<Value> = Vec::new();
    let mut chunk: Vec<Example> = Vec::with_capacity(CHUNK_LINES);
    let mut lines = lines.peekable();
    while lines.peek().is_some() {
        chunk.clear();
        for item in lines.by_ref().take(CHUNK_LINES) {
            match example_of(item) {
                Ok(example) => chunk.push(example),
                Err((line, error)) => errors.push(json!({"line": line, "error": error})),
            }
        }
        let outcomes = write_chunk(kvs, &chunk);
        // The last example of an id in the chunk replaces the earlier ones, as a later
        // request would.
        let mut latest: Vec<(&str, &str)> = Vec::new();
        for (example, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    let key = example.key.trim_start_matches(CORRECTIONS_PREFIX);
                    keys.push(json!({"line": example.line, "key": key}));
                    if let Some(id) = &example.id {
                        latest.retain(|(other, _)| *other != id.as_str());
                        latest.push((id.as_str(), example.key.as_str()));
                    }
                }
                Err(error) => errors.push(json!({"line": example.line, "error": error})),
            }
        }
        for (id, key) in latest {
            replace_older(kvs, &format!("{CORRECTIONS_PREFIX}import-{id}."), key)
                .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        }
    }
    errors.sort_by_key(|e| e["line"].as_u64());
    if !keys.is_empty() {
        new_revision(kvs);
    }
    Ok((keys, errors))
}

#[derive(Deserialize)]
struct RemoveQuery {
    id: Option<String>,
    key: Option<String>,
}

/// Longest key `DELETE /v1/corrections/import?key=` takes: `import-`, an id, `.`, a hash.
const MAX_KEY_CHARS: usize = 7 + MAX_ID_CHARS + 1 + 12;

/// Removes imported examples from every classifier's kv: one key, an id's examples, or
/// the examples of the lines in the body.
async fn remove(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))?;
    let body = body.map_err(ApiError::from)?;
    let format = Format::from_headers(&headers);
    let limit = hub.active().config.hub.import_max_lines.get();
    let kvs = classifier_kvs(&hub);
    let (target, answer) = {
        let kvs = kvs.clone();
        blocking(move || remove_examples(&kvs, query, format, &body, limit)).await?
    };
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    let plugins: Vec<&str> = kvs.iter().map(|(name, _)| name.as_str()).collect();
    tracing::info!(removed = %answer["removed"], ?plugins, "imported examples removed");
    super::admin::record(
        &hub,
        &caller,
        "import-remove",
        "corrections",
        json!({"what": target, "removed": answer["removed"], "plugins": plugins}),
    )?;
    Ok(Json(answer).into_response())
}

/// Removes what the request names; what was removed (for the audit log) and the answer.
fn remove_examples(
    kvs: &[(String, Arc<dyn PluginKv>)],
    query: RemoveQuery,
    format: Result<Format, ApiError>,
    body: &[u8],
    limit: usize,
) -> Result<(String, Value), ApiError> {
    if kvs.is_empty() {
        return Err(no_classifiers());
    }
    let plugins: Vec<&str> = kvs.iter().map(|(name, _)| name.as_str()).collect();
    let (target, answer) = match (query.id, query.key, body.is_empty()) {
        (Some(id), None, true) => {
            let id = check_id(&id)
                .and_then(|id| id.ok_or_else(|| "the id is empty".to_string()))
                .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad_id", m))?;
            let prefix = format!("{CORRECTIONS_PREFIX}import-{id}.");
            let mut keys: Vec<String> = Vec::new();
            for (name, kv) in kvs {
                let found = kv
                    .list_keys(&prefix, MAX_KEYS_PER_MESSAGE)
                    .map_err(|e| internal_kv(name, e))?;
                let found: Vec<&str> = found.iter().map(String::as_str).collect();
                let removed = kv.delete_many(&found).map_err(|e| internal_kv(name, e))?;
                for (key, removed) in found.iter().zip(removed) {
                    if removed && !keys.iter().any(|k| k == key) {
                        keys.push(key.to_string());
                    }
                }
            }
            if keys.is_empty() {
                return Err(ApiError::not_found(format!(
                    "no example was imported with id {id:?}"
                )));
            }
            let keys: Vec<&str> = keys
                .iter()
                .map(|k| k.trim_start_matches(CORRECTIONS_PREFIX))
                .collect();
            (
                format!("id {id}"),
                json!({"removed": keys.len(), "keys": keys, "plugins": plugins}),
            )
        }
        (None, Some(key), true) => {
            let key = key.trim();
            let valid = key.starts_with("import-")
                && key.len() <= MAX_KEY_CHARS
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_key",
                    format!("{key:?} is not the key of an imported example (import-…, as the import answered)"),
                ));
            }
            let full = format!("{CORRECTIONS_PREFIX}{key}");
            let mut removed = false;
            for (name, kv) in kvs {
                let gone = kv.delete_many(&[&full]).map_err(|e| internal_kv(name, e))?;
                removed |= gone.contains(&true);
            }
            if !removed {
                return Err(ApiError::not_found(format!("no imported example {key:?}")));
            }
            (
                format!("key {key}"),
                json!({"removed": 1, "keys": [key], "plugins": plugins}),
            )
        }
        (None, None, false) => {
            let lines = import_lines(format?, body, limit)?;
            let (mut removed, mut missing) = (0usize, 0usize);
            let mut errors: Vec<Value> = Vec::new();
            let mut lines = lines.peekable();
            while lines.peek().is_some() {
                let mut chunk: Vec<Example> = Vec::with_capacity(CHUNK_LINES);
                for item in lines.by_ref().take(CHUNK_LINES) {
                    match example_of(item) {
                        Ok(example) => chunk.push(example),
                        Err((line, error)) => {
                            errors.push(json!({"line": line, "error": error}))
                        }
                    }
                }
                let keys: Vec<&str> = chunk.iter().map(|e| e.key.as_str()).collect();
                let mut found = vec![false; keys.len()];
                for (name, kv) in kvs {
                    let gone = kv.delete_many(&keys).map_err(|e| internal_kv(name, e))?;
                    for (found, gone) in found.iter_mut().zip(gone) {
                        *found |= gone;
                    }
                }
                let hits = found.iter().filter(|f| **f).count();
                removed += hits;
                missing += found.len() - hits;
            }
            (
                "lines".to_string(),
                json!({"removed": removed, "missing": missing, "errors": errors, "plugins": plugins}),
            )
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "name what to remove: ?key=KEY, ?id=ID, or a body with the lines of an import (application/x-ndjson or text/csv), one of the three",
            ))
        }
    };
    if answer["removed"].as_u64().unwrap_or(0) > 0 {
        new_revision(kvs);
    }
    Ok((target, answer))
}

fn internal_kv(plugin: &str, error: String) -> ApiError {
    ApiError::internal(anyhow::anyhow!("the kv of plugin {plugin:?}: {error}"))
}

/// Deletes every key under `prefix` but `keep`: an `id` imported again with another
/// example leaves only the new one.
fn replace_older(
    kvs: &[(String, Arc<dyn PluginKv>)],
    prefix: &str,
    keep: &str,
) -> Result<(), String> {
    for (name, kv) in kvs {
        let keys = kv
            .list_keys(prefix, MAX_KEYS_PER_MESSAGE)
            .map_err(|e| format!("listing the kv of plugin {name:?}: {e}"))?;
        let older: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| *k != keep)
            .collect();
        if !older.is_empty() {
            kv.delete_many(&older).map_err(|e| {
                format!("deleting older examples in the kv of plugin {name:?}: {e}")
            })?;
        }
    }
    Ok(())
}

/// An id becomes part of a kv key: letters, digits, `-` and `_` only, so that one id's
/// keys never share a prefix with another's.
fn check_id(id: &str) -> Result<Option<String>, String> {
    let id = id.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "id {id:?} must be at most {MAX_ID_CHARS} ASCII letters, digits, '-' or '_'"
        ));
    }
    Ok(Some(id.to_string()))
}

fn parse_jsonl(text: &str) -> impl Iterator<Item = Parsed> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .map(|(index, raw)| {
            let line = index + 1;
            let value: Value =
                serde_json::from_str(raw).map_err(|e| (line, format!("not JSON: {e}")))?;
            let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
            let text = field("text").ok_or((line, "no string field \"text\"".to_string()))?;
            let code = field("code").ok_or((line, "no string field \"code\"".to_string()))?;
            let id = match value.get("id") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => check_id(s).map_err(|m| (line, m))?,
                Some(Value::Number(n)) => check_id(&n.to_string()).map_err(|m| (line, m))?,
                Some(_) => return Err((line, "\"id\" must be a string or a number".into())),
            };
            Ok(ImportLine {
                line,
                id,
                text,
                code,
            })
        })
}

/// The separator the header line uses.
fn csv_separator(text: &str) -> Result<char, String> {
    let header_line = text.lines().next().unwrap_or("");
    match (header_line.contains(';'), header_line.contains(',')) {
        (true, _) => Ok(';'),
        (false, true) => Ok(','),
        (false, false) => Err("the first line must be a header naming the columns text and code, separated by ';' or ','".into()),
    }
}

/// Records after the header that hold anything: the examples [`parse_csv`] yields.
fn count_csv_records(text: &str) -> usize {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Ok(separator) = csv_separator(text) else {
        return 0;
    };
    let mut reader = csv_reader(text, separator);
    let mut record = csv::ByteRecord::new();
    let mut count = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.iter().all(|f| f.trim_ascii().is_empty()) => {}
            // A record the parser cannot read is still a line it reports.
            Ok(true) | Err(_) => count += 1,
        }
    }
    // The header.
    count.saturating_sub(1)
}

fn csv_reader(text: &str, separator: char) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(separator as u8)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Parses CSV with a header; an error here is about the whole body (no usable header).
fn parse_csv(text: &str) -> Result<impl Iterator<Item = Parsed> + '_, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let separator = csv_separator(text)?;
    let mut records = CsvRecords {
        text,
        reader: csv_reader(text, separator),
    };
    let Some((_, header)) = records.next() else {
        return Err("the body is empty".into());
    };
    let header: Vec<String> = match header {
        Ok(fields) => fields
            .iter()
            .map(|f| f.trim().to_ascii_lowercase())
            .collect(),
        Err(e) => return Err(format!("line 1: {e}")),
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(text_at), Some(code_at)) = (column("text"), column("code")) else {
        return Err(format!(
            "the header names the columns {header:?}; it must name text and code"
        ));
    };
    let id_at = column("id");
    let columns = header.len();
    Ok(records
        .filter(|(_, fields)| !matches!(fields, Ok(f) if f.iter().all(|x| x.trim().is_empty())))
        .map(move |(line, fields)| {
            let fields = fields.map_err(|e| (line, e))?;
            if fields.len() != columns {
                return Err((
                    line,
                    format!("{} field(s), but the header has {columns}", fields.len()),
                ));
            }
            let id = match id_at {
                Some(at) => check_id(&fields[at]).map_err(|m| (line, m))?,
                None => None,
            };
            Ok(ImportLine {
                line,
                id,
                text: fields[text_at].clone(),
                code: fields[code_at].clone(),
            })
        }))
}

/// CSV records with the line each starts on, read with the `csv` crate one at a time.
/// Quoted fields may hold the separator, line breaks and doubled quotes. The crate reads
/// a stray or unclosed quote leniently (an unclosed one swallows the rest of the body
/// into one field), so a record whose raw text holds an odd number of quotes is refused
/// here: a well-formed record's quotes come in pairs. The error is for that record only.
struct CsvRecords<'a> {
    text: &'a str,
    reader: csv::Reader<&'a [u8]>,
}

impl Iterator for CsvRecords<'_> {
    type Item = (usize, Result<Vec<String>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = csv::StringRecord::new();
        let result = self.reader.read_record(&mut record);
        // Where the reader stands now is where the record's raw text ends.
        let end = self.reader.position().byte() as usize;
        match result {
            Ok(false) => None,
            Ok(true) => {
                let position = record
                    .position()
                    .cloned()
                    .unwrap_or_else(csv::Position::new);
                let (line, start) = self.record_start(&position);
                let raw = self.text.get(start..end).unwrap_or("");
                let fields = if raw.matches('"').count() % 2 == 1 {
                    Err("a quote is not closed, or stands inside an unquoted field".to_string())
                } else {
                    Ok(record.iter().map(str::to_string).collect())
                };
                Some((line, fields))
            }
            Err(e) => {
                let position = e.position().cloned().unwrap_or_else(csv::Position::new);
                Some((self.record_start(&position).0, Err(e.to_string())))
            }
        }
    }
}

impl CsvRecords<'_> {
    /// The line and byte a record starts on. The crate's position for a record is where
    /// the reader stood, which may be before the `\n` of a `\r\n` that ended the record
    /// before, and before blank lines.
    fn record_start(&self, position: &csv::Position) -> (usize, usize) {
        let mut line = position.line() as usize;
        let mut start = position.byte() as usize;
        while let Some(c) = self
            .text
            .as_bytes()
            .get(start)
            .filter(|c| matches!(c, b'\r' | b'\n'))
        {
            line += usize::from(*c == b'\n');
            start += 1;
        }
        (line, start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_keeps_separators_quotes_and_line_breaks_inside_quotes() {
        let body = "text;code;id\r\n\"Яма; во дворе,\nглубокая \"\"очень\"\"\";0003.0009.0097.0699;a1\nбез кавычек;0005.0005.0056.1161;\n";
        let records: Vec<Parsed> = parse_csv(body).expect("a header").collect();
        assert_eq!(records.len(), 2);
        let first = records[0].as_ref().expect("a good record");
        assert_eq!(first.line, 2);
        assert_eq!(first.text, "Яма; во дворе,\nглубокая \"очень\"");
        assert_eq!(first.id.as_deref(), Some("a1"));
        let second = records[1].as_ref().expect("a good record");
        assert_eq!((second.line, second.id.as_deref()), (4, None));
        assert_eq!(second.code, "0005.0005.0056.1161");
    }

    #[test]
    fn csv_bad_records_are_reported_with_their_line_and_the_rest_kept() {
        let body = "code,text\n0003.0009.0097.0699,\"ok\"\n0003.0009.0097.0699,a\"b\n0003.0009.0097.0699\n0003.0009.0097.0699,fine";
        let records: Vec<Parsed> = parse_csv(body).expect("a header").collect();
        let lines: Vec<Result<usize, usize>> = records
            .iter()
            .map(|r| r.as_ref().map(|l| l.line).map_err(|(l, _)| *l))
            .collect();
        assert_eq!(lines, vec![Ok(2), Err(3), Err(4), Ok(5)]);
        // An unclosed quote swallows what follows: that record is refused, not imported.
        let records: Vec<Parsed> =
            parse_csv("text;code\nfine;0003.0009.0097.0699\n\"open;0003.0009.0097.0699\nrest;0003.0009.0097.0699\n")
                .expect("a header")
                .collect();
        let lines: Vec<Result<usize, usize>> = records
            .iter()
            .map(|r| r.as_ref().map(|l| l.line).map_err(|(l, _)| *l))
            .collect();
        assert_eq!(lines, vec![Ok(2), Err(3)]);
        assert!(parse_csv("just words\n").is_err());
        assert!(parse_csv("text;kod\nx;y\n").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// Whatever a client sends, the parsers answer with records or errors.
        #[test]
        fn any_text_parses_without_panic(text in "(?s).{0,400}") {
            let _ = parse_csv(&text);
            let _ = parse_jsonl(&text);
        }

        /// What a spreadsheet writes (quotes, separators and line breaks in texts) comes
        /// back as written, each record at the line it starts on.
        #[test]
        fn csv_written_by_a_writer_reads_back(
            texts in proptest::collection::vec("[а-яА-Я a-z;,\"\n]{1,30}", 1..8),
            separator in proptest::prop_oneof![proptest::strategy::Just(b';'), proptest::strategy::Just(b',')],
        ) {
            let mut writer = csv::WriterBuilder::new().delimiter(separator).from_writer(Vec::new());
            writer.write_record(["text", "code"]).unwrap();
            for text in &texts {
                writer.write_record([text.as_str(), "0003.0009.0097.0699"]).unwrap();
            }
            let body = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            let records: Vec<_> = parse_csv(&body).expect("a header").collect();
            let read: Vec<String> = records
                .iter()
                .map(|r| r.as_ref().map(|l| l.text.clone()).map_err(|e| e.1.clone()))
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{e}: {body:?}"));
            proptest::prop_assert_eq!(&read, &texts);
            let mut line = 2;
            for (record, text) in records.iter().zip(texts.iter()) {
                let record = record.as_ref().unwrap();
                proptest::prop_assert_eq!(record.line, line);
                line += 1 + text.matches('\n').count();
            }
        }
    }

    #[test]
    fn jsonl_lines_are_checked_one_by_one() {
        let body = "{\"text\": \"a\", \"code\": \"x\", \"id\": 7}\n\nnot json\n{\"text\": \"b\"}\n{\"text\": \"c\", \"code\": \"y\", \"id\": \"../x\"}\n";
        let parsed: Vec<Parsed> = parse_jsonl(body).collect();
        assert_eq!(parsed.len(), 4);
        assert_eq!(
            parsed[0]
                .as_ref()
                .ok()
                .and_then(|l| l.id.clone())
                .as_deref(),
            Some("7")
        );
        let errors: Vec<usize> = parsed
            .iter()
            .filter_map(|r| r.as_ref().err().map(|(l, _)| *l))
            .collect();
        assert_eq!(errors, vec![3, 4, 5]);
    }

    #[test]
    fn only_level_four_and_five_codes_are_assignable() {
        assert!(assignable("0005.0005.0056.1161").is_ok());
        assert!(assignable("0005.0005.0000.0000")
            .unwrap_err()
            .contains("level-2"));
        assert!(assignable("0005.0005.0056.9999")
            .unwrap_err()
            .contains("not a code"));
    }

    #[test]
    fn the_line_count_is_the_number_of_examples_parsed() {
        for body in [
            "text;code;id\r\n\"Яма; во дворе,\nглубокая\";0003.0009.0097.0699;a1\n\n;;\nбез;0005.0005.0056.1161;\n",
            "code,text\n0003.0009.0097.0699,\"ok\"\n0003.0009.0097.0699,a\"b\n0003.0009.0097.0699\n0003.0009.0097.0699,fine",
            "\u{feff}text,code\nx,0003.0009.0097.0699\n",
            "text;code\n",
        ] {
            let parsed = parse_csv(body).expect("a header").count();
            assert_eq!(count_csv_records(body), parsed, "{body:?}");
        }
    }

    #[test]
    fn an_example_larger_than_a_kv_value_is_an_error_for_its_line() {
        let line = |text: String| -> Parsed {
            Ok(ImportLine {
                line: 7,
                id: None,
                text,
                code: "0003.0009.0097.0699".into(),
            })
        };
        let fits = example_of(line("я".repeat(1000))).expect("a small example");
        assert!(fits.key.starts_with("okno.corrections/import-"));
        // Two bytes a letter: about 2 MB as stored.
        let error = example_of(line("я".repeat(1 << 20)))
            .err()
            .expect("refused");
        assert_eq!(error.0, 7);
        assert!(error.1.contains("1048576"), "{}", error.1);
    }
}
