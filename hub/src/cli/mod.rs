//! The `okno` command line.

pub mod admin;
pub mod build;
pub mod demo;
pub mod eval;
pub mod plugin;
pub mod report;
pub mod route;
pub mod serve;
pub mod train;

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
    /// Train a plugin's model from labelled data.
    Train {
        #[command(subcommand)]
        command: train::TrainCommand,
    },
    /// Issue, list and revoke the API's bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check the audit log of admin and operator actions.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Reports from the store: the monthly ССТУ export.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
}

/// Where the hub's data dir is: `--data-dir`, else `hub.data_dir` of `--config`.
#[derive(clap::Args)]
struct DataDirArgs {
    #[arg(long, default_value = "okno.toml")]
    config: PathBuf,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    fn resolve(self) -> anyhow::Result<PathBuf> {
        admin::data_dir(&self.config, self.data_dir)
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token and print it once; only its hash is kept.
    Create {
        /// admin, operator, integrator, client, metrics or source.
        #[arg(long)]
        role: String,
        /// Who or what holds it (letters, digits, - _ . @), for logs and the audit log.
        #[arg(long)]
        name: String,
        /// For a source token: the one source it may push to.
        #[arg(long)]
        source: Option<String>,
        /// A date (2027-01-31, from 00:00 UTC) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// List the tokens issued (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// Revoke a token by name; a running hub refuses it from its next request.
    Revoke {
        name: String,
        #[command(flatten)]
        dir: DataDirArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every entry's hash and link; exits non-zero naming each altered, removed
    /// or reordered entry.
    Verify {
        /// The head hash recorded earlier somewhere safe: the chain must end in it.
        #[arg(long)]
        expect_head: Option<String>,
        #[command(flatten)]
        dir: DataDirArgs,
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
    /// The topics plugin's code natively, per source: trained on some portals, tested on
    /// another; the appeals of --appeals with leave-one-out, those of --seed as a test
    /// only, and the curve of accuracy against corrections imported.
    PerSource(eval::PerSourceArgs),
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

/// What a local plugin run may reach over HTTP.
#[derive(clap::Args)]
struct HttpGrantArgs {
    /// A host the plugin may call over HTTP, as in `http_allow`: `host` (the scheme's
    /// default port), `host:port`, `*.domain[:port]`, or an IP literal, which also lets
    /// the call reach that address when it is not public; repeat for more.
    #[arg(long)]
    http_allow: Vec<String>,
    /// An address or network the plugin may reach although it is not public (loopback,
    /// private), as in `http_allow_addresses`: `127.0.0.1`, `10.1.2.0/24`, `fd00::/8`;
    /// repeat for more.
    #[arg(long)]
    http_allow_address: Vec<String>,
    /// The largest HTTP answer the plugin may take, in bytes, as in
    /// `http_max_response_bytes` (1 MiB by default).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    http_max_response_bytes: Option<u64>,
}

impl HttpGrantArgs {
    fn local(self) -> plugin::LocalGrants {
        plugin::LocalGrants {
            http_allow: self.http_allow,
            http_allow_addresses: self.http_allow_address,
            http_max_response_bytes: self.http_max_response_bytes,
            fixed_now: None,
        }
    }
}

/// The sandbox limits of a local plugin run.
#[derive(clap::Args)]
struct LimitArgs {
    /// CPU time limit per call, in milliseconds.
    #[arg(long, default_value_t = 100)]
    cpu_ms: u64,
    /// Memory limit, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            cpu: Duration::from_millis(self.cpu_ms),
            memory_bytes: self.memory_mib << 20,
            ..Limits::default()
        }
    }
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
    /// Run a plugin on an input and print the result as JSON.
    ///
    /// A connector decodes the input's raw bytes (or, with --encode, encodes a message JSON);
    /// a classifier or policy takes a message JSON, or {"message", "classification"}, or an
    /// array of them (what a connector's decode, or a run with --envelope, prints): each is
    /// run and the results printed as an array. `okno plugin example --world W` prints a
    /// complete input.
    Run {
        file: PathBuf,
        /// The input file; `-` reads standard input.
        #[arg(long)]
        input: PathBuf,
        /// Of an array of messages, run only this one (from 0).
        #[arg(long)]
        index: Option<usize>,
        /// Print each message with its classification and decision, as the next
        /// plugin's input: `plugin run mail.wasm --envelope | plugin run keywords.wasm
        /// --input - --envelope | plugin run priority.wasm --input -`.
        #[arg(long)]
        envelope: bool,
        /// A plugin setting, KEY=VALUE; repeat for more.
        #[arg(long = "config", value_parser = plugin::parse_key_value)]
        settings: Vec<(String, String)>,
        /// The Content-Type passed to a connector's decode.
        #[arg(long)]
        content_type: Option<String>,
        /// Metadata passed to a connector's decode, KEY=VALUE; repeat for more.
        #[arg(long = "metadata", value_parser = plugin::parse_key_value)]
        metadata: Vec<(String, String)>,
        /// Call a connector's encode instead of decode.
        #[arg(long)]
        encode: bool,
        #[command(flatten)]
        grants: HttpGrantArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Print a complete sample input of `okno plugin run` for a plugin of a world.
    Example {
        /// connector, classifier, policy or poller.
        #[arg(long)]
        world: String,
    },
    /// Run a plugin on a folder of cases and print where its output differs from the
    /// expected output, by JSON path; exits non-zero on any difference.
    ///
    /// A case is NAME.input.json (a message, as for `plugin run`) or NAME.in (raw bytes
    /// for a connector's decode, with an optional NAME.meta.json: {"content_type",
    /// "metadata"}), and NAME.expected.json. DIR/cases.json may give {"settings", "now"};
    /// the plugin's clock is fixed.
    Test {
        file: PathBuf,
        /// The folder of cases.
        #[arg(long)]
        cases: PathBuf,
        /// Write each case's current output as its expected file.
        #[arg(long)]
        update: bool,
        /// A plugin setting, KEY=VALUE, over those of cases.json; repeat for more.
        #[arg(long = "config", value_parser = plugin::parse_key_value)]
        settings: Vec<(String, String)>,
        #[command(flatten)]
        grants: HttpGrantArgs,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Create a plugin project: source, a passing test, a README and the WIT files.
    ///
    /// Inside the Okno workspace the project is added to its members (default directory:
    /// plugins/NAME); elsewhere it is a standalone project (default: ./NAME) depending on
    /// okno-sdk by path (--sdk, or the Okno checkout around the current directory or the
    /// one this binary was built from) or else by version.
    New {
        /// Lower-case letters, digits and `-`: the crate is okno-plugin-NAME, the
        /// component NAME.wasm.
        name: String,
        /// connector, classifier or policy.
        #[arg(long)]
        world: String,
        /// The language of the template.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to create the project.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The sdk/ directory of an Okno checkout, for a standalone project's dependency.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build plugin crates for wasm32-wasip2 into plugins/dist/.
    Build {
        /// A plugin crate, or a directory of them; or a JavaScript (package.json) or
        /// Python (app.py, pyproject.toml) plugin project.
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
                index,
                envelope,
                settings,
                content_type,
                metadata,
                encode,
                grants,
                limits,
            } => runtime.block_on(plugin::run(plugin::RunOptions {
                file,
                input,
                index,
                envelope,
                settings,
                content_type,
                metadata,
                encode,
                grants: grants.local(),
                limits: limits.limits(),
            })),
            PluginCommand::Example { world } => plugin::example(&world),
            PluginCommand::Test {
                file,
                cases,
                update,
                settings,
                grants,
                limits,
            } => {
                let outcome = runtime.block_on(plugin::test(plugin::TestOptions {
                    file,
                    cases,
                    settings,
                    update,
                    grants: grants.local(),
                    limits: limits.limits(),
                }))?;
                if !outcome.failed.is_empty() {
                    anyhow::bail!(
                        "{} case(s) differ: {}",
                        outcome.failed.len(),
                        outcome.failed.join(", ")
                    );
                }
                Ok(())
            }
            PluginCommand::New {
                name,
                world,
                lang,
                dir,
                sdk,
            } => {
                let dir = plugin::new_project(plugin::NewOptions {
                    name: name.clone(),
                    world,
                    lang,
                    dir,
                    sdk,
                })?;
                eprintln!("created {}", dir.display());
                eprintln!(
                    "next: cd {} && cargo test && okno plugin build .",
                    dir.display()
                );
                Ok(())
            }
            PluginCommand::Build { path, out_dir, pin } => {
                if build::guest_language(&path).is_some() {
                    let built = build::build_guest(&path, out_dir.as_deref(), &mut |line| {
                        eprintln!("{line}")
                    })?;
                    if let Some(config) = pin {
                        let n = build::pin_in_config(&config, &[built])?;
                        eprintln!("pinned {n} plugin(s) in {}", config.display());
                    }
                    return Ok(());
                }
                let crates = build::find_plugin_crates(&path)?;
                let out_dir = match out_dir {
                    Some(dir) => dir,
                    None => build::default_out_dir(&path)?,
                };
                let built =
                    build::build_plugins(&crates, &out_dir, &mut |line| eprintln!("{line}"))?;
                if let Some(config) = pin {
                    let n = build::pin_in_config(&config, &built)?;
                    eprintln!("pinned {n} plugin(s) in {}", config.display());
                }
                Ok(())
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create {
                role,
                name,
                source,
                expires,
                dir,
            } => {
                let token = admin::token_create(
                    &dir.resolve()?,
                    &name,
                    &role,
                    source.as_deref(),
                    expires.as_deref(),
                )?;
                eprintln!("token {name:?} ({role}) created; it is shown only now:");
                println!("{token}");
                Ok(())
            }
            TokenCommand::List { json, dir } => admin::token_list(&dir.resolve()?, json),
            TokenCommand::Revoke { name, dir } => admin::token_revoke(&dir.resolve()?, &name),
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify { expect_head, dir } => {
                admin::audit_verify(&dir.resolve()?, expect_head.as_deref())
            }
        },
        Command::Report { command } => report::run(command),
        Command::Train { command } => train::run(command),
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
            EvalCommand::PerSource(args) => eval::per_source_command(args),
        },
    }
}
