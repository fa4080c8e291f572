//! `tenantgen run`: the whole job.

use std::process::ExitCode;

use clap::Args;

use super::{GenerateArgs, Global};

/// Flags of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub generate: GenerateArgs,
}

pub fn run(_args: RunArgs, _global: Global) -> anyhow::Result<ExitCode> {
    anyhow::bail!("run is not implemented yet")
}
