//! Planning: from the validated configuration, the baseline index and (optionally) a template,
//! decide exactly what will be generated: how many rows each strategy makes and from what, the
//! output groups with their headers, how they are cut into parts, the synthetic ids that would
//! collide with the baseline, and the counts the finished graph must show. Nothing is written
//! here; `--dry-run` prints a plan and stops.
//!
//! This file holds the output-group model both strategies fill and [`Plan`] itself; the
//! strategies are [`replicate`] and [`template`], the counts `expected`, ids and part ranges
//! [`ids`]. Flag rules that need no baseline are `config`'s.
//!
//! Domain words: the *base* is the real abstracted resources (`:Resource`, not `:Original`, not
//! synthetic), in baseline file order; every generated row has a *global index* within its
//! strategy's rows, and every value derives from (seed, global index).

mod expected;
pub mod ids;
pub mod links;
pub mod replicate;
pub mod template;
pub mod topology;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Range;

use crate::baseline::Baseline;
use crate::config::{ConfigError, GenerateConfig, OperationInfo, Scale, Strategy};
use crate::format::header::{Column, ColumnKind, Header, ValueType};
use crate::manifest::Expected;
use crate::report::{human_bytes, thousands};

pub use ids::{cut, SyntheticIds, MAX_PARTS};
pub use replicate::ReplicatePlan;
pub use template::{apportion, LocationMode, TemplatePlan, ROWS_PER_RESOURCE_GROUP};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error("the plan's graph would hold {estimate} {what}, more than the {limit} a Neo4j store of the aligned format holds (Neo4j 5.26 Community has only that format; the block format, which goes further, is Enterprise-only): lower --scale-factor or --target-total, or split the tenant into several databases")]
    StoreLimit {
        what: &'static str,
        estimate: String,
        limit: String,
    },
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
    /// Subscription → each new resource group of a template plan.
    SubscriptionContains,
    /// Replicate copies → copies of the bases their base references by Azure id.
    Referenced(Box<links::Referenced>),
    /// Replicate copies → their base's resource group, region or tags.
    Linked(Box<links::Links>),
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
    /// Boxed: it is much larger than the replicate decisions, and a plan holds one.
    Template(Box<TemplatePlan>),
}

