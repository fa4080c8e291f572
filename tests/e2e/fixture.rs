//! Fresh test instances fast: the JVMs' class-data archives (never a reason for a start to
//! fail), the CI hand-off file of `run --keep-running --env-file`, and the fixture cache.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{generate_mini, local_client, tenantgen, SIZES};

/// A Neo4j home of its own (hard links to the project's install, so its archives go to the
/// user's cache directory, here `cache`), as a user's own `NEO4J_HOME` would.
fn own_home(tmp: &Path) -> PathBuf {
    let home = tmp.join("home");
    fs::create_dir_all(&home).unwrap();
    let project = crate::common::neo_home().path;
    for sub in ["bin", "conf", "lib", "plugins"] {
        let st = std::process::Command::new("cp")
            .arg("-al")
            .arg(project.join(sub))
            .arg(&home)
            .status()
            .unwrap();
        assert!(st.success(), "cp -al {sub}");
    }
    home
}

/// The archive files of `kind` in `dir` (`server-….jsa`).
fn archives(dir: &Path, kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().unwrap().to_str().unwrap();
        n.starts_with(&format!("{kind}-")) && n.ends_with(".jsa")
    });
    v
}

fn checksum_matches(archive: &Path) -> bool {
    let bytes = fs::read(archive).unwrap();
    let want = fs::read_to_string(archive.with_extension("jsa.xxh3")).unwrap_or_default();
    want == format!(
        "{} {:016x}\n",
        bytes.len(),
        xxhash_rust::xxh3::xxh3_64(&bytes)
    )
}

fn start_and_stop(inst: &Path, home: &Path, cache: &Path) -> String {
    let o = tenantgen()
        .env("XDG_CACHE_HOME", cache)
        .args(["start", "--neo4j-home"])
        .arg(home)
        .arg(inst)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "start failed:\n{stderr}");
    let uri = tenantgen::neo4j::Instance::open(inst, None).unwrap().uri();
    let n: i64 = local_client(&uri)
        .rows("MATCH (n) RETURN count(n) AS n", &[])
        .unwrap()[0]
        .get("n")
        .unwrap();
    assert!(n > 0, "the started server holds the graph");
    let o = tenantgen().arg("stop").arg(inst).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    stderr
}

#[test]
fn archives_are_built_used_and_a_damaged_or_unusable_one_never_fails_a_start() {
    let tmp = tempfile::tempdir().unwrap();
    let home = own_home(tmp.path());
    let cache = tmp.path().join("cache");
    let cds = cache.join("tenantgen/cds");
    let out = tmp.path().join("mini");
    let inst = tmp.path().join("inst");
    generate_mini(&out, "2");
    let o = tenantgen()
        .env("XDG_CACHE_HOME", &cache)
        .args(["import", "--quiet"])
        .args(SIZES)
        .arg(&out)
        .arg("--data-dir")
        .arg(&inst)
        .arg("--neo4j-home")
        .arg(&home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let admin = archives(&cds, "admin");
    assert_eq!(
        admin.len(),
        1,
        "the import left its archive in {}",
        cds.display()
    );
    assert!(checksum_matches(&admin[0]));

    // The first start builds the server's archive, written when the server stops.
    start_and_stop(&inst, &home, &cache);
    let server = archives(&cds, "server");
    assert_eq!(server.len(), 1, "{server:?}");
    let server = &server[0];
    assert!(checksum_matches(server));

    // Damaged (same size, other bytes): noticed, the start works, the archive is rebuilt.
    let mut bytes = fs::read(server).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 64].fill(0xA5);
    fs::remove_file(server).unwrap();
    fs::write(server, &bytes).unwrap();
    let stderr = start_and_stop(&inst, &home, &cache);
    assert!(
        stderr.contains("does not match its checksum"),
        "a note says so:\n{stderr}"
    );
    assert!(checksum_matches(server), "rebuilt at stop");
    assert_ne!(fs::read(server).unwrap(), bytes);

    // Unusable for the JVM (the archive's first bytes, then garbage, with a matching checksum):
    // the JVM ignores it, the start works.
    fs::remove_file(server).unwrap();
    let mut garbage = vec![7u8; 4096];
    garbage[..4].copy_from_slice(&[0xa8, 0xab, 0x0b, 0xf0]);
    fs::write(server, &garbage).unwrap();
    fs::write(
        server.with_extension("jsa.xxh3"),
        format!(
            "{} {:016x}\n",
            garbage.len(),
            xxhash_rust::xxh3::xxh3_64(&garbage)
        ),
    )
    .unwrap();
    // (A missing archive is the first start above.)
    start_and_stop(&inst, &home, &cache);
}

