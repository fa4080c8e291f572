//! `tenantgen generate`: flags → [`GenerateConfig`] + [`WriteOptions`], then plan and write.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{info, out, Global};
use crate::baseline::Baseline;
use crate::config::{self, EdgeMode, GenerateConfig, Scale, Strategy, DEFAULT_PART_ROWS};
use crate::outdir::Input;
use crate::plan::Plan;
use crate::report;
use crate::write::{self, Compression, WriteOptions, WriteReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    Replicate,
    Template,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EdgesArg {
    Aligned,
    Cross,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressArg {
    None,
    Gz,
}

/// Flags of `generate` (also taken by `run`).
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Baseline directory (default: the seed tenant in test-data/seed-tenant).
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// YAML template (see docs/template.md).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// How synthetic resources are made (default: template when --template is given, else
    /// replicate).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Final abstracted total over the base, as ATG means it (10 adds 9 copies per base).
    /// Default 10 for replicate, 1 for template.
    #[arg(
        long,
        value_name = "F",
        conflicts_with = "target_total",
        allow_negative_numbers = true
    )]
    pub scale_factor: Option<f64>,
    /// Make the abstracted layer exactly T resources.
    #[arg(long, value_name = "T")]
    pub target_total: Option<u64>,
    /// Seed of every generated value.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (default: the number of CPUs). Output does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "import-out/generated")]
    pub out: PathBuf,
    /// Replace an existing output directory.
    #[arg(long)]
    pub force: bool,
    /// Print the plan and expected counts; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Compress data parts.
    #[arg(long, value_enum, default_value = "none")]
    pub compress: CompressArg,
    /// Write only part K of N (1-based); the N parts together are the whole output.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// How base edges are copied: aligned (copy j to copy j) or cross (ATG's cross product).
    /// [default: aligned; cross with --atg-compat]
    #[arg(long, value_enum)]
    pub edges: Option<EdgesArg>,
    /// ATG's exact output: cross edges, :Resource only, ATG markers and 8-hex ids, names kept,
    /// no hierarchy links.
    #[arg(long)]
    pub atg_compat: bool,
    /// Replicate: copy only the bases' own edges — no hierarchy links (CONTAINS from their
    /// base's resource group, LOCATED_IN its region, TAGGED_WITH its tags), no edges found on
    /// the bases' :Original twins or from the Azure ids they name. (`--atg-compat` already
    /// makes none.)
    #[arg(long, conflicts_with = "atg_compat")]
    pub no_hierarchy: bool,
    /// Operation id (default: scale-YYYYMMDDTHHMMSS-xxxxxxxx from the time and seed).
    #[arg(long, value_name = "ID")]
    pub operation_id: Option<String>,
    /// Pin the run's timestamp (RFC 3339, e.g. 2025-11-15T21:17:00Z) for reproducible output.
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// Rows per data part.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_PART_ROWS)]
    pub part_rows: u64,
    /// Write even when the estimate exceeds the free disk space (`run`: and import).
    #[arg(long)]
    pub ignore_space_check: bool,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

impl GenerateArgs {
    /// Resolves and checks the flags (the rules are `config`'s; this maps flags onto them in
    /// the order their errors are reported).
    pub fn config(&self) -> anyhow::Result<(GenerateConfig, WriteOptions)> {
        let chosen = self.strategy.map(|s| match s {
            StrategyArg::Replicate => Strategy::Replicate,
            StrategyArg::Template => Strategy::Template,
        });
        let strategy = Strategy::resolve(chosen, self.template.as_deref());
        let template = strategy.template(self.template.as_deref())?;
        // clap's `conflicts_with` refuses both flags at once.
        let asked = match (self.scale_factor, self.target_total) {
            (Some(f), _) => Some(Scale::Factor(f)),
            (None, Some(t)) => Some(Scale::TargetTotal(t)),
            (None, None) => None,
        };
        let scale = Scale::for_strategy(strategy, asked)?;
        let timestamp = self
            .timestamp
            .as_deref()
            .map(config::parse_timestamp)
            .transpose()?;
        let part_rows = config::part_rows(self.part_rows)?;
        let shard = self.shard.as_deref().map(config::parse_shard).transpose()?;
        config::check_shard_time(shard, timestamp)?;
        let threads = config::threads(self.threads)?;
        config::check_replicate_only(strategy, self.no_hierarchy, self.edges.is_some())?;
        let edges = EdgeMode::resolve(
            self.edges.map(|e| match e {
                EdgesArg::Aligned => EdgeMode::Aligned,
                EdgesArg::Cross => EdgeMode::Cross,
            }),
            self.atg_compat,
        )?;
        let config = GenerateConfig {
            baseline: self
                .baseline
                .clone()
                .unwrap_or_else(super::default_baseline),
            template,
            strategy,
            scale,
            scale_given: asked.is_some(),
            seed: self.seed,
            edges,
            atg_compat: self.atg_compat,
            links: !self.no_hierarchy && !self.atg_compat,
            operation_id: self.operation_id.clone(),
            timestamp,
            part_rows,
        };
        let opts = WriteOptions {
            out: self.out.clone(),
            force: self.force,
            threads,
            compress: self.compression(),
            shard,
            progress: true,
            check_space: !self.ignore_space_check,
            inputs: [
                ("the baseline", Some(&config.baseline)),
                ("the template", config.template.as_ref()),
            ]
            .into_iter()
            .filter_map(|(what, p)| {
                p.map(|p| Input {
                    what,
                    path: p.clone(),
                })
            })
            .collect(),
        };
        Ok((config, opts))
    }
}

