//! The template strategy: rows made from a template's `resources` entries, scaled to the
//! asked total and split over the entries in proportion to their counts. It decides the rows
//! per entry, the resource groups the rows are spread over (one per
//! [`ROWS_PER_RESOURCE_GROUP`]), the region each row is located in, the operation's tag, the
//! rows each relationship rule makes, and the output groups — including the resource groups,
//! regions and tag the baseline does not have yet.
//!
//! Reading and checking the template file is `template`'s job; this module only plans with it.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ids::{cut, cut_checked, SyntheticIds};
use super::{
    above_current, check_synthetic, edge_group, expected, marker_column, synthetic_labels,
    EdgeSource, NodeSource, OutEdges, OutNodes, Plan, PlanError, Source, NODE_MARKERS,
};
use crate::baseline::Baseline;
use crate::config::{GenerateConfig, OperationInfo, Scale};
use crate::format::header::{Column, ColumnKind, Header, ValueType};
use crate::report::thousands;
use crate::template::{self, Template};

/// Resources per generated resource group.
pub const ROWS_PER_RESOURCE_GROUP: u64 = 100;

/// The id used for a subscription or tenant that neither the template nor the baseline names.
const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";

/// The property columns of a template row, after `id` and before the markers.
const RESOURCE_COLUMNS: [&str; 11] = [
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
];

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

impl LocationMode {
    fn of(pattern: Option<&str>) -> LocationMode {
        match pattern {
            None => LocationMode::Random,
            Some(l) if l.replace(' ', "") == "{{random_location}}" => LocationMode::Random,
            Some(l) if !l.contains('{') && !l.is_empty() => LocationMode::Literal(l.to_string()),
            Some(_) => LocationMode::Computed,
        }
    }
}

/// The ID spaces of the groups a template plan writes: the baseline's where it has them.
#[derive(Debug, Clone)]
pub struct Spaces {
    pub resource: String,
    pub resource_group: String,
    pub region: String,
    pub tag: String,
}

impl Spaces {
    fn of(baseline: &Baseline) -> Spaces {
        let space_of = |label: &str| {
            baseline
                .node_groups
                .iter()
                .find(|g| g.meta.labels.len() == 1 && g.meta.labels[0] == label)
                .map(|g| g.meta.id_space.clone())
                .unwrap_or_else(|| label.to_string())
        };
        Spaces {
            resource: baseline
                .bases
                .first()
                .map(|b| baseline.node_groups[b.group as usize].meta.id_space.clone())
                .unwrap_or_else(|| space_of("Resource")),
            resource_group: space_of("ResourceGroup"),
            region: space_of("Region"),
            tag: space_of("Tag"),
        }
    }
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
    pub spaces: Spaces,
    /// Resource group names and ids, one per group number.
    pub rg_names: Vec<String>,
    pub rg_ids: Vec<String>,
    /// Group numbers whose resource group is not in the baseline.
    pub rg_new: Vec<u32>,
    /// Rows per region code and entry (random picks are hashed per row, so counted here).
    pub region_rows: BTreeMap<String, Vec<u64>>,
    /// Regions to create (codes not in the baseline).
    pub regions_new: Vec<String>,
    /// Entries whose rows get LOCATED_IN, with the prefix of their rows in that group.
    pub located: Vec<usize>,
    pub located_prefix: Vec<u64>,
    /// The operation's tag: id, key, value.
    pub tag: Option<(String, String, String)>,
    pub tag_is_new: bool,
    /// Per rule: (source entry, target entry), and the rows it makes.
    pub rules: Vec<(usize, usize)>,
    pub rule_rows: Vec<u64>,
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

    /// The variables of global row `i` of entry `r`, as the generator renders it;
    /// `location` is empty (the row's location pattern renders it).
    #[inline]
    pub fn row_vars(&self, seed: u64, r: usize, i: u64) -> template::RowVars<'_> {
        template::RowVars {
            index: i - self.prefix[r],
            copy: 0,
            random_location: self.random_location(seed, i),
            location: "",
            subscription_id: &self.subscription_id,
            resource_group: &self.rg_names[(i / self.rows_per_group) as usize],
            tenant_id: &self.tenant_id,
            original_name: "",
        }
    }

    /// Total rows (N).
    pub fn rows(&self) -> u64 {
        self.prefix.last().copied().unwrap_or(0)
    }
}

