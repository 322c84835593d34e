//! `okno demo`: builds the example plugins, starts the hub on the embedded store with
//! `examples/okno.toml` (the Ministry of Industry and Science), starts simulators of the
//! systems it exchanges with (SMEV 3, the EDMS over МЭДО directories, SOG, the KND portal)
//! and a local HTTP sink that records what it receives, feeds each channel the sample
//! traffic in `examples/minprom/traffic/<source>/` the way that channel really arrives,
//! and shows what happened to each message and what each system received.

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

/// Where `examples/okno.toml` expects the simulated systems.
const SMEV_ADAPTER: ([u8; 4], u16) = ([127, 0, 0, 1], 18091);
const SOG: ([u8; 4], u16) = ([127, 0, 0, 1], 18092);
const KND_PORTAL: ([u8; 4], u16) = ([127, 0, 0, 1], 18093);

pub async fn demo(once: bool, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let root = workspace_dir()?;
    println!("== building plugins");
    let crates = super::build::find_plugin_crates(&root.join("plugins"))?;
    super::build::build_plugins(&crates, &root.join("plugins").join("dist"), &mut |line| {
        println!("{line}")
    })?;

    let config_path = root.join("examples").join("okno.toml");
    let traffic = root.join("examples").join("minprom").join("traffic");
    let config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let spool = Spool::of(&config)?;
    spool.clear()?;

    // The recording sink stands in for every HTTP sink that is not a simulated system.
    let simulated: Vec<SocketAddr> = [SMEV_ADAPTER, SOG, KND_PORTAL]
        .into_iter()
        .map(SocketAddr::from)
        .collect();
    let mut sink_addrs: Vec<SocketAddr> = Vec::new();
    for sink in config
        .sinks
        .iter()
        .filter(|s| s.transport.get_ref() == "http")
    {
        let url = reqwest::Url::parse(sink.url.get_ref())?;
        let addr: SocketAddr = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().unwrap_or(80)
        )
        .parse()?;
        if !sink_addrs.contains(&addr) && !simulated.contains(&addr) {
            sink_addrs.push(addr);
        }
    }
    let mut received = Vec::new();
    for addr in &sink_addrs {
        received.push(start_recording_sink(*addr).await?);
    }

    let temp = std::env::temp_dir().join(format!("okno-demo-{}", std::process::id()));
    let data_dir = data_dir.unwrap_or(temp.clone());
    // The demo's own tokens: one per source, as each system would hold, and an
    // operator's for looking at the result. A name per run, so a kept --data-dir can run
    // it again.
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
    // The adapter is up before the hub polls it.
    println!("== starting the simulated systems");
    let smev = okno_simulators::smev::start_seeded(
        okno_simulators::smev::SmevOptions {
            listen: SMEV_ADAPTER.into(),
            ..Default::default()
        },
        &traffic.join("epgu"),
    )
    .await?;
    println!(
        "  SMEV 3 adapter on {} with {} requests queued",
        smev.url(),
        smev.queued().len()
    );
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

    let push = |source: &str| okno_simulators::sog::Push {
        url: format!("http://{addr}/v1/sources/{source}/messages"),
        token: source_tokens.get(source).cloned().unwrap_or_default(),
    };
    let edms = okno_simulators::edms::start(
        spool.to_edms.clone(),
        spool.from_edms.clone(),
        okno_simulators::edms::EdmsOptions {
            assign: Some(okno_simulators::edms::AssignmentRule {
                executor: "lebedev".into(),
                controller: "orlova".into(),
                days: 30,
            }),
            ..Default::default()
        },
    )
    .await?;
    println!(
        "  EDMS over МЭДО: takes packets from {}, answers into {}",
        spool.to_edms.display(),
        spool.from_edms.display()
    );
    let sog = okno_simulators::sog::start(okno_simulators::sog::SogOptions {
        listen: SOG.into(),
        push: Some(push("sog")),
        ..Default::default()
    })
    .await?;
    println!("  SOG on {}", sog.cards_url());
    let knd = okno_simulators::knd::start(okno_simulators::knd::KndOptions {
        listen: KND_PORTAL.into(),
        push: Some(push("knd")),
    })
    .await?;
    println!("  KND portal on {}", knd.replies_url());

    println!("== feeding each channel its sample traffic");
    let mut fed = 0usize;
    let client = reqwest::Client::new();
    for (source, files) in traffic_files(&traffic)? {
        let Some(config_source) = config.sources.iter().find(|s| *s.name.get_ref() == source)
        else {
            bail!("examples/minprom/traffic/{source} has no source of that name in examples/okno.toml");
        };
        for file in files {
            let name = file_name(&file);
            let bytes = std::fs::read(&file)?;
            let outcome = match (source.as_str(), config_source.transport.get_ref().as_str()) {
                ("sog", _) => sog
                    .register(serde_json::from_slice(&bytes)?)
                    .await
                    .map(|card| {
                        format!(
                            "registered in SOG as {}, posted to the hub",
                            card["reg_number"]
                                .as_str()
                                .or(card["registration"]["number"].as_str())
                                .unwrap_or("a new card")
                        )
                    }),
                ("knd", _) => knd
                    .submit(serde_json::from_slice(&bytes)?)
                    .await
                    .map(|()| "sent through the KND portal, posted to the hub".to_string()),
                ("epgu", _) => Ok("queued in the SMEV 3 adapter, polled by the hub".to_string()),
                (_, "smtp") => {
                    let listen = config_source
                        .smtp
                        .as_ref()
                        .map(|s| s.listen.get_ref().clone())
                        .unwrap_or_default();
                    send_mail(&listen, &bytes)
                        .await
                        .map(|reply| format!("SMTP {reply}"))
                }
                (_, "dir") => {
                    let inbox = config_source
                        .dir
                        .as_ref()
                        .map(|d| d.paths(&config).inbox)
                        .context("a dir source without [sources.dir]")?;
                    drop_file(&inbox, &name, &bytes)
                        .map(|()| format!("dropped into {}", inbox.display()))
                }
                (_, _) => {
                    post_to_source(&client, addr, config_source, &source_tokens, &file, bytes).await
                }
            };
            match outcome {
                Ok(what) => {
                    fed += 1;
                    println!("  {source}/{name}: {what}");
                }
                Err(e) => println!("  {source}/{name}: refused: {e:#}"),
            }
        }
    }

    // Settled: the SMEV queue and the inboxes are empty, and every message stored has
    // finished, for a second in a row.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut settled_since: Option<Instant> = None;
    loop {
        let finished = hub
            .store
            .scan_messages(None)
            .all(|r| r.is_ok_and(|r| r.state.is_finished()));
        let quiet = finished && smev.queued().is_empty() && spool.inboxes_empty(&config)?;
        settled_since = if quiet {
            settled_since.or(Some(Instant::now()))
        } else {
            None
        };
        if settled_since.is_some_and(|t| t.elapsed() > Duration::from_secs(1))
            || Instant::now() > deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let utc_offset = hub.active().config.hub.utc_offset_minutes;
    let records: Vec<_> = hub.store.scan_messages(None).collect::<Result<_, _>>()?;
    println!("\n== what happened ({} messages)", records.len());
    let mut unfinished = Vec::new();
    let mut channels = std::collections::BTreeSet::new();
    for r in &records {
        channels.insert(r.message.source.clone());
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
        let deadline = d
            .answer_deadline
            .map(|at| crate::sla::format_local(at, utc_offset))
            .unwrap_or_else(|| "-".into());
        let sinks: Vec<String> = r
            .deliveries
            .iter()
            .map(|(s, del)| format!("{s}:{:?}", del.state).to_lowercase())
            .collect();
        let subject: String = r
            .message
            .subject
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        println!(
            "{} [{}] {subject}\n    id {}  state {}\n    topic {topic}\n    priority {}, responsible {}, answer by {deadline}\n    delivered {}",
            r.message.source,
            r.message.channel.as_str(),
            r.message.id,
            r.state.as_str(),
            d.priority.as_str(),
            d.responsible.as_deref().unwrap_or("-"),
            if sinks.is_empty() { "-".to_string() } else { sinks.join(", ") }
        );
        if r.state != MessageState::Delivered {
            unfinished.push(format!(
                "{} ({}): {}",
                r.message.id,
                r.message.source,
                r.state.as_str()
            ));
        }
    }

    println!("\n== what the systems received");
    for response in smev.responses() {
        println!(
            "  SMEV 3: {} for {} ({})",
            response.kind,
            response.answers.as_deref().unwrap_or("-"),
            response.status_description.as_deref().unwrap_or("")
        );
    }
    for acked in smev.acks() {
        println!("  SMEV 3: request {} acknowledged", acked.0);
    }
    for doc in edms.registered() {
        println!(
            "  EDMS: «{}» registered as {}{}",
            doc.annotation.chars().take(50).collect::<String>(),
            doc.reg_number.as_deref().unwrap_or("-"),
            doc.assignment
                .as_ref()
                .map(|(executor, controller, by)| format!(
                    ", assigned to {executor} (control: {controller}) by {by}"
                ))
                .unwrap_or_default()
        );
    }
    for card in sog.cards() {
        println!(
            "  SOG: card {} ({} update(s) from the hub)",
            card.reg_number,
            card.updates.len()
        );
    }
    for reply in knd.replies() {
        println!("  KND portal: {} to {}", reply.kind, reply.in_reply_to);
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
    println!("  the registry and the control desk received {total} deliveries");
    let failed = spool.failed_files(&config)?;
    for (file, why) in &failed {
        println!("  refused by a dir source: {} ({why})", file.display());
    }

    println!("\nan operator's token for this run (the API needs one on every endpoint but /healthz):\n  {operator_token}");
    println!("look at: curl -H 'Authorization: Bearer {operator_token}' http://{addr}/v1/messages");

    if once {
        let _ = std::fs::remove_dir_all(&temp);
        let silent: Vec<&String> = config
            .sources
            .iter()
            .map(|s| s.name.get_ref())
            .filter(|s| !channels.contains(*s))
            .collect();
        if unfinished.is_empty() && silent.is_empty() && failed.is_empty() && fed > 0 {
            println!(
                "all {} messages from {} sources reached their sinks",
                records.len(),
                channels.len()
            );
            return Ok(());
        }
        bail!(
            "the demo did not go through:\n  not delivered: {:?}\n  sources with no message: {silent:?}\n  files refused: {}",
            unfinished,
            failed.len()
        );
    }
    println!("\nthe hub keeps running; Ctrl-C stops it");
    tokio::signal::ctrl_c().await?;
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}

/// The directories the demo deployment exchanges files through.
struct Spool {
    /// Where the hub's `dir` sink writes packets for the EDMS (the EDMS's inbox).
    to_edms: PathBuf,
    /// Where the EDMS answers (the hub's `edms` source).
    from_edms: PathBuf,
    /// Every dir source's inbox and every dir sink's outbox.
    all: Vec<PathBuf>,
}

impl Spool {
    fn of(config: &Config) -> anyhow::Result<Spool> {
        let edms_sink = config
            .sinks
            .iter()
            .find(|s| s.name.get_ref() == "edms")
            .and_then(|s| s.dir.as_ref())
            .map(|d| config.resolve_path(d.path.get_ref()))
            .context("examples/okno.toml has no `edms` dir sink")?;
        let edms_source = config
            .sources
            .iter()
            .find(|s| s.name.get_ref() == "edms")
            .and_then(|s| s.dir.as_ref())
            .map(|d| d.paths(config).inbox)
            .context("examples/okno.toml has no `edms` dir source")?;
        let mut all: Vec<PathBuf> = config
            .sources
            .iter()
            .filter_map(|s| s.dir.as_ref().map(|d| d.paths(config).inbox))
            .collect();
        all.extend(config.sinks.iter().filter_map(|s| {
            s.dir
                .as_ref()
                .map(|d| config.resolve_path(d.path.get_ref()))
        }));
        Ok(Spool {
            to_edms: edms_sink,
            from_edms: edms_source,
            all,
        })
    }

    /// A run starts from empty directories: what an earlier run left would be ingested.
    fn clear(&self) -> anyhow::Result<()> {
        for dir in &self.all {
            if dir.exists() {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("clearing {}", dir.display()))?;
            }
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }

    /// No file waits in a dir source's inbox (its done/ and failed/ do not count).
    fn inboxes_empty(&self, config: &Config) -> anyhow::Result<bool> {
        for source in &config.sources {
            let Some(dir) = &source.dir else { continue };
            let inbox = dir.paths(config).inbox;
            for entry in std::fs::read_dir(&inbox)? {
                if entry?.file_type()?.is_file() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Files a dir source refused, with the first line of why.
    fn failed_files(&self, config: &Config) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let mut failed = Vec::new();
        for source in &config.sources {
            let Some(dir) = &source.dir else { continue };
            let failed_dir = dir.paths(config).failed;
            let Ok(entries) = std::fs::read_dir(&failed_dir) else {
                continue;
            };
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "error") {
                    let why = std::fs::read_to_string(&path).unwrap_or_default();
                    let why = why.lines().next().unwrap_or("").to_string();
                    failed.push((path.with_extension(""), why));
                }
            }
        }
        Ok(failed)
    }
}

/// The traffic folders, one per source, with their files sorted by name. A file named
/// `X.headers` holds extra request headers (`Name: value` lines) for the file `X`.
fn traffic_files(traffic: &Path) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut sources = Vec::new();
    for entry in
        std::fs::read_dir(traffic).with_context(|| format!("reading {}", traffic.display()))?
    {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "headers"))
            .collect();
        files.sort();
        sources.push((file_name(&path), files));
    }
    sources.sort();
    Ok(sources)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// A file appears in an inbox whole: written under a dot name, then renamed.
