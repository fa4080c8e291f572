//! The counts the finished graph must show (the manifest's `expected`, checked by `verify`):
//! the baseline's own counts plus the operation's nodes and relationships, by label, by type,
//! by relationship type and by (source kind, type, target kind) pattern. Also the estimate of
//! the bytes a plan writes, for the free-space check.
//!
//! A pattern's ends are *kinds* (`type`, else the smallest label): a copy has its base's kind,
//! a template row its entry's type, and an existing node the kind the baseline gave it.

use std::collections::BTreeMap;

use super::template::TemplatePlan;
use super::{EdgeSource, OutEdges, OutNodes};
use crate::baseline::{Baseline, End};
use crate::manifest::{Expected, PatternCount};
use crate::template::Template;

/// (source kind, relationship type, target kind) → count.
type Patterns = BTreeMap<(String, String, String), u64>;

/// The expected counts after a replicate operation with `copies` per base.
pub(super) fn replicate(
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
    let before = patterns.clone();
    let mut op_by_rel_type: BTreeMap<String, u64> = BTreeMap::new();
    let kind = |end: End| match end {
        End::Base(k) => baseline.kinds[baseline.bases[k as usize].kind as usize].clone(),
        End::Other(node) => baseline.kind_name(node).to_string(),
    };
    let mut rels = 0;
    for g in edges {
        match &g.source {
            EdgeSource::Replica { patterns: pats, .. } => {
                for p in pats {
                    let edge = &baseline.base_edges[p.edge as usize];
                    *patterns
                        .entry((kind(edge.start), g.rel_type.clone(), kind(edge.end)))
                        .or_default() += p.rows;
                }
            }
            EdgeSource::Referenced(refs) => {
                for (p, &(s, t)) in refs.pairs.iter().enumerate() {
                    *patterns
                        .entry((kind(End::Base(s)), g.rel_type.clone(), kind(End::Base(t))))
                        .or_default() += refs.prefix[p + 1] - refs.prefix[p];
                }
            }
            EdgeSource::Linked(l) => {
                for (p, &(k, e)) in l.pairs.iter().enumerate() {
                    let (copy, other) = (
                        kind(End::Base(k)),
                        kind(End::Other(l.end_nodes[e as usize])),
                    );
                    let key = if l.kind.copy_is_start {
                        (copy, g.rel_type.clone(), other)
                    } else {
                        (other, g.rel_type.clone(), copy)
                    };
                    *patterns.entry(key).or_default() += l.prefix[p + 1] - l.prefix[p];
                }
            }
            _ => continue,
        }
        *e.by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows;
        *op_by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows;
        rels += g.rows;
    }
    e.relationships += rels;
    e.operation_relationships = rels;
    let op_by_label = nodes[0].labels.iter().map(|l| (l.clone(), n)).collect();
    set_operation_share(&mut e, op_by_label, op_by_rel_type, &before, patterns);
    e
}

/// The expected counts after a template operation.
pub(super) fn template(
    baseline: &Baseline,
    t: &Template,
    tp: &TemplatePlan,
    nodes: &[OutNodes],
    edges: &[OutEdges],
) -> Expected {
    let n = tp.rows();
    let mut e = baseline.counts.clone();
    let hier_nodes: u64 = nodes[1..].iter().map(|g| g.rows).sum();
    e.nodes += n + hier_nodes;
    e.abstracted += n;
    e.synthetic += n + hier_nodes;
    e.operation_nodes = n + hier_nodes;
    for g in nodes {
        for l in &g.labels {
            *e.by_label.entry(l.clone()).or_default() += g.rows;
        }
    }
    let mut op_by_type = BTreeMap::new();
    for (r, &c) in tp.counts.iter().enumerate() {
        if c > 0 {
            *op_by_type
                .entry(t.resources[r].type_name.clone())
                .or_insert(0) += c;
        }
    }
    let mut patterns = add_operation(&mut e, op_by_type);
    // The resource groups, regions and tag the operation makes are its nodes too (they carry
    // its markers and `clean` removes them). Their kind is their one label: a resource group's
    // `type` is written as `ResourceGroup`, regions and tags have no `type`.
    for g in &nodes[1..] {
        if let [label] = g.labels.as_slice() {
            *e.operation_by_type.entry(label.clone()).or_default() += g.rows;
        }
    }
    let before = patterns.clone();
    add_template_patterns(&mut patterns, baseline, t, tp);
    let rels: u64 = edges.iter().map(|g| g.rows).sum();
    let mut op_by_rel_type: BTreeMap<String, u64> = BTreeMap::new();
    for g in edges {
        *e.by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows;
        *op_by_rel_type.entry(g.rel_type.clone()).or_default() += g.rows;
    }
    e.relationships += rels;
    e.operation_relationships = rels;
    let mut op_by_label: BTreeMap<String, u64> = BTreeMap::new();
    for g in nodes.iter().filter(|g| g.rows > 0) {
        for l in &g.labels {
            *op_by_label.entry(l.clone()).or_default() += g.rows;
        }
    }
    set_operation_share(&mut e, op_by_label, op_by_rel_type, &before, patterns);
    e
}

