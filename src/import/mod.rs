//! `import`: loads a tenantgen directory (generated output or baseline) into a fresh Neo4j
//! database with the real `neo4j-admin database import full`, then checks the importer's counts
//! against the manifest.
//!
//! Safety: data files are checked against the manifest's checksums first; the import runs into
//! a staging instance directory and is installed only when it succeeded and its counts match, so
//! a failed import leaves any earlier database as it was. An existing database is replaced only
//! with `overwrite`, and only in an instance directory tenantgen made
//! ([`outdir::check_replace`]) that no live process holds ([`store_holder`]); leftovers of an
//! interrupted import (`.NAME.staging-PID`) are removed at the next start.
//!
//! Installing into an existing instance swaps only the imported database's store and
//! transaction directories ([`swap_database`]) and keeps the instance's config, system database
//! (users, roles), other databases and port; explicit `--port`, `--server-heap` and
//! `--pagecache` change those lines of its config. `reset_instance` replaces the whole instance
//! directory with a fresh one (new config: auth off, a new port, a new system database).
//! Running neo4j-admin is [`crate::neo4j`]'s; the argfile of a directory without one comes from
//! its manifest ([`Manifest::import_args`]).
//!
//! The shards of one plan import together ([`ImportConfig::shards`]): [`crate::shards`] checks
//! the set, its files are linked into the staging instance (`shards-input/`, removed before the
//! install) and read by one neo4j-admin run, and the whole plan's manifest, which no shard
//! holds, is kept as `INSTANCE/manifest.json` for `verify`. [`dump`] writes the installed
//! database as a `neo4j-admin database dump` archive (`--dump`).
//!
//! Disk space ([`space`]): before neo4j-admin starts, the store's estimated peak (from the CSV
//! bytes it will read) is compared with the free space where the staging instance goes, and an
//! import that cannot fit is refused; an import that fails on a full disk anyway (neo4j-admin
//! says "ERROR in input" then) is reported as the full disk it is.

