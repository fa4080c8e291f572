//! `tenantgen export`: flags → [`ExportConfig`], then the export and its summary.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{out, ConnectArgs, Global};
use crate::export::{export, ExportConfig, DEFAULT_BATCH};
use crate::neo4j::Client;
use crate::report::thousands;

/// Flags of `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Directory to write (the baseline layout: manifest.json, headers/, data/).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace DIR if it exists.
    #[arg(long)]
    pub force: bool,
    /// Rows per page of the node queries.
    #[arg(long = "batch-size", value_name = "N", default_value_t = DEFAULT_BATCH)]
    pub batch_size: usize,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

impl ExportArgs {
    /// The validated export configuration.
    pub fn config(&self, global: Global) -> anyhow::Result<ExportConfig> {
        if self.batch_size == 0 {
            anyhow::bail!("--batch-size must be at least 1");
        }
        Ok(ExportConfig {
            out: self.out.clone(),
            force: self.force,
            batch: self.batch_size,
            progress: !global.quiet && !self.json,
        })
    }
}

pub fn run(args: ExportArgs, global: Global) -> anyhow::Result<ExitCode> {
    let cfg = args.config(global)?;
    let settings = args.connect.settings()?;
    let client = Client::connect(&settings)?;
    let report = export(&client, &cfg)
        .with_context(|| format!("export of {} into {}", settings.uri, cfg.out.display()))?;
    if !args.json {
        super::warn_export(global, &report.warnings);
    }
    if args.json {
        let groups = |gs: &[crate::export::GroupCount]| {
            gs.iter()
                .map(|g| serde_json::json!({"name": g.name, "rows": g.rows}))
                .collect::<Vec<_>>()
        };
        super::json::print(
            "export",
            serde_json::json!({
                "uri": settings.uri,
                "out": report.out.display().to_string(),
                "nodes": report.nodes,
                "relationships": report.relationships,
                "node_groups": groups(&report.node_groups),
                "relationship_groups": groups(&report.relationship_groups),
                "multiline_fields": report.multiline_fields,
                "warnings": report.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                "seconds": report.elapsed.as_secs_f64(),
            }),
        )?;
    } else if !global.quiet {
        let mut text = String::new();
        for g in report.node_groups.iter().chain(&report.relationship_groups) {
            let _ = writeln!(text, "  {:<44} {:>12}", g.name, thousands(g.rows));
        }
        let _ = writeln!(
            text,
            "exported {} nodes in {} groups, {} relationships in {} groups to {} in {:.1} s{}",
            thousands(report.nodes),
            report.node_groups.len(),
            thousands(report.relationships),
            report.relationship_groups.len(),
            report.out.display(),
            report.elapsed.as_secs_f64(),
            if report.multiline_fields {
                " (values with line breaks: import with --multiline-fields=true)"
            } else {
                ""
            }
        );
        out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
