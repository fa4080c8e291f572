//! `tenantgen export`.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {}

pub fn run(_args: ExportArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("export is not implemented yet")
}
