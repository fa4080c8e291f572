//! `tenantgen load`: stream a generated directory's synthetic groups into a running graph.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{info, out, ConnectArgs, Global};
use crate::load::{self, LoadConfig};

/// Flags of `load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Generated directory (output of `tenantgen generate`).
    #[arg(default_value = "import-out/generated")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Rows per batch; each batch is one transaction.
    #[arg(long, default_value_t = load::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Batches in flight at once (1-4: the Bolt client pools 4 connections).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    fn config(&self, global: Global) -> anyhow::Result<LoadConfig> {
        let mut cfg = LoadConfig::new(self.dir.clone(), self.connect.settings()?);
        cfg.batch_size = self.batch_size;
        cfg.concurrency = self.concurrency;
        cfg.progress = !global.quiet && !self.json;
        Ok(cfg)
    }
}

pub fn run(args: LoadArgs, global: Global) -> anyhow::Result<ExitCode> {
    let cfg = args.config(global)?;
    let report = load::load(&cfg).with_context(|| format!("load of {}", args.dir.display()))?;
    if args.json {
        super::json::print("load", serde_json::to_value(&report)?)?;
    } else {
        for note in &report.notes {
            info(global, &format!("note: {note}"));
        }
        out(&(report.summary() + "\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
