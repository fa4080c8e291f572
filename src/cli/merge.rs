//! `tenantgen merge`: the shard directories of one plan → one generated directory of the whole
//! plan (manifest, `import.args`, every file hard-linked or copied), for users who run
//! neo4j-admin themselves. The checks are `import DIR…`'s ([`crate::shards`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{out, Global};
use crate::import::check_shards;
use crate::report::thousands;
use crate::shards;

/// Flags of `merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// All the shard directories of one plan (`generate --shard K/N`, K = 1..N).
    #[arg(value_name = "DIR", num_args = 1.., required_unless_present = "shards")]
    pub dirs: Vec<PathBuf>,
    /// The shard directories as a pattern with `*` and `?` in its last component (quote it),
    /// e.g. --shards 'out/shard-*'.
    #[arg(long, value_name = "GLOB", conflicts_with = "dirs")]
    pub shards: Option<String>,
    /// The directory to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing output directory (one tenantgen generated).
    #[arg(long)]
    pub force: bool,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: MergeArgs, _global: Global) -> anyhow::Result<ExitCode> {
    let dirs = match &args.shards {
        Some(p) => shards::expand(p)?,
        None => args.dirs.clone(),
    };
    let what = || format!("merging {} shards into {}", dirs.len(), args.out.display());
    let combined = shards::combine(&dirs).with_context(what)?;
    check_shards(&combined).with_context(what)?;
    let dir = shards::merge(&combined, &args.out, args.force).with_context(what)?;
    let m = &combined.manifest;
    if args.json {
        super::json::print(
            "merge",
            serde_json::json!({
                "out": dir.display().to_string(),
                "plan": combined.plan,
                "shards": dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "files": combined.sources.len(),
                "node_rows": m.node_rows(),
                "relationship_rows": m.relationship_rows(),
            }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    out(&format!(
        "merged {} shards of plan {} into {} ({} files, {} node rows, {} relationship rows)\nimport with: tenantgen import {}\n  or by hand: cd {} && neo4j-admin database import full neo4j @import.args\n",
        dirs.len(),
        combined.plan,
        dir.display(),
        thousands(combined.sources.len() as u64),
        thousands(m.node_rows()),
        thousands(m.relationship_rows()),
        dir.display(),
        dir.display(),
    ))?;
    Ok(ExitCode::SUCCESS)
}
