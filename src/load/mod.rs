//! `load`: scale a running graph in place. Streams the synthetic groups of a generated directory
//! over Bolt into a live Neo4j that already holds the operation's baseline, in `UNWIND` batches
//! of typed rows, one auto-commit transaction per batch. [`crate::clean`] is its inverse (delete
//! one operation), [`crate::stats`] summarises what a live graph holds. It does not read the
//! baseline groups (the graph has them) and does not verify counts (that is `verify`'s job).
//!
//! This module owns the stage's orchestration: which groups go, with which query, and the
//! checks before sending (baseline present, schema). The parts: `queries` (the Cypher text),
//! `records` (data parts into typed rows), `resume` (the progress file), `sender` (the
//! threaded sender with retry), `marker` (the node in the graph that says the load is
//! incomplete), `schema` (the constraints and indexes it needs, which it found, which it made).
//!
//! **Incomplete loads.** Before the first batch, `load` merges the operation's load marker into
//! the graph ([`marker`]); only a load that sent every batch deletes it. Whatever stops a load
//! part-way leaves the marker, so `stats`, `verify` and `clean` see the operation as incomplete
//! and say how to resume, and a re-run (which resumes, below) removes it.
//!
//! **Resumability.** Re-running `load` after a crash finishes the operation without duplicates:
//!
//! - Nodes: `MERGE (n:Resource {id: row.id}) ON CREATE SET ...` is idempotent. A merged node
//!   that already belonged to something else (its `scale_operation_id` differs) stops the load:
//!   ids must not collide with the live graph.
//! - Relationships: every occurrence of one `(start, end)` pair is sent in the *same* batch
//!   (pairs that repeat in a group, the parallel edges of two base patterns with the same ends,
//!   are held back and sent after the group's stream, whole pairs per batch). Per pair the query
//!   counts the edges of that type already there (with this operation's `scale_operation_id`
//!   when the group carries edge markers) and creates only the missing tail of the pair's list.
//!   A batch is one transaction, so a pair is either fully there or not at all: re-sending any
//!   batch is harmless, parallel edges keep their multiplicity, and no row ordinal has to be
//!   stored in the graph.
//! - `DIR/.load-progress.json` records the completed batches per target (URI + database) with
//!   the batch size and operation id; a re-run skips them without sending anything. It is only
//!   a shortcut: the batches in flight at the crash are simply re-sent and the MERGE logic above
//!   makes that exact. A different batch size or operation starts the record afresh.
//!
//! Before loading, `load` checks that a few base resources named by `template_source_id` are
//! in the graph (else the baseline is missing and it refuses; a template reference names no
//! node and is not looked up), and creates the uniqueness constraint on `:Resource(id)` (an
//! index when duplicates prevent it) plus the indexes the batches and `clean` need, those that
//! are missing only, under tenantgen's names ([`schema`]); the report lists what it created and
//! what was there. A graph that holds the whole operation already (its node count, and no load
//! marker) is left alone: the re-run reports `already loaded` and sends and creates nothing.
//!
//! **Derived keys.** A relationship end named by a derived key ([`crate::cypher`]: an exported
//! node without a usable `id`) cannot be matched by `id`: before sending, `load` asks the
//! graph for the candidates of each such key, computes their keys, and sends the node's
//! elementId instead; a key that no node of the graph has stops the load before any batch,
//! like a missing baseline.
//!
//! Field conversion follows the header types ([`crate::cypher::convert_field`]): empty unquoted
//! field = absent (not sent), `""` = empty string (absent for arrays, as neo4j-admin does), `;`
//! splits arrays, temporal values are sent as strings and converted by
//! `datetime()`/`date()`/`localdatetime()`/`duration()` in the query, points are sent as maps and
//! made by `point()`. The `csv` crate cannot tell `""` from an
//! empty field, so records are split with [`crate::format::csv`].

