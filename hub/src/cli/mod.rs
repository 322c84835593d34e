//! The `okno` command line.

pub mod build;
pub mod demo;
pub mod eval;
pub mod plugin;
pub mod route;
pub mod serve;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::runtime::Limits;

#[derive(Parser)]
#[command(
    name = "okno",
    version,
    about = "Okno: integration hub for a government body's work with its clients"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: the HTTP API, the pipeline and deliveries, until Ctrl-C.
    Serve {
        #[arg(long, default_value = "okno.toml")]
        config: PathBuf,
        /// Listen address, e.g. 127.0.0.1:8080 (overrides hub.listen).
        #[arg(long)]
        listen: Option<String>,
        /// Where the store lives (overrides hub.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Build the example plugins, start the hub with examples/okno.toml and a local sink,
    /// feed the sample appeals and show what happened.
    Demo {
        /// Run to completion and exit: 0 when every sample reached its sinks.
        #[arg(long)]
        once: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Check a config, or explain which routes a message takes.
    Route {
        #[command(subcommand)]
        command: RouteCommand,
    },
    /// Work with one plugin: inspect it, run it on an input, build plugin crates.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Measure a plugin on labelled data.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Classify labelled appeals and report how often the topic code is right at each
    /// level of the classifier, top-3 and top-5, low confidence, time per call and the
    /// тематики confused most.
    Classify {
        /// The classifier component.
        #[arg(long)]
        plugin: PathBuf,
        /// JSONL, one appeal a line: {"text": "...", "code": "XXXX.XXXX.XXXX.XXXX"}.
        #[arg(long)]
        data: PathBuf,
        /// Give each appeal every other appeal of --data as an official's correction.
        #[arg(long)]
        leave_one_out: bool,
        /// JSONL of labelled examples (as --data) given to every appeal as corrections.
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// CPU time limit per call, in milliseconds. Each call starts with an empty index
        /// and reads every example, which the hub does once, hence the generous default.
        #[arg(long, default_value_t = 1000)]
        cpu_ms: u64,
        /// A plugin setting, KEY=VALUE; repeat for more.
        #[arg(long = "config", value_parser = plugin::parse_key_value)]
        settings: Vec<(String, String)>,
    },
}

#[derive(Subcommand)]
enum RouteCommand {
    /// Validate a config file and every plugin it names; errors come as file:line:column.
    Check {
        #[arg(long, default_value = "okno.toml")]
        config: PathBuf,
    },
    /// Show which routes a message matches, and why.
    Explain {
        #[arg(long, default_value = "okno.toml")]
        config: PathBuf,
        /// A message JSON, or {"message", "classification", "decision"}.
        #[arg(long)]
        message: PathBuf,
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
    // The demo prints its own summary; the hub's info lines would bury it.
    let default_level = if matches!(cli.command, Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    crate::observability::init_logging(default_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
        } => runtime.block_on(serve::serve(
            config,
            crate::pipeline::Overrides { listen, data_dir },
        )),
        Command::Demo { once, data_dir } => runtime.block_on(demo::demo(once, data_dir)),
        Command::Route { command } => match command {
            RouteCommand::Check { config } => route::check(&config),
            RouteCommand::Explain { config, message } => route::explain(&config, &message),
        },
        Command::Plugin { command } => match command {
            PluginCommand::Inspect { file, json } => plugin::inspect(&file, json),
            PluginCommand::Run {
                file,
                input,
                settings,
                content_type,
                encode,
                http_allow,
                cpu_ms,
                memory_mib,
            } => {
                let limits = Limits {
                    cpu: Duration::from_millis(cpu_ms),
                    memory_bytes: memory_mib << 20,
                    ..Limits::default()
                };
                runtime.block_on(plugin::run(plugin::RunOptions {
                    file,
                    input,
                    settings,
                    content_type,
                    encode,
                    http_allow,
                    limits,
                }))
            }
            PluginCommand::Build { path, out_dir, pin } => {
                let crates = build::find_plugin_crates(&path)?;
                let workspace = build::workspace_root(&path)?;
                let out_dir = out_dir.unwrap_or_else(|| workspace.join("plugins").join("dist"));
                let built =
                    build::build_plugins(&crates, &out_dir, &mut |line| eprintln!("{line}"))?;
                if let Some(config) = pin {
                    let n = build::pin_in_config(&config, &built)?;
                    eprintln!("pinned {n} plugin(s) in {}", config.display());
                }
                Ok(())
            }
        },
        Command::Eval { command } => match command {
            EvalCommand::Classify {
                plugin: file,
                data,
                leave_one_out,
                examples,
                json,
                cpu_ms,
                settings,
            } => {
                let options = eval::EvalOptions {
                    plugin: file,
                    data,
                    leave_one_out,
                    examples,
                    settings,
                    limits: Limits {
                        cpu: Duration::from_millis(cpu_ms),
                        ..Limits::default()
                    },
                    cache_dir: plugin::cli_cache_dir(),
                };
                runtime.block_on(eval::classify_command(options, json))
            }
        },
    }
}
