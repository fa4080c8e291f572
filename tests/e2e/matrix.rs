//! The strategy × consumer matrix: every generation strategy (replicate, replicate
//! `--atg-compat`, replicate with a template's rules, each shipped template) through every
//! consumer — `run` (generate, import, verify), `load` into a running server holding the seed
//! then `verify`, the generated `load.cypher` (LOAD CSV) run as its header says then `verify`,
//! `clean` (the graph then equals the one before, node for node and relationship
//! for relationship) and `stats` (the operation shown, then no trace of it). A new strategy
//! joins by adding a row to [`STRATEGIES`].
//!
//! One server holding the seed takes every load; each `run` keeps its own server up for clean
//! and stats and is stopped after. Every cell is tried and the matrix printed before the test
//! fails, so one broken cell does not hide the others.

use std::path::Path;
use std::time::{Duration, Instant};

use tenantgen::manifest::Manifest;
use tenantgen::neo4j::Client;

use crate::common::{
    graph_digest, import_and_start, local_client, seed_dir, small_run, tenantgen, GraphDigest,
};

/// A strategy: its name in the matrix and the generate flags that select it.
struct Strategy {
    name: &'static str,
    flags: &'static [&'static str],
}

const STRATEGIES: &[Strategy] = &[
    Strategy {
        name: "replicate",
        flags: &["--scale-factor", "1.2"],
    },
    Strategy {
        name: "replicate --no-hierarchy",
        flags: &["--scale-factor", "1.2", "--no-hierarchy"],
    },
    Strategy {
        name: "replicate --atg-compat",
        flags: &["--scale-factor", "1.2", "--atg-compat"],
    },
    Strategy {
        name: "replicate (replicate-rules.yaml)",
        flags: &[
            "--strategy",
            "replicate",
            "--scale-factor",
            "1.2",
            "--template",
            "test-data/templates/replicate-rules.yaml",
        ],
    },
    Strategy {
        name: "template (small-network.yaml)",
        flags: &["--template", "test-data/templates/small-network.yaml"],
    },
    Strategy {
        name: "template (extreme-scale-template.yaml)",
        flags: &[
            "--template",
            "test-data/extreme-scale-template.yaml",
            "--target-total",
            "4400",
        ],
    },
    Strategy {
        name: "template (topology.yaml)",
        flags: &["--template", "test-data/templates/topology.yaml"],
    },
    Strategy {
        name: "template (atg per-type-counts.yaml)",
        flags: &[
            "--template",
            "test-data/templates/atg-formats/per-type-counts.yaml",
        ],
    },
    Strategy {
        name: "template (atg friendly.yaml)",
        flags: &[
            "--template",
            "test-data/templates/atg-formats/friendly.yaml",
        ],
    },
    Strategy {
        name: "replicate (atg patterns.yaml)",
        flags: &[
            "--strategy",
            "replicate",
            "--template",
            "test-data/templates/atg-formats/patterns.yaml",
        ],
    },
];

const CONSUMERS: [&str; 7] = [
    "run",
    "load+verify",
    "clean after load",
    "load.cypher+verify",
    "clean after cypher",
    "clean after run",
    "stats",
];

/// Runs `cmd`; Ok(stdout) on exit 0, else Err naming the exit code and stderr's tail.
fn output(cmd: &mut assert_cmd::Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        Err(format!(
            "exit {:?}: {}{}",
            out.status.code(),
            tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
            if stdout.contains("FAIL") {
                format!(" / {}", failed_checks(&stdout))
            } else {
                String::new()
            }
        ))
    }
}

fn failed_checks(table: &str) -> String {
    table
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))
}

