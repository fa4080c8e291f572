//! `tenantgen clean`.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `clean`.
#[derive(Debug, Clone, Args)]
pub struct CleanArgs {}

pub fn run(_args: CleanArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("clean is not implemented yet")
}
