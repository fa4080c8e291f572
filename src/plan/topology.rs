//! The template strategy's topology: which relationship rules apply (the template's own, then
//! the built-in Azure rules for type pairs it does not mention), how the rows of a rule's two
//! types pair up, and where each row is *placed* (its resource group, subscription and region).
//!
//! Pairing is arithmetic on row numbers, never a lookup table: in a one-sided rule the owned
//! rows `0..L` have owners, owned row `j` belonging to owner `j` when there are no more links
//! than owners, else to owner `⌊j·a/L⌋` (contiguous blocks, each owner at most `⌈L/a⌉`). A rule
//! whose ends must share their region or resource group makes one end's rows *placed by* the
//! other's: the owned rows by their owner (forward) or, when the owned type is already placed by
//! another rule, the owners by their first owned row (reverse). Following those links from any
//! row ends at a *root* row, placed by itself; every row is placed where its root is. So VNets,
//! their subnets, the NICs in them, the VMs of those NICs and the VMs' disks share one resource
//! group and region, and the plan holds only a few numbers per rule.

use super::PlanError;
use crate::template::{topology, Cardinality, RelationshipRule, Same, Template};

/// One rule as planned.
#[derive(Debug, Clone)]
pub struct RulePlan {
    pub relationship_type: String,
    /// Source and target entries (indexes into the template's `resources`).
    pub source: usize,
    pub target: usize,
    pub cardinality: Cardinality,
    /// Edges the rule makes (`L`).
    pub rows: u64,
    pub same: Vec<Same>,
    /// The built-in rule this is, or the one it replaces (same two types).
    pub builtin: Option<usize>,
    /// The template's index of a rule from the file.
    pub index: Option<usize>,
    /// The owned rows are `offset..offset + rows`: rules whose owners are rivals for the same
    /// owned type (a NIC is a VM's or a private endpoint's, never both) take disjoint ranges.
    pub offset: u64,
    /// Whether the rule's ends share its `same` (false when both are placed by other rules).
    pub same_kept: bool,
    /// The rule's `max`, if it gives one.
    pub max: Option<u64>,
}

impl RulePlan {
    fn new(
        rule: &RelationshipRule,
        (source, target): (usize, usize),
        cardinality: Cardinality,
        counts: &[u64],
        same: Vec<Same>,
        builtin: Option<usize>,
        index: Option<usize>,
    ) -> RulePlan {
        RulePlan {
            relationship_type: rule.relationship_type.clone(),
            source,
            target,
            cardinality,
            // A rule from a type to itself pairs a row with another row, never itself.
            rows: match (source == target, cardinality) {
                (true, _) if counts[source] < 2 => 0,
                // A forest has a root: at most every row but the first is owned.
                (true, Cardinality::OneToMany | Cardinality::ManyToOne) => {
                    links(rule, cardinality, counts[source], counts[target]).min(counts[source] - 1)
                }
                _ => links(rule, cardinality, counts[source], counts[target]),
            },
            same,
            builtin,
            index,
            offset: 0,
            same_kept: true,
            max: rule.max,
        }
    }

    /// (owner entry, owned entry) of a one-sided rule.
    fn sides(&self) -> Option<(usize, usize)> {
        match self.cardinality {
            Cardinality::OneToOne | Cardinality::OneToMany => Some((self.source, self.target)),
            Cardinality::ManyToOne => Some((self.target, self.source)),
            Cardinality::ManyToMany => None,
        }
    }

    /// Built-in rules are placed in their order (containers first); a file rule that replaces
    /// one takes its position, the file's other rules follow in file order.
    fn placement_key(&self) -> (usize, usize) {
        (self.builtin.unwrap_or(usize::MAX), self.index.unwrap_or(0))
    }

    /// How the rule is named in notes and the manifest.
    pub fn label(&self) -> String {
        match (self.index, self.builtin) {
            (Some(i), _) => format!("relationships[{i}]"),
            (None, Some(b)) => format!("built-in rule {b}"),
            _ => "rule".into(),
        }
    }
}

