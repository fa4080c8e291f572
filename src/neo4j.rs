//! The real Neo4j: this module owns finding a Neo4j home ([`NeoHome`]), laying out a run directory
//! with its own `neo4j.conf` ([`Instance`]), running `neo4j-admin database import full` on it and
//! parsing the importer's summary ([`Instance::import`], [`ImportReport`]), starting and stopping
//! the server as a child process ([`Server`]), and talking Bolt to it ([`Client`], a synchronous
//! wrapper around `neo4rs` with its own small tokio runtime, so async stays inside this module).
//! The Neo4j version lives in `scripts/neo4j-version` only; `scripts/neo4j install` assembles the
//! home this module finds by default. Passwords are [`Secret`]s and are never printed.

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;

/// JVM flags for short-lived work on small graphs: C1 only. On the seed tenant (36k entities)
/// it takes the import from 4.9 s to 3.4 s and the server start from 4.2 s to 3.5 s; on 1M
/// entities it makes the import 50 % slower, so callers use it below [`QUICK_JVM_ENTITIES`].
pub const QUICK_JVM: &str = "-XX:TieredStopAtLevel=1";
/// Graphs (nodes + relationships) below this size get [`QUICK_JVM`].
pub const QUICK_JVM_ENTITIES: u64 = 100_000;

/// How long [`Instance::start`] waits for Bolt to answer `RETURN 1`.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long [`Server::stop`] waits after SIGTERM before it kills the JVM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of output kept in error messages.
const TAIL_LINES: usize = 30;

/// The pinned Neo4j version, read from `scripts/neo4j-version` (the one place it lives).
pub fn neo4j_version() -> &'static str {
    include_str!("../scripts/neo4j-version").trim()
}

/// The project's default install directory, `<crate>/.neo4j/neo4j-community-<version>`.
pub fn default_home() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".neo4j")
        .join(format!("neo4j-community-{}", neo4j_version()))
}

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

type Result<T, E = Neo4jError> = std::result::Result<T, E>;

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Neo4jError + 'a {
    move |error| Neo4jError::Io {
        what,
        path: path.to_path_buf(),
        error,
    }
}

// ---------------------------------------------------------------------------------------------
// Home

/// A Neo4j home: a directory with `bin/neo4j` and `bin/neo4j-admin` (ours from
/// `scripts/neo4j install`, or an official tarball).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeoHome {
    pub path: PathBuf,
}

impl NeoHome {
    /// `explicit` (`--neo4j-home`), else `$NEO4J_HOME`, else the project's install
    /// ([`default_home`]); checks that `bin/neo4j` and `bin/neo4j-admin` are executable.
    pub fn locate(explicit: Option<&Path>) -> Result<NeoHome> {
        let (path, origin) = match explicit {
            Some(p) => (p.to_path_buf(), "from --neo4j-home"),
            None => match std::env::var_os("NEO4J_HOME").filter(|v| !v.is_empty()) {
                Some(v) => (PathBuf::from(v), "from $NEO4J_HOME"),
                None => (default_home(), "the project's default install"),
            },
        };
        Self::check(path, origin)
    }

    fn check(path: PathBuf, origin: &'static str) -> Result<NeoHome> {
        for (rel, missing) in [
            ("bin/neo4j-admin", "bin/neo4j-admin"),
            ("bin/neo4j", "bin/neo4j"),
        ] {
            let file = path.join(rel);
            if !file.is_file() {
                return Err(Neo4jError::HomeMissing {
                    path,
                    origin,
                    missing,
                });
            }
            if !is_executable(&file) {
                return Err(Neo4jError::NotExecutable { path: file, origin });
            }
        }
        let path = path.canonicalize().unwrap_or(path);
        Ok(NeoHome { path })
    }

    /// `<home>/bin/neo4j-admin`.
    pub fn admin(&self) -> PathBuf {
        self.path.join("bin").join("neo4j-admin")
    }

    /// `<home>/bin/neo4j`.
    pub fn server(&self) -> PathBuf {
        self.path.join("bin").join("neo4j")
    }

    /// The version reported by `bin/neo4j --version` (e.g. `5.26.31`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(self.server())
            .arg("--version")
            .env("NEO4J_HOME", &self.path)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| Neo4jError::Spawn {
                program: self.server(),
                error,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string())
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

// ---------------------------------------------------------------------------------------------
// Instance

/// How to lay out an [`Instance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceOptions {
    /// Bolt port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Server heap, e.g. `1g`.
    pub heap: String,
    /// Page cache, e.g. `512m`.
    pub pagecache: String,
    /// `initial.dbms.default_database`, and the database [`Instance::import`] writes.
    pub database: String,
    /// Extra JVM flags for the server, passed as `JAVA_TOOL_OPTIONS` (read by the JVM itself,
    /// so they work with any launcher), e.g. [`QUICK_JVM`] for small graphs.
    pub jvm_flags: Option<String>,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        InstanceOptions {
            port: None,
            heap: "1g".into(),
            pagecache: "512m".into(),
            database: "neo4j".into(),
            jvm_flags: None,
        }
    }
}

