//! Polling a remote system's JSON feed: items numbered in order, fetched after a cursor and
//! acknowledged up to a number, as SOG's `GET /api/feed?after=N` and the KND portal's
//! `GET /api/outbox?after=N` serve them (`{"items": [{"seq": N, "<field>": {…}}, …]}`,
//! acknowledged with `POST <url>/ack` and `{"seq": N}`).
//!
//! The cursor (the last number journaled) lives in [`kv`](crate::kv) and moves in
//! [`ack`], once the batch is journaled and the remote system has taken the ack: a hub
//! that stops in between fetches the same items again, and their idempotency keys make
//! the second journal a duplicate. An item the connector refuses as invalid or unsupported
//! is logged with its number and passed over, so that one bad item does not stop the feed;
//! any other error (the plugin's settings) fails the poll, and nothing is passed over.

use crate::polling::Batch;
use crate::types::{ErrorKind, Message, PluginError};
use crate::{http, kv, log};

/// The kv key of the cursor.
const CURSOR_KEY: &str = "feed.after";

/// Where and how to read a feed.
pub struct Feed<'a> {
    /// The feed's URL without a query, e.g. `http://sog.local/api/feed`.
    pub url: &'a str,
    /// The member of each item holding the document, e.g. `card`.
    pub field: &'a str,
    /// Items asked for at once.
    pub limit: u32,
}

fn error(kind: ErrorKind, message: String) -> PluginError {
    PluginError { kind, message }
}

/// The last number journaled (0 before the first).
pub fn cursor() -> Result<u64, PluginError> {
    let value = kv::get(CURSOR_KEY)
        .map_err(|e| error(ErrorKind::Internal, format!("kv get {CURSOR_KEY}: {e:?}")))?;
    Ok(value
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Fetches the items after the cursor and decodes each with `decode` (the document's JSON
/// bytes in, messages out). The batch's ack token is the last item's number.
pub fn poll(
    feed: &Feed<'_>,
    decode: impl Fn(&[u8]) -> Result<Vec<Message>, PluginError>,
) -> Result<Batch, PluginError> {
    let after = cursor()?;
    let url = format!("{}?after={after}&limit={}", feed.url, feed.limit);
    let response = send("GET", &url, None)?;
    let body: serde_json::Value = serde_json::from_slice(&response.body).map_err(|e| {
        error(
            ErrorKind::Upstream,
            format!("GET {url}: the answer is not JSON: {e}"),
        )
    })?;
    let items = body["items"].as_array().ok_or_else(|| {
        error(
            ErrorKind::Upstream,
            format!("GET {url}: the answer has no `items` array"),
        )
    })?;
    let mut messages = Vec::new();
    let mut last = None;
    for (i, item) in items.iter().enumerate() {
        let seq = item["seq"].as_u64().ok_or_else(|| {
            error(
                ErrorKind::Upstream,
                format!("GET {url}: $.items[{i}].seq is not a number"),
            )
        })?;
        if seq <= after || last.is_some_and(|l| seq <= l) {
            return Err(error(
                ErrorKind::Upstream,
                format!(
                    "GET {url}: $.items[{i}].seq = {seq} does not follow {}",
                    last.unwrap_or(after)
                ),
            ));
        }
        last = Some(seq);
        let document = serde_json::to_vec(&item[feed.field])
            .map_err(|e| error(ErrorKind::Internal, format!("item {seq}: {e}")))?;
        match decode(&document) {
            Ok(decoded) => messages.extend(decoded),
            // The plugin's settings or a bug, not the item: nothing is passed over, and the
            // hub backs off until it is fixed.
            Err(e) if !matches!(e.kind, ErrorKind::InvalidInput | ErrorKind::Unsupported) => {
                return Err(error(e.kind, format!("feed item {seq}: {}", e.message)));
            }
            Err(e) => log::log(
                log::Level::Error,
                &format!(
                    "feed item {seq} ($.items[{i}].{}) passed over: {}",
                    feed.field, e.message
                ),
            ),
        }
    }
    Ok(Batch {
        messages,
        ack: last.map(|l| l.to_string()),
        more: items.len() as u64 >= u64::from(feed.limit),
    })
}

/// Tells the remote system it may drop the items up to `token` (a batch's last number),
/// then moves the cursor there.
///
/// In this order because the cursor outlives the hub: moved first, a hub stopped before
/// the remote system answered would poll after the batch, never ack it again, and leave
/// it in the remote outbox for good. Moved last, a hub stopped in between polls from the
/// old cursor, and gets only what the remote system still holds.
pub fn ack(feed: &Feed<'_>, token: &str) -> Result<(), PluginError> {
    let seq: u64 = token.trim().parse().map_err(|_| {
        error(
            ErrorKind::Internal,
            format!("ack token {token:?} is not a feed number"),
        )
    })?;
    let body = serde_json::json!({ "seq": seq }).to_string().into_bytes();
    send("POST", &format!("{}/ack", feed.url), Some(body))?;
    if seq > cursor()? {
        kv::set(CURSOR_KEY, seq.to_string().as_bytes())
            .map_err(|e| error(ErrorKind::Internal, format!("kv set {CURSOR_KEY}: {e:?}")))?;
    }
    Ok(())
}

fn send(method: &str, url: &str, body: Option<Vec<u8>>) -> Result<http::Response, PluginError> {
    let request = http::Request {
        method: method.into(),
        url: url.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    };
    let response = http::send(&request).map_err(|e| {
        error(
            ErrorKind::Upstream,
            format!("{method} {url}: {}", http::describe(&e)),
        )
    })?;
    if !(200..300).contains(&response.status) {
        let text = String::from_utf8_lossy(&response.body[..response.body.len().min(300)]);
        return Err(error(
            ErrorKind::Upstream,
            format!("{method} {url} answered HTTP {}: {text}", response.status),
        ));
    }
    Ok(response)
}