/// What places an entry's rows `0..placed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    pub rule: usize,
    /// The entry whose rows place these.
    pub entry: usize,
    /// True: these are the rule's owned rows, placed by their owner; false: these are owners,
    /// placed by their first owned row.
    pub forward: bool,
    pub placed: u64,
}

/// The planned rules and placement links.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub rules: Vec<RulePlan>,
    /// Per entry.
    pub parents: Vec<Option<Parent>>,
    /// Per entry, the roots before its first root.
    pub root_prefix: Vec<u64>,
    pub notes: Vec<String>,
    /// One line per rule for the plan summary: edges, the two types, cardinality, `same` and
    /// where the rule comes from.
    pub lines: Vec<String>,
    /// Rules that keep `same` by placing their owned rows themselves (see
    /// [`Topology::close_triangles`]).
    pub triangles: Vec<Triangle>,
    /// Rules [`Topology::place`] could not make a placement link of.
    unplaced: Vec<usize>,
}

/// A rule whose owned rows `lo..hi` are placed by their owner, both ends being held by one
/// container type: `container_of_owned` (the rule that placed the owned type) gives those rows
/// the container of their owner under `container_of_owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triangle {
    pub rule: usize,
    pub owned: usize,
    pub owner: usize,
    pub lo: u64,
    pub hi: u64,
    pub container_of_owned: usize,
    pub container_of_owner: usize,
}

/// The owner of owned row `j < links` among `owners` rows.
#[inline]
pub fn owner_of(links: u64, owners: u64, j: u64) -> u64 {
    if links <= owners {
        j
    } else {
        ((u128::from(j) * u128::from(owners)) / u128::from(links)) as u64
    }
}

/// The first owned row of owner `i` (which has one: `i < min(owners, links)`).
#[inline]
pub fn first_owned(links: u64, owners: u64, i: u64) -> u64 {
    if links <= owners {
        i
    } else {
        // The least j with ⌊j·a/L⌋ = i.
        (u128::from(i) * u128::from(links)).div_ceil(u128::from(owners)) as u64
    }
}

