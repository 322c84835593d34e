//! What the hub serves to a plugin: the `okno:plugin` host interfaces and a deny-all WASI
//! context. One `HostState` lives in one store, which lives for one call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::host_world::okno::plugin::{calendar, clock, config, http, kv, log, types};
use super::grant::{address_refused, AddressRefused, HttpGrant};
use super::kv::PluginKv;

/// How much a plugin may write to stdout and stderr in one call; the rest is an error for
/// the plugin, and what it wrote goes to the hub's debug log.
const STDIO_CAPTURE_BYTES: usize = 64 * 1024;

/// Request headers a plugin may not set: the host derives them from the URL and body.
const HOST_SET_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Everything about a plugin that outlives one call: its settings and grants.
pub struct PluginContext {
    pub name: String,
    pub settings: BTreeMap<String, String>,
    pub http: HttpGrant,
    pub kv: Arc<dyn PluginKv>,
    /// Fixed time for dry runs and tests; `None` reads the system clock.
    pub fixed_now: Option<i64>,
    pub utc_offset_minutes: i32,
}

/// A memory cap that remembers it refused a grow, so the call's error can say
/// "memory limit" rather than the trap the guest's allocator turned it into.
pub struct MemoryCap {
    pub max_bytes: usize,
    pub refused: Arc<AtomicBool>,
    /// The largest linear memory any call of this plugin grew to, for benchmarks.
    pub peak: Arc<AtomicUsize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        self.peak.fetch_max(desired, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryCap,
    pub plugin: Arc<PluginContext>,
    /// The plugin's own client; `None` when it has no HTTP grant.
    pub http_client: Option<reqwest::Client>,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
    /// The message this call is about, for log lines.
    pub message_id: String,
    /// Set for a poller's `poll`: the bodies of the plugin's HTTP answers are kept here
    /// for the host, which takes the batch's attachments out of them.
    pub recorded: Option<Recorded>,
}

/// The answers a plugin's HTTP calls got during one call, up to a number of bytes in all.
pub struct Recorded {
    pub responses: Vec<Fetched>,
    /// Bytes that may still be recorded.
    left: u64,
    /// Answers not recorded because they would have gone over the bound.
    pub skipped: usize,
}

impl Recorded {
    pub fn new(max_bytes: u64) -> Self {
        Recorded {
            responses: Vec::new(),
            left: max_bytes,
            skipped: 0,
        }
    }

    fn record(&mut self, content_type: Option<String>, body: &[u8]) {
        let size = body.len() as u64;
        if size > self.left {
            self.skipped += 1;
            return;
        }
        self.left -= size;
        self.responses.push(Fetched {
            content_type,
            body: body.to_vec(),
        });
    }
}

/// One HTTP answer a plugin got: its content type and body.
#[derive(Clone)]
pub struct Fetched {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Fetched {
    // The body is someone's application: its size, never its bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("content_type", &self.content_type)
            .field("bytes", &self.body.len())
            .finish()
    }
}

impl HostState {
    pub fn new(
        plugin: Arc<PluginContext>,
        http_client: Option<reqwest::Client>,
        max_memory: usize,
        peak_memory: Arc<AtomicUsize>,
        message_id: String,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(STDIO_CAPTURE_BYTES);
        // Deny all: no preopened directories, no environment, no arguments, no sockets,
        // no name lookup, empty stdin. What a plugin may reach is the okno interfaces.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                max_bytes: max_memory,
                refused: Arc::new(AtomicBool::new(false)),
                peak: peak_memory,
            },
            plugin,
            http_client,
            stdout,
            stderr,
            message_id,
            recorded: None,
        }
    }

    /// What the plugin printed, for the debug log and for trap messages (a Rust panic
    /// message goes to stderr before the trap).
    pub fn captured_output(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        let stdout = self.stdout.contents();
        if !stdout.is_empty() {
            out.push_str(&String::from_utf8_lossy(&stdout));
        }
        out
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        // Plugins are told never to log personal data; the hub masks anyway.
        let message = crate::observability::for_log(&message);
        let plugin = self.plugin.name.as_str();
        let id = self.message_id.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, message_id = id, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, message_id = id, "{message}"),
            log::Level::Info => tracing::info!(plugin, message_id = id, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, message_id = id, "{message}"),
            log::Level::Error => tracing::error!(plugin, message_id = id, "{message}"),
        }
        Ok(())
    }
}

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.plugin.settings.get(&key).cloned())
    }

    async fn get_all(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self
            .plugin
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl kv::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::KvError>> {
        Ok(self.plugin.kv.get(&key).map_err(kv::KvError::Store))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), kv::KvError>> {
        if value.len() > super::kv::MAX_VALUE_BYTES {
            return Ok(Err(kv::KvError::QuotaExceeded(format!(
                "value of {} bytes for key {key:?} is over the {} byte limit",
                value.len(),
                super::kv::MAX_VALUE_BYTES
            ))));
        }
        Ok(self
            .plugin
            .kv
            .set(&key, &value)
            .map(drop)
            .map_err(Into::into))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), kv::KvError>> {
        Ok(self.plugin.kv.delete(&key).map_err(kv::KvError::Store))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, kv::KvError>> {
        Ok(self
            .plugin
            .kv
            .list_keys(&prefix, limit)
            .map_err(kv::KvError::Store))
    }
}

impl clock::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<i64> {
        Ok(self.plugin.fixed_now.unwrap_or_else(crate::sla::now_millis))
    }

    async fn utc_offset_minutes(&mut self) -> wasmtime::Result<i32> {
        Ok(self.plugin.utc_offset_minutes)
    }
}