pub mod space;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::manifest::{Manifest, ManifestError};
use crate::neo4j::{
    fixed_default_database, port_answers, store_holder, ImportReport, ImportRequest, ImportTotals,
    Instance, InstanceOptions, Neo4jError, NeoHome, QUICK_JVM, QUICK_JVM_ENTITIES,
};
use crate::outdir::{self, file_xxh3, Existing, Input, Made, OwnershipError, Replace, Target};
use crate::report::human_bytes;
use crate::shards::{self, Combined, Link, ShardError};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Neo4j(#[from] Neo4jError),
    #[error("Java is not installed or not on PATH (no `java` in PATH{java_home}): neo4j-admin needs Java 17+; install it (e.g. `apt-get install openjdk-17-jre-headless`) or add its bin directory to PATH")]
    JavaMissing { java_home: String },
    #[error("{path} is missing; the manifest lists it: regenerate the directory")]
    MissingFile { path: PathBuf },
    #[error("{path} has checksum {found}, the manifest says {expected}: the file was changed or corrupted; regenerate the directory")]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error(transparent)]
    Shards(#[from] ShardError),
    #[error("instance {path} is in use by process {pid} (it holds {file}): stop that server first (`tenantgen stop {path}` for an instance tenantgen made, `scripts/neo4j stop NAME` for a named one, `kill {pid}` otherwise), or choose another --data-dir")]
    InUse {
        path: PathBuf,
        pid: u32,
        file: PathBuf,
    },
    #[error("--port {port}: 127.0.0.1:{port} is already in use (another Neo4j or process listens there): stop it, pass another --port, or leave --port out to pick a free one")]
    PortTaken { port: u16 },
    #[error("instance {path} serves database '{existing}', fixed in its system database at its first start (Neo4j Community serves one user database), not '{wanted}': pass --database {existing} to replace that one, or --reset-instance to start the instance afresh (a new config and system database: its users, roles and settings are lost)")]
    OtherDefaultDatabase {
        path: PathBuf,
        existing: String,
        wanted: String,
    },
    #[error("instance {path} already holds database '{database}'; pass --overwrite to replace it, or choose another --data-dir")]
    Exists { path: PathBuf, database: String },
    #[error("the importer reported {got_nodes} nodes and {got_rels} relationships, the manifest expects {want_nodes} and {want_rels}; the database was not installed (staging left in {staging} for inspection)")]
    CountMismatch {
        got_nodes: u64,
        got_rels: u64,
        want_nodes: u64,
        want_rels: u64,
        staging: PathBuf,
    },
    #[error("--dump {path} exists: tenantgen never replaces a file it did not write in this run; remove it or pass another --dump path")]
    DumpExists { path: PathBuf },
    #[error("--dump {path}: {problem}; pass a file path such as --dump tenant.dump")]
    DumpPath {
        path: PathBuf,
        problem: &'static str,
    },
    #[error("the file system of {dir} (mounted at {mount}) has {free} free, and the import needs about {need} there ({input} of CSV becomes the store, its transaction log and the importer's work files): free space there, pass --data-dir on a file system with room, or --ignore-space-check to try anyway")]
    NoSpace {
        dir: PathBuf,
        mount: PathBuf,
        need: String,
        free: String,
        input: String,
    },
    #[error(transparent)]
    DiskFull(Box<DiskFull>),
    #[error("cannot {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A failed import that ran out of disk space (boxed in [`ImportError::DiskFull`]).
#[derive(Debug, thiserror::Error)]
#[error("the import ran out of disk space: the file system of {dir} (mounted at {mount}) is full{file}; the import needs about {need} there for {input} of CSV, and {free} was free when it started: free space there or pass --data-dir on a file system with room; nothing was installed, the importer's output is in {log}")]
pub struct DiskFull {
    pub dir: PathBuf,
    pub mount: PathBuf,
    /// " (neo4j-admin could not grow the store file F to N)", when its output names it.
    pub file: String,
    pub need: String,
    pub free: String,
    pub input: String,
    pub log: PathBuf,
}

/// The validated configuration of an import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The tenantgen directory to import.
    pub dir: PathBuf,
    /// Shard directories to combine into one import (`dir` is then the first of them); empty
    /// for an ordinary import of `dir`.
    pub shards: Vec<PathBuf>,
    pub neo4j_home: Option<PathBuf>,
    /// The Neo4j instance directory (conf, data, logs) to create or replace.
    pub instance_dir: PathBuf,
    pub database: String,
    pub overwrite: bool,
    /// Replace the whole instance directory (a fresh config and system database) instead of
    /// only the database's store in it.
    pub reset_instance: bool,
    pub threads: usize,
    pub max_off_heap: String,
    pub heap: String,
    /// Bolt port written into the instance's configuration (None: a free one).
    pub port: Option<u16>,
    pub server_heap: String,
    pub pagecache: String,
    /// Show the importer's progress on stderr (when it is a terminal).
    pub progress: bool,
    /// Restore this store instead of running neo4j-admin (a fixture-cache hit; `dir` then
    /// holds only the manifest).
    pub restore: Option<Restore>,
    /// Refuse an import whose estimated store exceeds the free space ([`space`]).
    pub check_space: bool,
}

/// A store imported before (by a run with the same inputs): `store/databases/<db>` and
/// `store/transactions/<db>`, and the property count its import reported.
#[derive(Debug, Clone)]
pub struct Restore {
    pub store: PathBuf,
    pub properties: u64,
}

impl ImportConfig {
    /// Defaults sized for a 2-core, 24 GiB machine.
    pub fn new(dir: PathBuf, instance_dir: PathBuf) -> ImportConfig {
        ImportConfig {
            dir,
            shards: Vec::new(),
            neo4j_home: None,
            instance_dir,
            database: "neo4j".into(),
            overwrite: false,
            reset_instance: false,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_off_heap: "4G".into(),
            heap: "2g".into(),
            port: None,
            server_heap: "auto".into(),
            pagecache: "auto".into(),
            progress: false,
            restore: None,
            check_space: true,
        }
    }
}

/// A finished import.
#[derive(Debug)]
pub struct ImportOutcome {
    pub instance: Instance,
    pub home: NeoHome,
    pub report: ImportReport,
    pub manifest: Manifest,
    pub check_time: Duration,
    /// Leftovers of earlier, interrupted imports that were removed.
    pub cleaned: Vec<PathBuf>,
    /// Whether an existing instance's config and system database were kept.
    pub kept_instance: bool,
    /// Advice for the user (e.g. a kept heap smaller than this graph's default).
    pub notes: Vec<String>,
}

/// Refuses an instance directory that tenantgen did not make, that a live process holds, that
/// already holds the database without `overwrite`, or whose system database serves another
/// database; refuses an explicit `--port` that something listens on. Nothing is changed; `run`
/// calls it before generating so that a refusal costs nothing.
pub fn check_target(cfg: &ImportConfig) -> Result<(), ImportError> {
    target(cfg).map(|_| ())
}

/// [`check_target`], and whether the import keeps the existing instance (swaps only its
/// database).
fn target(cfg: &ImportConfig) -> Result<bool, ImportError> {
    let dir = &cfg.instance_dir;
    if let Some(h) = store_holder(dir) {
        return Err(ImportError::InUse {
            path: dir.clone(),
            pid: h.pid,
            file: h.file,
        });
    }
    let inputs: Vec<Input> = std::iter::once(&cfg.dir)
        .chain(&cfg.shards)
        .map(|d| Input {
            what: "the directory being imported",
            path: d.clone(),
        })
        .collect();
    let rule = Replace {
        flag: "--data-dir",
        made: Made::Instance,
        inputs: &inputs,
    };
    let existing = outdir::check_replace(dir, &rule)?;
    if let Some(port) = cfg.port.filter(|p| port_answers(*p)) {
        return Err(ImportError::PortTaken { port });
    }
    let target_db = dir.join("data/databases").join(&cfg.database);
    if existing == Existing::Ours && target_db.exists() && !cfg.overwrite {
        return Err(ImportError::Exists {
            path: dir.clone(),
            database: cfg.database.clone(),
        });
    }
    let keep =
        existing == Existing::Ours && !cfg.reset_instance && dir.join("conf/neo4j.conf").is_file();
    if let Some(existing) = fixed_default_database(dir).filter(|d| keep && *d != cfg.database) {
        return Err(ImportError::OtherDefaultDatabase {
            path: dir.clone(),
            existing,
            wanted: cfg.database.clone(),
        });
    }
    Ok(keep)
}

/// Runs the import. See the module docs.
pub fn import(cfg: &ImportConfig) -> Result<ImportOutcome, ImportError> {
    let home = NeoHome::locate(cfg.neo4j_home.as_deref())?;
    find_java()?;
    let started = Instant::now();
    let (manifest, combined) = if cfg.shards.is_empty() {
        let manifest = Manifest::read(&cfg.dir)?;
        if let Some(e) = shards::single(&cfg.dir, &manifest) {
            return Err(e.into());
        }
        if cfg.restore.is_none() {
            check_files(&resolve(&cfg.dir)?, &manifest)?;
        }
        (manifest, None)
    } else {
        let combined = shards::combine(&cfg.shards)?;
        check_shards(&combined)?;
        (combined.manifest.clone(), Some(combined))
    };
    let check_time = started.elapsed();

    target(cfg)?;
    let cleaned = Target::new(&cfg.instance_dir, "instance").clean_stale();
    let staging = sibling(&cfg.instance_dir, "staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|error| ImportError::Io {
            what: "remove",
            path: staging.clone(),
            error,
        })?;
    }
    let room = match &cfg.restore {
        Some(_) => None,
        None => Some(Room::measure(cfg, &manifest, combined.as_ref())?),
    };
    // A shard of 1 is the whole plan.
    let whole = manifest.shard.as_ref().is_none_or(|s| s.count == 1);
    let (want_nodes, want_rels) = match &manifest.expected {
        Some(e) if whole => (e.nodes, e.relationships),
        _ => (manifest.node_rows(), manifest.relationship_rows()),
    };
    // Small graphs: the JVMs' start-up dominates, and C1 alone starts faster.
    let jvm_flags = (want_nodes + want_rels < QUICK_JVM_ENTITIES).then(|| QUICK_JVM.to_string());
    let auto = auto_memory(want_nodes + want_rels);
    let pick = |v: &String| if v == "auto" { auto.clone() } else { v.clone() };
    let opts = InstanceOptions {
        port: cfg.port,
        heap: pick(&cfg.server_heap),
        pagecache: pick(&cfg.pagecache),
        database: cfg.database.clone(),
        jvm_flags: jvm_flags.clone(),
    };
    let _remove_staging = crate::interrupt::remove_on_interrupt(&staging);
    let staged = Instance::create(&staging, opts.clone())?;
    outdir::mark(staged.dir(), Made::Instance).map_err(|error| ImportError::Io {
        what: "write",
        path: staged.dir().join(outdir::MARKER),
        error,
    })?;
    let dir = match &combined {
        Some(c) => link_shards(c, staged.dir())?,
        None => resolve(&cfg.dir)?,
    };
    let argfile = if dir.join("import.args").is_file() {
        PathBuf::from("import.args")
    } else {
        // A baseline or an export carries no argfile: derive it from the manifest.
        let p = staged.dir().join("import.args");
        fs::write(&p, manifest.import_args()).map_err(|error| ImportError::Io {
            what: "write",
            path: p.clone(),
            error,
        })?;
        p
    };
    let req = ImportRequest {
        workdir: dir.clone(),
        argfile,
        overwrite: false,
        jvm_flags,
        threads: cfg.threads,
        max_off_heap: cfg.max_off_heap.clone(),
        heap: cfg.heap.clone(),
        progress: cfg.progress,
        totals: ImportTotals {
            nodes: want_nodes,
            relationships: want_rels,
        },
    };
    let imported = match &cfg.restore {
        Some(r) => restore(r, &staged, &cfg.database, want_nodes, want_rels),
        None => staged.import(&home, &req),
    };
    let report = match imported {
        Ok(r) => r,
        Err(mut e) => {
            // Stopped by an interrupt: the handler removes the staging directory, log and all.
            if !crate::interrupt::requested() {
                keep_log(&mut e, &cfg.instance_dir);
                let full = room.as_ref().and_then(|r| r.full_disk(&e, &staging));
                let _ = fs::remove_dir_all(&staging);
                if let Some(full) = full {
                    return Err(full);
                }
            }
            return Err(e.into());
        }
    };
    if report.nodes != want_nodes || report.relationships != want_rels {
        return Err(ImportError::CountMismatch {
            got_nodes: report.nodes,
            got_rels: report.relationships,
            want_nodes,
            want_rels,
            staging,
        });
    }
    if combined.is_some() {
        let _ = fs::remove_dir_all(&dir);
    }
    // The server could have been started while neo4j-admin ran.
    let (instance, kept_instance) = crate::interrupt::critical(|| {
        if target(cfg)? {
            swap_database(&staging, &cfg.instance_dir, &cfg.database)?;
            let _ = fs::remove_dir_all(&staging);
            Ok((keep_settings(cfg, opts.jvm_flags.clone())?, true))
        } else {
            install(&staging, &cfg.instance_dir)?;
            Ok::<_, ImportError>((Instance::create(&cfg.instance_dir, opts)?, false))
        }
    })?;
    keep_manifest(&cfg.instance_dir, combined.as_ref())?;
    let mut notes = Vec::new();
    if kept_instance && cfg.server_heap == "auto" && size_bytes(instance.heap()) < size_bytes(&auto)
    {
        notes.push(format!(
            "{} keeps its server heap of {}; tenantgen would give a graph of {} entities {}: pass --server-heap {auto} (and --pagecache {auto}) to change it",
            instance.dir().display(),
            instance.heap(),
            crate::report::thousands(want_nodes + want_rels),
            auto,
        ));
    }
    Ok(ImportOutcome {
        instance,
        home,
        report,
        manifest,
        check_time,
        cleaned,
        kept_instance,
        notes,
    })
}

