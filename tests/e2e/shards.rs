//! Shards that combine, as docs/sharding.md's recipe runs them (this test is its simulation):
//! four workers generate `--shard K/4` as separate processes into separate directories (no
//! shared state but the inputs), one `tenantgen import DIR…` imports them into one database
//! with the real neo4j-admin, and `verify`, `stats` and `clean --dry-run` work on it; the graph
//! equals the unsharded run's (every node and relationship, [`graph_digest`]), taken from the
//! unsharded import's `--dump` archive loaded into a fresh instance by the real
//! `neo4j-admin database load` (which verifies too). `merge` writes the unsharded directory
//! (the same files byte for byte, the same `import.args`).
//! A missing, duplicated or foreign shard, a shard alone and a combination without
//! `--data-dir` are refused with the golden messages of `tests/golden/shards/` (plan
//! fingerprints written `{plan}`/`{foreign}`, the temporary directory `{tmp}`; accept new ones
//! with `UPDATE_GOLDEN=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    graph_digest, local_client, mini_baseline, neo_home, tenantgen, tree, GraphDigest, SIZES,
};

/// The plan every worker runs: the mini baseline ×120 in parts of 40 rows (a dozen parts).
const PLAN: [&str; 8] = [
    "--scale-factor",
    "120",
    "--part-rows",
    "40",
    "--seed",
    "5",
    "--timestamp",
    "2025-11-15T21:17:00Z",
];

