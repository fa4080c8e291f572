//! Interrupts: SIGINT, SIGTERM and SIGHUP sent to the real binary at several points of
//! `generate`, `import`, `run` and `load` — each point recognised from outside (a temporary
//! directory growing, neo4j-admin running, the server's pid file, nodes arriving in the graph),
//! never by a sleep alone. Afterwards: the exit code is 128 + the signal, stderr says
//! `interrupted (SIG…)` and what was left, no process the command started is alive, no
//! temporary directory is left, the previous output or database is unchanged (checksummed),
//! and a re-run succeeds. `tenantgen start`/`stop` bring back and end the kept instance.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{import_and_start, local_client, seed_dir, tenantgen, tree, SIZES};

/// What an interrupted command left.
struct Interrupted {
    code: Option<i32>,
    stderr: String,
    /// Every process the command had started when the signal was sent.
    children: Vec<u32>,
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tenantgen")
}

/// Runs `tenantgen args…`, waits until `ready` holds (polled; the command must still be
/// running), sends `signal` and waits for the exit.
fn interrupt_when(
    args: &[&std::ffi::OsStr],
    signal: i32,
    what: &str,
    mut ready: impl FnMut(u32) -> bool,
) -> Interrupted {
    let err_path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let mut child = Command::new(binary())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let t0 = Instant::now();
    while !ready(pid) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{args:?} ended ({status}) before {what}:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "{args:?}: no {what} within 180 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let children = descendants(pid);
    // SAFETY: kill takes plain integers.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
    let t1 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t1.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} did not exit within 60 s of signal {signal} at {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let gone = Instant::now();
    while children.iter().any(|&c| alive(c)) && gone.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Interrupted {
        code: status.code().or(status.signal().map(|s| -s)),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        children,
    }
}

impl Interrupted {
    /// Exit 128 + `signal`, its name on stderr, no child alive.
    fn check(&self, signal: i32, name: &str, at: &str) {
        assert_eq!(
            self.code,
            Some(128 + signal),
            "{at}: exit code; stderr:\n{}",
            self.stderr
        );
        assert!(
            self.stderr.contains(&format!("interrupted ({name})")),
            "{at}: {}",
            self.stderr
        );
        let alive: Vec<_> = self.children.iter().filter(|&&c| alive(c)).collect();
        assert!(alive.is_empty(), "{at}: still running: {alive:?}");
    }
}

/// The processes descended from `pid` (a server in a session of its own is still a child).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Some(ppid) = stat_field(p, 1).and_then(|f| f.parse::<u32>().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Field `n` after the command name of `/proc/PID/stat` (0: state, 1: ppid, 3: session,
/// 4: tty).
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n).map(str::to_string)
}

fn alive(pid: u32) -> bool {
    stat_field(pid, 0).is_some_and(|s| s != "Z" && s != "X")
}

/// Hidden siblings a command stages in (`.NAME.tmp-PID`, `.NAME.staging-PID`, `.NAME.old-PID`)
/// and kept failure logs.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            (n.starts_with('.')
                && [".tmp-", ".staging-", ".old-"]
                    .iter()
                    .any(|s| n.contains(s)))
                || n.ends_with(".import-failed.log")
        })
        .collect();
    found.sort();
    found
}