pub mod marker;
mod queries;
mod records;
mod resume;
pub mod schema;
mod sender;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::cypher;
use crate::format::csv as csvfmt;
use crate::format::header::{self, ColumnKind, Header, ValueType};
use crate::manifest::{Kind, Manifest, ManifestError, Origin, RelGroup};
use crate::neo4j::{Client, ConnectionSettings, Neo4jError};
use crate::report::thousands;
use crate::report::Bar;

use records::for_each_record;
pub use resume::PROGRESS_FILE;
use resume::{check_progress, ProgressFile};
use schema::SchemaReport;
use sender::{Counters, Loader};

/// The Bolt client pools at most this many connections; more workers would only queue.
pub const MAX_CONCURRENCY: usize = 4;
/// Rows per batch when none is given.
pub const DEFAULT_BATCH_SIZE: usize = 5000;
/// How many base resources the baseline check looks up.
const BASELINE_SAMPLE: usize = 5;

/// What can stop a load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Neo4j(#[from] Neo4jError),
    #[error("{dir} is a baseline, not a generated directory: `load` streams the synthetic groups of `tenantgen generate` output")]
    NotGenerated { dir: PathBuf },
    #[error("{dir} is shard {index} of {count} of plan {plan}: a shard holds only its own data parts, so `load` of it alone would leave the graph with part of the operation; load the whole plan: combine all {count} shards with `tenantgen merge DIR1 … DIR{count} --out DIR`, then `tenantgen load DIR --uri …`, or import them all into a fresh instance with `tenantgen import DIR1 … DIR{count} --data-dir DIR`")]
    Shard {
        dir: PathBuf,
        index: u32,
        count: u32,
        plan: String,
    },
    #[error("{dir}: the manifest has no synthetic groups, nothing to load; generate with `tenantgen generate` first")]
    NothingToLoad { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Header { path: PathBuf, message: String },
    #[error("{path}: record {record}: {message}; regenerate the directory")]
    Record {
        path: PathBuf,
        record: u64,
        message: String,
    },
    #[error("the baseline of operation {operation} seems absent from {uri}: {missing} of {sampled} base resources ({examples}) are not there; load into the graph that holds the baseline (e.g. `tenantgen import` it first)")]
    BaselineAbsent {
        operation: String,
        uri: String,
        missing: usize,
        sampled: usize,
        examples: String,
    },
    #[error("{missing} node(s) named by derived keys in {dir} are not in {uri} (e.g. {examples}); a derived key names an exported node without a usable `id` by its labels and properties: load into the graph the baseline was exported from, unchanged since")]
    DerivedAbsent {
        dir: PathBuf,
        uri: String,
        missing: usize,
        examples: String,
    },
    #[error("group {group}: the ID space {space:?} has {why}; `load` matches relationship ends by their stored `id` property")]
    EndpointSpace {
        group: String,
        space: String,
        why: String,
    },
    #[error("{path}: batch {batch}: {count} node id(s) already belong to nodes that are not of operation {operation}; the generated ids collide with the live graph: generate with another --seed or --operation-id (a template's resource group and tag ids come from their names: change config.resource_group_pattern or config.tag_prefix), or `tenantgen clean` the other operation; what this load wrote so far goes with `tenantgen clean --operation-id {operation}`")]
    Foreign {
        path: String,
        batch: u64,
        count: i64,
        operation: String,
    },
    #[error("{path}: batch {batch}: {count} relationship(s) have an end that is not in the graph; the node groups or the baseline are incomplete: re-run `load`, and check the baseline is the one the directory was generated from")]
    MissingEnds {
        path: String,
        batch: u64,
        count: i64,
    },
    #[error("batch {batch} of {path} failed on {uri} after {attempts} attempt(s): {detail}")]
    Batch {
        path: String,
        batch: u64,
        uri: String,
        attempts: u32,
        detail: String,
    },
    #[error("{0}")]
    Invalid(String),
}

type Result<T, E = LoadError> = std::result::Result<T, E>;

