//! Hierarchy links of replicate copies: each copy is linked into the tenant the way its base
//! is — `CONTAINS` from the base's resource group, `LOCATED_IN` the base's region,
//! `TAGGED_WITH` the base's tags. In a scanned tenant those links rarely hang on the abstracted
//! base itself: they hang on its `:Original` twin (linked by `SCAN_SOURCE_NODE` or named by the
//! base's `original_id`: [`Baseline`] finds it) or exist only as the base's
//! `resource_group`/`location`/`tags` properties. For every base and every
//! kind of link this module takes the first of: the base's own links (copied by the aligned
//! edge copy already, so nothing is added here), its twin's links, the nodes its properties
//! name. ATG-compatible output and `--no-hierarchy` add none.
//!
//! Only the pairs (base, linked node) and the linked nodes' id fields are kept; rows are made
//! from them per copy, so the plan stays small whatever the factor.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::ids::cut_checked;
use super::{edge_group, EdgeSource, OutEdges, PlanError};
use crate::baseline::Baseline;
use crate::config::{EdgeMode, GenerateConfig};
use crate::format::csv as csvfmt;

/// The label of resource groups, regions and tags (the hierarchy nodes copies link to).
pub const RESOURCE_GROUP: &str = "ResourceGroup";
pub const REGION: &str = "Region";
pub const TAG: &str = "Tag";

/// One kind of hierarchy link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkKind {
    pub rel_type: &'static str,
    /// The label of the node at the other end.
    pub label: &'static str,
    /// Whether the copy is the relationship's start (else its end).
    pub copy_is_start: bool,
    /// Whether a resource has at most one such link.
    pub single: bool,
}

pub const KINDS: [LinkKind; 3] = [
    LinkKind {
        rel_type: "CONTAINS",
        label: RESOURCE_GROUP,
        copy_is_start: false,
        single: true,
    },
    LinkKind {
        rel_type: "LOCATED_IN",
        label: REGION,
        copy_is_start: true,
        single: true,
    },
    LinkKind {
        rel_type: "TAGGED_WITH",
        label: TAG,
        copy_is_start: true,
        single: false,
    },
];

/// The links of one kind to nodes of one ID space: every copy of `pairs[p].0` gets a link to
/// `ends[pairs[p].1]`.
#[derive(Debug, Clone)]
pub struct Links {
    pub kind: LinkKind,
    /// (base index, index into `ends`), in base order.
    pub pairs: Vec<(u32, u32)>,
    /// The linked nodes' id fields, as the baseline's files write them (CSV-ready).
    pub ends: Vec<Box<[u8]>>,
    /// The linked nodes (for the expected patterns).
    pub end_nodes: Vec<u32>,
    /// `prefix[p]` = rows before pair p; the last entry is the group's total.
    pub prefix: Vec<u64>,
}

/// Where a base's link of one kind came from (for the plan's description and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sources {
    pub own: u64,
    pub twin: u64,
    pub properties: u64,
    pub none: u64,
}

/// How the bases of one kind of link were resolved.
pub type KindSources = (LinkKind, Sources);