/// The space an import needs and finds where its staging instance goes.
struct Room {
    dir: PathBuf,
    mount: PathBuf,
    input: u64,
    need: u64,
    /// None when the file system cannot tell.
    free: Option<u64>,
}

impl Room {
    /// Measures the input and the free space, and refuses (unless `--ignore-space-check`) an
    /// import whose estimate exceeds it.
    fn measure(
        cfg: &ImportConfig,
        manifest: &Manifest,
        combined: Option<&Combined>,
    ) -> Result<Room, ImportError> {
        let input = match combined {
            Some(c) => space::input_bytes(c.sources.values().map(PathBuf::as_path)),
            None => {
                let dir = resolve(&cfg.dir)?;
                let files: Vec<PathBuf> = listed(manifest).map(|p| dir.join(p)).collect();
                space::input_bytes(files.iter().map(PathBuf::as_path))
            }
        };
        let dir = cfg.instance_dir.clone();
        let room = Room {
            mount: space::mount_point(&dir),
            free: space::free_bytes(&dir),
            need: space::estimate(input),
            input,
            dir,
        };
        match room.free {
            Some(free) if cfg.check_space && room.need > free => Err(ImportError::NoSpace {
                dir: room.dir,
                mount: room.mount,
                need: human_bytes(room.need),
                free: human_bytes(free),
                input: human_bytes(input),
            }),
            _ => Ok(room),
        }
    }