fn drop_file(inbox: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = inbox.join(format!(".{name}.part"));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, inbox.join(name))?;
    Ok(())
}

/// Sends a mail as a citizen's mail server would, and returns the server's last reply.
async fn send_mail(listen: &str, bytes: &[u8]) -> anyhow::Result<String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let (host, port) = listen
        .rsplit_once(':')
        .context("the smtp source's listen address has no port")?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port.parse()?)
        .build();
    let envelope = lettre::address::Envelope::new(
        Some("citizen@mail.example.ru".parse()?),
        vec!["priemnaya@minprom.example.ru".parse()?],
    )?;
    let response = transport.send_raw(&envelope, bytes).await?;
    Ok(format!(
        "{} {}",
        response.code(),
        response.message().next().unwrap_or("")
    ))
}

/// The request headers in `X.headers` beside the traffic file `X` (`Name: value` lines;
/// empty lines and lines starting with `#` skipped), or none when there is no such file.
/// Telegram's webhook carries its secret token in a header, as a platform would send it.
fn extra_headers(file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut path = file.as_os_str().to_owned();
    path.push(".headers");
    let path = PathBuf::from(path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut headers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            bail!(
                "{}:{}: `{line}` is not a header; write `Name: value`",
                path.display(),
                n + 1
            );
        };
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

/// Posts a file to an HTTP source: a webhook source through `/v1/webhooks/{source}`,
/// any other with its source token; with the headers of its `.headers` file.
async fn post_to_source(
    client: &reqwest::Client,
    addr: SocketAddr,
    source: &crate::config::SourceConfig,
    tokens: &BTreeMap<String, String>,
    file: &Path,
    bytes: Vec<u8>,
) -> anyhow::Result<String> {
    let name = file_name(file);
    let source_name = source.name.get_ref();
    let webhook = source.auth == crate::config::SourceAuth::Connector;
    let url = if webhook {
        format!("http://{addr}/v1/webhooks/{source_name}")
    } else {
        format!("http://{addr}/v1/sources/{source_name}/messages")
    };
    let content_type = match Path::new(&name).extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("csv") => "text/csv",
        Some("form") => "application/x-www-form-urlencoded",
        Some("eml") => "message/rfc822",
        _ => "application/octet-stream",
    };
    let mut request = client
        .post(&url)
        .header("content-type", content_type)
        .body(bytes);
    for (header, value) in extra_headers(file)? {
        request = request.header(header, value);
    }
    if !webhook {
        request = request.bearer_auth(tokens.get(source_name).map(String::as_str).unwrap_or(""));
    }
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(format!("posted, {status}"))
}