/// A run directory: `conf/neo4j.conf`, `data/`, `logs/`, `run/`, `import/`, all under `dir`, with
/// Bolt on 127.0.0.1:`port`, HTTP(S) off and auth disabled.
#[derive(Debug, Clone)]
pub struct Instance {
    dir: PathBuf,
    port: u16,
    opts: InstanceOptions,
}

/// Renders the `neo4j.conf` of an instance rooted at `dir` (absolute).
pub fn render_conf(dir: &Path, port: u16, opts: &InstanceOptions) -> String {
    let d = dir.display();
    format!(
        "# Written by tenantgen (src/neo4j.rs); rewritten by Instance::create.\n\
         server.directories.data={d}/data\n\
         server.directories.logs={d}/logs\n\
         server.directories.run={d}/run\n\
         server.directories.import={d}/import\n\
         server.default_listen_address=127.0.0.1\n\
         server.bolt.enabled=true\n\
         server.bolt.listen_address=127.0.0.1:{port}\n\
         server.bolt.advertised_address=127.0.0.1:{port}\n\
         server.http.enabled=false\n\
         server.https.enabled=false\n\
         dbms.security.auth_enabled=false\n\
         server.memory.heap.initial_size={heap}\n\
         server.memory.heap.max_size={heap}\n\
         server.memory.pagecache.size={pagecache}\n\
         initial.dbms.default_database={db}\n\
         dbms.usage_report.enabled=false\n\
         db.tx_log.rotation.retention_policy=1 files\n\
         # Internal (pinned version): skip two 5 s Bolt waits at shutdown, stop takes <1 s not 11 s.\n\
         internal.server.bolt.connection_shutdown_wait_time=0s\n\
         internal.server.bolt.thread_pool_shutdown_wait_time=0s\n",
        heap = opts.heap,
        pagecache = opts.pagecache,
        db = opts.database,
    )
}

/// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(Neo4jError::NoFreePort)?;
    let port = listener
        .local_addr()
        .map_err(Neo4jError::NoFreePort)?
        .port();
    Ok(port)
}

/// Fails fast when nothing listens at the URI's host and port.
fn probe_tcp(uri: &str, timeout: Duration) -> Result<()> {
    use std::net::ToSocketAddrs;
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
    let hostport = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        hostport.to_string()
    } else {
        format!("{hostport}:7687")
    };
    let unreachable = |detail: String| Neo4jError::Unreachable {
        uri: uri.to_string(),
        detail,
    };
    let addrs: Vec<SocketAddr> = hostport
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {hostport}: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

fn port_answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

impl Instance {
    /// Creates `dir` and its sub-directories and (re)writes `conf/neo4j.conf`.
    pub fn create(dir: &Path, opts: InstanceOptions) -> Result<Instance> {
        fs::create_dir_all(dir).map_err(io_err("cannot create instance directory", dir))?;
        let dir = dir
            .canonicalize()
            .map_err(io_err("cannot resolve instance directory", dir))?;
        for sub in ["conf", "data", "logs", "run", "import"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err("cannot create directory", &p))?;
        }
        let port = match opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        let conf = dir.join("conf").join("neo4j.conf");
        fs::write(&conf, render_conf(&dir, port, &opts))
            .map_err(io_err("cannot write Neo4j config", &conf))?;
        Ok(Instance { dir, port, opts })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory holding `neo4j.conf` (`NEO4J_CONF`).
    pub fn conf_dir(&self) -> PathBuf {
        self.dir.join("conf")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn database(&self) -> &str {
        &self.opts.database
    }

    /// `bolt://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("bolt://127.0.0.1:{}", self.port)
    }

    /// Whether `data/databases/<database>` exists (an import or a server start made it).
    pub fn has_database(&self) -> bool {
        self.data_dir()
            .join("databases")
            .join(&self.opts.database)
            .is_dir()
    }

    /// Where [`Instance::import`] asks the importer to write bad entries.
    pub fn report_file(&self) -> PathBuf {
        self.dir.join("import.report")
    }

