//! A running Neo4j server: [`Instance::start`] launches `bin/neo4j console` as a child process
//! and probes it until Bolt answers `RETURN 1` (with a spinner, if asked, that shows the newest
//! console line while it waits); [`Server`] holds the JVM (its pid, its console
//! log) and stops it with SIGTERM, then SIGKILL after [`STOP_TIMEOUT`], or leaves it running
//! ([`Server::keep`]). The instance layout is `instance`'s; the Bolt client is `client`'s.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::report::Bar;

use super::{
    cds, describe_status, Client, ConnectionSettings, Instance, Neo4jError, NeoHome, Result,
    TAIL_LINES,
};

/// How long [`Instance::start`] waits for Bolt to answer `RETURN 1`.
pub const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long [`Server::stop`] waits after SIGTERM before it kills the JVM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);

impl Instance {
    /// Starts `bin/neo4j console` on this instance and waits until Bolt answers `RETURN 1`.
    pub fn start(&self, home: &NeoHome) -> Result<Server> {
        self.start_with_timeout(home, START_TIMEOUT)
    }

    /// [`Instance::start`] showing a spinner on stderr (when it is a terminal) with the time
    /// waited, the port waited for and the server's newest console line.
    pub fn start_showing_progress(&self, home: &NeoHome, progress: bool) -> Result<Server> {
        self.launch(home, START_TIMEOUT, &Bar::spinner(progress, "server start"))
    }

    /// [`Instance::start`] with an explicit readiness timeout.
    pub fn start_with_timeout(&self, home: &NeoHome, timeout: Duration) -> Result<Server> {
        self.launch(home, timeout, &Bar::hidden())
    }

    fn launch(&self, home: &NeoHome, timeout: Duration, bar: &Bar) -> Result<Server> {
        if port_answers(self.port) {
            return Err(Neo4jError::PortInUse { port: self.port });
        }
        let log_path = self.logs_dir().join("console.log");
        let run_dir = self.dir.join("run");
        // A server kept earlier and stopped by other means left its archive pending.
        cds::finish_pending(&run_dir);
        let (mut command, archive) = self.command(
            home,
            home.server(),
            &self.opts.heap,
            self.opts.jvm_flags.as_deref(),
            &log_path,
            cds::Kind::Server,
        )?;
        command.arg("console").current_dir(&self.dir);
        // SAFETY: setsid is async-signal-safe and touches no memory of this process. A session
        // of its own: no controlling terminal, so a kept server outlives the terminal that
        // started it, and a terminal's Ctrl-C reaches tenantgen alone, which stops the server.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|error| Neo4jError::Spawn {
            program: home.server(),
            error,
        })?;
        let pid_file = run_dir.join("neo4j.pid");
        let _ = fs::write(&pid_file, format!("{}\n", child.id()));
        if let Some(build) = archive.and_then(|a| a.build) {
            cds::record_pending(&run_dir, &build);
        }
        let mut server = Server {
            interrupt: Some(crate::interrupt::stop_on_interrupt(
                child.id(),
                "the Neo4j server",
            )),
            child: Some(child),
            port: self.port,
            dir: self.dir.clone(),
            log: log_path,
            pid_file,
        };
        server.wait_ready(timeout, bar)?;
        bar.finish();
        Ok(server)
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
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

/// A running Neo4j server (the JVM is the child process). Dropping it stops it.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    /// `run/neo4j.pid`, which [`super::store_holder`] and `tenantgen stop` read.
    pid_file: PathBuf,
    /// Stops the server on an interrupt, until [`Server::keep`].
    interrupt: Option<crate::interrupt::Guard>,
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

    /// Leaves the server running after this value is gone (and after tenantgen exits: it runs
    /// in a session of its own); returns its URI.
    pub fn keep(mut self) -> String {
        self.interrupt = None;
        self.child = None; // dropping a Child neither kills nor waits for it
        self.uri()
    }

    fn wait_ready(&mut self, timeout: Duration, bar: &Bar) -> Result<()> {
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
                    // An instance with auth enabled (kept by `import --overwrite`) is up once
                    // it answers Bolt, even if it rejects the empty password.
                    Err(Neo4jError::Auth { .. }) => return Ok(()),
                    Err(e) => last_error = e.to_string(),
                }
            }
            bar.message(|| {
                let console = tail_file(&self.log, 1);
                let console: String = console.trim().chars().take(90).collect();
                let waiting = format!("waiting for Bolt on 127.0.0.1:{}", self.port);
                if console.is_empty() {
                    waiting
                } else {
                    format!("{waiting} (console: {console})")
                }
            });
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
        let stopped = self.kill(&mut child);
        let _ = fs::remove_file(&self.pid_file);
        if let Some(run_dir) = self.pid_file.parent() {
            cds::finish_pending(run_dir);
        }
        self.interrupt = None;
        stopped
    }

    fn kill(&self, child: &mut Child) -> Result<()> {
        let pid = child.id();
        let timeout = stop_timeout(self.pid_file.parent());
        terminate(pid, timeout, || match child.try_wait() {
            Ok(Some(_)) => Ok(true),
            Ok(None) => Ok(false),
            Err(e) => Err(e.to_string()),
        })?;
        child.wait().map_err(|e| Neo4jError::Stop {
            pid,
            detail: e.to_string(),
        })?;
        Ok(())
    }
}

/// Stops a server that is not this process's child (one a kept `run` or `tenantgen start`
/// left running on the instance `dir`): SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]; returns
/// once it is gone.
pub fn stop_process(pid: u32, dir: &Path) -> Result<()> {
    terminate(pid, stop_timeout(Some(&dir.join("run"))), || {
        Ok(!alive(pid))
    })
}

/// [`STOP_TIMEOUT`], or four times that while the server is to write its class-data archive
/// at exit (a minute or more on a busy machine): a SIGKILL would cost the archive.
fn stop_timeout(run_dir: Option<&Path>) -> Duration {
    if run_dir.is_some_and(cds::is_pending) {
        STOP_TIMEOUT * 4
    } else {
        STOP_TIMEOUT
    }
}

/// Whether `pid` runs (a zombie waiting for its parent does not).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// SIGTERM, wait for `gone`, SIGKILL after `timeout`.
fn terminate(
    pid: u32,
    timeout: Duration,
    mut gone: impl FnMut() -> std::result::Result<bool, String>,
) -> Result<()> {
    let stop_err = |detail: String| Neo4jError::Stop { pid, detail };
    let signal = |sig| {
        // SAFETY: kill takes plain integers; a process that is gone only makes it fail.
        unsafe { libc::kill(pid as libc::pid_t, sig) }
    };
    if gone().map_err(stop_err)? {
        return Ok(());
    }
    signal(libc::SIGTERM);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if gone().map_err(stop_err)? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if signal(libc::SIGKILL) != 0 && !gone().map_err(stop_err)? {
        return Err(stop_err(format!(
            "SIGKILL after {} s failed: {}",
            timeout.as_secs(),
            std::io::Error::last_os_error()
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone().map_err(stop_err)? {
        if Instant::now() >= deadline {
            return Err(stop_err("still running 5 s after SIGKILL".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
