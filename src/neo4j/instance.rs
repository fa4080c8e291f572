//! A Neo4j instance directory and the importer: [`Instance`] lays out `conf/neo4j.conf`,
//! `data/`, `logs/`, `run/` and `import/` under one directory (Bolt on loopback, HTTP off, auth
//! off); [`Instance::import`] runs `neo4j-admin database import full` with the generated
//! argfile (`import.args`, resolved against the generated directory) and parses the importer's
//! summary into an [`ImportReport`]. Starting the server on an instance is `server`'s.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;

use super::admin_progress::{AdminProgress, ImportTotals};
use super::{cds, describe_status, io_err, Neo4jError, NeoHome, Result, TAIL_LINES};
use crate::report::Bar;

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
    /// so they work with any launcher), e.g. [`QUICK_JVM`](super::QUICK_JVM) for small graphs.
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
    // Visible to `server`, which starts the JVM on this layout.
    pub(super) dir: PathBuf,
    pub(super) port: u16,
    pub(super) opts: InstanceOptions,
}

/// Renders the `neo4j.conf` of an instance rooted at `dir` (absolute).
pub fn render_conf(dir: &Path, port: u16, opts: &InstanceOptions) -> String {
    let d = dir.display();
    format!(
        "# Written by tenantgen (src/neo4j/instance.rs); rewritten by Instance::create.\n\
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

/// The keys of `neo4j.conf` that place an instance's directories.
const LAYOUT_KEYS: [&str; 4] = [
    "server.directories.data",
    "server.directories.logs",
    "server.directories.run",
    "server.directories.import",
];

/// A `neo4j.conf` as lines: read, looked up and changed one `key=value` line at a time, so that
/// comments, order and settings tenantgen does not know are kept.
#[derive(Debug, Clone)]
struct Conf {
    path: PathBuf,
    lines: Vec<String>,
}

impl Conf {
    fn read(path: &Path) -> Result<Conf> {
        let text = fs::read_to_string(path).map_err(io_err("cannot read Neo4j config", path))?;
        Ok(Conf {
            path: path.to_path_buf(),
            lines: text.lines().map(str::to_string).collect(),
        })
    }

    fn key_of(line: &str) -> Option<&str> {
        let t = line.trim_start();
        if t.starts_with('#') {
            return None;
        }
        Some(t.split_once('=')?.0.trim())
    }

    /// The value of the last `key=` line (Neo4j, too, lets a later line win).
    fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find(|l| Conf::key_of(l) == Some(key))
            .and_then(|l| l.split_once('='))
            .map(|(_, v)| v.trim())
    }

    /// Replaces the first `key=` line and drops later ones, or appends the line.
    fn set(&mut self, key: &str, value: &str) {
        let line = format!("{key}={value}");
        let mut seen = false;
        self.lines.retain_mut(|l| {
            if Conf::key_of(l) != Some(key) {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            *l = line.clone();
            true
        });
        if !seen {
            self.lines.push(line);
        }
    }

    fn text(&self) -> String {
        let mut t = self.lines.join("\n");
        t.push('\n');
        t
    }
}

/// The default database an instance's system database was created with, if the server has
/// started on `dir` once (`data/databases/system` exists). Neo4j Community serves one user
/// database, fixed at that first start from `initial.dbms.default_database` (later edits of the
/// key are ignored; tenantgen never edits it once the system database exists).
pub fn fixed_default_database(dir: &Path) -> Option<String> {
    if !dir.join("data/databases/system").is_dir() {
        return None;
    }
    let conf = Conf::read(&dir.join("conf/neo4j.conf")).ok();
    Some(
        conf.and_then(|c| c.get("initial.dbms.default_database").map(str::to_string))
            .unwrap_or_else(|| InstanceOptions::default().database),
    )
}

/// A live process that holds an instance directory's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// The lock or pid file that names it.
    pub file: PathBuf,
}

/// The process holding the store under `dir` (an instance directory), if any. A Neo4j server
/// and neo4j-admin lock `data/databases/store_lock` and each database's `database_lock` with
/// Java's `FileChannel.tryLock`, a POSIX record lock on Linux: `F_GETLK` names the holder's pid
/// without taking the lock (taking it, even briefly, would race the holder). A server started
/// by `neo4j start` also leaves `run/neo4j.pid`, counted while that process is alive.
pub fn store_holder(dir: &Path) -> Option<Holder> {
    let databases = dir.join("data/databases");
    let mut locks = vec![databases.join("store_lock")];
    if let Ok(entries) = fs::read_dir(&databases) {
        locks.extend(entries.flatten().map(|e| e.path().join("database_lock")));
    }
    for file in locks {
        if let Some(pid) = lock_holder(&file) {
            return Some(Holder { pid, file });
        }
    }
    let file = dir.join("run/neo4j.pid");
    let pid: u32 = fs::read_to_string(&file).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(Holder { pid, file })
}

/// The pid of a process holding a POSIX lock on `file`.
fn lock_holder(file: &Path) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(file).ok()?;
    // SAFETY: a zeroed flock is a valid argument; F_GETLK only writes into it.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // SAFETY: the fd is open for the duration of the call and `lock` outlives it.
    let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut lock) };
    (rc == 0 && lock.l_type != libc::F_UNLCK as libc::c_short && lock.l_pid > 0)
        .then_some(lock.l_pid as u32)
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

    /// Opens an existing instance directory as its `conf/neo4j.conf` describes it: the Bolt
    /// port, the default database, heap and page cache are read back, not rewritten, so that a
    /// user's edits (auth, other settings) survive. The `server.directories.*` keys are pointed
    /// at `dir` if they name another place (the directory was moved or copied): the store tenantgen
    /// installs is the one under `dir`.
    pub fn open(dir: &Path, jvm_flags: Option<String>) -> Result<Instance> {
        let dir = dir
            .canonicalize()
            .map_err(io_err("cannot resolve instance directory", dir))?;
        let conf_path = dir.join("conf").join("neo4j.conf");
        let conf = Conf::read(&conf_path)?;
        let layout: Vec<(&str, String)> = LAYOUT_KEYS
            .into_iter()
            .filter_map(|key| {
                let sub = key.rsplit('.').next()?;
                let want = dir.join(sub).display().to_string();
                (conf.get(key) != Some(want.as_str())).then_some((key, want))
            })
            .collect();
        let mut inst = Instance::from_conf(&dir, &conf, jvm_flags)?;
        if !layout.is_empty() {
            inst.set_conf(&layout)?;
        }
        Ok(inst)
    }

    fn from_conf(dir: &Path, conf: &Conf, jvm_flags: Option<String>) -> Result<Instance> {
        let bad = |problem: String| Neo4jError::ConfUnreadable {
            path: conf.path.clone(),
            problem,
        };
        let listen = conf
            .get("server.bolt.listen_address")
            .ok_or_else(|| bad("no server.bolt.listen_address line".into()))?;
        let port = listen
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(format!("server.bolt.listen_address={listen} has no port")))?;
        let defaults = InstanceOptions::default();
        let value = |key: &str, default: String| conf.get(key).map_or(default, str::to_string);
        let opts = InstanceOptions {
            port: Some(port),
            heap: value("server.memory.heap.max_size", defaults.heap),
            pagecache: value("server.memory.pagecache.size", defaults.pagecache),
            database: value("initial.dbms.default_database", defaults.database),
            jvm_flags,
        };
        Ok(Instance {
            dir: dir.to_path_buf(),
            port,
            opts,
        })
    }

    /// Sets `key=value` lines in this instance's `neo4j.conf` in place (every other line is
    /// kept as it is) and reads the instance's settings back.
    pub fn set_conf(&mut self, changes: &[(&str, String)]) -> Result<()> {
        let path = self.conf_dir().join("neo4j.conf");
        let mut conf = Conf::read(&path)?;
        for (key, value) in changes {
            conf.set(key, value);
        }
        fs::write(&path, conf.text()).map_err(io_err("cannot write Neo4j config", &path))?;
        *self = Instance::from_conf(&self.dir, &conf, self.opts.jvm_flags.take())?;
        Ok(())
    }

    /// Whether the server asks for a user and password (`dbms.security.auth_enabled`, on unless
    /// the config turns it off, as in Neo4j).
    pub fn auth_enabled(&self) -> bool {
        Conf::read(&self.conf_dir().join("neo4j.conf"))
            .map(|c| c.get("dbms.security.auth_enabled") != Some("false"))
            .unwrap_or(true)
    }

    /// The server heap (`server.memory.heap.max_size`).
    pub fn heap(&self) -> &str {
        &self.opts.heap
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

    /// `program` from `home` set up for this instance: its config, the JVM heap and flags
    /// (`JAVA_TOOL_OPTIONS`, read by the JVM itself, so they work with any launcher), no stdin,
    /// and stdout and stderr both into a fresh `log`. Used for `neo4j-admin` and `neo4j`.
    pub(super) fn command(
        &self,
        home: &NeoHome,
        program: PathBuf,
        heap: &str,
        jvm_flags: Option<&str>,
        log: &Path,
        kind: cds::Kind,
    ) -> Result<(Command, Option<cds::Launch>)> {
        let out = fs::File::create(log).map_err(io_err("cannot create", log))?;
        let err = out.try_clone().map_err(io_err("cannot reopen", log))?;
        let archive = cds::prepare(home, kind);
        let flags: Vec<&str> = jvm_flags
            .into_iter()
            .chain(archive.as_ref().map(|a| a.flags.as_str()))
            .collect();
        let mut command = Command::new(program);
        command
            .env("NEO4J_HOME", &home.path)
            .env("NEO4J_CONF", self.conf_dir())
            .env("HEAP_SIZE", heap)
            .envs((!flags.is_empty()).then(|| ("JAVA_TOOL_OPTIONS", flags.join(" "))))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        Ok((command, archive))
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
        let (mut admin, archive) = self.command(
            home,
            home.admin(),
            &req.heap,
            req.jvm_flags.as_deref(),
            &log_path,
            cds::Kind::Admin,
        )?;
        let started = Instant::now();
        admin
            .args(import_args(self, req))
            .current_dir(&req.workdir)
            // Its own process group: a terminal's Ctrl-C reaches tenantgen alone, which stops
            // the importer and then removes its staging directory.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of this process. Should
        // tenantgen itself be killed outright (SIGKILL), the kernel ends the importer too: no
        // orphan keeps writing into a staging directory the next import removes.
        unsafe {
            admin.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = admin.spawn().map_err(|error| Neo4jError::Spawn {
            program: home.admin(),
            error,
        })?;
        let _stop = crate::interrupt::stop_on_interrupt(child.id(), "neo4j-admin");
        let status = wait_showing_progress(&mut child, &log_path, req).map_err(|error| {
            Neo4jError::Spawn {
                program: home.admin(),
                error,
            }
        })?;
        let elapsed = started.elapsed();
        if let Some((part, target)) = archive.and_then(|a| a.build) {
            if status.success() {
                cds::finish(&part, &target);
            } else {
                let _ = fs::remove_file(&part);
            }
        }
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
}

impl Instance {
    /// Runs `neo4j-admin database dump <db> --to-path=<dir>`, which writes `<dir>/<db>.dump`,
    /// and returns that file. The server of this instance must not be running (Community dumps
    /// only a stopped database).
    pub fn dump(&self, home: &NeoHome, dir: &Path, heap: &str) -> Result<PathBuf> {
        let log_path = self.logs_dir().join("dump.log");
        let jvm = self.opts.jvm_flags.clone();
        let (mut admin, archive) = self.command(
            home,
            home.admin(),
            heap,
            jvm.as_deref(),
            &log_path,
            cds::Kind::Admin,
        )?;
        admin
            .args(["database", "dump", &self.opts.database])
            .arg(format!("--to-path={}", dir.display()))
            .arg("--overwrite-destination=false")
            .process_group(0);
        let mut child = admin.spawn().map_err(|error| Neo4jError::Spawn {
            program: home.admin(),
            error,
        })?;
        let _stop = crate::interrupt::stop_on_interrupt(child.id(), "neo4j-admin");
        let status = child.wait().map_err(|error| Neo4jError::Spawn {
            program: home.admin(),
            error,
        })?;
        if let Some((part, target)) = archive.and_then(|a| a.build) {
            if status.success() {
                cds::finish(&part, &target);
            } else {
                let _ = fs::remove_file(&part);
            }
        }
        let file = dir.join(format!("{}.dump", self.opts.database));
        if !status.success() || !file.is_file() {
            let output = read_lossy(&log_path)?;
            return Err(Neo4jError::DumpFailed {
                database: self.opts.database.clone(),
                status: describe_status(status),
                log: log_path,
                details: relevant_tail(&output, TAIL_LINES),
            });
        }
        Ok(file)
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
    /// Extra JVM flags for the importer (`JAVA_TOOL_OPTIONS`), e.g. [`QUICK_JVM`](super::QUICK_JVM).
    pub jvm_flags: Option<String>,
    /// Show the importer's stages on stderr (when it is a terminal).
    pub progress: bool,
    /// What the `Nodes` and `Relationships` stages count towards, for their percentages.
    pub totals: ImportTotals,
}

/// Waits for the importer, showing the stage and percentage of its newest progress line (read
/// from its log as it grows) when `req.progress`.
fn wait_showing_progress(
    child: &mut std::process::Child,
    log: &Path,
    req: &ImportRequest,
) -> std::io::Result<std::process::ExitStatus> {
    use std::io::Read;
    let bar = Bar::spinner(req.progress, "import");
    if !bar.is_shown() {
        return child.wait();
    }
    let mut file = fs::File::open(log)?;
    let mut seen = AdminProgress::default();
    let mut buf = Vec::new();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        buf.clear();
        if file.read_to_end(&mut buf).is_ok() && !buf.is_empty() {
            seen.feed(&buf);
        }
        bar.message(|| seen.describe(req.totals));
        std::thread::sleep(Duration::from_millis(100));
    }
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

/// Progress bars and Java stack frames: noise in an error message (the live progress is read
/// by [`AdminProgress`]).
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
    fn conf_lines_change_one_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("neo4j.conf");
        fs::write(
            &path,
            "# mine\na=1\n#a=commented\nb = 2\na=3\nuser.edit=yes\n",
        )
        .unwrap();
        let mut conf = Conf::read(&path).unwrap();
        assert_eq!(conf.get("a"), Some("3"));
        assert_eq!(conf.get("b"), Some("2"));
        conf.set("a", "9");
        conf.set("c", "new");
        assert_eq!(
            conf.text(),
            "# mine\na=9\n#a=commented\nb = 2\nuser.edit=yes\nc=new\n"
        );
    }

    #[test]
    fn open_reads_the_settings_back_and_follows_a_moved_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = InstanceOptions {
            port: Some(17687),
            heap: "768m".into(),
            pagecache: "256m".into(),
            database: "tenant".into(),
            jvm_flags: None,
        };
        let made = Instance::create(&tmp.path().join("a"), opts).unwrap();
        let conf = made.conf_dir().join("neo4j.conf");
        let edited = fs::read_to_string(&conf).unwrap() + "dbms.security.auth_enabled=true\n";
        fs::write(&conf, edited).unwrap();
        fs::rename(made.dir(), tmp.path().join("b")).unwrap();
        let mut inst = Instance::open(&tmp.path().join("b"), None).unwrap();
        assert_eq!(
            (inst.port(), inst.database(), inst.heap()),
            (17687, "tenant", "768m")
        );
        assert!(inst.auth_enabled());
        let text = fs::read_to_string(inst.conf_dir().join("neo4j.conf")).unwrap();
        let b = inst.dir().display().to_string();
        assert!(
            text.contains(&format!("server.directories.data={b}/data\n")),
            "{text}"
        );
        assert!(!text.contains("/a/"), "{text}");
        inst.set_conf(&[("server.memory.heap.max_size", "2g".into())])
            .unwrap();
        assert_eq!(inst.heap(), "2g");
        assert!(fixed_default_database(inst.dir()).is_none());
        fs::create_dir_all(inst.data_dir().join("databases/system")).unwrap();
        assert_eq!(
            fixed_default_database(inst.dir()).as_deref(),
            Some("tenant")
        );
    }

    #[test]
    fn open_refuses_a_config_without_a_port() {
        let tmp = tempfile::tempdir().unwrap();
        let inst = Instance::create(tmp.path(), InstanceOptions::default()).unwrap();
        fs::write(
            inst.conf_dir().join("neo4j.conf"),
            "server.bolt.listen_address=:x\n",
        )
        .unwrap();
        let e = Instance::open(tmp.path(), None).unwrap_err().to_string();
        assert!(
            e.contains("has no port") && e.contains("--reset-instance"),
            "{e}"
        );
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
}