impl GenerateArgs {
    /// The compression of the data parts.
    pub fn compression(&self) -> Compression {
        match self.compress {
            CompressArg::None => Compression::None,
            CompressArg::Gz => Compression::Gzip,
        }
    }
}

/// Plans and writes; returns the report (None for a dry run) with the plan text.
pub fn generate(
    args: &GenerateArgs,
    global: Global,
) -> anyhow::Result<(Plan, Baseline, Option<WriteReport>)> {
    let (config, mut opts) = args.config()?;
    opts.progress = !global.quiet && !args.json;
    if !config.baseline.is_dir() {
        anyhow::bail!(
            "--baseline {}: {}; pass the directory that holds the baseline's manifest.json",
            config.baseline.display(),
            if config.baseline.exists() {
                "not a directory"
            } else {
                "no such directory"
            }
        );
    }
    if !args.dry_run {
        // Fail on the output path before reading the baseline and planning.
        write::check_out(&opts)?;
    }
    let baseline = Baseline::open(&config.baseline)
        .with_context(|| format!("reading baseline {}", config.baseline.display()))?;
    let plan = Plan::new(config, &baseline).context("planning")?;
    if args.dry_run {
        return Ok((plan, baseline, None));
    }
    if !args.json {
        info(global, &plan.describe());
    }
    let report = write::write(&plan, &baseline, &opts)
        .with_context(|| format!("writing {}", opts.out.display()))?;
    Ok((plan, baseline, Some(report)))
}

pub fn run(args: GenerateArgs, global: Global) -> anyhow::Result<ExitCode> {
    let (plan, _baseline, report) = generate(&args, global)?;
    match (&report, args.json) {
        (None, false) => out(&plan.describe())?,
        (None, true) => super::json::print("generate", plan_json(&plan, None, &args))?,
        (Some(r), true) => super::json::print("generate", plan_json(&plan, Some(r), &args))?,
        (Some(r), false) => {
            super::note_cleaned(global, &r.cleaned);
            let shard = r
                .manifest
                .shard
                .as_ref()
                .map(|s| (s.index as usize, s.count as usize, s.plan.as_str()));
            out(&report::written(r.rows, r.bytes, &r.out, r.elapsed, shard))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--json` document of `generate`; a dry run's lists the plan's data parts (`parts`), so
/// that an orchestrator can choose the shard count.
pub fn plan_json(
    plan: &Plan,
    report: Option<&WriteReport>,
    args: &GenerateArgs,
) -> serde_json::Value {
    let mut doc = plan_doc(plan, report);
    if report.is_none() {
        let parts = write::parts(plan, args.compression());
        doc["part_rows"] = serde_json::json!(plan.config.part_rows);
        doc["part_count"] = serde_json::json!(parts.len());
        doc["parts"] = serde_json::json!(parts);
    }
    if !plan.notes.is_empty() {
        doc["notes"] = serde_json::json!(plan.notes);
    }
    doc
}

fn plan_doc(plan: &Plan, report: Option<&WriteReport>) -> serde_json::Value {
    serde_json::json!({
        "operation_id": plan.op.id,
        "strategy": plan.config.strategy.name(),
        "seed": plan.config.seed,
        "base_resources": plan.base_count,
        "abstracted_before": plan.abstracted_before,
        "synthetic_nodes": plan.synthetic,
        "synthetic_relationships": plan.expected.operation_relationships,
        "expected": plan.expected,
        "estimated_bytes": plan.estimated_bytes,
        "dry_run": report.is_none(),
        "out": report.map(|r| r.out.display().to_string()),
        "rows_written": report.map(|r| r.rows),
        "bytes_written": report.map(|r| r.bytes),
        "seconds": report.map(|r| r.elapsed.as_secs_f64()),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};
    use crate::config::{EdgeMode, Scale, Strategy};

    fn config(args: &[&str]) -> anyhow::Result<crate::config::GenerateConfig> {
        let cli = Cli::try_parse_from([&["tenantgen", "generate"], args].concat())?;
        let Command::Generate(a) = cli.command else {
            panic!("not generate")
        };
        Ok(a.config()?.0)
    }

    #[test]
    fn defaults_depend_on_the_strategy() {
        let c = config(&[]).unwrap();
        assert_eq!(
            (c.strategy, c.scale, c.edges, c.part_rows),
            (
                Strategy::Replicate,
                Scale::Factor(10.0),
                EdgeMode::Aligned,
                250_000
            )
        );
        let c = config(&["--strategy", "template", "--template", "t.yaml"]).unwrap();
        assert_eq!(c.scale, Scale::Factor(1.0));
        let c = config(&["--template", "t.yaml"]).unwrap();
        assert_eq!(
            (c.strategy, c.scale),
            (Strategy::Template, Scale::Factor(1.0))
        );
        let c = config(&["--strategy", "replicate", "--template", "t.yaml"]).unwrap();
        assert_eq!(c.strategy, Strategy::Replicate);
    }

    #[test]
    fn atg_compat_copies_edges_as_atg() {
        let c = config(&["--atg-compat"]).unwrap();
        assert_eq!(c.edges, EdgeMode::Cross);
        let c = config(&["--atg-compat", "--edges", "cross"]).unwrap();
        assert_eq!(c.edges, EdgeMode::Cross);
        let e = config(&["--atg-compat", "--edges", "aligned"]).unwrap_err();
        assert!(
            e.to_string().contains("--atg-compat") && e.to_string().contains("--edges aligned"),
            "{e}"
        );
    }

    #[test]
    fn scale_flags_exclude_each_other() {
        assert!(config(&["--scale-factor", "3", "--target-total", "10"]).is_err());
        let c = config(&["--target-total", "10"]).unwrap();
        assert_eq!(c.scale, Scale::TargetTotal(10));
    }
}