    /// Runs `neo4j-admin database import full <db> @<argfile> ...` in `req.workdir` and parses
    /// its summary. The server of this instance must not be running.
    pub fn import(&self, home: &NeoHome, req: &ImportRequest) -> Result<ImportReport> {
        let argfile = req.workdir.join(&req.argfile);
        if !argfile.is_file() {
            return Err(Neo4jError::ImportInputMissing {
                path: argfile,
                workdir: req.workdir.clone(),
            });
        }
        if !req.overwrite && self.has_database() {
            return Err(Neo4jError::DatabaseExists {
                database: self.opts.database.clone(),
                path: self.data_dir().join("databases").join(&self.opts.database),
            });
        }
        let report = self.report_file();
        let _ = fs::remove_file(&report);
        let log_path = self.logs_dir().join("import.log");
        let log = fs::File::create(&log_path).map_err(io_err("cannot create", &log_path))?;
        let log2 = log
            .try_clone()
            .map_err(io_err("cannot reopen", &log_path))?;

        let args = import_args(self, req);
        let started = Instant::now();
        let status = Command::new(home.admin())
            .args(&args)
            .current_dir(&req.workdir)
            .env("NEO4J_HOME", &home.path)
            .env("NEO4J_CONF", self.conf_dir())
            .env("HEAP_SIZE", &req.heap)
            .envs(req.jvm_flags.iter().map(|f| ("JAVA_TOOL_OPTIONS", f)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .status()
            .map_err(|error| Neo4jError::Spawn {
                program: home.admin(),
                error,
            })?;
        let elapsed = started.elapsed();
        let output = read_lossy(&log_path)?;

        if !status.success() {
            let mut details = relevant_tail(&output, TAIL_LINES);
            if let Some(head) = report_head(&report, 20) {
                details.push_str(&format!("\nfirst lines of {}:\n{head}", report.display()));
            }
            return Err(Neo4jError::ImportFailed {
                database: self.opts.database.clone(),
                status: describe_status(status),
                workdir: req.workdir.clone(),
                log: log_path,
                details,
            });
        }
        match parse_import_summary(&output) {
            Some((nodes, relationships, properties)) => Ok(ImportReport {
                nodes,
                relationships,
                properties,
                log: output,
                elapsed,
            }),
            None => Err(Neo4jError::ImportSummaryMissing {
                database: self.opts.database.clone(),
                log: log_path,
                tail: relevant_tail(&output, TAIL_LINES),
            }),
        }
    }

    /// Starts `bin/neo4j console` on this instance and waits until Bolt answers `RETURN 1`.
    pub fn start(&self, home: &NeoHome) -> Result<Server> {
        self.start_with_timeout(home, START_TIMEOUT)
    }

    /// [`Instance::start`] with an explicit readiness timeout.
    pub fn start_with_timeout(&self, home: &NeoHome, timeout: Duration) -> Result<Server> {
        if port_answers(self.port) {
            return Err(Neo4jError::PortInUse { port: self.port });
        }
        let log_path = self.logs_dir().join("console.log");
        let log = fs::File::create(&log_path).map_err(io_err("cannot create", &log_path))?;
        let log2 = log
            .try_clone()
            .map_err(io_err("cannot reopen", &log_path))?;
        let child = Command::new(home.server())
            .arg("console")
            .current_dir(&self.dir)
            .env("NEO4J_HOME", &home.path)
            .env("NEO4J_CONF", self.conf_dir())
            .env("HEAP_SIZE", &self.opts.heap)
            .envs(self.opts.jvm_flags.iter().map(|f| ("JAVA_TOOL_OPTIONS", f)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|error| Neo4jError::Spawn {
                program: home.server(),
                error,
            })?;
        let mut server = Server {
            child: Some(child),
            port: self.port,
            dir: self.dir.clone(),
            log: log_path,
        };
        server.wait_ready(timeout)?;
        Ok(server)
    }
}

/// What [`Instance::import`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    /// Working directory of the importer: the generated directory; relative paths in the
    /// argfile resolve against it.
    pub workdir: PathBuf,
    /// The argfile, relative to `workdir` (e.g. `import.args`).
    pub argfile: PathBuf,
    /// `--overwrite-destination`.
    pub overwrite: bool,
    /// `--threads`.
    pub threads: usize,
    /// `--max-off-heap-memory`, e.g. `4G`.
    pub max_off_heap: String,
    /// Importer JVM heap (`HEAP_SIZE`), e.g. `2g`.
    pub heap: String,
    /// Extra JVM flags for the importer (`JAVA_TOOL_OPTIONS`), e.g. [`QUICK_JVM`].
    pub jvm_flags: Option<String>,
}

/// The importer's summary plus its whole output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub nodes: u64,
    pub relationships: u64,
    pub properties: u64,
    /// stdout and stderr of `neo4j-admin`, interleaved.
    pub log: String,
    pub elapsed: Duration,
}

fn import_args(inst: &Instance, req: &ImportRequest) -> Vec<String> {
    vec![
        "database".into(),
        "import".into(),
        "full".into(),
        inst.opts.database.clone(),
        format!("@{}", req.argfile.display()),
        format!("--overwrite-destination={}", req.overwrite),
        format!("--report-file={}", inst.report_file().display()),
        format!("--threads={}", req.threads.max(1)),
        format!("--max-off-heap-memory={}", req.max_off_heap),
        "--bad-tolerance=0".into(),
        // Per-step timings, the JVM arguments and, on failure, the importer's own error message
        // (without it the output says only "Error in input data" and the report file is empty).
        "--verbose".into(),
    ]
}

/// Parses `IMPORT DONE in ... Imported: N nodes N relationships N properties`.
pub fn parse_import_summary(output: &str) -> Option<(u64, u64, u64)> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"IMPORT DONE in [^\n]*\.\s*Imported:\s*(\d+) nodes\s*(\d+) relationships\s*(\d+) properties",
        )
        .expect("valid regex")
    });
    let c = re.captures_iter(output).last()?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?))
}