/// The nodes `stats` lists for `op` (0 when it lists no such operation).
fn stats_nodes(uri: &str, op: &str) -> Result<u64, String> {
    let s = json(&output(
        tenantgen().args(["stats", "--format", "json", "--uri", uri]),
    )?)?;
    Ok(s["by_operation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["operation_id"] == op)
        .map(|o| o["nodes"].as_u64().unwrap_or(0))
        .sum())
}

/// `stats` shows the operation with all its nodes (`expected_nodes`).
fn stats_shows(uri: &str, op: &str, expected_nodes: u64) -> Result<(), String> {
    match stats_nodes(uri, op)? {
        n if n == expected_nodes => Ok(()),
        n => Err(format!(
            "stats lists {n} nodes of {op}, the manifest {expected_nodes}"
        )),
    }
}

/// `clean` removes the operation, the graph equals `before` and `stats` has no trace of it.
fn clean_restores(uri: &str, op: &str, c: &Client, before: &GraphDigest) -> Result<(), String> {
    let cl = json(&output(tenantgen().args([
        "clean",
        "--json",
        "--operation-id",
        op,
        "--uri",
        uri,
    ]))?)?;
    let after = graph_digest(c);
    let diff = before.diff(&after);
    if !diff.is_empty() {
        return Err(format!("after clean ({cl}) the graph differs: {diff}"));
    }
    match stats_nodes(uri, op)? {
        0 => Ok(()),
        n => Err(format!("after clean, stats still lists {n} nodes of {op}")),
    }
}

/// `cmd` (generate or run) with the strategy's flags, a pinned timestamp, into `dir`.
fn with_strategy<'c>(
    cmd: &'c mut assert_cmd::Command,
    s: &Strategy,
    dir: &Path,
) -> &'c mut assert_cmd::Command {
    cmd.args(["--force", "--timestamp", "2025-11-15T21:17:00Z"])
        .args(s.flags)
        .arg("--out")
        .arg(dir)
}

/// `generate` with the strategy's flags into `dir`; the manifest.
fn generate(dir: &Path, s: &Strategy) -> Result<Manifest, String> {
    output(with_strategy(
        tenantgen().args(["generate", "--quiet"]),
        s,
        dir,
    ))?;
    Manifest::read(dir).map_err(|e| e.to_string())
}

fn operation(m: &Manifest) -> (String, u64) {
    (
        m.operation.as_ref().unwrap().id.clone(),
        m.expected.as_ref().unwrap().operation_nodes,
    )
}

/// load → verify → stats → clean on the seed server; outcomes for load+verify, clean, stats.
fn through_load(
    dir: &Path,
    s: &Strategy,
    uri: &str,
    c: &Client,
    seed: &GraphDigest,
) -> [Result<(), String>; 3] {
    let m = match generate(dir, s) {
        Ok(m) => m,
        Err(e) => {
            return [
                Err(format!("generate: {e}")),
                Err("-".into()),
                Err("-".into()),
            ]
        }
    };
    let (op, nodes) = operation(&m);
    let loaded = output(tenantgen().args(["load", "--quiet", "--uri", uri]).arg(dir))
        .map_err(|e| format!("load: {e}"))
        .and_then(|_| {
            output(
                tenantgen()
                    .args(["verify", "--manifest"])
                    .arg(dir)
                    .args(["--uri", uri]),
            )
            .map(|_| ())
            .map_err(|e| format!("verify: {e}"))
        });
    let stats = stats_shows(uri, &op, nodes);
    let clean = clean_restores(uri, &op, c, seed);
    [loaded, clean, stats]
}

