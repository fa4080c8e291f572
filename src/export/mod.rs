//! `export`: streams a live graph over Bolt into the baseline layout (`docs/format.md`), so a
//! real tenant can become the input of `generate`. This module owns discovering the graph's
//! groups and property types, choosing each node group's id, and writing the files and the
//! manifest; it does not own the Bolt client ([`crate::neo4j`]) nor the CSV quoting rules
//! ([`crate::csvfmt`]).
//!
//! Two passes keep memory constant: a discovery pass asks the server for aggregates only (label
//! sets, relationship patterns, and every property key with its `valueType` and count), then a
//! streaming pass writes each group's rows in a fixed order as they arrive. Nothing the size of
//! the graph is held in memory.
//!
//! Domain words: a node's *ID space* is `Resource` when it has that label (ids are unique across
//! the whole Resource layer of an ATG graph), else its smallest label. A node group's *id
//! strategy* is its stored string `id` property when every node has one; else a *derived* id,
//! `<Labels>:<value>` of the first of `code`, `name`, `key` that every node has and that is unique
//! in the group, or `<Labels>:<xxh3 of the node's encoded properties>`. A derived id is written in
//! a `:ID(Space)` column, which neo4j-admin does not store, so a re-import adds no property.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neo4rs::{BoltType, Row};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::format::csv as csvfmt;
use crate::format::header::{Column, ColumnKind, Header, ValueType};
use crate::manifest::{
    self, CsvOptions, FileEntry, Kind, Manifest, ManifestError, NodeGroup, Origin, RelGroup,
};
use crate::neo4j::{Client, Neo4jError};

/// Default rows per page of the node queries.
pub const DEFAULT_BATCH: usize = 10_000;

/// Properties that can key a derived node id, in order of preference.
const DERIVED_KEYS: [&str; 3] = ["code", "name", "key"];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Neo4j(#[from] Neo4jError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{path} already exists: pass --force to replace it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{count} node(s) have no label; label them (every node group needs labels) and export again")]
    Unlabelled { count: u64 },
    #[error("{what} {name:?} cannot be exported: the format needs letters, digits and '_' starting with a letter; rename it in the graph")]
    BadToken { what: &'static str, name: String },
    #[error("{owner} with id {id:?}: property {key:?} has type {ty}, which the import format cannot hold (only strings, integers, floats, booleans, datetime, date, localdatetime and non-empty lists of these); remove or convert the property")]
    Unsupported {
        owner: String,
        id: String,
        key: String,
        ty: String,
    },
    #[error("{owner}: property {key:?} has different types on different {what} ({types}); a column has one type: convert the values to one type and export again")]
    MixedTypes {
        owner: String,
        what: &'static str,
        key: String,
        types: String,
    },
    #[error("{owner} with id {id:?}: property {key:?} {problem}; the CSV array format (elements joined by ';') cannot represent it")]
    Array {
        owner: String,
        id: String,
        key: String,
        problem: String,
    },
    #[error("duplicate id {id:?} in ID space {space} (labels {labels}); ids must be unique per ID space: fix the graph's ids")]
    DuplicateId {
        space: String,
        id: String,
        labels: String,
    },
    #[error("{what}: the graph changed during the export (discovery counted {expected}, streaming found {found}); export a graph that is not being written to")]
    Changed {
        what: String,
        expected: u64,
        found: u64,
    },
    #[error("{what}: unexpected value {value} in the result; the graph may have changed during the export")]
    Value { what: String, value: String },
}

type Result<T, E = ExportError> = std::result::Result<T, E>;

/// The validated configuration of an export.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The directory to write (created; must not exist unless `force`).
    pub out: PathBuf,
    /// Replace an existing `out`.
    pub force: bool,
    /// Rows per page of the node queries.
    pub batch: usize,
}

/// Rows written for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    pub name: String,
    pub rows: u64,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    pub out: PathBuf,
    pub node_groups: Vec<GroupCount>,
    pub relationship_groups: Vec<GroupCount>,
    pub nodes: u64,
    pub relationships: u64,
    pub multiline_fields: bool,
    pub elapsed: Duration,
}