/// The rules of `t` with rows counts `counts`: the file's rules in order (each taking the
/// cardinality and `same` of the built-in rule for its two types when it gives none), then the
/// built-in rules for type pairs the file does not mention. `builtin` false (ATG-compatible
/// output, `config.topology: none`) keeps only the file's rules, as many_to_many unless they
/// say otherwise.
pub fn plan(t: &Template, counts: &[u64], builtin: bool) -> Result<Topology, PlanError> {
    let entry_of = |ty: &str| {
        t.resources
            .iter()
            .position(|r| topology::same_type(&r.type_name, ty))
    };
    let builtins: &[RelationshipRule] = if builtin { topology::builtin() } else { &[] };
    let pair_builtin = |s: &str, d: &str| {
        topology::builtin_between(s, d)
            .filter(|_| builtin)
            .map(|(b, _, reversed)| (b, reversed))
    };
    let mut top = Topology {
        parents: vec![None; counts.len()],
        ..Default::default()
    };
    let mut covered = vec![false; builtins.len()];
    for (k, rule) in t.relationships.iter().enumerate() {
        let (Some(s), Some(d)) = (entry_of(&rule.source_type), entry_of(&rule.target_type)) else {
            return Err(t
                .invalid_at(
                    &format!("relationships[{k}]"),
                    format!("relationships[{k}] names a type that is not in resources; fix the template"),
                )
                .into());
        };
        let inherited = pair_builtin(&rule.source_type, &rule.target_type);
        if rule.max.is_some() && rule.cardinality.is_none() && inherited.is_none() {
            return Err(t
                .invalid_at(
                    &format!("relationships[{k}].max"),
                    format!("relationships[{k}].max relies on the built-in rule's cardinality, which `config.topology: none` turns off: write `cardinality: one_to_many` or `many_to_one`"),
                )
                .into());
        }
        if let Some((b, _)) = inherited {
            covered[b] = true;
        }
        let cardinality = rule
            .cardinality
            .or_else(|| {
                inherited.and_then(|_| {
                    topology::inherited_cardinality(&rule.source_type, &rule.target_type)
                })
            })
            .unwrap_or(Cardinality::ManyToMany);
        let same = rule
            .same
            .clone()
            .or_else(|| {
                inherited
                    .filter(|_| cardinality != Cardinality::ManyToMany)
                    .and_then(|(b, _)| builtins[b].same.clone())
            })
            .unwrap_or_default();
        let builtin = inherited.map(|(b, _)| b);
        top.rules.push(RulePlan::new(
            rule,
            (s, d),
            cardinality,
            counts,
            same,
            builtin,
            Some(k),
        ));
    }
    for (b, rule) in builtins.iter().enumerate() {
        if covered[b] {
            continue;
        }
        let (Some(s), Some(d)) = (entry_of(&rule.source_type), entry_of(&rule.target_type)) else {
            continue;
        };
        if counts[s] == 0 || counts[d] == 0 {
            continue;
        }
        let cardinality = rule.cardinality.unwrap_or(Cardinality::ManyToMany);
        let same = rule.same.clone().unwrap_or_default();
        top.rules.push(RulePlan::new(
            rule,
            (s, d),
            cardinality,
            counts,
            same,
            Some(b),
            None,
        ));
    }
    top.place(counts);
    top.separate_rivals(t, counts);
    top.close_triangles(counts);
    top.count_roots(counts);
    // Listed in placement order (docs/template.md, "Built-in rules").
    let mut listed: Vec<&RulePlan> = top.rules.iter().collect();
    listed.sort_by_key(|r| r.placement_key());
    top.lines = listed
        .into_iter()
        .map(|r| {
            let origin = match (r.index, r.builtin) {
                (Some(_), Some(b)) => format!("{}, over built-in rule {b}", r.label()),
                _ => r.label(),
            };
            let same = if r.same.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = r.same.iter().map(|s| s.name()).collect();
                let kept = if r.same_kept {
                    ""
                } else {
                    " not kept (both ends placed by other rules)"
                };
                format!(", same {}{kept}", names.join(" and "))
            };
            format!(
                "{:>9}  {} -{}-> {}  {}{same}  ({origin})",
                crate::report::thousands(r.rows),
                t.resources[r.source].type_name,
                r.relationship_type,
                t.resources[r.target].type_name,
                r.cardinality.name(),
            )
        })
        .collect();
    Ok(top)
}

/// Edges of `rule` between `a` source rows and `b` target rows.
fn links(rule: &RelationshipRule, c: Cardinality, a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        return 0;
    }
    let per_source = |r: f64| (a as f64 * r).floor() as u64;
    let max = rule.max.unwrap_or(u64::MAX);
    match c {
        Cardinality::ManyToMany => per_source(rule.ratio()),
        Cardinality::OneToOne => a.min(b).min(rule.ratio.map_or(u64::MAX, per_source)),
        Cardinality::OneToMany => b
            .min(a.saturating_mul(max))
            .min(rule.ratio.map_or(u64::MAX, per_source)),
        Cardinality::ManyToOne => a
            .min(b.saturating_mul(max))
            .min(rule.ratio.map_or(u64::MAX, per_source)),
    }
}

