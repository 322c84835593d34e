//! The `okno` command line.

pub mod build;
pub mod plugin;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::runtime::Limits;

#[derive(Parser)]
#[command(name = "okno", version, about = "Okno: integration hub for a government body's work with its clients")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with one plugin: inspect it, run it on an input, build plugin crates.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Show a component's world, contract version, exports, imports, capabilities, size and sha256.
    Inspect {
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run a plugin once on one input and print the result as JSON.
    ///
    /// A connector decodes the input's raw bytes (or, with --encode, encodes a message JSON);
    /// a classifier or policy takes a message JSON, or {"message", "classification"}.
    Run {
        file: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// A plugin setting, KEY=VALUE; repeat for more.
        #[arg(long = "config", value_parser = plugin::parse_key_value)]
        settings: Vec<(String, String)>,
        /// The Content-Type passed to a connector's decode.
        #[arg(long)]
        content_type: Option<String>,
        /// Call a connector's encode instead of decode.
        #[arg(long)]
        encode: bool,
        /// A host the plugin may call over HTTP; repeat for more.
        #[arg(long)]
        http_allow: Vec<String>,
        /// CPU time limit per call, in milliseconds.
        #[arg(long, default_value_t = 100)]
        cpu_ms: u64,
        /// Memory limit, in MiB.
        #[arg(long, default_value_t = 64)]
        memory_mib: usize,
    },
    /// Build plugin crates for wasm32-wasip2 into plugins/dist/.
    Build {
        /// A plugin crate, or a directory of them.
        #[arg(default_value = "plugins")]
        path: PathBuf,
        /// Where the components go (default: plugins/dist in the workspace).
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Update the sha256 pins of these plugins in this config file.
        #[arg(long)]
        pin: Option<PathBuf>,
    },
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::observability::init_logging("info");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Plugin { command } => match command {
            PluginCommand::Inspect { file, json } => plugin::inspect(&file, json),
            PluginCommand::Run { file, input, settings, content_type, encode, http_allow, cpu_ms, memory_mib } => {
                let limits = Limits { cpu: Duration::from_millis(cpu_ms), memory_bytes: memory_mib << 20, ..Limits::default() };
                runtime.block_on(plugin::run(plugin::RunOptions { file, input, settings, content_type, encode, http_allow, limits }))
            }
            PluginCommand::Build { path, out_dir, pin } => {
                let crates = build::find_plugin_crates(&path)?;
                let workspace = build::workspace_root(&path)?;
                let out_dir = out_dir.unwrap_or_else(|| workspace.join("plugins").join("dist"));
                let built = build::build_plugins(&crates, &out_dir, &mut |line| eprintln!("{line}"))?;
                if let Some(config) = pin {
                    let n = build::pin_in_config(&config, &built)?;
                    eprintln!("pinned {n} plugin(s) in {}", config.display());
                }
                Ok(())
            }
        },
    }
}