/// Sets the whole graph's patterns and the operation's own counts (its patterns are the
/// whole graph's less the baseline's `before`), which verify's operation scope checks.
fn set_operation_share(
    e: &mut Expected,
    op_by_label: BTreeMap<String, u64>,
    op_by_rel_type: BTreeMap<String, u64>,
    before: &Patterns,
    patterns: Patterns,
) {
    let mut op_patterns = patterns.clone();
    for (key, c) in before {
        if let Some(n) = op_patterns.get_mut(key) {
            *n -= c;
        }
    }
    op_patterns.retain(|_, n| *n > 0);
    e.operation_by_label = Some(op_by_label);
    e.operation_by_rel_type = Some(op_by_rel_type);
    e.operation_by_pattern = Some(pattern_counts(op_patterns));
    e.by_pattern = pattern_counts(patterns);
}

/// The template operation's relationships by pattern: CONTAINS from each resource group to the
/// rows it holds, TAGGED_WITH, LOCATED_IN per region, and the rules.
fn add_template_patterns(
    patterns: &mut Patterns,
    baseline: &Baseline,
    t: &Template,
    tp: &TemplatePlan,
) {
    let s = &tp.spaces;
    for (kind, per_entry) in &tp.contains_rows {
        for (r, &c) in per_entry.iter().enumerate() {
            add(patterns, kind, "CONTAINS", &t.resources[r].type_name, c);
        }
    }
    for (r, &c) in tp.counts.iter().enumerate() {
        let ty = &t.resources[r].type_name;
        if let Some((id, _, _)) = &tp.tag {
            let kind = existing_kind(baseline, &s.tag, id, "Tag");
            add(patterns, ty, "TAGGED_WITH", &kind, c);
        }
    }
    for (code, per_entry) in &tp.region_rows {
        let kind = existing_kind(baseline, &s.region, code, "Region");
        for (r, &c) in per_entry.iter().enumerate() {
            add(patterns, &t.resources[r].type_name, "LOCATED_IN", &kind, c);
        }
    }
    for rule in &tp.topology.rules {
        add(
            patterns,
            &t.resources[rule.source].type_name,
            &rule.relationship_type,
            &t.resources[rule.target].type_name,
            rule.rows,
        );
    }
    if tp.subscriptions_known && tp.placed {
        // Every subscription is in the baseline; their kind is the one the baseline gives.
        let mut per_kind: BTreeMap<String, u64> = BTreeMap::new();
        for &g in &tp.rg_new {
            let sub = tp.subscription(u64::from(g));
            *per_kind
                .entry(existing_kind(
                    baseline,
                    &s.subscription,
                    sub,
                    "Subscription",
                ))
                .or_default() += 1;
        }
        for (kind, c) in per_kind {
            add(patterns, &kind, "CONTAINS", "ResourceGroup", c);
        }
    }
}

fn add(patterns: &mut Patterns, source: &str, rel: &str, target: &str, count: u64) {
    if count > 0 {
        *patterns
            .entry((source.to_string(), rel.to_string(), target.to_string()))
            .or_default() += count;
    }
}

/// The kind of the baseline node `id` in `space`, or `new_kind` when the operation makes it.
pub(super) fn existing_kind(baseline: &Baseline, space: &str, id: &str, new_kind: &str) -> String {
    baseline
        .space(space)
        .and_then(|s| baseline.lookup(s, id.as_bytes()))
        .map(|node| baseline.kind_name(node).to_string())
        .unwrap_or_else(|| new_kind.to_string())
}

/// Adds the operation's resources by type to the baseline's counts and hands back the
/// baseline's patterns as a map, for the operation's relationships to be added to.
fn add_operation(e: &mut Expected, op_by_type: BTreeMap<String, u64>) -> Patterns {
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
fn pattern_counts(patterns: Patterns) -> Vec<PatternCount> {
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

/// Bytes a replicate plan writes: each copy is about its base's record, each copied edge
/// about its base edge's.
pub(super) fn replicate_bytes(baseline: &Baseline, copies: &[u32], edges: &[OutEdges]) -> u64 {
    let mut fields = Vec::new();
    let mut total = 0u64;
    for (b, &c) in baseline.bases.iter().zip(copies) {
        if c > 0 {
            // Markers and the new id add about 120 bytes to the base's record.
            total += (baseline.base_record(b, &mut fields).len() as u64 + 120) * u64::from(c);
        }
    }
    for g in edges {
        match &g.source {
            EdgeSource::Replica { patterns, .. } => {
                for p in patterns {
                    let rec =
                        baseline.edge_record(&baseline.base_edges[p.edge as usize], &mut fields);
                    total += (rec.len() as u64 + 90) * p.rows;
                }
            }
            EdgeSource::Referenced(refs) => total += 120 * refs.prefix.last().unwrap_or(&0),
            EdgeSource::Linked(l) => {
                for (p, &(_, e)) in l.pairs.iter().enumerate() {
                    total +=
                        (l.ends[e as usize].len() as u64 + 90) * (l.prefix[p + 1] - l.prefix[p]);
                }
            }
            _ => {}
        }
    }
    total
}

/// Bytes a template plan writes, from typical row sizes (rendered rows are not known before
/// they are rendered).
pub(super) fn template_bytes(nodes: &[OutNodes], edges: &[OutEdges]) -> u64 {
    let n = nodes[0].rows;
    let hier_nodes: u64 = nodes[1..].iter().map(|g| g.rows).sum();
    let rels: u64 = edges.iter().map(|g| g.rows).sum();
    n * 700 + rels * 120 + hier_nodes * 200
}
