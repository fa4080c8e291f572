//! Writing a generated directory: the baseline's files (hard-linked or copied in, so the
//! directory is self-contained), the synthetic groups' header files and data parts (one rayon
//! task per part, each owning its file), `import.args`, `load.cypher` and `manifest.json`.
//!
//! Output goes to a hidden temporary sibling and is renamed into place only when every file
//! and the manifest are complete: a crash or a full disk leaves the previous output (or
//! nothing), never a directory that looks complete. Stale temporary siblings of a killed run
//! are removed by the next run. The directory's mechanics (staging, part writers, checksums,
//! the commit) are [`crate::outdir`]'s; this module decides what goes in it.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::baseline::Baseline;
use crate::config::Scale;
use crate::cypher::{self, quote};
use crate::format::header::{Column, ColumnKind};
use crate::generate::Generator;
use crate::manifest::{
    self, CsvOptions, FileEntry, Kind, Manifest, NodeGroup, Operation, Origin, RelGroup, ShardInfo,
};
use crate::outdir::{
    self, Existing, Input, Made, OutDirError, OwnershipError, Replace, Staged, Target,
};
use crate::plan::Plan;
use crate::report::Bar;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output {path} exists; pass --force to replace it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("output {path} is a file, not a directory; choose another --out")]
    NotADirectory { path: PathBuf },
    #[error("output {out} cannot be created in {dir}: {error}; choose a writable --out")]
    Unwritable {
        out: PathBuf,
        dir: PathBuf,
        error: io::Error,
    },
    #[error("output {out} cannot be created: {ancestor} is not a directory; choose another --out")]
    ParentNotADirectory { out: PathBuf, ancestor: PathBuf },
    #[error("cannot write {path}: {error}{hint}")]
    Io {
        path: PathBuf,
        error: io::Error,
        hint: &'static str,
    },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("the plan needs about {need} but {dir} has {free} free; free some space, write elsewhere with --out, or pass --ignore-space-check")]
    NoSpace {
        dir: PathBuf,
        need: String,
        free: String,
    },
}

impl From<OutDirError> for WriteError {
    fn from(e: OutDirError) -> Self {
        io_err(&e.path, e.error)
    }
}

fn io_err(path: &Path, error: io::Error) -> WriteError {
    let hint = match error.raw_os_error() {
        Some(28) => "; the disk is full: free space or write elsewhere with --out",
        Some(1) | Some(13) | Some(30) => "; the directory is not writable: choose another --out",
        _ => "",
    };
    WriteError::Io {
        path: path.to_path_buf(),
        error,
        hint,
    }
}

/// The compression of [`WriteOptions::compress`], named here for the stage's callers.
pub use crate::outdir::Compression;

/// How to write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub out: PathBuf,
    pub force: bool,
    pub threads: usize,
    pub compress: Compression,
    pub shard: Option<(u32, u32)>,
    pub progress: bool,
    pub check_space: bool,
    /// Inputs (baseline, template) that `out` must not be, hold or lie inside.
    pub inputs: Vec<Input>,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct WriteReport {
    pub out: PathBuf,
    pub manifest: Manifest,
    pub rows: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Stale temporary directories of earlier, killed runs that were removed.
    pub cleaned: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Nodes(usize),
    Edges(usize),
}

struct Task {
    group: Group,
    range: std::ops::Range<u64>,
    path: String,
}

/// Checks the output path before anything is planned or written: not a file, not an input, not
/// an existing directory without `force` nor one tenantgen did not make
/// ([`outdir::check_replace`]), and creatable (its nearest existing ancestor is a writable
/// directory, probed by creating and removing a hidden directory there).
pub fn check_out(opts: &WriteOptions) -> Result<(), WriteError> {
    let out = absolute(&opts.out);
    if out.exists() && !out.is_dir() {
        return Err(WriteError::NotADirectory { path: out });
    }
    let rule = Replace {
        flag: "--out",
        made: Made::Generated,
        inputs: &opts.inputs,
    };
    if outdir::check_replace(&out, &rule)? != Existing::Nothing && !opts.force {
        return Err(WriteError::Exists { path: out });
    }
    let Some(ancestor) = out.ancestors().skip(1).find(|a| a.exists()) else {
        return Ok(());
    };
    if !ancestor.is_dir() {
        return Err(WriteError::ParentNotADirectory {
            out: out.clone(),
            ancestor: ancestor.to_path_buf(),
        });
    }
    let probe = ancestor.join(format!(".tenantgen-probe-{}", std::process::id()));
    fs::create_dir(&probe).map_err(|error| WriteError::Unwritable {
        out: out.clone(),
        dir: ancestor.to_path_buf(),
        error,
    })?;
    let _ = fs::remove_dir(&probe);
    Ok(())
}

