//! Planning: from the validated configuration, the baseline index and (optionally) a template,
//! decide exactly what will be generated: how many rows each strategy makes and from what, the
//! output groups with their headers, how they are cut into parts, the synthetic ids that would
//! collide with the baseline, and the counts the finished graph must show. Nothing is written
//! here; `--dry-run` prints a plan and stops.
//!
//! This file holds the output-group model both strategies fill and [`Plan`] itself; the
//! strategies are [`replicate`] and [`template`], the counts [`expected`], ids and part ranges
//! [`ids`]. Flag rules that need no baseline are `config`'s.
//!
//! Domain words: the *base* is the real abstracted resources (`:Resource`, not `:Original`, not
//! synthetic), in baseline file order; every generated row has a *global index* within its
//! strategy's rows, and every value derives from (seed, global index).

mod expected;
pub mod ids;
pub mod replicate;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Range;

use crate::baseline::{Baseline, Column, ColumnKind, Header, ValueType};
use crate::config::{ConfigError, GenerateConfig, OperationInfo, Scale, Strategy};
use crate::manifest::Expected;
use crate::report::{human_bytes, thousands};

pub use ids::{cut, SyntheticIds, MAX_PARTS};
pub use replicate::ReplicatePlan;
pub use template::{apportion, LocationMode, TemplatePlan, ROWS_PER_RESOURCE_GROUP};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    #[error("{message}")]
    Other { message: String },
}

/// Where an output node column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeCol {
    /// The base record's field at this index, verbatim.
    Copy(usize),
    /// No value (the base group has no such column).
    Absent,
    Id,
    /// The base's name with `-s{copy}` appended.
    Name,
    Synthetic,
    OperationId,
    Strategy,
    GenerationTimestamp,
    SourceId,
}

/// Where an output relationship column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelCol {
    Start,
    End,
    Copy(usize),
    Synthetic,
    OperationId,
}

/// Where a synthetic node group's rows come from.
#[derive(Debug, Clone)]
pub enum NodeSource {
    /// Copies of base resources; how to fill each output column, per baseline node group.
    Replica { columns: HashMap<u16, Vec<NodeCol>> },
    /// Rows of the template's `resources` entries.
    Template,
    /// Resource groups the template's rows are spread over (only those missing in the baseline).
    ResourceGroups,
    /// Regions the template's rows are located in (only those missing in the baseline).
    Regions,
    /// The operation's tag (`config.tag_prefix`).
    Tag,
}

/// One synthetic node group.
#[derive(Debug, Clone)]
pub struct OutNodes {
    pub name: String,
    pub labels: Vec<String>,
    pub id_space: String,
    pub header: Header,
    pub source: NodeSource,
    pub rows: u64,
    pub parts: Vec<Range<u64>>,
}

/// One copied base edge and how many rows it yields.
#[derive(Debug, Clone, Copy)]
pub struct EdgePattern {
    pub edge: u32,
    pub rows: u64,
}

/// Where a synthetic relationship group's rows come from.
#[derive(Debug, Clone)]
pub enum EdgeSource {
    /// Copies of the base edges of one baseline relationship group.
    Replica {
        base_group: u16,
        patterns: Vec<EdgePattern>,
        /// `prefix[p]` = rows before pattern p; the last entry is the group's total.
        prefix: Vec<u64>,
    },
    /// `relationships[i]` of the template.
    Rule(usize),
    /// Resource group → template row.
    Contains,
    /// Template row → region.
    LocatedIn,
    /// Template row → the operation's tag.
    TaggedWith,
}

/// One synthetic relationship group.
#[derive(Debug, Clone)]
pub struct OutEdges {
    pub name: String,
    pub rel_type: String,
    pub start_space: String,
    pub end_space: String,
    pub header: Header,
    pub columns: Vec<RelCol>,
    pub source: EdgeSource,
    pub rows: u64,
    pub parts: Vec<Range<u64>>,
}

/// What a plan makes its rows from, with the strategy's own decisions.
pub enum Source {
    Replicate(ReplicatePlan),
    Template(TemplatePlan),
}

/// Everything `generate` needs, decided up front.
pub struct Plan {
    pub config: GenerateConfig,
    pub op: OperationInfo,
    /// Real abstracted resources in the baseline (B; for replicate, those copied from).
    pub base_count: u64,
    /// Abstracted resources before the operation (real and earlier synthetic).
    pub abstracted_before: u64,
    /// New synthetic resources (N).
    pub synthetic: u64,
    pub ids: SyntheticIds,
    pub nodes: Vec<OutNodes>,
    pub edges: Vec<OutEdges>,
    pub expected: Expected,
    pub source: Source,
    pub estimated_bytes: u64,
}

/// Marker property names, in the order they are appended to headers.
pub const NODE_MARKERS: [&str; 5] = [
    "synthetic",
    "scale_operation_id",
    "generation_strategy",
    "generation_timestamp",
    "template_source_id",
];

/// The most synthetic resources one plan makes (ten billion: about 7 TB of CSV).
pub const MAX_SYNTHETIC: u64 = 10_000_000_000;

