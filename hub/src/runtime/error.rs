//! Why a plugin call failed. Each variant is local to the one call: the hub goes on.

use crate::model::PluginError;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin {plugin:?} is a {actual} plugin; this step needs a {expected}")]
    WrongWorld {
        plugin: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("plugin {plugin:?} used more than its {limit_ms} ms of CPU and was stopped")]
    CpuDeadline { plugin: String, limit_ms: u64 },
    #[error(
        "plugin {plugin:?} did not finish within {limit_ms} ms of wall-clock time and was stopped"
    )]
    WallTimeout { plugin: String, limit_ms: u64 },
    #[error(
        "plugin {plugin:?} tried to grow its memory past the {limit_mib} MiB cap and was stopped"
    )]
    MemoryLimit { plugin: String, limit_mib: u64 },
    #[error("plugin {plugin:?} crashed: {detail}")]
    Trap { plugin: String, detail: String },
    #[error("plugin {plugin:?} could not be instantiated: {detail}")]
    Instantiate { plugin: String, detail: String },
    #[error("plugin {plugin:?} returned an error ({kind}): {message}", kind = kind_name(&.error.kind), message = .error.message)]
    Plugin { plugin: String, error: PluginError },
    #[error("plugin {plugin:?} broke the contract: {detail}")]
    Contract { plugin: String, detail: String },
}

fn kind_name(kind: &crate::model::ErrorKind) -> &'static str {
    use crate::model::ErrorKind::*;
    match kind {
        InvalidInput => "invalid-input",
        Unsupported => "unsupported",
        Config => "config",
        Upstream => "upstream",
        Internal => "internal",
    }
}

impl CallError {
    /// A short stable name, for metrics labels and the trace.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::WrongWorld { .. } => "wrong-world",
            CallError::CpuDeadline { .. } => "cpu-deadline",
            CallError::WallTimeout { .. } => "wall-timeout",
            CallError::MemoryLimit { .. } => "memory-limit",
            CallError::Trap { .. } => "trap",
            CallError::Instantiate { .. } => "instantiate",
            CallError::Plugin { error, .. } => match error.kind {
                crate::model::ErrorKind::InvalidInput => "plugin-invalid-input",
                crate::model::ErrorKind::Unsupported => "plugin-unsupported",
                crate::model::ErrorKind::Config => "plugin-config",
                crate::model::ErrorKind::Upstream => "plugin-upstream",
                crate::model::ErrorKind::Internal => "plugin-internal",
            },
            CallError::Contract { .. } => "contract",
        }
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CallError::WallTimeout { .. }
                | CallError::Plugin {
                    error: PluginError {
                        kind: crate::model::ErrorKind::Upstream,
                        ..
                    },
                    ..
                }
        )
    }
}
