//! `export`: streams a live graph over Bolt into the baseline layout (`docs/format.md`), so a
//! real tenant can become the input of `generate`. This module owns discovering the graph's
//! groups and property types, choosing each node group's id, and writing the files and the
//! manifest; it does not own the Bolt client ([`crate::neo4j`]), the CSV quoting rules
//! ([`crate::format`]) nor the staged directory and its commit ([`crate::outdir`]).
//!
//! Two passes keep memory constant: a discovery pass (`discover`) asks the server for
//! aggregates only (label sets, relationship patterns, and every property key with its
//! `valueType` and count), then a streaming pass (`stream`) writes each group's rows in a fixed
//! order as they arrive. Nothing the size of the graph is held in memory. This file holds the
//! stage itself, its configuration and errors, and the discovered groups both passes share.
//!
//! Domain words: a node's *ID space* is `Resource` when it has that label (ids are unique across
//! the whole Resource layer of an ATG graph), else its smallest label. A node group's *id
//! strategy* is its stored string `id` property when every node has one; else a *derived* id,
//! `<Labels>:<value>` of the first of `code`, `name`, `key` that every node has and that is unique
//! in the group, or `<Labels>:<xxh3 of the node's encoded properties>`. A derived id is written in
//! a `:ID(Space)` column, which neo4j-admin does not store, so a re-import adds no property.

mod discover;
mod stream;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neo4rs::Row;

use crate::cypher::quote;
use crate::format::header::ValueType;
use crate::manifest::{self, CsvOptions, FileEntry, Kind, Manifest, ManifestError};
use crate::neo4j::{Client, Neo4jError};
use crate::outdir::{
    self, Existing, Made, OutDirError, OwnershipError, Replace, Staged, Step, Target,
};
use crate::report::Bar;
use stream::Encoder;

/// Default rows per page of the node queries.
pub const DEFAULT_BATCH: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Neo4j(#[from] Neo4jError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("{path} already exists: pass --force to replace it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("the graph holds an incomplete load of operation {operation} (its :TenantgenLoad marker): a baseline exported now would hold part of that operation; finish it (`{resume}`) or remove it (`tenantgen clean --operation-id {operation}`) first")]
    IncompleteLoad { operation: String, resume: String },
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
    /// Show rows written, their rate and the time left on stderr (when it is a terminal).
    pub progress: bool,
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
    check_out(cfg)?;
    if let Some(m) = crate::load::marker::read(client, None)?.into_iter().next() {
        return Err(ExportError::IncompleteLoad {
            resume: m.resume_command(client.uri()),
            operation: m.operation_id,
        });
    }
    let batch = cfg.batch.max(1);
    let nodes = discover::discover_nodes(client)?;
    discover::check_unique_ids(client, &nodes)?;
    let rels = discover::discover_relationships(client, &nodes)?;

    // Removed again on every return below but the commit's.
    let staged = Target::new(&cfg.out, "export").stage(Made::Export)?;
    let total = nodes.iter().map(|n| n.count).sum::<u64>()
        + rels
            .iter()
            .flat_map(|r| &r.patterns)
            .map(|p| p.2)
            .sum::<u64>();
    let bar = Bar::rows(cfg.progress, "export", total);
    let (manifest, multiline) = write_all(client, &nodes, &rels, &staged, batch, &bar)?;
    bar.finish();
    let files = manifest
        .node_groups
        .iter()
        .flat_map(|g| &g.files)
        .chain(manifest.relationship_groups.iter().flat_map(|g| &g.files));
    for f in files {
        staged.sync(&f.path)?;
    }
    check_out(cfg)?;
    staged.commit()?;

    let counts = |groups: Vec<(&String, &Vec<FileEntry>)>| -> Vec<GroupCount> {
        let rows = |files: &[FileEntry]| files.iter().map(|f| f.rows).sum();
        groups
            .into_iter()
            .map(|(name, files)| GroupCount {
                name: name.clone(),
                rows: rows(files),
            })
            .collect()
    };
    Ok(ExportReport {
        out: cfg.out.clone(),
        node_groups: counts(
            manifest
                .node_groups
                .iter()
                .map(|g| (&g.name, &g.files))
                .collect(),
        ),
        relationship_groups: counts(
            manifest
                .relationship_groups
                .iter()
                .map(|g| (&g.name, &g.files))
                .collect(),
        ),
        nodes: manifest.node_rows(),
        relationships: manifest.relationship_rows(),
        multiline_fields: multiline,
        elapsed: t0.elapsed(),
    })
}

/// Refuses an `out` that exists without `force`, or that tenantgen did not export
/// ([`outdir::check_replace`]).
fn check_out(cfg: &ExportConfig) -> Result<()> {
    let rule = Replace {
        flag: "--out",
        made: Made::Export,
        inputs: &[],
    };
    if outdir::check_replace(&cfg.out, &rule)? != Existing::Nothing && !cfg.force {
        return Err(ExportError::Exists {
            path: cfg.out.clone(),
        });
    }
    Ok(())
}

/// Writes every group and the manifest into `staged`; returns the manifest and whether any
/// value held a line break.
fn write_all(
    client: &Client,
    nodes: &[NodePlan],
    rels: &[RelPlan],
    staged: &Staged,
    batch: usize,
    bar: &Bar,
) -> Result<(Manifest, bool)> {
    let mut enc = Encoder::default();
    let node_groups = nodes
        .iter()
        .map(|plan| stream::node_group(client, plan, batch, &mut enc, staged, bar))
        .collect::<Result<Vec<_>>>()?;
    let relationship_groups = rels
        .iter()
        .map(|plan| stream::rel_group(client, plan, nodes, &mut enc, staged, bar))
        .collect::<Result<Vec<_>>>()?;
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
    manifest.write(&staged.path().join(manifest::FILE_NAME))?;
    Ok((manifest, enc.multiline))
}

/// The wording of each failed directory step, as export has always put it.
impl From<OutDirError> for ExportError {
    fn from(e: OutDirError) -> Self {
        let what = match e.step {
            Step::CreateParent | Step::CreateDir | Step::CreateFile => "cannot create",
            Step::RemoveLeftover => "cannot remove stale",
            Step::WriteFile | Step::SyncFile => "cannot write",
            Step::MoveAside => "cannot remove",
            Step::Install => "cannot rename the export into",
        };
        ExportError::Io {
            what,
            path: e.path,
            source: e.error,
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Cypher and row values shared by both passes

/// `n.`key``.
fn prop(var: &str, key: &str) -> String {
    format!("{var}.{}", quote(key))
}

/// The pattern and predicate that match exactly the nodes with `labels`.
fn label_match(var: &str, labels: &[String]) -> (String, String) {
    let pattern: String = labels.iter().map(|l| format!(":{}", quote(l))).collect();
    (
        format!("({var}{pattern})"),
        format!("size(labels({var})) = {}", labels.len()),
    )
}

fn describe_labels(labels: &[String]) -> String {
    labels.iter().map(|l| format!(":{l}")).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_and_label_patterns_are_quoted() {
        assert_eq!(prop("n", "a b"), "n.`a b`");
        let (pattern, pred) = label_match("n", &["Original".into(), "Resource".into()]);
        assert_eq!(pattern, "(n:`Original`:`Resource`)");
        assert_eq!(pred, "size(labels(n)) = 2");
    }
}
