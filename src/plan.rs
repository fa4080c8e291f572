//! Planning: from the validated configuration, the baseline index and (optionally) a template,
//! decide exactly what will be generated: how many copies each base gets, which edges are
//! copied and how often, the output groups with their headers, how they are cut into parts,
//! the synthetic ids that would collide with the baseline, and the counts the finished graph
//! must show. Nothing is written here; `--dry-run` prints a plan and stops.
//!
//! Domain words: the *base* is the real abstracted resources (`:Resource`, not `:Original`, not
//! synthetic), in baseline file order; copy `j` of base `k` has global index `prefix[k] + j`
//! (base-major order), so every value derives from (seed, global index).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;

use chrono::{DateTime, Local, SecondsFormat, Utc};

use crate::baseline::{Baseline, End};
use crate::format::csv as csvfmt;
use crate::format::header::{Column, ColumnKind, Header, ValueType};
use crate::manifest::{Expected, PatternCount};
use crate::template::{self, Template};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    #[error("{message}")]
    Other { message: String },
}

/// How synthetic resources are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Copy the real abstracted resources of the baseline.
    Replicate,
    /// Make resources from a template's per-type counts and values.
    Template,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Replicate => "replicate",
            Strategy::Template => "template",
        }
    }
}

/// How a base edge is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeMode {
    /// Copy j gets its base's edges, base ends mapped to their copy j.
    Aligned,
    /// ATG's cross product: every copy of s to every copy of t.
    Cross,
}

impl EdgeMode {
    pub fn name(self) -> &'static str {
        match self {
            EdgeMode::Aligned => "aligned",
            EdgeMode::Cross => "cross",
        }
    }
}

/// How much to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// ATG's meaning: the final abstracted total over the base (f = 10 adds 9 copies per base).
    Factor(f64),
    /// The abstracted layer ends with exactly this many resources.
    TargetTotal(u64),
}

/// The validated configuration of a generation (built by `cli` from the raw flags).
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub baseline: PathBuf,
    pub template: Option<PathBuf>,
    pub strategy: Strategy,
    pub scale: Scale,
    pub seed: u64,
    pub edges: EdgeMode,
    pub atg_compat: bool,
    pub operation_id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub part_rows: u64,
}

/// The operation's identity and markers.
#[derive(Debug, Clone)]
pub struct OperationInfo {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub generation_timestamp: String,
    pub strategy: String,
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

impl OutEdges {
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// How a template entry's rows get a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationMode {
    /// `{{ random_location }}`: picked by hash from `config.random_locations`.
    Random,
    /// A fixed region code.
    Literal(String),
    /// Any other expression: the location is a property only, with no LOCATED_IN edge.
    Computed,
}

/// The template strategy's decisions.
pub struct TemplatePlan {
    pub compiled: template::CompiledTemplate,
    /// Rows per `resources` entry, after scaling.
    pub counts: Vec<u64>,
    /// `prefix[r]` = global index of entry r's first row.
    pub prefix: Vec<u64>,
    pub locations: Vec<LocationMode>,
    pub random_locations: Vec<String>,
    pub subscription_id: String,
    pub tenant_id: String,
    pub rows_per_group: u64,
    /// Resource group names and ids, one per group number.
    pub rg_names: Vec<String>,
    pub rg_ids: Vec<String>,
    /// Group numbers whose resource group is not in the baseline.
    pub rg_new: Vec<u32>,
    /// Regions to create (codes not in the baseline).
    pub regions_new: Vec<String>,
    /// Entries whose rows get LOCATED_IN, with the prefix of their rows in that group.
    pub located: Vec<usize>,
    pub located_prefix: Vec<u64>,
    /// The operation's tag: id, key, value.
    pub tag: Option<(String, String, String)>,
    pub tag_is_new: bool,
    /// Per rule: (source entry, target entry).
    pub rules: Vec<(usize, usize)>,
    pub template_name: String,
}

impl TemplatePlan {
    /// The entry and row index within it of global row `i`.
    #[inline]
    pub fn locate(&self, i: u64) -> (usize, u64) {
        let r = self.prefix.partition_point(|&p| p <= i) - 1;
        (r, i - self.prefix[r])
    }

