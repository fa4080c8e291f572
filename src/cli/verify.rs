//! `tenantgen verify`.

use std::process::ExitCode;

use clap::Args;

use super::Global;

/// Flags of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {}

pub fn run(_args: VerifyArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("verify is not implemented yet")
}