/// Validated settings of one load.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub dir: PathBuf,
    pub connection: ConnectionSettings,
    /// Rows per batch (per transaction).
    pub batch_size: usize,
    /// Worker threads sending batches, 1..=[`MAX_CONCURRENCY`].
    pub concurrency: usize,
    /// Show a progress bar when stderr is a terminal.
    pub progress: bool,
}

impl LoadConfig {
    pub fn new(dir: PathBuf, connection: ConnectionSettings) -> LoadConfig {
        LoadConfig {
            dir,
            connection,
            batch_size: DEFAULT_BATCH_SIZE,
            concurrency: 1,
            progress: false,
        }
    }

    fn check(&self) -> Result<()> {
        if self.batch_size == 0 || self.batch_size > 100_000 {
            return Err(LoadError::Invalid(format!(
                "--batch-size {} is out of range: use 1..=100000 (5000 is a good default)",
                self.batch_size
            )));
        }
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(LoadError::Invalid(format!(
                "--concurrency {} is out of range: use 1..={MAX_CONCURRENCY} (the Bolt client pools {MAX_CONCURRENCY} connections)",
                self.concurrency
            )));
        }
        Ok(())
    }
}

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub operation_id: String,
    pub uri: String,
    pub database: Option<String>,
    /// Node rows sent in this run.
    pub nodes: u64,
    /// Relationship rows sent in this run.
    pub relationships: u64,
    /// Relationships actually created in this run (fewer when a re-sent batch found them).
    pub relationships_created: u64,
    pub batches: u64,
    /// Batches the progress file marked as done.
    pub skipped_batches: u64,
    pub batch_size: usize,
    pub concurrency: usize,
    /// `constraint` (unique `:Resource(id)`) or `index` (duplicates prevented the constraint).
    pub id_schema: String,
    /// The constraints and indexes this load created and those it found.
    pub schema: SchemaReport,
    /// The graph held the whole operation already (and no load marker of it): nothing was sent
    /// or created.
    pub already_loaded: bool,
    /// The operation's nodes in the graph before this run.
    pub nodes_present: u64,
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub notes: Vec<String>,
}

impl LoadReport {
    /// The human summary: what was sent, then the schema line.
    pub fn summary(&self) -> String {
        if self.already_loaded {
            return format!(
                "already loaded: 0 created, {} present (operation {} in {}); nothing sent — `tenantgen clean --operation-id {}` first to load it again",
                thousands(self.nodes_present),
                self.operation_id,
                self.uri,
                self.operation_id
            );
        }
        let mut s = format!(
            "loaded {} nodes and {} relationships of {} into {} in {:.2} s ({}, {} batches of ≤{}, concurrency {})",
            thousands(self.nodes),
            thousands(self.relationships),
            self.operation_id,
            self.uri,
            self.seconds,
            crate::report::per_second(self.rows_per_sec, "rows"),
            thousands(self.batches),
            thousands(self.batch_size as u64),
            self.concurrency
        );
        if self.skipped_batches > 0 {
            s.push_str(&format!(
                "; skipped {} batches already loaded",
                thousands(self.skipped_batches)
            ));
        }
        s.push('\n');
        s.push_str(&self.schema.summary());
        s
    }
}

