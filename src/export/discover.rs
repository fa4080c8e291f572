//! Discovery, the first of the export's two passes: asks the server for aggregates only (label
//! sets with counts, relationship patterns, every property key with its `valueType` and count)
//! and turns them into the groups to write: each node group's ID space, id strategy and typed
//! columns, each relationship group's patterns and columns. It refuses, before anything is
//! written, what the format cannot hold (unlabelled nodes, odd tokens, unsupported or mixed
//! types, duplicate stored ids). Streaming the rows is [`super::stream`]'s.

use std::collections::BTreeMap;

use super::{
    describe_labels, int, label_match, prop, string, strings, ExportError, IdStrategy, NodePlan,
    PropCol, RelPlan, Result,
};
use crate::cypher::quote;
use crate::format::header::ValueType;
use crate::manifest;
use crate::neo4j::Client;

/// Properties that can key a derived node id, in order of preference.
const DERIVED_KEYS: [&str; 3] = ["code", "name", "key"];

/// The group name of a sorted label set (or of a relationship group's parts).
fn group_name(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| p.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

/// The ID space of a sorted, non-empty label set.
fn id_space(labels: &[String]) -> String {
    if labels.iter().any(|l| l == "Resource") {
        "Resource".into()
    } else {
        labels[0].clone()
    }
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
            _ => return None,
        })
    };
    let t = t.strip_suffix(" NOT NULL").unwrap_or(t);
    match t.strip_prefix("LIST<").and_then(|r| r.strip_suffix('>')) {
        Some(inner) => scalar(inner).map(|ty| (ty, true)),
        None => scalar(t).map(|ty| (ty, false)),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn check_token(what: &'static str, name: &str) -> Result<()> {
    if manifest::valid_token(name) {
        Ok(())
    } else {
        Err(ExportError::BadToken {
            what,
            name: name.to_string(),
        })
    }
}

/// Collects (key → type → count) and refuses unsupported or mixed types.
struct KeyTypes {
    /// key → (valueType string → count)
    keys: BTreeMap<String, BTreeMap<String, u64>>,
}

impl KeyTypes {
    fn new() -> Self {
        KeyTypes {
            keys: BTreeMap::new(),
        }
    }

    fn add(&mut self, key: String, ty: String, count: u64) {
        *self.keys.entry(key).or_default().entry(ty).or_default() += count;
    }

    /// The columns, sorted by key; `unsupported(key, type)` builds the error for a type the
    /// format cannot hold (it looks up an example id).
    fn columns(
        &self,
        owner: &str,
        what: &'static str,
        mut unsupported: impl FnMut(&str, &str) -> Result<ExportError>,
    ) -> Result<Vec<PropCol>> {
        let mut cols = Vec::new();
        for (key, types) in &self.keys {
            let mut parsed = BTreeMap::new();
            for ty in types.keys() {
                match parse_value_type(ty) {
                    Some(p) => {
                        parsed.insert((p.0.header_name(), p.1), p);
                    }
                    None => return Err(unsupported(key, ty)?),
                }
            }
            if parsed.len() > 1 {
                return Err(ExportError::MixedTypes {
                    owner: owner.to_string(),
                    what,
                    key: key.clone(),
                    types: types
                        .iter()
                        .map(|(t, c)| format!("{t} on {c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            if let Some((_, (ty, array))) = parsed.into_iter().next() {
                cols.push(PropCol {
                    key: key.clone(),
                    ty,
                    array,
                });
            }
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
}

/// The node groups: one per label set, with its ID space, id strategy and columns, sorted by
/// name.
pub(super) fn discover_nodes(client: &Client) -> Result<Vec<NodePlan>> {
    let mut sets: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for row in client.rows("MATCH (n) RETURN labels(n) AS l, count(*) AS c", &[])? {
        let labels = sorted(strings(&row, "l", "node labels")?);
        *sets.entry(labels).or_default() += int(&row, "c", "node count")?;
    }
    if let Some(&count) = sets.get(&Vec::new()) {
        return Err(ExportError::Unlabelled { count });
    }
    let mut keys: BTreeMap<Vec<String>, KeyTypes> = BTreeMap::new();
    for row in client.rows(
        "MATCH (n) UNWIND keys(n) AS k \
         RETURN labels(n) AS l, k AS key, valueType(n[k]) AS t, count(*) AS c",
        &[],
    )? {
        let labels = sorted(strings(&row, "l", "node labels")?);
        keys.entry(labels).or_insert_with(KeyTypes::new).add(
            string(&row, "key", "property key")?,
            string(&row, "t", "value type")?,
            int(&row, "c", "count")?,
        );
    }
    let mut plans = Vec::new();
    let empty = KeyTypes::new();
    for (labels, count) in sets {
        for l in &labels {
            check_token("label", l)?;
        }
        let owner = format!("node {}", describe_labels(&labels));
        let kt = keys.get(&labels).unwrap_or(&empty);
        let cols = kt.columns(&owner, "nodes", |key, ty| {
            Ok(unsupported(
                &owner,
                example_node(client, &labels, key, ty)?,
                key,
                ty,
            ))
        })?;
        let id = if kt.count("id", "STRING NOT NULL") == count {
            IdStrategy::Stored
        } else {
            derived_strategy(client, &labels, kt, count)?
        };
        let cols = cols
            .into_iter()
            .filter(|c| !(id == IdStrategy::Stored && c.key == "id"))
            .collect();
        let space = id_space(&labels);
        // The ID-space label leads the name (`resource.original`, as in the seed tenant).
        let mut parts = vec![space.clone()];
        parts.extend(labels.iter().filter(|l| **l != space).cloned());
        plans.push(NodePlan {
            name: group_name(&parts),
            space,
            labels,
            count,
            id,
            cols,
        });
    }
    plans.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(plans)
}

/// The first of [`DERIVED_KEYS`] that every node of the group has as a unique string, else a
/// hash of the properties.
fn derived_strategy(
    client: &Client,
    labels: &[String],
    kt: &KeyTypes,
    count: u64,
) -> Result<IdStrategy> {
    let (pattern, pred) = label_match("n", labels);
    for key in DERIVED_KEYS {
        if kt.count(key, "STRING NOT NULL") != count {
            continue;
        }
        let distinct = client.scalar_i64(
            &format!(
                "MATCH {pattern} WHERE {pred} RETURN count(DISTINCT {}) AS c",
                prop("n", key)
            ),
            &[],
        )?;
        if distinct as u64 == count {
            return Ok(IdStrategy::Key(key.to_string()));
        }
    }
    Ok(IdStrategy::Hash)
}

/// Stored ids must be unique per ID space (across the groups that share it). Derived ids carry
/// their group's labels, so they cannot collide across groups; within a group they are checked
/// while streaming.
pub(super) fn check_unique_ids(client: &Client, nodes: &[NodePlan]) -> Result<()> {
    let mut spaces: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.id == IdStrategy::Stored) {
        spaces.entry(&n.space).or_default().push(n);
    }
    for (space, groups) in spaces {
        let preds: Vec<String> = groups
            .iter()
            .map(|g| {
                let labels: String = g.labels.iter().map(|l| format!(":{}", quote(l))).collect();
                format!("(n{labels} AND size(labels(n)) = {})", g.labels.len())
            })
            .collect();
        let rows = client.rows(
            &format!(
                "MATCH (n:{}) WHERE {} WITH n.id AS id, collect(labels(n))[0..2] AS ls, count(*) AS c \
                 WHERE c > 1 RETURN id, ls LIMIT 1",
                quote(&groups[0].labels[0]),
                preds.join(" OR ")
            ),
            &[],
        )?;
        if let Some(row) = rows.first() {
            let labels: Vec<Vec<String>> = row.get("ls").unwrap_or_default();
            return Err(ExportError::DuplicateId {
                space: space.to_string(),
                id: row.get::<String>("id").unwrap_or_default(),
                labels: labels
                    .into_iter()
                    .map(|l| describe_labels(&sorted(l)))
                    .collect::<Vec<_>>()
                    .join(" and "),
            });
        }
    }
    Ok(())
}

/// The relationship groups: one per (type, start space, end space), with the patterns that make
/// it up and its columns, sorted by name.
pub(super) fn discover_relationships(client: &Client, nodes: &[NodePlan]) -> Result<Vec<RelPlan>> {
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
    let mut groups: BTreeMap<String, (RelPlan, KeyTypes)> = BTreeMap::new();
    let mut key_of = |rel_type: &str, s: usize, e: usize| -> Result<String> {
        check_token("relationship type", rel_type)?;
        let (ss, es) = (&nodes[s].space, &nodes[e].space);
        let name = group_name(&[rel_type.to_string(), ss.clone(), es.clone()]);
        groups.entry(name.clone()).or_insert_with(|| {
            (
                RelPlan {
                    name: name.clone(),
                    rel_type: rel_type.to_string(),
                    start_space: ss.clone(),
                    end_space: es.clone(),
                    cols: Vec::new(),
                    patterns: Vec::new(),
                },
                KeyTypes::new(),
            )
        });
        Ok(name)
    };
    let mut patterns = Vec::new();
    for row in client.rows(
        "MATCH (a)-[r]->(b) RETURN labels(a) AS s, type(r) AS t, labels(b) AS e, count(*) AS c",
        &[],
    )? {
        let s = group_of(strings(&row, "s", "start labels")?)?;
        let e = group_of(strings(&row, "e", "end labels")?)?;
        let t = string(&row, "t", "relationship type")?;
        let c = int(&row, "c", "count")?;
        patterns.push((key_of(&t, s, e)?, s, e, c));
    }
    let mut typed = Vec::new();
    for row in client.rows(
        "MATCH (a)-[r]->(b) UNWIND keys(r) AS k \
         RETURN labels(a) AS s, type(r) AS t, labels(b) AS e, k AS key, valueType(r[k]) AS vt, \
         count(*) AS c",
        &[],
    )? {
        let s = group_of(strings(&row, "s", "start labels")?)?;
        let e = group_of(strings(&row, "e", "end labels")?)?;
        let t = string(&row, "t", "relationship type")?;
        typed.push((
            key_of(&t, s, e)?,
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
    for (_, (mut plan, kt)) in groups {
        let owner = format!("relationship group {}", plan.name);
        plan.cols = kt.columns(&owner, "relationships", |key, ty| {
            let example = example_relationship(client, &plan.rel_type, key, ty)?;
            Ok(unsupported(&owner, example, key, ty))
        })?;
        plan.patterns.sort_by(|a, b| {
            (&nodes[a.0].name, &nodes[a.1].name).cmp(&(&nodes[b.0].name, &nodes[b.1].name))
        });
        plans.push(plan);
    }
    Ok(plans)
}

/// The error for a property of a type the format cannot hold, with an example owner's id.
fn unsupported(owner: &str, id: String, key: &str, ty: &str) -> ExportError {
    ExportError::Unsupported {
        owner: owner.to_string(),
        id,
        key: key.to_string(),
        ty: ty.to_string(),
    }
}

/// The id of a node of the group whose `key` has type `ty`.
fn example_node(client: &Client, labels: &[String], key: &str, ty: &str) -> Result<String> {
    let (pattern, pred) = label_match("n", labels);
    Ok(client.scalar_string(
        &format!(
            "MATCH {pattern} WHERE {pred} AND valueType(n[$key]) = $ty \
             RETURN coalesce(toString(n.id), elementId(n)) LIMIT 1"
        ),
        &[("key", key.into()), ("ty", ty.into())],
    )?)
}

/// `start->end` ids of a relationship of the type whose `key` has type `ty`.
fn example_relationship(client: &Client, rel_type: &str, key: &str, ty: &str) -> Result<String> {
    let rows = client.rows(
        &format!(
            "MATCH (a)-[r:{}]->(b) WHERE valueType(r[$key]) = $ty \
             RETURN coalesce(toString(a.id), elementId(a)) AS a, \
             coalesce(toString(b.id), elementId(b)) AS b LIMIT 1",
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
        for refused in [
            "POINT NOT NULL",
            "DURATION NOT NULL",
            "ZONED TIME NOT NULL",
            "LOCAL TIME NOT NULL",
            "LIST<NOTHING> NOT NULL",
            "LIST<POINT NOT NULL> NOT NULL",
        ] {
            assert_eq!(parse_value_type(refused), None, "{refused}");
        }
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
    }

    #[test]
    fn mixed_types_are_refused() {
        let mut kt = KeyTypes::new();
        kt.add("size".into(), "INTEGER NOT NULL".into(), 3);
        kt.add("size".into(), "STRING NOT NULL".into(), 1);
        let e = kt
            .columns("node :Thing", "nodes", |_, _| unreachable!())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"size\"") && e.contains("INTEGER NOT NULL on 3"),
            "{e}"
        );
    }
}