    /// The full-disk error for a failed import whose output reports a full disk, or that left
    /// the file system (staging still in place) all but full.
    fn full_disk(&self, e: &Neo4jError, staging: &Path) -> Option<ImportError> {
        let Neo4jError::ImportFailed { log, details, .. } = e else {
            return None;
        };
        let output = fs::read_to_string(log).unwrap_or_else(|_| details.clone());
        let found = space::out_of_space(&output).or_else(|| {
            space::free_bytes(staging)
                .filter(|f| space::looks_full(*f))
                .map(|_| space::OutOfSpace {
                    file: None,
                    requested: None,
                })
        })?;
        // The file's own name: the staging directory around it is removed.
        let name = found
            .file
            .as_ref()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let file = match (name, found.requested) {
            (Some(f), Some(n)) => format!(
                " (neo4j-admin could not grow the store file {f} to {})",
                human_bytes(n)
            ),
            (Some(f), None) => format!(" (neo4j-admin could not grow the store file {f})"),
            _ => String::new(),
        };
        Some(ImportError::DiskFull(Box::new(DiskFull {
            dir: self.dir.clone(),
            mount: self.mount.clone(),
            file,
            need: human_bytes(self.need),
            free: self
                .free
                .map_or_else(|| "an unknown amount".into(), human_bytes),
            input: human_bytes(self.input),
            log: log.clone(),
        })))
    }
}

