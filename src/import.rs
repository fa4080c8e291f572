//! `import`: loads a tenantgen directory (generated output or baseline) into a fresh Neo4j
//! database with the real `neo4j-admin database import full`, then checks the importer's counts
//! against the manifest.
//!
//! Safety: data files are checked against the manifest's checksums first; the import runs into
//! a staging instance directory and replaces the target only when it succeeded and its counts
//! match, so a failed import leaves any earlier database as it was. An existing database is
//! replaced only with `overwrite`, and only in an instance directory tenantgen made
//! ([`outdir::check_replace`]) that no live process holds ([`store_holder`]); leftovers of an
//! interrupted import (`.NAME.staging-PID`) are removed at the next start. Running neo4j-admin is [`crate::neo4j`]'s; the argfile of a
//! directory without one comes from its manifest ([`Manifest::import_args`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::manifest::{Manifest, ManifestError};
use crate::neo4j::{
    store_holder, ImportReport, ImportRequest, Instance, InstanceOptions, Neo4jError, NeoHome,
    QUICK_JVM, QUICK_JVM_ENTITIES,
};
use crate::outdir::{self, file_xxh3, Existing, Input, Made, OwnershipError, Replace, Target};

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
    #[error("instance {path} is in use by process {pid} (it holds {file}): stop that server first (`scripts/neo4j stop NAME` for a named instance, `kill {pid}` otherwise), or choose another --data-dir")]
    InUse {
        path: PathBuf,
        pid: u32,
        file: PathBuf,
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
    #[error("cannot {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The validated configuration of an import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The tenantgen directory to import.
    pub dir: PathBuf,
    pub neo4j_home: Option<PathBuf>,
    /// The Neo4j instance directory (conf, data, logs) to create or replace.
    pub instance_dir: PathBuf,
    pub database: String,
    pub overwrite: bool,
    pub threads: usize,
    pub max_off_heap: String,
    pub heap: String,
    /// Bolt port written into the instance's configuration (None: a free one).
    pub port: Option<u16>,
    pub server_heap: String,
    pub pagecache: String,
}

impl ImportConfig {
    /// Defaults sized for a 2-core, 24 GiB machine.
    pub fn new(dir: PathBuf, instance_dir: PathBuf) -> ImportConfig {
        ImportConfig {
            dir,
            neo4j_home: None,
            instance_dir,
            database: "neo4j".into(),
            overwrite: false,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_off_heap: "4G".into(),
            heap: "2g".into(),
            port: None,
            server_heap: "auto".into(),
            pagecache: "auto".into(),
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
}

/// Refuses an instance directory that tenantgen did not make, that a live process holds, or
/// that already holds the database without `overwrite`. Nothing is changed; `run` calls it
/// before generating so that a refusal costs nothing.
pub fn check_target(cfg: &ImportConfig) -> Result<(), ImportError> {
    let dir = &cfg.instance_dir;
    if let Some(h) = store_holder(dir) {
        return Err(ImportError::InUse {
            path: dir.clone(),
            pid: h.pid,
            file: h.file,
        });
    }
    let inputs = [Input {
        what: "the directory being imported",
        path: cfg.dir.clone(),
    }];
    let rule = Replace {
        flag: "--data-dir",
        made: Made::Instance,
        inputs: &inputs,
    };
    let existing = outdir::check_replace(dir, &rule)?;
    let target_db = dir.join("data/databases").join(&cfg.database);
    if existing == Existing::Ours && target_db.exists() && !cfg.overwrite {
        return Err(ImportError::Exists {
            path: dir.clone(),
            database: cfg.database.clone(),
        });
    }
    Ok(())
}

/// Runs the import. See the module docs.
pub fn import(cfg: &ImportConfig) -> Result<ImportOutcome, ImportError> {
    let home = NeoHome::locate(cfg.neo4j_home.as_deref())?;
    find_java()?;
    let manifest = Manifest::read(&cfg.dir)?;
    let dir = cfg.dir.canonicalize().map_err(|error| ImportError::Io {
        what: "resolve",
        path: cfg.dir.clone(),
        error,
    })?;
    let started = Instant::now();
    check_files(&dir, &manifest)?;
    let check_time = started.elapsed();

    check_target(cfg)?;
    let cleaned = Target::new(&cfg.instance_dir, "instance").clean_stale();
    let staging = sibling(&cfg.instance_dir, "staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|error| ImportError::Io {
            what: "remove",
            path: staging.clone(),
            error,
        })?;
    }
    let (want_nodes, want_rels) = match &manifest.expected {
        Some(e) if manifest.shard.is_none() => (e.nodes, e.relationships),
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
    };
    let report = match staged.import(&home, &req) {
        Ok(r) => r,
        Err(mut e) => {
            // Stopped by an interrupt: the handler removes the staging directory, log and all.
            if !crate::interrupt::requested() {
                keep_log(&mut e, &cfg.instance_dir);
            }
            let _ = fs::remove_dir_all(&staging);
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
    // The server could have been started while neo4j-admin ran.
    crate::interrupt::critical(|| {
        check_target(cfg)?;
        install(&staging, &cfg.instance_dir)
    })?;
    let instance = Instance::create(&cfg.instance_dir, opts)?;
    Ok(ImportOutcome {
        instance,
        home,
        report,
        manifest,
        check_time,
        cleaned,
    })
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
    use super::auto_memory;

    #[test]
    fn server_memory_grows_with_the_graph() {
        assert_eq!(auto_memory(36_000), "1g");
        assert_eq!(auto_memory(2_600_000), "2g");
        assert_eq!(auto_memory(10_230_000), "5g");
        assert_eq!(auto_memory(500_000_000), "8g");
    }
}
