//! `export`: streams a live graph over Bolt into the baseline layout (`docs/format.md`), so a
//! real tenant can become the input of `generate`. This module owns discovering the graph's
//! groups and property types, choosing each node's export key, and writing the files and the
//! manifest; it does not own the Bolt client ([`crate::neo4j`]), the CSV quoting rules
//! ([`crate::format`]), the derived-key rule ([`crate::cypher::derived_key`]) nor the staged
//! directory and its commit ([`crate::outdir`]).
//!
//! Two passes keep memory constant: a discovery pass (`discover`) asks the server for
//! aggregates only (label sets, relationship patterns, every property key with its
//! `valueType` and count, the ids that repeat), then a streaming pass (`stream`) writes each
//! group's rows in a fixed order as they arrive. Nothing the size of the graph is held in
//! memory. This file holds the stage itself, its configuration, errors and warnings, and the
//! discovered groups both passes share.
//!
//! Domain words: a node's *ID space* is `Resource` when it has that label (ids are unique across
//! the whole Resource layer of an ATG graph), else its smallest label. A node's *export key* is
//! its `id` when that is a string no other node of its ID space has; else (no `id`, a duplicated
//! one, an integer or other non-string one) its *derived key* ([`crate::cypher`]). A group whose
//! nodes all have their `id` as key writes it as `id:ID(Space)` (stored again on import); any
//! other group writes the keys in an unnamed `:ID(Space)` column, which neo4j-admin does not
//! store, and the ids the nodes have in an `id` property column, so a re-import holds the same
//! properties as the live graph. Export works around what it can (with a warning each) and
//! refuses, with every problem in one error, only what the format cannot hold.

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
    #[error("the graph cannot be exported as it is ({} problem{}):\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<ExportError>),
    #[error("{count} node(s) have no label; label them (every node group needs labels) and export again")]
    Unlabelled { count: u64 },
    #[error(
        "{what} {name:?} cannot be exported: labels and types {}; rename it in the graph",
        crate::manifest::NAME_RULE
    )]
    BadToken { what: &'static str, name: String },
    #[error("{owner} with id {id:?}: property {key:?} has type {ty}, which the import format cannot hold (only strings, integers, floats, booleans, temporal values, durations, points and non-empty lists of one of these); remove or convert the property")]
    Unsupported {
        owner: String,
        id: String,
        key: String,
        ty: String,
    },
    #[error("{owner}: property {key:?} is a list on some {what} and a single value on others ({types}); a column is one or the other: make the values all lists or all single values and export again")]
    MixedTypes {
        owner: String,
        what: &'static str,
        key: String,
        types: String,
    },
    #[error("{owner} with id {id:?}: property {key:?} {problem}; the CSV array format (elements joined by ';') cannot represent it: remove the property there or change its elements")]
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

/// What an export worked around; each says what became of the data and how to avoid it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportWarning {
    /// Nodes of a group whose `id` cannot be their key.
    DerivedKeys {
        labels: String,
        missing: u64,
        duplicated: u64,
        not_string: u64,
        examples: Vec<String>,
    },
    /// A property of several types, exported as text.
    AsText {
        owner: String,
        what: &'static str,
        key: String,
        types: String,
    },
}

impl std::fmt::Display for ExportWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportWarning::DerivedKeys {
                labels,
                missing,
                duplicated,
                not_string,
                examples,
            } => {
                let mut parts = Vec::new();
                if *missing > 0 {
                    parts.push(format!("{missing} without an `id`"));
                }
                if *duplicated > 0 {
                    let e = if examples.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            examples
                                .iter()
                                .map(|e| format!("{e:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    parts.push(format!(
                        "{duplicated} whose `id` another node of the ID space has too{e}"
                    ));
                }
                if *not_string > 0 {
                    parts.push(format!("{not_string} whose `id` is not a string"));
                }
                write!(
                    f,
                    "node {labels}: {}; those nodes are keyed by derived keys (derived:<hash>[:<id>], docs/format.md), which their relationships and copies' template_source_id name, and their ids stay in the `id` column; give every node a unique string `id` to key it by its id",
                    parts.join(", ")
                )
            }
            ExportWarning::AsText {
                owner,
                what,
                key,
                types,
            } => write!(
                f,
                "{owner}: property {key:?} has different types on different {what} ({types}); exported as text in a string column, so a re-import holds strings: convert the values to one type to keep it"
            ),
        }
    }
}

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
    /// What the export worked around.
    pub warnings: Vec<ExportWarning>,
}

/// A property column: its key and type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PropCol {
    key: String,
    ty: ValueType,
    array: bool,
    /// The values have several types and are written as their `toString` (a string column).
    as_text: bool,
}

/// One node group as discovered.
#[derive(Debug, Clone)]
struct NodePlan {
    name: String,
    labels: Vec<String>,
    space: String,
    count: u64,
    /// Every node's key is its `id`, written as `id:ID(Space)`; else keys are written in an
    /// unnamed `:ID(Space)` column and `id` (if any node has one) is a property column.
    stored: bool,
    /// The string ids of the ID space that more than one node has (empty when `stored`).
    dups: Vec<String>,
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
    let found = discover::discover(client)?;
    if !found.problems.is_empty() {
        return Err(ExportError::Refused(found.problems));
    }
    let (nodes, rels) = (found.nodes, found.rels);

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
        warnings: found.warnings,
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

/// `:A:B` for messages (labels as they are, unquoted).
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
    fn problems_come_in_one_error_and_warnings_say_what_to_do() {
        let e = ExportError::Refused(vec![
            ExportError::Unlabelled { count: 2 },
            ExportError::BadToken {
                what: "label",
                name: "a:b".into(),
            },
        ])
        .to_string();
        assert!(
            e.starts_with("the graph cannot be exported as it is (2 problems):\n  - 2 node(s)"),
            "{e}"
        );
        assert!(e.contains("\n  - label \"a:b\""), "{e}");
        let w = ExportWarning::DerivedKeys {
            labels: ":Resource".into(),
            missing: 1,
            duplicated: 2,
            not_string: 0,
            examples: vec!["vm-0".into()],
        }
        .to_string();
        assert!(
            w.starts_with("node :Resource: 1 without an `id`, 2 whose `id` another node of the ID space has too (\"vm-0\")"),
            "{w}"
        );
        assert!(w.contains("give every node a unique string `id`"), "{w}");
    }

    #[test]
    fn properties_and_label_patterns_are_quoted() {
        assert_eq!(prop("n", "a b"), "n.`a b`");
        let (pattern, pred) = label_match("n", &["Original".into(), "Resource".into()]);
        assert_eq!(pattern, "(n:`Original`:`Resource`)");
        assert_eq!(pred, "size(labels(n)) = 2");
    }
}