/// Every file (headers and data) a manifest lists, relative to its directory.
fn listed(m: &Manifest) -> impl Iterator<Item = &str> {
    let nodes = m.node_groups.iter().flat_map(|g| {
        std::iter::once(g.header.as_str()).chain(g.files.iter().map(|f| f.path.as_str()))
    });
    let rels = m.relationship_groups.iter().flat_map(|g| {
        std::iter::once(g.header.as_str()).chain(g.files.iter().map(|f| f.path.as_str()))
    });
    nodes.chain(rels)
}

fn resolve(dir: &Path) -> Result<PathBuf, ImportError> {
    dir.canonicalize().map_err(|error| ImportError::Io {
        what: "resolve",
        path: dir.to_path_buf(),
        error,
    })
}

/// The combined shards as one directory of symbolic links inside the staging instance, where
/// neo4j-admin reads them with the combination's argfile; removed before the install.
fn link_shards(c: &Combined, staging: &Path) -> Result<PathBuf, ImportError> {
    let dir = staging.join(SHARDS_INPUT);
    fs::create_dir_all(&dir).map_err(|error| ImportError::Io {
        what: "create",
        path: dir.clone(),
        error,
    })?;
    c.materialize(&dir, Link::Symbolic)?;
    Ok(dir)
}

/// The staging instance's directory of links to the shards' files.
const SHARDS_INPUT: &str = "shards-input";

