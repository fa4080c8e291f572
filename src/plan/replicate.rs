//! The replicate strategy: copies of the baseline's real abstracted resources (the *base*).
//! It decides how many copies each base gets (ATG's `trunc(B·(F−1))`, spread round robin — in
//! default mode the extra copies of a partial layer go to whole groups of linked bases — then
//! the template's `replicate.per_type` bounds), the one synthetic node group with its column
//! sources, and which base edges are copied how often (`aligned` or `cross`).
//!
//! Copy `j` of base `k` has global index `prefix[k] + j` (base-major order).

use std::collections::{BTreeMap, HashMap};

use super::ids::{cut_checked, SyntheticIds};
use super::{
    above_current, check_synthetic, expected, links, marker_column, synthetic_labels, EdgePattern,
    EdgeSource, NodeCol, NodeSource, OutEdges, OutNodes, Plan, PlanError, RelCol, Source,
    NODE_MARKERS,
};
use crate::baseline::{Baseline, End};
use crate::config::{EdgeMode, GenerateConfig, OperationInfo, Scale};
use crate::format::header::{Column, ColumnKind, Header};
use crate::template::{self, Template};

/// The replicate strategy's decisions.
pub struct ReplicatePlan {
    /// Copies per base (index into `Baseline::bases`).
    pub copies: Vec<u32>,
    /// `prefix[k]` = global index of base k's first copy; the last entry is N.
    pub prefix: Vec<u64>,
    /// The template's `replicate.naming.name_pattern`, compiled.
    pub names: Option<template::CompiledTemplate>,
}

impl ReplicatePlan {
    /// The base (index into `Baseline::bases`) of global copy index `i`, and the copy number.
    pub fn locate(&self, i: u64) -> (usize, u64) {
        // `prefix` is sorted; the base is the last k with prefix[k] <= i and a copy to spare.
        let k = self.prefix.partition_point(|&p| p <= i) - 1;
        (k, i - self.prefix[k])
    }
}