/// `load.cypher` as its header says: the `data` folder copied into the server's import
/// directory, every statement run on its own (auto-commit, as cypher-shell does), then `verify`
/// and `clean`; outcomes for load.cypher+verify and clean. The graph holds only the seed before.
fn through_load_csv(
    dir: &Path,
    import_dir: &Path,
    uri: &str,
    c: &Client,
    seed: &GraphDigest,
) -> [Result<(), String>; 2] {
    let Ok(m) = Manifest::read(dir) else {
        return [Err("no manifest".into()), Err("-".into())];
    };
    let (op, _) = operation(&m);
    let _ = std::fs::remove_dir_all(import_dir.join("data"));
    copy_dir(&dir.join("data"), &import_dir.join("data"));
    let script = std::fs::read_to_string(dir.join("load.cypher")).unwrap_or_default();
    let body: String = script
        .lines()
        .filter(|l| !l.starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let loaded = body
        .split(";\n")
        .map(str::trim)
        .filter(|st| !st.is_empty())
        .try_for_each(|st| c.run(st, &[]).map_err(|e| format!("load.cypher: {e}")))
        .and_then(|_| {
            output(tenantgen().arg("verify").arg(dir).args(["--uri", uri]))
                .map(|_| ())
                .map_err(|e| format!("verify: {e}"))
        });
    let clean = clean_restores(uri, &op, c, seed);
    [loaded, clean]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// `run --keep-running` → stats → clean, then the server is stopped; outcomes for run, clean,
/// stats.
fn through_run(dir: &Path, s: &Strategy, seed: &GraphDigest) -> [Result<(), String>; 3] {
    let doc =
        output(with_strategy(small_run().arg("--keep-running"), s, dir)).and_then(|t| json(&t));
    let doc = match doc {
        Ok(d) => d,
        Err(e) => return [Err(format!("run: {e}")), Err("-".into()), Err("-".into())],
    };
    let uri = doc["uri"].as_str().unwrap_or_default().to_string();
    let pid = doc["pid"].as_u64();
    let ran = if doc["passed"] == true && pid.is_some() {
        Ok(())
    } else {
        Err(format!("run: passed {} pid {:?}", doc["passed"], pid))
    };
    let op = doc["operation_id"].as_str().unwrap_or_default().to_string();
    let nodes = doc["expected"]["operation_nodes"].as_u64().unwrap_or(0);
    let stats = stats_shows(&uri, &op, nodes);
    let clean = clean_restores(&uri, &op, &local_client(&uri), seed);
    let stopped = stop(doc["instance"].as_str().unwrap_or_default(), pid);
    [ran.and(stopped), clean, stats]
}

/// Stops the server `run --keep-running` left, as a user does: `tenantgen stop INSTANCE`.
fn stop(instance: &str, pid: Option<u64>) -> Result<(), String> {
    output(tenantgen().args(["stop", instance]))?;
    let Some(pid) = pid else { return Ok(()) };
    // Gone once its new parent has reaped it.
    let t0 = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err(format!("stop: pid {pid} still there"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[test]
fn every_strategy_through_every_consumer() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_server = import_and_start(&seed_dir(), &tmp.path().join("seed"));
    let uri = seed_server.server.uri();
    let seed = graph_digest(&seed_server.client);
    let mut rows = Vec::new();
    for (k, s) in STRATEGIES.iter().enumerate() {
        let t0 = Instant::now();
        let [load, clean_load, stats_load] = through_load(
            &tmp.path().join(format!("load-{k}")),
            s,
            &uri,
            &seed_server.client,
            &seed,
        );
        let [load_csv, clean_csv] = through_load_csv(
            &tmp.path().join(format!("load-{k}")),
            &seed_server.instance.dir().join("import"),
            &uri,
            &seed_server.client,
            &seed,
        );
        let loaded_in = t0.elapsed();
        let [run, clean_run, stats_run] =
            through_run(&tmp.path().join(format!("run-{k}")), s, &seed);
        let stats = stats_load.and(stats_run);
        eprintln!(
            "matrix: {}: load column {:.1?}, run column {:.1?}",
            s.name,
            loaded_in,
            t0.elapsed() - loaded_in
        );
        rows.push((
            s.name,
            [run, load, clean_load, load_csv, clean_csv, clean_run, stats],
        ));
    }
    let mut table = format!("{:<40}", "strategy");
    for c in CONSUMERS {
        table += &format!(" {c:<17}");
    }
    table.push('\n');
    let mut failures = Vec::new();
    for (name, cells) in &rows {
        table += &format!("{name:<40}");
        for (c, cell) in CONSUMERS.iter().zip(cells) {
            table += &format!(" {:<17}", if cell.is_ok() { "ok" } else { "FAIL" });
            if let Err(e) = cell {
                failures.push(format!("{name} × {c}: {e}"));
            }
        }
        table.push('\n');
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{table}\n{}", failures.join("\n"));
}
