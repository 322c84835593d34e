//! `okno report sstu --month 2026-10`: the monthly export for ССТУ.РФ from the store of
//! a stopped hub (a running hub serves the same file at `GET /v1/reports/sstu`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::sla::sstu::{export_month, Month};

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// The appeals received in a month, as the «Мастер обзоров» CSV that ССТУ.РФ imports.
    Sstu {
        /// YYYY-MM, in the body's time zone.
        #[arg(long)]
        month: String,
        #[arg(long, default_value = "okno.toml")]
        config: PathBuf,
        /// Where the store lives (overrides hub.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Sstu {
            month,
            config,
            data_dir,
            out,
        } => {
            let month = Month::parse(&month).map_err(anyhow::Error::msg)?;
            let config =
                crate::config::Config::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dir = match data_dir {
                Some(dir) => dir,
                None if config.hub.data_dir.is_relative() => {
                    config.base_dir.join(&config.hub.data_dir)
                }
                None => config.hub.data_dir.clone(),
            };
            let store = crate::store::Store::open(&dir).context(
                "the store is in use while the hub runs: stop it, or fetch GET /v1/reports/sstu?month=YYYY-MM from it",
            )?;
            let sla = crate::sla::Sla::open(&store)?;
            let bytes = export_month(&sla, &store, &config, month)?;
            match out {
                Some(path) => std::fs::write(&path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(&bytes)?,
            }
            Ok(())
        }
    }
}