#[test]
fn env_file_hands_the_kept_server_to_the_next_ci_step() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("ci.env");
    // A CI env file holds other lines already: they stay.
    fs::write(&env_file, "OTHER_STEP=kept\n").unwrap();
    let o = crate::common::small_run()
        .args(["--keep-running", "--scale-factor", "2", "--baseline"])
        .arg(crate::common::mini_baseline())
        .arg("--env-file")
        .arg(&env_file)
        .arg("--out")
        .arg(tmp.path().join("job"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = fs::read_to_string(&env_file).unwrap();
    let pid = doc["pid"].as_u64().unwrap();
    assert!(text.starts_with("OTHER_STEP=kept\n"), "{text}");
    for line in [
        format!("NEO4J_URI={}", doc["uri"].as_str().unwrap()),
        "NEO4J_USERNAME=neo4j".into(),
        format!("NEO4J_PID={pid}"),
        format!("TENANTGEN_INSTANCE={}", doc["instance"].as_str().unwrap()),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing in:\n{text}"
        );
    }
    assert!(
        !text.contains("NEO4J_PASSWORD"),
        "auth is off: no password line"
    );

    // The next step: another process that knows nothing but the file.
    let bin = assert_cmd::cargo::cargo_bin("tenantgen");
    let step = |script: &str| {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -a; . \"$1\"; set +a; {script}"))
            .arg("step")
            .arg(&env_file)
            .env("TG", &bin)
            .env_remove("NEO4J_URI")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let stats = step("\"$TG\" stats --json");
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let expected_nodes = doc["imported"]["nodes"].as_u64().unwrap();
    assert_eq!(
        stats["totals"]["nodes"].as_u64(),
        Some(expected_nodes),
        "{stats:#}"
    );

    // Gone, or a zombie its new parent has not reaped yet.
    let stop = step(
        "\"$TG\" stop \"$TENANTGEN_INSTANCE\" && st=$(awk '{print $3}' /proc/$NEO4J_PID/stat 2>/dev/null); [[ -z $st || $st == Z ]]",
    );
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
}

/// `run` of the mini baseline with a pinned timestamp and `extra` flags; its JSON document.
fn mini_run(out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = crate::common::small_run()
        .args(["--scale-factor", "3", "--timestamp", "2025-11-15T21:17:00Z"])
        .arg("--baseline")
        .arg(crate::common::mini_baseline())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn print_key(extra: &[&str]) -> String {
    let o = tenantgen()
        .args([
            "run",
            "--scale-factor",
            "3",
            "--timestamp",
            "2025-11-15T21:17:00Z",
        ])
        .arg("--baseline")
        .arg(crate::common::mini_baseline())
        .args(extra)
        .arg("--print-cache-key")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// The digest of the kept server's graph in `doc`; stops the server.
fn digest_and_stop(doc: &serde_json::Value) -> crate::common::GraphDigest {
    let digest = crate::common::graph_digest(&local_client(doc["uri"].as_str().unwrap()));
    let o = tenantgen()
        .arg("stop")
        .arg(doc["instance"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    digest
}

#[test]
fn cache_hit_gives_the_graph_of_the_miss_and_a_damaged_entry_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("job");
    let key = print_key(&[]);
    assert_eq!(key.len(), 16, "{key}");
    let cache_args = ["--cache", cache.to_str().unwrap(), "--keep-running"];

    let miss = mini_run(&out, &cache_args);
    assert_eq!(
        miss["cache"]["key"],
        key.as_str(),
        "the printed key is the one used"
    );
    assert_eq!(miss["cache"]["hit"], false);
    assert!(miss["stages"]["import"].is_number());
    let entry = cache.join(&key);
    assert!(entry.join(tenantgen::fixture::MARKER).is_file());
    let before = digest_and_stop(&miss);

    let hit = mini_run(&out, &cache_args);
    assert_eq!(hit["cache"]["hit"], true, "{hit:#}");
    assert!(hit["stages"]["import"].is_null() && hit["stages"]["generate"].is_null());
    assert!(hit["stages"]["restore"].is_number());
    assert_eq!(hit["passed"], true);
    // A miss verifies the whole graph, a hit the counts store (the entry was verified in full).
    assert_eq!(miss["verify"]["scope"], "graph");
    assert_eq!(hit["verify"]["scope"], "counts", "{hit:#}");
    assert_eq!(hit["verify"]["checks"].as_array().unwrap().len(), 5);
    crate::json::check_document(&hit, "run", "run-cached");
    let after = digest_and_stop(&hit);
    assert_eq!(before.diff(&after), "", "a hit restores the same graph");
    let full = mini_run(
        &out,
        &["--cache", cache.to_str().unwrap(), "--verify", "full"],
    );
    assert_eq!(
        (
            full["cache"]["hit"].clone(),
            full["verify"]["scope"].clone(),
            full["passed"].clone()
        ),
        (true.into(), "graph".into(), true.into()),
        "{full:#}"
    );

    // A changed input (the seed) is another key.
    assert_ne!(print_key(&["--seed", "7"]), key);

    // A damaged entry: detected, removed and rebuilt by the same run.
    let marker: tenantgen::fixture::Entry =
        serde_json::from_str(&fs::read_to_string(entry.join(tenantgen::fixture::MARKER)).unwrap())
            .unwrap();
    let (rel, _, _) = marker
        .files
        .iter()
        .find(|f| f.0.starts_with("store/databases/") && f.1 > 0)
        .unwrap();
    let damaged = entry.join(rel);
    let mut bytes = fs::read(&damaged).unwrap();
    bytes[0] ^= 0xFF;
    fs::write(&damaged, &bytes).unwrap();
    let rebuilt = mini_run(&out, &["--cache", cache.to_str().unwrap()]);
    assert_eq!(rebuilt["cache"]["hit"], false, "a damaged entry misses");
    assert_eq!(rebuilt["passed"], true);
    assert_ne!(fs::read(&damaged).unwrap(), bytes, "rebuilt");
    assert!(entry.join(tenantgen::fixture::MARKER).is_file());
}
