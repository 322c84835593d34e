//! A hub in this process around one connector, for that connector's end-to-end tests:
//! one source taking pushes over HTTP, no classifiers, the priority policy, and every
//! message routed to a recording [`Sink`] through `http-json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::hub_config::{http_source, hub_table, plugin_entry, source_token};
use crate::{free_port, one_sink, Sink};

pub struct ConnectorHub {
    pub hub: Arc<okno_hub::pipeline::Hub>,
    /// Where the hub listens, `127.0.0.1:PORT`.
    pub addr: String,
    /// The source the connector decodes for.
    pub source: String,
    /// A token for pushing to the source.
    pub token: String,
    /// The sink every message is routed to.
    pub sink: Sink,
}

impl ConnectorHub {
    /// Writes the config in `dir` and starts the hub: the source `source` decoded by the
    /// plugin `connector`; `built` gives the components of `connector`, `http-json` and
    /// `priority`; `hub_settings` are TOML lines added to `[hub]` (two workers).
    pub async fn start(
        dir: &Path,
        source: &str,
        connector: &str,
        built: fn(&str) -> PathBuf,
        hub_settings: &str,
    ) -> ConnectorHub {
        let sink_port = free_port();
        let sink = Sink::start(sink_port).await;
        let listen = format!("127.0.0.1:{}", free_port());
        let mut text = hub_table(dir, &listen, &format!("workers = 2\n{hub_settings}"));
        for (name, kind) in [
            (connector, "connector"),
            ("http-json", "connector"),
            ("priority", "policy"),
        ] {
            text.push_str(&plugin_entry(name, kind, &built(name), ""));
        }
        text.push_str(&http_source(source, connector));
        text.push_str("[pipeline]\nclassifiers = []\npolicy = \"priority\"\n\n");
        text.push_str(&one_sink(&Sink::url(sink_port, "registry"), 3));
        let config = dir.join("okno.toml");
        std::fs::write(&config, text).expect("writing the config");
        let token = source_token(&dir.join("data"), &format!("{source}-system"), source);
        let (hub, addr) = okno_hub::cli::serve::start(config, Default::default())
            .await
            .expect("the hub starts");
        ConnectorHub {
            hub,
            addr: addr.to_string(),
            source: source.to_string(),
            token,
            sink,
        }
    }

    /// POSTs `body` to the source: (status, JSON answer or null).
    pub async fn post(&self, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        post_source(&self.addr, &self.source, &self.token, content_type, body).await
    }
}

/// POSTs `body` to the source `source` of the hub at `addr` with a source `token`:
/// (status, JSON answer or null).
pub async fn post_source(
    addr: &str,
    source: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/sources/{source}/messages"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
