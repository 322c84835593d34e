//! What the end-to-end tests share: the plugins built for real, a hub config written
//! around them, recording HTTP sinks, and polling helpers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

pub use okno_hub;
use okno_hub::auth::{Role, TokenStore};

pub mod connector_hub;
pub mod feed_gate;
pub mod hub_config;
pub mod simulators;
pub mod tls;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A plugin's context as the hub builds it from a config entry with `settings`: no HTTP
/// grant, an empty kv of its own, the real clock, Moscow's UTC offset.
pub fn plugin_context(name: &str, settings: &[(&str, &str)]) -> okno_hub::runtime::PluginContext {
    okno_hub::runtime::PluginContext {
        name: name.into(),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        http: okno_hub::runtime::HttpGrant::none(),
        kv: Arc::new(okno_hub::runtime::kv::MemoryKv::default()),
        fixed_now: None,
        utc_offset_minutes: 180,
    }
}

/// Every plugin (reference and hostile) built for wasm32-wasip2, once per test binary.
pub fn plugins() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        use okno_hub::cli::build::{build_plugins, find_plugin_crates, wasm_target_dir};
        let root = workspace();
        let mut crates = find_plugin_crates(&root.join("plugins")).expect("reference plugins");
        crates.extend(
            find_plugin_crates(&root.join("tests").join("plugins")).expect("hostile plugins"),
        );
        let exe = std::env::current_exe().expect("test binary path");
        let name = exe
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tests")
            .to_string();
        let out = wasm_target_dir(&root).join("test-dist").join(name);
        let built = build_plugins(&crates, &out, &mut |line| eprintln!("{line}"))
            .expect("building the plugins for wasm32-wasip2");
        built.into_iter().map(|b| (b.name, b.path)).collect()
    })
}

/// A few reference plugins (`plugins/NAME`) built for wasm32-wasip2, once per test binary,
/// into `test-dist/GROUP`: for tests that need only these (building every plugin takes
/// longer). Returns the component of `name`, one of `names`.
pub fn reference_plugin(group: &str, names: &[&str], name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_empty() {
        use okno_hub::cli::build::{build_plugins, wasm_target_dir};
        let root = workspace();
        let crates: Vec<(String, PathBuf)> = names
            .iter()
            .map(|n| (format!("okno-plugin-{n}"), root.join("plugins").join(n)))
            .collect();
        let out = wasm_target_dir(&root).join("test-dist").join(group);
        let plugins = build_plugins(&crates, &out, &mut |line| eprintln!("{line}"))
            .expect("building the plugins for wasm32-wasip2");
        built.extend(plugins.into_iter().map(|b| (b.name, b.path)));
    }
    built
        .get(name)
        .unwrap_or_else(|| panic!("no plugin {name} was built"))
        .clone()
}

pub fn plugin(name: &str) -> PathBuf {
    plugins()
        .get(name)
        .unwrap_or_else(|| panic!("no plugin {name} was built"))
        .clone()
}

pub fn sha256_of(path: &Path) -> String {
    okno_hub::runtime::sha256_hex(&std::fs::read(path).expect("plugin file"))
}

