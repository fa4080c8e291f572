//! `load`: scale a running graph in place. Streams the synthetic groups of a generated directory
//! over Bolt into a live Neo4j that already holds the operation's baseline, in `UNWIND` batches
//! of typed rows, one auto-commit transaction per batch. [`clean`] is its inverse (delete one
//! operation), [`stats`] summarises what a live graph holds. It does not read the baseline
//! groups (the graph has them) and does not verify counts (that is `verify`'s job).
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
//! in the graph (else the baseline is missing and it refuses), and creates the uniqueness
//! constraint on `:Resource(id)` (an index when duplicates prevent it) plus the indexes the
//! batches and `clean` need.
//!
//! Field conversion follows the header types: empty unquoted field = absent (not sent), `""` =
//! empty string (absent for arrays, as neo4j-admin does), `;` splits arrays, temporal values are
//! sent as strings and converted by `datetime()`/`date()`/`localdatetime()` in the query. The
//! `csv` crate cannot tell `""` from an empty field, so records are split with [`crate::format::csv`].

pub mod clean;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neo4rs::{BoltList, BoltMap, BoltString, BoltType};
use serde::{Deserialize, Serialize};

use crate::format::csv as csvfmt;
use crate::format::header::{self, ColumnKind, Header, ValueType};
use crate::manifest::{Kind, Manifest, ManifestError, NodeGroup, Origin, RelGroup};
use crate::neo4j::{Client, ConnectionSettings, Neo4jError};

/// The progress file inside the generated directory.
pub const PROGRESS_FILE: &str = ".load-progress.json";
/// Retries of one batch after a transient error, a deadlock or a connection reset.
pub const MAX_RETRIES: u32 = 5;
/// The Bolt client pools at most this many connections; more workers would only queue.
pub const MAX_CONCURRENCY: usize = 4;
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
    #[error("group {group}: the ID space {space:?} has {why}; `load` matches relationship ends by their stored `id` property")]
    EndpointSpace {
        group: String,
        space: String,
        why: String,
    },
    #[error("{path}: batch {batch}: {count} node id(s) already belong to nodes that are not of operation {operation}; the generated ids collide with the live graph: generate with another --seed or --operation-id, or `tenantgen clean` the other operation")]
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
            batch_size: 5000,
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
    pub seconds: f64,
    pub rows_per_sec: f64,
    pub notes: Vec<String>,
}

impl LoadReport {
    /// The one-line human summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "loaded {} nodes and {} relationships of {} into {} in {:.2} s ({:.0} rows/s, {} batches of ≤{}, concurrency {})",
            self.nodes,
            self.relationships,
            self.operation_id,
            self.uri,
            self.seconds,
            self.rows_per_sec,
            self.batches,
            self.batch_size,
            self.concurrency
        );
        if self.skipped_batches > 0 {
            s.push_str(&format!(
                "; skipped {} batches already loaded",
                self.skipped_batches
            ));
        }
        s
    }
}

/// Loads the synthetic groups of `cfg.dir` into the running graph.
pub fn load(cfg: &LoadConfig) -> Result<LoadReport> {
    cfg.check()?;
    let started = Instant::now();
    let manifest = Manifest::read(&cfg.dir)?;
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
    let plan = LoadPlan::new(&cfg.dir, &manifest)?;
    let client = Client::connect(&cfg.connection)?;
    check_baseline(&client, &plan, &operation.id)?;
    let mut notes = Vec::new();
    let id_schema = ensure_schema(&client, &plan, &mut notes)?;

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
    let bar = Bar::new(cfg.progress, total_rows);
    let loader = Loader {
        client: &client,
        op: operation.id.clone(),
        batch_size: cfg.batch_size,
        workers: cfg.concurrency,
        progress: Mutex::new(progress),
        bar,
        stats: Counters::default(),
    };
    loader.phase(|send| {
        for g in &plan.nodes {
            loader.produce_nodes(g, send)?;
        }
        Ok(())
    })?;
    loader.phase(|send| {
        for g in &plan.rels {
            loader.produce_rels(g, send)?;
        }
        Ok(())
    })?;
    loader.bar.finish();
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
    fn temporal(&self) -> Option<&'static str> {
        match self.ty {
            ValueType::DateTime => Some("datetime"),
            ValueType::Date => Some("date"),
            ValueType::LocalDateTime => Some("localdatetime"),
            _ => None,
        }
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
}

