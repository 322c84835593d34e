//! The plugin runtime: one wasmtime engine, compiled components cached on disk, and a
//! fresh, limited, deny-all store for every call.

mod bindings;
mod cache;
mod convert;
mod error;
mod grant;
mod host;
mod inspect;
pub mod kv;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

pub use error::CallError;
pub use grant::{
    non_public, AddressRefused, AddressRule, GrantHost, HttpGrant, HttpRule, NameLookup,
    SystemLookup, DEFAULT_MAX_RESPONSE_BYTES,
};
pub use host::{Fetched, PluginContext};
pub use inspect::{PluginInfo, World, CONTRACT_VERSION};

use crate::model::{Classification, Decision, Inbound, Message, Outbound};
use host::HostState;

/// How often the epoch advances; a CPU deadline is rounded up to whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Per-plugin limits; the config gives defaults and per-plugin overrides.
#[derive(Clone, Debug)]
pub struct Limits {
    /// CPU time one call may use, enforced by epoch interruption.
    pub cpu: Duration,
    /// Wall-clock time one call may take, host calls (http) included.
    pub wall: Duration,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Duration::from_millis(100),
            wall: Duration::from_secs(5),
            memory_bytes: 64 << 20,
        }
    }
}

/// Engine-wide settings.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Where compiled components are kept so that a restart does not recompile. Their
    /// key (see `cache.rs`) is kept beside it, in `DIR.key`.
    pub cache_dir: Option<PathBuf>,
    /// The most any plugin may be granted; the pooling allocator reserves this per slot.
    pub max_memory_bytes: usize,
    /// Plugin instances that may be live at once.
    pub max_instances: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: None,
            max_memory_bytes: 1 << 30,
            max_instances: 128,
        }
    }
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<cache::Cache>,
    max_memory_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin file {path} has sha256 {actual}, but the config pins {expected}: refusing to load it (rebuild it, or update the pin if the new file is trusted)")]
    Sha256Mismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("plugin file {path} is not a valid WebAssembly component: {detail}")]
    Compile { path: PathBuf, detail: String },
    #[error("plugin file {path} is refused")]
    Refused {
        path: PathBuf,
        source: inspect::InspectError,
    },
    #[error("plugin file {path} does not link against this hub: {detail}")]
    Link { path: PathBuf, detail: String },
    #[error("plugin file {path} is a {actual} plugin, but the config says {expected}")]
    WorldMismatch {
        path: PathBuf,
        expected: World,
        actual: World,
    },
    #[error("plugin {name:?}: cannot set up its http client: {detail}")]
    HttpClient { name: String, detail: String },
    #[error(
        "plugin {name:?} asks for {asked_mib} MiB of memory; this hub allows at most {max_mib} MiB"
    )]
    MemoryOverMax {
        name: String,
        asked_mib: usize,
        max_mib: usize,
    },
}

#[derive(Clone)]
enum Pre {
    Connector(bindings::connector::ConnectorPre<HostState>),
    Classifier(bindings::classifier::ClassifierPre<HostState>),
    Policy(bindings::policy::PolicyPre<HostState>),
    Poller(bindings::poller::PollerPre<HostState>),
}

/// One batch a poller fetched (see `wit/polling.wit`).
#[derive(Clone, Debug)]
pub struct Batch {
    pub messages: Vec<Message>,
    /// Given back to [`Plugin::ack`] once every message is journaled.
    pub ack: Option<String>,
    /// More is waiting: poll again at once.
    pub more: bool,
    /// What the plugin's HTTP calls answered during the poll (with
    /// [`Plugin::poll_recording`]): the remote system's own bytes, in which the batch's
    /// attachments are found.
    pub responses: Vec<Fetched>,
}

