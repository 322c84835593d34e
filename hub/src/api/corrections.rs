//! Officials' corrections of the topic, and imports of labelled history: what topic
//! classifiers learn from.
//!
//! A labelled example goes into the kv of every classifier of the pipeline, under
//! `okno.corrections/<key>` as JSON `{"code": "...", "text": "..."}` with the text as the
//! classifier saw it (subject, newline, body). A classifier may index an example once and
//! never read its key again, so a changed example always comes under a new key and the
//! older one of the same appeal is deleted:
//! - a correction of message ID: `okno.corrections/ID.N`, N counting that message's
//!   corrections;
//! - an imported line with an `id`: `okno.corrections/import-ID.H`, H a hash of the
//!   example, so importing the same line again changes nothing;
//! - an imported line without one: `okno.corrections/import-H`, so that lines of
//!   different files never take each other's place.
//!
//! `POST /v1/corrections/import` takes JSONL (`Content-Type: application/x-ndjson`), one
//! object a line with `text`, `code` and optionally `id`, or CSV (`text/csv`): a header
//! naming the columns `text`, `code` and optionally `id` in any order, separated by `;`
//! (as spreadsheets write it in Russian locales) or `,`, whichever the header uses, with
//! standard quoting, so a quoted text may hold separators and line breaks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ApiError;
use crate::auth::Caller;
use crate::classifier_table;
use crate::model::{Classification, Message, Topic, TopicAssignment};
use crate::pipeline::Hub;
use crate::runtime::kv::{PluginKv, CORRECTIONS_PREFIX};
use crate::runtime::World;
use crate::store::{Correction, State as MessageState};

/// Longest name of the official who corrected a topic.
const MAX_BY_CHARS: usize = 200;
/// Longest `id` an imported line may carry.
const MAX_ID_CHARS: usize = 100;
/// Keys listed when looking for the older examples of one message or imported id. Only
/// the latest is kept, so there are seldom more than two.
const MAX_KEYS_PER_MESSAGE: u32 = 1000;

pub fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/v1/messages/{id}/classification", post(correct))
        .route("/v1/corrections/import", post(import))
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
            r.corrections.push(Correction {
                at: now,
                code: code.clone(),
                name: entry.name.clone(),
                previous: previous_code,
                by: by.clone(),
            });
            r.trace
                .push(crate::pipeline::trace_entry("correct", &reason));
            number = r.corrections.len();
        })
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no message {id:?}"),
            )
        })?;

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
    hub.store
        .durability
        .wait()
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(message_id = %id, code = %code, classifiers = kvs.len(), "topic corrected");
    let previous = record
        .corrections
        .last()
        .and_then(|c| c.previous.clone());
    super::admin::record(
        &hub,
        &caller,
        "correct",
        &id,
        json!({"from": previous, "to": code, "by": by}),
    )?;
    Ok(Json(record).into_response())
}

/// One labelled example of an import, with the line it starts on.
struct ImportLine {
    line: usize,
    id: Option<String>,
    text: String,
    code: String,
}

async fn import(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(ApiError::from)?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the body is not UTF-8: {e}"),
        )
    })?;
    let parsed = match media_type.as_str() {
        "application/x-ndjson" | "application/jsonl" => parse_jsonl(text),
        "text/csv" => parse_csv(text)
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_csv", m))?,
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type {other:?}: send application/x-ndjson (JSONL) or text/csv"),
            ))
        }
    };
    let kvs = classifier_kvs(&hub);
    if kvs.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_classifiers",
            "the pipeline has no classifier to give the examples to",
        ));
    }

    let mut imported = 0;
    let mut errors: Vec<Value> = Vec::new();
    for item in parsed {
        let result = item.and_then(|line| {
            let entry = assignable(line.code.trim()).map_err(|m| (line.line, m))?;
            if line.text.trim().is_empty() {
                return Err((line.line, "the text is empty".into()));
            }
            let value = example_value(entry.code, &line.text);
            let hash = hex::encode(&Sha256::digest(&value)[..6]);
            let key = match &line.id {
                Some(id) => format!("{CORRECTIONS_PREFIX}import-{id}.{hash}"),
                None => format!("{CORRECTIONS_PREFIX}import-{hash}"),
            };
            write_example(&kvs, &key, &value).map_err(|m| (line.line, m))?;
            if let Some(id) = &line.id {
                replace_older(&kvs, &format!("{CORRECTIONS_PREFIX}import-{id}."), &key)
                    .map_err(|m| (line.line, m))?;
            }
            Ok(())
        });
        match result {
            Ok(()) => imported += 1,
            Err((line, error)) => errors.push(json!({"line": line, "error": error})),
        }
    }
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
        json!({"format": media_type, "imported": imported, "rejected": errors.len(), "plugins": plugins}),
    )?;
    Ok(Json(json!({"imported": imported, "errors": errors, "plugins": plugins})).into_response())
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
        for key in keys.iter().filter(|k| k.as_str() != keep) {
            kv.delete(key)
                .map_err(|e| format!("deleting {key} in the kv of plugin {name:?}: {e}"))?;
        }
    }
    Ok(())
}