#[derive(Debug)]
struct LoadPlan {
    nodes: Vec<GroupPlan>,
    rels: Vec<GroupPlan>,
    /// `template_source_id` column of the first synthetic node group, for the baseline check.
    sample: Option<(PathBuf, usize, usize)>,
    /// Labels whose `id` the relationship ends are matched on.
    end_labels: BTreeSet<String>,
}

/// Backtick-quotes a label, type or key (validated tokens need nothing more, but a property
/// key may hold anything: inner backticks are doubled).
pub fn quote_name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
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

/// `, n.`k` = datetime(row.t.`k`)` for each temporal column.
fn temporal_sets(var: &str, src: &str, props: &[PropCol]) -> String {
    let mut s = String::new();
    for p in props {
        if let Some(f) = p.temporal() {
            let k = quote_name(&p.name);
            if p.array {
                s.push_str(&format!(", {var}.{k} = [x IN {src}.t.{k} | {f}(x)]"));
            } else {
                s.push_str(&format!(", {var}.{k} = {f}({src}.t.{k})"));
            }
        }
    }
    s
}

/// The `UNWIND ... MERGE` query of a node group.
fn node_cypher(merge_label: &str, labels: &[String], props: &[PropCol]) -> String {
    let mut extra = String::new();
    for l in labels.iter().filter(|l| *l != merge_label) {
        extra.push_str(&format!(", n:{}", quote_name(l)));
    }
    let foreign = if props.iter().any(|p| p.name == "scale_operation_id") {
        "sum(CASE WHEN n.scale_operation_id = $op THEN 0 ELSE 1 END)"
    } else {
        "0"
    };
    format!(
        "UNWIND $rows AS row\n\
         MERGE (n:{ml} {{id: row.id}})\n\
         ON CREATE SET n += row.props{temporal}{extra}\n\
         RETURN {foreign} AS foreign, 0 AS missing, 0 AS created",
        ml = quote_name(merge_label),
        temporal = temporal_sets("n", "row", props),
    )
}

/// The query of a relationship group: per (start, end) pair, create the missing tail of the
/// pair's relationship list (see the module doc).
fn rel_cypher(start: &str, end: &str, rel_type: &str, props: &[PropCol]) -> String {
    let filter = if props.iter().any(|p| p.name == "scale_operation_id") {
        " WHERE x.scale_operation_id = $op"
    } else {
        ""
    };
    format!(
        "UNWIND $rows AS row\n\
         OPTIONAL MATCH (a:{sl} {{id: row.s}})\n\
         OPTIONAL MATCH (b:{el} {{id: row.e}})\n\
         CALL {{\n\
         \x20 WITH row, a, b\n\
         \x20 WITH row, a, b WHERE a IS NOT NULL AND b IS NOT NULL\n\
         \x20 OPTIONAL MATCH (a)-[x:{t}]->(b){filter}\n\
         \x20 WITH row, a, b, count(x) AS have\n\
         \x20 UNWIND row.rels[have..] AS rel\n\
         \x20 CREATE (a)-[r:{t}]->(b)\n\
         \x20 SET r = rel.props{temporal}\n\
         \x20 RETURN count(r) AS created\n\
         }}\n\
         RETURN 0 AS foreign, sum(CASE WHEN a IS NULL OR b IS NULL THEN size(row.rels) ELSE 0 END) AS missing, sum(created) AS created",
        sl = quote_name(start),
        el = quote_name(end),
        t = quote_name(rel_type),
        temporal = temporal_sets("r", "rel", props),
    )
}