/// A property column: its key and type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PropCol {
    key: String,
    ty: ValueType,
    array: bool,
}

/// How a node group's ids are made.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IdStrategy {
    /// The string `id` property, stored again on import.
    Stored,
    /// `<Labels>:<value of this property>`.
    Key(String),
    /// `<Labels>:<xxh3 of the encoded properties>`.
    Hash,
}

/// One node group as discovered.
#[derive(Debug, Clone)]
struct NodePlan {
    name: String,
    labels: Vec<String>,
    space: String,
    count: u64,
    id: IdStrategy,
    cols: Vec<PropCol>,
}

/// One relationship group: a type between two ID spaces, made of (start group, end group)
/// patterns that are streamed one after the other.
#[derive(Debug, Clone)]
struct RelPlan {
    name: String,
    rel_type: String,
    start_space: String,
    end_space: String,
    cols: Vec<PropCol>,
    /// (start node group index, end node group index, count), sorted by group names.
    patterns: Vec<(usize, usize, u64)>,
}

/// Exports the graph behind `client` into `cfg.out`. See the module docs.
pub fn export(client: &Client, cfg: &ExportConfig) -> Result<ExportReport> {
    let t0 = Instant::now();
    if cfg.out.exists() && !cfg.force {
        return Err(ExportError::Exists {
            path: cfg.out.clone(),
        });
    }
    let batch = cfg.batch.max(1);
    let nodes = discover_nodes(client)?;
    check_unique_ids(client, &nodes)?;
    let rels = discover_relationships(client, &nodes)?;

    let tmp = temp_sibling(&cfg.out)?;
    let result = write_all(client, &nodes, &rels, &tmp, batch);
    let (manifest, multiline) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if cfg.out.exists() {
        if !cfg.force {
            let _ = fs::remove_dir_all(&tmp);
            return Err(ExportError::Exists {
                path: cfg.out.clone(),
            });
        }
        fs::remove_dir_all(&cfg.out).map_err(io_err("cannot remove", &cfg.out))?;
    }
    fs::rename(&tmp, &cfg.out).map_err(io_err("cannot rename the export into", &cfg.out))?;

    let count = |files: &[FileEntry]| files.iter().map(|f| f.rows).sum::<u64>();
    Ok(ExportReport {
        out: cfg.out.clone(),
        node_groups: manifest
            .node_groups
            .iter()
            .map(|g| GroupCount {
                name: g.name.clone(),
                rows: count(&g.files),
            })
            .collect(),
        relationship_groups: manifest
            .relationship_groups
            .iter()
            .map(|g| GroupCount {
                name: g.name.clone(),
                rows: count(&g.files),
            })
            .collect(),
        nodes: manifest.node_rows(),
        relationships: manifest.relationship_rows(),
        multiline_fields: multiline,
        elapsed: t0.elapsed(),
    })
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> ExportError + 'a {
    move |source| ExportError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// `.<name>.tmp-<pid>` beside `out`, created empty with `headers/` and `data/`.
fn temp_sibling(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("cannot create", &parent))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err("cannot remove stale", &tmp))?;
    }
    for sub in ["headers", "data"] {
        let p = tmp.join(sub);
        fs::create_dir_all(&p).map_err(io_err("cannot create", &p))?;
    }
    Ok(tmp)
}

// ---------------------------------------------------------------------------------------------
// Discovery

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

/// A Cypher identifier in backticks.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `n.`key``.
fn prop(var: &str, key: &str) -> String {
    format!("{var}.{}", ident(key))
}

