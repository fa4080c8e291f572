//! Error paths: the golden error corpus, crashes and full disks, secrets and injection.
//!
//! **Golden corpus.** Every directory `tests/golden/errors/<case>/` holds
//!
//! - `cmd`: one line, the `tenantgen` arguments separated by spaces; `{dir}` stands for the case
//!   directory, `{tmp}` for a fresh, empty temporary directory and `{port}` for a port on
//!   127.0.0.1 that the harness listens on during the run (a taken port);
//! - optionally `env`: `KEY=VALUE` lines set for the run (`KEY=` removes the variable);
//! - the inputs the command reads (templates, small baseline directories, ...);
//! - `stderr.txt`: the exact expected stderr, with the case directory written `{dir}`, the
//!   temporary directory `{tmp}` and the taken port `{port}`.
//!
//! [`golden_error_corpus`] runs every case with the built binary and checks: exit code 2, no
//! panic or backtrace, stderr equal to `stderr.txt`, nothing left in `{tmp}` (no output, no
//! temporary sibling) and nothing added to the case directory. To accept new messages after
//! changing them, run `UPDATE_GOLDEN=1 cargo test --test e2e errors` and review the diff of the
//! `stderr.txt` files. Add a case by creating its directory with a `cmd` and running with
//! `UPDATE_GOLDEN=1` once. `tests/golden/mini-baseline/` is the valid 3-resource baseline the
//! cases' `baseline/` directories were copied from before being broken.
//!
//! **Live-graph corpus.** `tests/golden/errors-live/<case>/` holds the same `cmd` and
//! `stderr.txt` for errors that need a running graph; [`live_graph_error_corpus`] runs every case
//! against one server holding the mini baseline ×2 (operation `{op}`, its generated directory
//! `{gen}`), with `{uri}` its Bolt URI and `{other}` a copy of its manifest naming an operation the
//! graph does not hold. Each case exits 2, prints exactly `stderr.txt` and changes nothing in the
//! graph. `UPDATE_GOLDEN=1` accepts new messages here too.
//!
//! The other tests need more than one command line: a value over the importer's buffer, the
//! free-space check, an import that fails halfway (the real neo4j-admin), `kill -9` during
//! `generate`, a full disk (a 2 MiB tmpfs), and the password canary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{generate_mini, graph_digest, import_and_start, tenantgen};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mini_baseline() -> PathBuf {
    repo().join("tests/golden/mini-baseline")
}

/// Every file and directory under `dir`, relative.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
            if p.is_dir() && !p.is_symlink() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

fn assert_clean_failure(what: &str, output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{what}: expected exit code 2, got {:?}; stderr:\n{stderr}",
        output.status
    );
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("panicked") && !lower.contains("backtrace"),
        "{what}: panic in stderr:\n{stderr}"
    );
    stderr
}

/// The case directories (those with a `cmd` file) under `root`, sorted; at least `min`.
fn golden_cases(root: &Path, min: usize) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cmd").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= min,
        "only {} golden cases in {}",
        cases.len(),
        root.display()
    );
    cases
}