/// The label relationship ends in `space` are matched on: one all of the space's node groups
/// share (`Resource` for the resource space), whose groups store the id.
fn space_label(dir: &Path, m: &Manifest, group: &str, space: &str) -> Result<String> {
    let groups: Vec<&NodeGroup> = m
        .node_groups
        .iter()
        .filter(|g| g.id_space == space)
        .collect();
    let mut common: Option<BTreeSet<&String>> = None;
    for g in &groups {
        let (_, header) = read_header(dir, &g.header)?;
        let stored = header
            .columns
            .iter()
            .any(|c| matches!(c.kind, ColumnKind::Id { stored: true, .. }) && c.name == "id");
        if !stored {
            return Err(LoadError::EndpointSpace {
                group: group.into(),
                space: space.into(),
                why: format!("a node group ({}) whose id is not stored as `id`", g.name),
            });
        }
        let labels: BTreeSet<&String> = g.labels.iter().collect();
        common = Some(match common {
            None => labels,
            Some(c) => c.intersection(&labels).copied().collect(),
        });
    }
    let common = common.unwrap_or_default();
    let pick = ["Resource", space]
        .iter()
        .find(|l| common.iter().any(|c| c == *l))
        .map(|l| l.to_string())
        .or_else(|| common.iter().next().map(|l| l.to_string()));
    pick.ok_or_else(|| LoadError::EndpointSpace {
        group: group.into(),
        space: space.into(),
        why: "no label shared by all its node groups".into(),
    })
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
            let merge_label = space_label(dir, m, &g.name, &g.id_space)?;
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
                cypher: Arc::new(node_cypher(&merge_label, &g.labels, &props)),
                props,
                is_rel: false,
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
        })
    }
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
    let start = space_label(dir, m, &g.name, &g.start_space)?;
    let end = space_label(dir, m, &g.name, &g.end_space)?;
    end_labels.insert(start.clone());
    end_labels.insert(end.clone());
    let props = prop_cols(&header);
    Ok(GroupPlan {
        name: g.name.clone(),
        files: files(dir, &g.files),
        rows: g.files.iter().map(|f| f.rows).sum(),
        width: header.columns.len(),
        id_col: start_col,
        end_col,
        cypher: Arc::new(rel_cypher(&start, &end, &g.rel_type, &props)),
        props,
        is_rel: true,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading records

/// A data part's bytes: mapped, or decompressed when it is `.gz`.
enum Data {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Data {
    fn open(path: &Path) -> Result<Data> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if path.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut out)
                .map_err(io)?;
            return Ok(Data::Owned(out));
        }
        if file.metadata().map_err(io)?.len() == 0 {
            return Ok(Data::Owned(Vec::new()));
        }
        // SAFETY: the generated directory is not modified while `load` reads it (the same
        // assumption `baseline` makes); a concurrent truncation could fault the process.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Data::Map(map))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Map(m) => m,
            Data::Owned(v) => v,
        }
    }
}

/// Calls `f(record_number, fields)` for every record of a part (raw field spans into `buf`).
fn for_each_record(
    path: &Path,
    width: usize,
    mut f: impl FnMut(u64, &[u8], &[std::ops::Range<usize>]) -> Result<()>,
) -> Result<()> {
    let data = Data::open(path)?;
    let buf = data.bytes();
    let mut fields = Vec::with_capacity(width);
    let mut pos = 0;
    let mut record = 0u64;
    while pos < buf.len() {
        let next = csvfmt::split_record(buf, pos, &mut fields);
        record += 1;
        if fields.len() == 1 && buf[pos..next].iter().all(|b| *b == b'\n' || *b == b'\r') {
            pos = next;
            continue;
        }
        if fields.len() != width {
            return Err(LoadError::Record {
                path: path.to_path_buf(),
                record,
                message: format!("{} fields, the header has {width}", fields.len()),
            });
        }
        f(record, buf, &fields)?;
        pos = next;
    }
    Ok(())
}

fn text(raw: &[u8]) -> std::result::Result<String, String> {
    String::from_utf8(raw.to_vec()).map_err(|_| "not valid UTF-8".to_string())
}

fn scalar(ty: ValueType, raw: &[u8]) -> std::result::Result<BoltType, String> {
    let s = text(raw)?;
    Ok(match ty {
        ValueType::String | ValueType::DateTime | ValueType::Date | ValueType::LocalDateTime => {
            BoltType::from(s)
        }
        ValueType::Long => BoltType::from(
            s.trim()
                .parse::<i64>()
                .map_err(|e| format!("{s:?} is not a long: {e}"))?,
        ),
        ValueType::Double => BoltType::from(
            s.trim()
                .parse::<f64>()
                .map_err(|e| format!("{s:?} is not a double: {e}"))?,
        ),
        ValueType::Boolean => BoltType::from(s.trim().eq_ignore_ascii_case("true")),
    })
}

/// Converts one raw field by its column type; `None` when the property is absent.
pub fn convert_field(
    ty: ValueType,
    array: bool,
    raw: &[u8],
) -> std::result::Result<Option<BoltType>, String> {
    let Some(value) = csvfmt::unescape(raw) else {
        return Ok(None);
    };
    if !array {
        return scalar(ty, &value).map(Some);
    }
    if value.is_empty() {
        return Ok(None);
    }
    let items = value
        .split(|b| *b == csvfmt::ARRAY_DELIMITER)
        .map(|item| scalar(ty, item))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Some(BoltType::List(BoltList::from(items))))
}