/// A compiled, pre-instantiated plugin with its settings and limits. Cheap to share:
/// calls in flight keep their `Arc` even when the registry swaps in a new version.
pub struct Plugin {
    pub info: PluginInfo,
    pub path: PathBuf,
    pub context: Arc<PluginContext>,
    pub limits: Limits,
    pre: Pre,
    engine: Engine,
    /// Built from the plugin's grant (its TLS settings and address checks); `None`
    /// without a grant, when every call is refused before a client is needed.
    http_client: Option<reqwest::Client>,
    peak_memory: Arc<std::sync::atomic::AtomicUsize>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Arc<Runtime>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        if std::env::var_os("OKNO_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(options.max_instances);
        pool.total_core_instances(options.max_instances * 8);
        pool.total_memories(options.max_instances * 2);
        pool.total_tables(options.max_instances * 4);
        pool.max_memory_size(options.max_memory_bytes);
        pool.max_core_instances_per_component(16);
        pool.max_memories_per_component(4);
        pool.max_tables_per_component(8);
        // Every call gets a fresh instance, so resetting a slot is on the hot path. Resetting
        // with madvise makes the kernel flush TLBs across cores (IPIs), which dominated a
        // profile of the pipeline; memset of the pages a call dirtied (found with
        // PAGEMAP_SCAN where the kernel has it), and batched decommits, are far cheaper.
        pool.linear_memory_keep_resident(4 << 20);
        pool.table_keep_resident(1 << 20);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.decommit_batch_size(32);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        bindings::host_world::Host_::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(anyhow::Error::from)
            .context("linking the okno host interfaces")?;

        // The epoch ticker: CPU deadlines count these ticks. A weak handle lets the
        // thread end when the engine is dropped.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("okno-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            })
            .context("starting the epoch thread")?;

        let cache = options
            .cache_dir
            .as_deref()
            .map(cache::Cache::open)
            .transpose()?;
        Ok(Arc::new(Runtime {
            engine,
            linker,
            cache,
            max_memory_bytes: options.max_memory_bytes,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads, verifies and compiles a component (or takes it from the cache) and says
    /// what it is, without linking it.
    pub fn inspect_file(&self, path: &Path) -> Result<(Component, PluginInfo), LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        self.compile_and_inspect(path, &bytes, &sha256)
    }

    fn compile_and_inspect(
        &self,
        path: &Path,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<(Component, PluginInfo), LoadError> {
        let component =
            cache::compile(&self.engine, self.cache.as_ref(), bytes, sha256).map_err(|e| {
                LoadError::Compile {
                    path: path.into(),
                    detail: format!("{e:#}"),
                }
            })?;
        let info = inspect::inspect(&self.engine, &component, bytes.len() as u64, sha256).map_err(
            |source| LoadError::Refused {
                path: path.into(),
                source,
            },
        )?;
        Ok((component, info))
    }

    /// Loads a plugin: the sha256 pin (if any) must match, the component must be one of
    /// the okno worlds at this contract version and import nothing outside the sandbox.
    pub fn load(
        &self,
        path: &Path,
        expected_sha256: Option<&str>,
        expected_world: Option<World>,
        context: PluginContext,
        limits: Limits,
    ) -> Result<Plugin, LoadError> {
        if limits.memory_bytes > self.max_memory_bytes {
            return Err(LoadError::MemoryOverMax {
                name: context.name.clone(),
                asked_mib: limits.memory_bytes >> 20,
                max_mib: self.max_memory_bytes >> 20,
            });
        }
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        if let Some(expected) = expected_sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Err(LoadError::Sha256Mismatch {
                    path: path.into(),
                    expected: expected.into(),
                    actual: sha256,
                });
            }
        }
        let (component, info) = self.compile_and_inspect(path, &bytes, &sha256)?;
        if let Some(expected) = expected_world {
            if !info.world.serves_as(expected) {
                return Err(LoadError::WorldMismatch {
                    path: path.into(),
                    expected,
                    actual: info.world,
                });
            }
        }
        let link = |e: wasmtime::Error| LoadError::Link {
            path: path.into(),
            detail: format!("{e:#}"),
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(link)?;
        let pre = match info.world {
            World::Connector => {
                Pre::Connector(bindings::connector::ConnectorPre::new(instance_pre).map_err(link)?)
            }
            World::Classifier => Pre::Classifier(
                bindings::classifier::ClassifierPre::new(instance_pre).map_err(link)?,
            ),
            World::Policy => {
                Pre::Policy(bindings::policy::PolicyPre::new(instance_pre).map_err(link)?)
            }
            World::Poller => {
                Pre::Poller(bindings::poller::PollerPre::new(instance_pre).map_err(link)?)
            }
        };
        let http_client = if context.http.rules.is_empty() {
            None
        } else {
            let client = context.http.client(&context.name);
            Some(client.map_err(|detail| LoadError::HttpClient {
                name: context.name.clone(),
                detail,
            })?)
        };
        Ok(Plugin {
            info,
            path: path.into(),
            context: Arc::new(context),
            limits,
            pre,
            engine: self.engine.clone(),
            http_client,
            peak_memory: Arc::default(),
        })
    }
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.context.name
    }

    pub fn world(&self) -> World {
        self.info.world
    }

    /// The largest linear memory any call of this plugin has grown to, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory.load(Ordering::Relaxed)
    }

    /// The same plugin, already compiled and linked, with another kv: for evaluations
    /// that give each call its own examples.
    pub fn with_kv(&self, kv: Arc<dyn kv::PluginKv>) -> Plugin {
        let context = &self.context;
        Plugin {
            info: self.info.clone(),
            path: self.path.clone(),
            context: Arc::new(PluginContext {
                name: context.name.clone(),
                settings: context.settings.clone(),
                http: context.http.clone(),
                kv,
                fixed_now: context.fixed_now,
                utc_offset_minutes: context.utc_offset_minutes,
            }),
            limits: self.limits.clone(),
            pre: self.pre.clone(),
            engine: self.engine.clone(),
            http_client: self.http_client.clone(),
            peak_memory: self.peak_memory.clone(),
        }
    }

    fn new_store(&self, message_id: &str) -> Store<HostState> {
        let state = HostState::new(
            self.context.clone(),
            self.http_client.clone(),
            self.limits.memory_bytes,
            self.peak_memory.clone(),
            message_id.to_string(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        let ticks = self
            .limits
            .cpu
            .as_millis()
            .div_ceil(EPOCH_TICK.as_millis())
            .max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    fn wrong_world(&self, expected: World) -> CallError {
        CallError::WrongWorld {
            plugin: self.name().into(),
            expected: expected.as_str(),
            actual: self.world().as_str(),
        }
    }

    /// Turns what wasmtime said into the call's error, using what the store saw.
    fn call_failed(&self, error: wasmtime::Error, store: &Store<HostState>) -> CallError {
        let plugin = self.name().to_string();
        let state = store.data();
        if state.memory.refused.load(Ordering::Relaxed) {
            return CallError::MemoryLimit {
                plugin,
                limit_mib: (self.limits.memory_bytes >> 20) as u64,
            };
        }
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return CallError::CpuDeadline {
                plugin,
                limit_ms: self.limits.cpu.as_millis() as u64,
            };
        }
        let output = state.captured_output();
        // A Rust panic prints "thread '..' panicked at FILE:LINE:COL:" and the message on
        // the next line, then traps.
        let mut lines = output.lines();
        let panic = lines.find(|l| l.contains("panicked at")).map(|at| {
            let message = lines.next().unwrap_or("").trim();
            format!("{} {message}", at.trim())
        });
        let trap = error.downcast_ref::<Trap>().map(|t| t.to_string());
        match (panic, trap) {
            (Some(panic), Some(trap)) => CallError::Trap {
                plugin,
                detail: format!("{panic} ({trap})"),
            },
            (Some(panic), None) => CallError::Trap {
                plugin,
                detail: panic,
            },
            (None, Some(trap)) => CallError::Trap {
                plugin,
                detail: trap,
            },
            (None, None) => CallError::Instantiate {
                plugin,
                detail: format!("{error:#}"),
            },
        }
    }

    fn log_output(&self, store: &Store<HostState>) {
        let output = store.data().captured_output();
        if !output.is_empty() {
            tracing::debug!(plugin = %self.name(), message_id = %store.data().message_id, output = %crate::observability::for_log(&output), "plugin wrote to stdout/stderr");
        }
    }

    /// Runs `call` with the wall-clock limit, and maps traps and limits to a `CallError`.
    async fn guarded<T>(
        &self,
        store: &mut Store<HostState>,
        call: impl AsyncFnOnce(
            &mut Store<HostState>,
        ) -> wasmtime::Result<
            Result<T, crate::runtime::bindings::wit::PluginError>,
        >,
    ) -> Result<T, CallError> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.limits.wall, call(store)).await;
        self.log_output(store);
        tracing::trace!(plugin = %self.name(), elapsed_us = started.elapsed().as_micros() as u64, "plugin call");
        match outcome {
            Err(_) => Err(CallError::WallTimeout {
                plugin: self.name().into(),
                limit_ms: self.limits.wall.as_millis() as u64,
            }),
            Ok(Err(error)) => Err(self.call_failed(error, store)),
            Ok(Ok(Err(plugin_error))) => Err(CallError::Plugin {
                plugin: self.name().into(),
                error: plugin_error.into(),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }

    fn contract(&self, detail: String) -> CallError {
        CallError::Contract {
            plugin: self.name().into(),
            detail,
        }
    }

    pub async fn decode(&self, input: Inbound) -> Result<Vec<Message>, CallError> {
        let mut store = self.new_store("");
        let input = input.into();
        let messages = match &self.pre {
            Pre::Connector(pre) => {
                self.guarded(&mut store, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance.call_decode(&mut *store, &input).await
                })
                .await?
            }
            Pre::Poller(pre) => {
                self.guarded(&mut store, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance.call_decode(&mut *store, &input).await
                })
                .await?
            }
            _ => return Err(self.wrong_world(World::Connector)),
        };
        let messages: Vec<Message> = messages.into_iter().map(Message::from).collect();
        validate::decoded(&messages).map_err(|d| self.contract(d))?;
        Ok(messages)
    }

    pub async fn encode(
        &self,
        message: &Message,
        classification: &Classification,
        decision: &Decision,
    ) -> Result<Outbound, CallError> {
        let mut store = self.new_store(&message.id);
        let (m, c, d) = (
            message.clone().into(),
            classification.clone().into(),
            decision.clone().into(),
        );
        let outbound = match &self.pre {
            Pre::Connector(pre) => {
                self.guarded(&mut store, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance.call_encode(&mut *store, &m, &c, &d).await
                })
                .await?
            }
            Pre::Poller(pre) => {
                self.guarded(&mut store, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance.call_encode(&mut *store, &m, &c, &d).await
                })
                .await?
            }
            _ => return Err(self.wrong_world(World::Connector)),
        };
        Ok(outbound.into())
    }