/// The hierarchy link groups of a replicate plan, one per (kind, ID space of the other end),
/// and per kind how the bases with copies were resolved.
pub(super) fn plan(
    config: &GenerateConfig,
    baseline: &Baseline,
    copies: &[u32],
) -> Result<(Vec<OutEdges>, Vec<KindSources>), PlanError> {
    if config.atg_compat || !config.links {
        return Ok((Vec::new(), Vec::new()));
    }
    let resolver = Resolver::new(baseline);
    let resource_space = baseline
        .bases
        .first()
        .map(|b| baseline.node_groups[b.group as usize].meta.id_space.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut sources = Vec::new();
    for kind in KINDS {
        let mut raw = HashMap::new();
        let (by_base, src) = resolver.resolve(kind, copies, config.edges, &mut raw);
        sources.push((kind, src));
        // Split by the other end's ID space: a relationship group has one space per end.
        let mut by_space: BTreeMap<String, Links> = BTreeMap::new();
        let mut end_index: HashMap<u32, (String, u32)> = HashMap::new();
        for (base, nodes) in by_base {
            for node in nodes {
                let (space, e) = end_index
                    .entry(node)
                    .or_insert_with(|| {
                        let space = baseline.node_groups
                            [baseline.nodes[node as usize].group as usize]
                            .meta
                            .id_space
                            .clone();
                        let links = by_space.entry(space.clone()).or_insert_with(|| Links {
                            kind,
                            pairs: Vec::new(),
                            ends: Vec::new(),
                            end_nodes: Vec::new(),
                            prefix: vec![0],
                        });
                        links.ends.push(raw.get(&node).cloned().unwrap_or_default());
                        links.end_nodes.push(node);
                        (space, links.ends.len() as u32 - 1)
                    })
                    .clone();
                let links = by_space.get_mut(&space).expect("space registered above");
                links.pairs.push((base, e));
                let last = *links.prefix.last().unwrap_or(&0);
                links.prefix.push(last + u64::from(copies[base as usize]));
            }
        }
        for (space, links) in by_space {
            let rows = *links.prefix.last().unwrap_or(&0);
            if rows == 0 {
                continue;
            }
            let ends = if kind.copy_is_start {
                (resource_space.as_str(), space.as_str())
            } else {
                (space.as_str(), resource_space.as_str())
            };
            let name = format!(
                "synthetic.linked.{}.{}.{}",
                kind.rel_type.to_ascii_lowercase(),
                ends.0.to_ascii_lowercase(),
                ends.1.to_ascii_lowercase()
            );
            let mut g = edge_group(
                config,
                name,
                kind.rel_type,
                ends,
                rows,
                EdgeSource::Linked(Box::new(links)),
            );
            g.parts = cut_checked(rows, config.part_rows)?;
            out.push(g);
        }
    }
    Ok((out, sources))
}

/// Edges between copies of two bases that reference each other by Azure id (a NIC's
/// `properties.ipConfigurations[].subnet.id`, a VM's network interfaces, a subnet's own id under
/// its VNet's): every copy `j` of the source base to copy `j` of the target base.
#[derive(Debug, Clone)]
pub struct Referenced {
    /// (source base, target base), in order.
    pub pairs: Vec<(u32, u32)>,
    /// `prefix[p]` = rows before pair p.
    pub prefix: Vec<u64>,
}

/// Base pairs where one names the other by its `original_id` (in its `properties` JSON, or as
/// the parent of its own `original_id`), by relationship type: typed and directed by the
/// built-in topology rule for their two types, and not already among the bases' own edges or
/// their twins'. Empty in ATG-compatible mode and with hierarchy links off.
pub(super) type ReferencedPairs = BTreeMap<String, Vec<(u32, u32)>>;

pub(super) fn referenced_pairs(config: &GenerateConfig, baseline: &Baseline) -> ReferencedPairs {
    let mut by_type = ReferencedPairs::new();
    if config.atg_compat || !config.links {
        return by_type;
    }
    let mut fields = Vec::new();
    let text = |k: usize, key: &str, fields: &mut Vec<Range<usize>>| {
        baseline.base_property(k, key, fields)
    };
    let mut by_id: HashMap<String, u32> = HashMap::new();
    for k in 0..baseline.bases.len() {
        if let Some(id) = text(k, "original_id", &mut fields) {
            by_id.entry(id.to_lowercase()).or_insert(k as u32);
        }
    }
    if by_id.is_empty() {
        return by_type;
    }
    let kind = |k: u32| baseline.kinds[baseline.bases[k as usize].kind as usize].as_str();
    // Where both bases have a scanned twin, the scan says how they are linked (its edges are
    // lifted onto the bases); an Azure id named in properties fills in only where it cannot.
    let scanned: std::collections::HashSet<u32> = baseline.twins.values().copied().collect();
    let mut seen: std::collections::HashSet<(String, u32, u32)> = baseline
        .base_edges
        .iter()
        .filter_map(|e| match (e.start, e.end) {
            (crate::baseline::End::Base(s), crate::baseline::End::Base(t)) => Some((
                baseline.rel_groups[e.group as usize].meta.rel_type.clone(),
                s,
                t,
            )),
            _ => None,
        })
        .collect();
    for k in 0..baseline.bases.len() {
        let mut named = Vec::new();
        if let Some(props) = text(k, "properties", &mut fields) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&props) {
                collect_ids(&v, &mut named);
            }
        }
        if let Some(own) = text(k, "original_id", &mut fields) {
            named.extend(parent_id(&own));
        }
        for id in named {
            let Some(&t) = by_id.get(&id.to_lowercase()) else {
                continue;
            };
            if t as usize == k || (scanned.contains(&(k as u32)) && scanned.contains(&t)) {
                continue;
            }
            let Some((_, rule, reversed)) =
                crate::template::topology::builtin_between(kind(k as u32), kind(t))
            else {
                continue;
            };
            let (s, d) = if reversed {
                (t, k as u32)
            } else {
                (k as u32, t)
            };
            if seen.insert((rule.relationship_type.clone(), s, d)) {
                by_type
                    .entry(rule.relationship_type.clone())
                    .or_default()
                    .push((s, d));
            }
        }
    }
    for pairs in by_type.values_mut() {
        pairs.sort_unstable();
    }
    by_type
}