/// Writes the plan's output directory.
pub fn write(
    plan: &Plan,
    baseline: &Baseline,
    opts: &WriteOptions,
) -> Result<WriteReport, WriteError> {
    let started = Instant::now();
    check_out(opts)?;
    let out = absolute(&opts.out);
    let target = Target::new(&out, "out");
    target.create_parent()?;
    let parent = target.parent().to_path_buf();
    let cleaned = target.clean_stale();
    if opts.check_space {
        if let Some(free) = free_bytes(&parent) {
            let need = plan.estimated_bytes + baseline_bytes(baseline);
            if need > free {
                return Err(WriteError::NoSpace {
                    dir: parent,
                    need: crate::report::human_bytes(need),
                    free: crate::report::human_bytes(free),
                });
            }
        }
    }
    let staged = target.stage(Made::Generated)?;
    let (shard_index, shard_count) = opts.shard.unwrap_or((1, 1));
    let first_shard = shard_index == 1;

    let (mut node_groups, mut rel_groups) = if first_shard {
        copy_baseline(baseline, staged.path())?
    } else {
        (Vec::new(), Vec::new())
    };
    let tasks = tasks(plan, opts.compress);
    // Shards take parts round-robin by their position in the full task list, so the union of
    // all shards is the unsharded output, file for file.
    let mine: Vec<&Task> = tasks
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as u32) % shard_count == shard_index - 1)
        .map(|(_, t)| t)
        .collect();
    for g in &plan.nodes {
        staged.write_header(&g.name, &g.header)?;
    }
    for g in &plan.edges {
        staged.write_header(&g.name, &g.header)?;
    }
    let entries = write_parts(plan, baseline, &staged, &mine, opts)?;
    let rows = entries.iter().map(|e| e.rows).sum();
    let bytes = entries.iter().map(|e| e.bytes.unwrap_or(0)).sum();
    let (nodes, rels) = synthetic_groups(plan, &mine, entries);
    node_groups.extend(nodes);
    rel_groups.extend(rels);
    let csv = CsvOptions {
        multiline_fields: baseline.manifest.csv.multiline_fields || baseline.line_breaks,
        ..CsvOptions::default()
    };
    let shard = match opts.shard {
        Some((index, count)) => Some(ShardInfo {
            index,
            count,
            plan: plan_fingerprint(plan, baseline, &tasks, count, &csv)
                .map_err(|e| io_err(&baseline.dir, e))?,
            parts: tasks.len() as u64,
        }),
        None => None,
    };
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        kind: Kind::Generated,
        csv,
        node_groups,
        relationship_groups: rel_groups,
        operation: Some(operation(plan, baseline)),
        expected: Some(plan.expected.clone()),
        shard,
    };
    // A shard of several holds only some parts: an argfile or LOAD CSV script listing the
    // whole plan's files would not work from it (`import DIR…` and `merge` write them).
    if shard_count == 1 {
        let full = full_file_lists(&manifest, plan, &tasks);
        staged.write_file("import.args", &full.import_args())?;
        staged.write_file("load.cypher", &load_cypher(&full, &plan_headers(plan)))?;
    }
    manifest.write(&staged.path().join(manifest::FILE_NAME))?;
    staged.commit()?;
    Ok(WriteReport {
        out,
        manifest,
        rows,
        bytes,
        elapsed: started.elapsed(),
        cleaned,
    })
}