/// The combination's manifest, kept in the instance directory: the whole plan's expected
/// counts exist in no single shard, and `verify INSTANCE` reads them from here. An ordinary
/// import removes the one an earlier combined import left, which described another graph.
fn keep_manifest(instance: &Path, combined: Option<&Combined>) -> Result<(), ImportError> {
    let path = instance.join(crate::manifest::FILE_NAME);
    match combined {
        Some(c) => c.manifest.write(&path)?,
        None if path.is_file() => fs::remove_file(&path).map_err(|error| ImportError::Io {
            what: "remove",
            path: path.clone(),
            error,
        })?,
        None => {}
    }
    Ok(())
}

/// Copies a cached store into the staging instance, as neo4j-admin would have written it.
fn restore(
    r: &Restore,
    staged: &Instance,
    database: &str,
    nodes: u64,
    relationships: u64,
) -> Result<ImportReport, Neo4jError> {
    let started = Instant::now();
    for sub in ["databases", "transactions"] {
        let from = r.store.join(sub).join(database);
        let to = staged.data_dir().join(sub).join(database);
        if from.is_dir() {
            crate::fixture::copy_tree(&from, &to).map_err(|e| Neo4jError::Io {
                what: "cannot restore the cached store",
                path: from.clone(),
                error: std::io::Error::other(e.to_string()),
            })?;
        }
    }
    Ok(ImportReport {
        nodes,
        relationships,
        properties: r.properties,
        log: String::new(),
        elapsed: started.elapsed(),
    })
}

/// Opens the kept instance and writes the settings the user gave explicitly (an "auto" size or
/// a missing `--port` changes nothing). The default database is set only while no system
/// database has fixed it ([`target`] refused a different one).
fn keep_settings(cfg: &ImportConfig, jvm_flags: Option<String>) -> Result<Instance, ImportError> {
    let mut instance = Instance::open(&cfg.instance_dir, jvm_flags)?;
    let mut changes: Vec<(&str, String)> = Vec::new();
    if let Some(port) = cfg.port {
        let address = format!("127.0.0.1:{port}");
        changes.push(("server.bolt.listen_address", address.clone()));
        changes.push(("server.bolt.advertised_address", address));
    }
    if cfg.server_heap != "auto" {
        changes.push(("server.memory.heap.initial_size", cfg.server_heap.clone()));
        changes.push(("server.memory.heap.max_size", cfg.server_heap.clone()));
    }
    if cfg.pagecache != "auto" {
        changes.push(("server.memory.pagecache.size", cfg.pagecache.clone()));
    }
    if instance.database() != cfg.database {
        changes.push(("initial.dbms.default_database", cfg.database.clone()));
    }
    if !changes.is_empty() {
        instance.set_conf(&changes)?;
    }
    Ok(instance)
}

/// Bytes in a Neo4j memory setting (`768m`, `1g`, `1024k`, `2G`); 0 when unreadable.
pub fn size_bytes(s: &str) -> u64 {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().unwrap_or(0);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return 0,
    };
    n << shift
}

/// Heap (and page cache) for a server holding `entities` nodes and relationships: 1 GiB, plus
/// 1 GiB per 2.5M entities up to 8 GiB. Verify's whole-graph aggregations (id uniqueness over
/// 10M ids) need more than the 70 % of a 1 GiB heap that Neo4j allows a transaction.
pub fn auto_memory(entities: u64) -> String {
    format!("{}g", (1 + entities / 2_500_000).min(8))
}