impl Topology {
    /// Chooses the placement links: rules whose ends share something, the template's first
    /// and the built-in ones in their order (containers before what they contain).
    fn place(&mut self, counts: &[u64]) {
        // Built-in rules are listed container first; a file rule that replaces one takes its
        // position, so VNet → subnet → NIC → VM → disk chains form whatever order the file
        // lists its rules in. File rules of other pairs come after, in file order.
        let mut order: Vec<usize> = (0..self.rules.len()).collect();
        order.sort_by_key(|&k| self.rules[k].placement_key());
        for k in order {
            let r = &self.rules[k];
            if r.same.is_empty() || r.rows == 0 {
                continue;
            }
            let Some((owner, owned)) = r.sides() else {
                continue;
            };
            if owner == owned {
                self.unplaced.push(k);
                continue;
            }
            let forward = Parent {
                rule: k,
                entry: owner,
                forward: true,
                placed: r.rows,
            };
            let reverse = Parent {
                rule: k,
                entry: owned,
                forward: false,
                placed: r.rows.min(counts[owner]),
            };
            if self.parents[owned].is_none() && !self.reaches(owner, owned) {
                self.parents[owned] = Some(forward);
            } else if self.parents[owner].is_none() && !self.reaches(owned, owner) {
                self.parents[owner] = Some(reverse);
            } else {
                self.unplaced.push(k);
            }
        }
    }

    /// Rules whose ends both are placed by other rules ([`Topology::place`]) keep their `same`
    /// when they close a triangle: both ends placed by rows of one type through `forward`
    /// rules (a subnet holds a private endpoint and a NIC, and the endpoint owns the NIC).
    /// The owned rows of the rule are then placed by their owner instead, and their edge of the
    /// rule that placed them goes to their owner's container (the endpoint's NIC is in the
    /// endpoint's subnet). Other such rules say they cannot keep `same`.
    fn close_triangles(&mut self, counts: &[u64]) {
        for k in std::mem::take(&mut self.unplaced) {
            let r = &self.rules[k];
            let (owner, owned) = r.sides().expect("only one-sided rules are placed");
            let triangle = match (self.parents[owner], self.parents[owned]) {
                (Some(pa), Some(px))
                    if owner != owned && pa.forward && px.forward && pa.entry == px.entry =>
                {
                    let (lo, hi) = (r.offset, r.offset + r.rows);
                    // Every owned row is one the container rule places, and every owner row
                    // that owns one is placed by the container.
                    let owners_used = r.rows.min(counts[owner]);
                    (hi <= px.placed && owners_used <= pa.placed && self.rules[px.rule].offset == 0)
                        .then_some(Triangle {
                            rule: k,
                            owned,
                            owner,
                            lo,
                            hi,
                            container_of_owned: px.rule,
                            container_of_owner: pa.rule,
                        })
                }
                _ => None,
            };
            match triangle {
                Some(tri) => self.triangles.push(tri),
                None => {
                    self.rules[k].same_kept = false;
                    let r = &self.rules[k];
                    let why = if owner == owned {
                        "a rule from a type to itself does not place its rows by each other"
                    } else {
                        "both types are placed by other rules"
                    };
                    self.notes.push(format!(
                        "{} ({}): its ends cannot share {} — {why}",
                        r.label(),
                        r.relationship_type,
                        r.same
                            .iter()
                            .map(|s| s.name())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ));
                }
            }
        }
    }

    /// The triangle that places row `j` of entry `r`, if any.
    #[inline]
    fn triangle_of(&self, r: usize, j: u64) -> Option<&Triangle> {
        self.triangles
            .iter()
            .find(|t| t.owned == r && (t.lo..t.hi).contains(&j))
    }

