//! `okno demo`: builds the example plugins, starts the hub on the embedded store with
//! `examples/okno.toml`, starts a local HTTP sink that records what it receives, feeds the
//! sample appeals in `examples/appeals/`, and shows what happened to each.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;

use crate::config::Config;
use crate::pipeline::Overrides;
use crate::store::State as MessageState;

/// What the recording sink received: path → (Idempotency-Key, body).
pub type Received = Arc<Mutex<BTreeMap<String, Vec<(String, String)>>>>;

/// A sink that answers 200 and remembers every request.
pub async fn start_recording_sink(addr: SocketAddr) -> anyhow::Result<Received> {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            post(
                |State(r): State<Received>,
                 UrlPath(path): UrlPath<String>,
                 headers: HeaderMap,
                 body: String| async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    r.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(format!("/{path}"))
                        .or_default()
                        .push((key, body));
                    "ok"
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("the demo sink cannot listen on {addr} (is something else using the port?)")
    })?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(received)
}

pub fn workspace_dir() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    super::build::workspace_root(&here)
        .or_else(|_| super::build::workspace_root(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .context("run okno demo from the Okno repository")
}

pub async fn demo(once: bool, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let root = workspace_dir()?;
    println!("== building plugins");
    let crates = super::build::find_plugin_crates(&root.join("plugins"))?;
    super::build::build_plugins(&crates, &root.join("plugins").join("dist"), &mut |line| {
        println!("{line}")
    })?;

    let config_path = root.join("examples").join("okno.toml");
    let config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut sink_addrs: Vec<SocketAddr> = Vec::new();
    for sink in &config.sinks {
        let url = reqwest::Url::parse(sink.url.get_ref())?;
        let addr: SocketAddr = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().unwrap_or(80)
        )
        .parse()?;
        if !sink_addrs.contains(&addr) {
            sink_addrs.push(addr);
        }
    }
    let mut received = Vec::new();
    for addr in &sink_addrs {
        received.push(start_recording_sink(*addr).await?);
    }
    let temp = std::env::temp_dir().join(format!("okno-demo-{}", std::process::id()));
    let data_dir = data_dir.unwrap_or(temp.clone());
    // The demo's own tokens: one per source for feeding the samples, and an operator's
    // for looking at the result. A name per run, so a kept --data-dir can run it again.
    let run = crate::sla::now_millis();
    let mut source_tokens = BTreeMap::new();
    for source in &config.sources {
        let name = source.name.get_ref();
        let token = super::admin::token_create(
            &data_dir,
            &format!("demo-{name}-{run}"),
            "source",
            Some(name),
            None,
        )?;
        source_tokens.insert(name.clone(), token);
    }
    let operator_token = super::admin::token_create(
        &data_dir,
        &format!("demo-operator-{run}"),
        "operator",
        None,
        None,
    )?;
    let (hub, addr) = super::serve::start(
        config_path.clone(),
        Overrides {
            data_dir: Some(data_dir.clone()),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "== hub listening on http://{addr} (data in {})",
        data_dir.display()
    );

    let mut samples: Vec<PathBuf> = std::fs::read_dir(root.join("examples").join("appeals"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    samples.sort();
    if samples.is_empty() {
        bail!("no sample appeals (*.eml) in examples/appeals");
    }
    let client = reqwest::Client::new();
    let mut sent: Vec<(String, String)> = Vec::new();
    for sample in &samples {
        let bytes = std::fs::read(sample)?;
        let response = client
            .post(format!("http://{addr}/v1/sources/mail/messages"))
            .bearer_auth(source_tokens.get("mail").map(String::as_str).unwrap_or(""))
            .header("content-type", "message/rfc822")
            .body(bytes)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let name = sample
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !status.is_success() {
            println!(
                "  {name}: refused with {status}: {}",
                body["error"]["message"]
            );
            continue;
        }
        for id in body["ids"].as_array().into_iter().flatten() {
            sent.push((name.clone(), id.as_str().unwrap_or_default().to_string()));
        }
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = sent.iter().all(|(_, id)| {
            hub.store
                .get(id)
                .ok()
                .flatten()
                .is_some_and(|r| r.state.is_finished())
        });
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!("\n== what happened ({} appeals)", sent.len());
    let mut missing = Vec::new();
    let utc_offset = hub.active().config.hub.utc_offset_minutes;
    for (name, id) in &sent {
        let Some(r) = hub.store.get(id)? else {
            continue;
        };
        let c = r.classification.clone().unwrap_or_default();
        let d = r.decision.clone().unwrap_or_default();
        let topic = c
            .topic
            .as_ref()
            .map(|t| {
                format!(
                    "{} {}{}",
                    t.best.code,
                    t.best.name.chars().take(40).collect::<String>(),
                    if t.low_confidence { " (?)" } else { "" }
                )
            })
            .unwrap_or_else(|| "-".into());
        let kind = c.kind.as_ref().map(|k| k.kind.as_str()).unwrap_or("-");
        let sentiment = c
            .sentiment
            .as_ref()
            .map(|s| format!("{:?}", s.label).to_lowercase())
            .unwrap_or_else(|| "-".into());
        let deadline = d
            .answer_deadline
            .map(|at| crate::sla::format_local(at, utc_offset))
            .unwrap_or_else(|| "-".into());
        let sinks: Vec<String> = r
            .deliveries
            .iter()
            .map(|(s, del)| format!("{s}:{:?}", del.state).to_lowercase())
            .collect();
        println!("{name}\n    id {id}  state {}\n    topic {topic}\n    kind {kind}, sentiment {sentiment}, priority {}, answer by {deadline}\n    delivered {}", r.state.as_str(), d.priority.as_str(), sinks.join(", "));
        if r.state != MessageState::Delivered {
            missing.push(format!("{name} ({id}): {}", r.state.as_str()));
        }
    }
    let total: usize = received
        .iter()
        .map(|r| {
            r.lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .map(Vec::len)
                .sum::<usize>()
        })
        .sum();
    println!("\nthe demo sinks received {total} deliveries");
    println!("\nan operator's token for this run (the API needs one on every endpoint but /healthz):\n  {operator_token}");
    println!(
        "look at: curl -H 'Authorization: Bearer {operator_token}' http://{addr}/v1/messages/{}",
        sent.first().map(|s| s.1.as_str()).unwrap_or("")
    );

    if once {
        let _ = std::fs::remove_dir_all(&temp);
        if missing.is_empty() && sent.len() == samples.len() {
            println!("all {} sample appeals reached their sinks", sent.len());
            return Ok(());
        }
        bail!(
            "not every sample reached its sinks:\n  {}",
            missing.join("\n  ")
        );
    }
    println!("\nthe hub keeps running; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}