    pub async fn classify(
        &self,
        message: &Message,
        current: &Classification,
    ) -> Result<Classification, CallError> {
        let Pre::Classifier(pre) = &self.pre else {
            return Err(self.wrong_world(World::Classifier));
        };
        let mut store = self.new_store(&message.id);
        let (m, c) = (message.clone().into(), current.clone().into());
        let out = self
            .guarded(&mut store, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_classify(&mut *store, &m, &c).await
            })
            .await?;
        let out = Classification::from(out);
        validate::classification(message, &out).map_err(|d| self.contract(d))?;
        Ok(out)
    }

    pub async fn decide(
        &self,
        message: &Message,
        classification: &Classification,
    ) -> Result<Decision, CallError> {
        let Pre::Policy(pre) = &self.pre else {
            return Err(self.wrong_world(World::Policy));
        };
        let mut store = self.new_store(&message.id);
        let (m, c) = (message.clone().into(), classification.clone().into());
        let out = self
            .guarded(&mut store, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.call_decide(&mut *store, &m, &c).await
            })
            .await?;
        let out = Decision::from(out);
        validate::decision(message, &out).map_err(|d| self.contract(d))?;
        Ok(out)
    }

    /// Fetches the next batch from a poller's remote system. The messages are checked as
    /// `decode`'s are.
    pub async fn poll(&self) -> Result<Batch, CallError> {
        self.poll_recording(0).await
    }

    /// As [`Plugin::poll`], keeping the bodies of the plugin's HTTP answers in
    /// [`Batch::responses`], up to `max_bytes` in all (an answer that would go over is not
    /// kept, and a debug line says so).
    pub async fn poll_recording(&self, max_bytes: u64) -> Result<Batch, CallError> {
        let Pre::Poller(pre) = &self.pre else {
            return Err(self.wrong_world(World::Poller));
        };
        let mut store = self.new_store("");
        if max_bytes > 0 {
            store.data_mut().recorded = Some(host::Recorded::new(max_bytes));
        }
        let batch = self
            .guarded(&mut store, async |store| {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.okno_plugin_polling().call_poll(&mut *store).await
            })
            .await?;
        let messages: Vec<Message> = batch.messages.into_iter().map(Message::from).collect();
        validate::decoded(&messages).map_err(|d| self.contract(d))?;
        let responses = match store.data_mut().recorded.take() {
            Some(recorded) => {
                if recorded.skipped > 0 {
                    tracing::debug!(plugin = %self.name(), skipped = recorded.skipped, max_bytes, "answers to a poll's HTTP calls not kept for attachments: over the bound");
                }
                recorded.responses
            }
            None => Vec::new(),
        };
        Ok(Batch {
            messages,
            ack: batch.ack,
            more: batch.more,
            responses,
        })
    }

    /// Acknowledges a batch to a poller's remote system.
    pub async fn ack(&self, token: &str) -> Result<(), CallError> {
        let Pre::Poller(pre) = &self.pre else {
            return Err(self.wrong_world(World::Poller));
        };
        let mut store = self.new_store("");
        self.guarded(&mut store, async |store| {
            let instance = pre.instantiate_async(&mut *store).await?;
            instance
                .okno_plugin_polling()
                .call_ack(&mut *store, token)
                .await
        })
        .await
    }
}
