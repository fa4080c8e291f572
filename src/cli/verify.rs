//! `tenantgen verify`: flags → [`VerifyOptions`], connect, verify, print the table (or one JSON
//! document) and map the outcome to the exit code (0 passed, 1 mismatch; errors exit 2 upstream).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{info, out, ConnectArgs, Global, EXIT_MISMATCH};
use crate::manifest::Manifest;
use crate::neo4j::Client;
use crate::verify::{verify, VerifyOptions, DEFAULT_SAMPLE};

/// Flags of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The generated directory (as `load DIR` and `import DIR` take it); same as --manifest.
    #[arg(value_name = "DIR", conflicts_with = "manifest")]
    pub dir: Option<PathBuf>,
    /// The generated directory's manifest (a directory holding manifest.json also works).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "import-out/generated/manifest.json"
    )]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print one JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// How many of the operation's nodes to compare property by property with their base
    /// (0 skips the comparison).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SAMPLE)]
    pub sample: usize,
}

pub fn run(mut args: VerifyArgs, global: Global) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.dir.take() {
        args.manifest = dir;
    }
    let manifest = Manifest::read(&args.manifest)
        .with_context(|| format!("cannot verify against {}", args.manifest.display()))?;
    let settings = args.connect.settings()?;
    let client = Client::connect(&settings).context("cannot verify")?;
    info(
        Global {
            quiet: global.quiet || args.json,
        },
        &format!(
            "verifying {} against {}",
            args.manifest.display(),
            settings.uri
        ),
    );
    let opts = VerifyOptions {
        sample: args.sample,
        progress: !global.quiet && !args.json,
    };
    let report = verify(&client, &manifest, &opts).with_context(|| {
        format!(
            "verification of {} against {} stopped",
            args.manifest.display(),
            settings.uri
        )
    })?;
    if args.json {
        super::json::print("verify", report.to_json())?;
    } else {
        out(&report.table())?;
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_MISMATCH)
    })
}
