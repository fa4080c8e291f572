//! Interrupts: what SIGINT, SIGTERM and SIGHUP do in every command. [`install`] starts one thread
//! that waits for them; the stages register what an interrupt must undo while they work — a
//! child process to stop ([`stop_on_interrupt`]: neo4j-admin, a server tenantgen started), a
//! temporary directory to remove ([`remove_on_interrupt`]: `.NAME.tmp-PID`,
//! `.NAME.staging-PID`), a line saying what is left and how to resume ([`note`]) — each as a
//! [`Guard`] that unregisters it when dropped. On a signal the thread stops the children (their
//! process group: SIGTERM, SIGKILL after [`CHILD_GRACE`]), removes the directories, prints
//! `interrupted (SIG…): …` and exits 128 + the signal number (130, 143, 129).
//!
//! Why a handler thread and not only a flag: the main thread may be blocked for minutes in a
//! child's `wait` or a Bolt query. The flag ([`requested`]) still lets loops that write rows stop
//! early, so the directory being removed stops growing. A step that must not be cut in half —
//! the renames that install an output — runs inside [`critical`]: the handler waits for it and
//! then reports the state after it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long a child gets between SIGTERM and SIGKILL.
pub const CHILD_GRACE: Duration = Duration::from_secs(20);

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
enum Entry {
    Child { pid: u32, what: String },
    Dir(PathBuf),
    Note(String),
}

fn registry() -> MutexGuard<'static, BTreeMap<u64, Entry>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<u64, Entry>>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Mutex::new(BTreeMap::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a signal has arrived; loops that produce output stop at the next row batch.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// The error a loop returns when it stops for [`requested`].
pub fn error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted by a signal")
}

/// Something registered with the handler; dropping it unregisters it.
#[derive(Debug)]
#[must_use = "the registration ends when the guard is dropped"]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        registry().remove(&self.0);
    }
}

fn register(entry: Entry) -> Guard {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    registry().insert(id, entry);
    Guard(id)
}

/// On an interrupt, stop `pid` and its process group (the child must lead its own group:
/// `Command::process_group(0)`), described as `what` ("neo4j-admin", "the Neo4j server").
pub fn stop_on_interrupt(pid: u32, what: &str) -> Guard {
    register(Entry::Child {
        pid,
        what: what.to_string(),
    })
}

/// On an interrupt, remove the directory `path`.
pub fn remove_on_interrupt(path: &Path) -> Guard {
    register(Entry::Dir(path.to_path_buf()))
}

/// On an interrupt, print `text` as what was left (and how to go on).
pub fn note(text: impl Into<String>) -> Guard {
    register(Entry::Note(text.into()))
}

/// Held by [`critical`] sections, and by the handler from the moment it starts.
static CRITICAL: Mutex<()> = Mutex::new(());

/// Runs `f` so that an interrupt waits for it to finish: for steps that must happen whole.
pub fn critical<R>(f: impl FnOnce() -> R) -> R {
    let _held = CRITICAL.lock().unwrap_or_else(|p| p.into_inner());
    f()
}

/// Installs the handler thread for SIGINT, SIGTERM and SIGHUP. Call once, from the binary.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("interrupt".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                handle(signal);
            }
        })?;
    Ok(())
}

/// Parks the calling thread while an interrupt is being handled (the handler exits the
/// process); returns at once otherwise. The main thread calls it before it reports an error
/// that the interrupt itself caused.
pub fn wait_if_requested() {
    if requested() {
        loop {
            std::thread::park();
        }
    }
}

fn handle(signal: i32) -> ! {
    REQUESTED.store(true, Ordering::SeqCst);
    // A critical section in progress finishes first; none starts after this.
    let _critical = CRITICAL.lock().unwrap_or_else(|p| p.into_inner());
    let entries: Vec<Entry> = std::mem::take(&mut *registry()).into_values().collect();
    let mut done = Vec::new();
    let mut notes = Vec::new();
    for entry in &entries {
        if let Entry::Child { pid, what } = entry {
            done.push(stop_child(*pid, what));
        }
    }
    for entry in entries {
        match entry {
            Entry::Dir(path) => {
                if path.exists() {
                    done.push(match remove_dir(&path) {
                        Ok(()) => format!("removed {}", path.display()),
                        Err(e) => format!("could not remove {}: {e}", path.display()),
                    });
                }
            }
            Entry::Note(text) => notes.push(text),
            Entry::Child { .. } => {}
        }
    }
    let name = match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a signal",
    };
    let mut text = format!("interrupted ({name})");
    if !done.is_empty() {
        text.push_str(&format!(": {}", done.join("; ")));
    }
    if notes.is_empty() {
        text.push_str("\ninterrupted: nothing was changed");
    } else {
        for n in notes {
            text.push_str(&format!("\ninterrupted: {n}"));
        }
    }
    let _ = writeln!(std::io::stderr(), "{text}");
    std::process::exit(128 + signal);
}

/// SIGTERM to the child's group, then SIGKILL after [`CHILD_GRACE`]; reaps it.
fn stop_child(pid: u32, what: &str) -> String {
    let group = -(pid as libc::pid_t);
    // SAFETY: kill and waitpid take plain integers; a gone process only makes them fail.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let deadline = Instant::now() + CHILD_GRACE;
    loop {
        let mut status = 0;
        // SAFETY: as above; `status` outlives the call.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        if rc == pid as libc::pid_t {
            // SAFETY: as above. What is left of the group (the JVM's own children) goes too.
            unsafe { libc::kill(group, libc::SIGKILL) };
            return format!("stopped {what} (pid {pid})");
        }
        if rc < 0 {
            // Reaped by the thread that waits for it.
            return format!("stopped {what} (pid {pid})");
        }
        if Instant::now() >= deadline {
            // SAFETY: as above.
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
            return format!(
                "killed {what} (pid {pid}) after {} s",
                CHILD_GRACE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `remove_dir_all`, retried: a writer that has not yet seen [`requested`] may still add a file.
fn remove_dir(path: &Path) -> std::io::Result<()> {
    let mut last = Ok(());
    for _ in 0..20 {
        last = std::fs::remove_dir_all(path);
        if last.is_ok() || !path.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_unregister_when_dropped() {
        let before = registry().len();
        let a = note("a");
        let b = remove_on_interrupt(Path::new("/nonexistent/x"));
        assert_eq!(registry().len(), before + 2);
        drop(a);
        assert_eq!(registry().len(), before + 1);
        drop(b);
        assert_eq!(registry().len(), before);
    }

    #[test]
    fn critical_returns_its_value() {
        assert_eq!(critical(|| 41 + 1), 42);
        assert!(!requested());
    }
}