/// The referenced edges of a replicate plan, one group per relationship type: the
/// [`referenced_pairs`] whose two bases both have copies.
pub(super) fn referenced(
    config: &GenerateConfig,
    baseline: &Baseline,
    copies: &[u32],
    all: &ReferencedPairs,
) -> Result<Vec<OutEdges>, PlanError> {
    let by_type: Vec<(&String, Vec<(u32, u32)>)> = all
        .iter()
        .map(|(rel, pairs)| {
            let kept = pairs
                .iter()
                .copied()
                .filter(|&(s, d)| copies[s as usize] > 0 && copies[d as usize] > 0)
                .collect::<Vec<_>>();
            (rel, kept)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let space = baseline
        .bases
        .first()
        .map(|b| baseline.node_groups[b.group as usize].meta.id_space.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (rel, pairs) in by_type {
        let mut prefix = vec![0u64];
        for &(s, d) in &pairs {
            let rows = u64::from(copies[s as usize].min(copies[d as usize]));
            prefix.push(prefix.last().copied().unwrap_or(0) + rows);
        }
        let rows = *prefix.last().unwrap_or(&0);
        let mut g = edge_group(
            config,
            format!("synthetic.referenced.{}", rel.to_ascii_lowercase()),
            rel,
            (&space, &space),
            rows,
            EdgeSource::Referenced(Box::new(Referenced { pairs, prefix })),
        );
        g.parts = cut_checked(rows, config.part_rows)?;
        out.push(g);
    }
    Ok(out)
}

/// Every string under an `id` key of a JSON value.
fn collect_ids(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::String(s) if k == "id" => out.push(s.clone()),
                    _ => collect_ids(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_ids(x, out)),
        _ => {}
    }
}

/// The Azure id of a nested resource's parent: `…/providers/NS/T/a/S/b` → `…/providers/NS/T/a`.
fn parent_id(id: &str) -> Option<String> {
    let (head, rest) = id.split_once("/providers/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    // NS, then (type, name) pairs: a nested resource has two pairs or more.
    (segs.len() >= 5 && segs.len() % 2 == 1)
        .then(|| format!("{head}/providers/{}", segs[..segs.len() - 2].join("/")))
}

/// What resolving needs of the baseline, indexed once.
struct Resolver<'b> {
    baseline: &'b Baseline,
    /// Base index of each base node.
    base_of: HashMap<u32, u32>,
}

impl<'b> Resolver<'b> {
    fn new(baseline: &'b Baseline) -> Self {
        Resolver {
            baseline,
            base_of: baseline
                .bases
                .iter()
                .enumerate()
                .map(|(i, b)| (b.node, i as u32))
                .collect(),
        }
    }

    fn has_label(&self, node: u32, label: &str) -> bool {
        let g = self.baseline.nodes[node as usize].group as usize;
        self.baseline.node_groups[g]
            .meta
            .labels
            .iter()
            .any(|l| l == label)
    }

    /// Per base with copies, the nodes it links to for `kind` (base order), and how each was
    /// found.
    fn resolve(
        &self,
        kind: LinkKind,
        copies: &[u32],
        mode: EdgeMode,
        raw: &mut HashMap<u32, Box<[u8]>>,
    ) -> (BTreeMap<u32, Vec<u32>>, Sources) {
        let mut own: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut twin: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        self.for_each_edge(kind.rel_type, |s, e, rs, re| {
            let (copy_end, other, other_raw) = if kind.copy_is_start {
                (s, e, re)
            } else {
                (e, s, rs)
            };
            if !self.has_label(other, kind.label) {
                return;
            }
            raw.entry(other).or_insert_with(|| other_raw.into());
            if let Some(&k) = self.base_of.get(&copy_end) {
                own.entry(k).or_default().push(other);
            } else if let Some(&k) = self.baseline.twins.get(&copy_end) {
                twin.entry(k).or_default().push(other);
            }
        });
        let mut src = Sources::default();
        let mut out = BTreeMap::new();
        let mut index = None;
        for (k, &c) in copies.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let k = k as u32;
            let mut nodes = if let Some(nodes) = own.remove(&k) {
                src.own += 1;
                // The aligned edge copy gives copies their base's own links already.
                if mode == EdgeMode::Aligned {
                    continue;
                }
                nodes
            } else if let Some(nodes) = twin.remove(&k) {
                src.twin += 1;
                nodes
            } else {
                let index = index.get_or_insert_with(|| PropertyIndex::new(self, kind, raw));
                let nodes = index.lookup(self.baseline, k);
                if nodes.is_empty() {
                    src.none += 1;
                    continue;
                }
                src.properties += 1;
                nodes
            };
            nodes.sort_unstable();
            nodes.dedup();
            if kind.single {
                nodes.truncate(1);
            }
            out.insert(k, nodes);
        }
        (out, src)
    }

    /// Calls `f(start, end, raw start field, raw end field)` for every relationship of type
    /// `rel_type` whose ends are indexed.
    fn for_each_edge(&self, rel_type: &str, mut f: impl FnMut(u32, u32, &[u8], &[u8])) {
        let b = self.baseline;
        for g in (0..b.rel_groups.len()).filter(|&g| b.rel_groups[g].meta.rel_type == rel_type) {
            b.for_each_rel(g, |_, _, s, e, rs, re| f(s, e, rs, re));
        }
    }
}

fn space_of(b: &Baseline, g: &crate::baseline::NodeGroupData) -> u16 {
    b.space(&g.meta.id_space).unwrap_or(u16::MAX)
}

/// Calls `f(fields)` for every record of a data file (`fields` index into `bytes`).
fn for_each_record(
    bytes: &[u8],
    fields: &mut Vec<Range<usize>>,
    mut f: impl FnMut(&[Range<usize>]),
) {
    let mut pos = 0;
    while pos < bytes.len() {
        let next = csvfmt::split_record(bytes, pos, fields);
        if !(fields.len() == 1 && fields[0].is_empty()) {
            f(fields);
        }
        pos = next.max(pos + 1);
    }
}

/// The hierarchy nodes of one kind by the names a resource's properties use for them.
struct PropertyIndex {
    kind: LinkKind,
    /// Lower-cased key → node. Resource groups: `subscription/name` and the id; regions: id,
    /// code, name and display name without spaces; tags: `key:value` and the id.
    by_key: HashMap<String, u32>,
    /// Resource groups by name alone, when the name is unique (`None` when it is not).
    by_name: HashMap<String, Option<u32>>,
}

fn lower(v: &[u8]) -> String {
    String::from_utf8_lossy(v).to_lowercase()
}

impl PropertyIndex {
    fn new(r: &Resolver<'_>, kind: LinkKind, raw: &mut HashMap<u32, Box<[u8]>>) -> Self {
        let b = r.baseline;
        let mut by_key = HashMap::new();
        let mut by_name: HashMap<String, Option<u32>> = HashMap::new();
        let mut fields = Vec::new();
        for g in b
            .node_groups
            .iter()
            .filter(|g| g.meta.labels.iter().any(|l| l == kind.label))
        {
            let space = space_of(b, g);
            let col = |name: &str| g.header.property(name);
            let (name, sub, code, display, key, value) = (
                col("name"),
                col("subscription_id"),
                col("code"),
                col("display_name"),
                col("key"),
                col("value"),
            );
            for file in &g.files {
                let rec = file.bytes();
                for_each_record(rec, &mut fields, |fields| {
                    let get = |c: Option<usize>| -> Option<Cow<'_, [u8]>> {
                        c.and_then(|c| fields.get(c))
                            .and_then(|r| csvfmt::unescape(&rec[r.clone()]))
                    };
                    let Some(id) = get(Some(g.id_col)) else {
                        return;
                    };
                    let Some(node) = b.lookup(space, &id) else {
                        return;
                    };
                    raw.entry(node)
                        .or_insert_with(|| rec[fields[g.id_col].clone()].into());
                    by_key.insert(lower(&id), node);
                    match kind.label {
                        RESOURCE_GROUP => {
                            if let Some(n) = get(name) {
                                let n = lower(&n);
                                if let Some(s) = get(sub) {
                                    by_key.insert(format!("{}/{n}", lower(&s)), node);
                                }
                                by_name
                                    .entry(n)
                                    .and_modify(|v| {
                                        if *v != Some(node) {
                                            *v = None
                                        }
                                    })
                                    .or_insert(Some(node));
                            }
                        }
                        REGION => {
                            for c in [code, name, display] {
                                if let Some(v) = get(c) {
                                    by_key.entry(lower(&v).replace(' ', "")).or_insert(node);
                                }
                            }
                        }
                        _ => {
                            if let (Some(k), Some(v)) = (get(key), get(value)) {
                                by_key
                                    .entry(format!("{}:{}", lower(&k), lower(&v)))
                                    .or_insert(node);
                            }
                        }
                    }
                });
            }
        }
        PropertyIndex {
            kind,
            by_key,
            by_name,
        }
    }

    /// The nodes base `k`'s properties name.
    fn lookup(&self, b: &Baseline, k: u32) -> Vec<u32> {
        let mut fields = Vec::new();
        let mut get = |name: &str| b.base_property(k as usize, name, &mut fields);
        match self.kind.label {
            RESOURCE_GROUP => {
                let Some(rg) = get("resource_group").map(|v| v.to_lowercase()) else {
                    return Vec::new();
                };
                let by_sub = get("subscription_id")
                    .and_then(|s| self.by_key.get(&format!("{}/{rg}", s.to_lowercase())));
                by_sub
                    .or_else(|| self.by_key.get(&rg))
                    .copied()
                    .or_else(|| self.by_name.get(&rg).copied().flatten())
                    .into_iter()
                    .collect()
            }
            REGION => get("location")
                .and_then(|l| self.by_key.get(&l.to_lowercase().replace(' ', "")))
                .copied()
                .into_iter()
                .collect(),
            _ => {
                let Some(tags) = get("tags") else {
                    return Vec::new();
                };
                // Tags are a JSON object of strings in scanned tenants; anything else names none.
                let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&tags) else {
                    return Vec::new();
                };
                map.iter()
                    .filter_map(|(key, v)| {
                        let v = v.as_str()?;
                        self.by_key
                            .get(&format!("{}:{}", key.to_lowercase(), v.to_lowercase()))
                            .copied()
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! One base per way of finding its links: its own edges, its `:Original` twin's, its
    //! properties, nothing.

    use super::*;
    use crate::baseline::{MemNodes, MemRels};
    use crate::config::{parse_timestamp, Scale, Strategy, DEFAULT_PART_ROWS};

    fn baseline() -> Baseline {
        Baseline::from_memory(
            &[
                MemNodes {
                    labels: &["Resource"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type,resource_group,subscription_id,location,tags",
                    rows: "own,own,T/a,,,,\n\
                           twinned,twinned,T/b,,,,\n\
                           props,props,T/c,RG-Two,sub-1,West Europe,\"{\"\"env\"\":\"\"prod\"\",\"\"x\"\":\"\"y\"\"}\"\n\
                           bare,bare,T/d,rg-unknown,sub-9,mars,not json\n",
                },
                MemNodes {
                    labels: &["Resource", "Original"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type",
                    rows: "/orig/twinned,twinned,T/b\n/orig/other,other,T/e\n",
                },
                MemNodes {
                    labels: &["ResourceGroup"],
                    id_space: "ResourceGroup",
                    header: "id:ID(ResourceGroup),name,subscription_id",
                    rows: "/s/sub-1/rg/rg-one,rg-one,sub-1\n/s/sub-1/rg/rg-two,rg-two,sub-1\n",
                },
                MemNodes {
                    labels: &["Region"],
                    id_space: "Region",
                    header: "id:ID(Region),code,name,display_name",
                    rows: "westeurope,westeurope,westeurope,West Europe\neastus,eastus,eastus,East US\n",
                },
                MemNodes {
                    labels: &["Tag"],
                    id_space: "Tag",
                    header: "id:ID(Tag),key,value",
                    rows: "env:prod,env,prod\n",
                },
            ],
            &[
                MemRels {
                    rel_type: "CONTAINS",
                    start_space: "ResourceGroup",
                    end_space: "Resource",
                    header: ":START_ID(ResourceGroup),:END_ID(Resource)",
                    rows: "/s/sub-1/rg/rg-one,own\n/s/sub-1/rg/rg-one,/orig/twinned\n",
                },
                MemRels {
                    rel_type: "LOCATED_IN",
                    start_space: "Resource",
                    end_space: "Region",
                    header: ":START_ID(Resource),:END_ID(Region)",
                    rows: "/orig/twinned,eastus\n",
                },
                MemRels {
                    rel_type: "SCAN_SOURCE_NODE",
                    start_space: "Resource",
                    end_space: "Resource",
                    header: ":START_ID(Resource),:END_ID(Resource)",
                    rows: "twinned,/orig/twinned\n",
                },
                MemRels {
                    rel_type: "CONNECTED_TO",
                    start_space: "Resource",
                    end_space: "Resource",
                    header: ":START_ID(Resource),:END_ID(Resource)",
                    rows: "/orig/twinned,own\n/orig/twinned,/orig/other\n",
                },
            ],
        )
        .expect("the in-memory baseline is valid")
    }

    fn config(edges: EdgeMode) -> GenerateConfig {
        GenerateConfig {
            baseline: "mem".into(),
            template: None,
            strategy: Strategy::Replicate,
            scale: Scale::Factor(3.0),
            scale_given: true,
            seed: 1,
            edges,
            atg_compat: false,
            links: true,
            operation_id: Some("op".into()),
            timestamp: Some(parse_timestamp("2025-11-15T21:17:00Z").unwrap()),
            part_rows: DEFAULT_PART_ROWS,
        }
    }

    /// (group name, base name, linked id) of every pair.
    fn pairs(groups: &[OutEdges]) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for g in groups {
            let EdgeSource::Linked(l) = &g.source else {
                panic!("{} is not a link group", g.name)
            };
            for &(k, e) in &l.pairs {
                out.push((
                    g.name.clone(),
                    ["own", "twinned", "props", "bare"][k as usize].to_string(),
                    String::from_utf8_lossy(&l.ends[e as usize]).into_owned(),
                ));
            }
        }
        out
    }

    #[test]
    fn each_base_takes_its_own_then_its_twins_then_its_properties() {
        let b = baseline();
        let copies = [2, 2, 2, 2];
        let (groups, sources) = plan(&config(EdgeMode::Aligned), &b, &copies).unwrap();
        let g = |n: &str| format!("synthetic.linked.{n}");
        assert_eq!(
            pairs(&groups),
            vec![
                // `own` has its CONTAINS itself: the aligned edge copy gives it to the copies.
                (
                    g("contains.resourcegroup.resource"),
                    "twinned".into(),
                    "/s/sub-1/rg/rg-one".into()
                ),
                (
                    g("contains.resourcegroup.resource"),
                    "props".into(),
                    "/s/sub-1/rg/rg-two".into()
                ),
                (
                    g("located_in.resource.region"),
                    "twinned".into(),
                    "eastus".into()
                ),
                (
                    g("located_in.resource.region"),
                    "props".into(),
                    "westeurope".into()
                ),
                (
                    g("tagged_with.resource.tag"),
                    "props".into(),
                    "env:prod".into()
                ),
            ]
        );
        assert_eq!(
            sources[0].1,
            Sources {
                own: 1,
                twin: 1,
                properties: 1,
                none: 1
            }
        );
        assert_eq!(groups[0].rows, 4, "two pairs, two copies each");
        // Cross copies skip a base's own kept ends, so they become links too.
        let (cross, _) = plan(&config(EdgeMode::Cross), &b, &copies).unwrap();
        assert_eq!(pairs(&cross)[0].1, "own");
    }

    #[test]
    fn atg_compat_and_no_hierarchy_add_none() {
        let b = baseline();
        let mut c = config(EdgeMode::Cross);
        c.atg_compat = true;
        assert!(plan(&c, &b, &[1, 1, 1, 1]).unwrap().0.is_empty());
        let mut c = config(EdgeMode::Aligned);
        c.links = false;
        assert!(plan(&c, &b, &[1, 1, 1, 1]).unwrap().0.is_empty());
    }

    #[test]
    fn edges_between_twins_are_lifted_once_onto_the_bases() {
        let b = baseline();
        let lifted: Vec<_> = b.base_edges.iter().filter(|e| e.via_twin).collect();
        // twinned's twin → own (a base): lifted; twinned's twin → other (an Original without a
        // base): not.
        assert_eq!(lifted.len(), 1);
        assert_eq!(
            (lifted[0].start, lifted[0].end),
            (crate::baseline::End::Base(1), crate::baseline::End::Base(0))
        );
    }

    #[test]
    fn a_base_without_scan_source_node_finds_its_twin_by_original_id() {
        let b = Baseline::from_memory(
            &[
                MemNodes {
                    labels: &["Resource"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type,original_id",
                    rows: "vm,vm,Microsoft.Compute/virtualMachines,/orig/vm\n\
                           disk,disk,Microsoft.Compute/disks,/orig/disk\n\
                           lost,lost,Microsoft.Compute/disks,/orig/nowhere\n",
                },
                MemNodes {
                    labels: &["Resource", "Original"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type",
                    rows: "/orig/vm,vm,Microsoft.Compute/virtualMachines\n\
                           /orig/disk,disk,Microsoft.Compute/disks\n",
                },
            ],
            &[MemRels {
                rel_type: "CONTAINS",
                start_space: "Resource",
                end_space: "Resource",
                header: ":START_ID(Resource),:END_ID(Resource)",
                rows: "/orig/vm,/orig/disk\n",
            }],
        )
        .unwrap();
        let twin_of = |base: u32| b.twins.iter().find(|(_, &k)| k == base).map(|(&t, _)| t);
        assert!(twin_of(0).is_some() && twin_of(1).is_some());
        assert_eq!(twin_of(2), None, "an original_id that names no node");
        let lifted: Vec<_> = b.base_edges.iter().filter(|e| e.via_twin).collect();
        assert_eq!(lifted.len(), 1);
        assert_eq!(
            (lifted[0].start, lifted[0].end),
            (crate::baseline::End::Base(0), crate::baseline::End::Base(1))
        );
    }

    #[test]
    fn bases_naming_each_other_by_azure_id_get_edges_the_builtin_rules_type() {
        let b = Baseline::from_memory(
            &[MemNodes {
                labels: &["Resource"],
                id_space: "Resource",
                header: "id:ID(Resource),name,type,original_id,properties",
                rows: "vnet,vnet,Microsoft.Network/virtualNetworks,/s/p/providers/Microsoft.Network/virtualNetworks/v1,\n\
                       snet,snet,Microsoft.Network/subnets,/s/p/providers/Microsoft.Network/virtualNetworks/v1/subnets/a,\n\
                       nic,nic,Microsoft.Network/networkInterfaces,/s/p/providers/Microsoft.Network/networkInterfaces/n1,\"{\"\"ipConfigurations\"\":[{\"\"subnet\"\":{\"\"id\"\":\"\"/S/P/providers/Microsoft.Network/virtualNetworks/v1/subnets/A\"\"}}]}\"\n\
                       kv,kv,Microsoft.KeyVault/vaults,/s/p/providers/Microsoft.KeyVault/vaults/k,\"{\"\"id\"\":\"\"/s/p/providers/Microsoft.Network/networkInterfaces/n1\"\"}\"\n",
            }],
            &[],
        )
        .expect("the in-memory baseline is valid");
        let c = config(EdgeMode::Aligned);
        let groups = referenced(&c, &b, &[2, 3, 2, 1], &referenced_pairs(&c, &b)).unwrap();
        assert_eq!(groups.len(), 1);
        let EdgeSource::Referenced(r) = &groups[0].source else {
            panic!("not a referenced group")
        };
        // VNet → subnet (the subnet's own id is under the VNet's), subnet → NIC (the NIC names
        // its subnet, ids compared ignoring case); the vault names the NIC but no built-in rule
        // relates the two types. Rows: the fewer copies of the two.
        assert_eq!(groups[0].rel_type, "CONTAINS");
        assert_eq!(r.pairs, vec![(0, 1), (1, 2)]);
        assert_eq!(r.prefix, vec![0, 2, 4]);
        // A pair is copied only where both bases have copies.
        let groups = referenced(&c, &b, &[2, 0, 2, 1], &referenced_pairs(&c, &b)).unwrap();
        assert!(groups.is_empty());
        let mut c = c;
        c.links = false;
        assert!(referenced_pairs(&c, &b).is_empty());
    }

    #[test]
    fn parent_ids_are_one_nesting_level_up() {
        assert_eq!(
            parent_id("/s/x/providers/Microsoft.Network/virtualNetworks/v/subnets/a").as_deref(),
            Some("/s/x/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(
            parent_id("/s/x/providers/Microsoft.Network/virtualNetworks/v"),
            None
        );
        assert_eq!(parent_id("no-providers"), None);
    }

    #[test]
    fn bases_with_scanned_twins_are_linked_as_the_scan_links_them() {
        // The NIC names its subnet, but both have twins and the scan does not link the twins:
        // no referenced edge (the copies keep their twins' degree).
        let b = Baseline::from_memory(
            &[
                MemNodes {
                    labels: &["Resource"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type,original_id,properties",
                    rows: "snet,snet,Microsoft.Network/subnets,/s/p/providers/Microsoft.Network/virtualNetworks/v1/subnets/a,\n\
                           nic,nic,Microsoft.Network/networkInterfaces,/s/p/providers/Microsoft.Network/networkInterfaces/n1,\"{\"\"ipConfigurations\"\":[{\"\"subnet\"\":{\"\"id\"\":\"\"/s/p/providers/Microsoft.Network/virtualNetworks/v1/subnets/a\"\"}}]}\"\n",
                },
                MemNodes {
                    labels: &["Resource", "Original"],
                    id_space: "Resource",
                    header: "id:ID(Resource),name,type",
                    rows: "/s/p/providers/Microsoft.Network/virtualNetworks/v1/subnets/a,snet,Microsoft.Network/subnets\n\
                           /s/p/providers/Microsoft.Network/networkInterfaces/n1,nic,Microsoft.Network/networkInterfaces\n",
                },
            ],
            &[],
        )
        .expect("the in-memory baseline is valid");
        assert_eq!(b.twins.len(), 2);
        assert!(referenced_pairs(&config(EdgeMode::Aligned), &b).is_empty());
    }
}