/// The fingerprint of a plan, the same in every shard of it: 32 hex digits of xxh3-128 over the
/// tool's version, the shard count, the operation (without the inputs' paths, which differ
/// between workers), the expected counts, the CSV dialect, every synthetic group's header and
/// every part's path and row range, and the bytes of the baseline (manifest, headers, data) and
/// of the template. Shards of different inputs, flags, seeds or operation ids differ in it.
fn plan_fingerprint(
    plan: &Plan,
    baseline: &Baseline,
    tasks: &[Task],
    count: u32,
    csv: &CsvOptions,
) -> io::Result<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let field = |h: &mut xxhash_rust::xxh3::Xxh3, bytes: &[u8]| {
        // Length-prefixed, so that no two field lists hash the same bytes.
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(
        &mut h,
        concat!("tenantgen ", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    field(&mut h, &count.to_le_bytes());
    let mut op = operation(plan, baseline);
    op.baseline = String::new();
    op.template = None;
    field(&mut h, json(&op).as_bytes());
    field(&mut h, json(&plan.expected).as_bytes());
    field(&mut h, json(csv).as_bytes());
    for g in &plan.nodes {
        field(&mut h, g.name.as_bytes());
        field(&mut h, g.header.file_text().as_bytes());
    }
    for g in &plan.edges {
        field(&mut h, g.name.as_bytes());
        field(&mut h, g.header.file_text().as_bytes());
    }
    for t in tasks {
        field(&mut h, t.path.as_bytes());
        field(&mut h, &t.range.start.to_le_bytes());
        field(&mut h, &t.range.end.to_le_bytes());
    }
    field(&mut h, json(&baseline.manifest).as_bytes());
    let headers = baseline
        .node_groups
        .iter()
        .map(|g| &g.header_path)
        .chain(baseline.rel_groups.iter().map(|g| &g.header_path));
    for p in headers {
        field(&mut h, &fs::read(p)?);
    }
    let files = baseline
        .node_groups
        .iter()
        .flat_map(|g| &g.files)
        .chain(baseline.rel_groups.iter().flat_map(|g| &g.files));
    for f in files {
        field(&mut h, f.bytes());
    }
    if let Some(t) = &plan.config.template {
        field(&mut h, &fs::read(t)?);
    }
    Ok(format!("{:032x}", h.digest128()))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One data part of the plan, as `generate --dry-run --json` lists it for an orchestrator.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartInfo {
    /// Position in the whole plan: shard K of N writes the parts with `index % N == K - 1`.
    pub index: usize,
    pub group: String,
    /// `nodes` or `relationships`.
    pub kind: &'static str,
    pub path: String,
    pub rows: u64,
    /// The plan's byte estimate shared out over all parts by rows (rough: node and
    /// relationship rows differ in width).
    pub estimated_bytes: u64,
}

/// The plan's data parts in the order shards share them out (see [`PartInfo`]).
pub fn parts(plan: &Plan, compress: Compression) -> Vec<PartInfo> {
    let tasks = tasks(plan, compress);
    let total_rows: u64 = tasks.iter().map(|t| t.range.end - t.range.start).sum();
    tasks
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let rows = t.range.end - t.range.start;
            let (group, kind) = match t.group {
                Group::Nodes(g) => (&plan.nodes[g].name, "nodes"),
                Group::Edges(g) => (&plan.edges[g].name, "relationships"),
            };
            PartInfo {
                index,
                group: group.clone(),
                kind,
                path: t.path.clone(),
                rows,
                estimated_bytes: (plan.estimated_bytes as u128 * rows as u128
                    / total_rows.max(1) as u128) as u64,
            }
        })
        .collect()
}

/// Every data part of the plan, in a fixed order: node groups, then relationship groups, each
/// by part index.
fn tasks(plan: &Plan, compress: Compression) -> Vec<Task> {
    let nodes = plan.nodes.iter().enumerate().flat_map(|(g, group)| {
        group.parts.iter().enumerate().map(move |(p, range)| Task {
            group: Group::Nodes(g),
            range: range.clone(),
            path: outdir::part_path(&group.name, p, compress),
        })
    });
    let edges = plan.edges.iter().enumerate().flat_map(|(g, group)| {
        group.parts.iter().enumerate().map(move |(p, range)| Task {
            group: Group::Edges(g),
            range: range.clone(),
            path: outdir::part_path(&group.name, p, compress),
        })
    });
    nodes.chain(edges).collect()
}

/// Writes `mine`, one rayon task per part on `opts.threads` workers, and returns their entries
/// in the same order.
fn write_parts(
    plan: &Plan,
    baseline: &Baseline,
    staged: &Staged,
    mine: &[&Task],
    opts: &WriteOptions,
) -> Result<Vec<FileEntry>, WriteError> {
    let total_rows: u64 = mine.iter().map(|t| t.range.end - t.range.start).sum();
    let progress = Bar::rows(opts.progress, "generate", total_rows);
    let generator = Generator::new(plan, baseline);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| io_err(staged.path(), io::Error::other(e.to_string())))?;
    // Longest parts first, each worker taking the next from a shared queue: node parts (their
    // rows are rendered) cost several times an edge part's, and a divide-and-conquer split of
    // the part list left one worker alone with the last node parts for seconds.
    let mut order: Vec<usize> = (0..mine.len()).collect();
    order.sort_by_key(|&i| {
        let t = mine[i];
        let weight = if matches!(t.group, Group::Nodes(_)) {
            4
        } else {
            1
        };
        std::cmp::Reverse((t.range.end - t.range.start) * weight)
    });
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<FileEntry, WriteError>>>> =
        mine.iter().map(|_| std::sync::Mutex::new(None)).collect();
    pool.scope(|s| {
        for _ in 0..opts.threads.max(1) {
            s.spawn(|_| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let r = write_part(&generator, plan, mine[i], staged, opts.compress, &progress);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    let results: Vec<Result<FileEntry, WriteError>> = slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every part was written")
        })
        .collect();
    progress.finish();
    let entries = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    // Parts are flushed to disk together once all are written: an fdatasync after each part
    // made every worker wait for its own writeback and cost 2.5× the time at 10M rows.
    pool.install(|| {
        mine.par_iter()
            .map(|t| staged.sync(&t.path))
            .collect::<Result<Vec<()>, OutDirError>>()
    })?;
    Ok(entries)
}

fn write_part(
    generator: &Generator<'_>,
    plan: &Plan,
    task: &Task,
    staged: &Staged,
    compress: Compression,
    progress: &Bar,
) -> Result<FileEntry, WriteError> {
    let mut part = staged.create_part(task.path.clone(), compress)?;
    let path = part.path().to_path_buf();
    let mut sink = |b: &[u8], rows: u64| -> io::Result<()> {
        part.write_rows(b, rows)?;
        progress.add(rows);
        Ok(())
    };
    match task.group {
        Group::Nodes(g) => generator.node_part(&plan.nodes[g], task.range.clone(), &mut sink),
        Group::Edges(g) => generator.edge_part(&plan.edges[g], task.range.clone(), &mut sink),
    }
    .map_err(|e| io_err(&path, e))?;
    Ok(part.finish()?)
}

/// The synthetic groups of the manifest, with the parts this shard wrote (`entries`, in the
/// order of `mine`).
fn synthetic_groups(
    plan: &Plan,
    mine: &[&Task],
    entries: Vec<FileEntry>,
) -> (Vec<NodeGroup>, Vec<RelGroup>) {
    let mut node_files: Vec<Vec<FileEntry>> = vec![Vec::new(); plan.nodes.len()];
    let mut rel_files: Vec<Vec<FileEntry>> = vec![Vec::new(); plan.edges.len()];
    for (t, e) in mine.iter().zip(entries) {
        match t.group {
            Group::Nodes(g) => node_files[g].push(e),
            Group::Edges(g) => rel_files[g].push(e),
        }
    }
    let nodes = plan
        .nodes
        .iter()
        .zip(node_files)
        .map(|(g, files)| NodeGroup {
            name: g.name.clone(),
            labels: g.labels.clone(),
            id_space: g.id_space.clone(),
            header: outdir::header_path(&g.name),
            files,
            origin: Origin::Synthetic,
        });
    let rels = plan.edges.iter().zip(rel_files).map(|(g, files)| RelGroup {
        name: g.name.clone(),
        rel_type: g.rel_type.clone(),
        start_space: g.start_space.clone(),
        end_space: g.end_space.clone(),
        header: outdir::header_path(&g.name),
        files,
        origin: Origin::Synthetic,
    });
    (nodes.collect(), rels.collect())
}

/// Links (or copies) the baseline's files under `baseline/` and returns its groups with the
/// new paths and checksums.
fn copy_baseline(
    baseline: &Baseline,
    dir: &Path,
) -> Result<(Vec<NodeGroup>, Vec<RelGroup>), WriteError> {
    let place = |rel: &str| -> Result<(String, u64, String), WriteError> {
        let src = baseline.dir.join(rel);
        let dst_rel = format!("baseline/{rel}");
        let dst = dir.join(&dst_rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p).map_err(|e| io_err(p, e))?;
        }
        if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(|e| io_err(&dst, e))?;
        }
        // Streamed, so a large baseline is never read into memory whole.
        let hash = outdir::file_xxh3(&dst).map_err(|e| io_err(&dst, e))?;
        let len = fs::metadata(&dst).map_err(|e| io_err(&dst, e))?.len();
        Ok((dst_rel, len, hash))
    };
    let place_group = |header: &mut String, files: &mut [FileEntry]| -> Result<(), WriteError> {
        *header = place(header)?.0;
        for f in files {
            let (p, bytes, hash) = place(&f.path)?;
            f.path = p;
            f.bytes = Some(bytes);
            f.xxh3 = Some(hash);
        }
        Ok(())
    };
    let mut nodes = Vec::new();
    for g in &baseline.manifest.node_groups {
        let mut g = g.clone();
        place_group(&mut g.header, &mut g.files)?;
        g.origin = Origin::Baseline;
        nodes.push(g);
    }
    let mut rels = Vec::new();
    for g in &baseline.manifest.relationship_groups {
        let mut g = g.clone();
        place_group(&mut g.header, &mut g.files)?;
        g.origin = Origin::Baseline;
        rels.push(g);
    }
    Ok((nodes, rels))
}