/// Checks that every file the manifest lists exists with its row count's file and checksum.
pub fn check_files(dir: &Path, manifest: &Manifest) -> Result<(), ImportError> {
    let headers = manifest
        .node_groups
        .iter()
        .map(|g| &g.header)
        .chain(manifest.relationship_groups.iter().map(|g| &g.header));
    for h in headers {
        let p = dir.join(h);
        if !p.is_file() {
            return Err(ImportError::MissingFile { path: p });
        }
    }
    let files = manifest
        .node_groups
        .iter()
        .flat_map(|g| &g.files)
        .chain(manifest.relationship_groups.iter().flat_map(|g| &g.files));
    for f in files {
        let p = dir.join(&f.path);
        if !p.is_file() {
            return Err(ImportError::MissingFile { path: p });
        }
        if let Some(expected) = &f.xxh3 {
            let found = file_xxh3(&p).map_err(|error| ImportError::Io {
                what: "read",
                path: p.clone(),
                error,
            })?;
            if &found != expected {
                return Err(ImportError::Checksum {
                    path: p,
                    expected: expected.clone(),
                    found,
                });
            }
        }
    }
    Ok(())
}

/// Refuses a `--dump` target that exists or cannot be a file; called before any work, so a
/// refusal costs nothing.
pub fn check_dump(file: &Path) -> Result<(), ImportError> {
    if file.exists() || file.is_symlink() {
        return Err(ImportError::DumpExists { path: file.into() });
    }
    if file.file_name().is_none() {
        return Err(ImportError::DumpPath {
            path: file.into(),
            problem: "names no file",
        });
    }
    if let Some(a) = file.ancestors().skip(1).find(|a| a.exists()) {
        if !a.is_dir() {
            return Err(ImportError::DumpPath {
                path: file.into(),
                problem: "a parent is not a directory",
            });
        }
    }
    Ok(())
}

/// A written dump archive.
#[derive(Debug, Clone)]
pub struct Dumped {
    pub file: PathBuf,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Writes the database of `instance` (its server stopped) as a `neo4j-admin database dump`
/// archive to `file`: dumped into a hidden sibling directory (removed again, also on an
/// interrupt) and hard-linked into place, which fails rather than replace a file that appeared
/// meanwhile. The archive loads with `neo4j-admin database load` into any Neo4j 5.26+.
pub fn dump(
    instance: &Instance,
    home: &NeoHome,
    file: &Path,
    heap: &str,
) -> Result<Dumped, ImportError> {
    check_dump(file)?;
    let started = Instant::now();
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |error| ImportError::Io { what, path, error }
    };
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io("create", &parent))?;
    let staging = sibling(file, "dump");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
    }
    fs::create_dir(&staging).map_err(io("create", &staging))?;
    let _remove = crate::interrupt::remove_on_interrupt(&staging);
    let result = instance
        .dump(home, &staging, heap)
        .map_err(ImportError::from)
        .and_then(|made| fs::hard_link(&made, file).map_err(io("write", file)));
    let _ = fs::remove_dir_all(&staging);
    result?;
    let bytes = fs::metadata(file).map_err(io("read", file))?.len();
    Ok(Dumped {
        file: file.to_path_buf(),
        bytes,
        elapsed: started.elapsed(),
    })
}

/// [`check_files`] of every shard of a combination.
pub fn check_shards(c: &Combined) -> Result<(), ImportError> {
    for s in &c.shards {
        check_files(&resolve(&s.dir)?, &s.manifest)?;
    }
    Ok(())
}

/// Finds the `java` that neo4j-admin will run: on PATH (what the launcher written by
/// `scripts/neo4j install` execs) or under JAVA_HOME (what the official launcher prefers).
/// Checked up front: otherwise the launcher dies with a bare "java: not found".
pub fn find_java() -> Result<PathBuf, ImportError> {
    let java_home = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty());
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("java"))
            .find(|p| p.is_file())
    });
    let in_home = java_home
        .as_ref()
        .map(|h| Path::new(h).join("bin/java"))
        .filter(|p| p.is_file());
    on_path.or(in_home).ok_or_else(|| ImportError::JavaMissing {
        java_home: match &java_home {
            Some(h) => format!(", none in JAVA_HOME {}", Path::new(h).display()),
            None => ", JAVA_HOME unset".into(),
        },
    })
}