/// Loads the synthetic groups of `cfg.dir` into the running graph.
pub fn load(cfg: &LoadConfig) -> Result<LoadReport> {
    cfg.check()?;
    let started = Instant::now();
    let manifest = Manifest::read(&cfg.dir)?;
    if let Some(s) = manifest.shard.as_ref().filter(|s| s.count > 1) {
        return Err(LoadError::Shard {
            dir: cfg.dir.clone(),
            index: s.index,
            count: s.count,
            plan: s.plan.clone(),
        });
    }
    if manifest.kind != Kind::Generated {
        return Err(LoadError::NotGenerated {
            dir: cfg.dir.clone(),
        });
    }
    let operation = manifest
        .operation
        .clone()
        .ok_or_else(|| LoadError::NotGenerated {
            dir: cfg.dir.clone(),
        })?;
    let mut plan = LoadPlan::new(&cfg.dir, &manifest)?;
    let client = Client::connect(&cfg.connection)?;
    check_baseline(&client, &plan, &operation.id)?;
    plan.resolve_derived(&client, &cfg.dir)?;
    let nodes_expected: u64 = plan.nodes.iter().map(|g| g.rows).sum();
    let nodes_present = client.scalar_i64(
        "MATCH (n) WHERE n.scale_operation_id = $op RETURN count(n) AS c",
        &[("op", operation.id.as_str().into())],
    )? as u64;
    // The whole operation is there and no load of it is under way: a re-run has nothing to do,
    // and must say so rather than "loaded N nodes".
    if nodes_expected > 0
        && nodes_present == nodes_expected
        && marker::read(&client, Some(&operation.id))?.is_empty()
    {
        return Ok(LoadReport {
            operation_id: operation.id,
            uri: cfg.connection.uri.clone(),
            database: cfg.connection.database.clone(),
            nodes: 0,
            relationships: 0,
            relationships_created: 0,
            batches: 0,
            skipped_batches: 0,
            batch_size: cfg.batch_size,
            concurrency: cfg.concurrency,
            id_schema: String::new(),
            schema: SchemaReport::default(),
            already_loaded: true,
            nodes_present,
            seconds: started.elapsed().as_secs_f64(),
            rows_per_sec: 0.0,
            notes: Vec::new(),
        });
    }
    let mut notes = Vec::new();
    let (schema, id_schema) = schema::ensure(
        &client,
        plan.end_labels.iter().map(String::as_str),
        &mut notes,
    )?;

    let target = format!(
        "{}|{}",
        cfg.connection.uri,
        cfg.connection.database.as_deref().unwrap_or("(default)")
    );
    let mut progress =
        ProgressFile::open(&cfg.dir, &target, &operation.id, cfg.batch_size, &mut notes);
    check_progress(
        &client,
        &plan,
        &operation.id,
        cfg.batch_size,
        &mut progress,
        &mut notes,
    )?;
    let total_rows: u64 = plan
        .nodes
        .iter()
        .map(|g| g.rows)
        .chain(plan.rels.iter().map(|g| g.rows))
        .sum();
    let bar = Bar::rows(cfg.progress, "load", total_rows);
    let marker = marker::new(
        &operation.id,
        &cfg.dir,
        cfg.connection.database.as_deref(),
        cfg.batch_size,
        nodes_expected,
        total_rows - nodes_expected,
    );
    // From here on an interrupt leaves part of the operation (and its marker) in the graph.
    let _incomplete = crate::interrupt::note(format!(
        "the load into {} stopped part-way: operation {} is marked incomplete in the graph; run `{}` again to resume (batches already in the graph are not duplicated)",
        cfg.connection.uri,
        operation.id,
        marker.resume_command(&cfg.connection.uri)
    ));
    if let Some(since) = marker::begin(&client, &marker)? {
        notes.push(format!(
            "the graph marks the load of operation {} as incomplete since {since}; resuming it",
            operation.id
        ));
    }
    let loader = Loader {
        client: &client,
        op: operation.id.clone(),
        batch_size: cfg.batch_size,
        workers: cfg.concurrency,
        progress: Mutex::new(progress),
        bar,
        stats: Counters::default(),
    };
    loader.send_plan(&plan)?;
    loader.bar.finish();
    // The progress record goes only once the marker has: a failure here leaves both, and the
    // re-run skips every batch and removes the marker.
    marker::delete(&client, &operation.id)?;
    if let Ok(mut p) = loader.progress.lock() {
        p.finish();
    }
    let seconds = started.elapsed().as_secs_f64();
    let s = &loader.stats;
    let nodes = s.nodes.load(Ordering::Relaxed);
    let relationships = s.rels.load(Ordering::Relaxed);
    Ok(LoadReport {
        operation_id: operation.id,
        uri: cfg.connection.uri.clone(),
        database: cfg.connection.database.clone(),
        nodes,
        relationships,
        relationships_created: s.rels_created.load(Ordering::Relaxed),
        batches: s.batches.load(Ordering::Relaxed),
        skipped_batches: s.skipped.load(Ordering::Relaxed),
        batch_size: cfg.batch_size,
        concurrency: cfg.concurrency,
        id_schema,
        schema,
        already_loaded: false,
        nodes_present,
        seconds,
        rows_per_sec: (nodes + relationships) as f64 / seconds.max(1e-9),
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Plan: what to send, with which query

/// One property column of a group.
#[derive(Debug, Clone)]
struct PropCol {
    index: usize,
    name: String,
    ty: ValueType,
    array: bool,
}

impl PropCol {
    /// The function the query converts this column's text with, when it is temporal.
    fn temporal(&self) -> Option<&'static str> {
        cypher::temporal_fn(self.ty)
    }
}

/// The files of a group plus how to turn their records into rows.
#[derive(Debug)]
struct GroupPlan {
    name: String,
    files: Vec<(String, PathBuf)>,
    rows: u64,
    width: usize,
    /// Node id column, or (start, end) columns.
    id_col: usize,
    end_col: usize,
    props: Vec<PropCol>,
    cypher: Arc<String>,
    is_rel: bool,
    /// A relationship group's (start, end) labels, and whether each end's ID space holds
    /// nodes keyed by derived keys.
    ends: Option<((String, bool), (String, bool))>,
}

#[derive(Debug)]
struct LoadPlan {
    nodes: Vec<GroupPlan>,
    rels: Vec<GroupPlan>,
    /// `template_source_id` column of the first synthetic node group, for the baseline check.
    sample: Option<(PathBuf, usize, usize)>,
    /// Labels whose `id` the relationship ends are matched on.
    end_labels: BTreeSet<String>,
    /// Derived keys of relationship ends → the elementId of their node ([`LoadPlan::resolve_derived`]).
    derived: HashMap<String, String>,
}

fn read_header(dir: &Path, rel: &str) -> Result<(PathBuf, Header)> {
    let path = dir.join(rel);
    let header = header::read_header(&path).map_err(|e| LoadError::Header {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok((path, header))
}

fn prop_cols(header: &Header) -> Vec<PropCol> {
    header
        .columns
        .iter()
        .enumerate()
        .filter_map(|(index, c)| match &c.kind {
            ColumnKind::Property { ty, array } => Some(PropCol {
                index,
                name: c.name.clone(),
                ty: *ty,
                array: *array,
            }),
            _ => None,
        })
        .collect()
}

/// The label relationship ends in `space` are matched on: one all of the space's node groups
/// share (`Resource` for the resource space); and whether a group of the space keys some nodes
/// by derived keys (its id column is not stored), whose ends are then found by elementId.
fn space_label(dir: &Path, m: &Manifest, group: &str, space: &str) -> Result<(String, bool)> {
    let mut derived = false;
    for g in m.node_groups.iter().filter(|g| g.id_space == space) {
        let (_, header) = read_header(dir, &g.header)?;
        derived |= header
            .columns
            .iter()
            .any(|c| matches!(c.kind, ColumnKind::Id { stored: false, .. }));
    }
    let label =
        cypher::end_label(&m.node_groups, space).ok_or_else(|| LoadError::EndpointSpace {
            group: group.into(),
            space: space.into(),
            why: "no label shared by all its node groups".into(),
        })?;
    Ok((label, derived))
}

impl LoadPlan {
    fn new(dir: &Path, m: &Manifest) -> Result<LoadPlan> {
        let mut nodes = Vec::new();
        let mut sample = None;
        for g in m
            .node_groups
            .iter()
            .filter(|g| g.origin == Origin::Synthetic)
        {
            let (path, header) = read_header(dir, &g.header)?;
            let id_col = header
                .columns
                .iter()
                .position(|c| matches!(c.kind, ColumnKind::Id { stored: true, .. }) && c.name == "id")
                .ok_or_else(|| LoadError::Header {
                    path: path.clone(),
                    message: "a synthetic node group needs a stored `id:ID(...)` column: `load` merges nodes on it".into(),
                })?;
            let (merge_label, _) = space_label(dir, m, &g.name, &g.id_space)?;
            let props = prop_cols(&header);
            if sample.is_none() {
                if let (Some(col), Some(f)) =
                    (header.property("template_source_id"), g.files.first())
                {
                    sample = Some((dir.join(&f.path), col, header.columns.len()));
                }
            }
            nodes.push(GroupPlan {
                name: g.name.clone(),
                files: files(dir, &g.files),
                rows: g.files.iter().map(|f| f.rows).sum(),
                width: header.columns.len(),
                id_col,
                end_col: 0,
                cypher: Arc::new(queries::node_cypher(&merge_label, &g.labels, &props)),
                props,
                is_rel: false,
                ends: None,
            });
        }
        let mut rels = Vec::new();
        let mut end_labels = BTreeSet::new();
        for g in m
            .relationship_groups
            .iter()
            .filter(|g| g.origin == Origin::Synthetic)
        {
            rels.push(rel_plan(dir, m, g, &mut end_labels)?);
        }
        if nodes.is_empty() && rels.is_empty() {
            return Err(LoadError::NothingToLoad {
                dir: dir.to_path_buf(),
            });
        }
        Ok(LoadPlan {
            nodes,
            rels,
            sample,
            end_labels,
            derived: HashMap::new(),
        })
    }

    /// Finds the node of every derived key a relationship end names (see the module header);
    /// refuses when one is not in the graph.
    fn resolve_derived(&mut self, client: &Client, dir: &Path) -> Result<()> {
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for g in &self.rels {
            let Some(((sl, sd), (el, ed))) = &g.ends else {
                continue;
            };
            if !sd && !ed {
                continue;
            }
            for (_, path) in &g.files {
                for_each_record(path, g.width, |_, buf, fields| {
                    for (col, label, derived) in [(g.id_col, sl, sd), (g.end_col, el, ed)] {
                        if !derived {
                            continue;
                        }
                        if let Some(v) = csvfmt::unescape(&buf[fields[col].clone()]) {
                            let key = String::from_utf8_lossy(&v);
                            if cypher::is_derived_key(&key) {
                                wanted
                                    .entry(label.clone())
                                    .or_default()
                                    .insert(key.into_owned());
                            }
                        }
                    }
                    Ok(())
                })?;
            }
        }
        let mut missing = Vec::new();
        for (label, keys) in wanted {
            let found = resolve_keys(client, &label, "true", keys.iter().map(String::as_str))?;
            missing.extend(keys.iter().filter(|k| !found.contains_key(*k)).cloned());
            self.derived.extend(found);
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(LoadError::DerivedAbsent {
            dir: dir.to_path_buf(),
            uri: client.uri().into(),
            missing: missing.len(),
            examples: missing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The elementId of each of the derived `keys` found among the nodes labelled `label` that
/// match `pred` (on `n`).
fn resolve_keys<'a>(
    client: &Client,
    label: &str,
    pred: &str,
    keys: impl IntoIterator<Item = &'a str>,
) -> Result<HashMap<String, String>> {
    let keys = cypher::DerivedKeys::new(keys);
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (ids, bare) = keys.params();
    let rows = client.rows(
        &cypher::DerivedKeys::query(label, pred),
        &[("ids", ids.into()), ("bare", bare.into())],
    )?;
    let mut candidates = Vec::with_capacity(rows.len());
    for row in rows {
        let (Ok(e), Ok(m)) = (row.get::<String>("e"), row.get::<cypher::KeyMaterial>("m")) else {
            continue;
        };
        candidates.push((e, m));
    }
    Ok(keys.resolve(candidates))
}

fn files(dir: &Path, entries: &[crate::manifest::FileEntry]) -> Vec<(String, PathBuf)> {
    entries
        .iter()
        .map(|f| (f.path.clone(), dir.join(&f.path)))
        .collect()
}

fn rel_plan(
    dir: &Path,
    m: &Manifest,
    g: &RelGroup,
    end_labels: &mut BTreeSet<String>,
) -> Result<GroupPlan> {
    let (path, header) = read_header(dir, &g.header)?;
    let find = |pred: fn(&ColumnKind) -> bool, what: &str| {
        header
            .columns
            .iter()
            .position(|c| pred(&c.kind))
            .ok_or_else(|| LoadError::Header {
                path: path.clone(),
                message: format!("a relationship header needs a {what} column"),
            })
    };
    let start_col = find(|k| matches!(k, ColumnKind::StartId { .. }), ":START_ID")?;
    let end_col = find(|k| matches!(k, ColumnKind::EndId { .. }), ":END_ID")?;
    let (start, start_derived) = space_label(dir, m, &g.name, &g.start_space)?;
    let (end, end_derived) = space_label(dir, m, &g.name, &g.end_space)?;
    end_labels.insert(start.clone());
    end_labels.insert(end.clone());
    let by_element = start_derived || end_derived;
    let props = prop_cols(&header);
    Ok(GroupPlan {
        name: g.name.clone(),
        files: files(dir, &g.files),
        rows: g.files.iter().map(|f| f.rows).sum(),
        width: header.columns.len(),
        id_col: start_col,
        end_col,
        cypher: Arc::new(queries::rel_cypher(
            &start,
            &end,
            &g.rel_type,
            &props,
            by_element,
        )),
        props,
        is_rel: true,
        ends: Some(((start, start_derived), (end, end_derived))),
    })
}

// ---------------------------------------------------------------------------------------------
// Baseline check and schema

fn check_baseline(client: &Client, plan: &LoadPlan, operation: &str) -> Result<()> {
    let Some((path, col, width)) = &plan.sample else {
        return Ok(());
    };
    let mut ids: Vec<String> = Vec::new();
    let stop = "enough";
    let r = for_each_record(path, *width, |record, buf, fields| {
        if let Some(v) = csvfmt::unescape(&buf[fields[*col].clone()]) {
            let id = cypher::text(&v).map_err(|message| LoadError::Record {
                path: path.clone(),
                record,
                message,
            })?;
            // A template row names its template entry, not a base: template output has no
            // base to look up (its ends in the baseline are checked batch by batch).
            if cypher::is_template_source(&id) {
                return Err(LoadError::Invalid(stop.into()));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.len() >= BASELINE_SAMPLE {
            return Err(LoadError::Invalid(stop.into()));
        }
        Ok(())
    });
    match r {
        Err(LoadError::Invalid(s)) if s == stop => {}
        other => other?,
    }
    if ids.is_empty() {
        return Ok(());
    }
    let (derived, plain): (Vec<String>, Vec<String>) = ids
        .iter()
        .cloned()
        .partition(|id| cypher::is_derived_key(id));
    let rows = client.rows(
        "UNWIND $ids AS id OPTIONAL MATCH (n:Resource {id: id}) \
         WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
        &[("ids", plain.into())],
    )?;
    let mut missing: Vec<String> = rows
        .first()
        .and_then(|r| r.get::<Vec<String>>("missing").ok())
        .unwrap_or_default();
    let found = resolve_keys(
        client,
        cypher::RESOURCE,
        &cypher::real_abstracted("n"),
        derived.iter().map(String::as_str),
    )?;
    missing.extend(derived.into_iter().filter(|k| !found.contains_key(k)));
    if missing.is_empty() {
        return Ok(());
    }
    Err(LoadError::BaselineAbsent {
        operation: operation.into(),
        uri: client.uri().into(),
        missing: missing.len(),
        sampled: ids.len(),
        examples: missing
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
    })
}
