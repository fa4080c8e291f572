//! `tenantgen clean`: delete one operation's synthetic nodes and relationships.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{out, ConnectArgs, Global};
use crate::clean;
use crate::config::OperationId;
use crate::neo4j::Client;

/// Flags of `clean`.
#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// The `scale_operation_id` to delete (`tenantgen stats` lists them); may be left out with
    /// --drop-schema, which then drops only tenantgen's constraints and indexes.
    #[arg(long, required_unless_present = "drop_schema")]
    pub operation_id: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the counts only; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also drop the constraints and indexes tenantgen's `load` created (named `tenantgen_*`);
    /// constraints and indexes of other names, the user's, stay. Without --operation-id: only
    /// those.
    #[arg(long)]
    pub drop_schema: bool,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CleanArgs, global: Global) -> anyhow::Result<ExitCode> {
    let Some(operation_id) = args.operation_id.clone() else {
        let client = Client::connect(&args.connect.settings()?)?;
        let report = clean::drop_schema(&client, args.dry_run)
            .context("clean --drop-schema of tenantgen's constraints and indexes")?;
        if args.json {
            super::json::print("clean", serde_json::to_value(&report)?)?;
        } else {
            out(&(report.summary() + "\n"))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if OperationId::parse(&operation_id).is_err() {
        return Err(clean::CleanError::InvalidId(operation_id).into());
    }
    let client = Client::connect(&args.connect.settings()?)?;
    let _resume = (!args.dry_run).then(|| {
        crate::interrupt::note(format!(
            "the clean of operation {op} stopped part-way: part of its nodes and relationships are deleted; run `tenantgen clean --operation-id {op} --uri {uri}` again to finish",
            op = operation_id,
            uri = args.connect.uri
        ))
    });
    let progress = !global.quiet && !args.json;
    let report = match clean::clean(
        &client,
        &operation_id,
        args.dry_run,
        args.drop_schema,
        progress,
    ) {
        // It names the flag and the operation already.
        Err(e @ clean::CleanError::Absent(_)) => return Err(e.into()),
        r => r.with_context(|| format!("clean of operation {operation_id}"))?,
    };
    if args.json {
        super::json::print("clean", serde_json::to_value(&report)?)?;
    } else {
        out(&(report.summary() + "\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