/// Moves the log of a failed import out of the staging directory, which is removed, to
/// `NAME.import-failed.log` beside the instance directory, where the error then points.
fn keep_log(e: &mut Neo4jError, instance_dir: &Path) {
    if let Neo4jError::ImportFailed { log, .. } | Neo4jError::ImportSummaryMissing { log, .. } = e {
        let name = instance_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "instance".into());
        let kept = instance_dir.with_file_name(format!("{name}.import-failed.log"));
        if fs::rename(&*log, &kept).is_ok() {
            *log = kept;
        }
    }
}

fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "instance".into());
    dir.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// Moves the staged database (`data/databases/<db>`, `data/transactions/<db>`) into the
/// instance directory `target`, whose other contents are kept: the old store and transaction
/// logs are moved aside first (to `.NAME.old-PID`), moved back if a rename fails, and removed
/// only after the swap. The caller holds off interrupts.
fn swap_database(staging: &Path, target: &Path, database: &str) -> Result<(), ImportError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |error| ImportError::Io { what, path, error }
    };
    let aside = sibling(target, "old");
    if aside.exists() {
        fs::remove_dir_all(&aside).map_err(io("remove", &aside))?;
    }
    fs::create_dir_all(&aside).map_err(io("create", &aside))?;
    // (from, to) renames done so far, undone in reverse on a failure.
    let mut done: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut step = || -> Result<(), ImportError> {
        for sub in ["databases", "transactions"] {
            let old = target.join("data").join(sub).join(database);
            let new = staging.join("data").join(sub).join(database);
            if old.exists() {
                let moved = aside.join(sub);
                fs::rename(&old, &moved).map_err(io("move aside", &old))?;
                done.push((old.clone(), moved));
            }
            if new.exists() {
                let parent = target.join("data").join(sub);
                fs::create_dir_all(&parent).map_err(io("create", &parent))?;
                fs::rename(&new, &old).map_err(io("install", &old))?;
                done.push((new, old));
            }
        }
        Ok(())
    };
    if let Err(e) = step() {
        for (from, to) in done.iter().rev() {
            let _ = fs::rename(to, from);
        }
        let _ = fs::remove_dir_all(&aside);
        return Err(e);
    }
    fs::remove_dir_all(&aside).map_err(io("remove", &aside))?;
    Ok(())
}

/// Moves the staged instance into place; the old one is removed only after the swap.
fn install(staging: &Path, target: &Path) -> Result<(), ImportError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |error| ImportError::Io { what, path, error }
    };
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    if target.exists() {
        let old = sibling(target, "old");
        fs::rename(target, &old).map_err(io("move aside", target))?;
        fs::rename(staging, target).map_err(io("install", target))?;
        fs::remove_dir_all(&old).map_err(io("remove", &old))?;
    } else {
        fs::rename(staging, target).map_err(io("install", target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{auto_memory, size_bytes};

    #[test]
    fn memory_settings_compare_in_bytes() {
        assert_eq!(size_bytes("1g"), 1 << 30);
        assert_eq!(size_bytes("768m"), 768 << 20);
        assert_eq!(size_bytes("2G"), 2 << 30);
        assert!(size_bytes("768m") < size_bytes(&auto_memory(36_000)));
        assert_eq!(size_bytes("lots"), 0);
    }

    #[test]
    fn server_memory_grows_with_the_graph() {
        assert_eq!(auto_memory(36_000), "1g");
        assert_eq!(auto_memory(2_600_000), "2g");
        assert_eq!(auto_memory(10_230_000), "5g");
        assert_eq!(auto_memory(500_000_000), "8g");
    }
}
