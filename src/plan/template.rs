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
use super::topology::{self, Topology};
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
    pub subscription: String,
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
            subscription: space_of("Subscription"),
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
    pub tenant_id: String,
    /// The subscriptions the resource groups are spread over; group `g` is in subscription
    /// `s` for `sub_groups[s] <= g < sub_groups[s + 1]`.
    pub subscriptions: Vec<String>,
    pub sub_groups: Vec<u64>,
    /// Whether every subscription is a node of the baseline (new resource groups are then
    /// contained by theirs).
    pub subscriptions_known: bool,
    /// Resource groups (G).
    pub groups: u64,
    /// Placed rows: which subscription each root is in, and its group there (see [`Deal`]).
    pub deal: Deal,
    pub rows_per_group: u64,
    /// Whether rows are placed by the topology (roots spread over the groups, every other row
    /// where its root is); else (ATG-compatible) rows fill the groups in order.
    pub placed: bool,
    pub spaces: Spaces,
    /// Group numbers whose resource group is not in the baseline.
    pub rg_new: Vec<u32>,
    /// The kind of each group that is in the baseline (for the expected patterns).
    pub rg_existing: HashMap<u64, String>,
    /// Rows per group kind: CONTAINS from resource groups, by entry.
    pub contains_rows: BTreeMap<String, Vec<u64>>,
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
    /// The rules (the file's and the built-in ones) and the placement links.
    pub topology: Topology,
    pub template_name: String,
}

/// How placed roots are dealt to subscriptions and groups. Each entry's roots go to the
/// subscriptions in a repeating weighted round-robin `pattern` (`W` slots, subscription `s` in
/// `w_s` of them, interleaved), so every type — VNets with their whole subtree as much as lone
/// vaults — is split over the subscriptions in proportion to their weights, not just the groups.
/// Within subscription `s`, the root ranked `q` there goes to group `q · stride_s mod G_s` of
/// its `G_s` groups (`stride_s` coprime with `G_s`, near `G_s/φ`): roots of one entry spread
/// over the subscription's groups, and no group is empty (`G_s` ≤ the roots it holds).
#[derive(Debug, Clone, Default)]
pub struct Deal {
    pub pattern: Vec<u32>,
    /// `counts[p · S + s]`: slots of subscription `s` among the pattern's first `p`.
    pub counts: Vec<u32>,
    pub weights: Vec<u64>,
    /// `before[e · S + s]`: roots of entries before `e` in subscription `s`.
    pub before: Vec<u64>,
    pub strides: Vec<u64>,
}

impl Deal {
    fn subs(&self) -> usize {
        self.weights.len()
    }

    /// Roots `0..k` of one entry that go to subscription `s`.
    #[inline]
    fn dealt(&self, k: u64, s: usize) -> u64 {
        let w = self.pattern.len() as u64;
        (k / w) * self.weights[s] + u64::from(self.counts[(k % w) as usize * self.subs() + s])
    }

    /// (subscription, rank there) of root `k` of entry `e`.
    #[inline]
    fn place(&self, e: usize, k: u64) -> (usize, u64) {
        let w = self.pattern.len() as u64;
        let s = self.pattern[(k % w) as usize] as usize;
        (s, self.before[e * self.subs() + s] + self.dealt(k, s))
    }

    /// The deal of `roots[e]` roots per entry over subscriptions weighted `weights` (none all
    /// zero); returns it and the roots each subscription gets.
    fn new(weights: &[u64], roots: &[u64]) -> (Deal, Vec<u64>) {
        const SLOTS: u64 = 4096;
        let sum: u64 = weights.iter().sum();
        let weights = if sum > SLOTS {
            apportion(weights, SLOTS)
        } else {
            weights.to_vec()
        };
        let subs = weights.len();
        let w: u64 = weights.iter().sum();
        // Smooth weighted round robin: each slot goes to the subscription furthest behind its
        // share (ties to the first), so the slots of each subscription are evenly interleaved.
        let mut credit = vec![0i64; subs];
        let mut pattern = Vec::with_capacity(w as usize);
        let mut counts = vec![0u32; (w as usize + 1) * subs];
        for p in 0..w as usize {
            for (c, &x) in credit.iter_mut().zip(&weights) {
                *c += x as i64;
            }
            let best = (0..subs)
                .max_by_key(|&s| (credit[s], std::cmp::Reverse(s)))
                .unwrap_or(0);
            credit[best] -= w as i64;
            pattern.push(best as u32);
            let (done, next) = counts.split_at_mut((p + 1) * subs);
            next[..subs].copy_from_slice(&done[p * subs..]);
            next[best] += 1;
        }
        let mut deal = Deal {
            pattern,
            counts,
            weights,
            before: Vec::with_capacity(roots.len() * subs),
            strides: Vec::new(),
        };
        let mut total = vec![0u64; subs];
        for &r in roots {
            deal.before.extend_from_slice(&total);
            for (s, t) in total.iter_mut().enumerate() {
                *t += deal.dealt(r, s);
            }
        }
        (deal, total)
    }
}