/// Everything `generate` needs, decided up front.
pub struct Plan {
    pub config: GenerateConfig,
    pub op: OperationInfo,
    /// Real abstracted resources in the baseline (B; for replicate, those copied from).
    pub base_count: u64,
    /// Abstracted resources before the operation (real and earlier synthetic).
    pub abstracted_before: u64,
    /// The baseline's real abstracted resources (the rest of `abstracted_before` are earlier
    /// operations' synthetic ones).
    pub real_before: u64,
    /// New synthetic resources (N).
    pub synthetic: u64,
    pub ids: SyntheticIds,
    pub nodes: Vec<OutNodes>,
    pub edges: Vec<OutEdges>,
    pub expected: Expected,
    pub source: Source,
    pub estimated_bytes: u64,
    /// One line each: a decision the plan took that the flags alone do not show (a template's
    /// `metadata.scale_target` reached, its `baseline_count` overruled).
    pub notes: Vec<String>,
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
        if let Some(t) = &template {
            config.strategy.check_sections(
                &t.path,
                !t.resources.is_empty(),
                t.replicate.is_some(),
            )?;
        }
        let warnings = template
            .as_ref()
            .map(|t| t.warnings.clone())
            .unwrap_or_default();
        let mut plan = match (config.strategy, template) {
            (Strategy::Template, Some(t)) => template::plan(config, baseline, t),
            // `config` refuses this combination; a caller that built the config by hand gets
            // the same error.
            (Strategy::Template, None) => Err(ConfigError::TemplateStrategyNeedsTemplate.into()),
            (Strategy::Replicate, t) => replicate::plan(config, baseline, t.as_ref()),
        }?;
        // The template's warnings go out on the plan's one channel of notes.
        plan.notes.extend(warnings);
        check_store_limit(&plan.expected)?;
        Ok(plan)
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
            "plan: {} ({scale}), seed {}, edges {}{}{}",
            c.strategy.name(),
            c.seed,
            c.edges.name(),
            if c.atg_compat { ", ATG-compatible" } else { "" },
            if c.links { "" } else { ", no hierarchy links" }
        );
        for note in &self.notes {
            let _ = writeln!(s, "  note: {note}");
        }
        let _ = writeln!(
            s,
            "  operation {} at {}",
            self.op.id, self.op.generation_timestamp
        );
        // The abstracted count before can hold earlier operations' copies besides the real
        // resources; the headline names both so the arithmetic adds up.
        let earlier = self.abstracted_before.saturating_sub(self.real_before);
        let _ = writeln!(
            s,
            "  abstracted {} ({} real{}) → +{} synthetic → {}",
            thousands(self.abstracted_before),
            thousands(self.real_before),
            if earlier > 0 {
                format!(", {} earlier synthetic", thousands(earlier))
            } else {
                String::new()
            },
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
        if let Source::Template(tp) = &self.source {
            let lines = &tp.topology.lines;
            if !lines.is_empty() {
                let _ = writeln!(s, "  relationship rules ({}, edges each):", lines.len());
                for line in lines {
                    let _ = writeln!(s, "    {line}");
                }
            }
        }
        let mut top: Vec<(&String, &u64)> = e.operation_by_type.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(
            s,
            "  new nodes by type ({} types; resource groups, regions and tags included):",
            top.len()
        );
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

/// A synthetic relationship group: the two ends, then the markers unless ATG-compatible.
pub(super) fn edge_group(
    config: &GenerateConfig,
    name: String,
    rel: &str,
    (start, end): (&str, &str),
    rows: u64,
    source: EdgeSource,
) -> OutEdges {
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
    if !config.atg_compat {
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

/// Nodes, and relationships, one store of the `aligned` format holds (2^35, "34 billion" in
/// Neo4j's operations manual). Neo4j 5.26 Community has no other format: `block` (beyond it)
/// is Enterprise-only, so tenantgen, which imports into Community, refuses a larger graph.
pub const ALIGNED_LIMIT: u64 = 1 << 35;

/// Refuses a plan whose whole graph (baseline included) exceeds [`ALIGNED_LIMIT`].
pub fn check_store_limit(e: &Expected) -> Result<(), PlanError> {
    for (what, n) in [("nodes", e.nodes), ("relationships", e.relationships)] {
        if n > ALIGNED_LIMIT {
            return Err(PlanError::StoreLimit {
                what,
                estimate: thousands(n),
                limit: thousands(ALIGNED_LIMIT),
            });
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    //! Table tests: for a small baseline built in memory, each strategy and scale form gives
    //! the expected rows per type and per pattern.

    #[test]
    fn graphs_beyond_the_aligned_format_are_refused_with_the_estimate() {
        let mut e = crate::manifest::Expected {
            nodes: super::ALIGNED_LIMIT,
            relationships: super::ALIGNED_LIMIT,
            ..Default::default()
        };
        assert!(super::check_store_limit(&e).is_ok());
        e.relationships = 40_000_000_000;
        let m = super::check_store_limit(&e).unwrap_err().to_string();
        assert!(
            m.starts_with("the plan's graph would hold 40,000,000,000 relationships, more than the 34,359,738,368")
                && m.contains("block format")
                && m.contains("Enterprise"),
            "{m}"
        );
        e.nodes = super::ALIGNED_LIMIT + 1;
        let m = super::check_store_limit(&e).unwrap_err().to_string();
        assert!(m.contains("34,359,738,369 nodes"), "{m}");
    }

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::baseline::{MemNodes, MemRels};
    use crate::config::{parse_timestamp, EdgeMode, DEFAULT_PART_ROWS};

    const VNET: &str = "Microsoft.Network/virtualNetworks";
    const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets";
    const VM: &str = "Microsoft.Compute/virtualMachines";
    const DISK: &str = "Microsoft.Compute/disks";

    /// Three real resources (a VNet containing a subnet, a VM), one resource group containing
    /// the VNet.
    fn baseline() -> Baseline {
        Baseline::from_memory(
            &[
                MemNodes {
                    labels: &["Resource"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type,location",
                    rows: "vnet-1,vnet-one,Microsoft.Network/virtualNetworks,eastus\n\
                           subnet-1,subnet-one,Microsoft.Network/virtualNetworks/subnets,eastus\n\
                           vm-1,vm-one,Microsoft.Compute/virtualMachines,westus\n",
                },
                MemNodes {
                    labels: &["ResourceGroup"],
                    id_space: "ResourceGroup",
                    header: "id:ID(ResourceGroup),name",
                    rows: "/subscriptions/s/resourceGroups/rg-1,rg-1\n",
                },
            ],
            &[
                MemRels {
                    rel_type: "CONTAINS",
                    start_space: "Resource",
                    end_space: "Resource",
                    header: ":START_ID(Resource),:END_ID(Resource)",
                    rows: "vnet-1,subnet-1\n",
                },
                MemRels {
                    rel_type: "CONTAINS",
                    start_space: "ResourceGroup",
                    end_space: "Resource",
                    header: ":START_ID(ResourceGroup),:END_ID(Resource)",
                    rows: "/subscriptions/s/resourceGroups/rg-1,vnet-1\n",
                },
            ],
        )
        .expect("the in-memory baseline is valid")
    }

    fn config(strategy: Strategy, scale: Scale, edges: EdgeMode) -> GenerateConfig {
        GenerateConfig {
            baseline: PathBuf::from("mem"),
            template: None,
            strategy,
            scale,
            scale_given: true,
            seed: 42,
            edges,
            atg_compat: false,
            links: true,
            operation_id: Some("op-test".into()),
            timestamp: Some(parse_timestamp("2025-11-15T21:17:00Z").unwrap()),
            part_rows: DEFAULT_PART_ROWS,
        }
    }

    fn template(src: &str) -> crate::template::Template {
        crate::template::parse_template_str(src, Path::new("t.yaml")).expect("valid template")
    }

    fn replicate(scale: Scale, edges: EdgeMode, t: Option<&str>) -> Result<Plan, PlanError> {
        let t = t.map(template);
        let c = config(Strategy::Replicate, scale, edges);
        replicate::plan(c, &baseline(), t.as_ref())
    }

    fn from_template(scale: Scale, src: &str) -> Result<Plan, PlanError> {
        let c = config(Strategy::Template, scale, EdgeMode::Aligned);
        template::plan(c, &baseline(), template(src))
    }

    /// The operation's share of each pattern (`source -TYPE-> target`).
    fn op_patterns(plan: &Plan) -> BTreeMap<String, u64> {
        let before: BTreeMap<String, u64> = baseline()
            .counts
            .by_pattern
            .iter()
            .map(|p| {
                (
                    format!("{} -{}-> {}", p.source, p.rel_type, p.target),
                    p.count,
                )
            })
            .collect();
        plan.expected
            .by_pattern
            .iter()
            .map(|p| {
                let k = format!("{} -{}-> {}", p.source, p.rel_type, p.target);
                let n = p.count - before.get(&k).copied().unwrap_or(0);
                (k, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn by_type(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn patterns(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        by_type(pairs)
    }

    fn copies(plan: &Plan) -> Vec<u32> {
        match &plan.source {
            Source::Replicate(rp) => rp.copies.clone(),
            Source::Template(_) => panic!("a template plan"),
        }
    }

    #[test]
    fn replicate_table() {
        let vnet_subnet = format!("{VNET} -CONTAINS-> {SUBNET}");
        let rg_vnet = format!("ResourceGroup -CONTAINS-> {VNET}");
        struct Case {
            name: &'static str,
            scale: Scale,
            edges: EdgeMode,
            copies: [u32; 3],
            types: Vec<(&'static str, u64)>,
            patterns: Vec<(String, u64)>,
        }
        let cases = [
            Case {
                name: "factor 10, aligned: 9 copies per base",
                scale: Scale::Factor(10.0),
                edges: EdgeMode::Aligned,
                copies: [9, 9, 9],
                types: vec![(VNET, 9), (SUBNET, 9), (VM, 9)],
                patterns: vec![(vnet_subnet.clone(), 9), (rg_vnet.clone(), 9)],
            },
            Case {
                name: "factor 10, cross: copies × copies; a kept end becomes a hierarchy link",
                scale: Scale::Factor(10.0),
                edges: EdgeMode::Cross,
                copies: [9, 9, 9],
                types: vec![(VNET, 9), (SUBNET, 9), (VM, 9)],
                patterns: vec![(vnet_subnet.clone(), 81), (rg_vnet.clone(), 9)],
            },
            Case {
                name: "factor just above 1: one copy, of a whole linked group (the lone VM, not a VNet without its subnet)",
                scale: Scale::Factor(1.34),
                edges: EdgeMode::Aligned,
                copies: [0, 0, 1],
                types: vec![(VM, 1)],
                patterns: vec![],
            },
            Case {
                name: "target total 10: 7 new, 2 each and the extra to a whole group",
                scale: Scale::TargetTotal(10),
                edges: EdgeMode::Aligned,
                copies: [2, 2, 3],
                types: vec![(VNET, 2), (SUBNET, 2), (VM, 3)],
                patterns: vec![(vnet_subnet.clone(), 2), (rg_vnet.clone(), 2)],
            },
            Case {
                name: "target one above the baseline",
                scale: Scale::TargetTotal(4),
                edges: EdgeMode::Aligned,
                copies: [0, 0, 1],
                types: vec![(VM, 1)],
                patterns: vec![],
            },
        ];
        for c in cases {
            let plan =
                replicate(c.scale, c.edges, None).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let n: u64 = c.copies.iter().map(|&k| u64::from(k)).sum();
            assert_eq!(copies(&plan), c.copies, "{}", c.name);
            assert_eq!(plan.synthetic, n, "{}", c.name);
            assert_eq!(plan.expected.operation_nodes, n, "{}", c.name);
            assert_eq!(plan.expected.abstracted, 3 + n, "{}", c.name);
            assert_eq!(
                plan.expected.operation_by_type,
                by_type(&c.types),
                "{}",
                c.name
            );
            let want: BTreeMap<String, u64> = c.patterns.into_iter().collect();
            assert_eq!(op_patterns(&plan), want, "{}", c.name);
            let rels: u64 = want.values().sum();
            assert_eq!(plan.expected.operation_relationships, rels, "{}", c.name);
            assert_eq!(plan.expected.relationships, 2 + rels, "{}", c.name);
        }
    }

    #[test]
    fn replicate_refusals_name_the_flag() {
        let cases = [
            (
                Scale::Factor(1.2),
                "--scale-factor: 1.2 makes no copies of 3 base resources",
            ),
            (
                Scale::TargetTotal(3),
                "--target-total: 3 is not above the current abstracted count 3",
            ),
            (
                Scale::Factor(1e10),
                "--scale-factor: 10000000000 asks for 29,999,999,997 synthetic resources",
            ),
        ];
        for (scale, want) in cases {
            let e = replicate(scale, EdgeMode::Aligned, None)
                .err()
                .expect("refused");
            assert!(e.to_string().starts_with(want), "{scale:?}: {e}");
        }
    }

    #[test]
    fn replicate_type_filters_and_bounds() {
        let network = "replicate:\n  types: [\"Microsoft.Network/*\"]\n";
        let plan = replicate(Scale::Factor(10.0), EdgeMode::Aligned, Some(network)).unwrap();
        assert_eq!(copies(&plan), [9, 9, 0]);
        assert_eq!(
            plan.expected.operation_by_type,
            by_type(&[(VNET, 9), (SUBNET, 9)])
        );

        let bounded = format!("replicate:\n  per_type: {{ \"{SUBNET}\": {{ max: 4 }} }}\n");
        let plan = replicate(Scale::Factor(10.0), EdgeMode::Aligned, Some(&bounded)).unwrap();
        assert_eq!(copies(&plan), [9, 4, 9]);
        assert_eq!(
            op_patterns(&plan),
            patterns(&[
                (&format!("{VNET} -CONTAINS-> {SUBNET}"), 4),
                (&format!("ResourceGroup -CONTAINS-> {VNET}"), 9),
            ])
        );

        let nothing = "replicate:\n  types: [\"Microsoft.Storage/*\"]\n";
        let e = replicate(Scale::Factor(10.0), EdgeMode::Aligned, Some(nothing))
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .starts_with("the template's replicate.types filter matches none"),
            "{e}"
        );
    }

    const TEMPLATE: &str = "config:\n  random_locations: [eastus]\n  tag_prefix: t\n  resources_per_group: 100\n\
        resources:\n\
        \x20 - { type: Microsoft.Compute/disks, count: 3, template: { name_pattern: \"d-{index}\" } }\n\
        \x20 - { type: Microsoft.Compute/virtualMachines, count: 1, template: { name_pattern: \"v-{index}\", location: westus } }\n\
        relationships:\n\
        \x20 - { source_type: Microsoft.Compute/disks, target_type: Microsoft.Compute/virtualMachines, relationship_type: ATTACHED_TO, connection_ratio: 0.5 }\n";

    #[test]
    fn scale_target_is_reached_exactly_when_no_scale_flag_is_given() {
        let before = baseline().counts.abstracted;
        let src = format!(
            "metadata:\n  scale_target: {}\n  baseline_count: 999\n{TEMPLATE}",
            before + 10
        );
        let mut c = config(Strategy::Template, Scale::Factor(1.0), EdgeMode::Aligned);
        c.scale_given = false;
        let plan = template::plan(c.clone(), &baseline(), template(&src)).unwrap();
        assert_eq!(plan.synthetic, 10);
        assert_eq!(plan.config.scale, Scale::TargetTotal(before + 10));
        assert_eq!(
            plan.notes,
            vec![
                format!("metadata.baseline_count 999 differs from the baseline's {before} abstracted resources; the plan counts from the baseline's {before}, the graph it adds to"),
                format!("template counts 4 scaled to reach metadata.scale_target {}; pass --scale-factor 1 to keep the counts as written", before + 10),
            ]
        );
        assert!(plan
            .describe()
            .contains("\n  note: template counts 4 scaled"));
        // A scale flag wins over the template.
        c.scale_given = true;
        let plan = template::plan(c.clone(), &baseline(), template(&src)).unwrap();
        assert_eq!(plan.synthetic, 4);
        // A target the baseline already reaches is refused, naming the key.
        let low = format!("metadata:\n  scale_target: {before}\n{TEMPLATE}");
        c.scale_given = false;
        let e = template::plan(c, &baseline(), template(&low))
            .err()
            .expect("refused");
        assert!(e.to_string().contains("metadata.scale_target"), "{e}");
    }

    #[test]
    fn template_table() {
        // (scale, disks, vms): counts are apportioned exactly, ties to the earlier entry.
        let cases = [
            (Scale::Factor(1.0), 3, 1),
            (Scale::Factor(2.5), 8, 2),
            (Scale::TargetTotal(13), 8, 2),
            (Scale::TargetTotal(4), 1, 0),
        ];
        for (scale, disks, vms) in cases {
            let plan = from_template(scale, TEMPLATE).unwrap_or_else(|e| panic!("{scale:?}: {e}"));
            let n = disks + vms;
            assert_eq!(plan.synthetic, n, "{scale:?}");
            // One new resource group, the tag, and the regions not in the baseline: all
            // nodes of the operation, each of the kind of its label.
            let regions = 1 + u64::from(vms > 0);
            let mut types = vec![
                (DISK, disks),
                ("ResourceGroup", 1),
                ("Region", regions),
                ("Tag", 1),
            ];
            if vms > 0 {
                types.push((VM, vms));
            }
            assert_eq!(
                plan.expected.operation_by_type,
                by_type(&types),
                "{scale:?}"
            );
            assert_eq!(
                plan.expected.operation_nodes,
                n + 1 + regions + 1,
                "{scale:?}: the hierarchy nodes are the operation's too"
            );
            assert_eq!(plan.expected.nodes, 4 + n + 1 + regions + 1, "{scale:?}");
            let attached = if vms > 0 { disks / 2 } else { 0 };
            let mut want = vec![
                (format!("ResourceGroup -CONTAINS-> {DISK}"), disks),
                (format!("{DISK} -LOCATED_IN-> Region"), disks),
                (format!("{DISK} -TAGGED_WITH-> Tag"), disks),
            ];
            if vms > 0 {
                want.extend([
                    (format!("ResourceGroup -CONTAINS-> {VM}"), vms),
                    (format!("{VM} -LOCATED_IN-> Region"), vms),
                    (format!("{VM} -TAGGED_WITH-> Tag"), vms),
                    (format!("{DISK} -ATTACHED_TO-> {VM}"), attached),
                ]);
            }
            let want: BTreeMap<String, u64> = want.into_iter().filter(|(_, c)| *c > 0).collect();
            assert_eq!(op_patterns(&plan), want, "{scale:?}");
            assert_eq!(
                plan.expected.operation_relationships,
                want.values().sum::<u64>(),
                "{scale:?}"
            );
            let Source::Template(tp) = &plan.source else {
                panic!("a replicate plan")
            };
            assert_eq!(tp.counts, [disks, vms], "{scale:?}");
        }
    }

    #[test]
    fn template_refusals_name_the_flag() {
        let e = from_template(Scale::Factor(0.1), TEMPLATE)
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            "--scale-factor: the template would make no resources; raise the factor"
        );
        let e = from_template(Scale::TargetTotal(3), TEMPLATE)
            .err()
            .expect("refused");
        assert!(
            e.to_string().starts_with("--target-total: 3 is not above"),
            "{e}"
        );
    }

    #[test]
    fn a_later_row_that_fails_is_refused_when_planning() {
        // Row 0 and 1 render; row 2 divides by zero. Only the plan's rows are evaluated.
        let src = "resources:\n  - type: Microsoft.Compute/virtualMachines\n    count: 5\n    template:\n      name_pattern: \"vm-{{ 10 // (2 - index) }}\"\n";
        let e = from_template(Scale::Factor(1.0), src)
            .err()
            .expect("refused");
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "template t.yaml:5:21: resources[0].template.name_pattern: fails on row 2: "
            ),
            "{msg}"
        );
        from_template(Scale::Factor(0.4), src).expect("rows 0 and 1 only");
        // A property reading the row's name and location is checked with them.
        let src = "resources:\n  - type: Microsoft.Compute/disks\n    count: 4\n    template:\n      name_pattern: \"d{index}\"\n      location: westus\n      properties:\n        n: \"{{ 1 // (name != 'd3') ~ location }}\"\n";
        let e = from_template(Scale::Factor(1.0), src)
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("properties.n: fails on row 3: "),
            "{e}"
        );
        // Resource group patterns are checked over every group index.
        let src = "config:\n  resource_group_pattern: \"rg-{{ 1 // (1 - index) }}\"\nresources:\n  - { type: Microsoft.Compute/disks, count: 150, template: { name_pattern: \"d{index}\" } }\n";
        let e = from_template(Scale::Factor(1.0), src)
            .err()
            .expect("refused");
        assert!(
            e.to_string()
                .contains("config.resource_group_pattern: fails on row 1: "),
            "{e}"
        );
    }

    #[test]
    fn the_template_strategy_needs_a_template() {
        let c = config(Strategy::Template, Scale::Factor(1.0), EdgeMode::Aligned);
        let e = Plan::new(c, &baseline()).err().expect("refused");
        assert!(matches!(
            e,
            PlanError::Config(ConfigError::TemplateStrategyNeedsTemplate)
        ));
    }
}