impl Plan {
    /// Builds the plan of `config`'s strategy.
    pub fn new(config: GenerateConfig, baseline: &Baseline) -> Result<Plan, PlanError> {
        let template = match &config.template {
            Some(p) => Some(crate::template::load_template(p)?),
            None => None,
        };
        match (config.strategy, template) {
            (Strategy::Template, Some(t)) => template::plan(config, baseline, t),
            // `config` refuses this combination; a caller that built the config by hand gets
            // the same error.
            (Strategy::Template, None) => Err(ConfigError::TemplateStrategyNeedsTemplate.into()),
            (Strategy::Replicate, t) => replicate::plan(config, baseline, t.as_ref()),
        }
    }

    /// Writes the id of row `i` of a type with id prefix `prefix`.
    #[inline]
    pub fn push_id(&self, out: &mut Vec<u8>, prefix: &str, i: u64) {
        self.ids.push(out, prefix, i);
    }

    /// Keys a copy does not inherit from its base.
    pub fn overridden_keys(&self) -> Vec<String> {
        let mut keys = vec!["id".to_string()];
        if !self.config.atg_compat {
            keys.push("name".into());
        }
        keys.extend(NODE_MARKERS.iter().map(|s| s.to_string()));
        keys
    }

    /// Labels of synthetic nodes.
    pub fn synthetic_labels(&self) -> &[String] {
        &self.nodes[0].labels
    }

    /// The human-readable plan.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let scale = match c.scale {
            Scale::Factor(f) => format!("scale factor {f}"),
            Scale::TargetTotal(t) => format!("target total {}", thousands(t)),
        };
        let _ = writeln!(
            s,
            "plan: {} ({scale}), seed {}, edges {}{}",
            c.strategy.name(),
            c.seed,
            c.edges.name(),
            if c.atg_compat { ", ATG-compatible" } else { "" }
        );
        let _ = writeln!(
            s,
            "  operation {} at {}",
            self.op.id, self.op.generation_timestamp
        );
        let _ = writeln!(
            s,
            "  base {} → +{} synthetic → abstracted {}",
            thousands(self.base_count),
            thousands(self.synthetic),
            thousands(self.abstracted_before + self.synthetic)
        );
        let e = &self.expected;
        let _ = writeln!(
            s,
            "  nodes {} → {}   relationships {} → {} (+{})",
            thousands(e.nodes - self.nodes.iter().map(|g| g.rows).sum::<u64>()),
            thousands(e.nodes),
            thousands(e.relationships - e.operation_relationships),
            thousands(e.relationships),
            thousands(e.operation_relationships)
        );
        let mut by_rel: BTreeMap<&str, u64> = BTreeMap::new();
        for g in &self.edges {
            *by_rel.entry(&g.rel_type).or_default() += g.rows;
        }
        for (t, n) in by_rel {
            let _ = writeln!(s, "    +{} {t}", thousands(n));
        }
        let mut top: Vec<(&String, &u64)> = e.operation_by_type.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(s, "  synthetic by type ({} types):", top.len());
        for (t, n) in top.iter().take(10) {
            let _ = writeln!(s, "    {:>9}  {t}", thousands(**n));
        }
        if top.len() > 10 {
            let rest: u64 = top[10..].iter().map(|(_, n)| **n).sum();
            let _ = writeln!(
                s,
                "    {:>9}  ({} more types)",
                thousands(rest),
                top.len() - 10
            );
        }
        let parts = self.nodes.iter().map(|g| g.parts.len()).sum::<usize>()
            + self.edges.iter().map(|g| g.parts.len()).sum::<usize>();
        let _ = writeln!(
            s,
            "  output: {parts} data parts, about {}",
            human_bytes(self.estimated_bytes)
        );
        s
    }
}

/// A marker column: `synthetic` is a boolean, the others strings.
fn marker_column(name: &str) -> Column {
    let ty = if name == "synthetic" {
        ValueType::Boolean
    } else {
        ValueType::String
    };
    Column {
        name: name.to_string(),
        kind: ColumnKind::Property { ty, array: false },
    }
}

/// Labels of the operation's resources: ATG gives copies `:Resource` only.
fn synthetic_labels(atg_compat: bool) -> Vec<String> {
    if atg_compat {
        vec!["Resource".to_string()]
    } else {
        vec!["Resource".to_string(), "Synthetic".to_string()]
    }
}

/// New resources needed for the abstracted layer to reach `target` (`--target-total`).
fn above_current(target: u64, abstracted_before: u64) -> Result<u64, PlanError> {
    if target <= abstracted_before {
        return Err(PlanError::Flag {
            flag: "--target-total",
            message: format!(
                "{target} is not above the current abstracted count {abstracted_before}; pass a larger target"
            ),
        });
    }
    Ok(target - abstracted_before)
}

/// Refuses a plan above [`MAX_SYNTHETIC`] before anything is sized by it.
fn check_synthetic(n: u64, scale: Scale) -> Result<(), PlanError> {
    if n <= MAX_SYNTHETIC {
        return Ok(());
    }
    let (flag, value) = match scale {
        Scale::Factor(f) => ("--scale-factor", f.to_string()),
        Scale::TargetTotal(t) => ("--target-total", t.to_string()),
    };
    Err(PlanError::Flag {
        flag,
        message: format!(
            "{value} asks for {} synthetic resources, more than tenantgen plans ({}); lower it",
            thousands(n),
            thousands(MAX_SYNTHETIC)
        ),
    })
}
