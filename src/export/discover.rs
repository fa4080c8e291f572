//! Discovery, the first of the export's two passes: asks the server for aggregates only (label
//! sets with counts, relationship patterns, every property key with its `valueType` and count,
//! the ids that repeat in an ID space) and turns them into the groups to write: each node
//! group's ID space, whether its ids are stored or some nodes need derived keys, and typed
//! columns; each relationship group's patterns and columns. It works around what the format
//! can hold another way (missing, duplicated or non-string ids get derived keys, a property of
//! several scalar types becomes a string column), each with a warning, and collects everything
//! it cannot do (unlabelled nodes, odd tokens, unsupported types, lists the array format cannot
//! hold) into one error before anything is written. Streaming the rows is [`super::stream`]'s.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    describe_labels, int, label_match, prop, string, strings, ExportError, ExportWarning, NodePlan,
    PropCol, RelPlan, Result,
};
use crate::cypher::quote;
use crate::format::header::ValueType;
use crate::manifest;
use crate::neo4j::Client;

/// Duplicated ids named in a warning.
const EXAMPLES: usize = 3;

/// What discovery found: the groups to stream, the warnings, and the problems it cannot work
/// around (when not empty, the export stops before writing).
#[derive(Debug, Default)]
pub(super) struct Discovery {
    pub(super) nodes: Vec<NodePlan>,
    pub(super) rels: Vec<RelPlan>,
    pub(super) warnings: Vec<ExportWarning>,
    pub(super) problems: Vec<ExportError>,
}

/// The group name of a sorted label set (or of a relationship group's parts): lower case, any
/// character a file name should not hold as `_`.
fn group_name(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| token(p).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

/// `name` with every character but ASCII letters, digits and `_` as `_`, starting with a
/// letter: the ID space's name in headers and the manifest ([`manifest::valid_token`]).
fn token(name: &str) -> String {
    let mut t: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !t.starts_with(|c: char| c.is_ascii_alphabetic()) {
        t.insert(0, 'S');
    }
    t.truncate(128);
    t
}

/// The label that makes the ID space of a sorted, non-empty label set.
fn space_label(labels: &[String]) -> String {
    if labels.iter().any(|l| l == "Resource") {
        "Resource".into()
    } else {
        labels[0].clone()
    }
}

/// The ID space of a sorted, non-empty label set, as written in headers.
fn id_space(labels: &[String]) -> String {
    token(&space_label(labels))
}

/// `name`, or `name-2`, `name-3`, … when `taken` holds it (two labels alike but for the
/// characters [`group_name`] replaces).
fn unique_name(name: String, taken: &mut BTreeSet<String>) -> String {
    let mut n = 1;
    let mut candidate = name.clone();
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{name}-{n}");
    }
    candidate
}

/// The column type of a `valueType()` answer, or `None` when the format cannot hold it.
fn parse_value_type(t: &str) -> Option<(ValueType, bool)> {
    let scalar = |s: &str| -> Option<ValueType> {
        Some(match s.strip_suffix(" NOT NULL").unwrap_or(s) {
            "STRING" => ValueType::String,
            "INTEGER" => ValueType::Long,
            "FLOAT" => ValueType::Double,
            "BOOLEAN" => ValueType::Boolean,
            "ZONED DATETIME" => ValueType::DateTime,
            "DATE" => ValueType::Date,
            "LOCAL DATETIME" => ValueType::LocalDateTime,
            "ZONED TIME" => ValueType::Time,
            "LOCAL TIME" => ValueType::LocalTime,
            "DURATION" => ValueType::Duration,
            "POINT" => ValueType::Point,
            _ => return None,
        })
    };
    let t = t.strip_suffix(" NOT NULL").unwrap_or(t);
    match t.strip_prefix("LIST<").and_then(|r| r.strip_suffix('>')) {
        Some(inner) => scalar(inner).map(|ty| (ty, true)),
        None => scalar(t).map(|ty| (ty, false)),
    }
}