/// The pattern and predicate that match exactly the nodes with `labels`.
fn label_match(var: &str, labels: &[String]) -> (String, String) {
    let pattern: String = labels.iter().map(|l| format!(":{}", ident(l))).collect();
    (
        format!("({var}{pattern})"),
        format!("size(labels({var})) = {}", labels.len()),
    )
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

fn strings(row: &Row, key: &str, what: &str) -> Result<Vec<String>> {
    row.get::<Vec<String>>(key).map_err(|e| ExportError::Value {
        what: what.into(),
        value: e.to_string(),
    })
}

fn string(row: &Row, key: &str, what: &str) -> Result<String> {
    row.get::<String>(key).map_err(|e| ExportError::Value {
        what: what.into(),
        value: e.to_string(),
    })
}

fn int(row: &Row, key: &str, what: &str) -> Result<u64> {
    row.get::<i64>(key)
        .map(|v| v.max(0) as u64)
        .map_err(|e| ExportError::Value {
            what: what.into(),
            value: e.to_string(),
        })
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

fn describe_labels(labels: &[String]) -> String {
    labels.iter().map(|l| format!(":{l}")).collect()
}

fn discover_nodes(client: &Client) -> Result<Vec<NodePlan>> {
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
            let (pattern, pred) = label_match("n", &labels);
            let id = client.scalar_string(
                &format!(
                    "MATCH {pattern} WHERE {pred} AND valueType(n[$key]) = $ty \
                     RETURN coalesce(toString(n.id), elementId(n)) LIMIT 1"
                ),
                &[("key", key.into()), ("ty", ty.into())],
            )?;
            Ok(ExportError::Unsupported {
                owner: owner.clone(),
                id,
                key: key.to_string(),
                ty: ty.to_string(),
            })
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
fn check_unique_ids(client: &Client, nodes: &[NodePlan]) -> Result<()> {
    let mut spaces: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.id == IdStrategy::Stored) {
        spaces.entry(&n.space).or_default().push(n);
    }
    for (space, groups) in spaces {
        let preds: Vec<String> = groups
            .iter()
            .map(|g| {
                let labels: String = g.labels.iter().map(|l| format!(":{}", ident(l))).collect();
                format!("(n{labels} AND size(labels(n)) = {})", g.labels.len())
            })
            .collect();
        let rows = client.rows(
            &format!(
                "MATCH (n:{}) WHERE {} WITH n.id AS id, collect(labels(n))[0..2] AS ls, count(*) AS c \
                 WHERE c > 1 RETURN id, ls LIMIT 1",
                ident(&groups[0].labels[0]),
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

fn discover_relationships(client: &Client, nodes: &[NodePlan]) -> Result<Vec<RelPlan>> {
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
            let rows = client.rows(
                &format!(
                    "MATCH (a)-[r:{}]->(b) WHERE valueType(r[$key]) = $ty \
                     RETURN coalesce(toString(a.id), elementId(a)) AS a, \
                     coalesce(toString(b.id), elementId(b)) AS b LIMIT 1",
                    ident(&plan.rel_type)
                ),
                &[("key", key.into()), ("ty", ty.into())],
            )?;
            let id = rows
                .first()
                .map(|r| {
                    format!(
                        "{}->{}",
                        r.get::<String>("a").unwrap_or_default(),
                        r.get::<String>("b").unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            Ok(ExportError::Unsupported {
                owner: owner.clone(),
                id,
                key: key.to_string(),
                ty: ty.to_string(),
            })
        })?;
        plan.patterns.sort_by(|a, b| {
            (&nodes[a.0].name, &nodes[a.1].name).cmp(&(&nodes[b.0].name, &nodes[b.1].name))
        });
        plans.push(plan);
    }
    Ok(plans)
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// One data file being written, hashed and counted as it goes.
struct Part {
    rel: String,
    path: PathBuf,
    out: BufWriter<File>,
    hash: Xxh3,
    bytes: u64,
    rows: u64,
}

impl Part {
    fn create(dir: &Path, group: &str) -> Result<Part> {
        let rel = format!("data/{group}.part-0000.csv");
        let path = dir.join(&rel);
        let file = File::create(&path).map_err(io_err("cannot create", &path))?;
        Ok(Part {
            rel,
            path,
            out: BufWriter::with_capacity(1 << 16, file),
            hash: Xxh3::new(),
            bytes: 0,
            rows: 0,
        })
    }

    fn write_row(&mut self, row: &[u8]) -> Result<()> {
        self.out
            .write_all(row)
            .map_err(io_err("cannot write", &self.path))?;
        self.hash.update(row);
        self.bytes += row.len() as u64;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<FileEntry> {
        self.out
            .flush()
            .map_err(io_err("cannot write", &self.path))?;
        let mut hex = Vec::with_capacity(16);
        csvfmt::push_hex16(&mut hex, self.hash.digest());
        Ok(FileEntry {
            path: self.rel,
            rows: self.rows,
            bytes: Some(self.bytes),
            xxh3: Some(String::from_utf8_lossy(&hex).into_owned()),
        })
    }
}

fn write_header(dir: &Path, group: &str, columns: Vec<Column>) -> Result<String> {
    let rel = format!("headers/{group}.csv");
    let path = dir.join(&rel);
    let mut line = Header { columns }.line();
    line.push('\n');
    fs::write(&path, line).map_err(io_err("cannot write", &path))?;
    Ok(rel)
}

fn prop_columns(cols: &[PropCol]) -> impl Iterator<Item = Column> + '_ {
    cols.iter().map(|c| Column {
        name: c.key.clone(),
        kind: ColumnKind::Property {
            ty: c.ty,
            array: c.array,
        },
    })
}

/// The Cypher expression that returns a column's value in a form [`Encoder`] writes verbatim:
/// temporal values as Neo4j's own `toString` (exactly what neo4j-admin reads back).
fn value_expr(var: &str, col: &PropCol) -> String {
    let p = prop(var, &col.key);
    let temporal = matches!(
        col.ty,
        ValueType::DateTime | ValueType::Date | ValueType::LocalDateTime
    );
    match (temporal, col.array) {
        (false, _) => p,
        (true, false) => format!("toString({p})"),
        (true, true) => format!("[x IN {p} | toString(x)]"),
    }
}

fn values_expr(var: &str, cols: &[PropCol]) -> String {
    let exprs: Vec<String> = cols.iter().map(|c| value_expr(var, c)).collect();
    format!("[{}]", exprs.join(", "))
}

/// `ORDER BY` terms over every column: a total order on distinct property maps.
fn order_all(var: &str, cols: &[PropCol]) -> Vec<String> {
    cols.iter().map(|c| prop(var, &c.key)).collect()
}

/// Shortest text that parses back to the same `f64` (Rust's `Debug`), in Java's spelling for
/// the non-finite values neo4j-admin reads.
fn push_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        out.extend_from_slice(format!("{v:?}").as_bytes());
    }
}

/// Turns Bolt values into CSV fields; remembers whether any value held a line break.
#[derive(Default)]
struct Encoder {
    multiline: bool,
    scratch: Vec<u8>,
}

/// What a value belongs to, for error messages.
struct Ctx<'a> {
    owner: &'a str,
    id: &'a str,
}

impl Encoder {
    /// Appends the properties (`,`-separated, each preceded by a `,`).
    fn push_props(
        &mut self,
        out: &mut Vec<u8>,
        cols: &[PropCol],
        values: &[BoltType],
        ctx: &Ctx<'_>,
    ) -> Result<()> {
        if values.len() != cols.len() {
            return Err(ExportError::Value {
                what: ctx.owner.to_string(),
                value: format!("{} values for {} columns", values.len(), cols.len()),
            });
        }
        for (col, v) in cols.iter().zip(values) {
            out.push(csvfmt::DELIMITER);
            self.push_value(out, col, v, ctx)?;
        }
        Ok(())
    }

    fn push_value(
        &mut self,
        out: &mut Vec<u8>,
        col: &PropCol,
        v: &BoltType,
        ctx: &Ctx<'_>,
    ) -> Result<()> {
        let array_err = |problem: &str| ExportError::Array {
            owner: ctx.owner.to_string(),
            id: ctx.id.to_string(),
            key: col.key.clone(),
            problem: problem.to_string(),
        };
        match v {
            BoltType::Null(_) => {}
            BoltType::List(list) if col.array => {
                if list.value.is_empty() {
                    return Err(array_err("is an empty list"));
                }
                self.scratch.clear();
                let mut elem = Vec::new();
                for (i, e) in list.value.iter().enumerate() {
                    elem.clear();
                    scalar_text(&mut elem, e).ok_or_else(|| ExportError::Value {
                        what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                        value: format!("{e:?}"),
                    })?;
                    if elem.is_empty() {
                        return Err(array_err("holds an empty string element"));
                    }
                    if elem.contains(&csvfmt::ARRAY_DELIMITER) {
                        return Err(array_err(&format!(
                            "has element {:?} holding ';'",
                            String::from_utf8_lossy(&elem)
                        )));
                    }
                    if i > 0 {
                        self.scratch.push(csvfmt::ARRAY_DELIMITER);
                    }
                    self.scratch.extend_from_slice(&elem);
                }
                self.multiline |= csvfmt::has_line_break(&self.scratch);
                csvfmt::push_field(out, &self.scratch);
            }
            v if !col.array => {
                self.scratch.clear();
                scalar_text(&mut self.scratch, v).ok_or_else(|| ExportError::Value {
                    what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                    value: format!("{v:?}"),
                })?;
                self.multiline |= csvfmt::has_line_break(&self.scratch);
                csvfmt::push_field(out, &self.scratch);
            }
            other => {
                return Err(ExportError::Value {
                    what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                    value: format!("{other:?}"),
                })
            }
        }
        Ok(())
    }
}

/// The unquoted text of a scalar value (temporal values arrive as strings).
fn scalar_text(out: &mut Vec<u8>, v: &BoltType) -> Option<()> {
    match v {
        BoltType::String(s) => out.extend_from_slice(s.value.as_bytes()),
        BoltType::Integer(i) => out.extend_from_slice(i.value.to_string().as_bytes()),
        BoltType::Float(f) => push_double(out, f.value),
        BoltType::Boolean(b) => out.extend_from_slice(if b.value { b"true" } else { b"false" }),
        _ => return None,
    }
    Some(())
}

fn list_of(row: &Row, key: &str, what: &str) -> Result<Vec<BoltType>> {
    match row.get::<BoltType>(key) {
        Ok(BoltType::List(l)) => Ok(l.value),
        Ok(other) => Err(ExportError::Value {
            what: what.to_string(),
            value: format!("{other:?}"),
        }),
        Err(e) => Err(ExportError::Value {
            what: what.to_string(),
            value: e.to_string(),
        }),
    }
}

/// Runs `cypher` and calls `f` with each row as it arrives (the driver pulls in batches).
fn stream(
    client: &Client,
    cypher: &str,
    params: Vec<(&str, BoltType)>,
    mut f: impl FnMut(Row) -> Result<()>,
) -> Result<u64> {
    let query_err = |e: neo4rs::Error| {
        ExportError::Neo4j(Neo4jError::Query {
            uri: client.uri().to_string(),
            cypher: cypher.to_string(),
            detail: e.to_string(),
        })
    };
    let query = neo4rs::query(cypher).params(params);
    client.block_on(async {
        let mut rows = client
            .graph()
            .execute_read(query)
            .await
            .map_err(query_err)?;
        let mut n = 0u64;
        while let Some(row) = rows.next().await.map_err(query_err)? {
            f(row)?;
            n += 1;
        }
        Ok(n)
    })
}

/// The derived id of a node of `plan` from its key value or its encoded properties.
fn derived_id(plan: &NodePlan, key_or_props: &[u8]) -> String {
    let mut id = plan.labels.join(":");
    id.push(':');
    match plan.id {
        IdStrategy::Hash => {
            let mut hex = Vec::with_capacity(16);
            csvfmt::push_hex16(&mut hex, xxh3_64(key_or_props));
            id.push_str(&String::from_utf8_lossy(&hex));
        }
        _ => id.push_str(&String::from_utf8_lossy(key_or_props)),
    }
    id
}

fn write_all(
    client: &Client,
    nodes: &[NodePlan],
    rels: &[RelPlan],
    dir: &Path,
    batch: usize,
) -> Result<(Manifest, bool)> {
    let mut enc = Encoder::default();
    let mut node_groups = Vec::new();
    for plan in nodes {
        let stored = plan.id == IdStrategy::Stored;
        let id_col = Column {
            name: if stored { "id".into() } else { String::new() },
            kind: ColumnKind::Id {
                space: plan.space.clone(),
                stored,
            },
        };
        let header = write_header(
            dir,
            &plan.name,
            std::iter::once(id_col)
                .chain(prop_columns(&plan.cols))
                .collect(),
        )?;
        let mut part = Part::create(dir, &plan.name)?;
        export_nodes(client, plan, batch, &mut enc, &mut part)?;
        if part.rows != plan.count {
            return Err(ExportError::Changed {
                what: format!("node group {}", plan.name),
                expected: plan.count,
                found: part.rows,
            });
        }
        node_groups.push(NodeGroup {
            name: plan.name.clone(),
            labels: plan.labels.clone(),
            id_space: plan.space.clone(),
            header,
            files: vec![part.finish()?],
            origin: Origin::Baseline,
        });
    }
    let mut relationship_groups = Vec::new();
    for plan in rels {
        let header = write_header(
            dir,
            &plan.name,
            [
                Column {
                    name: String::new(),
                    kind: ColumnKind::StartId {
                        space: plan.start_space.clone(),
                    },
                },
                Column {
                    name: String::new(),
                    kind: ColumnKind::EndId {
                        space: plan.end_space.clone(),
                    },
                },
            ]
            .into_iter()
            .chain(prop_columns(&plan.cols))
            .collect(),
        )?;
        let mut part = Part::create(dir, &plan.name)?;
        for &(s, e, count) in &plan.patterns {
            let found =
                export_relationships(client, plan, &nodes[s], &nodes[e], &mut enc, &mut part)?;
            if found != count {
                return Err(ExportError::Changed {
                    what: format!(
                        "relationships {}-[:{}]->{}",
                        describe_labels(&nodes[s].labels),
                        plan.rel_type,
                        describe_labels(&nodes[e].labels)
                    ),
                    expected: count,
                    found,
                });
            }
        }
        relationship_groups.push(RelGroup {
            name: plan.name.clone(),
            rel_type: plan.rel_type.clone(),
            start_space: plan.start_space.clone(),
            end_space: plan.end_space.clone(),
            header,
            files: vec![part.finish()?],
            origin: Origin::Baseline,
        });
    }
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        kind: Kind::Baseline,
        csv: CsvOptions {
            multiline_fields: enc.multiline,
            ..CsvOptions::default()
        },
        node_groups,
        relationship_groups,
        operation: None,
        expected: None,
        shard: None,
    };
    manifest.write(&dir.join(manifest::FILE_NAME))?;
    Ok((manifest, enc.multiline))
}

/// Streams one node group in id order: keyset pages over a unique string key, or (for hashed
/// ids) one query ordered by every property, which the driver still pulls in batches.
fn export_nodes(
    client: &Client,
    plan: &NodePlan,
    batch: usize,
    enc: &mut Encoder,
    part: &mut Part,
) -> Result<()> {
    let owner = format!("node {}", describe_labels(&plan.labels));
    let (pattern, pred) = label_match("n", &plan.labels);
    let values = values_expr("n", &plan.cols);
    let mut row_buf = Vec::new();
    let mut props = Vec::new();
    let mut prev: Option<String> = None;
    let mut emit = |id: String, vals: Vec<BoltType>, enc: &mut Encoder| -> Result<()> {
        props.clear();
        enc.push_props(
            &mut props,
            &plan.cols,
            &vals,
            &Ctx {
                owner: &owner,
                id: &id,
            },
        )?;
        let id = match plan.id {
            IdStrategy::Stored => id,
            IdStrategy::Key(_) => derived_id(plan, id.as_bytes()),
            IdStrategy::Hash => derived_id(plan, &props),
        };
        if prev.as_deref() == Some(id.as_str()) {
            return Err(ExportError::DuplicateId {
                space: plan.space.clone(),
                id,
                labels: describe_labels(&plan.labels),
            });
        }
        row_buf.clear();
        csvfmt::push_field(&mut row_buf, id.as_bytes());
        row_buf.extend_from_slice(&props);
        row_buf.push(b'\n');
        part.write_row(&row_buf)?;
        prev = Some(id);
        Ok(())
    };
    let key = match &plan.id {
        IdStrategy::Stored => "id".to_string(),
        IdStrategy::Key(k) => k.clone(),
        IdStrategy::Hash => {
            let order = order_all("n", &plan.cols);
            let order = if order.is_empty() {
                String::new()
            } else {
                format!(" ORDER BY {}", order.join(", "))
            };
            let cypher = format!("MATCH {pattern} WHERE {pred} RETURN {values} AS v{order}");
            stream(client, &cypher, Vec::new(), |row| {
                let vals = list_of(&row, "v", &owner)?;
                emit(String::new(), vals, enc)
            })?;
            return Ok(());
        }
    };
    let k = prop("n", &key);
    let first = format!(
        "MATCH {pattern} WHERE {pred} RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let next = format!(
        "MATCH {pattern} WHERE {pred} AND {k} > $last \
         RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let mut last: Option<String> = None;
    loop {
        let (cypher, mut params) = match &last {
            None => (&first, Vec::new()),
            Some(l) => (&next, vec![("last", BoltType::from(l.as_str()))]),
        };
        params.push(("batch", BoltType::from(batch as i64)));
        let mut page_last = None;
        let n = stream(client, cypher, params, |row| {
            let id = string(&row, "k", &owner)?;
            let vals = list_of(&row, "v", &owner)?;
            page_last = Some(id.clone());
            emit(id, vals, enc)
        })?;
        if (n as usize) < batch || page_last.is_none() {
            return Ok(());
        }
        last = page_last;
    }
}

/// The Cypher that returns a node's id material and the terms that order by it.
fn endpoint_exprs(var: &str, plan: &NodePlan) -> (String, Vec<String>) {
    match &plan.id {
        IdStrategy::Stored => (prop(var, "id"), vec![prop(var, "id")]),
        IdStrategy::Key(k) => (prop(var, k), vec![prop(var, k)]),
        IdStrategy::Hash => (values_expr(var, &plan.cols), order_all(var, &plan.cols)),
    }
}

/// The id of an endpoint from the value [`endpoint_exprs`] returned.
fn endpoint_id(plan: &NodePlan, v: BoltType, enc: &mut Encoder, owner: &str) -> Result<String> {
    match (&plan.id, v) {
        (IdStrategy::Stored, BoltType::String(s)) => Ok(s.value),
        (IdStrategy::Key(_), BoltType::String(s)) => Ok(derived_id(plan, s.value.as_bytes())),
        (IdStrategy::Hash, BoltType::List(l)) => {
            let mut props = Vec::new();
            enc.push_props(&mut props, &plan.cols, &l.value, &Ctx { owner, id: "" })?;
            Ok(derived_id(plan, &props))
        }
        (_, other) => Err(ExportError::Value {
            what: format!("endpoint of {owner}"),
            value: format!("{other:?}"),
        }),
    }
}

/// Streams the relationships of one (start group, type, end group) pattern, ordered by start
/// id, end id, then every property (so parallel edges come in a fixed order).
fn export_relationships(
    client: &Client,
    plan: &RelPlan,
    start: &NodePlan,
    end: &NodePlan,
    enc: &mut Encoder,
    part: &mut Part,
) -> Result<u64> {
    let owner = format!("relationship group {}", plan.name);
    let (sp, spred) = label_match("a", &start.labels);
    let (ep, epred) = label_match("b", &end.labels);
    let (a_expr, a_order) = endpoint_exprs("a", start);
    let (b_expr, b_order) = endpoint_exprs("b", end);
    let order: Vec<String> = a_order
        .into_iter()
        .chain(b_order)
        .chain(order_all("r", &plan.cols))
        .collect();
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    let cypher = format!(
        "MATCH {sp}-[r:{}]->{ep} WHERE {spred} AND {epred} \
         RETURN {a_expr} AS start_id, {b_expr} AS end_id, {} AS vals{order}",
        ident(&plan.rel_type),
        values_expr("r", &plan.cols)
    );
    let mut row_buf = Vec::new();
    stream(client, &cypher, Vec::new(), |row| {
        let a = row
            .get::<BoltType>("start_id")
            .map_err(|e| ExportError::Value {
                what: owner.clone(),
                value: e.to_string(),
            })?;
        let b = row
            .get::<BoltType>("end_id")
            .map_err(|e| ExportError::Value {
                what: owner.clone(),
                value: e.to_string(),
            })?;
        let a = endpoint_id(start, a, enc, &owner)?;
        let b = endpoint_id(end, b, enc, &owner)?;
        let vals = list_of(&row, "vals", &owner)?;
        row_buf.clear();
        csvfmt::push_field(&mut row_buf, a.as_bytes());
        row_buf.push(csvfmt::DELIMITER);
        csvfmt::push_field(&mut row_buf, b.as_bytes());
        let id = format!("{a}->{b}");
        enc.push_props(
            &mut row_buf,
            &plan.cols,
            &vals,
            &Ctx {
                owner: &owner,
                id: &id,
            },
        )?;
        row_buf.push(b'\n');
        part.write_row(&row_buf)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(key: &str, ty: ValueType, array: bool) -> PropCol {
        PropCol {
            key: key.into(),
            ty,
            array,
        }
    }

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
        assert_eq!(ident("we`ird"), "`we``ird`");
    }

    #[test]
    fn doubles_use_shortest_round_trip() {
        let text = |v: f64| {
            let mut out = Vec::new();
            push_double(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(1.0), "1.0");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1e300), "1e300");
        assert_eq!(text(f64::INFINITY), "Infinity");
        assert_eq!(text(f64::NAN), "NaN");
        for v in [0.1 + 0.2, -2.5e-10, 123456.789] {
            assert_eq!(text(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn encoder_quotes_lists_and_refuses_what_arrays_cannot_hold() {
        let mut enc = Encoder::default();
        let ctx = Ctx {
            owner: "node :Resource",
            id: "r1",
        };
        let cols = [
            col("name", ValueType::String, false),
            col("zones", ValueType::String, true),
            col("n", ValueType::Long, false),
            col("gone", ValueType::String, false),
            col("empty", ValueType::String, false),
        ];
        let zones: BoltType = vec![BoltType::from("1"), BoltType::from("2")].into();
        let vals = vec![
            BoltType::from("a,b\nc"),
            zones,
            BoltType::from(42_i64),
            BoltType::Null(neo4rs::BoltNull),
            BoltType::from(""),
        ];
        let mut out = Vec::new();
        enc.push_props(&mut out, &cols, &vals, &ctx).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ",\"a,b\nc\",\"1;2\",42,,\"\""
        );
        assert!(enc.multiline);

        let bad: BoltType = vec![BoltType::from("x;y")].into();
        let e = enc
            .push_props(&mut Vec::new(), &cols[1..2], &[bad], &ctx)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"r1\"") && e.contains("\"zones\"") && e.contains("';'"),
            "{e}"
        );
        let empty: BoltType = Vec::<BoltType>::new().into();
        let e = enc
            .push_props(&mut Vec::new(), &cols[1..2], &[empty], &ctx)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty list"), "{e}");
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