fn baseline_bytes(baseline: &Baseline) -> u64 {
    baseline
        .node_groups
        .iter()
        .flat_map(|g| &g.files)
        .chain(baseline.rel_groups.iter().flat_map(|g| &g.files))
        .map(|f| f.bytes().len() as u64)
        .sum()
}

/// The manifest as if unsharded: every group with every part's path (rows and checksums are
/// not needed for the import files).
fn full_file_lists(m: &Manifest, plan: &Plan, tasks: &[Task]) -> Manifest {
    let mut full = m.clone();
    let paths = |g: Group| -> Vec<FileEntry> {
        tasks
            .iter()
            .filter(|t| t.group == g)
            .map(|t| FileEntry {
                path: t.path.clone(),
                rows: t.range.end - t.range.start,
                bytes: None,
                xxh3: None,
            })
            .collect()
    };
    for (i, g) in full
        .node_groups
        .iter_mut()
        .filter(|g| g.origin == Origin::Synthetic)
        .enumerate()
    {
        debug_assert_eq!(g.name, plan.nodes[i].name);
        g.files = paths(Group::Nodes(i));
    }
    for (i, g) in full
        .relationship_groups
        .iter_mut()
        .filter(|g| g.origin == Origin::Synthetic)
        .enumerate()
    {
        debug_assert_eq!(g.name, plan.edges[i].name);
        g.files = paths(Group::Edges(i));
    }
    full
}

