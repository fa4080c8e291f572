//! `tenantgen stats`: totals of the live graph.

use std::process::ExitCode;

use anyhow::Context;
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
    /// Also report the shape of the synthetic resources: connected, reachable from a
    /// subscription, NICs owned by one VM, owners and owned co-located, subnets in one VNet,
    /// the spread over subscriptions and the types per resource group.
    #[arg(long)]
    pub shape: bool,
    /// With --shape: only the synthetic resources of this operation.
    #[arg(long, value_name = "ID", requires = "shape")]
    pub operation_id: Option<String>,
}

impl StatsArgs {
    pub fn json(&self) -> bool {
        self.json || self.format == FormatArg::Json
    }
}

pub fn run(args: StatsArgs, _global: Global) -> anyhow::Result<ExitCode> {
    let client = Client::connect(&args.connect.settings()?)?;
    let s = stats::collect(&client)?;
    if let Some(op) = &args.operation_id {
        stats::require_operation(
            op,
            &s.operation_ids(),
            "pass one of them to --operation-id (`tenantgen stats` lists them)",
        )
        .context("--operation-id")?;
    }
    let shape = args
        .shape
        .then(|| {
            stats::shape::collect(&client, args.operation_id.as_deref(), s.totals.original > 0)
        })
        .transpose()?;
    if args.json() {
        let mut doc = serde_json::to_value(&s)?;
        if let (Some(shape), Some(map)) = (&shape, doc.as_object_mut()) {
            map.insert("shape".into(), serde_json::to_value(shape)?);
        }
        super::json::print("stats", doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    let format = match args.format {
        FormatArg::Table | FormatArg::Json => Format::Table,
        FormatArg::Markdown => Format::Markdown,
    };
    let mut text = s.render(format);
    if let Some(shape) = shape {
        text.push('\n');
        text.push_str(&shape.render());
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}
