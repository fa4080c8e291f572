//! `tenantgen verify`: flags → [`VerifyOptions`], connect, verify, print the table (or one JSON
//! document) and map the outcome to the exit code (0 passed, 1 mismatch; errors exit 2 upstream).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{info, out, ConnectArgs, Global, EXIT_MISMATCH};
use crate::manifest::Manifest;
use crate::neo4j::Client;
use crate::verify::{verify, Scope, VerifyOptions, DEFAULT_SAMPLE};

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
    /// What to check: `graph`, every count of the whole graph (a fresh import); `operation`,
    /// only the operation's nodes and relationships and the real resources it must leave as
    /// they were (a load into a graph holding other data or operations); `counts`, only the
    /// totals, labels and relationship types Neo4j keeps in its counts store (instant at any
    /// size); `auto` picks `graph` when the graph's totals are the manifest's, else
    /// `operation`, and says so.
    #[arg(long, value_enum, default_value_t = ScopeArg::Auto)]
    pub scope: ScopeArg,
}

/// `--scope`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    Auto,
    Graph,
    Operation,
    Counts,
}

impl ScopeArg {
    fn scope(self) -> Option<Scope> {
        match self {
            ScopeArg::Auto => None,
            ScopeArg::Graph => Some(Scope::Graph),
            ScopeArg::Operation => Some(Scope::Operation),
            ScopeArg::Counts => Some(Scope::Counts),
        }
    }
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
        scope: args.scope.scope(),
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