/// Builds the plan for the template strategy.
pub(super) fn plan(
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
    let mut config = config;
    let notes = scale_to_target(&mut config, &t, abstracted_before)?;
    let counts = scaled_counts(&config, &t, abstracted_before)?;
    let mut prefix = vec![0u64];
    for c in &counts {
        prefix.push(prefix.last().copied().unwrap_or(0) + c);
    }
    let op = OperationInfo::resolve(&config)?;
    let n = prefix.last().copied().unwrap_or(0);
    let ids = SyntheticIds::new(
        baseline,
        b"tenantgen:template-id",
        config.seed,
        n,
        config.atg_compat,
    );
    let mut tp = TemplatePlan {
        compiled,
        counts,
        prefix,
        locations: t
            .resources
            .iter()
            .map(|r| LocationMode::of(r.template.location.as_deref()))
            .collect(),
        random_locations: t.config.random_locations.clone(),
        subscription_id: t
            .config
            .subscription_id
            .clone()
            .or_else(|| baseline.first_id("Subscription"))
            .unwrap_or_else(|| NIL_UUID.into()),
        tenant_id: t
            .config
            .tenant_id
            .clone()
            .or_else(|| baseline.first_id("Tenant"))
            .unwrap_or_else(|| NIL_UUID.into()),
        rows_per_group: ROWS_PER_RESOURCE_GROUP,
        spaces: Spaces::of(baseline),
        rg_names: Vec::new(),
        rg_ids: Vec::new(),
        rg_new: Vec::new(),
        region_rows: BTreeMap::new(),
        regions_new: Vec::new(),
        located: Vec::new(),
        located_prefix: vec![0],
        tag: None,
        tag_is_new: false,
        rules: Vec::new(),
        rule_rows: Vec::new(),
        template_name: t
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    name_resource_groups(&mut tp, baseline, &t)?;
    check_rows(&tp, &t, config.seed)?;
    place_regions(&mut tp, baseline, config.seed);
    if let Some(prefix_tag) = &t.config.tag_prefix {
        let id = format!("{prefix_tag}:{}", op.id);
        tp.tag_is_new = !baseline.contains_id(&tp.spaces.tag, id.as_bytes());
        tp.tag = Some((id, prefix_tag.clone(), op.id.clone()));
    }
    plan_rules(&mut tp, &t)?;
    let nodes = node_groups(&config, &tp)?;
    let edges = edge_groups(&config, &tp, &t);
    let expected = expected::template(baseline, &t, &tp, &nodes, &edges);
    let estimated_bytes = expected::template_bytes(&nodes, &edges);
    Ok(Plan {
        notes,
        config,
        op,
        base_count: baseline.counts.real_abstracted,
        abstracted_before,
        synthetic: n,
        ids,
        nodes,
        edges,
        expected,
        source: Source::Template(Box::new(tp)),
        estimated_bytes,
    })
}

/// Lets the template's `metadata.scale_target` (an abstracted total, as `--target-total`)
/// decide the scale when no scale flag is given, so that a template asking for 40,000 gets
/// 40,000; returns the plan's notes on it and on a `metadata.baseline_count` that is not the
/// baseline's (the baseline's real count is used: it is what the graph being added to holds).
fn scale_to_target(
    config: &mut GenerateConfig,
    t: &Template,
    abstracted_before: u64,
) -> Result<Vec<String>, PlanError> {
    let mut notes = Vec::new();
    if let Some(count) = t.metadata.baseline_count {
        if count != abstracted_before {
            notes.push(format!(
                "metadata.baseline_count {} differs from the baseline's {} abstracted resources; the plan counts from the baseline's {}, the graph it adds to",
                thousands(count),
                thousands(abstracted_before),
                thousands(abstracted_before)
            ));
        }
    }
    let Some(target) = t.metadata.scale_target else {
        return Ok(notes);
    };
    if config.scale_given {
        return Ok(notes);
    }
    if target <= abstracted_before {
        return Err(PlanError::Other {
            message: format!(
                "{}: metadata.scale_target {} is not above the baseline's {} abstracted resources; raise it, or pass --scale-factor 1 to keep the counts as written",
                t.path.display(),
                thousands(target),
                thousands(abstracted_before)
            ),
        });
    }
    let written: u64 = t.resources.iter().map(|r| r.count).sum();
    config.scale = Scale::TargetTotal(target);
    notes.push(if written == target - abstracted_before {
        format!(
            "template counts {} reach metadata.scale_target {} as written",
            thousands(written),
            thousands(target)
        )
    } else {
        format!(
            "template counts {} scaled to reach metadata.scale_target {}; pass --scale-factor 1 to keep the counts as written",
            thousands(written),
            thousands(target)
        )
    });
    Ok(notes)
}

/// Rows per entry: the template's counts times the factor, or enough to reach the target,
/// apportioned exactly over the entries.
fn scaled_counts(
    config: &GenerateConfig,
    t: &Template,
    abstracted_before: u64,
) -> Result<Vec<u64>, PlanError> {
    let base: Vec<u64> = t.resources.iter().map(|r| r.count).collect();
    let total: u64 = base.iter().sum();
    let want = match config.scale {
        // `config` checked the factor (finite, above 0); NaN or a negative one from a caller
        // that built the config by hand rounds to 0 and is refused below.
        Scale::Factor(f) => (total as f64 * f).round() as u64,
        Scale::TargetTotal(t) => above_current(t, abstracted_before)?,
    };
    check_synthetic(want, config.scale)?;
    if want == 0 {
        return Err(PlanError::Flag {
            flag: "--scale-factor",
            message: "the template would make no resources; raise the factor".into(),
        });
    }
    Ok(apportion(&base, want))
}

/// One resource group per [`ROWS_PER_RESOURCE_GROUP`] rows, named by the template's pattern
/// with `index` = the group number; those the baseline lacks are marked new.
fn name_resource_groups(
    tp: &mut TemplatePlan,
    baseline: &Baseline,
    t: &Template,
) -> Result<(), PlanError> {
    let groups = tp.rows().div_ceil(ROWS_PER_RESOURCE_GROUP);
    tp.rg_names.reserve(groups as usize);
    tp.rg_ids.reserve(groups as usize);
    let mut seen = HashSet::new();
    let mut name = String::new();
    for g in 0..groups {
        name.clear();
        let vars = template::RowVars {
            index: g,
            subscription_id: &tp.subscription_id,
            tenant_id: &tp.tenant_id,
            random_location: &t.config.random_locations[0],
            location: &t.config.random_locations[0],
            ..Default::default()
        };
        let named = tp
            .compiled
            .render_resource_group(&vars, &mut name)
            .map_err(|e| t.row_error(e))?;
        if !named {
            name = format!("rg-tenantgen-{g:05}");
        }
        let id = format!(
            "/subscriptions/{}/resourceGroups/{name}",
            tp.subscription_id
        );
        if !baseline.contains_id(&tp.spaces.resource_group, id.as_bytes())
            && seen.insert(id.clone())
        {
            tp.rg_new.push(g as u32);
        }
        tp.rg_names.push(name.clone());
        tp.rg_ids.push(id);
    }
    Ok(())
}

/// Evaluates every field that can fail ([`template::CompiledPattern::is_total`] is false) on
/// every row the run will write, so a template that fails on row 2 fails here, before anything
/// is written (and under `--dry-run`), naming the row. Total resources cost nothing; the rest
/// cost one evaluation per row, streamed with reused buffers.
fn check_rows(tp: &TemplatePlan, t: &Template, seed: u64) -> Result<(), PlanError> {
    for (r, res) in tp.compiled.resources().iter().enumerate() {
        if res.is_total() {
            continue;
        }
        let mut check = res.row_check();
        for i in tp.prefix[r]..tp.prefix[r + 1] {
            check
                .row(&tp.row_vars(seed, r, i))
                .map_err(|e| t.row_error(e))?;
        }
    }
    Ok(())
}

/// Counts the rows per region and entry, lists the entries whose rows get LOCATED_IN, and the
/// regions the baseline lacks.
fn place_regions(tp: &mut TemplatePlan, baseline: &Baseline, seed: u64) {
    let entries = tp.counts.len();
    let mut per_region: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in 0..entries {
        let c = tp.counts[r];
        if c == 0 {
            continue;
        }
        match &tp.locations[r] {
            LocationMode::Random => {
                let mut local: HashMap<&str, u64> = HashMap::new();
                for i in tp.prefix[r]..tp.prefix[r + 1] {
                    *local.entry(tp.random_location(seed, i)).or_default() += 1;
                }
                for (code, k) in local {
                    per_region
                        .entry(code.to_string())
                        .or_insert_with(|| vec![0; entries])[r] += k;
                }
            }
            LocationMode::Literal(code) => {
                per_region
                    .entry(code.clone())
                    .or_insert_with(|| vec![0; entries])[r] += c;
            }
            LocationMode::Computed => continue,
        }
        tp.located.push(r);
        let last = *tp.located_prefix.last().unwrap_or(&0);
        tp.located_prefix.push(last + c);
    }
    tp.regions_new = per_region
        .keys()
        .filter(|code| !baseline.contains_id(&tp.spaces.region, code.as_bytes()))
        .cloned()
        .collect();
    tp.region_rows = per_region;
}

/// Each relationship rule's source and target entries and its rows (`ratio` per source row,
/// none when the target entry has no rows).
fn plan_rules(tp: &mut TemplatePlan, t: &Template) -> Result<(), PlanError> {
    let entry_of = |ty: &str| {
        t.resources
            .iter()
            .position(|r| r.type_name.eq_ignore_ascii_case(ty))
    };
    for (k, rule) in t.relationships.iter().enumerate() {
        let (Some(s), Some(d)) = (entry_of(&rule.source_type), entry_of(&rule.target_type)) else {
            return Err(PlanError::Other {
                message: format!(
                    "{}: relationships[{k}] names a type that is not in resources; fix the template",
                    t.path.display()
                ),
            });
        };
        tp.rules.push((s, d));
        tp.rule_rows.push(if tp.counts[d] == 0 {
            0
        } else {
            (tp.counts[s] as f64 * rule.ratio).floor() as u64
        });
    }
    Ok(())
}

fn id_column(space: &str) -> Column {
    Column {
        name: "id".into(),
        kind: ColumnKind::Id {
            space: space.into(),
            stored: true,
        },
    }
}

fn string_column(name: &str) -> Column {
    Column {
        name: name.into(),
        kind: ColumnKind::Property {
            ty: ValueType::String,
            array: false,
        },
    }
}

/// `columns` followed by the node markers (`template_source_id` only on template rows).
fn with_markers(mut columns: Vec<Column>, source: bool) -> Header {
    for m in NODE_MARKERS {
        if m != "template_source_id" || source {
            columns.push(marker_column(m));
        }
    }
    Header { columns }
}

/// A group of new hierarchy nodes (resource groups, regions, the tag): `id`, `extra` string
/// properties, the markers.
fn hierarchy_group(
    name: &str,
    label: &str,
    space: &str,
    extra: &[&str],
    rows: u64,
    source: NodeSource,
    part_rows: u64,
) -> OutNodes {
    let mut columns = vec![id_column(space)];
    columns.extend(extra.iter().map(|k| string_column(k)));
    OutNodes {
        name: name.into(),
        labels: vec![label.to_string()],
        id_space: space.into(),
        header: with_markers(columns, false),
        source,
        rows,
        parts: cut(rows, part_rows),
    }
}

/// The template rows' group, then the hierarchy nodes the baseline lacks.
fn node_groups(config: &GenerateConfig, tp: &TemplatePlan) -> Result<Vec<OutNodes>, PlanError> {
    let s = &tp.spaces;
    let n = tp.rows();
    let mut columns = vec![id_column(&s.resource)];
    columns.extend(RESOURCE_COLUMNS.iter().map(|k| string_column(k)));
    let mut nodes = vec![OutNodes {
        name: "synthetic.template".into(),
        labels: synthetic_labels(config.atg_compat),
        id_space: s.resource.clone(),
        header: with_markers(columns, true),
        source: NodeSource::Template,
        rows: n,
        parts: cut_checked(n, config.part_rows)?,
    }];
    if !tp.rg_new.is_empty() {
        nodes.push(hierarchy_group(
            "synthetic.resourcegroup",
            "ResourceGroup",
            &s.resource_group,
            &["name", "subscription_id", "type"],
            tp.rg_new.len() as u64,
            NodeSource::ResourceGroups,
            config.part_rows,
        ));
    }
    if !tp.regions_new.is_empty() {
        nodes.push(hierarchy_group(
            "synthetic.region",
            "Region",
            &s.region,
            &["code", "name"],
            tp.regions_new.len() as u64,
            NodeSource::Regions,
            config.part_rows,
        ));
    }
    if tp.tag.is_some() && tp.tag_is_new {
        nodes.push(hierarchy_group(
            "synthetic.tag",
            "Tag",
            &s.tag,
            &["key", "value"],
            1,
            NodeSource::Tag,
            config.part_rows,
        ));
    }
    Ok(nodes)
}

/// `synthetic.{kind}.{start}.{end}`, the name of a hierarchy edge group.
fn hierarchy_edge_name(kind: &str, (start, end): (&str, &str)) -> String {
    format!(
        "synthetic.{kind}.{}.{}",
        start.to_ascii_lowercase(),
        end.to_ascii_lowercase()
    )
}

/// CONTAINS from the resource groups, LOCATED_IN to the regions, TAGGED_WITH to the tag, and
/// one group per relationship rule that makes rows.
fn edge_groups(config: &GenerateConfig, tp: &TemplatePlan, t: &Template) -> Vec<OutEdges> {
    let s = &tp.spaces;
    let n = tp.rows();
    let mut edges = vec![edge_group(
        config,
        hierarchy_edge_name("contains", (&s.resource_group, &s.resource)),
        "CONTAINS",
        (&s.resource_group, &s.resource),
        n,
        EdgeSource::Contains,
    )];
    let located_rows = *tp.located_prefix.last().unwrap_or(&0);
    if located_rows > 0 {
        edges.push(edge_group(
            config,
            hierarchy_edge_name("located_in", (&s.resource, &s.region)),
            "LOCATED_IN",
            (&s.resource, &s.region),
            located_rows,
            EdgeSource::LocatedIn,
        ));
    }
    if tp.tag.is_some() {
        edges.push(edge_group(
            config,
            hierarchy_edge_name("tagged_with", (&s.resource, &s.tag)),
            "TAGGED_WITH",
            (&s.resource, &s.tag),
            n,
            EdgeSource::TaggedWith,
        ));
    }
    for (k, rule) in t.relationships.iter().enumerate() {
        if tp.rule_rows[k] > 0 {
            edges.push(edge_group(
                config,
                format!(
                    "synthetic.rule-{k}.{}",
                    rule.relationship_type.to_ascii_lowercase()
                ),
                &rule.relationship_type,
                (&s.resource, &s.resource),
                tp.rule_rows[k],
                EdgeSource::Rule(k),
            ));
        }
    }
    edges
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
mod tests {
    use super::*;

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(apportion(&[1, 1, 1], 10), vec![4, 3, 3]);
        assert_eq!(apportion(&[250, 750], 2000), vec![500, 1500]);
        assert_eq!(apportion(&[3, 0, 7], 1), vec![0, 0, 1]);
        assert_eq!(apportion(&[5], 0), vec![0]);
        let v = apportion(&[7, 13, 29, 1], 12345);
        assert_eq!(v.iter().sum::<u64>(), 12345);
    }

    #[test]
    fn location_modes() {
        assert_eq!(LocationMode::of(None), LocationMode::Random);
        assert_eq!(
            LocationMode::of(Some("{{ random_location }}")),
            LocationMode::Random
        );
        assert_eq!(
            LocationMode::of(Some("eastus")),
            LocationMode::Literal("eastus".into())
        );
        assert_eq!(
            LocationMode::of(Some("{{ location }}x")),
            LocationMode::Computed
        );
        assert_eq!(LocationMode::of(Some("")), LocationMode::Computed);
    }
}