/// A LOAD CSV script for the synthetic groups, for users of cypher-shell on a running server
/// that holds the baseline. Its header says which files go where; it creates the schema it
/// matches on first, then one `CALL (row) { … } IN TRANSACTIONS` statement per data part.
pub fn load_cypher(m: &Manifest, headers: &HashMap<String, Vec<Column>>) -> String {
    let op = m.operation.as_ref().map_or("", |o| o.id.as_str());
    let mut s = format!(
        "// Loads operation {op}'s synthetic nodes and relationships into a running Neo4j that\n\
         // holds its baseline (`tenantgen load DIR --uri ...` does the same over Bolt, with no\n\
         // copying, and resumes after an interruption).\n\
         // 1. Copy the `data` folder of this directory INTO the server's import directory\n\
         //    (server.directories.import, default <NEO4J_HOME>/import), so that the files below\n\
         //    resolve as <import>/data/<part>, e.g.: cp -r data \"$NEO4J_HOME/import/\"\n\
         //    (copy the folder, not the directory holding it: the paths start with data/).\n\
         // 2. Run the statements in order, each on its own (auto-commit), e.g.:\n\
         //    cypher-shell -a bolt://127.0.0.1:7687 -f load.cypher\n\n",
    );
    let mut end_labels = std::collections::BTreeSet::new();
    for g in m
        .relationship_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        end_labels.insert(end_label(m, &g.start_space));
        end_labels.insert(end_label(m, &g.end_space));
    }
    s.push_str(&cypher::id_constraint().create());
    s.push_str(
        ";
",
    );
    for index in cypher::load_indexes(end_labels.iter().map(String::as_str)) {
        s.push_str(&index.create());
        s.push_str(
            ";
",
        );
    }
    s.push_str(cypher::AWAIT_INDEXES);
    s.push_str(
        ";

",
    );
    for g in m
        .node_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        let header = headers.get(&g.header).cloned().unwrap_or_default();
        // Labels and types are validated tokens (`manifest::valid_token`); quoting them anyway
        // keeps the script well-formed whatever they hold.
        let labels: String = g.labels.iter().map(|l| format!(":{}", quote(l))).collect();
        for f in &g.files {
            s.push_str(&format!(
                "LOAD CSV FROM 'file:///{}' AS row\nCALL (row) {{\n  CREATE (n{labels})\n  SET n += {{{}}}\n}} IN TRANSACTIONS OF 10000 ROWS;\n\n",
                f.path,
                cypher_props(&header, true)
            ));
        }
    }
    for g in m
        .relationship_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        let header = headers.get(&g.header).cloned().unwrap_or_default();
        let (sl, el) = (
            quote(&end_label(m, &g.start_space)),
            quote(&end_label(m, &g.end_space)),
        );
        let (si, ei) = (
            header
                .iter()
                .position(|c| matches!(c.kind, ColumnKind::StartId { .. }))
                .unwrap_or(0),
            header
                .iter()
                .position(|c| matches!(c.kind, ColumnKind::EndId { .. }))
                .unwrap_or(1),
        );
        for f in &g.files {
            s.push_str(&format!(
                "LOAD CSV FROM 'file:///{}' AS row\nCALL (row) {{\n  MATCH (a:{sl} {{id: row[{si}]}})\n  MATCH (b:{el} {{id: row[{ei}]}})\n  CREATE (a)-[r:{}]->(b)\n  SET r += {{{}}}\n}} IN TRANSACTIONS OF 10000 ROWS;\n\n",
                f.path,
                quote(&g.rel_type),
                cypher_props(&header, false)
            ));
        }
    }
    s
}