/// `{props: {...}, t: {...}}` of one record: plain properties and temporal strings.
fn record_maps(
    g: &GroupPlan,
    path: &Path,
    record: u64,
    buf: &[u8],
    fields: &[std::ops::Range<usize>],
) -> Result<(BoltMap, BoltMap)> {
    let mut props = BoltMap::with_capacity(g.props.len());
    let mut temporal = BoltMap::new();
    for p in &g.props {
        let raw = &buf[fields[p.index].clone()];
        let value = convert_field(p.ty, p.array, raw).map_err(|message| LoadError::Record {
            path: path.to_path_buf(),
            record,
            message: format!("column {} ({}): {message}", p.index + 1, p.name),
        })?;
        if let Some(v) = value {
            let key = BoltString::from(p.name.as_str());
            if p.temporal().is_some() {
                temporal.put(key, v);
            } else {
                props.put(key, v);
            }
        }
    }
    Ok((props, temporal))
}

fn id_field(path: &Path, record: u64, raw: &[u8], what: &str) -> Result<String> {
    let value = csvfmt::unescape(raw).ok_or_else(|| LoadError::Record {
        path: path.to_path_buf(),
        record,
        message: format!("the {what} is empty"),
    })?;
    text(&value).map_err(|message| LoadError::Record {
        path: path.to_path_buf(),
        record,
        message: format!("the {what}: {message}"),
    })
}