    /// The random location of global row `i`.
    #[inline]
    pub fn random_location(&self, seed: u64, i: u64) -> &str {
        let h =
            xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), seed ^ 0x6c6f_6361_7469_6f6e);
        &self.random_locations[(h % self.random_locations.len() as u64) as usize]
    }

    /// The region code row `i` of entry `r` links to, if any.
    pub fn region(&self, seed: u64, r: usize, i: u64) -> Option<&str> {
        match &self.locations[r] {
            LocationMode::Random => Some(self.random_location(seed, i)),
            LocationMode::Literal(code) => Some(code),
            LocationMode::Computed => None,
        }
    }

    /// Target row of edge `e` of rule `rule` (a hash, so targets spread deterministically).
    #[inline]
    pub fn rule_target(&self, seed: u64, rule: usize, e: u64) -> u64 {
        let (_, t) = self.rules[rule];
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(
            &e.to_le_bytes(),
            seed ^ (rule as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        self.prefix[t] + h % self.counts[t]
    }
}

/// Everything `generate` needs, decided up front.
pub struct Plan {
    pub config: GenerateConfig,
    pub op: OperationInfo,
    /// Real abstracted resources copied from (B).
    pub base_count: u64,
    /// Abstracted resources before the operation (real and earlier synthetic).
    pub abstracted_before: u64,
    /// New synthetic nodes (N).
    pub synthetic: u64,
    /// Copies per base.
    pub copies: Vec<u32>,
    /// `prefix[k]` = global index of base k's first copy; the last entry is N.
    pub prefix: Vec<u64>,
    pub id_key: u64,
    /// Global indexes whose natural id collides with a baseline id, and their replacement.
    pub id_overrides: HashMap<u64, u64>,
    pub nodes: Vec<OutNodes>,
    pub edges: Vec<OutEdges>,
    pub expected: Expected,
    pub template: Option<Template>,
    pub template_plan: Option<TemplatePlan>,
    /// The replicate strategy's `replicate.naming.name_pattern`, compiled.
    pub replicate_names: Option<template::CompiledTemplate>,
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

impl Plan {
    /// Builds the plan for the replicate strategy.
    pub fn new(config: GenerateConfig, baseline: &Baseline) -> Result<Plan, PlanError> {
        let template = match &config.template {
            Some(p) => Some(template::load_template(p)?),
            None => None,
        };
        if config.strategy == Strategy::Template {
            let Some(t) = template else {
                return Err(PlanError::Flag {
                    flag: "--strategy",
                    message: "the template strategy needs --template FILE".into(),
                });
            };
            return Self::from_template(config, baseline, t);
        }
        baseline.require_bases()?;
        let bases = select_bases(baseline, template.as_ref());
        if bases.is_empty() {
            return Err(PlanError::Other {
                message: format!(
                    "the template's replicate.types filter matches none of the baseline's {} real resources; widen the filter",
                    baseline.bases.len()
                ),
            });
        }
        let b = bases.len() as u64;
        let abstracted_before = baseline.counts.abstracted;
        let n = match config.scale {
            Scale::Factor(f) => {
                let n = (b as f64 * (f - 1.0)).trunc();
                if n < 1.0 {
                    return Err(PlanError::Flag {
                        flag: "--scale-factor",
                        message: format!(
                            "{f} makes no copies of {b} base resources (trunc({b} × ({f} − 1)) = {n}); use a factor above {}",
                            1.0 + 1.0 / b as f64
                        ),
                    });
                }
                n as u64
            }
            Scale::TargetTotal(t) => above_current(t, abstracted_before)?,
        };
        check_synthetic(n, config.scale)?;
        let mut copies: Vec<u32> = vec![0; baseline.bases.len()];
        for (k, &bi) in bases.iter().enumerate() {
            let c = n / b + u64::from((k as u64) < n % b);
            copies[bi as usize] = u32::try_from(c).map_err(|_| PlanError::Flag {
                flag: "--scale-factor",
                message: format!(
                    "{c} copies per base is more than tenantgen supports (2^32); lower the factor"
                ),
            })?;
        }
        if let Some(t) = &template {
            apply_per_type_bounds(t, baseline, &mut copies)?;
        }
        let mut prefix = Vec::with_capacity(copies.len() + 1);
        let mut acc = 0u64;
        prefix.push(0);
        for &c in &copies {
            acc += u64::from(c);
            prefix.push(acc);
        }
        let n = acc;
        if config.atg_compat && n >= u64::from(u32::MAX) / 2 {
            return Err(PlanError::Flag {
                flag: "--atg-compat",
                message: format!(
                    "{n} copies do not fit ATG's 8-hex ids; drop --atg-compat or lower the factor"
                ),
            });
        }
        let op = operation_info(&config)?;
        let replicate_names = match &template {
            Some(t)
                if !config.atg_compat
                    && t.replicate
                        .as_ref()
                        .is_some_and(|r| r.name_pattern.is_some()) =>
            {
                Some(t.compile()?)
            }
            _ => None,
        };
        let id_key = xxhash_rust::xxh3::xxh3_64_with_seed(b"tenantgen:id", config.seed);
        let id_overrides = find_collisions(baseline, id_key, n, config.atg_compat);
        let nodes = vec![plan_nodes(&config, baseline, n)?];
        let edges = plan_edges(&config, baseline, &copies)?;
        let expected = expected_counts(baseline, &nodes, &edges, &copies);
        let estimated_bytes = estimate_bytes(baseline, &copies, &edges);
        Ok(Plan {
            config,
            op,
            base_count: b,
            abstracted_before,
            synthetic: n,
            copies,
            prefix,
            id_key,
            id_overrides,
            nodes,
            edges,
            expected,
            replicate_names,
            template,
            template_plan: None,
            estimated_bytes,
        })
    }

    /// The id hex value of the copy with global index `i`.
    #[inline]
    pub fn id_value(&self, i: u64) -> u64 {
        let i = self.id_overrides.get(&i).copied().unwrap_or(i);
        if self.config.atg_compat {
            u64::from(permute32(self.id_key, i as u32))
        } else {
            permute64(self.id_key, i)
        }
    }

    /// Writes the id of copy `i` of a base with id prefix `prefix`.
    #[inline]
    pub fn push_id(&self, out: &mut Vec<u8>, prefix: &str, i: u64) {
        out.extend_from_slice(b"synthetic-");
        out.extend_from_slice(prefix.as_bytes());
        out.push(b'-');
        let v = self.id_value(i);
        if self.config.atg_compat {
            csvfmt::push_hex(out, v, 8);
        } else {
            csvfmt::push_hex16(out, v);
        }
    }

    /// The base (index into `Baseline::bases`) of global copy index `i`, and the copy number.
    pub fn locate(&self, i: u64) -> (usize, u64) {
        // `prefix` is sorted; the base is the last k with prefix[k] <= i and a copy to spare.
        let k = self.prefix.partition_point(|&p| p <= i) - 1;
        (k, i - self.prefix[k])
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
            *by_rel.entry(&g.rel_type).or_default() += g.rows();
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

fn select_bases(baseline: &Baseline, template: Option<&Template>) -> Vec<u32> {
    let spec = template.and_then(|t| t.replicate.as_ref());
    baseline
        .bases
        .iter()
        .enumerate()
        .filter(|(_, b)| spec.is_none_or(|r| r.matches(&baseline.kinds[b.kind as usize])))
        .map(|(i, _)| i as u32)
        .collect()
}

/// `Microsoft.Network/*` matches every type under that provider; otherwise exact
/// (case-insensitive, as Azure types are).
pub fn type_matches(filter: &str, ty: &str) -> bool {
    match filter.strip_suffix('*') {
        Some(prefix) => ty.len() >= prefix.len() && ty[..prefix.len()].eq_ignore_ascii_case(prefix),
        None => filter.eq_ignore_ascii_case(ty),
    }
}

fn apply_per_type_bounds(
    t: &Template,
    baseline: &Baseline,
    copies: &mut [u32],
) -> Result<(), PlanError> {
    let Some(rep) = &t.replicate else {
        return Ok(());
    };
    for (ty, bounds) in &rep.per_type {
        let members: Vec<usize> = baseline
            .bases
            .iter()
            .enumerate()
            .filter(|(_, b)| baseline.kinds[b.kind as usize].eq_ignore_ascii_case(ty))
            .map(|(i, _)| i)
            .collect();
        if members.is_empty() {
            continue;
        }
        let total: u64 = members.iter().map(|&i| u64::from(copies[i])).sum();
        let want = total.clamp(bounds.min.unwrap_or(0), bounds.max.unwrap_or(u64::MAX));
        if want == total {
            continue;
        }
        let m = members.len() as u64;
        for (pos, &i) in members.iter().enumerate() {
            copies[i] = (want / m + u64::from((pos as u64) < want % m)) as u32;
        }
    }
    Ok(())
}

fn operation_info(config: &GenerateConfig) -> Result<OperationInfo, PlanError> {
    let ts = config.timestamp.unwrap_or_else(Utc::now);
    let local = ts.with_timezone(&Local);
    let id = match &config.operation_id {
        Some(id) => {
            if id.is_empty()
                || id.len() > 128
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            {
                return Err(PlanError::Flag {
                    flag: "--operation-id",
                    message: format!(
                        "{id:?} must be 1 to 128 letters, digits, '-', '_', '.' or ':'"
                    ),
                });
            }
            id.clone()
        }
        None => {
            // The mode is part of the hash so that two runs differing only in mode get
            // different operation ids.
            let key = format!(
                "{}|{}|{}|{}",
                ts.to_rfc3339_opts(SecondsFormat::Micros, true),
                config.strategy.name(),
                config.edges.name(),
                config.atg_compat
            );
            let h = xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), config.seed);
            let when = if config.atg_compat {
                local.format("%Y%m%dT%H%M%S").to_string()
            } else {
                ts.format("%Y%m%dT%H%M%S").to_string()
            };
            format!("scale-{when}-{:08x}", h as u32)
        }
    };
    let generation_timestamp = if config.atg_compat {
        // ATG writes Python's isoformat() of local time: no zone, microseconds unless zero.
        let micros = local.timestamp_subsec_micros();
        if micros == 0 {
            local.format("%Y-%m-%dT%H:%M:%S").to_string()
        } else {
            local.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        }
    } else {
        ts.to_rfc3339_opts(SecondsFormat::Micros, true)
    };
    Ok(OperationInfo {
        id,
        timestamp: ts,
        generation_timestamp,
        strategy: if config.atg_compat {
            "template".into()
        } else {
            config.strategy.name().into()
        },
    })
}

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

fn plan_nodes(config: &GenerateConfig, baseline: &Baseline, n: u64) -> Result<OutNodes, PlanError> {
    let mut groups: Vec<u16> = baseline.bases.iter().map(|b| b.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let id_space = baseline.node_groups[groups[0] as usize]
        .meta
        .id_space
        .clone();
    let mut columns: Vec<Column> = vec![Column {
        name: "id".into(),
        kind: ColumnKind::Id {
            space: id_space.clone(),
            stored: true,
        },
    }];
    for &g in &groups {
        let data = &baseline.node_groups[g as usize];
        if data.meta.id_space != id_space {
            return Err(PlanError::Other {
                message: format!(
                    "base resources sit in two ID spaces ({id_space} and {}); put all abstracted resources in one",
                    data.meta.id_space
                ),
            });
        }
        for c in &data.header.columns {
            if !matches!(c.kind, ColumnKind::Property { .. }) || c.name == "id" {
                continue;
            }
            match columns.iter().find(|o| o.name == c.name) {
                Some(o) if o.kind != c.kind && !NODE_MARKERS.contains(&c.name.as_str()) => {
                    return Err(PlanError::Other {
                        message: format!(
                            "property {:?} has type {} in {} but {} elsewhere; give it one type",
                            c.name,
                            c.header_field(),
                            data.header_path.display(),
                            o.header_field()
                        ),
                    })
                }
                Some(_) => {}
                None => columns.push(c.clone()),
            }
        }
    }
    for m in NODE_MARKERS {
        match columns.iter_mut().find(|c| c.name == m) {
            Some(c) => *c = marker_column(m),
            None => columns.push(marker_column(m)),
        }
    }
    let header = Header { columns };
    let mut maps = HashMap::new();
    for &g in &groups {
        let data = &baseline.node_groups[g as usize];
        let map = header
            .columns
            .iter()
            .map(|c| match c.name.as_str() {
                _ if matches!(c.kind, ColumnKind::Id { .. }) => NodeCol::Id,
                "name" if !config.atg_compat && data.name_col.is_some() => NodeCol::Name,
                "synthetic" => NodeCol::Synthetic,
                "scale_operation_id" => NodeCol::OperationId,
                "generation_strategy" => NodeCol::Strategy,
                "generation_timestamp" => NodeCol::GenerationTimestamp,
                "template_source_id" => NodeCol::SourceId,
                name => data
                    .header
                    .property(name)
                    .filter(|&i| i != data.id_col)
                    .map(NodeCol::Copy)
                    .unwrap_or(NodeCol::Absent),
            })
            .collect();
        maps.insert(g, map);
    }
    let labels = if config.atg_compat {
        vec!["Resource".to_string()]
    } else {
        vec!["Resource".to_string(), "Synthetic".to_string()]
    };
    Ok(OutNodes {
        name: "synthetic.resource".into(),
        labels,
        id_space,
        header,
        source: NodeSource::Replica { columns: maps },
        rows: n,
        parts: cut_checked(n, config.part_rows)?,
    })
}

fn plan_edges(
    config: &GenerateConfig,
    baseline: &Baseline,
    copies: &[u32],
) -> Result<Vec<OutEdges>, PlanError> {
    let markers = !config.atg_compat;
    let mut by_group: BTreeMap<u16, Vec<EdgePattern>> = BTreeMap::new();
    for (ei, e) in baseline.base_edges.iter().enumerate() {
        let c = |k: u32| u64::from(copies[k as usize]);
        let rows = match (config.edges, e.start, e.end) {
            (EdgeMode::Aligned, End::Base(s), End::Base(t)) => c(s).min(c(t)),
            (EdgeMode::Aligned, End::Base(s), End::Other(_)) => c(s),
            (EdgeMode::Aligned, End::Other(_), End::Base(t)) => c(t),
            (EdgeMode::Cross, End::Base(s), End::Base(t)) => c(s) * c(t),
            _ => 0,
        };
        if rows > 0 {
            by_group.entry(e.group).or_default().push(EdgePattern {
                edge: ei as u32,
                rows,
            });
        }
    }
    let mut out = Vec::new();
    for (g, patterns) in by_group {
        let data = &baseline.rel_groups[g as usize];
        let mut columns = Vec::new();
        let mut header = Vec::new();
        for (i, c) in data.header.columns.iter().enumerate() {
            match c.kind {
                ColumnKind::StartId { .. } => columns.push(RelCol::Start),
                ColumnKind::EndId { .. } => columns.push(RelCol::End),
                ColumnKind::Property { .. }
                    if markers && (c.name == "synthetic" || c.name == "scale_operation_id") =>
                {
                    continue
                }
                ColumnKind::Property { .. } => columns.push(RelCol::Copy(i)),
                _ => continue,
            }
            header.push(c.clone());
        }
        if markers {
            header.push(marker_column("synthetic"));
            columns.push(RelCol::Synthetic);
            header.push(marker_column("scale_operation_id"));
            columns.push(RelCol::OperationId);
        }
        let mut prefix = Vec::with_capacity(patterns.len() + 1);
        let mut acc = 0;
        prefix.push(0);
        for p in &patterns {
            acc += p.rows;
            prefix.push(acc);
        }
        out.push(OutEdges {
            name: format!("synthetic.{}", data.meta.name),
            rel_type: data.meta.rel_type.clone(),
            start_space: data.meta.start_space.clone(),
            end_space: data.meta.end_space.clone(),
            header: Header { columns: header },
            columns,
            source: EdgeSource::Replica {
                base_group: g,
                patterns,
                prefix,
            },
            rows: acc,
            parts: cut_checked(acc, config.part_rows)?,
        });
    }
    Ok(out)
}

fn expected_counts(
    baseline: &Baseline,
    nodes: &[OutNodes],
    edges: &[OutEdges],
    copies: &[u32],
) -> Expected {
    let mut e = baseline.counts.clone();
    let n: u64 = copies.iter().map(|&c| u64::from(c)).sum();
    e.nodes += n;
    e.abstracted += n;
    e.synthetic += n;
    e.operation_nodes = n;
    for l in &nodes[0].labels {
        *e.by_label.entry(l.clone()).or_default() += n;
    }
    let mut op_by_type: BTreeMap<String, u64> = BTreeMap::new();
    for (b, &c) in baseline.bases.iter().zip(copies) {
        if c > 0 {
            *op_by_type
                .entry(baseline.kinds[b.kind as usize].clone())
                .or_default() += u64::from(c);
        }
    }
    let mut patterns = add_operation(&mut e, op_by_type);
    let mut rels = 0;
    for g in edges {
        let EdgeSource::Replica { patterns: pats, .. } = &g.source else {
            continue;
        };
        for p in pats {
            let edge = &baseline.base_edges[p.edge as usize];
            let kind = |end: End| match end {
                End::Base(k) => baseline.kinds[baseline.bases[k as usize].kind as usize].clone(),
                End::Other(node) => baseline.kind_name(node).to_string(),
            };
            *patterns
                .entry((kind(edge.start), g.rel_type.clone(), kind(edge.end)))
                .or_default() += p.rows;
        }
        *e.by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows();
        rels += g.rows();
    }
    e.relationships += rels;
    e.operation_relationships = rels;
    e.by_pattern = pattern_counts(patterns);
    e
}

/// Adds the operation's resources by type to the baseline's counts and hands back the
/// baseline's patterns as a map, for the operation's relationships to be added to.
fn add_operation(
    e: &mut Expected,
    op_by_type: BTreeMap<String, u64>,
) -> BTreeMap<(String, String, String), u64> {
    for (t, c) in &op_by_type {
        *e.by_type.entry(t.clone()).or_default() += c;
    }
    e.operation_by_type = op_by_type;
    e.by_pattern
        .drain(..)
        .map(|p| ((p.source, p.rel_type, p.target), p.count))
        .collect()
}

/// The pattern map as the manifest lists it.
fn pattern_counts(patterns: BTreeMap<(String, String, String), u64>) -> Vec<PatternCount> {
    patterns
        .into_iter()
        .map(|((source, rel_type, target), count)| PatternCount {
            source,
            rel_type,
            target,
            count,
        })
        .collect()
}

fn estimate_bytes(baseline: &Baseline, copies: &[u32], edges: &[OutEdges]) -> u64 {
    let mut fields = Vec::new();
    let mut total = 0u64;
    for (b, &c) in baseline.bases.iter().zip(copies) {
        if c > 0 {
            // Markers and the new id add about 120 bytes to the base's record.
            total += (baseline.base_record(b, &mut fields).len() as u64 + 120) * u64::from(c);
        }
    }
    for g in edges {
        let EdgeSource::Replica { patterns, .. } = &g.source else {
            continue;
        };
        for p in patterns {
            let rec = baseline.edge_record(&baseline.base_edges[p.edge as usize], &mut fields);
            total += (rec.len() as u64 + 90) * p.rows;
        }
    }
    total
}

/// The most synthetic resources one plan makes (ten billion: about 7 TB of CSV).
pub const MAX_SYNTHETIC: u64 = 10_000_000_000;
/// The most data parts one group is cut into.
pub const MAX_PARTS: u64 = 1_000_000;

/// [`cut`], refusing a cut into more than [`MAX_PARTS`] parts (each part is a file, and the
/// plan keeps every part's range).
fn cut_checked(rows: u64, part_rows: u64) -> Result<Vec<Range<u64>>, PlanError> {
    let parts = rows.div_ceil(part_rows.max(1));
    if parts > MAX_PARTS {
        return Err(PlanError::Flag {
            flag: "--part-rows",
            message: format!(
                "{} rows at {} rows per part make {} data parts, more than the {} tenantgen writes per group; raise --part-rows or lower the scale",
                thousands(rows),
                thousands(part_rows),
                thousands(parts),
                thousands(MAX_PARTS)
            ),
        });
    }
    Ok(cut(rows, part_rows))
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

/// Fixed part ranges: they depend on the row count and `part_rows` only, never on threads.
pub fn cut(rows: u64, part_rows: u64) -> Vec<Range<u64>> {
    let part_rows = part_rows.max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < rows {
        let end = (start + part_rows).min(rows);
        parts.push(start..end);
        start = end;
    }
    parts
}

/// Synthetic ids of this operation that would equal an id already in the baseline, each with a
/// replacement index past N (the permutation is a bijection, so replacements never collide
/// with the operation's other ids).
fn find_collisions(baseline: &Baseline, key: u64, n: u64, atg: bool) -> HashMap<u64, u64> {
    let digits = if atg { 8 } else { 16 };
    let mut taken: HashSet<u64> = HashSet::new();
    // Existing synthetic ids are the only ones of the form `synthetic-{prefix}-{hex}`; collect
    // their hex values regardless of prefix (a conservative superset of the real collisions).
    baseline.for_each_id(|id| {
        if let Some(rest) = id.strip_prefix(b"synthetic-") {
            if let Some(pos) = rest.iter().rposition(|&c| c == b'-') {
                let hex = &rest[pos + 1..];
                if hex.len() == digits {
                    if let Some(v) = std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                    {
                        taken.insert(v);
                    }
                }
            }
        }
    });
    let mut overrides = HashMap::new();
    if taken.is_empty() {
        return overrides;
    }
    let value = |i: u64| {
        if atg {
            u64::from(permute32(key, i as u32))
        } else {
            permute64(key, i)
        }
    };
    // The permutations are bijections: invert each taken value instead of scanning all N
    // indexes (N can be billions; the baseline's synthetic ids are few by comparison).
    let mut colliding: Vec<u64> = taken
        .iter()
        .filter_map(|&v| {
            if atg {
                u32::try_from(v)
                    .ok()
                    .map(|v| u64::from(unpermute32(key, v)))
            } else {
                Some(unpermute64(key, v))
            }
        })
        .filter(|&i| i < n)
        .collect();
    colliding.sort_unstable();
    let mut next = n;
    for i in colliding {
        while taken.contains(&value(next)) {
            next += 1;
        }
        overrides.insert(i, next);
        next += 1;
    }
    overrides
}

/// The multiplicative inverse of an odd `a` modulo 2^64 (Newton's iteration).
const fn inverse64(a: u64) -> u64 {
    let mut x = a;
    let mut k = 0;
    while k < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        k += 1;
    }
    x
}

/// Undoes `x ^= x >> s` on `bits`-bit words.
fn unxorshift(mut y: u64, s: u32, bits: u32) -> u64 {
    let mut x = y;
    let mut shift = s;
    while shift < bits {
        y >>= s;
        x ^= y;
        shift += s;
    }
    x
}

/// The inverse of [`permute64`].
pub fn unpermute64(key: u64, v: u64) -> u64 {
    let mut x = v ^ key.rotate_left(17);
    x = unxorshift(x, 31, 64);
    x = x.wrapping_mul(inverse64(0x94d0_49bb_1331_11eb));
    x = unxorshift(x, 27, 64);
    x = x.wrapping_mul(inverse64(0xbf58_476d_1ce4_e5b9));
    x = unxorshift(x, 30, 64);
    x ^ key
}

/// The inverse of [`permute32`].
pub fn unpermute32(key: u64, v: u32) -> u32 {
    let k = (key ^ (key >> 32)) as u32;
    let inv = |a: u32| inverse64(u64::from(a)) as u32;
    let mut x = u64::from(v ^ k.rotate_left(11));
    x = unxorshift(x, 16, 32);
    let mut x = (x as u32).wrapping_mul(inv(0xc2b2_ae35));
    x = unxorshift(u64::from(x), 13, 32) as u32;
    x = x.wrapping_mul(inv(0x85eb_ca6b));
    x = unxorshift(u64::from(x), 16, 32) as u32;
    x ^ k
}

/// A keyed bijection on u64 (splitmix64's finaliser around a key): distinct inputs give
/// distinct ids, so copies never collide with each other.
#[inline]
pub fn permute64(key: u64, i: u64) -> u64 {
    let mut x = i ^ key;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x ^ key.rotate_left(17)
}

/// The 32-bit counterpart (murmur3's finaliser around a key), for ATG's 8-hex ids.
#[inline]
pub fn permute32(key: u64, i: u32) -> u32 {
    let k = (key ^ (key >> 32)) as u32;
    let mut x = i ^ k;
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    x = x.wrapping_mul(0xc2b2_ae35);
    x ^= x >> 16;
    x ^ k.rotate_left(11)
}

/// `18414` → `18,414`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_bijective_on_a_sample() {
        let mut seen = HashSet::new();
        for i in 0..200_000u64 {
            assert!(seen.insert(permute64(42, i)));
        }
        let mut seen32 = HashSet::new();
        for i in 0..200_000u32 {
            assert!(seen32.insert(permute32(42, i)));
        }
    }

    #[test]
    fn permutations_invert() {
        for key in [0u64, 42, 0xdead_beef_1234_5678, u64::MAX] {
            for i in [0u64, 1, 2, 77, 1 << 31, (1 << 32) - 1, 1 << 40, u64::MAX] {
                assert_eq!(unpermute64(key, permute64(key, i)), i, "key {key} i {i}");
                let i32_ = i as u32;
                assert_eq!(
                    unpermute32(key, permute32(key, i32_)),
                    i32_,
                    "key {key} i {i}"
                );
            }
        }
    }

    #[test]
    fn parts_cover_rows_exactly() {
        assert_eq!(cut(0, 10), Vec::<Range<u64>>::new());
        assert_eq!(cut(25, 10), vec![0..10, 10..20, 20..25]);
        assert_eq!(cut(10, 10), vec![0..10]);
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(18414), "18,414");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn type_filters() {
        assert!(type_matches(
            "Microsoft.Network/*",
            "Microsoft.Network/virtualNetworks"
        ));
        assert!(type_matches(
            "microsoft.compute/virtualmachines",
            "Microsoft.Compute/virtualMachines"
        ));
        assert!(!type_matches(
            "Microsoft.Network/*",
            "Microsoft.Compute/disks"
        ));
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

/// Resources per generated resource group.
pub const ROWS_PER_RESOURCE_GROUP: u64 = 100;

impl Plan {
    /// Builds the plan for the template strategy.
    fn from_template(
        config: GenerateConfig,
        baseline: &Baseline,
        t: Template,
    ) -> Result<Plan, PlanError> {
        if t.resources.is_empty() {
            return Err(PlanError::Other {
                message: format!(
                    "template {} has no `resources`; the template strategy makes rows from them (or use --strategy replicate)",
                    t.path.display()
                ),
            });
        }
        let compiled = t.compile()?;
        let abstracted_before = baseline.counts.abstracted;
        let base: Vec<u64> = t.resources.iter().map(|r| r.count).collect();
        let total: u64 = base.iter().sum();
        let want = match config.scale {
            Scale::Factor(f) => {
                if !f.is_finite() || f <= 0.0 {
                    return Err(PlanError::Flag {
                        flag: "--scale-factor",
                        message: format!("{f} must be a positive number for the template strategy"),
                    });
                }
                (total as f64 * f).round() as u64
            }
            Scale::TargetTotal(t) => above_current(t, abstracted_before)?,
        };
        check_synthetic(want, config.scale)?;
        if want == 0 {
            return Err(PlanError::Flag {
                flag: "--scale-factor",
                message: "the template would make no resources; raise the factor".into(),
            });
        }
        let counts = apportion(&base, want);
        let mut prefix = vec![0u64];
        for c in &counts {
            prefix.push(prefix.last().copied().unwrap_or(0) + c);
        }
        let n = want;
        let op = operation_info(&config)?;
        let id_key = xxhash_rust::xxh3::xxh3_64_with_seed(b"tenantgen:template-id", config.seed);
        let id_overrides = find_collisions(baseline, id_key, n, config.atg_compat);
        let space_of = |label: &str, default: &str| {
            baseline
                .node_groups
                .iter()
                .find(|g| g.meta.labels.len() == 1 && g.meta.labels[0] == label)
                .map(|g| g.meta.id_space.clone())
                .unwrap_or_else(|| default.to_string())
        };
        let res_space = baseline
            .bases
            .first()
            .map(|b| baseline.node_groups[b.group as usize].meta.id_space.clone())
            .unwrap_or_else(|| space_of("Resource", "Resource"));
        let rg_space = space_of("ResourceGroup", "ResourceGroup");
        let region_space = space_of("Region", "Region");
        let tag_space = space_of("Tag", "Tag");
        let subscription_id = t
            .config
            .subscription_id
            .clone()
            .or_else(|| baseline.first_id("Subscription"))
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
        let tenant_id = t
            .config
            .tenant_id
            .clone()
            .or_else(|| baseline.first_id("Tenant"))
            .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());

        // Resource groups: one per ROWS_PER_RESOURCE_GROUP rows, named by the pattern with
        // `index` = the group number.
        let groups = n.div_ceil(ROWS_PER_RESOURCE_GROUP);
        let mut rg_names = Vec::with_capacity(groups as usize);
        let mut rg_ids = Vec::with_capacity(groups as usize);
        let mut rg_new = Vec::new();
        let mut seen = HashSet::new();
        let mut name = String::new();
        for g in 0..groups {
            name.clear();
            let vars = template::RowVars {
                index: g,
                subscription_id: &subscription_id,
                tenant_id: &tenant_id,
                random_location: &t.config.random_locations[0],
                location: &t.config.random_locations[0],
                ..Default::default()
            };
            if !compiled.render_resource_group(&vars, &mut name)? {
                name = format!("rg-tenantgen-{g:05}");
            }
            let id = format!("/subscriptions/{subscription_id}/resourceGroups/{name}");
            if !baseline.contains_id(&rg_space, id.as_bytes()) && seen.insert(id.clone()) {
                rg_new.push(g as u32);
            }
            rg_names.push(name.clone());
            rg_ids.push(id);
        }

        let locations: Vec<LocationMode> = t
            .resources
            .iter()
            .map(|r| match r.template.location.as_deref() {
                None => LocationMode::Random,
                Some(l) if l.replace(' ', "") == "{{random_location}}" => LocationMode::Random,
                Some(l) if !l.contains('{') && !l.is_empty() => {
                    LocationMode::Literal(l.to_string())
                }
                Some(_) => LocationMode::Computed,
            })
            .collect();
        let mut tp = TemplatePlan {
            compiled,
            counts: counts.clone(),
            prefix: prefix.clone(),
            locations,
            random_locations: t.config.random_locations.clone(),
            subscription_id,
            tenant_id,
            rows_per_group: ROWS_PER_RESOURCE_GROUP,
            rg_names,
            rg_ids,
            rg_new,
            regions_new: Vec::new(),
            located: Vec::new(),
            located_prefix: vec![0],
            tag: None,
            tag_is_new: false,
            rules: Vec::new(),
            template_name: t
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        // Rows per region code (random picks are hashed per row, so count them here).
        let mut per_region: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (r, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            match tp.locations[r].clone() {
                LocationMode::Random => {
                    let mut local: HashMap<&str, u64> = HashMap::new();
                    for i in prefix[r]..prefix[r + 1] {
                        *local.entry(tp.random_location(config.seed, i)).or_default() += 1;
                    }
                    for (code, k) in local {
                        per_region
                            .entry(code.to_string())
                            .or_insert_with(|| vec![0; counts.len()])[r] += k;
                    }
                }
                LocationMode::Literal(code) => {
                    per_region
                        .entry(code)
                        .or_insert_with(|| vec![0; counts.len()])[r] += c;
                }
                LocationMode::Computed => continue,
            }
            tp.located.push(r);
            let last = *tp.located_prefix.last().unwrap_or(&0);
            tp.located_prefix.push(last + c);
        }
        tp.regions_new = per_region
            .keys()
            .filter(|code| !baseline.contains_id(&region_space, code.as_bytes()))
            .cloned()
            .collect();
        if let Some(prefix_tag) = &t.config.tag_prefix {
            let id = format!("{prefix_tag}:{}", op.id);
            tp.tag_is_new = !baseline.contains_id(&tag_space, id.as_bytes());
            tp.tag = Some((id, prefix_tag.clone(), op.id.clone()));
        }
        let entry_of = |ty: &str| {
            t.resources
                .iter()
                .position(|r| r.type_name.eq_ignore_ascii_case(ty))
        };
        let mut rule_rows = Vec::new();
        for (k, rule) in t.relationships.iter().enumerate() {
            let (Some(s), Some(d)) = (entry_of(&rule.source_type), entry_of(&rule.target_type))
            else {
                return Err(PlanError::Other {
                    message: format!(
                        "{}: relationships[{k}] names a type that is not in resources; fix the template",
                        t.path.display()
                    ),
                });
            };
            tp.rules.push((s, d));
            let rows = if counts[d] == 0 {
                0
            } else {
                (counts[s] as f64 * rule.ratio).floor() as u64
            };
            rule_rows.push(rows);
        }

        // Output groups.
        let markers = !config.atg_compat;
        let prop = |name: &str, ty: ValueType| Column {
            name: name.into(),
            kind: ColumnKind::Property { ty, array: false },
        };
        let id_col = |space: &str| Column {
            name: "id".into(),
            kind: ColumnKind::Id {
                space: space.into(),
                stored: true,
            },
        };
        let with_markers = |mut cols: Vec<Column>, source: bool| {
            for m in NODE_MARKERS {
                if m != "template_source_id" || source {
                    cols.push(marker_column(m));
                }
            }
            Header { columns: cols }
        };
        let mut cols = vec![id_col(&res_space)];
        for k in [
            "name",
            "type",
            "location",
            "properties",
            "tags",
            "sku",
            "kind",
            "plan",
            "subscription_id",
            "resource_group",
            "tenant_id",
        ] {
            cols.push(prop(k, ValueType::String));
        }
        let labels = if config.atg_compat {
            vec!["Resource".to_string()]
        } else {
            vec!["Resource".to_string(), "Synthetic".to_string()]
        };
        let part = |rows: u64| cut_checked(rows, config.part_rows);
        let mut nodes = vec![OutNodes {
            name: "synthetic.template".into(),
            labels: labels.clone(),
            id_space: res_space.clone(),
            header: with_markers(cols, true),
            source: NodeSource::Template,
            rows: n,
            parts: part(n)?,
        }];
        let hier = |name: &str,
                    label: &str,
                    space: &str,
                    extra: &[&str],
                    rows: u64,
                    source: NodeSource| {
            let mut cols = vec![id_col(space)];
            for k in extra {
                cols.push(prop(k, ValueType::String));
            }
            OutNodes {
                name: name.into(),
                labels: vec![label.to_string()],
                id_space: space.into(),
                header: with_markers(cols, false),
                source,
                rows,
                parts: cut(rows, config.part_rows),
            }
        };
        if !tp.rg_new.is_empty() {
            nodes.push(hier(
                "synthetic.resourcegroup",
                "ResourceGroup",
                &rg_space,
                &["name", "subscription_id", "type"],
                tp.rg_new.len() as u64,
                NodeSource::ResourceGroups,
            ));
        }
        if !tp.regions_new.is_empty() {
            nodes.push(hier(
                "synthetic.region",
                "Region",
                &region_space,
                &["code", "name"],
                tp.regions_new.len() as u64,
                NodeSource::Regions,
            ));
        }
        if tp.tag.is_some() && tp.tag_is_new {
            nodes.push(hier(
                "synthetic.tag",
                "Tag",
                &tag_space,
                &["key", "value"],
                1,
                NodeSource::Tag,
            ));
        }
        let edge =
            |name: String, rel: &str, start: &str, end: &str, rows: u64, source: EdgeSource| {
                let mut columns = vec![RelCol::Start, RelCol::End];
                let mut header = vec![
                    Column {
                        name: String::new(),
                        kind: ColumnKind::StartId {
                            space: start.into(),
                        },
                    },
                    Column {
                        name: String::new(),
                        kind: ColumnKind::EndId { space: end.into() },
                    },
                ];
                if markers {
                    header.push(marker_column("synthetic"));
                    header.push(marker_column("scale_operation_id"));
                    columns.extend([RelCol::Synthetic, RelCol::OperationId]);
                }
                OutEdges {
                    name,
                    rel_type: rel.into(),
                    start_space: start.into(),
                    end_space: end.into(),
                    header: Header { columns: header },
                    columns,
                    source,
                    rows,
                    parts: cut(rows, config.part_rows),
                }
            };
        let lower = |s: &str| s.to_ascii_lowercase();
        let mut edges = vec![edge(
            format!(
                "synthetic.contains.{}.{}",
                lower(&rg_space),
                lower(&res_space)
            ),
            "CONTAINS",
            &rg_space,
            &res_space,
            n,
            EdgeSource::Contains,
        )];
        let located_rows = *tp.located_prefix.last().unwrap_or(&0);
        if located_rows > 0 {
            edges.push(edge(
                format!(
                    "synthetic.located_in.{}.{}",
                    lower(&res_space),
                    lower(&region_space)
                ),
                "LOCATED_IN",
                &res_space,
                &region_space,
                located_rows,
                EdgeSource::LocatedIn,
            ));
        }
        if tp.tag.is_some() {
            edges.push(edge(
                format!(
                    "synthetic.tagged_with.{}.{}",
                    lower(&res_space),
                    lower(&tag_space)
                ),
                "TAGGED_WITH",
                &res_space,
                &tag_space,
                n,
                EdgeSource::TaggedWith,
            ));
        }
        for (k, rule) in t.relationships.iter().enumerate() {
            if rule_rows[k] > 0 {
                edges.push(edge(
                    format!("synthetic.rule-{k}.{}", lower(&rule.relationship_type)),
                    &rule.relationship_type,
                    &res_space,
                    &res_space,
                    rule_rows[k],
                    EdgeSource::Rule(k),
                ));
            }
        }

        // Expected counts.
        let mut e = baseline.counts.clone();
        let hier_nodes: u64 = nodes[1..].iter().map(|g| g.rows).sum();
        e.nodes += n + hier_nodes;
        e.abstracted += n;
        e.synthetic += n + hier_nodes;
        e.operation_nodes = n;
        for g in &nodes {
            for l in &g.labels {
                *e.by_label.entry(l.clone()).or_default() += g.rows;
            }
        }
        let mut op_by_type = BTreeMap::new();
        for (r, &c) in counts.iter().enumerate() {
            if c > 0 {
                *op_by_type
                    .entry(t.resources[r].type_name.clone())
                    .or_insert(0) += c;
            }
        }
        let mut patterns = add_operation(&mut e, op_by_type);
        let mut add = |s: &str, rel: &str, d: &str, c: u64| {
            if c > 0 {
                *patterns
                    .entry((s.to_string(), rel.to_string(), d.to_string()))
                    .or_default() += c;
            }
        };
        let existing_kind = |space: &str, id: &str, new_kind: &str| -> String {
            baseline
                .space(space)
                .and_then(|s| baseline.lookup(s, id.as_bytes()))
                .map(|node| baseline.kind_name(node).to_string())
                .unwrap_or_else(|| new_kind.to_string())
        };
        for (r, &c) in counts.iter().enumerate() {
            let ty = &t.resources[r].type_name;
            // CONTAINS from each resource group to the rows it holds.
            let (lo, hi) = (prefix[r], prefix[r] + c);
            let mut g = lo / ROWS_PER_RESOURCE_GROUP;
            while g * ROWS_PER_RESOURCE_GROUP < hi {
                let from = lo.max(g * ROWS_PER_RESOURCE_GROUP);
                let to = hi.min((g + 1) * ROWS_PER_RESOURCE_GROUP);
                let kind = existing_kind(&rg_space, &tp.rg_ids[g as usize], "ResourceGroup");
                add(&kind, "CONTAINS", ty, to - from);
                g += 1;
            }
            if let Some((id, _, _)) = &tp.tag {
                add(ty, "TAGGED_WITH", &existing_kind(&tag_space, id, "Tag"), c);
            }
        }
        for (code, per_entry) in &per_region {
            let kind = existing_kind(&region_space, code, "Region");
            for (r, &c) in per_entry.iter().enumerate() {
                add(&t.resources[r].type_name, "LOCATED_IN", &kind, c);
            }
        }
        for (k, rule) in t.relationships.iter().enumerate() {
            let (s, d) = tp.rules[k];
            add(
                &t.resources[s].type_name,
                &rule.relationship_type,
                &t.resources[d].type_name,
                rule_rows[k],
            );
        }
        let rels: u64 = edges.iter().map(|g| g.rows).sum();
        for g in &edges {
            *e.by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows;
        }
        e.relationships += rels;
        e.operation_relationships = rels;
        e.by_pattern = pattern_counts(patterns);
        let estimated_bytes = n * 700 + rels * 120 + hier_nodes * 200;
        Ok(Plan {
            config,
            op,
            base_count: baseline.counts.real_abstracted,
            abstracted_before,
            synthetic: n,
            copies: Vec::new(),
            prefix: vec![0],
            id_key,
            id_overrides,
            nodes,
            edges,
            expected: e,
            template: Some(t),
            template_plan: Some(tp),
            replicate_names: None,
            estimated_bytes,
        })
    }
}

/// Splits `total` over entries in proportion to `weights`, exactly (largest remainder; ties to
/// the earlier entry).
pub fn apportion(weights: &[u64], total: u64) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut out: Vec<u64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = u128::from(w) * u128::from(total);
        out.push((exact / u128::from(sum)) as u64);
        rems.push((exact % u128::from(sum), i));
    }
    let short = total - out.iter().sum::<u64>();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rems.iter().take(short as usize) {
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod apportion_tests {
    use super::apportion;

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(apportion(&[1, 1, 1], 10), vec![4, 3, 3]);
        assert_eq!(apportion(&[250, 750], 2000), vec![500, 1500]);
        assert_eq!(apportion(&[3, 0, 7], 1), vec![0, 0, 1]);
        assert_eq!(apportion(&[5], 0), vec![0]);
        let v = apportion(&[7, 13, 29, 1], 12345);
        assert_eq!(v.iter().sum::<u64>(), 12345);
    }
}