/// Builds the plan for the replicate strategy (`template`, if any, for its `replicate:`
/// section).
pub(super) fn plan(
    config: GenerateConfig,
    baseline: &Baseline,
    template: Option<&Template>,
) -> Result<Plan, PlanError> {
    baseline.require_bases()?;
    let mut config = config;
    let mut notes = Vec::new();
    if let Some(f) = template
        .and_then(|t| t.replicate.as_ref())
        .and_then(|r| r.scale_factor)
        .filter(|_| !config.scale_given)
    {
        config.scale = Scale::for_strategy(config.strategy, Some(Scale::Factor(f)))?;
        notes.push(format!(
            "the template's scale_factor {f} is the scale factor (pass --scale-factor or --target-total to override it)"
        ));
    }
    let bases = select_bases(baseline, template);
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
        Scale::Factor(f) => copies_for_factor(f, b)?,
        Scale::TargetTotal(t) => above_current(t, abstracted_before)?,
    };
    check_synthetic(n, config.scale)?;
    let pairs = links::referenced_pairs(&config, baseline);
    let mut copies = spread(baseline, &bases, n)?;
    if !config.atg_compat {
        give_remainder_to_linked_bases(baseline, &bases, n, &pairs, config.seed, &mut copies);
    }
    if let Some(t) = template {
        apply_per_type_bounds(t, baseline, &mut copies);
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
    let op = OperationInfo::resolve(&config)?;
    let names = match template {
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
    let ids = SyntheticIds::new(baseline, b"tenantgen:id", config.seed, n, config.atg_compat);
    let nodes = vec![plan_nodes(&config, baseline, n)?];
    let mut edges = plan_edges(&config, baseline, &copies)?;
    let (linked, sources) = links::plan(&config, baseline, &copies)?;
    edges.extend(linked);
    edges.extend(links::referenced(&config, baseline, &copies, &pairs)?);
    notes.extend(sources.iter().filter(|(_, s)| s.twin + s.properties > 0).map(|(k, s)| {
        format!(
            "{} links of copies: {} bases have their own (copied as edges), {} through their :Original twin, {} from their properties, {} none",
            k.rel_type, s.own, s.twin, s.properties, s.none
        )
    }));
    let expected = expected::replicate(baseline, &nodes, &edges, &copies);
    let estimated_bytes = expected::replicate_bytes(baseline, &copies, &edges);
    Ok(Plan {
        notes,
        config,
        op,
        base_count: b,
        abstracted_before,
        real_before: baseline.counts.real_abstracted,
        synthetic: n,
        ids,
        nodes,
        edges,
        expected,
        source: Source::Replicate(ReplicatePlan {
            copies,
            prefix,
            names,
        }),
        estimated_bytes,
    })
}

/// ATG's copy count for scale factor `f` over `b` bases: `trunc(b × (f − 1))`.
fn copies_for_factor(f: f64, b: u64) -> Result<u64, PlanError> {
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
    Ok(n as u64)
}

/// `n` copies spread round robin over the selected bases (the first `n mod B` get one more);
/// unselected bases get none.
fn spread(baseline: &Baseline, bases: &[u32], n: u64) -> Result<Vec<u32>, PlanError> {
    let b = bases.len() as u64;
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
    Ok(copies)
}

/// Re-deals the `n mod B` extra copies (ATG gives them to the first bases in order, so a
/// factor of 1.5 copies whole types: NICs without their VMs) to whole groups of linked bases —
/// bases joined by their own or their twins' edges, or by the Azure ids they name — taken in an
/// order seeded by `seed`, so a partial layer copies a VM with its NICs, disks and subnet. The
/// last group that does not fit is split; the total stays `n`.
fn give_remainder_to_linked_bases(
    baseline: &Baseline,
    bases: &[u32],
    n: u64,
    pairs: &links::ReferencedPairs,
    seed: u64,
    copies: &mut [u32],
) {
    let b = bases.len() as u64;
    let mut left = n % b;
    if left == 0 {
        return;
    }
    let full = (n / b) as u32;
    let mut parent: Vec<u32> = (0..baseline.bases.len() as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let up = parent[parent[x as usize] as usize];
            parent[x as usize] = up;
            x = up;
        }
        x
    }
    let selected: std::collections::HashSet<u32> = bases.iter().copied().collect();
    let joined = baseline
        .base_edges
        .iter()
        .filter_map(|e| match (e.start, e.end) {
            (End::Base(s), End::Base(t)) => Some((s, t)),
            _ => None,
        })
        .chain(pairs.values().flatten().copied());
    for (s, t) in joined {
        if selected.contains(&s) && selected.contains(&t) {
            let (a, c) = (find(&mut parent, s), find(&mut parent, t));
            parent[a.max(c) as usize] = a.min(c);
        }
    }
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &k in bases {
        let root = find(&mut parent, k);
        groups.entry(root).or_default().push(k);
    }
    let mut order: Vec<(u64, Vec<u32>)> = groups
        .into_iter()
        .map(|(root, members)| {
            let h = xxhash_rust::xxh3::xxh3_64_with_seed(&root.to_le_bytes(), seed ^ 0x7265_6d61);
            (h, members)
        })
        .collect();
    order.sort_unstable();
    for &k in bases {
        copies[k as usize] = full;
    }
    let mut split = Vec::new();
    for (_, members) in &order {
        if members.len() as u64 <= left {
            for &k in members {
                copies[k as usize] = full + 1;
            }
            left -= members.len() as u64;
        } else {
            split.push(members);
        }
    }
    for &k in split.into_iter().flatten() {
        if left == 0 {
            break;
        }
        copies[k as usize] = full + 1;
        left -= 1;
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

/// Clamps each `replicate.per_type` type's total copies into its bounds, spreading the new
/// total round robin over that type's bases.
fn apply_per_type_bounds(t: &Template, baseline: &Baseline, copies: &mut [u32]) {
    let Some(rep) = &t.replicate else {
        return;
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
}

/// The synthetic resource group: the union of the base groups' property columns plus the
/// markers, and per base group where each output column's value comes from.
fn plan_nodes(config: &GenerateConfig, baseline: &Baseline, n: u64) -> Result<OutNodes, PlanError> {
    let mut groups: Vec<u16> = baseline.bases.iter().map(|b| b.group).collect();
    groups.sort_unstable();
    groups.dedup();
    let id_space = baseline.node_groups[groups[0] as usize]
        .meta
        .id_space
        .clone();
    let header = node_header(baseline, &groups, &id_space)?;
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
    Ok(OutNodes {
        name: "synthetic.resource".into(),
        labels: synthetic_labels(config.atg_compat),
        id_space,
        header,
        source: NodeSource::Replica { columns: maps },
        rows: n,
        parts: cut_checked(n, config.part_rows)?,
    })
}

/// The header of the synthetic resource group: `id`, then every base group's property columns
/// (first occurrence wins, one type per name), then the markers.
fn node_header(baseline: &Baseline, groups: &[u16], id_space: &str) -> Result<Header, PlanError> {
    let mut columns: Vec<Column> = vec![Column {
        name: "id".into(),
        kind: ColumnKind::Id {
            space: id_space.to_string(),
            stored: true,
        },
    }];
    for &g in groups {
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
    Ok(Header { columns })
}

/// Rows base edge `e` yields: `aligned` pairs copy j with copy j (an end outside the base stays
/// as it is), `cross` joins every copy of one base to every copy of the other, as ATG does.
fn edge_rows(mode: EdgeMode, start: End, end: End, copies: &[u32]) -> u64 {
    let c = |k: u32| u64::from(copies[k as usize]);
    match (mode, start, end) {
        (EdgeMode::Aligned, End::Base(s), End::Base(t)) => c(s).min(c(t)),
        (EdgeMode::Aligned, End::Base(s), End::Other(_)) => c(s),
        (EdgeMode::Aligned, End::Other(_), End::Base(t)) => c(t),
        (EdgeMode::Cross, End::Base(s), End::Base(t)) => c(s) * c(t),
        _ => 0,
    }
}

/// One synthetic relationship group per baseline relationship group with copied edges.
fn plan_edges(
    config: &GenerateConfig,
    baseline: &Baseline,
    copies: &[u32],
) -> Result<Vec<OutEdges>, PlanError> {
    let markers = !config.atg_compat;
    let mut by_group: BTreeMap<u16, Vec<EdgePattern>> = BTreeMap::new();
    let twins = config.links && !config.atg_compat;
    for (ei, e) in baseline.base_edges.iter().enumerate() {
        if e.via_twin && !twins {
            continue;
        }
        let rows = edge_rows(config.edges, e.start, e.end, copies);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_cross_edge_rows() {
        let copies = [3, 5];
        let (a, b, o) = (End::Base(0), End::Base(1), End::Other(9));
        assert_eq!(edge_rows(EdgeMode::Aligned, a, b, &copies), 3);
        assert_eq!(edge_rows(EdgeMode::Aligned, a, o, &copies), 3);
        assert_eq!(edge_rows(EdgeMode::Aligned, o, b, &copies), 5);
        assert_eq!(edge_rows(EdgeMode::Cross, a, b, &copies), 15);
        assert_eq!(edge_rows(EdgeMode::Cross, a, o, &copies), 0);
    }

    #[test]
    fn factor_copies_truncate_as_atg() {
        assert_eq!(copies_for_factor(10.0, 3).unwrap(), 27);
        assert_eq!(copies_for_factor(1.34, 3).unwrap(), 1);
        assert!(copies_for_factor(1.2, 3).is_err());
    }

    #[test]
    fn a_partial_layer_copies_linked_bases_together() {
        use crate::baseline::{MemNodes, MemRels};
        let b = Baseline::from_memory(
            &[MemNodes {
                labels: &["Resource"],
                id_space: "Resource",
                header: "id:ID(Resource),name,type",
                rows: "vm,vm,Microsoft.Compute/virtualMachines\n\
                       disk,disk,Microsoft.Compute/disks\n\
                       nic,nic,Microsoft.Network/networkInterfaces\n\
                       kv,kv,Microsoft.KeyVault/vaults\n\
                       sa,sa,Microsoft.Storage/storageAccounts\n\
                       ip,ip,Microsoft.Network/publicIPAddresses\n",
            }],
            &[MemRels {
                rel_type: "CONTAINS",
                start_space: "Resource",
                end_space: "Resource",
                header: ":START_ID(Resource),:END_ID(Resource)",
                rows: "vm,disk\nvm,nic\n",
            }],
        )
        .unwrap();
        let bases: Vec<u32> = (0..6).collect();
        let none = links::ReferencedPairs::new();
        for seed in 0..20 {
            for n in [1u64, 3, 4, 8] {
                let mut copies = spread(&b, &bases, n).unwrap();
                give_remainder_to_linked_bases(&b, &bases, n, &none, seed, &mut copies);
                assert_eq!(copies.iter().map(|&c| u64::from(c)).sum::<u64>(), n);
                // The VM's group (VM, disk, NIC) is split only when the extra copies run out
                // before it, after every lone base took one.
                let vm_group = &copies[0..3];
                if vm_group.iter().any(|&c| c != vm_group[0]) {
                    let most = *vm_group.iter().max().unwrap();
                    assert!(
                        copies[3..].iter().all(|&c| c == most),
                        "seed {seed} n {n}: {copies:?}"
                    );
                }
            }
        }
    }
}