    /// Gives rules whose owners compete for one owned type disjoint ranges of its rows. Two
    /// rules compete when they relate the owned type the same way (same relationship type, the
    /// owned type on the same end) and neither owner is placed inside the other (a subnet and a
    /// VM both hold a NIC: the VM sits in the NIC's subnet; a VM and a private endpoint do not).
    /// A relationship of another type (an endpoint `CONNECTS_TO` its vault beside the subnet
    /// that `CONTAINS` it) never competes. The rule that
    /// places the owned rows keeps the first range, the others follow in placement order, each
    /// after every earlier rival's range; a rule left with fewer rows says so.
    fn separate_rivals(&mut self, t: &Template, counts: &[u64]) {
        let mut order: Vec<usize> = (0..self.rules.len()).collect();
        order.sort_by_key(|&k| {
            let r = &self.rules[k];
            let places = r.sides().is_some_and(
                |(_, x)| matches!(self.parents[x], Some(p) if p.rule == k && p.forward),
            );
            (!places, r.placement_key())
        });
        let mut done: Vec<usize> = Vec::new();
        for k in order {
            let Some((owner, owned)) = self.rules[k].sides() else {
                continue;
            };
            if self.rules[k].rows == 0 || owner == owned {
                continue;
            }
            let same_way = |d: usize| {
                let (a, b) = (&self.rules[d], &self.rules[k]);
                a.relationship_type == b.relationship_type
                    && (a.target == owned) == (b.target == owned)
            };
            let start = done
                .iter()
                .filter(|&&d| {
                    let (o, x) = self.rules[d].sides().expect("one-sided");
                    x == owned
                        && o != owner
                        && same_way(d)
                        && !self.reaches(o, owner)
                        && !self.reaches(owner, o)
                })
                .map(|&d| self.rules[d].offset + self.rules[d].rows)
                .max()
                .unwrap_or(0);
            done.push(k);
            if start == 0 {
                continue;
            }
            let r = &mut self.rules[k];
            let wanted = r.rows;
            r.offset = start.min(counts[owned]);
            r.rows = wanted.min(counts[owned] - r.offset);
            if r.rows < wanted {
                self.notes.push(format!(
                    "{} ({} -{}-> {}): {} of its {} links made — the other rows of {} belong to rival owners; raise its count",
                    r.label(),
                    t.resources[r.source].type_name,
                    r.relationship_type,
                    t.resources[r.target].type_name,
                    crate::report::thousands(r.rows),
                    crate::report::thousands(wanted),
                    t.resources[owned].type_name,
                ));
            }
        }
        for (parent, &count) in self.parents.iter_mut().zip(counts) {
            if let Some(p) = parent.as_mut().filter(|p| !p.forward) {
                p.placed = self.rules[p.rule].rows.min(count);
            }
        }
    }

    /// Counts the roots before each entry's first.
    fn count_roots(&mut self, counts: &[u64]) {
        let mut acc = 0;
        self.root_prefix = counts
            .iter()
            .enumerate()
            .map(|(e, &c)| {
                let before = acc;
                acc += c - self.parents[e].map_or(0, |p| p.placed);
                before
            })
            .collect();
        self.root_prefix.push(acc);
    }