pub fn sample(relative: &str) -> Vec<u8> {
    std::fs::read(workspace().join(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

/// The names in `dir`, sorted; none when it does not exist.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A free port on loopback (bound and released: good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An HTTP sink that records every request and answers with `status`.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub status: Arc<AtomicU16>,
    /// (Idempotency-Key, body) in arrival order.
    pub received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Sink {
    pub async fn start(port: u16) -> Sink {
        let sink = Sink {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            status: Arc::new(AtomicU16::new(200)),
            received: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/{*path}",
                post(
                    |State(s): State<Sink>, headers: HeaderMap, body: String| async move {
                        let status = s.status.load(Ordering::SeqCst);
                        if status == 200 {
                            let key = headers
                                .get("idempotency-key")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            s.received.lock().unwrap().push((key, body));
                        }
                        StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind(sink.addr)
            .await
            .expect("sink port");
        tokio::spawn(async move { axum::serve(listener, app).await });
        sink
    }

    pub fn url(port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}/{path}")
    }

    pub fn keys(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// A config with the mail source, the reference classifiers and policy, and sinks as
/// given: `sinks` is TOML for `[[sinks]]` and `[[routes]]`. `extra_classifiers` are
/// (plugin name, settings TOML) entries put before the others.
pub fn write_config(
    dir: &Path,
    listen: &str,
    sinks_and_routes: &str,
    extra_classifiers: &[(&str, &str)],
) -> PathBuf {
    write_config_with(
        dir,
        listen,
        "workers = 2",
        sinks_and_routes,
        extra_classifiers,
    )
}

/// Like [`write_config`], with `hub_settings` (TOML lines) in the `[hub]` table.
pub fn write_config_with(
    dir: &Path,
    listen: &str,
    hub_settings: &str,
    sinks_and_routes: &str,
    extra_classifiers: &[(&str, &str)],
) -> PathBuf {
    let mut text = format!(
        "[hub]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\n{hub_settings}\n\n",
        dir.join("data").display()
    );
    let mut add = |name: &str, file: &str, kind: &str, settings: &str| {
        text.push_str(&hub_config::plugin_entry(
            name,
            kind,
            &plugin(file),
            settings,
        ));
    };
    // The CPU limit is an epoch deadline, so time lost to other tests running side by
    // side on few cores counts against it: a 5 MB header can take over the 100 ms default.
    add("mail", "mail", "connector", "cpu_ms = 1000");
    add("http-json", "http-json", "connector", "");
    add("topics", "topics", "classifier", "cpu_ms = 500");
    add("pii", "pii", "classifier", "");
    add("sentiment", "sentiment", "classifier", "");
    add("kind", "kind", "classifier", "");
    add(
        "keywords",
        "keywords",
        "classifier",
        "[plugins.settings]\nrules.heating.words = \"отопление, батарея, холодно\"\nrules.heating.tags = \"heating\"",
    );
    add("priority", "priority", "policy", "");
    let mut classifiers: Vec<String> = Vec::new();
    for (name, settings) in extra_classifiers {
        add(name, "hostile", "classifier", settings);
        classifiers.push(format!("\"{name}\""));
    }
    for c in ["pii", "topics", "keywords", "sentiment", "kind"] {
        classifiers.push(format!("\"{c}\""));
    }
    text.push_str("[[sources]]\nname = \"mail\"\ntransport = \"http\"\nconnector = \"mail\"\n\n");
    text.push_str(&format!(
        "[pipeline]\nclassifiers = [{}]\npolicy = \"priority\"\n\n",
        classifiers.join(", ")
    ));
    text.push_str(sinks_and_routes);
    let path = dir.join("okno.toml");
    std::fs::write(&path, text).expect("writing the config");
    issue_tokens(&dir.join("data"), listen);
    path
}

/// The tokens the tests use against one hub: one per role, and a source token for `mail`.
#[derive(Clone, Debug)]
pub struct TestTokens {
    pub data_dir: PathBuf,
    pub by_role: BTreeMap<&'static str, String>,
}

impl TestTokens {
    pub fn get(&self, role: &str) -> String {
        self.by_role
            .get(role)
            .unwrap_or_else(|| panic!("no test token for role {role}"))
            .clone()
    }
}

fn issued() -> &'static Mutex<BTreeMap<String, TestTokens>> {
    static ISSUED: OnceLock<Mutex<BTreeMap<String, TestTokens>>> = OnceLock::new();
    ISSUED.get_or_init(Mutex::default)
}

/// Issues a token of every role in `data_dir` (the source token bound to `mail`) and
/// remembers them for the hub listening on `listen`, so that [`bearer`] finds them.
/// Issuing again for the same data dir gives the same tokens.
pub fn issue_tokens(data_dir: &Path, listen: &str) -> TestTokens {
    let mut issued = issued().lock().unwrap();
    if let Some(existing) = issued.get(listen).filter(|t| t.data_dir == data_dir) {
        return existing.clone();
    }
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let store = TokenStore::open(data_dir);
    let mut by_role = BTreeMap::new();
    for role in Role::ALL {
        let source = (role == Role::Source).then_some("mail");
        let (token, _) = store
            .create(&format!("test-{role}-{serial}"), role, source, None)
            .expect("issuing a test token");
        by_role.insert(role.as_str(), token);
    }
    let tokens = TestTokens {
        data_dir: data_dir.to_path_buf(),
        by_role,
    };
    issued.insert(listen.to_string(), tokens.clone());
    tokens
}

/// The tokens issued for the hub listening on `listen` (see [`issue_tokens`]).
pub fn tokens_for(listen: &str) -> TestTokens {
    issued()
        .lock()
        .unwrap()
        .get(listen)
        .unwrap_or_else(|| panic!("no tokens were issued for a hub on {listen}"))
        .clone()
}

/// `Bearer …` with a token whose role the URL's endpoint takes, for a hub whose config
/// was written by [`write_config`] (or whose tokens came from [`issue_tokens`]).
pub fn bearer(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).expect("a URL");
    let listen = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port_or_known_default().unwrap_or(80)
    );
    let path = parsed.path();
    let role = if path.starts_with("/v1/sources/") {
        "source"
    } else if path == "/metrics" || path == "/readyz" {
        "metrics"
    } else if path.starts_with("/v1/admin/") || path == "/v1/audit" {
        "admin"
    } else if path == "/v1/plugins" {
        "integrator"
    } else {
        "operator"
    };
    format!("Bearer {}", tokens_for(&listen).get(role))
}

/// A sink entry and a catch-all route to it.
pub fn one_sink(url: &str, max_attempts: u32) -> String {
    format!(
        "[[sinks]]\nname = \"registry\"\ntransport = \"http\"\nurl = \"{url}\"\nconnector = \"http-json\"\nmax_attempts = {max_attempts}\nbackoff_ms = 50\nmax_backoff_ms = 200\ntimeout_ms = 2000\n\n[[routes]]\nname = \"all\"\nsinks = [\"registry\"]\n"
    )
}

/// Waits until `check` is true, polling; panics with `what` after `limit`.
pub async fn eventually<F: FnMut() -> bool>(what: &str, limit: Duration, mut check: F) {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs raw mail to the hub's mail source.
pub async fn post_mail(hub: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    let url = format!("http://{hub}/v1/sources/mail/messages");
    let response = reqwest::Client::new()
        .post(&url)
        .header("authorization", bearer(&url))
        .header("content-type", "message/rfc822")
        .body(bytes)
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// GETs `url` with a token of the role its endpoint takes.
pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("authorization", bearer(url))
        .send()
        .await
        .expect("the hub answers");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A plain mail with a unique Message-ID and the given body.
pub fn mail(message_id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Test Sender <sender@example.ru>\r\nTo: priemnaya@minsoc.example.ru\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The `okno` binary built with the tests (`okno-under-test`), next to the test binaries'
/// `deps/` directory.
pub fn hub_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary sits in target/…/deps");
    let binary = dir.join("okno-under-test");
    assert!(
        binary.exists(),
        "{} was not built: run the test through cargo",
        binary.display()
    );
    binary
}

/// A hub as a process of its own (`okno serve`), killed (`kill -9`) when dropped, so that
/// a failed assertion leaves none behind.
pub struct HubProcess(pub std::process::Child);

impl HubProcess {
    /// Starts `okno serve --config CONFIG` with `RUST_LOG=warn` (or `rust_log`); its
    /// stderr goes to `log` when given.
    pub fn spawn(config: &Path, log: Option<&Path>, rust_log: Option<&str>) -> HubProcess {
        let mut command = std::process::Command::new(hub_binary());
        command
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", rust_log.unwrap_or("warn"));
        if let Some(log) = log {
            command.stderr(std::process::Stdio::from(
                std::fs::File::create(log).expect("creating the hub's log file"),
            ));
        }
        HubProcess(command.spawn().expect("starting the hub process"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// `kill -9`, and waits for the process to end.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Whether the process has ended (without waiting).
    pub fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until something accepts connections on `listen`.
pub async fn wait_for_port(listen: &str, limit: Duration) {
    eventually("the hub answers", limit, || {
        std::net::TcpStream::connect(listen).is_ok()
    })
    .await;
}

/// One way to start a hub for a test: a config from [`write_config_with`] (the mail
/// source, the reference classifiers and policy), and the hub in this process or as a
/// process of its own.
pub struct TestHub {
    /// The directory holding the config (`okno.toml`) and the data dir (`data/`).
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The address the hub listens on, `127.0.0.1:PORT`.
    pub listen: String,
}

impl TestHub {
    /// Writes the config in `dir`: `hub_settings` are TOML lines of `[hub]` (`workers =
    /// 2` unless they set it), `sinks_and_routes` as for [`write_config`], `extra` hostile
    /// classifiers (name, settings TOML).
    pub fn configure(
        dir: &Path,
        hub_settings: &str,
        sinks_and_routes: &str,
        extra: &[(&str, &str)],
    ) -> TestHub {
        let listen = format!("127.0.0.1:{}", free_port());
        let settings = if hub_settings
            .lines()
            .any(|l| l.trim_start().starts_with("workers"))
        {
            hub_settings.to_string()
        } else {
            format!("workers = 2\n{hub_settings}")
        };
        let config = write_config_with(dir, &listen, &settings, sinks_and_routes, extra);
        TestHub {
            dir: dir.to_path_buf(),
            config,
            listen,
        }
    }

    /// Starts the hub in this process (as `okno serve` does); returns it and its address.
    pub async fn start(&self) -> (Arc<okno_hub::pipeline::Hub>, String) {
        let (hub, addr) = okno_hub::cli::serve::start(self.config.clone(), Default::default())
            .await
            .expect("the hub starts");
        (hub, addr.to_string())
    }

    /// Starts the hub as a process of its own (see [`HubProcess::spawn`]) and waits
    /// until it listens.
    pub async fn spawn(&self, log: Option<&Path>, rust_log: Option<&str>) -> HubProcess {
        let process = HubProcess::spawn(&self.config, log, rust_log);
        wait_for_port(&self.listen, Duration::from_secs(120)).await;
        process
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}