/// Where a row is: its root's global index (whose random location it takes) and its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub root: u64,
    pub group: u64,
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

    /// Where global row `i` of entry `r` is placed.
    #[inline]
    pub fn placement(&self, r: usize, i: u64) -> Placement {
        if !self.placed {
            return Placement {
                root: i,
                group: i / self.rows_per_group,
            };
        }
        let (rr, j) = self.topology.root(&self.counts, r, i - self.prefix[r]);
        let (s, q) = self.deal.place(rr, j - self.topology.placed(rr));
        let first = self.sub_groups[s];
        let groups = self.sub_groups[s + 1] - first;
        Placement {
            root: self.prefix[rr] + j,
            group: first
                + ((u128::from(q) * u128::from(self.deal.strides[s])) % u128::from(groups)) as u64,
        }
    }

    /// The subscription of group `g`.
    #[inline]
    pub fn subscription(&self, g: u64) -> &str {
        let s = self
            .sub_groups
            .partition_point(|&x| x <= g)
            .saturating_sub(1);
        &self.subscriptions[s.min(self.subscriptions.len() - 1)]
    }

    /// Renders the name of group `g` into `out` (cleared first).
    pub fn rg_name(&self, g: u64, out: &mut String) -> Result<(), template::TemplateError> {
        out.clear();
        let vars = template::RowVars {
            index: g,
            subscription_id: self.subscription(g),
            tenant_id: &self.tenant_id,
            random_location: &self.random_locations[0],
            location: &self.random_locations[0],
            ..Default::default()
        };
        if !self.compiled.render_resource_group(&vars, out)? {
            use std::fmt::Write as _;
            let _ = write!(out, "rg-tenantgen-{g:05}");
        }
        Ok(())
    }

    /// The id of group `g` whose name is `name`.
    pub fn rg_id(&self, g: u64, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{name}",
            self.subscription(g)
        )
    }

    /// The region code row `i` of entry `r` links to, if any.
    pub fn region(&self, seed: u64, r: usize, i: u64) -> Option<&str> {
        match &self.locations[r] {
            LocationMode::Random => Some(self.random_location(seed, self.placement(r, i).root)),
            LocationMode::Literal(code) => Some(code),
            LocationMode::Computed => None,
        }
    }

    /// Edge `e` of rule `k`: (source, target) global rows. A many_to_many rule starts at
    /// source row `e mod rows` and picks its target by hash (seeded per rule, so targets spread
    /// deterministically); a one-sided rule pairs by [`Topology::one_sided_edge`].
    #[inline]
    pub fn rule_edge(&self, seed: u64, k: usize, e: u64) -> (u64, u64) {
        let rule = &self.topology.rules[k];
        let (s, t) = (rule.source, rule.target);
        if rule.cardinality == template::Cardinality::ManyToMany {
            let h = xxhash_rust::xxh3::xxh3_64_with_seed(
                &e.to_le_bytes(),
                seed ^ (rule.index.unwrap_or(k) as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
            let from = e % self.counts[s];
            let to = if s == t {
                // Never the row itself (a rule has rows only when a type has two or more).
                let to = h % (self.counts[t] - 1);
                to + u64::from(to >= from)
            } else {
                h % self.counts[t]
            };
            (self.prefix[s] + from, self.prefix[t] + to)
        } else {
            let (a, b) = self.topology.one_sided_edge(&self.counts, k, e);
            (self.prefix[s] + a, self.prefix[t] + b)
        }
    }

    /// The variables of global row `i` of entry `r` placed at `place` in resource group `rg`,
    /// as the generator renders it; `location` is empty (the row's location pattern renders it).
    #[inline]
    pub fn row_vars<'a>(
        &'a self,
        seed: u64,
        r: usize,
        i: u64,
        place: Placement,
        rg: &'a str,
    ) -> template::RowVars<'a> {
        template::RowVars {
            index: i - self.prefix[r],
            copy: 0,
            random_location: self.random_location(seed, place.root),
            location: "",
            subscription_id: self.subscription(place.group),
            resource_group: rg,
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
        subscriptions: Vec::new(),
        sub_groups: vec![0],
        subscriptions_known: false,
        groups: 0,
        deal: Deal::default(),
        placed: !config.atg_compat,
        rg_existing: HashMap::new(),
        contains_rows: BTreeMap::new(),
        topology: Topology::default(),
        tenant_id: t
            .config
            .tenant_id
            .clone()
            .or_else(|| baseline.first_id("Tenant"))
            .unwrap_or_else(|| NIL_UUID.into()),
        rows_per_group: ROWS_PER_RESOURCE_GROUP,
        spaces: Spaces::of(baseline),
        rg_new: Vec::new(),
        region_rows: BTreeMap::new(),
        regions_new: Vec::new(),
        located: Vec::new(),
        located_prefix: vec![0],
        tag: None,
        tag_is_new: false,
        template_name: t
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut notes = notes;
    tp.topology = topology::plan(&t, &tp.counts, tp.placed && t.config.builtin_topology)?;
    notes.extend(tp.topology.notes.iter().cloned());
    choose_subscriptions(&mut tp, baseline, &t)?;
    size_groups(&mut tp, baseline, &t);
    name_resource_groups(&mut tp, baseline, &t)?;
    check_rows(&tp, &t, config.seed)?;
    place_rows(&mut tp, baseline, config.seed);
    if let Some(prefix_tag) = &t.config.tag_prefix {
        let id = format!("{prefix_tag}:{}", op.id);
        tp.tag_is_new = !baseline.contains_id(&tp.spaces.tag, id.as_bytes());
        tp.tag = Some((id, prefix_tag.clone(), op.id.clone()));
    }
    let nodes = node_groups(&config, &tp)?;
    let edges = edge_groups(&config, &tp);
    let expected = expected::template(baseline, &t, &tp, &nodes, &edges);
    let estimated_bytes = expected::template_bytes(&nodes, &edges);
    Ok(Plan {
        notes,
        config,
        op,
        base_count: baseline.counts.real_abstracted,
        abstracted_before,
        real_before: baseline.counts.real_abstracted,
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

/// The subscriptions rows are spread over: `config.subscriptions` (evenly), `config.
/// subscription_id` alone, or (placed rows) the baseline's in proportion to the real resources
/// each holds; the first baseline subscription (ATG-compatible) or the nil id when there is none.
///
/// Placed rows hang from their subscription, so a named subscription the baseline lacks (while it
/// has some) is refused rather than leaving its resource groups unreachable.
fn choose_subscriptions(
    tp: &mut TemplatePlan,
    baseline: &Baseline,
    t: &Template,
) -> Result<(), PlanError> {
    let weighted: Vec<(String, u64)> = if !t.config.subscriptions.is_empty() {
        t.config
            .subscriptions
            .iter()
            .map(|s| (s.clone(), 1))
            .collect()
    } else if let Some(s) = &t.config.subscription_id {
        vec![(s.clone(), 1)]
    } else if tp.placed {
        let mut by_sub = baseline.real_resources_by("subscription_id");
        by_sub.retain(|(s, _)| baseline.contains_label_id("Subscription", s));
        if by_sub.is_empty() {
            baseline
                .first_id("Subscription")
                .map(|s| vec![(s, 1)])
                .unwrap_or_default()
        } else {
            by_sub
        }
    } else {
        baseline
            .first_id("Subscription")
            .map(|s| vec![(s, 1)])
            .unwrap_or_default()
    };
    let weighted = if weighted.is_empty() {
        vec![(NIL_UUID.to_string(), 1)]
    } else {
        weighted
    };
    let unknown = weighted
        .iter()
        .position(|(s, _)| !baseline.contains_label_id("Subscription", s));
    tp.subscriptions_known = unknown.is_none();
    if let (Some(i), true, Some(_)) = (unknown, tp.placed, baseline.first_id("Subscription")) {
        // Only a named subscription can be unknown while the baseline has some.
        let (at, key) = if t.config.subscriptions.is_empty() {
            (
                "config.subscription_id".to_string(),
                "config.subscription_id",
            )
        } else {
            (format!("config.subscriptions[{i}]"), "config.subscriptions")
        };
        let mut known: Vec<String> = baseline
            .real_resources_by("subscription_id")
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| baseline.contains_label_id("Subscription", s))
            .collect();
        let more = known.len().saturating_sub(5);
        known.truncate(5);
        return Err(t
            .invalid_at(
                &at,
                format!(
                    "{at} `{}` is not a :Subscription of the baseline {}, so its resource groups would hang from nothing: name one of {}{} (or leave {key} out to spread over all of them), or add the subscription to the baseline",
                    weighted[i].0,
                    baseline.dir.display(),
                    known.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                ),
            )
            .into());
    }
    tp.subscriptions = weighted.iter().map(|(s, _)| s.clone()).collect();
    tp.sub_groups = weighted.iter().map(|(_, w)| *w).collect();
    Ok(())
}

/// Resources per group — `config.resources_per_group`, else (placed rows) the baseline's
/// average (resources its resource groups contain / resource groups), else
/// [`ROWS_PER_RESOURCE_GROUP`] — and the groups: enough for the rows, never more than the
/// roots (so none is empty), split over the subscriptions by their weights.
fn size_groups(tp: &mut TemplatePlan, baseline: &Baseline, t: &Template) {
    let derived = t.config.resources_per_group.is_none() && tp.placed;
    tp.rows_per_group = match t.config.resources_per_group {
        Some(k) => k,
        None if tp.placed => baseline
            .resources_per_group()
            .unwrap_or(ROWS_PER_RESOURCE_GROUP),
        None => ROWS_PER_RESOURCE_GROUP,
    };
    let weights = std::mem::take(&mut tp.sub_groups);
    let mut groups = tp.rows().div_ceil(tp.rows_per_group).max(1);
    let per_sub = if tp.placed {
        let roots = tp.topology.roots().max(1);
        // A group of one root holds one type's subtree; with the baseline's size unasked for,
        // groups get two roots on average, so that they mix types as real ones do.
        groups = groups.min(if derived { (roots / 2).max(1) } else { roots });
        let per_entry: Vec<u64> = (0..tp.counts.len())
            .map(|e| tp.counts[e] - tp.topology.placed(e))
            .collect();
        let (deal, roots_in) = Deal::new(&weights, &per_entry);
        let per_sub: Vec<u64> = apportion(&weights, groups)
            .iter()
            .zip(&roots_in)
            .map(|(&g, &r)| g.min(r).max(u64::from(r > 0)))
            .collect();
        tp.deal = Deal {
            strides: per_sub.iter().map(|&g| stride(g.max(1))).collect(),
            ..deal
        };
        groups = per_sub.iter().sum::<u64>().max(1);
        per_sub
    } else {
        apportion(&weights, groups)
    };
    tp.groups = groups;
    let mut acc = 0;
    tp.sub_groups = std::iter::once(0)
        .chain(per_sub.iter().map(|c| {
            acc += c;
            acc
        }))
        .collect();
}

/// A stride coprime with `g` near `g / φ` (1 for the smallest `g`).
fn stride(g: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut s = ((g as f64 * 0.618_033_988_75) as u64).max(1);
    while gcd(s, g) != 1 {
        s += 1;
    }
    s
}

/// Names every group (the template's pattern with `index` = the group number); those the
/// baseline lacks are marked new, the kinds of the others kept for the expected patterns.
fn name_resource_groups(
    tp: &mut TemplatePlan,
    baseline: &Baseline,
    t: &Template,
) -> Result<(), PlanError> {
    let mut seen = HashSet::new();
    let mut name = String::new();
    let mut new = Vec::new();
    let mut existing = HashMap::new();
    for g in 0..tp.groups {
        tp.rg_name(g, &mut name).map_err(|e| t.row_error(e))?;
        let id = tp.rg_id(g, &name);
        if baseline.contains_id(&tp.spaces.resource_group, id.as_bytes()) {
            existing.insert(
                g,
                super::expected::existing_kind(
                    baseline,
                    &tp.spaces.resource_group,
                    &id,
                    "ResourceGroup",
                ),
            );
        } else if seen.insert(xxhash_rust::xxh3::xxh3_128(id.as_bytes())) {
            // A 128-bit hash, not the id: millions of groups would hold hundreds of MB of ids.
            new.push(g as u32);
        }
    }
    tp.rg_new = new;
    tp.rg_existing = existing;
    Ok(())
}

/// Evaluates every field that can fail ([`template::CompiledPattern::is_total`] is false) on
/// every row the run will write, so a template that fails on row 2 fails here, before anything
/// is written (and under `--dry-run`), naming the row. Total resources cost nothing; the rest
/// cost one evaluation per row, streamed with reused buffers.
fn check_rows(tp: &TemplatePlan, t: &Template, seed: u64) -> Result<(), PlanError> {
    use rayon::prelude::*;
    // Chunks checked in parallel; `find_first` keeps the error of the first failing row, so
    // the message does not depend on the thread count.
    const CHUNK: u64 = 16_384;
    for (r, res) in tp.compiled.resources().iter().enumerate() {
        if res.is_total() {
            continue;
        }
        let (lo, hi) = (tp.prefix[r], tp.prefix[r + 1]);
        let failed = (0..(hi - lo).div_ceil(CHUNK))
            .into_par_iter()
            .map_init(
                || (res.row_check(), String::new()),
                |(check, rg), c| {
                    let start = lo + c * CHUNK;
                    for i in start..(start + CHUNK).min(hi) {
                        let place = tp.placement(r, i);
                        tp.rg_name(place.group, rg)?;
                        check.row(&tp.row_vars(seed, r, i, place, rg))?;
                    }
                    Ok(())
                },
            )
            .find_first(|outcome: &Result<(), template::TemplateError>| outcome.is_err());
        if let Some(Err(e)) = failed {
            return Err(t.row_error(e).into());
        }
    }
    Ok(())
}

/// Counts the rows per region and entry and per group kind and entry (one pass over the rows'
/// placements), lists the entries whose rows get LOCATED_IN, and the regions the baseline lacks.
fn place_rows(tp: &mut TemplatePlan, baseline: &Baseline, seed: u64) {
    let entries = tp.counts.len();
    let mut per_region: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut per_kind: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in 0..entries {
        let c = tp.counts[r];
        if c == 0 {
            continue;
        }
        let random = tp.locations[r] == LocationMode::Random;
        let mut by_region: HashMap<&str, u64> = HashMap::new();
        let mut by_kind: HashMap<&str, u64> = HashMap::new();
        if random || !tp.rg_existing.is_empty() {
            for i in tp.prefix[r]..tp.prefix[r + 1] {
                let place = tp.placement(r, i);
                if random {
                    *by_region
                        .entry(tp.random_location(seed, place.root))
                        .or_default() += 1;
                }
                if let Some(kind) = tp.rg_existing.get(&place.group) {
                    *by_kind.entry(kind).or_default() += 1;
                }
            }
        }
        let existing: u64 = by_kind.values().sum();
        *by_kind.entry("ResourceGroup").or_default() += c - existing;
        for (kind, k) in by_kind {
            per_kind
                .entry(kind.to_string())
                .or_insert_with(|| vec![0; entries])[r] += k;
        }
        match &tp.locations[r] {
            LocationMode::Random => {
                for (code, k) in by_region {
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
    tp.contains_rows = per_kind;
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
fn edge_groups(config: &GenerateConfig, tp: &TemplatePlan) -> Vec<OutEdges> {
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
    for (k, rule) in tp.topology.rules.iter().enumerate() {
        if rule.rows > 0 {
            let name = match rule.index {
                Some(i) => format!(
                    "synthetic.rule-{i}.{}",
                    rule.relationship_type.to_ascii_lowercase()
                ),
                None => format!(
                    "synthetic.builtin-{}.{}",
                    rule.builtin.unwrap_or(k),
                    rule.relationship_type.to_ascii_lowercase()
                ),
            };
            edges.push(edge_group(
                config,
                name,
                &rule.relationship_type,
                (&s.resource, &s.resource),
                rule.rows,
                EdgeSource::Rule(k),
            ));
        }
    }
    if tp.subscriptions_known && tp.placed && !tp.rg_new.is_empty() {
        edges.push(edge_group(
            config,
            hierarchy_edge_name("contains", (&s.subscription, &s.resource_group)),
            "CONTAINS",
            (&s.subscription, &s.resource_group),
            tp.rg_new.len() as u64,
            EdgeSource::SubscriptionContains,
        ));
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
    fn roots_are_dealt_to_subscriptions_by_weight_with_dense_ranks() {
        let weights = [5u64, 3, 2, 0];
        let roots = [7u64, 100, 1, 0, 33];
        let (deal, total) = Deal::new(&weights, &roots);
        assert_eq!(total.iter().sum::<u64>(), roots.iter().sum::<u64>());
        assert_eq!(total[3], 0, "a subscription of weight 0 gets no roots");
        let mut ranks: Vec<Vec<u64>> = vec![Vec::new(); weights.len()];
        for (e, &r) in roots.iter().enumerate() {
            let mut mine = vec![0u64; weights.len()];
            for k in 0..r {
                let (s, q) = deal.place(e, k);
                ranks[s].push(q);
                mine[s] += 1;
            }
            // Every entry on its own is split by weight, within one root.
            for (s, &m) in mine.iter().enumerate() {
                let exact = r as f64 * weights[s] as f64 / 10.0;
                assert!(
                    (m as f64 - exact).abs() < 1.0,
                    "entry {e} sub {s}: {m} vs {exact}"
                );
            }
        }
        for (s, mut q) in ranks.into_iter().enumerate() {
            q.sort_unstable();
            assert_eq!(
                q,
                (0..total[s]).collect::<Vec<_>>(),
                "ranks in subscription {s}"
            );
        }
    }

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
