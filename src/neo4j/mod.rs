//! The real Neo4j, in six parts: `home` finds a Neo4j home ([`NeoHome`]) and the pinned
//! version; `cds` keeps the JVMs' class-data archives that make their starts faster; `instance` lays out a run directory with its own `neo4j.conf` ([`Instance`]) and runs
//! `neo4j-admin database import full` on it ([`Instance::import`], [`ImportReport`]);
//! `admin_progress` reads the importer's live progress ([`AdminProgress`]); `server`
//! starts and stops the server as a child process ([`Server`]); `client` talks Bolt to it
//! ([`Client`], synchronous, with its own small tokio runtime, so async stays inside this
//! module). This file holds what they share: [`Neo4jError`], whose every message says what,
//! where and what to do, and the JVM tuning constants. Passwords are [`Secret`]s and are never
//! printed. The import directory itself (`import.args`, CSV) is `write`'s, not this module's.

mod admin_progress;
mod cds;
mod client;
mod home;
mod instance;
mod server;

pub use admin_progress::{AdminProgress, ImportTotals};
pub use cds::{
    finish_pending as finish_pending_archive, take_notes as archive_notes, user_cache_dir,
};
pub use client::{Client, ConnectionSettings, Params, Retry, RetryError, Secret};
pub use home::{default_home, neo4j_version, NeoHome};
pub use instance::{
    fixed_default_database, free_port, parse_import_summary, render_conf, store_holder, Holder,
    ImportReport, ImportRequest, Instance, InstanceOptions,
};
pub use server::{port_answers, stop_process, Server, START_TIMEOUT, STOP_TIMEOUT};

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// JVM flags for short-lived work on small graphs: C1 only. On the seed tenant (36k entities)
/// it takes the import from 4.9 s to 3.4 s and the server start from 4.2 s to 3.5 s; on 1M
/// entities it makes the import 50 % slower, so callers use it below [`QUICK_JVM_ENTITIES`].
pub const QUICK_JVM: &str = "-XX:TieredStopAtLevel=1";
/// Graphs (nodes + relationships) below this size get [`QUICK_JVM`].
pub const QUICK_JVM_ENTITIES: u64 = 100_000;
/// Lines of output kept in error messages.
const TAIL_LINES: usize = 30;