/// The label `load.cypher` matches a space's relationship ends by: the one rule of
/// [`cypher::end_label`], which `load` uses too.
fn end_label(m: &Manifest, space: &str) -> String {
    cypher::end_label(&m.node_groups, space).unwrap_or_else(|| space.to_string())
}

fn cypher_props(columns: &[Column], nodes: bool) -> String {
    let mut parts = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let v = format!("row[{i}]");
        let expr = match &c.kind {
            ColumnKind::Id { stored: true, .. } if nodes => v,
            ColumnKind::Property { ty, array } => {
                let conv = |x: &str| cypher::from_text(*ty, x);
                if *array {
                    format!("[x IN split({v}, ';') | {}]", conv("x"))
                } else {
                    conv(&v)
                }
            }
            _ => continue,
        };
        parts.push(format!("{}: {expr}", quote(&c.name)));
    }
    parts.join(", ")
}

/// The synthetic groups' header columns by header path.
fn plan_headers(plan: &Plan) -> HashMap<String, Vec<Column>> {
    let mut h = HashMap::new();
    for g in &plan.nodes {
        h.insert(outdir::header_path(&g.name), g.header.columns.clone());
    }
    for g in &plan.edges {
        h.insert(outdir::header_path(&g.name), g.header.columns.clone());
    }
    h
}

