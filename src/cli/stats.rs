//! `tenantgen stats`.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {}

pub fn run(_args: StatsArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("stats is not implemented yet")
}