#[test]
fn golden_error_corpus() {
    let root = repo().join("tests/golden/errors");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = golden_cases(&root, 40);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let (dir_s, tmp_s) = (case.display().to_string(), tmp.path().display().to_string());
        let line = std::fs::read_to_string(case.join("cmd")).unwrap();
        let taken = line
            .contains("{port}")
            .then(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
        let port_s = taken
            .as_ref()
            .map(|l| l.local_addr().unwrap().port().to_string());
        let args: Vec<String> = line
            .split_whitespace()
            .map(|a| a.replace("{dir}", &dir_s).replace("{tmp}", &tmp_s))
            .map(|a| match &port_s {
                Some(p) => a.replace("{port}", p),
                None => a,
            })
            .collect();
        let before = listing(case);
        let mut cmd = tenantgen();
        cmd.args(&args).timeout(Duration::from_secs(120));
        if let Ok(env) = std::fs::read_to_string(case.join("env")) {
            for l in env.lines().filter(|l| !l.trim().is_empty()) {
                let (k, v) = l.split_once('=').expect("env lines are KEY=VALUE");
                if v.is_empty() {
                    cmd.env_remove(k);
                } else {
                    cmd.env(k, v);
                }
            }
        }
        let output = cmd.output().expect("tenantgen runs");
        drop(taken);
        let mut stderr = String::from_utf8_lossy(&output.stderr)
            .replace(&dir_s, "{dir}")
            .replace(&tmp_s, "{tmp}");
        if let Some(p) = &port_s {
            stderr = stderr.replace(p, "{port}");
        }
        let lower = stderr.to_lowercase();
        if output.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit {:?}, expected 2; stderr:\n{stderr}",
                output.status.code()
            ));
        }
        if lower.contains("panicked") || lower.contains("backtrace") {
            failures.push(format!("{name}: panic:\n{stderr}"));
        }
        let golden = case.join("stderr.txt");
        if update {
            std::fs::write(&golden, &stderr).unwrap();
        } else {
            let want = std::fs::read_to_string(&golden).unwrap_or_default();
            if want != stderr {
                failures.push(format!(
                    "{name}: stderr differs (UPDATE_GOLDEN=1 to accept)\n--- want\n{want}--- got\n{stderr}"
                ));
            }
        }
        let left = listing(tmp.path());
        if !left.is_empty() {
            failures.push(format!("{name}: left behind in {{tmp}}: {left:?}"));
        }
        let mut after = listing(case);
        after.remove(Path::new("stderr.txt"));
        let mut before = before;
        before.remove(Path::new("stderr.txt"));
        if after != before {
            let added: Vec<_> = after.difference(&before).collect();
            let removed: Vec<_> = before.difference(&after).collect();
            failures.push(format!(
                "{name}: case directory changed: added {added:?}, removed {removed:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden error cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn live_graph_error_corpus() {
    let root = repo().join("tests/golden/errors-live");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    generate_mini(&gen, "2");
    let loaded = import_and_start(&gen, &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let op = loaded.manifest.operation.as_ref().unwrap().id.clone();
    let mut other = loaded.manifest.clone();
    other.operation.as_mut().unwrap().id = "scale-20000101T000000-00000000".into();
    let other_path = tmp.path().join("other-operation.json");
    other.write(&other_path).unwrap();
    let before = graph_digest(&loaded.client);

    let cases = golden_cases(&root, 3);
    let gen_s = gen.display().to_string();
    let other_s = other_path.display().to_string();
    let subst = [
        ("{gen}", &gen_s),
        ("{other}", &other_s),
        ("{uri}", &uri),
        ("{op}", &op),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let line = std::fs::read_to_string(case.join("cmd")).unwrap();
        let args: Vec<String> = line
            .split_whitespace()
            .map(|a| {
                subst
                    .iter()
                    .fold(a.to_string(), |a, (k, v)| a.replace(k, v))
            })
            .collect();
        let output = tenantgen()
            .args(&args)
            .timeout(Duration::from_secs(120))
            .output()
            .expect("tenantgen runs");
        // The paths first: they are the longest values.
        let stderr = subst.iter().fold(
            String::from_utf8_lossy(&output.stderr).into_owned(),
            |s, (k, v)| s.replace(v.as_str(), k),
        );
        if output.status.code() != Some(2) {
            failures.push(format!(
                "{name}: exit {:?}, expected 2; stderr:\n{stderr}",
                output.status.code()
            ));
        }
        let golden = case.join("stderr.txt");
        if update {
            std::fs::write(&golden, &stderr).unwrap();
        } else {
            let want = std::fs::read_to_string(&golden).unwrap_or_default();
            if want != stderr {
                failures.push(format!(
                    "{name}: stderr differs (UPDATE_GOLDEN=1 to accept)\n--- want\n{want}--- got\n{stderr}"
                ));
            }
        }
        let diff = before.diff(&graph_digest(&loaded.client));
        if !diff.is_empty() {
            failures.push(format!("{name}: the graph changed:\n{diff}"));
        }
    }
    // The JSON error document of the same refusal: kind, message naming the operations present.
    let out = tenantgen()
        .args([
            "clean",
            "--json",
            "--operation-id",
            "scale-nope",
            "--uri",
            &uri,
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    if out.status.code() != Some(2)
        || doc["error"]["kind"] != "clean"
        || !message.contains(&format!("operations present: {op}"))
    {
        failures.push(format!("clean --json: exit {:?}, {doc}", out.status.code()));
    }
    assert!(
        failures.is_empty(),
        "{} of {} live golden error cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// A value longer than neo4j-admin's 4 MiB read buffer is refused while reading the baseline,
/// naming the file, line and column (the importer would fail halfway without saying where).
#[test]
fn value_over_the_import_buffer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("baseline");
    copy_dir(&mini_baseline(), &base);
    let big = "x".repeat(tenantgen::baseline::MAX_FIELD_BYTES + 1);
    std::fs::write(
        base.join("data/resource.part-0000.csv"),
        format!(
            "vnet-1,vnet-one,Microsoft.Network/virtualNetworks,eastus,10\nsubnet-1,{big},Microsoft.Network/virtualNetworks/subnets,eastus,20\nvm-1,vm-one,Microsoft.Compute/virtualMachines,westus,30\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let output = tenantgen()
        .args(["generate", "--baseline"])
        .arg(&base)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("4 MiB value", &output);
    assert!(
        stderr.contains("data/resource.part-0000.csv:2: column 2 (name) holds a value of 4194305 bytes, over the 4194304-byte (4 MiB) limit"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// A huge plan is refused by the free-space check, with the estimate, before anything is
/// written, and quickly (nothing in planning loops over the billions of copies).
#[test]
fn huge_plan_is_refused_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let started = Instant::now();
    let output = tenantgen()
        .args(["generate", "--quiet", "--baseline"])
        .arg(mini_baseline())
        .args(["--scale-factor", "1e9", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("1e9 plan", &output);
    assert!(
        stderr.contains("the plan needs about") && stderr.contains("--ignore-space-check"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));
    // The seed tenant at 1e9 is over the cap on synthetic resources.
    let output = tenantgen()
        .args(["generate", "--scale-factor", "1e9", "--atg-compat", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("1e9 seed plan", &output);
    assert!(stderr.contains("more than tenantgen plans"), "{stderr}");
    // Two billion ATG copies of the seed tenant (whose ids look synthetic): the id-collision
    // search must not scan them one by one (it took minutes); the cross edges are refused.
    let output = tenantgen()
        .args(["generate", "--scale-factor", "1e6", "--atg-compat", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("1e6 ATG plan", &output);
    assert!(stderr.contains("data parts, more than"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(!out.exists());
}

fn set_file_entry(manifest: &Path, part: &str, file: &Path) {
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let bytes = std::fs::read(file).unwrap();
    let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
    for section in ["node_groups", "relationship_groups"] {
        for g in m[section].as_array_mut().unwrap() {
            for f in g["files"].as_array_mut().unwrap() {
                if f["path"] == part {
                    f["xxh3"] = hash.clone().into();
                    f["bytes"] = (bytes.len() as u64).into();
                }
            }
        }
    }
    std::fs::write(manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

/// Sizes and modification times of every file under `dir`.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    listing(dir)
        .into_iter()
        .filter_map(|rel| {
            let md = std::fs::metadata(dir.join(&rel)).ok()?;
            md.is_file()
                .then(|| (rel, md.len(), md.modified().unwrap()))
        })
        .collect()
}

/// An import that fails halfway: a corrupted part is caught by the checksum; a broken row whose
/// checksum was updated reaches the real neo4j-admin, whose message is shown, and the earlier
/// database in --data-dir stays untouched.
#[test]
fn failed_import_leaves_the_earlier_database() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let inst = tmp.path().join("inst");
    crate::common::generate_seed(
        &out,
        &[
            "--baseline",
            mini_baseline().to_str().unwrap(),
            "--scale-factor",
            "3",
        ],
    );
    let first = tenantgen()
        .arg("import")
        .arg(&out)
        .arg("--data-dir")
        .arg(&inst)
        .args(["--max-off-heap", "512M", "--import-heap", "512m"])
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let db = inst.join("data/databases/neo4j");
    assert!(db.is_dir());
    let before = fingerprint(&inst.join("data"));

    // 1. A changed part: the manifest's checksum catches it before neo4j-admin runs.
    let part = "data/synthetic.resource.part-0000.csv";
    let text = std::fs::read_to_string(out.join(part)).unwrap();
    std::fs::write(out.join(part), text.replacen("Microsoft", "Macrosoft", 1)).unwrap();
    let output = tenantgen()
        .arg("import")
        .arg(&out)
        .arg("--data-dir")
        .arg(&inst)
        .arg("--overwrite")
        .output()
        .unwrap();
    let stderr = assert_clean_failure("changed part", &output);
    assert!(
        stderr.contains(&format!("{}/{part} has checksum", out.display()))
            && stderr.contains("regenerate the directory"),
        "{stderr}"
    );

    // 2. A broken row with an updated checksum: the real importer fails.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = "broken,\"unterminated".into();
    std::fs::write(out.join(part), lines.join("\n") + "\n").unwrap();
    set_file_entry(&out.join("manifest.json"), part, &out.join(part));
    let output = tenantgen()
        .arg("import")
        .arg(&out)
        .arg("--data-dir")
        .arg(&inst)
        .args([
            "--overwrite",
            "--max-off-heap",
            "512M",
            "--import-heap",
            "512m",
        ])
        .output()
        .unwrap();
    let stderr = assert_clean_failure("broken row", &output);
    assert!(
        stderr.contains("neo4j-admin database import full neo4j failed"),
        "{stderr}"
    );
    // The log the message points to outlives the staging directory.
    let name = inst.file_name().unwrap().to_string_lossy();
    let log = inst.with_file_name(format!("{name}.import-failed.log"));
    assert!(
        stderr.contains(&format!("full output in {}", log.display())) && log.is_file(),
        "{stderr}"
    );
    assert_eq!(
        fingerprint(&inst.join("data")),
        before,
        "the earlier database changed"
    );
    let siblings: Vec<_> = listing(tmp.path())
        .into_iter()
        .filter(|p| p.components().count() == 1 && p.to_string_lossy().starts_with('.'))
        .collect();
    assert!(siblings.is_empty(), "staging left behind: {siblings:?}");
}

/// Checks the directory's manifest lists only files that exist with their checksums.
fn assert_complete(out: &Path) {
    let manifest = tenantgen::manifest::Manifest::read(out)
        .unwrap_or_else(|e| panic!("{} has no readable manifest: {e}", out.display()));
    tenantgen::import::check_files(out, &manifest)
        .unwrap_or_else(|e| panic!("{} is not complete: {e}", out.display()));
}

fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out."))
        .collect()
}

/// `kill -9` during `generate` at several points: the output is the previous complete one or
/// absent, never a directory that looks complete and is not; the next run removes the
/// temporary leftovers and says so.
#[test]
fn kill_during_generate_leaves_old_output_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    crate::common::generate_seed(&out, &["--scale-factor", "2"]);
    assert_complete(&out);
    let mut killed_with_leftover = 0;
    for (round, delay_ms) in [40u64, 150, 400, 900, 1600, 2500].into_iter().enumerate() {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("tenantgen"))
            .current_dir(repo())
            .args([
                "generate",
                "--force",
                "--scale-factor",
                "200",
                "--part-rows",
                "50000",
            ])
            .args(["--seed", &round.to_string(), "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        if out.exists() {
            assert_complete(&out);
        }
        let left = leftovers(tmp.path());
        if !finished && !left.is_empty() {
            killed_with_leftover += 1;
        }
        // Nothing else under tmp looks like an output.
        for n in std::fs::read_dir(tmp.path()).unwrap().flatten() {
            let name = n.file_name().to_string_lossy().into_owned();
            assert!(
                name == "out" || name.starts_with(".out."),
                "unexpected {name}"
            );
        }
    }
    assert!(
        killed_with_leftover > 0,
        "no kill hit a run in progress: raise the delays' spread"
    );
    // The next run cleans the leftovers and reports them.
    let left = leftovers(tmp.path());
    let output = tenantgen()
        .args(["generate", "--force", "--scale-factor", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for l in &left {
        assert!(
            stderr.contains("removed the leftover of an interrupted run") && stderr.contains(l),
            "leftover {l} not reported:\n{stderr}"
        );
    }
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
    assert_complete(&out);
}

/// Unmounts on drop.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A tmpfs of `size` mounted on `parent/small` (the tests run as root), unmounted when the
/// guard drops; fails, never skips, when the mount is impossible.
fn small_tmpfs(parent: &Path, size: &str) -> (PathBuf, Mount) {
    let dir = parent.join("small");
    std::fs::create_dir(&dir).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&dir)
        .status()
        .expect("mount runs");
    assert!(
        status.success(),
        "cannot mount a tmpfs on {} (needs root)",
        dir.display()
    );
    (dir.clone(), Mount(dir))
}

/// A full disk (a 2 MiB tmpfs; the tests run as root): a clear error that says so, and
/// nothing that looks complete. Fails, never skips, when the mount is impossible.
#[test]
fn full_disk_is_reported_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _mount) = small_tmpfs(tmp.path(), "2m");
    let out = dir.join("out");
    // The free-space check refuses first ...
    let output = tenantgen()
        .args(["generate", "--quiet", "--scale-factor", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("space check", &output);
    assert!(stderr.contains("free; free some space"), "{stderr}");
    // ... and without it, the write hits ENOSPC.
    let output = tenantgen()
        .args([
            "generate",
            "--quiet",
            "--scale-factor",
            "3",
            "--ignore-space-check",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("full disk", &output);
    assert!(
        stderr.contains("the disk is full: free space or write elsewhere with --out"),
        "{stderr}"
    );
    let left = listing(&dir);
    assert!(left.is_empty(), "left on the full disk: {left:?}");
}

/// An import onto a file system too small for its store (a 16 MiB tmpfs): refused before
/// neo4j-admin starts, naming the directory, the estimate and the free space; with
/// `--ignore-space-check` the real neo4j-admin runs out of space ("ERROR in input …" in its own
/// words) and the error says the disk is full instead. Nothing is left but the importer's log.
#[test]
fn import_onto_a_full_disk_is_refused_then_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    let output = tenantgen()
        .args(["generate", "--quiet", "--scale-factor", "3", "--out"])
        .arg(&gen)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let (dir, _mount) = small_tmpfs(tmp.path(), "16m");
    let inst = dir.join("inst");
    let output = tenantgen()
        .args(["import", "--quiet"])
        .arg(&gen)
        .arg("--data-dir")
        .arg(&inst)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("space check", &output);
    let want = format!(
        "the file system of {} (mounted at {}) has 16.0 MiB free, and the import needs about",
        inst.display(),
        dir.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(
        stderr.contains("or --ignore-space-check to try anyway"),
        "{stderr}"
    );
    assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

    let output = tenantgen()
        .args(["import", "--quiet", "--ignore-space-check"])
        .arg(&gen)
        .arg("--data-dir")
        .arg(&inst)
        .output()
        .unwrap();
    let stderr = assert_clean_failure("full disk", &output);
    let want = format!(
        "the import ran out of disk space: the file system of {} (mounted at {}) is full",
        inst.display(),
        dir.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(
        stderr.contains("16.0 MiB was free when it started"),
        "{stderr}"
    );
    assert!(!stderr.contains("ERROR in input"), "{stderr}");
    let left: Vec<_> = listing(&dir).into_iter().collect();
    assert_eq!(
        left,
        [PathBuf::from("inst.import-failed.log")],
        "left on the full disk"
    );
}

const CANARY: &str = "S3cr3t-canary";

/// Whether any file under `dir` holds the canary.
fn files_with_canary(dir: &Path) -> Vec<PathBuf> {
    listing(dir)
        .into_iter()
        .map(|rel| dir.join(rel))
        .filter(|p| p.is_file())
        .filter(|p| {
            std::fs::read(p)
                .map(|b| b.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Command lines of every process whose arguments hold the canary.
fn processes_with_canary() -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            if cmdline
                .windows(CANARY.len())
                .any(|w| w == CANARY.as_bytes())
            {
                hits.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
            }
        }
    }
    hits
}

/// NEO4J_PASSWORD never shows: not in output, not in files, not in a child's arguments.
#[test]
fn password_never_leaks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let inst = tmp.path().join("inst");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(processes_with_canary());
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };
    let mut outputs = Vec::new();
    let run = |args: Vec<String>| {
        tenantgen()
            .env("NEO4J_PASSWORD", CANARY)
            .args(&args)
            .timeout(Duration::from_secs(600))
            .output()
            .unwrap()
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let (o, i) = (out.display().to_string(), inst.display().to_string());
    let mini = mini_baseline().display().to_string();
    // generate → import → start → verify over Bolt, all in one (`run`), then import alone.
    let full = run(s(&[
        "run",
        "--baseline",
        &mini,
        "--scale-factor",
        "3",
        "--out",
        &o,
        "--data-dir",
        &i,
        "--max-off-heap",
        "512M",
        "--import-heap",
        "512m",
        "--server-heap",
        "512m",
        "--pagecache",
        "128m",
    ]));
    assert!(
        full.status.success(),
        "run failed:\n{}",
        String::from_utf8_lossy(&full.stderr)
    );
    outputs.push(full);
    outputs.push(run(s(&[
        "import",
        &o,
        "--data-dir",
        &i,
        "--overwrite",
        "--max-off-heap",
        "512M",
        "--import-heap",
        "512m",
    ])));
    // The Bolt commands with a refused connection: their error messages must not echo it.
    outputs.push(run(s(&[
        "verify",
        "--manifest",
        &o,
        "--uri",
        "bolt://127.0.0.1:1",
    ])));
    outputs.push(run(s(&["load", &o, "--uri", "bolt://127.0.0.1:1"])));
    outputs.push(run(s(&["stats", "--uri", "bolt://127.0.0.1:1"])));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    for o in &outputs {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!text.contains(CANARY), "the password was printed:\n{text}");
    }
    let leaked = files_with_canary(tmp.path());
    assert!(leaked.is_empty(), "the password is in {leaked:?}");
    // Our own test process and tenantgen get it through the environment, never arguments.
    assert!(
        seen.is_empty(),
        "a process had the password in its arguments: {seen:?}"
    );
}