fn to_sdk_date(day: types::Date) -> okno_sdk::types::Date {
    okno_sdk::types::Date {
        year: day.year,
        month: day.month,
        day: day.day,
    }
}

impl calendar::Host for HostState {
    async fn is_working_day(&mut self, day: types::Date) -> wasmtime::Result<bool> {
        Ok(okno_sdk::production_calendar::is_working_day(to_sdk_date(
            day,
        )))
    }

    async fn add_working_days(
        &mut self,
        start: types::Date,
        days: u32,
    ) -> wasmtime::Result<types::Date> {
        // A plugin asking for absurd spans would spin the host; a century is plenty.
        let days = days.min(36_500);
        let d = okno_sdk::production_calendar::add_working_days(to_sdk_date(start), days);
        Ok(types::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        })
    }
}

impl http::Host for HostState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        Ok(self.send_checked(request).await)
    }
}

impl HostState {
    async fn send_checked(
        &mut self,
        request: http::Request,
    ) -> Result<http::Response, http::HttpError> {
        use http::HttpError;
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad url {:?}: {e}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::InvalidRequest(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        let grant = &self.plugin.http;
        let host = url.host_str().unwrap_or("").to_string();
        let (Some(client), true) = (&self.http_client, grant.allows(&url)) else {
            tracing::warn!(plugin = %self.plugin.name, message_id = %self.message_id, host = %host, port = url.port_or_known_default().unwrap_or(0), "plugin http call to an ungranted host refused");
            return Err(HttpError::Denied(format!(
                "{}://{host}:{} is not granted to plugin {:?}; grant it in the plugin's http_allow (a bare host allows only the default port: write host:port for another)",
                url.scheme(),
                url.port_or_known_default().unwrap_or(0),
                self.plugin.name
            )));
        };
        // An IP literal is connected to without a lookup, so the resolver never sees it.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(address) = literal {
            if let Err(why) = grant.address_allowed(address) {
                let refused = AddressRefused {
                    plugin: self.plugin.name.clone(),
                    host,
                    address,
                    why,
                };
                tracing::warn!(plugin = %self.plugin.name, message_id = %self.message_id, address = %address, reason = why, "plugin http call to a non-public address refused");
                return Err(HttpError::Denied(refused.to_string()));
            }
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("bad method {:?}", request.method)))?;
        let mut builder = client.request(method, url).timeout(grant.timeout);
        for (name, value) in &request.headers {
            // The host sets these: `Host` from the granted URL (a plugin's own would send
            // the request to another virtual host than the one granted), the framing
            // headers from the body it actually sends.
            let lower = name.trim().to_ascii_lowercase();
            if let Some(header) = HOST_SET_HEADERS.iter().find(|h| **h == lower) {
                tracing::debug!(plugin = %self.plugin.name, header, "plugin-set header dropped; the host sets it");
                continue;
            }
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(|e| {
            if let Some(refused) = address_refused(&e) {
                HttpError::Denied(refused.to_string())
            } else if e.is_timeout() {
                HttpError::Timeout
            } else {
                HttpError::Transport(crate::tls::describe(&e))
            }
        })?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout
            } else {
                HttpError::Transport(crate::tls::describe(&e))
            }
        })? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > grant.max_response_bytes {
                return Err(HttpError::TooLarge(grant.max_response_bytes));
            }
        }
        if let Some(recorded) = &mut self.recorded {
            let content_type = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone());
            recorded.record(content_type, &body);
        }
        Ok(http::Response {
            status,
            headers,
            body,
        })
    }
}