/// The last `n` lines worth showing: no blank lines and no progress bars (`.......... 5%`).
fn relevant_tail(output: &str, n: usize) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|l| {
            let t = l.trim();
            !t.is_empty()
                && !t.chars().all(|c| c == '.' || c == '-' || c == ' ')
                && !is_progress_line(t)
        })
        .collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Progress bars and Java stack frames: noise in an error message.
fn is_progress_line(t: &str) -> bool {
    // "-......... .......... ..........   5% ∆178ms [178ms]" (default output) or
    // "[*Nodes:?? 1.004GiB-------...]    0 ∆    0" (--verbose); "\tat org.neo4j..." / "... 13 more".
    (t.trim_start_matches('-').starts_with("....") && t.contains('%'))
        || (t.starts_with('[') && t.contains('∆'))
        || t.starts_with("at ")
        || (t.starts_with("... ") && t.ends_with(" more"))
}

fn report_head(path: &Path, n: usize) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let head: Vec<&str> = text.lines().take(n).collect();
    (!head.is_empty()).then(|| head.join("\n"))
}

fn read_lossy(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(io_err("cannot read", path))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The last `n` lines of a (possibly big) log file.
fn tail_file(path: &Path, n: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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

// ---------------------------------------------------------------------------------------------
// Server

/// A running Neo4j server (the JVM is the child process). Dropping it stops it.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// `bolt://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        format!("bolt://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JVM's pid (0 once stopped or kept).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// The console log (`<dir>/logs/console.log`).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Stops the server: SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    /// Leaves the server running after this value is gone; returns its URI.
    pub fn keep(mut self) -> String {
        self.child = None; // dropping a Child neither kills nor waits for it
        self.uri()
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last_error = String::from("Bolt port not open yet");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(Neo4jError::ServerExited {
                        dir: self.dir.clone(),
                        port: self.port,
                        status: describe_status(status),
                        log: self.log.clone(),
                        tail: tail_file(&self.log, TAIL_LINES),
                    });
                }
            }
            if port_answers(self.port) {
                let settings = ConnectionSettings::local(self.uri());
                match Client::connect_with_timeout(&settings, Duration::from_secs(5)) {
                    Ok(_) => return Ok(()),
                    Err(e) => last_error = e.to_string(),
                }
            }
            if Instant::now() >= deadline {
                let _ = self.shutdown();
                return Err(Neo4jError::StartTimeout {
                    dir: self.dir.clone(),
                    port: self.port,
                    secs: timeout.as_secs(),
                    last_error,
                    log: self.log.clone(),
                    tail: tail_file(&self.log, TAIL_LINES),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        let term = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if term.is_ok() {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(_)) => return Ok(()),
                    Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                    Err(e) => {
                        return Err(Neo4jError::Stop {
                            pid,
                            detail: e.to_string(),
                        })
                    }
                }
            }
        }
        child.kill().map_err(|e| Neo4jError::Stop {
            pid,
            detail: format!("SIGKILL after {} s failed: {e}", STOP_TIMEOUT.as_secs()),
        })?;
        child.wait().map_err(|e| Neo4jError::Stop {
            pid,
            detail: e.to_string(),
        })?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

// ---------------------------------------------------------------------------------------------
// Bolt client

/// A password: `Debug` and `Display` print `***`; [`Secret::expose`] is the only way out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for handing to the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub uri: String,
    pub user: String,
    pub password: Secret,
    /// `None`: the server's default database.
    pub database: Option<String>,
}