fn generate_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["generate", "--quiet", "--baseline"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(mini_baseline().display().to_string());
    a.extend(PLAN.iter().map(|s| s.to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("--out".into());
    a.push(out.display().to_string());
    a
}

/// Runs `tenantgen` with `args`; panics with its stderr unless it exits 0.
fn ok(args: &[String]) -> String {
    let o = tenantgen().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "tenantgen {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Imports with the CLI (sizes of a shared test machine), starts the server and takes the
/// digest; the server stops when the returned one is dropped.
fn import_digest(
    import: &[String],
    instance: &Path,
) -> (GraphDigest, String, tenantgen::neo4j::Server) {
    let mut args = import.to_vec();
    args.extend(s(&SIZES));
    args.extend(["--data-dir".into(), p(instance)]);

    let stdout = ok(&args);
    let inst = tenantgen::neo4j::Instance::open(instance, None).unwrap();
    let server = inst.start(&neo_home()).unwrap();
    let client = local_client(&server.uri());
    let digest = graph_digest(&client);
    (digest, stdout, server)
}

#[test]
fn four_worker_processes_combine_into_the_unsharded_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let whole = t.join("whole");
    ok(&generate_args(&whole, &[]));

    // The workers: separate processes, started together, each with its own output directory.
    let bin = assert_cmd::cargo::cargo_bin("tenantgen");
    let shards: Vec<PathBuf> = (1..=4).map(|k| t.join(format!("shard-{k}"))).collect();
    let workers: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, out)| {
            Command::new(&bin)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(generate_args(out, &["--shard", &format!("{}/4", i + 1)]))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    // Only a whole plan gets an argfile: a shard's could not work.
    for d in &shards {
        assert!(!d.join("import.args").exists(), "{}", d.display());
    }
    // The orchestrator's view: the dry run's part list is what the shards wrote, shard K of
    // N holding the parts whose index % N is K - 1.
    let mut dry = generate_args(&t.join("unused"), &["--dry-run", "--json"]);
    dry.retain(|a| a != "--quiet");
    let planned: serde_json::Value = serde_json::from_str(&ok(&dry)).unwrap();
    let parts = planned["parts"].as_array().unwrap();
    assert!(parts.len() >= 8, "{} parts", parts.len());
    assert_eq!(planned["part_count"], parts.len());
    for (k, d) in shards.iter().enumerate() {
        let m = tenantgen::manifest::Manifest::read(d).unwrap();
        let mut have: Vec<String> = m
            .node_groups
            .iter()
            .filter(|g| g.origin == tenantgen::manifest::Origin::Synthetic)
            .flat_map(|g| &g.files)
            .chain(
                m.relationship_groups
                    .iter()
                    .filter(|g| g.origin == tenantgen::manifest::Origin::Synthetic)
                    .flat_map(|g| &g.files),
            )
            .map(|f| f.path.clone())
            .collect();
        have.sort();
        let mut want: Vec<String> = parts
            .iter()
            .filter(|p| p["index"].as_u64().unwrap() % 4 == k as u64)
            .map(|p| p["path"].as_str().unwrap().to_string())
            .collect();
        want.sort();
        assert_eq!(have, want, "shard {}", k + 1);
    }

    // The unsharded run, imported with a dump hand-off: the archive, loaded into a fresh
    // instance by the real `neo4j-admin database load`, verifies, and its graph is the one the
    // shards must make.
    let dump = t.join("tenant.dump");
    let mut args = s(&["import", &p(&whole), "--dump", &p(&dump)]);
    args.extend(s(&SIZES));
    args.extend(["--data-dir".into(), p(&t.join("whole.neo4j"))]);
    let out = ok(&args);
    assert!(
        out.contains("neo4j-admin database load neo4j --from-stdin"),
        "{out}"
    );
    let o = tenantgen().args(&args).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "a second dump to the same file");
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists"));
    let fresh = tenantgen::neo4j::Instance::create(
        &t.join("loaded.neo4j"),
        tenantgen::neo4j::InstanceOptions {
            port: None,
            heap: "512m".into(),
            pagecache: "128m".into(),
            database: "neo4j".into(),
            jvm_flags: None,
        },
    )
    .unwrap();
    let home = neo_home();
    let load = Command::new(home.admin())
        .args([
            "database",
            "load",
            "neo4j",
            "--from-stdin",
            "--overwrite-destination",
        ])
        .env("NEO4J_HOME", &home.path)
        .env("NEO4J_CONF", fresh.conf_dir())
        .stdin(std::fs::File::open(&dump).unwrap())
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "neo4j-admin database load: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let server = fresh.start(&home).unwrap();
    let want = graph_digest(&local_client(&server.uri()));
    assert!(want.nodes.len() > 300, "{} nodes", want.nodes.len());
    let o = tenantgen()
        .args(["verify", "--quiet", &p(&whole), "--uri", &server.uri()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "verify of the loaded dump");
    drop(server);

    // One import of all four (named by a pattern, as a shell glob would), then the user's
    // workflow on it: verify, stats, clean.
    let combined = t.join("combined.neo4j");
    let mut import = s(&["import", "--shards"]);
    import.push(format!("{}/shard-*", t.display()));
    let (got, out, server) = import_digest(&import, &combined);
    assert_eq!(got.diff(&want), "", "combined import differs");
    let uri = server.uri();
    assert!(
        out.contains("combined 4 shards") && out.contains("tenantgen verify"),
        "{out}"
    );
    let o = tenantgen()
        .args(["verify", "--quiet", &p(&combined), "--uri", &uri])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "verify of the combined import: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let stats = ok(&s(&["stats", "--json", "--uri", &uri]));
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["totals"]["nodes"], want.nodes.len() as u64, "{stats}");
    let m = tenantgen::manifest::Manifest::read(&combined).unwrap();
    let op = m.operation.unwrap().id;
    let clean = ok(&s(&[
        "clean",
        "--json",
        "--dry-run",
        "--operation-id",
        &op,
        "--uri",
        &uri,
    ]));
    let clean: serde_json::Value = serde_json::from_str(&clean).unwrap();
    assert_eq!(
        clean["before"]["operation_nodes"],
        m.expected.unwrap().operation_nodes,
        "{clean}"
    );
    drop(server);

    // merge: the unsharded directory, file for file (load.cypher aside) with the same
    // import.args, so it imports as the unsharded one does.
    let merged = t.join("merged");
    let mut args = s(&["merge"]);
    args.extend(shards.iter().map(|d| p(d)));
    args.extend(["--out".into(), p(&merged)]);
    let out = ok(&args);
    assert!(out.contains("neo4j-admin database import full"), "{out}");
    assert_eq!(tree(&merged, &[]), tree(&whole, &["load.cypher"]));
    let mut json_args = args.clone();
    json_args.extend(["--json".into(), "--force".into()]);
    let argv: Vec<&str> = json_args.iter().map(String::as_str).collect();
    let doc = crate::json::document(&argv, 0, "merge", "merge");
    assert_eq!(doc["plan"], m_plan(&shards[0]));

    // The refusals, each before anything is written.
    let foreign = t.join("foreign-3");
    ok(&generate_args(
        &foreign,
        &["--shard", "3/4", "--compress", "gz"],
    ));
    let sh = |k: usize| p(&shards[k - 1]);
    let data_dir = p(&t.join("refused.neo4j"));
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "missing",
            s(&["import", &sh(1), &sh(2), &sh(4), "--data-dir", &data_dir]),
        ),
        (
            "duplicate",
            s(&[
                "import",
                &sh(1),
                &sh(2),
                &sh(3),
                &sh(3),
                &sh(4),
                "--data-dir",
                &data_dir,
            ]),
        ),
        (
            "foreign",
            s(&[
                "import",
                &sh(1),
                &sh(2),
                &p(&foreign),
                &sh(4),
                "--data-dir",
                &data_dir,
            ]),
        ),
        ("alone", s(&["import", &sh(2), "--data-dir", &data_dir])),
        (
            "no-data-dir",
            s(&["import", &sh(1), &sh(2), &sh(3), &sh(4)]),
        ),
        (
            "merge-not-a-shard",
            s(&["merge", &sh(1), &p(&whole), "--out", &p(&t.join("m2"))]),
        ),
    ];
    let plan = m_plan(&shards[0]);
    let foreign_plan = m_plan(&foreign);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/shards");
    for (name, args) in cases {
        let o = tenantgen().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&o.stderr)
            .replace(&p(t), "{tmp}")
            .replace(&plan, "{plan}")
            .replace(&foreign_plan, "{foreign}");
        let file = golden.join(format!("{name}.stderr.txt"));
        if update {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&file, &stderr).unwrap();
        } else {
            let want = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 to write)", file.display()));
            assert_eq!(
                stderr, want,
                "{name}: stderr differs (UPDATE_GOLDEN=1 to accept)"
            );
        }
        assert!(!t.join("refused.neo4j").exists() && !t.join("m2").exists());
    }
}

fn m_plan(dir: &Path) -> String {
    tenantgen::manifest::Manifest::read(dir)
        .unwrap()
        .shard
        .unwrap()
        .plan
}
