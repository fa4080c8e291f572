//! `tenantgen load`.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {}

pub fn run(_args: LoadArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("load is not implemented yet")
}