type Parsed = Result<ImportLine, (usize, String)>;

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

fn parse_jsonl(text: &str) -> Vec<Parsed> {
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
        .collect()
}

/// Parses CSV with a header; an error here is about the whole body (no usable header).
fn parse_csv(text: &str) -> Result<Vec<Parsed>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().next().unwrap_or("");
    let separator = match (header_line.contains(';'), header_line.contains(',')) {
        (true, _) => ';',
        (false, true) => ',',
        (false, false) => return Err("the first line must be a header naming the columns text and code, separated by ';' or ','".into()),
    };
    let mut records = csv_records(text, separator).into_iter();
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
    Ok(records
        .filter(|(_, fields)| !matches!(fields, Ok(f) if f.iter().all(|x| x.trim().is_empty())))
        .map(|(line, fields)| {
            let fields = fields.map_err(|e| (line, e))?;
            if fields.len() != header.len() {
                return Err((
                    line,
                    format!(
                        "{} field(s), but the header has {}",
                        fields.len(),
                        header.len()
                    ),
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
        })
        .collect())
}

/// Splits CSV into records with the line each starts on. Quoted fields may hold the
/// separator, line breaks and doubled quotes. A record with a stray quote is an error
/// for that record only.
fn csv_records(text: &str, separator: char) -> Vec<(usize, Result<Vec<String>, String>)> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut quoted = false; // this field started with a quote
    let mut error: Option<String> = None;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            '"' => {
                error.get_or_insert_with(|| {
                    "a quote inside an unquoted field, or text after a closing quote".into()
                });
            }
            c if c == separator => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
                let record = match error.take() {
                    Some(e) => Err(e),
                    None => Ok(std::mem::take(&mut fields)),
                };
                fields.clear();
                records.push((start, record));
                line += 1;
                start = line;
            }
            _ if quoted => {
                error.get_or_insert_with(|| "text after a closing quote".into());
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        records.push((
            start,
            Err("a quoted field is not closed before the end of the body".into()),
        ));
    } else if !field.is_empty() || !fields.is_empty() || quoted {
        fields.push(field);
        records.push((start, error.map_or(Ok(fields), Err)));
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_keeps_separators_quotes_and_line_breaks_inside_quotes() {
        let body = "text;code;id\r\n\"Яма; во дворе,\nглубокая \"\"очень\"\"\";0003.0009.0097.0699;a1\nбез кавычек;0005.0005.0056.1161;\n";
        let records = parse_csv(body).expect("a header");
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
        let records = parse_csv(body).expect("a header");
        let lines: Vec<Result<usize, usize>> = records
            .iter()
            .map(|r| r.as_ref().map(|l| l.line).map_err(|(l, _)| *l))
            .collect();
        assert_eq!(lines, vec![Ok(2), Err(3), Err(4), Ok(5)]);
        assert!(parse_csv("just words\n").is_err());
        assert!(parse_csv("text;kod\nx;y\n").is_err());
    }

    #[test]
    fn jsonl_lines_are_checked_one_by_one() {
        let body = "{\"text\": \"a\", \"code\": \"x\", \"id\": 7}\n\nnot json\n{\"text\": \"b\"}\n{\"text\": \"c\", \"code\": \"y\", \"id\": \"../x\"}\n";
        let parsed = parse_jsonl(body);
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
}