    /// Whether following parents from `from` reaches `to`.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut e = from;
        for _ in 0..=self.parents.len() {
            if e == to {
                return true;
            }
            match self.parents[e] {
                Some(p) => e = p.entry,
                None => return false,
            }
        }
        true
    }

    /// The root of row `j` of entry `r`: (entry, row).
    #[inline]
    pub fn root(&self, counts: &[u64], mut r: usize, mut j: u64) -> (usize, u64) {
        loop {
            if let Some(t) = (!self.triangles.is_empty())
                .then(|| self.triangle_of(r, j))
                .flatten()
            {
                j = owner_of(self.rules[t.rule].rows, counts[t.owner], j - t.lo);
                r = t.owner;
                continue;
            }
            let Some(p) = self.parents[r] else { break };
            if j >= p.placed {
                break;
            }
            let rule = &self.rules[p.rule];
            j = if p.forward {
                owner_of(rule.rows, counts[p.entry], j)
            } else {
                rule.offset + first_owned(rule.rows, counts[r], j)
            };
            r = p.entry;
        }
        (r, j)
    }

    /// Rows of entry `r` placed by another row (the rest, from this row on, are roots).
    #[inline]
    pub fn placed(&self, r: usize) -> u64 {
        self.parents[r].map_or(0, |p| p.placed)
    }

    /// All roots.
    pub fn roots(&self) -> u64 {
        self.root_prefix.last().copied().unwrap_or(0)
    }

    /// Edge `e` of a one-sided rule from a type to itself (not one_to_one): see
    /// [`Topology::one_sided_edge`].
    #[inline]
    fn self_owned_edge_of(r: &RulePlan, e: u64) -> (u64, u64) {
        let per_owner = r.max.unwrap_or(2).max(1);
        let (o, own) = (e / per_owner, e + 1);
        if r.cardinality == Cardinality::ManyToOne {
            (own, o)
        } else {
            (o, own)
        }
    }

    /// Edge `e` of one-sided rule `k`: (source row, target row), entry-local.
    #[inline]
    pub fn one_sided_edge(&self, counts: &[u64], k: usize, e: u64) -> (u64, u64) {
        let r = &self.rules[k];
        let (owner, _) = r.sides().expect("a one-sided rule");
        let own = r.offset + e;
        let o = if r.source == r.target {
            if r.cardinality == Cardinality::OneToOne {
                // A cyclic shift: every row has one partner, never itself.
                (own + 1) % counts[owner]
            } else {
                // A forest: row 0 is a root, owned row `e + 1` belongs to row `e / max`, an
                // earlier row (no cycles), each owner holding at most `max` (2 by default).
                return Self::self_owned_edge_of(r, e);
            }
        } else if let Some(t) = self
            .triangles
            .iter()
            .find(|t| t.container_of_owned == k && (t.lo..t.hi).contains(&own))
        {
            // A row placed by its owner in a triangle: the container of its owner.
            let a = owner_of(self.rules[t.rule].rows, counts[t.owner], own - t.lo);
            owner_of(self.rules[t.container_of_owner].rows, counts[owner], a)
        } else {
            owner_of(r.rows, counts[owner], e)
        };
        // The owner is the source but in many_to_one (compare by cardinality: a rule from a
        // type to itself has the same entry at both ends).
        if r.cardinality != Cardinality::ManyToOne {
            (o, own)
        } else {
            (own, o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_first_owned_agree() {
        for (links, owners) in [(10u64, 3u64), (3, 10), (7, 7), (100, 33), (1, 5)] {
            let mut seen = vec![0u64; owners as usize];
            let mut first = vec![None; owners as usize];
            for j in 0..links {
                let o = owner_of(links, owners, j);
                assert!(o < owners);
                seen[o as usize] += 1;
                first[o as usize].get_or_insert(j);
            }
            let max = links.div_ceil(owners);
            assert!(seen.iter().all(|&c| c <= max), "{links}/{owners}: {seen:?}");
            for i in 0..owners.min(links) {
                assert_eq!(
                    Some(first_owned(links, owners, i)),
                    first[i as usize],
                    "{links}/{owners} owner {i}"
                );
            }
        }
    }

    fn template(extra_rules: &str) -> Template {
        let src = format!(
            "resources:\n\
             - {{ type: Microsoft.Network/virtualNetworks, count: 2, template: {{ name_pattern: 'v{{index}}' }} }}\n\
             - {{ type: Microsoft.Network/virtualNetworks/subnets, count: 4, template: {{ name_pattern: 's{{index}}' }} }}\n\
             - {{ type: Microsoft.Network/networkInterfaces, count: 10, template: {{ name_pattern: 'n{{index}}' }} }}\n\
             - {{ type: Microsoft.Compute/virtualMachines, count: 6, template: {{ name_pattern: 'm{{index}}' }} }}\n\
             - {{ type: Microsoft.Network/privateEndpoints, count: 3, template: {{ name_pattern: 'p{{index}}' }} }}\n\
             {extra_rules}"
        );
        crate::template::parse_template_str(&src, std::path::Path::new("t.yaml")).unwrap()
    }

    /// The template with `extra_rules`, its rows (each entry's count) and its topology.
    fn planned(extra_rules: &str) -> (Vec<u64>, Topology) {
        let t = template(extra_rules);
        let counts: Vec<u64> = t.resources.iter().map(|r| r.count).collect();
        let top = plan(&t, &counts, true).unwrap();
        (counts, top)
    }

    #[test]
    fn rival_owners_take_disjoint_rows_and_nested_owners_share() {
        let (counts, top) = planned(
            "relationships:\n\
             - { source_type: Microsoft.Network/privateEndpoints, target_type: Microsoft.Network/networkInterfaces, relationship_type: CONTAINS, cardinality: one_to_many, max: 1, same: [region] }\n",
        );
        let nic = 2;
        let owners_of_nics = |owner: usize| -> Vec<u64> {
            let k = top
                .rules
                .iter()
                .position(|r| r.source == owner && r.target == nic)
                .unwrap();
            (0..top.rules[k].rows)
                .map(|e| top.one_sided_edge(&counts, k, e).1)
                .collect()
        };
        let (vm, pe, subnet) = (owners_of_nics(3), owners_of_nics(4), owners_of_nics(1));
        assert_eq!(vm.len(), 6);
        assert_eq!(pe.len(), 3);
        assert!(vm.iter().all(|n| !pe.contains(n)), "vm {vm:?} pe {pe:?}");
        assert!(vm.iter().chain(&pe).all(|&n| n < 10));
        // The subnet holds every NIC, its VM's or its endpoint's alike.
        assert_eq!(subnet, (0..10).collect::<Vec<_>>());
        let line = top
            .lines
            .iter()
            .find(|l| {
                l.contains("privateEndpoints -CONTAINS-> Microsoft.Network/networkInterfaces")
            })
            .unwrap();
        // Its ends are both placed by the subnet: the triangle keeps `same`.
        assert!(!line.contains("not kept"), "{line}");
    }

    #[test]
    fn rivals_beyond_the_owned_rows_are_cut_with_a_note() {
        let t = template(
            "relationships:\n\
             - { source_type: Microsoft.Network/privateEndpoints, target_type: Microsoft.Network/networkInterfaces, relationship_type: CONTAINS, cardinality: one_to_many, max: 3 }\n",
        );
        let mut counts: Vec<u64> = t.resources.iter().map(|r| r.count).collect();
        counts[2] = 8;
        let top = plan(&t, &counts, true).unwrap();
        let pe = top
            .rules
            .iter()
            .find(|r| r.source == 4 && r.target == 2)
            .unwrap();
        assert_eq!((pe.offset, pe.rows), (6, 2));
        assert!(
            top.notes
                .iter()
                .any(|n| n.contains("2 of its 8 links made")),
            "{:?}",
            top.notes
        );
    }

    #[test]
    fn a_rule_from_a_type_to_itself_makes_no_self_loops() {
        for (card, max) in [
            ("one_to_one", ""),
            ("one_to_many", ", max: 2"),
            ("many_to_one", ""),
        ] {
            let t = template(&format!(
                "relationships:\n\
                 - {{ source_type: Microsoft.Network/virtualNetworks/subnets, target_type: Microsoft.Network/virtualNetworks/subnets, relationship_type: PEERS, cardinality: {card}{max} }}\n"
            ));
            let counts: Vec<u64> = t.resources.iter().map(|r| r.count).collect();
            let top = plan(&t, &counts, true).unwrap();
            let k = top
                .rules
                .iter()
                .position(|r| r.source == 1 && r.target == 1)
                .unwrap();
            assert!(top.rules[k].rows > 0, "{card}");
            let mut owned = std::collections::HashSet::new();
            for e in 0..top.rules[k].rows {
                let (a, b) = top.one_sided_edge(&counts, k, e);
                assert_ne!(a, b, "{card} edge {e}");
                assert!(a < 4 && b < 4);
                let (owner_row, owned_row) = if card == "many_to_one" {
                    (b, a)
                } else {
                    (a, b)
                };
                assert!(owned.insert(owned_row), "{card}: owned twice");
                if card != "one_to_one" {
                    assert!(
                        owner_row < owned_row,
                        "{card}: a forest, owners before their rows"
                    );
                }
            }
        }
    }

    #[test]
    fn a_relationship_of_another_type_never_competes() {
        let (_, top) = planned(
            "relationships:\n\
             - { source_type: Microsoft.Network/privateEndpoints, target_type: Microsoft.Network/networkInterfaces, relationship_type: ATTACHES, cardinality: one_to_many, max: 1 }\n",
        );
        let pe = top
            .rules
            .iter()
            .find(|r| r.source == 4 && r.target == 2)
            .unwrap();
        assert_eq!((pe.offset, pe.rows), (0, 3));
    }

    #[test]
    fn an_endpoints_nic_sits_in_the_endpoints_subnet() {
        let (counts, top) = planned(
            "relationships:\n\
             - { source_type: Microsoft.Network/privateEndpoints, target_type: Microsoft.Network/networkInterfaces, relationship_type: CONTAINS, cardinality: one_to_many, max: 1, same: [region, resource_group] }\n",
        );
        assert_eq!(top.triangles.len(), 1, "{:?}", top.notes);
        assert!(top.notes.is_empty(), "{:?}", top.notes);
        let (subnet, nic, pe) = (1, 2, 4);
        let rule = |s: usize, d: usize| {
            top.rules
                .iter()
                .position(|r| r.source == s && r.target == d)
                .unwrap()
        };
        let subnet_of = |k: usize, row: u64| {
            (0..top.rules[k].rows)
                .map(|e| top.one_sided_edge(&counts, k, e))
                .find(|&(_, owned)| owned == row)
                .map(|(s, _)| s)
        };
        let k = rule(pe, nic);
        for e in 0..top.rules[k].rows {
            let (p, n) = top.one_sided_edge(&counts, k, e);
            assert_eq!(
                top.root(&counts, nic, n),
                top.root(&counts, pe, p),
                "edge {e}"
            );
            assert_eq!(
                subnet_of(rule(subnet, nic), n),
                subnet_of(rule(subnet, pe), p),
                "edge {e}"
            );
        }
    }

    #[test]
    fn ends_placed_by_two_containers_cannot_keep_same() {
        // A VNet's subnet and a VM's NIC both placed by others, by different containers.
        let (_, top) = planned(
            "relationships:\n\
             - { source_type: Microsoft.Compute/virtualMachines, target_type: Microsoft.Network/virtualNetworks/subnets, relationship_type: USES, cardinality: one_to_many, same: [region] }\n",
        );
        assert!(top.triangles.is_empty());
        let line = top.lines.iter().find(|l| l.contains("-USES->")).unwrap();
        assert!(line.contains("same region not kept"), "{line}");
        assert!(
            top.notes.iter().any(|n| n.contains("cannot share region")),
            "{:?}",
            top.notes
        );
    }

    #[test]
    fn a_rule_from_a_type_to_itself_says_it_cannot_keep_same() {
        let (_, top) = planned(
            "relationships:\n\
             - { source_type: Microsoft.Network/privateEndpoints, target_type: Microsoft.Network/privateEndpoints, relationship_type: REPLICA_OF, cardinality: one_to_many, max: 1, same: [region] }\n",
        );
        let line = top
            .lines
            .iter()
            .find(|l| l.contains("-REPLICA_OF->"))
            .unwrap();
        assert!(line.contains("not kept"), "{line}");
        assert!(
            top.notes
                .iter()
                .any(|n| n.contains("a rule from a type to itself")),
            "{:?}",
            top.notes
        );
    }
}