/// Bytes of the files directly under `dir/.NAME.tmp-PID/data`.
fn staged_bytes(parent: &Path, name: &str, pid: u32) -> u64 {
    let data = parent.join(format!(".{name}.tmp-{pid}/data"));
    std::fs::read_dir(data)
        .map(|es| {
            es.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A child of `pid` that has run for a second (the JVM is up, not merely forked).
fn child_running(pid: u32, since: &mut Option<Instant>) -> bool {
    if descendants(pid).is_empty() {
        *since = None;
        return false;
    }
    since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(1)
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn with_path(mut v: Vec<std::ffi::OsString>, p: &Path) -> Vec<std::ffi::OsString> {
    v.push(p.into());
    v
}

fn refs(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
    v.iter().map(|s| s.as_os_str()).collect()
}

const BIG: [&str; 5] = ["generate", "--quiet", "--force", "--scale-factor", "300"];

fn generate_small(out: &Path) {
    let o = tenantgen()
        .args([
            "generate",
            "--quiet",
            "--force",
            "--scale-factor",
            "2",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn generate_interrupted_mid_write_leaves_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    generate_small(&out);
    let before = tree(&out, &[]);
    for (signal, name) in [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ] {
        let args = with_path(os(&[&BIG[..], &["--out"]].concat()), &out);
        let r = interrupt_when(&refs(&args), signal, "5 MB staged", |pid| {
            staged_bytes(tmp.path(), "out", pid) > 5 << 20
        });
        r.check(signal, name, "generate");
        assert!(
            r.stderr.contains("interrupted: nothing was changed"),
            "{}",
            r.stderr
        );
        assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "{name}");
        assert!(
            tree(&out, &[]) == before,
            "{name}: the previous output changed"
        );
    }
    generate_small(&out);
}

#[test]
fn import_interrupted_stops_neo4j_admin_and_keeps_the_instance() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    generate_small(&gen);
    let inst = tmp.path().join("inst");
    let import = |extra: &[&str]| {
        let mut v = os(&["import"]);
        v.push(gen.clone().into());
        v.extend(os(&["--data-dir"]));
        v.push(inst.clone().into());
        v.extend(os(&SIZES));
        v.extend(os(extra));
        v
    };

    // A fresh target: nothing is created.
    let mut since = None;
    let r = interrupt_when(&refs(&import(&[])), libc::SIGINT, "neo4j-admin", |pid| {
        child_running(pid, &mut since)
    });
    r.check(libc::SIGINT, "SIGINT", "import");
    assert!(!r.children.is_empty(), "neo4j-admin was running");
    assert!(r.stderr.contains("stopped neo4j-admin"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(!inst.exists(), "the instance directory was created");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());

    // An earlier import: it stays as it was.
    let o = tenantgen().args(refs(&import(&[]))).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = tree(&inst, &[]);
    let mut since = None;
    let r = interrupt_when(
        &refs(&import(&["--overwrite"])),
        libc::SIGTERM,
        "neo4j-admin",
        |pid| child_running(pid, &mut since),
    );
    r.check(libc::SIGTERM, "SIGTERM", "import --overwrite");
    assert!(tree(&inst, &[]) == before, "the earlier instance changed");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    let o = tenantgen()
        .args(refs(&import(&["--overwrite"])))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn run_interrupted_at_each_stage_says_what_is_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let inst = tmp.path().join("run.neo4j");
    let run = |extra: &[&str]| {
        let mut v = os(&["run", "--quiet", "--out"]);
        v.push(out.clone().into());
        v.extend(os(&SIZES));
        v.extend(os(extra));
        v
    };

    // During generate.
    let r = interrupt_when(
        &refs(&run(&["--scale-factor", "300"])),
        libc::SIGTERM,
        "5 MB staged",
        |pid| staged_bytes(tmp.path(), "run", pid) > 5 << 20,
    );
    r.check(libc::SIGTERM, "SIGTERM", "run: generate");
    assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
    assert!(!out.exists() && !inst.exists());
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());

    // During import: the generated directory is complete and says how to import it.
    let mut since = None;
    let r = interrupt_when(&refs(&run(&[])), libc::SIGINT, "neo4j-admin", |pid| {
        out.join("manifest.json").exists() && child_running(pid, &mut since)
    });
    r.check(libc::SIGINT, "SIGINT", "run: import");
    assert!(
        r.stderr.contains(&format!(
            "import it with `tenantgen import {} --data-dir {}",
            out.display(),
            inst.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!inst.exists());
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());

    // Once the server runs: it is stopped; the imported instance starts again.
    let r = interrupt_when(&refs(&run(&[])), libc::SIGHUP, "the server", |_| {
        inst.join("run/neo4j.pid").exists()
    });
    r.check(libc::SIGHUP, "SIGHUP", "run: server");
    assert!(
        r.stderr.contains("stopped the Neo4j server"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "start it with `tenantgen start {}`",
            inst.display()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    started_detached_and_stopped(&out, &inst);

    // A re-run replaces the interrupted run's output and passes.
    let o = tenantgen().args(refs(&run(&["--json"]))).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `tenantgen start` brings the instance back detached (a session of its own, no terminal)
/// with the whole imported graph; `tenantgen stop` ends it.
fn started_detached_and_stopped(out: &Path, inst: &Path) {
    let o = tenantgen().arg("start").arg(inst).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let uri = text
        .split_whitespace()
        .find(|w| w.starts_with("bolt://"))
        .unwrap_or_else(|| panic!("no URI in {text}"))
        .to_string();
    let pid: u32 = std::fs::read_to_string(inst.join("run/neo4j.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(stat_field(pid, 3), Some(pid.to_string()), "own session");
    assert_eq!(stat_field(pid, 4).as_deref(), Some("0"), "no terminal");
    let manifest = tenantgen::manifest::Manifest::read(out).unwrap();
    let want = manifest.expected.as_ref().unwrap().nodes as i64;
    let rows = local_client(&uri)
        .rows("MATCH (n) RETURN count(n) AS n", &[])
        .unwrap();
    assert_eq!(rows[0].get::<i64>("n").unwrap(), want);

    let again = tenantgen().arg("start").arg(inst).output().unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success()
            && text.contains("already runs")
            && text.contains(&format!("pid {pid}")),
        "a second start names the running server: {text}"
    );
    let o = tenantgen().arg("stop").arg(inst).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!alive(pid), "stopped");
    assert!(!inst.join("run/neo4j.pid").exists());
}

#[test]
fn load_interrupted_says_how_to_resume_and_a_rerun_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let server = import_and_start(&seed_dir(), &tmp.path().join("seed.neo4j"));
    let uri = server.server.uri();
    let count = || -> i64 {
        server
            .client
            .rows("MATCH (n) RETURN count(n) AS n", &[])
            .unwrap()[0]
            .get("n")
            .unwrap()
    };
    let base = count();
    let gen = tmp.path().join("gen");
    generate_small(&gen);
    let mut load = os(&["load", "--quiet", "--batch-size", "20", "--uri", &uri]);
    load.push(gen.clone().into());
    let r = interrupt_when(&refs(&load), libc::SIGINT, "nodes in the graph", |_| {
        count() > base
    });
    r.check(libc::SIGINT, "SIGINT", "load");
    assert!(
        r.stderr.contains(&format!(
            "run `tenantgen load {} --uri {uri} --batch-size 20` again to resume",
            gen.display()
        )),
        "{}",
        r.stderr
    );
    let o = tenantgen().args(refs(&load)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = tenantgen()
        .args(["verify", "--uri", &uri])
        .arg(&gen)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "verify after the resumed load:\n{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}