fn map(entries: Vec<(&str, BoltType)>) -> BoltType {
    let mut m = BoltMap::with_capacity(entries.len());
    for (k, v) in entries {
        m.put(BoltString::from(k), v);
    }
    BoltType::Map(m)
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
            let id = text(&v).map_err(|message| LoadError::Record {
                path: path.clone(),
                record,
                message,
            })?;
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
    let rows = client.rows(
        "UNWIND $ids AS id OPTIONAL MATCH (n:Resource {id: id}) \
         WITH id, n WHERE n IS NULL RETURN collect(id) AS missing",
        &[("ids", ids.clone().into())],
    )?;
    let missing: Vec<String> = rows
        .first()
        .and_then(|r| r.get::<Vec<String>>("missing").ok())
        .unwrap_or_default();
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

/// Creates the id constraint (or an index when duplicates prevent it) and the indexes the
/// batches and `clean` use; returns `constraint` or `index`.
fn ensure_schema(client: &Client, plan: &LoadPlan, notes: &mut Vec<String>) -> Result<String> {
    let mut kind = "constraint".to_string();
    if let Err(e) = client.run(
        "CREATE CONSTRAINT IF NOT EXISTS FOR (r:Resource) REQUIRE r.id IS UNIQUE",
        &[],
    ) {
        kind = "index".into();
        notes.push(format!(
            "could not create the unique constraint on :Resource(id) ({}); using an index instead — check the graph for duplicate ids",
            first_line(&e.to_string())
        ));
        client.run("CREATE INDEX IF NOT EXISTS FOR (r:Resource) ON (r.id)", &[])?;
    }
    for key in ["scale_operation_id", "synthetic", "template_source_id"] {
        client.run(
            &format!("CREATE INDEX IF NOT EXISTS FOR (r:Resource) ON (r.{key})"),
            &[],
        )?;
    }
    for label in plan.end_labels.iter().filter(|l| *l != "Resource") {
        client.run(
            &format!(
                "CREATE INDEX IF NOT EXISTS FOR (n:{}) ON (n.id)",
                quote_name(label)
            ),
            &[],
        )?;
    }
    client.run("CALL db.awaitIndexes(300)", &[])?;
    Ok(kind)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

// ---------------------------------------------------------------------------------------------
// Progress file

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProgressDoc {
    #[serde(default)]
    targets: BTreeMap<String, TargetProgress>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TargetProgress {
    operation_id: String,
    batch_size: usize,
    /// Completed batch indices by data file (or `<group>#parallel`).
    done: BTreeMap<String, BTreeSet<u64>>,
}

/// `DIR/.load-progress.json`; writes are best effort (a read-only directory only loses the
/// shortcut, never correctness).
struct ProgressFile {
    path: Option<PathBuf>,
    doc: ProgressDoc,
    target: String,
}

impl ProgressFile {
    fn open(
        dir: &Path,
        target: &str,
        operation: &str,
        batch_size: usize,
        notes: &mut Vec<String>,
    ) -> ProgressFile {
        let path = dir.join(PROGRESS_FILE);
        let mut doc: ProgressDoc = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let entry = doc.targets.entry(target.to_string()).or_default();
        if entry.operation_id != operation || entry.batch_size != batch_size {
            if !entry.done.is_empty() {
                notes.push(format!(
                    "{PROGRESS_FILE}: earlier progress was for batch size {} / operation {}; starting the record afresh (MERGE keeps the load exact)",
                    entry.batch_size, entry.operation_id
                ));
            }
            *entry = TargetProgress {
                operation_id: operation.into(),
                batch_size,
                ..TargetProgress::default()
            };
        } else if !entry.done.is_empty() {
            let n: usize = entry.done.values().map(BTreeSet::len).sum();
            notes.push(format!(
                "resuming: {PROGRESS_FILE} marks {n} batches of this operation as done"
            ));
        }
        let mut file = ProgressFile {
            path: Some(path),
            doc,
            target: target.into(),
        };
        if let Err(e) = file.save() {
            notes.push(format!(
                "cannot write {PROGRESS_FILE} ({e}); a re-run will re-send every batch (still exact)"
            ));
            file.path = None;
        }
        file
    }

    fn entry(&mut self) -> &mut TargetProgress {
        self.doc.targets.entry(self.target.clone()).or_default()
    }

    fn is_done(&mut self, file: &str, batch: u64) -> bool {
        self.entry()
            .done
            .get(file)
            .is_some_and(|s| s.contains(&batch))
    }

    fn mark(&mut self, file: &str, batch: u64) {
        self.entry()
            .done
            .entry(file.to_string())
            .or_default()
            .insert(batch);
        let _ = self.save();
    }

    /// The load finished: the record is only for resuming, so it goes (a later re-run, e.g.
    /// after `clean`, must send everything again).
    fn finish(&mut self) {
        self.doc.targets.remove(&self.target);
        let _ = match &self.path {
            Some(path) if self.doc.targets.is_empty() => std::fs::remove_file(path),
            _ => self.save(),
        };
    }

    /// A lower bound of the node rows the recorded node batches hold.
    fn recorded_node_rows(&mut self, node_files: &[String], batch_size: usize) -> u64 {
        let done = &self.entry().done;
        node_files
            .iter()
            .filter_map(|f| done.get(f))
            .map(|s| s.len().saturating_sub(1) as u64 * batch_size as u64)
            .sum()
    }

    fn recorded(&mut self) -> usize {
        self.entry().done.values().map(BTreeSet::len).sum()
    }

    /// Forgets the recorded batches (the graph does not hold them any more).
    fn reset(&mut self) {
        self.entry().done.clear();
        let _ = self.save();
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.doc).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

/// The progress record is trusted only while the graph still holds at least the nodes it
/// claims (a `clean` or a restored database since the crash invalidates it).
fn check_progress(
    client: &Client,
    plan: &LoadPlan,
    operation: &str,
    batch_size: usize,
    progress: &mut ProgressFile,
    notes: &mut Vec<String>,
) -> Result<()> {
    if progress.recorded() == 0 {
        return Ok(());
    }
    let node_files: Vec<String> = plan
        .nodes
        .iter()
        .flat_map(|g| g.files.iter().map(|(name, _)| name.clone()))
        .collect();
    let claimed = progress.recorded_node_rows(&node_files, batch_size);
    let present = client.scalar_i64(
        "MATCH (n:Resource) WHERE n.scale_operation_id = $op RETURN count(n) AS c",
        &[("op", operation.into())],
    )?;
    if present == 0 || (present as u64) < claimed {
        notes.push(format!(
            "{PROGRESS_FILE} records batches the graph does not hold ({present} nodes of the operation, at least {claimed} recorded); sending everything again"
        ));
        progress.reset();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Progress bar

struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(enabled: bool, total: u64) -> Bar {
        Bar(crate::write::rows_bar(enabled, total))
    }

    fn add(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sending batches

/// One batch: its place (file, index) for the progress file, its query and rows.
struct Work {
    file: String,
    batch: u64,
    cypher: Arc<String>,
    rows: Vec<BoltType>,
    /// Rows of the source files this batch holds (relationship rows, not pairs).
    count: u64,
    is_rel: bool,
}

#[derive(Default)]
struct Counters {
    nodes: AtomicU64,
    rels: AtomicU64,
    rels_created: AtomicU64,
    batches: AtomicU64,
    skipped: AtomicU64,
}

struct Loader<'a> {
    client: &'a Client,
    op: String,
    batch_size: usize,
    workers: usize,
    progress: Mutex<ProgressFile>,
    bar: Bar,
    stats: Counters,
}

type Send<'s> = dyn FnMut(Work) -> Result<()> + 's;

impl Loader<'_> {
    /// Runs `produce` on this thread while `workers` threads send what it yields; returns the
    /// first error of either side once all sent batches are done.
    fn phase(&self, produce: impl FnOnce(&mut Send<'_>) -> Result<()>) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(self.workers * 2);
        let rx = Mutex::new(rx);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<LoadError>> = Mutex::new(None);
        let produced = std::thread::scope(|scope| {
            for _ in 0..self.workers {
                scope.spawn(|| loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(work)) = next else { break };
                    if failed.load(Ordering::Relaxed) {
                        continue; // drain so the producer never blocks on a full channel
                    }
                    if let Err(e) = self.send(work) {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                });
            }
            let mut send = |w: Work| -> Result<()> {
                if failed.load(Ordering::Relaxed) {
                    return Err(LoadError::Invalid("a worker failed".into()));
                }
                tx.send(w)
                    .map_err(|_| LoadError::Invalid("the workers stopped".into()))
            };
            let r = produce(&mut send);
            drop(tx);
            r
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        produced
    }

    /// Whether the progress file marks this batch done (and counts it as skipped).
    fn skip(&self, file: &str, batch: u64, rows: u64) -> bool {
        let done = self
            .progress
            .lock()
            .map(|mut p| p.is_done(file, batch))
            .unwrap_or(false);
        if done {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            self.bar.add(rows);
        }
        done
    }

    fn produce_nodes(&self, g: &GroupPlan, send: &mut Send<'_>) -> Result<()> {
        for (name, path) in &g.files {
            let mut rows: Vec<BoltType> = Vec::with_capacity(self.batch_size);
            let mut batch = 0u64;
            let mut in_batch = 0u64;
            for_each_record(path, g.width, |record, buf, fields| {
                in_batch += 1;
                let skipping = self.is_done_cached(name, batch);
                if !skipping {
                    let id = id_field(path, record, &buf[fields[g.id_col].clone()], "node id")?;
                    let (props, t) = record_maps(g, path, record, buf, fields)?;
                    rows.push(map(vec![
                        ("id", id.into()),
                        ("props", BoltType::Map(props)),
                        ("t", BoltType::Map(t)),
                    ]));
                }
                if in_batch as usize == self.batch_size {
                    self.flush(g, name, batch, &mut rows, in_batch, send)?;
                    batch += 1;
                    in_batch = 0;
                }
                Ok(())
            })?;
            if in_batch > 0 {
                self.flush(g, name, batch, &mut rows, in_batch, send)?;
            }
        }
        Ok(())
    }

    fn is_done_cached(&self, file: &str, batch: u64) -> bool {
        self.progress
            .lock()
            .map(|mut p| p.is_done(file, batch))
            .unwrap_or(false)
    }

    fn flush(
        &self,
        g: &GroupPlan,
        file: &str,
        batch: u64,
        rows: &mut Vec<BoltType>,
        count: u64,
        send: &mut Send<'_>,
    ) -> Result<()> {
        if self.skip(file, batch, count) {
            rows.clear();
            return Ok(());
        }
        let rows = std::mem::replace(rows, Vec::with_capacity(self.batch_size));
        send(Work {
            file: file.to_string(),
            batch,
            cypher: g.cypher.clone(),
            rows,
            count,
            is_rel: g.is_rel,
        })
    }

    fn produce_rels(&self, g: &GroupPlan, send: &mut Send<'_>) -> Result<()> {
        let repeated = repeated_pairs(g)?;
        // Pairs that repeat in the group: all their rows, sent whole after the stream.
        let mut held: BTreeMap<(String, String), Vec<BoltType>> = BTreeMap::new();
        for (name, path) in &g.files {
            let mut rows: Vec<BoltType> = Vec::with_capacity(self.batch_size);
            let mut batch = 0u64;
            let mut in_batch = 0u64;
            for_each_record(path, g.width, |record, buf, fields| {
                let s_raw = &buf[fields[g.id_col].clone()];
                let e_raw = &buf[fields[g.end_col].clone()];
                let is_repeated =
                    !repeated.is_empty() && repeated.contains(&pair_hash(s_raw, e_raw));
                if !is_repeated {
                    in_batch += 1;
                    if self.is_done_cached(name, batch) {
                        // counted, not converted
                    } else {
                        let s = id_field(path, record, s_raw, "start id")?;
                        let e = id_field(path, record, e_raw, "end id")?;
                        let rel = rel_value(g, path, record, buf, fields)?;
                        rows.push(map(vec![
                            ("s", s.into()),
                            ("e", e.into()),
                            ("rels", BoltType::List(BoltList::from(vec![rel]))),
                        ]));
                    }
                    if in_batch as usize == self.batch_size {
                        self.flush(g, name, batch, &mut rows, in_batch, send)?;
                        batch += 1;
                        in_batch = 0;
                    }
                } else {
                    let s = id_field(path, record, s_raw, "start id")?;
                    let e = id_field(path, record, e_raw, "end id")?;
                    let rel = rel_value(g, path, record, buf, fields)?;
                    held.entry((s, e)).or_default().push(rel);
                }
                Ok(())
            })?;
            if in_batch > 0 {
                self.flush(g, name, batch, &mut rows, in_batch, send)?;
            }
        }
        let key = format!("{}#parallel", g.name);
        let mut rows = Vec::new();
        let mut count = 0u64;
        let mut batch = 0u64;
        for ((s, e), rels) in held {
            count += rels.len() as u64;
            rows.push(map(vec![
                ("s", s.into()),
                ("e", e.into()),
                ("rels", BoltType::List(BoltList::from(rels))),
            ]));
            if count as usize >= self.batch_size {
                self.flush(g, &key, batch, &mut rows, count, send)?;
                batch += 1;
                count = 0;
            }
        }
        if count > 0 {
            self.flush(g, &key, batch, &mut rows, count, send)?;
        }
        Ok(())
    }

    /// Sends one batch, retrying transient failures with backoff.
    fn send(&self, w: Work) -> Result<()> {
        let (foreign, missing, created) =
            self.run_rows(&w.cypher, &w.rows)
                .map_err(|(e, attempts)| LoadError::Batch {
                    path: w.file.clone(),
                    batch: w.batch,
                    uri: self.client.uri().into(),
                    attempts,
                    detail: e.to_string(),
                })?;
        if foreign > 0 {
            return Err(LoadError::Foreign {
                path: w.file,
                batch: w.batch,
                count: foreign,
                operation: self.op.clone(),
            });
        }
        if missing > 0 {
            return Err(LoadError::MissingEnds {
                path: w.file,
                batch: w.batch,
                count: missing,
            });
        }
        let s = &self.stats;
        if w.is_rel {
            s.rels.fetch_add(w.count, Ordering::Relaxed);
            s.rels_created.fetch_add(created as u64, Ordering::Relaxed);
        } else {
            s.nodes.fetch_add(w.count, Ordering::Relaxed);
        }
        s.batches.fetch_add(1, Ordering::Relaxed);
        self.bar.add(w.count);
        if let Ok(mut p) = self.progress.lock() {
            p.mark(&w.file, w.batch);
        }
        Ok(())
    }

    /// Runs `cypher` over `rows`: transient failures are retried with backoff, and a batch too
    /// big for the server's transaction memory is split in halves (rows are idempotent, so a
    /// half that already went through is harmless to send again). Returns (foreign, missing,
    /// created) summed over the pieces, or the last error and the attempts made.
    fn run_rows(
        &self,
        cypher: &str,
        rows: &[BoltType],
    ) -> std::result::Result<(i64, i64, i64), (neo4rs::Error, u32)> {
        let graph = self.client.graph();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let q = neo4rs::query(cypher)
                .param("rows", BoltType::List(BoltList::from(rows.to_vec())))
                .param("op", self.op.as_str());
            let result = self.client.block_on(async {
                let mut stream = graph.execute(q).await?;
                let mut out = (0i64, 0i64, 0i64);
                while let Some(row) = stream.next().await? {
                    out = (
                        row.get::<i64>("foreign").unwrap_or(0),
                        row.get::<i64>("missing").unwrap_or(0),
                        row.get::<i64>("created").unwrap_or(0),
                    );
                }
                Ok::<_, neo4rs::Error>(out)
            });
            match result {
                Ok(v) => return Ok(v),
                Err(e) if out_of_memory(&e) && rows.len() > 1 => {
                    let (a, b) = rows.split_at(rows.len() / 2);
                    let x = self.run_rows(cypher, a)?;
                    let y = self.run_rows(cypher, b)?;
                    return Ok((x.0 + y.0, x.1 + y.1, x.2 + y.2));
                }
                Err(e) if attempt <= MAX_RETRIES && retryable(&e) => {
                    std::thread::sleep(Duration::from_millis(200 << (attempt - 1)));
                }
                Err(e) => return Err((e, attempt)),
            }
        }
    }
}

/// The server ran out of transaction memory for one batch.
fn out_of_memory(e: &neo4rs::Error) -> bool {
    matches!(e, neo4rs::Error::Neo4j(n) if n.code().contains("OutOfMemoryError"))
}

fn rel_value(
    g: &GroupPlan,
    path: &Path,
    record: u64,
    buf: &[u8],
    fields: &[std::ops::Range<usize>],
) -> Result<BoltType> {
    let (props, t) = record_maps(g, path, record, buf, fields)?;
    Ok(map(vec![
        ("props", BoltType::Map(props)),
        ("t", BoltType::Map(t)),
    ]))
}

fn pair_hash(s: &[u8], e: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(s);
    h.update(&[0]);
    h.update(e);
    h.digest()
}

/// Hashes of the (start, end) pairs that occur more than once in a group (one pass over the
/// ends only; a hash collision only holds a unique pair back, which stays exact).
fn repeated_pairs(g: &GroupPlan) -> Result<HashSet<u64>> {
    let mut seen = HashSet::new();
    let mut repeated = HashSet::new();
    for (_, path) in &g.files {
        for_each_record(path, g.width, |_, buf, fields| {
            let h = pair_hash(
                &buf[fields[g.id_col].clone()],
                &buf[fields[g.end_col].clone()],
            );
            if !seen.insert(h) {
                repeated.insert(h);
            }
            Ok(())
        })?;
    }
    Ok(repeated)
}

/// Transient server errors, deadlocks and lost connections are worth another attempt: every
/// batch is idempotent.
fn retryable(e: &neo4rs::Error) -> bool {
    match e {
        neo4rs::Error::IOError { .. }
        | neo4rs::Error::ConnectionError
        | neo4rs::Error::ConnectionTimedOut => true,
        neo4rs::Error::Neo4j(n) => {
            n.code().starts_with("Neo.TransientError.") || n.code().contains("Deadlock")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_fields_by_type() {
        assert!(convert_field(ValueType::String, false, b"")
            .unwrap()
            .is_none());
        assert_eq!(
            convert_field(ValueType::String, false, b"\"\"").unwrap(),
            Some(BoltType::from(""))
        );
        assert_eq!(
            convert_field(ValueType::Long, false, b"-42").unwrap(),
            Some(BoltType::from(-42_i64))
        );
        assert_eq!(
            convert_field(ValueType::Boolean, false, b"true").unwrap(),
            Some(BoltType::from(true))
        );
        assert_eq!(
            convert_field(ValueType::Double, false, b"1.5").unwrap(),
            Some(BoltType::from(1.5))
        );
        assert_eq!(
            convert_field(ValueType::String, true, b"a;b c").unwrap(),
            Some(BoltType::from(vec!["a".to_string(), "b c".to_string()]))
        );
        assert!(convert_field(ValueType::String, true, b"\"\"")
            .unwrap()
            .is_none());
        assert!(convert_field(ValueType::Long, false, b"x").is_err());
    }

    #[test]
    fn queries_quote_names_and_convert_temporals() {
        let props = vec![
            PropCol {
                index: 1,
                name: "updated_at".into(),
                ty: ValueType::DateTime,
                array: false,
            },
            PropCol {
                index: 2,
                name: "scale_operation_id".into(),
                ty: ValueType::String,
                array: false,
            },
        ];
        let q = node_cypher("Resource", &["Resource".into(), "Synthetic".into()], &props);
        assert!(q.contains("MERGE (n:`Resource` {id: row.id})"), "{q}");
        assert!(
            q.contains("n.`updated_at` = datetime(row.t.`updated_at`)"),
            "{q}"
        );
        assert!(q.contains(", n:`Synthetic`"), "{q}");
        assert!(q.contains("n.scale_operation_id = $op"), "{q}");
        let r = rel_cypher("Resource", "Region", "LOCATED_IN", &props);
        assert!(r.contains("(b:`Region` {id: row.e})"), "{r}");
        assert!(r.contains("CREATE (a)-[r:`LOCATED_IN`]->(b)"), "{r}");
        assert!(r.contains("WHERE x.scale_operation_id = $op"), "{r}");
        assert_eq!(quote_name("a`b"), "`a``b`");
    }
}
