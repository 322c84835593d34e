//! What a component is: its world, the contract version it was built against, what it
//! imports, and whether the hub will run it.

use serde::{Deserialize, Serialize};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

/// The contract version this hub implements.
pub const CONTRACT_VERSION: &str = "0.1.1";
/// Versions of the contract a plugin may be built against: each later one only adds
/// (0.1.1 added the `poller` world), and wasmtime's linker resolves an import of
/// `okno:plugin/kv@0.1.0` to the `@0.1.1` definition, as semver allows for `0.1.x`.
const CONTRACT_VERSIONS: &[&str] = &["0.1.0", "0.1.1"];
const CONTRACT_PACKAGE: &str = "okno:plugin";
/// What a poller exports besides `decode` and `encode` (contract 0.1.1).
const POLLING_INTERFACE: &str = "okno:plugin/polling";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Connector,
    Classifier,
    Policy,
    /// A connector that also fetches: exports the `polling` interface besides `decode` and
    /// `encode` (contract 0.1.1). Wherever a connector is asked for, a poller serves.
    Poller,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Connector => "connector",
            World::Classifier => "classifier",
            World::Policy => "policy",
            World::Poller => "poller",
        }
    }

    /// Whether a plugin of this world can serve where `wanted` is asked for: a poller
    /// serves as a connector too.
    pub fn serves_as(self, wanted: World) -> bool {
        self == wanted || (self == World::Poller && wanted == World::Connector)
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WASI 0.2 interfaces a plugin may import because a language's runtime links them even
/// when the plugin does not use them (Rust's std: cli, io, clocks, random; the JavaScript
/// runtime also the filesystem; Python's the filesystem and sockets). The deny-all WASI
/// context (see `host.rs`) makes them harmless: no preopened directory, so there is no
/// file to open; TCP, UDP and name lookup disabled, so creating a socket fails with
/// `access-denied`; no environment, no arguments, empty stdin. `wasi:http` is not linked
/// and refused here: the okno `http` interface, with its grant, is the only way out.
const ALLOWED_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// Host interfaces of the contract, and the capability each one means.
const CAPABILITIES: &[(&str, &str)] = &[
    ("log", "log"),
    ("config", "config"),
    ("kv", "kv"),
    ("clock", "clock"),
    ("calendar", "calendar"),
    ("http", "http"),
];

#[derive(Clone, Debug, Serialize)]
pub struct PluginInfo {
    pub world: World,
    pub contract_version: String,
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// The host capabilities it imports: `log`, `config`, `kv`, `clock`, `calendar`, `http`.
    pub capabilities: Vec<String>,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("exports {exports:?} match no okno world: a connector exports `decode` and `encode`, a poller those and the `okno:plugin/polling` interface, a classifier `classify`, a policy `decide`")]
    UnknownWorld { exports: Vec<String> },
    #[error("built against okno:plugin@{found}, but this hub implements okno:plugin@{expected} (and loads plugins built against 0.1.0): rebuild the plugin with an okno-sdk for contract {expected}")]
    ContractVersion { found: String, expected: String },
    #[error("imports `{import}`, which the sandbox does not provide (plugins get the okno:plugin interfaces and WASI 0.2's cli, io, clocks, random, and a filesystem and sockets with nothing to open)")]
    ForbiddenImport { import: String },
    #[error("imports no okno:plugin interface, so its contract version is unknown")]
    NoContract,
}

/// Splits `ns:pkg/iface@1.2.3` into (`ns:pkg/iface`, Some("1.2.3")).
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (name, None),
    }
}

pub fn inspect(
    engine: &Engine,
    component: &Component,
    size: u64,
    sha256: &str,
) -> Result<PluginInfo, InspectError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .filter(|(_, item)| {
            matches!(
                item.ty,
                ComponentItem::ComponentFunc(_) | ComponentItem::ComponentInstance(_)
            )
        })
        .map(|(name, _)| name.to_string())
        .collect();

    let has = |name: &str| exports.iter().any(|e| e == name);
    let exports_polling = exports
        .iter()
        .any(|e| split_version(e).0 == POLLING_INTERFACE);
    let world = if has("decode") && has("encode") && exports_polling {
        World::Poller
    } else if has("decode") && has("encode") {
        World::Connector
    } else if has("classify") {
        World::Classifier
    } else if has("decide") {
        World::Policy
    } else {
        return Err(InspectError::UnknownWorld { exports });
    };

    let mut contract_version = None;
    let mut capabilities = Vec::new();
    for import in &imports {
        let (name, version) = split_version(import);
        if let Some(iface) = name
            .strip_prefix(CONTRACT_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
        {
            let version = version.unwrap_or("unversioned");
            if !CONTRACT_VERSIONS.contains(&version) {
                return Err(InspectError::ContractVersion {
                    found: version.to_string(),
                    expected: CONTRACT_VERSION.to_string(),
                });
            }
            contract_version = Some(version.to_string());
            if let Some((_, cap)) = CAPABILITIES.iter().find(|(i, _)| *i == iface) {
                capabilities.push(cap.to_string());
            }
            continue;
        }
        let allowed_wasi =
            ALLOWED_WASI.contains(&name) && version.is_some_and(|v| v.starts_with("0.2."));
        if !allowed_wasi {
            return Err(InspectError::ForbiddenImport {
                import: import.clone(),
            });
        }
    }
    let contract_version = contract_version.ok_or(InspectError::NoContract)?;
    capabilities.sort();
    Ok(PluginInfo {
        world,
        contract_version,
        exports,
        imports,
        capabilities,
        size,
        sha256: sha256.to_string(),
    })
}