impl ConnectionSettings {
    /// A server with auth disabled (any credentials work): user `neo4j`, empty password.
    pub fn local(uri: impl Into<String>) -> ConnectionSettings {
        ConnectionSettings {
            uri: uri.into(),
            user: "neo4j".into(),
            password: Secret::default(),
            database: None,
        }
    }
}

/// Query parameters: `&[("name", value.into())]`.
pub type Params<'a> = &'a [(&'a str, neo4rs::BoltType)];

/// A synchronous Bolt client: a `neo4rs::Graph` plus its own tokio runtime.
pub struct Client {
    // Field order matters: the graph (and its pooled connections) drops before the runtime.
    graph: neo4rs::Graph,
    runtime: tokio::runtime::Runtime,
    uri: String,
    user: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("uri", &self.uri)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects and checks the connection with `RETURN 1`.
    ///
    /// neo4rs applies its connection timeout to every receive as well, so a long query (a count
    /// over 10M nodes) would fail with a short one: the timeout is long, and a plain TCP probe
    /// with a short timeout first makes an unreachable server fail fast.
    pub fn connect(settings: &ConnectionSettings) -> Result<Client> {
        probe_tcp(&settings.uri, Duration::from_secs(10))?;
        Self::connect_with_timeout(settings, Duration::from_secs(3600))
    }

    /// [`Client::connect`] with an explicit timeout for connecting and for each receive.
    pub fn connect_with_timeout(
        settings: &ConnectionSettings,
        timeout: Duration,
    ) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tenantgen-bolt")
            .enable_all()
            .build()
            .map_err(Neo4jError::Runtime)?;
        let mut builder = neo4rs::ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.expose())
            .connection_timeout(timeout)
            .max_connections(4);
        if let Some(db) = &settings.database {
            builder = builder.db(db.as_str());
        }
        let config = builder.build().map_err(|e| Neo4jError::Config {
            uri: settings.uri.clone(),
            detail: e.to_string(),
        })?;
        let graph = {
            let _guard = runtime.enter();
            neo4rs::Graph::connect(config).map_err(|e| Neo4jError::Config {
                uri: settings.uri.clone(),
                detail: e.to_string(),
            })?
        };
        let client = Client {
            graph,
            runtime,
            uri: settings.uri.clone(),
            user: settings.user.clone(),
        };
        let one = client.scalar_i64("RETURN 1 AS one", &[])?;
        if one != 1 {
            return Err(Neo4jError::Unreachable {
                uri: client.uri.clone(),
                detail: format!("`RETURN 1` answered {one}"),
            });
        }
        Ok(client)
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The driver, for callers that stream (use with [`Client::block_on`]).
    pub fn graph(&self) -> &neo4rs::Graph {
        &self.graph
    }

    /// Runs a future on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs a query and discards its results.
    pub fn run(&self, cypher: &str, params: Params<'_>) -> Result<()> {
        self.run_query(build_query(cypher, params))
    }

    /// Runs a prepared query and discards its results.
    pub fn run_query(&self, query: neo4rs::Query) -> Result<()> {
        let cypher = query.query().to_string();
        self.block_on(self.graph.run(query))
            .map(|_| ())
            .map_err(|e| self.classify(&cypher, e))
    }

    /// All rows of a query.
    pub fn rows(&self, cypher: &str, params: Params<'_>) -> Result<Vec<neo4rs::Row>> {
        self.rows_query(build_query(cypher, params))
    }

    /// All rows of a prepared query.
    pub fn rows_query(&self, query: neo4rs::Query) -> Result<Vec<neo4rs::Row>> {
        let cypher = query.query().to_string();
        self.block_on(async {
            let mut stream = self.graph.execute(query).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok::<_, neo4rs::Error>(rows)
        })
        .map_err(|e| self.classify(&cypher, e))
    }

    /// The first column of the single (first) row, as an integer.
    pub fn scalar_i64(&self, cypher: &str, params: Params<'_>) -> Result<i64> {
        self.scalar(cypher, params, "an integer")
    }

    /// The first column of the single (first) row, as a string.
    pub fn scalar_string(&self, cypher: &str, params: Params<'_>) -> Result<String> {
        self.scalar(cypher, params, "a string")
    }

    fn scalar<T: serde::de::DeserializeOwned>(
        &self,
        cypher: &str,
        params: Params<'_>,
        expected: &'static str,
    ) -> Result<T> {
        let rows = self.rows(cypher, params)?;
        let row = rows.into_iter().next().ok_or_else(|| Neo4jError::NoRow {
            uri: self.uri.clone(),
            cypher: cypher.to_string(),
        })?;
        let column = row
            .keys()
            .first()
            .map(|k| k.value.clone())
            .unwrap_or_default();
        row.get::<T>(&column).map_err(|e| Neo4jError::Value {
            uri: self.uri.clone(),
            cypher: cypher.to_string(),
            column,
            expected,
            detail: e.to_string(),
        })
    }

    fn classify(&self, cypher: &str, e: neo4rs::Error) -> Neo4jError {
        let detail = e.to_string();
        match &e {
            neo4rs::Error::AuthenticationError(_) => Neo4jError::Auth {
                uri: self.uri.clone(),
                user: self.user.clone(),
                detail,
            },
            neo4rs::Error::Neo4j(n) if n.code().starts_with("Neo.ClientError.Security.") => {
                Neo4jError::Auth {
                    uri: self.uri.clone(),
                    user: self.user.clone(),
                    detail,
                }
            }
            neo4rs::Error::IOError { .. }
            | neo4rs::Error::ConnectionError
            | neo4rs::Error::ConnectionTimedOut
            | neo4rs::Error::ProtocolMismatch(_)
            | neo4rs::Error::UnsupportedVersion(..) => Neo4jError::Unreachable {
                uri: self.uri.clone(),
                detail,
            },
            _ => Neo4jError::Query {
                uri: self.uri.clone(),
                cypher: shorten(cypher, 300),
                detail,
            },
        }
    }
}

fn build_query(cypher: &str, params: Params<'_>) -> neo4rs::Query {
    neo4rs::query(cypher).params(params.iter().map(|(k, v)| (*k, v.clone())))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `neo4j-admin database import full neo4j @import.args ... --verbose`, 5.26.31.
    const IMPORT_OK: &str = r#"neo4j 5.26.31
VM Name: OpenJDK 64-Bit Server VM
VM Vendor: Debian
VM Version: 17.0.15+6-Debian-1deb12u1
JIT compiler: HotSpot 64-Bit Tiered Compilers
VM Arguments: [-Xmx2g, -XX:+UseParallelGC, -Dfile.encoding=UTF-8, --add-opens=java.base/java.nio=ALL-UNNAMED, --add-opens=java.base/java.io=ALL-UNNAMED, --add-opens=java.base/sun.nio.ch=ALL-UNNAMED, --add-opens=java.base/java.util.concurrent=ALL-UNNAMED, --enable-native-access=ALL-UNNAMED]
Configuration files used (ordered by priority):
/tmp/tinyinst/conf/neo4j.conf
--------------------
Neo4j version: 5.26.31
Importing the contents of these files into /tmp/tinyinst/data/databases/neo4j:
Nodes:
  [Thing]:
  /tmp/tiny/hdr/thing.csv
  /tmp/tiny/data/thing-0.csv

Relationships:
  OWNS:
  /tmp/tiny/hdr/owns.csv
  /tmp/tiny/data/owns-0.csv


Available resources:
  Total machine memory: 23.54GiB
  Free machine memory: 21.17GiB
  Max heap memory : 1.778GiB
  Max worker threads: 2
  Configured max memory: 1.000GiB
  High parallel IO: true

Nodes, started 2026-11-27 12:48:18.364+0000

[*Nodes:?? 1.004GiB---------------------------------------------------------------------------]    0 ∆    0
Done in 152ms
Prepare node index, started 2026-11-27 12:48:18.566+0000

[*:1.004GiB-----------------------------------------------------------------------------------]    0 ∆    0
Done in 81ms
Relationships, started 2026-11-27 12:48:18.653+0000

[*Relationships:?? 1.004GiB-------------------------------------------------------------------]    0 ∆    0
Done in 33ms
Node Degrees, started 2026-11-27 12:48:18.708+0000

[>:?|*>------------------------------------------------------------------------|CALCULATE:1020] 120K ∆ 120K
Done in 16ms
Relationship --> Relationship 1/1, started 2026-11-27 12:48:18.738+0000

[*>---------------------------------------------------------------|LINK----------|v:??--------] 120K ∆ 120K
Done in 21ms
RelationshipGroup 1/1, started 2026-11-27 12:48:18.762+0000

[>:|*>----------------------------------------------------------------------------------------]    0 ∆    0
Done in 1ms
Node --> Relationship, started 2026-11-27 12:48:18.773+0000

[>:|*>---------------------------------------------------------------------|LINK----------|v:?] 273K ∆ 273K
Done in 23ms
Relationship <-- Relationship 1/1, started 2026-11-27 12:48:18.800+0000

[*>----------------------------------------------------------------|LINK---------------|v:??--] 120K ∆ 120K
Done in 10ms
Count groups, started 2026-11-27 12:48:18.816+0000

[*>:??----------------------------------------------------------------------------------------]    0 ∆    0
Done in 0ms
Gather, started 2026-11-27 12:48:18.821+0000

[*>:??----------------------------------------------------------------------------------------]    0 ∆    0
Done in 0ms
Write, started 2026-11-27 12:48:18.823+0000

[*>:??----------------------------------------------------------------------------------------]    0 ∆    0
Done in 0ms
Node --> Group, started 2026-11-27 12:48:18.827+0000

[*>:??----------------------------------------------------------------------------------------]    0 ∆    0
Done in 0ms
Node counts and label index build, started 2026-11-27 12:48:19.022+0000

[*>------------------------------------|LABEL INDEX--------------|COUNT:1020MiB---------------]10.0K ∆10.0K
Done in 4ms
Relationship counts and relationship type index build, started 2026-11-27 12:48:19.044+0000

[>|>---------------------------|RELATIONSHIP TYPE|*COUNT--------------------------------------]10.0K ∆10.0K
Done in 3ms

IMPORT DONE in 787ms. 
Imported:
  2 nodes
  1 relationships
  16 properties
Peak memory usage: 1.004GiB
"#;

    /// Captured likewise, with a relationship to a missing node and `--bad-tolerance=0`
    /// (stack frames shortened).
    const IMPORT_FAILED: &str = r#"neo4j 5.26.31
VM Name: OpenJDK 64-Bit Server VM
VM Vendor: Debian
VM Version: 17.0.15+6-Debian-1deb12u1
JIT compiler: HotSpot 64-Bit Tiered Compilers
VM Arguments: [-Xmx2g, -XX:+UseParallelGC, -Dfile.encoding=UTF-8, --add-opens=java.base/java.nio=ALL-UNNAMED, --add-opens=java.base/java.io=ALL-UNNAMED, --add-opens=java.base/sun.nio.ch=ALL-UNNAMED, --add-opens=java.base/java.util.concurrent=ALL-UNNAMED, --enable-native-access=ALL-UNNAMED]
Configuration files used (ordered by priority):
/tmp/tinyinst/conf/neo4j.conf
--------------------
Neo4j version: 5.26.31
Importing the contents of these files into /tmp/tinyinst/data/databases/neo4j:
Nodes:
  [Thing]:
  /tmp/tiny/hdr/thing.csv
  /tmp/tiny/data/thing-0.csv

Relationships:
  OWNS:
  /tmp/tiny/hdr/owns.csv
  /tmp/tiny/data/owns-bad.csv


Available resources:
  Total machine memory: 23.54GiB
  Free machine memory: 21.16GiB
  Max heap memory : 1.778GiB
  Max worker threads: 2
  Configured max memory: 1.000GiB
  High parallel IO: true

Nodes, started 2026-11-27 12:48:14.463+0000

[*Nodes:?? 1.004GiB---------------------------------------------------------------------------]    0 ∆    0
Done in 74ms
Prepare node index, started 2026-11-27 12:48:14.587+0000

[*:1.004GiB-----------------------------------------------------------------------------------]    0 ∆    0
Done in 78ms
Relationships, started 2026-11-27 12:48:14.668+0000
Critical error occurred! Shutting down the import...

IMPORT FAILED in 303ms. 
Data statistics is not available.
Peak memory usage: 1.004GiB
Error in input data

WARNING Import failed. The store files in /tmp/tinyinst/data/databases/neo4j are left as they are, although they are likely in an unusable state. Starting a database on these store files will likely fail or observe inconsistent records so start at your own risk or delete the store manually.

org.neo4j.cli.CommandFailedException: Error importing csv file.
	at org.neo4j.importer.ImportCommand$Base.doExecute(ImportCommand.java:560)
	at org.neo4j.importer.ImportCommand$Full.execute(ImportCommand.java:808)
	at org.neo4j.cli.AbstractCommand.call(AbstractCommand.java:92)
Caused by: org.neo4j.importer.FileImporter$CsvImportException: org.neo4j.internal.batchimport.input.InputException: ERROR in input
  data source: BufferedCharSeeker[source:/tmp/tiny/data/owns-bad.csv, position:8, line:1]
  in field: weight:long:3
  for header: [:START_ID(Thing), :END_ID(Thing), weight:long]
  raw field value: 8
  original error: t1 (Thing)-[OWNS]->t9 (Thing) referring to missing node t9
	... 13 more
Caused by: org.neo4j.internal.batchimport.input.InputException: ERROR in input
  data source: BufferedCharSeeker[source:/tmp/tiny/data/owns-bad.csv, position:8, line:1]
  in field: weight:long:3
  for header: [:START_ID(Thing), :END_ID(Thing), weight:long]
  raw field value: 8
  original error: t1 (Thing)-[OWNS]->t9 (Thing) referring to missing node t9
Caused by: org.neo4j.internal.batchimport.input.InputException: t1 (Thing)-[OWNS]->t9 (Thing) referring to missing node t9
	... 9 more
"#;

    #[test]
    fn parses_a_real_import_summary() {
        assert_eq!(parse_import_summary(IMPORT_OK), Some((2, 1, 16)));
        assert_eq!(parse_import_summary(IMPORT_FAILED), None);
    }

    #[test]
    fn failure_tail_keeps_the_importers_reason() {
        let tail = relevant_tail(IMPORT_FAILED, TAIL_LINES);
        assert!(tail.contains("referring to missing node t9"), "{tail}");
        assert!(tail.contains("IMPORT FAILED"), "{tail}");
        assert!(!tail.contains("\tat "), "{tail}");
        assert!(!tail.contains('∆'), "{tail}");
    }

    #[test]
    fn parses_the_documented_shape() {
        let out = "IMPORT DONE in 7s 120ms. \nImported:\n  25755 nodes\n  10632 relationships\n  391870 properties\nPeak memory usage: 1.020GiB\n";
        assert_eq!(parse_import_summary(out), Some((25755, 10632, 391870)));
    }

    #[test]
    fn no_summary_on_failure() {
        let out =
            "IMPORT FAILED in 1s 3ms. \nImport failed. The store files in /x are left as they are";
        assert_eq!(parse_import_summary(out), None);
    }

    #[test]
    fn relevant_tail_drops_progress_bars() {
        let out = "a\n\n.......... .......... .......... ..........   5% ∆1ms\nb\n--------\nc\n";
        assert_eq!(relevant_tail(out, 2), "b\nc");
        assert_eq!(relevant_tail(out, 30), "a\nb\nc");
    }

    #[test]
    fn conf_has_every_setting() {
        let opts = InstanceOptions {
            port: Some(17687),
            heap: "2g".into(),
            pagecache: "256m".into(),
            database: "tenant".into(),
            jvm_flags: None,
        };
        let conf = render_conf(Path::new("/run/x"), 17687, &opts);
        for line in [
            "server.directories.data=/run/x/data",
            "server.directories.logs=/run/x/logs",
            "server.directories.run=/run/x/run",
            "server.directories.import=/run/x/import",
            "server.bolt.listen_address=127.0.0.1:17687",
            "server.bolt.advertised_address=127.0.0.1:17687",
            "server.http.enabled=false",
            "server.https.enabled=false",
            "dbms.security.auth_enabled=false",
            "server.memory.heap.max_size=2g",
            "server.memory.pagecache.size=256m",
            "initial.dbms.default_database=tenant",
            "dbms.usage_report.enabled=false",
            "db.tx_log.rotation.retention_policy=1 files",
        ] {
            assert!(
                conf.lines().any(|l| l == line),
                "missing `{line}` in:\n{conf}"
            );
        }
        // Every non-comment line is key=value with a unique key.
        let mut keys: Vec<&str> = conf
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_once('=').expect("key=value").0)
            .collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn create_writes_conf_and_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let inst = Instance::create(tmp.path(), InstanceOptions::default()).unwrap();
        assert!(inst.port() > 0);
        let conf = fs::read_to_string(inst.conf_dir().join("neo4j.conf")).unwrap();
        assert!(conf.contains(&format!("127.0.0.1:{}", inst.port())));
        for sub in ["data", "logs", "run", "import"] {
            assert!(inst.dir().join(sub).is_dir());
        }
        assert_eq!(inst.database(), "neo4j");
        assert!(!inst.has_database());
    }

    #[test]
    fn secret_never_prints() {
        let s = ConnectionSettings {
            uri: "bolt://x:1".into(),
            user: "neo4j".into(),
            password: Secret::new("hunter2"),
            database: None,
        };
        let shown = format!("{s:?} {}", s.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn missing_home_says_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let err = NeoHome::locate(Some(tmp.path())).unwrap_err().to_string();
        assert!(err.contains("scripts/neo4j install"), "{err}");
        assert!(err.contains("--neo4j-home"), "{err}");
        assert!(err.contains("bin/neo4j-admin"), "{err}");
    }

    #[test]
    fn version_comes_from_the_one_file() {
        let v = neo4j_version();
        assert!(v.starts_with("5.26."), "{v}");
        assert!(default_home().ends_with(format!(".neo4j/neo4j-community-{v}")));
    }
}
