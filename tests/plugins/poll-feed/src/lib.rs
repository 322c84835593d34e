//! A poller over a small JSON feed, for the poll transport's tests.
//!
//! `poll` GETs `{url}/batch` (the `url` setting), which answers
//! `{"items": [{"id": "a1", "body": "…"}], "token": "t1", "more": false}`, and returns
//! one message per item with the item's `id` as its idempotency key. `ack` POSTs the
//! token to `{url}/ack`. The feed keeps handing out what was not acknowledged, as SMEV's
//! queue does. Any answer but 2xx is an `upstream` error.
//!
//! `decode` reads one item (`{"id": …, "body": …}`) and `encode` writes
//! `{"id": …, "body": …}`, so the plugin also serves a dir or http source and a sink.

use okno_sdk::http::Request;
use okno_sdk::prelude::*;
use serde_json::Value;

struct PollFeed;

fn base_url() -> Result<String, PluginError> {
    okno_sdk::config::get("url")
        .map(|u| u.trim_end_matches('/').to_string())
        .ok_or_else(|| PluginError::config("the `url` setting (the feed's base URL) is missing"))
}

fn send(method: &str, url: String, body: Option<Vec<u8>>) -> Result<Vec<u8>, PluginError> {
    let request = Request {
        method: method.into(),
        url: url.clone(),
        headers: vec![("content-type".into(), "text/plain".into())],
        body,
    };
    let response = okno_sdk::http::send(&request)
        .map_err(|e| PluginError::upstream(format!("{method} {url}: {e:?}")))?;
    if !(200..300).contains(&response.status) {
        return Err(PluginError::upstream(format!(
            "{method} {url} answered {}",
            response.status
        )));
    }
    Ok(response.body)
}

fn item_to_message(item: &Value, at: &str) -> Result<Message, PluginError> {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    let id = text("id").ok_or_else(|| PluginError::invalid_input(format!("{at}.id: missing")))?;
    let body =
        text("body").ok_or_else(|| PluginError::invalid_input(format!("{at}.body: missing")))?;
    let mut message = Message::new(Channel::Api, body);
    message.idempotency_key = Some(format!("feed:{id}"));
    message.subject = text("subject").map(str::to_string);
    message.metadata.push(("feed.id".into(), id.to_string()));
    Ok(message)
}

impl Connector for PollFeed {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        let item: Value = serde_json::from_slice(&input.bytes)
            .map_err(|e| PluginError::invalid_input(format!("not JSON: {e}")))?;
        Ok(vec![item_to_message(&item, "$")?])
    }

    fn encode(message: Message, _: Classification, _: Decision) -> Result<Outbound, PluginError> {
        let document = serde_json::json!({"id": message.id, "body": message.body});
        let mut headers = Vec::new();
        if let Some(name) = okno_sdk::config::get("filename-prefix") {
            headers.push(("filename".to_string(), format!("{name}{}.json", message.id)));
        }
        Ok(Outbound {
            bytes: document.to_string().into_bytes(),
            content_type: "application/json".into(),
            headers,
        })
    }
}

impl Poller for PollFeed {
    fn poll() -> Result<Batch, PluginError> {
        let body = send("GET", format!("{}/batch", base_url()?), None)?;
        let batch: Value = serde_json::from_slice(&body)
            .map_err(|e| PluginError::upstream(format!("the feed's batch is not JSON: {e}")))?;
        let items = batch
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| PluginError::upstream("the feed's batch has no `items` array"))?;
        let messages = items
            .iter()
            .enumerate()
            .map(|(i, item)| item_to_message(item, &format!("$.items[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch {
            messages,
            ack: batch
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_string),
            more: batch.get("more").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn ack(token: String) -> Result<(), PluginError> {
        send(
            "POST",
            format!("{}/ack", base_url()?),
            Some(token.into_bytes()),
        )?;
        Ok(())
    }
}

okno_sdk::export_poller!(PollFeed);