/// Everything that can go wrong with Neo4j; each message says what, where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Neo4jError {
    #[error(
        "Neo4j home {path} ({origin}) has no {missing}: run `scripts/neo4j install` or pass --neo4j-home"
    )]
    HomeMissing {
        path: PathBuf,
        origin: &'static str,
        missing: &'static str,
    },
    #[error(
        "{path} in the Neo4j home ({origin}) is not executable: `chmod +x` it, or run `scripts/neo4j install` again"
    )]
    NotExecutable { path: PathBuf, origin: &'static str },
    #[error("{what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("cannot use the Neo4j config {path}: {problem}; fix that line, or pass --reset-instance to write a fresh config")]
    ConfUnreadable { path: PathBuf, problem: String },
    #[error("could not find a free TCP port on 127.0.0.1: {0}; pass an explicit port")]
    NoFreePort(io::Error),
    #[error("Bolt port 127.0.0.1:{port} is already in use (another Neo4j or process?): stop it or choose another port")]
    PortInUse { port: u16 },
    #[error("could not run {program}: {error}; check the Neo4j home (`scripts/neo4j install`)")]
    Spawn { program: PathBuf, error: io::Error },
    #[error("import input {path} does not exist: generate the import directory first (the argfile is resolved against the importer's working directory {workdir})")]
    ImportInputMissing { path: PathBuf, workdir: PathBuf },
    #[error("database '{database}' already exists in {path}: import into a fresh instance directory or set overwrite")]
    DatabaseExists { database: String, path: PathBuf },
    #[error("neo4j-admin database import full {database} failed ({status}) in {workdir}; full output in {log}\n{details}")]
    ImportFailed {
        database: String,
        status: String,
        workdir: PathBuf,
        log: PathBuf,
        details: String,
    },
    #[error(
        "neo4j-admin database dump {database} failed ({status}); full output in {log}\n{details}"
    )]
    DumpFailed {
        database: String,
        status: String,
        log: PathBuf,
        details: String,
    },
    #[error("neo4j-admin import of '{database}' exited 0 but printed no `IMPORT DONE ... Imported: N nodes N relationships N properties` summary (full output in {log}); last lines:\n{tail}")]
    ImportSummaryMissing {
        database: String,
        log: PathBuf,
        tail: String,
    },
    #[error("Neo4j server for {dir} exited ({status}) before Bolt answered on 127.0.0.1:{port}; log {log}, last lines:\n{tail}")]
    ServerExited {
        dir: PathBuf,
        port: u16,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("Neo4j server for {dir} did not answer `RETURN 1` on bolt://127.0.0.1:{port} within {secs} s (stopped it; last error: {last_error}); log {log}, last lines:\n{tail}")]
    StartTimeout {
        dir: PathBuf,
        port: u16,
        secs: u64,
        last_error: String,
        log: PathBuf,
        tail: String,
    },
    #[error("could not stop Neo4j server pid {pid}: {detail}")]
    Stop { pid: u32, detail: String },
    #[error("could not create the tokio runtime for the Bolt client: {0}")]
    Runtime(io::Error),
    #[error("invalid Bolt settings for {uri}: {detail}; check --uri (e.g. bolt://127.0.0.1:7687)")]
    Config { uri: String, detail: String },
    #[error("cannot reach Neo4j at {uri}: {detail}; is the server running (`scripts/neo4j status`) and is the URI right?")]
    Unreachable { uri: String, detail: String },
    /// A connection that failed or dropped (I/O error, timeout): worth another attempt. Same
    /// message as [`Neo4jError::Unreachable`], which is for a server that is not there at all.
    #[error("cannot reach Neo4j at {uri}: {detail}; is the server running (`scripts/neo4j status`) and is the URI right?")]
    ConnectionLost { uri: String, detail: String },
    #[error("Neo4j at {uri} rejected user '{user}': {detail}; check the user and password (the password is not shown)")]
    Auth {
        uri: String,
        user: String,
        detail: String,
    },
    #[error("query failed on {uri}: {detail}\n  query: {cypher}")]
    Query {
        uri: String,
        cypher: String,
        detail: String,
    },
    /// The server refused a query with a status code (`Neo.TransientError.…`, …); the code
    /// decides [`Neo4jError::is_transient`]. Same message as [`Neo4jError::Query`], which is for
    /// failures without a code.
    #[error("query failed on {uri}: {detail}\n  query: {cypher}")]
    Server {
        uri: String,
        cypher: String,
        code: String,
        detail: String,
    },
    #[error("query on {uri} returned no row, expected one: {cypher}")]
    NoRow { uri: String, cypher: String },
    #[error("query on {uri} returned a value that is not {expected} in column '{column}': {detail}\n  query: {cypher}")]
    Value {
        uri: String,
        cypher: String,
        column: String,
        expected: &'static str,
        detail: String,
    },
}

impl Neo4jError {
    /// Whether the same request may succeed if sent again: a lost connection, a deadlock, or any
    /// `Neo.TransientError.*` (which includes running out of transaction memory). Only an
    /// idempotent request should be sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Neo4jError::ConnectionLost { .. } => true,
            Neo4jError::Server { code, .. } => {
                code.starts_with("Neo.TransientError.") || code.contains("Deadlock")
            }
            _ => false,
        }
    }

    /// Whether the server ran out of memory for this one request (e.g.
    /// `Neo.TransientError.General.MemoryPoolOutOfMemoryError`): a smaller request may pass.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Neo4jError::Server { code, .. } if code.contains("OutOfMemoryError"))
    }

    /// The driver's or the server's own words, for an error that came from a Bolt call.
    pub fn driver_detail(&self) -> Option<&str> {
        match self {
            Neo4jError::Unreachable { detail, .. }
            | Neo4jError::ConnectionLost { detail, .. }
            | Neo4jError::Auth { detail, .. }
            | Neo4jError::Query { detail, .. }
            | Neo4jError::Server { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

type Result<T, E = Neo4jError> = std::result::Result<T, E>;

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Neo4jError + 'a {
    move |error| Neo4jError::Io {
        what,
        path: path.to_path_buf(),
        error,
    }
}

fn describe_status(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = status.signal() {
                    return format!("killed by signal {sig}");
                }
            }
            "no exit code".into()
        }
    }
}
