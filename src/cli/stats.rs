//! `tenantgen stats`: totals of the live graph.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{out, ConnectArgs, Global};
use crate::neo4j::Client;
use crate::stats::{self, Format};

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Markdown,
}

/// Flags of `stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (`--json` is `--format json`).
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Print one JSON document on stdout instead of the table (same as --format json).
    #[arg(long)]
    pub json: bool,
}

impl StatsArgs {
    pub fn json(&self) -> bool {
        self.json || self.format == FormatArg::Json
    }
}

pub fn run(args: StatsArgs, _global: Global) -> anyhow::Result<ExitCode> {
    let client = Client::connect(&args.connect.settings()?)?;
    let s = stats::collect(&client)?;
    if args.json() {
        super::json::print("stats", serde_json::to_value(&s)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let format = match args.format {
        FormatArg::Table | FormatArg::Json => Format::Table,
        FormatArg::Markdown => Format::Markdown,
    };
    out(&s.render(format))?;
    Ok(ExitCode::SUCCESS)
}