/// An empty list's `valueType()`: the array format cannot hold it.
fn is_empty_list(t: &str) -> bool {
    t.starts_with("LIST<NOTHING>")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn check_token(what: &'static str, name: &str, problems: &mut Vec<ExportError>) {
    if !manifest::valid_name(name) {
        let p = ExportError::BadToken {
            what,
            name: name.to_string(),
        };
        if !problems.iter().any(|q| q.to_string() == p.to_string()) {
            problems.push(p);
        }
    }
}

/// Collects (key → type → count) of one group.
#[derive(Debug, Default)]
struct KeyTypes {
    /// key → (valueType string → count)
    keys: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Asks the graph for an example of an odd value: `(key, type)` → the owner's id.
type Example<'a> = dyn FnMut(&str, &str) -> Result<String> + 'a;

impl KeyTypes {
    fn add(&mut self, key: String, ty: String, count: u64) {
        *self.keys.entry(key).or_default().entry(ty).or_default() += count;
    }

    /// The columns, sorted by key. A key of several scalar types (or lists of several element
    /// types) becomes a string column, with a warning; what no column can hold becomes a
    /// problem, with an example owner from `example`.
    fn columns(
        &self,
        owner: &str,
        what: &'static str,
        example: &mut Example<'_>,
        found: &mut Discovery,
    ) -> Result<Vec<PropCol>> {
        let mut cols = Vec::new();
        for (key, types) in &self.keys {
            let mut parsed = BTreeMap::new();
            let mut ok = true;
            for (ty, count) in types {
                if is_empty_list(ty) {
                    found.problems.push(ExportError::Array {
                        owner: owner.to_string(),
                        id: example(key, ty)?,
                        key: key.clone(),
                        problem: format!("is an empty list (on {count} {what})"),
                    });
                    continue;
                }
                match parse_value_type(ty) {
                    Some(p) => {
                        parsed.insert((p.0.header_name(), p.1), p);
                    }
                    None => {
                        ok = false;
                        found.problems.push(ExportError::Unsupported {
                            owner: owner.to_string(),
                            id: example(key, ty)?,
                            key: key.clone(),
                            ty: ty.clone(),
                        });
                    }
                }
            }
            if !ok || parsed.is_empty() {
                continue;
            }
            let arrays: BTreeSet<bool> = parsed.values().map(|p| p.1).collect();
            let describe = || {
                types
                    .iter()
                    .map(|(t, c)| format!("{t} on {c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let col = if arrays.len() > 1 {
                found.problems.push(ExportError::MixedTypes {
                    owner: owner.to_string(),
                    what,
                    key: key.clone(),
                    types: describe(),
                });
                continue;
            } else if parsed.len() > 1 {
                found.warnings.push(ExportWarning::AsText {
                    owner: owner.to_string(),
                    what,
                    key: key.clone(),
                    types: describe(),
                });
                PropCol {
                    key: key.clone(),
                    ty: ValueType::String,
                    array: arrays.contains(&true),
                    as_text: true,
                }
            } else {
                let (ty, array) = parsed
                    .into_values()
                    .next()
                    .unwrap_or((ValueType::String, false));
                PropCol {
                    key: key.clone(),
                    ty,
                    array,
                    as_text: false,
                }
            };
            cols.push(col);
        }
        Ok(cols)
    }

    fn count(&self, key: &str, ty: &str) -> u64 {
        self.keys
            .get(key)
            .and_then(|t| t.get(ty))
            .copied()
            .unwrap_or(0)
    }

    fn total(&self, key: &str) -> u64 {
        self.keys.get(key).map_or(0, |t| t.values().sum())
    }
}

/// Everything: nodes, their ID spaces' duplicated ids, relationships. Problems are collected,
/// not returned: the caller refuses when there are any.
pub(super) fn discover(client: &Client) -> Result<Discovery> {
    let mut found = Discovery::default();
    discover_nodes(client, &mut found)?;
    discover_relationships(client, &mut found)?;
    Ok(found)
}

/// The node groups: one per label set, with its ID space, key rule and columns, sorted by name.
fn discover_nodes(client: &Client, found: &mut Discovery) -> Result<()> {
    let mut sets: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for row in client.rows("MATCH (n) RETURN labels(n) AS l, count(*) AS c", &[])? {
        let labels = sorted(strings(&row, "l", "node labels")?);
        *sets.entry(labels).or_default() += int(&row, "c", "node count")?;
    }
    if let Some(count) = sets.remove(&Vec::new()) {
        found.problems.push(ExportError::Unlabelled { count });
    }
    let mut keys: BTreeMap<Vec<String>, KeyTypes> = BTreeMap::new();
    for row in client.rows(
        "MATCH (n) UNWIND keys(n) AS k \
         RETURN labels(n) AS l, k AS key, valueType(n[k]) AS t, count(*) AS c",
        &[],
    )? {
        let labels = sorted(strings(&row, "l", "node labels")?);
        keys.entry(labels).or_default().add(
            string(&row, "key", "property key")?,
            string(&row, "t", "value type")?,
            int(&row, "c", "count")?,
        );
    }
    let spaces: BTreeSet<String> = sets.keys().map(|l| space_label(l)).collect();
    let mut dups: BTreeMap<String, Duplicates> = BTreeMap::new();
    for space in &spaces {
        dups.insert(space.clone(), duplicates(client, space)?);
    }
    let mut names = BTreeSet::new();
    let empty = KeyTypes::default();
    let mut plans = Vec::new();
    for (labels, count) in sets {
        for l in &labels {
            check_token("label", l, &mut found.problems);
        }
        let owner = format!("node {}", describe_labels(&labels));
        let kt = keys.get(&labels).unwrap_or(&empty);
        let mut example = |key: &str, ty: &str| example_node(client, &labels, key, ty);
        let cols = kt.columns(&owner, "nodes", &mut example, found)?;
        let space = space_label(&labels);
        let space_dups = &dups[&space];
        let duplicated = space_dups.nodes.get(&labels).copied().unwrap_or(0);
        let strings = kt.count("id", "STRING NOT NULL");
        let stored = strings == count && duplicated == 0;
        if !stored {
            found.warnings.push(ExportWarning::DerivedKeys {
                labels: describe_labels(&labels),
                missing: count - kt.total("id"),
                duplicated,
                not_string: kt.total("id") - strings,
                examples: space_dups
                    .examples
                    .get(&labels)
                    .cloned()
                    .unwrap_or_default(),
            });
        }
        let cols = cols
            .into_iter()
            .filter(|c| !(stored && c.key == "id"))
            .collect();
        // The ID-space label leads the name (`resource.original`, as in the seed tenant).
        let mut parts = vec![space.clone()];
        parts.extend(labels.iter().filter(|l| **l != space).cloned());
        let plan = NodePlan {
            name: unique_name(group_name(&parts), &mut names),
            dups: if stored {
                Vec::new()
            } else {
                space_dups.ids.clone()
            },
            space: id_space(&labels),
            labels,
            count,
            stored,
            cols,
        };
        check_arrays(client, &plan, found)?;
        plans.push(plan);
    }
    plans.sort_by(|a, b| a.name.cmp(&b.name));
    found.nodes = plans;
    Ok(())
}

/// The string ids that more than one node of an ID space has, and how many nodes of each label
/// set carry one.
#[derive(Debug, Default)]
struct Duplicates {
    ids: Vec<String>,
    nodes: BTreeMap<Vec<String>, u64>,
    examples: BTreeMap<Vec<String>, Vec<String>>,
}

fn duplicates(client: &Client, space: &str) -> Result<Duplicates> {
    let mut d = Duplicates::default();
    for row in client.rows(
        &format!(
            "MATCH (n:{}) WHERE n.id IS :: STRING NOT NULL \
             WITH n.id AS id, collect(labels(n)) AS ls WHERE size(ls) > 1 \
             RETURN id, ls ORDER BY id",
            quote(space)
        ),
        &[],
    )? {
        let id = string(&row, "id", "duplicated id")?;
        let sets: Vec<Vec<String>> = row.get("ls").map_err(|e| ExportError::Value {
            what: "labels of duplicated ids".into(),
            value: e.to_string(),
        })?;
        // Only the nodes of this ID space (a :Resource that is also :Alpha is not in Alpha's).
        let sets: Vec<Vec<String>> = sets
            .into_iter()
            .map(sorted)
            .filter(|l| space_label(l) == space)
            .collect();
        if sets.len() < 2 {
            continue;
        }
        for l in sets {
            *d.nodes.entry(l.clone()).or_default() += 1;
            let ex = d.examples.entry(l).or_default();
            if ex.len() < EXAMPLES && !ex.contains(&id) {
                ex.push(id.clone());
            }
        }
        d.ids.push(id);
    }
    Ok(d)
}

/// String list columns whose elements the array format cannot hold (an empty string, or one
/// holding the array delimiter `;`): one problem per column, with an example.
fn check_arrays(client: &Client, plan: &NodePlan, found: &mut Discovery) -> Result<()> {
    let (pattern, pred) = label_match("n", &plan.labels);
    for col in plan
        .cols
        .iter()
        .filter(|c| c.array && c.ty == ValueType::String)
    {
        let p = prop("n", &col.key);
        let elem = if col.as_text { "toString(x)" } else { "x" };
        let rows = client.rows(
            &format!(
                "MATCH {pattern} WHERE {pred} AND {p} IS :: LIST<ANY> \
                 AND any(x IN {p} WHERE {elem} = '' OR {elem} CONTAINS ';') \
                 RETURN count(*) AS c, \
                 collect(coalesce(toStringOrNull(n.id), elementId(n)))[0] AS id"
            ),
            &[],
        )?;
        let Some(row) = rows.first() else { continue };
        let c = int(row, "c", "count")?;
        if c > 0 {
            found.problems.push(ExportError::Array {
                owner: format!("node {}", describe_labels(&plan.labels)),
                id: row.get::<String>("id").unwrap_or_default(),
                key: col.key.clone(),
                problem: format!("holds an empty string or an element with ';' (on {c} nodes)"),
            });
        }
    }
    Ok(())
}

/// The relationship groups: one per (type, start space, end space), with the patterns that make
/// it up and its columns, sorted by name.
fn discover_relationships(client: &Client, found: &mut Discovery) -> Result<()> {
    let nodes = &found.nodes;
    let group_of = |labels: Vec<String>| -> Result<usize> {
        let labels = sorted(labels);
        nodes
            .iter()
            .position(|n| n.labels == labels)
            .ok_or_else(|| ExportError::Changed {
                what: format!("relationship endpoint {}", describe_labels(&labels)),
                expected: 0,
                found: 1,
            })
    };
    // (type, start space, end space) → patterns and key types
    let mut groups: BTreeMap<(String, String, String), (RelPlan, KeyTypes)> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut names: BTreeSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut key_of = |rel_type: &str, s: usize, e: usize, problems: &mut Vec<ExportError>| {
        check_token("relationship type", rel_type, problems);
        let (ss, es) = (&nodes[s].space, &nodes[e].space);
        let key = (rel_type.to_string(), ss.clone(), es.clone());
        groups.entry(key.clone()).or_insert_with(|| {
            let name = unique_name(
                group_name(&[rel_type.to_string(), ss.clone(), es.clone()]),
                &mut names,
            );
            (
                RelPlan {
                    name,
                    rel_type: rel_type.to_string(),
                    start_space: ss.clone(),
                    end_space: es.clone(),
                    cols: Vec::new(),
                    patterns: Vec::new(),
                },
                KeyTypes::default(),
            )
        });
        key
    };
    let mut patterns = Vec::new();
    for row in client.rows(
        "MATCH (a)-[r]->(b) RETURN labels(a) AS s, type(r) AS t, labels(b) AS e, count(*) AS c",
        &[],
    )? {
        let (sl, el) = (
            strings(&row, "s", "start labels")?,
            strings(&row, "e", "end labels")?,
        );
        if sl.is_empty() || el.is_empty() {
            continue; // unlabelled nodes are a problem already
        }
        let s = group_of(sl)?;
        let e = group_of(el)?;
        let t = string(&row, "t", "relationship type")?;
        let c = int(&row, "c", "count")?;
        patterns.push((key_of(&t, s, e, &mut problems), s, e, c));
    }
    let mut typed = Vec::new();
    for row in client.rows(
        "MATCH (a)-[r]->(b) UNWIND keys(r) AS k \
         RETURN labels(a) AS s, type(r) AS t, labels(b) AS e, k AS key, valueType(r[k]) AS vt, \
         count(*) AS c",
        &[],
    )? {
        let (sl, el) = (
            strings(&row, "s", "start labels")?,
            strings(&row, "e", "end labels")?,
        );
        if sl.is_empty() || el.is_empty() {
            continue;
        }
        let s = group_of(sl)?;
        let e = group_of(el)?;
        let t = string(&row, "t", "relationship type")?;
        typed.push((
            key_of(&t, s, e, &mut problems),
            string(&row, "key", "property key")?,
            string(&row, "vt", "value type")?,
            int(&row, "c", "count")?,
        ));
    }
    for (name, s, e, c) in patterns {
        if let Some((plan, _)) = groups.get_mut(&name) {
            plan.patterns.push((s, e, c));
        }
    }
    for (name, key, ty, c) in typed {
        if let Some((_, kt)) = groups.get_mut(&name) {
            kt.add(key, ty, c);
        }
    }
    let mut plans = Vec::new();
    let mut scratch = Discovery::default();
    let mut groups: Vec<(RelPlan, KeyTypes)> = groups.into_values().collect();
    groups.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    for (mut plan, kt) in groups {
        let owner = format!("relationship group {}", plan.name);
        let rel_type = plan.rel_type.clone();
        let mut example = |key: &str, ty: &str| example_relationship(client, &rel_type, key, ty);
        plan.cols = kt.columns(&owner, "relationships", &mut example, &mut scratch)?;
        plan.patterns.sort_by(|a, b| {
            (&nodes[a.0].name, &nodes[a.1].name).cmp(&(&nodes[b.0].name, &nodes[b.1].name))
        });
        plans.push(plan);
    }
    found.problems.extend(problems);
    found.problems.append(&mut scratch.problems);
    found.warnings.append(&mut scratch.warnings);
    found.rels = plans;
    Ok(())
}

/// The id of a node of the group whose `key` has type `ty`.
fn example_node(client: &Client, labels: &[String], key: &str, ty: &str) -> Result<String> {
    let (pattern, pred) = label_match("n", labels);
    Ok(client.scalar_string(
        &format!(
            "MATCH {pattern} WHERE {pred} AND valueType(n[$key]) = $ty \
             RETURN coalesce(toStringOrNull(n.id), elementId(n)) LIMIT 1"
        ),
        &[("key", key.into()), ("ty", ty.into())],
    )?)
}

/// `start->end` ids of a relationship of the type whose `key` has type `ty`.
fn example_relationship(client: &Client, rel_type: &str, key: &str, ty: &str) -> Result<String> {
    let rows = client.rows(
        &format!(
            "MATCH (a)-[r:{}]->(b) WHERE valueType(r[$key]) = $ty \
             RETURN coalesce(toStringOrNull(a.id), elementId(a)) AS a, \
             coalesce(toStringOrNull(b.id), elementId(b)) AS b LIMIT 1",
            quote(rel_type)
        ),
        &[("key", key.into()), ("ty", ty.into())],
    )?;
    Ok(rows
        .first()
        .map(|r| {
            format!(
                "{}->{}",
                r.get::<String>("a").unwrap_or_default(),
                r.get::<String>("b").unwrap_or_default()
            )
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_types_map_to_columns() {
        assert_eq!(
            parse_value_type("STRING NOT NULL"),
            Some((ValueType::String, false))
        );
        assert_eq!(
            parse_value_type("LIST<STRING NOT NULL> NOT NULL"),
            Some((ValueType::String, true))
        );
        assert_eq!(
            parse_value_type("ZONED DATETIME NOT NULL"),
            Some((ValueType::DateTime, false))
        );
        assert_eq!(
            parse_value_type("LIST<FLOAT NOT NULL> NOT NULL"),
            Some((ValueType::Double, true))
        );
        assert_eq!(
            parse_value_type("POINT NOT NULL"),
            Some((ValueType::Point, false))
        );
        assert_eq!(
            parse_value_type("LIST<POINT NOT NULL> NOT NULL"),
            Some((ValueType::Point, true))
        );
        assert_eq!(
            parse_value_type("DURATION NOT NULL"),
            Some((ValueType::Duration, false))
        );
        assert_eq!(
            parse_value_type("ZONED TIME NOT NULL"),
            Some((ValueType::Time, false))
        );
        assert_eq!(
            parse_value_type("LOCAL TIME NOT NULL"),
            Some((ValueType::LocalTime, false))
        );
        for refused in [
            "MAP NOT NULL",
            "LIST<NOTHING> NOT NULL",
            "LIST<INTEGER NOT NULL | STRING NOT NULL> NOT NULL",
            "LIST<LIST<INTEGER NOT NULL> NOT NULL> NOT NULL",
        ] {
            assert_eq!(parse_value_type(refused), None, "{refused}");
        }
        assert!(is_empty_list("LIST<NOTHING> NOT NULL"));
    }

    #[test]
    fn names_and_spaces() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            group_name(&l(&["Original", "Resource"])),
            "original.resource"
        );
        assert_eq!(id_space(&l(&["Original", "Resource"])), "Resource");
        assert_eq!(id_space(&l(&["Region"])), "Region");
        assert_eq!(id_space(&l(&["Alpha", "Zed"])), "Alpha");
        assert_eq!(
            group_name(&l(&["CONTAINS", "Resource", "Tag"])),
            "contains.resource.tag"
        );
        assert_eq!(id_space(&l(&["Odd Label", "Thing"])), "Odd_Label");
        assert_eq!(space_label(&l(&["Odd Label", "Thing"])), "Odd Label");
        assert_eq!(token("9 lives"), "S9_lives");
        assert_eq!(group_name(&l(&["Odd Label", "Thing"])), "odd_label.thing");
        let mut taken = BTreeSet::new();
        assert_eq!(unique_name("a_b".into(), &mut taken), "a_b");
        assert_eq!(unique_name("a_b".into(), &mut taken), "a_b-2");
    }

    #[test]
    fn mixed_scalar_types_become_text_and_the_rest_is_collected() {
        let mut kt = KeyTypes::default();
        kt.add("size".into(), "INTEGER NOT NULL".into(), 3);
        kt.add("size".into(), "STRING NOT NULL".into(), 1);
        kt.add("tags".into(), "LIST<STRING NOT NULL> NOT NULL".into(), 2);
        kt.add("tags".into(), "STRING NOT NULL".into(), 1);
        kt.add("odd".into(), "MAP NOT NULL".into(), 1);
        kt.add("none".into(), "LIST<NOTHING> NOT NULL".into(), 4);
        let mut found = Discovery::default();
        let mut example = |key: &str, _: &str| Ok(format!("ex-{key}"));
        let cols = kt
            .columns("node :Thing", "nodes", &mut example, &mut found)
            .unwrap();
        assert_eq!(
            cols,
            vec![PropCol {
                key: "size".into(),
                ty: ValueType::String,
                array: false,
                as_text: true,
            }]
        );
        let w = found.warnings[0].to_string();
        assert!(
            w.contains("\"size\"") && w.contains("INTEGER NOT NULL on 3"),
            "{w}"
        );
        let problems: Vec<String> = found.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("\"none\"") && p.contains("empty list") && p.contains("ex-none")));
        assert!(problems
            .iter()
            .any(|p| p.contains("\"odd\"") && p.contains("MAP NOT NULL")));
        assert!(problems
            .iter()
            .any(|p| p.contains("\"tags\"") && p.contains("LIST<STRING NOT NULL>")));
    }
}