fn operation(plan: &Plan, baseline: &Baseline) -> Operation {
    let c = &plan.config;
    Operation {
        id: plan.op.id.clone(),
        seed: c.seed,
        strategy: c.strategy.name().into(),
        scale_factor: match c.scale {
            Scale::Factor(f) => Some(f),
            Scale::TargetTotal(_) => None,
        },
        target_total: match c.scale {
            Scale::TargetTotal(t) => Some(t),
            Scale::Factor(_) => None,
        },
        edges: c.edges.name().into(),
        atg_compat: c.atg_compat,
        timestamp: plan
            .op
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        generation_timestamp: plan.op.generation_timestamp.clone(),
        template: c.template.as_ref().map(|p| p.display().to_string()),
        baseline: baseline.dir.display().to_string(),
        base_resources: plan.base_count,
        synthetic_nodes: plan.synthetic,
        synthetic_relationships: plan.expected.operation_relationships,
        overridden_keys: plan.overridden_keys(),
        synthetic_labels: plan.synthetic_labels().to_vec(),
        edge_markers: !c.atg_compat,
        hierarchy_links: c.links && matches!(plan.source, crate::plan::Source::Replicate(_)),
    }
}

/// Free bytes on the filesystem holding `dir` (None when it cannot be told).
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    let avail: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(avail * 1024)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EdgeMode, GenerateConfig, Strategy};
    use crate::format::header::Header;

    fn seed_tenant() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seed-tenant")
    }

    /// A small replicate plan over the seed tenant (one copy for about a fifth of the bases).
    fn small_plan(baseline: &Baseline) -> Plan {
        let config = GenerateConfig {
            baseline: seed_tenant(),
            template: None,
            strategy: Strategy::Replicate,
            scale: Scale::Factor(1.2),
            scale_given: true,
            seed: 42,
            edges: EdgeMode::Aligned,
            atg_compat: false,
            links: true,
            operation_id: None,
            timestamp: Some(chrono::DateTime::from_timestamp(1_763_241_420, 0).unwrap()),
            part_rows: 250_000,
        };
        Plan::new(config, baseline).unwrap()
    }

    fn options(out: &Path) -> WriteOptions {
        WriteOptions {
            out: out.to_path_buf(),
            force: false,
            threads: 2,
            compress: Compression::None,
            shard: None,
            progress: false,
            check_space: false,
            inputs: Vec::new(),
        }
    }

    #[test]
    fn writes_a_complete_directory_for_a_small_plan() {
        let baseline = Baseline::open(&seed_tenant()).unwrap();
        let plan = small_plan(&baseline);
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        let report = write(&plan, &baseline, &options(&out)).unwrap();

        let names: Vec<String> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["gen"], "no temporary sibling is left");
        let manifest = Manifest::read(&out).unwrap();
        assert_eq!(manifest, report.manifest);
        crate::import::check_files(&out, &manifest).unwrap();
        let synthetic_rows: u64 = manifest
            .node_groups
            .iter()
            .filter(|g| g.origin == Origin::Synthetic)
            .flat_map(|g| &g.files)
            .chain(
                manifest
                    .relationship_groups
                    .iter()
                    .filter(|g| g.origin == Origin::Synthetic)
                    .flat_map(|g| &g.files),
            )
            .map(|f| f.rows)
            .sum();
        assert!(synthetic_rows > 0);
        assert_eq!(report.rows, synthetic_rows);

        // Unsharded, the argfile lists exactly the manifest's files.
        let args = fs::read_to_string(out.join("import.args")).unwrap();
        assert_eq!(args, manifest.import_args());
        assert!(args.starts_with("--nodes="), "{args}");

        let cypher = fs::read_to_string(out.join("load.cypher")).unwrap();
        assert!(cypher.starts_with("// Loads operation "), "{cypher}");
        let synthetic_files = manifest
            .node_groups
            .iter()
            .filter(|g| g.origin == Origin::Synthetic)
            .map(|g| g.files.len())
            .chain(
                manifest
                    .relationship_groups
                    .iter()
                    .filter(|g| g.origin == Origin::Synthetic)
                    .map(|g| g.files.len()),
            )
            .sum::<usize>();
        assert_eq!(
            cypher.matches("LOAD CSV FROM 'file:///data/").count(),
            synthetic_files
        );

        for g in &plan.nodes {
            let bytes = fs::read_to_string(out.join(outdir::header_path(&g.name))).unwrap();
            assert_eq!(bytes, format!("{}\n", g.header.line()));
        }
        let op = manifest.operation.as_ref().unwrap();
        assert_eq!(
            (op.strategy.as_str(), op.scale_factor),
            ("replicate", Some(1.2))
        );
        assert!(manifest
            .node_groups
            .iter()
            .any(|g| g.header.starts_with("baseline/")));
    }

    #[test]
    fn an_existing_output_needs_force() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        fs::create_dir(&out).unwrap();
        let e = check_out(&options(&out)).unwrap_err().to_string();
        assert!(e.contains("pass --force"), "{e}");
        let forced = WriteOptions {
            force: true,
            ..options(&out)
        };
        check_out(&forced).unwrap();
        fs::remove_dir(&out).unwrap();
        fs::write(&out, "").unwrap();
        let e = check_out(&forced).unwrap_err().to_string();
        assert!(e.contains("is a file"), "{e}");
    }

    #[test]
    fn load_cypher_creates_nodes_then_matches_relationship_ends() {
        let header = |line: &str| {
            let fields: Vec<&str> = line.split(',').collect();
            Header::parse(&fields).unwrap().columns
        };
        let mut headers = HashMap::new();
        headers.insert(
            "headers/vm.csv".to_string(),
            header("id:ID(Resource),n:long,zones:string[],ok:boolean"),
        );
        headers.insert(
            "headers/rel.csv".to_string(),
            header(":START_ID(Resource),:END_ID(Resource),w:double"),
        );
        let file = |path: &str| FileEntry {
            path: path.into(),
            rows: 1,
            bytes: None,
            xxh3: None,
        };
        let m = Manifest {
            format: manifest::FORMAT.into(),
            kind: Kind::Generated,
            csv: CsvOptions::default(),
            node_groups: vec![NodeGroup {
                name: "vm".into(),
                labels: vec!["Resource".into(), "Odd`Label".into()],
                id_space: "Resource".into(),
                header: "headers/vm.csv".into(),
                files: vec![file("data/vm.part-0000.csv")],
                origin: Origin::Synthetic,
            }],
            relationship_groups: vec![RelGroup {
                name: "rel".into(),
                rel_type: "CONTAINS".into(),
                start_space: "Resource".into(),
                end_space: "Resource".into(),
                header: "headers/rel.csv".into(),
                files: vec![file("data/rel.part-0000.csv")],
                origin: Origin::Synthetic,
            }],
            operation: None,
            expected: None,
            shard: None,
        };
        let text = load_cypher(&m, &headers);
        let body = text.split_once("CALL db.awaitIndexes(300);\n\n").unwrap().1;
        assert_eq!(
            body,
            "LOAD CSV FROM 'file:///data/vm.part-0000.csv' AS row\n\
             CALL (row) {\n  CREATE (n:`Resource`:`Odd``Label`)\n  \
             SET n += {`id`: row[0], `n`: toInteger(row[1]), `zones`: [x IN split(row[2], ';') | x], `ok`: toBoolean(row[3])}\n\
             } IN TRANSACTIONS OF 10000 ROWS;\n\n\
             LOAD CSV FROM 'file:///data/rel.part-0000.csv' AS row\n\
             CALL (row) {\n  MATCH (a:`Resource` {id: row[0]})\n  MATCH (b:`Resource` {id: row[1]})\n  \
             CREATE (a)-[r:`CONTAINS`]->(b)\n  SET r += {`w`: toFloat(row[2])}\n\
             } IN TRANSACTIONS OF 10000 ROWS;\n\n"
        );
    }
}
