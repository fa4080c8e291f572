//! `tenantgen load`, `clean` and `stats` against a real server: a server holding only the seed
//! tenant is scaled in place with the seed ×10 (killed midway — `stats` and `verify` then call
//! it incomplete — and resumed), checked with the counts the bulk path gives, then the operation
//! is cleaned away again; a load whose first batch fails leaves an operation that has only its
//! load marker, which `clean` removes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tenantgen::manifest::Manifest;
use tenantgen::neo4j::{Client, Instance, InstanceOptions};

use crate::common::{generate_seed, import_and_start, local_client, neo_home, seed_dir, tenantgen};

const SEED_OPERATION: &str = "scale-20251111T191612-d2dcd199";

fn by_label(c: &Client) -> BTreeMap<String, i64> {
    c.rows(
        "MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c ORDER BY l",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get::<String>("l").unwrap(), r.get::<i64>("c").unwrap()))
    .collect()
}

fn by_rel_type(c: &Client) -> BTreeMap<String, i64> {
    c.rows(
        "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS c ORDER BY t",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get::<String>("t").unwrap(), r.get::<i64>("c").unwrap()))
    .collect()
}

fn count(c: &Client, q: &str) -> i64 {
    c.scalar_i64(q, &[]).unwrap()
}

/// The load markers in the graph.
fn markers(c: &Client) -> i64 {
    count(c, "MATCH (m:TenantgenLoad) RETURN count(m) AS c")
}

/// `tenantgen verify` of the generated directory `gen` against `uri`.
fn verify(gen: &Path, uri: &str) -> std::process::Output {
    tenantgen()
        .args(["verify", "--manifest"])
        .arg(gen)
        .args(["--uri", uri])
        .output()
        .unwrap()
}

/// The `stats --format json` row of operation `op`.
fn stats_row(uri: &str, op: &str) -> serde_json::Value {
    let s = json_of(tenantgen().args(["stats", "--format", "json", "--uri", uri]));
    s["by_operation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation_id"] == op)
        .unwrap_or_else(|| panic!("stats lists no operation {op}: {s}"))
        .clone()
}

fn json_of(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{cmd:?}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn assert_loaded(c: &Client, m: &Manifest) {
    let e = m.expected.as_ref().unwrap();
    assert_eq!(count(c, "MATCH (n) RETURN count(n) AS c"), e.nodes as i64);
    assert_eq!(
        count(c, "MATCH ()-[r]->() RETURN count(r) AS c"),
        e.relationships as i64
    );
    let want: BTreeMap<String, i64> = e
        .by_label
        .iter()
        .map(|(k, v)| (k.clone(), *v as i64))
        .collect();
    assert_eq!(by_label(c), want);
    let want: BTreeMap<String, i64> = e
        .by_rel_type
        .iter()
        .map(|(k, v)| (k.clone(), *v as i64))
        .collect();
    assert_eq!(by_rel_type(c), want);
    assert_eq!(
        count(
            c,
            "MATCH (n:Resource) WITH n.id AS id, count(*) AS c WHERE c > 1 RETURN count(*) AS c"
        ),
        0,
        "duplicate ids"
    );
    let op = &m.operation.as_ref().unwrap().id;
    assert_eq!(
        c.scalar_i64(
            "MATCH (n:Resource) WHERE n.scale_operation_id = $op RETURN count(n) AS c",
            &[("op", op.as_str().into())]
        )
        .unwrap(),
        e.operation_nodes as i64
    );
    // Typed values survive: a datetime stays a datetime, a boolean a boolean.
    assert_eq!(
        c.scalar_string(
            "MATCH (n:Synthetic) WHERE n.updated_at IS NOT NULL \
             RETURN valueType(n.updated_at) + '/' + valueType(n.synthetic) AS t LIMIT 1",
            &[]
        )
        .unwrap(),
        "ZONED DATETIME NOT NULL/BOOLEAN NOT NULL"
    );
}

/// The progress file's number of completed batches.
fn done_batches(dir: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(dir.join(tenantgen::load::PROGRESS_FILE)) else {
        return 0;
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    v["targets"]
        .as_object()
        .into_iter()
        .flat_map(|t| t.values())
        .flat_map(|t| t["done"].as_object().into_iter().flat_map(|d| d.values()))
        .map(|l| l.as_array().map_or(0, Vec::len))
        .sum()
}

#[test]
fn load_resumes_after_a_kill_then_clean_restores_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = import_and_start(&seed_dir(), &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let c = &loaded.client;

    // stats on the seed tenant.
    let s = json_of(tenantgen().args(["stats", "--format", "json", "--uri", &uri]));
    assert_eq!(s["totals"]["real_abstracted"], 2046, "{s}");
    assert_eq!(s["totals"]["synthetic"], 2046, "{s}");
    assert_eq!(s["totals"]["original"], 2216, "{s}");
    let ops = s["by_operation"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{s}");
    assert_eq!(ops[0]["operation_id"], SEED_OPERATION);
    assert_eq!(ops[0]["nodes"], 2046);
    let table = tenantgen().args(["stats", "--uri", &uri]).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains(SEED_OPERATION));
    let seed_labels = by_label(c);
    let seed_types = by_rel_type(c);
    let seed_total = count(c, "MATCH (n) RETURN count(n) AS c");

    let gen = tmp.path().join("gen");
    generate_seed(&gen, &[]);
    let m = Manifest::read(&gen).unwrap();
    let op = m.operation.as_ref().unwrap().id.clone();

    // Kill a small-batch load once some batches are recorded (or after 1 s at the latest)...
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tenantgen"))
        .args(["load", "--quiet", "--batch-size", "500", "--uri", &uri])
        .arg(&gen)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while done_batches(&gen) < 3 && t0.elapsed() < Duration::from_secs(20) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let partial = count(c, "MATCH (n) RETURN count(n) AS c");
    eprintln!(
        "load e2e: killed after {:.1?}, {} batches recorded, {} nodes in the graph",
        t0.elapsed(),
        done_batches(&gen),
        partial
    );

    // The operation is marked incomplete: stats says so and how to resume, verify fails first
    // on it, and the marker is in no total.
    let t_incomplete = Instant::now();
    let op_nodes = c
        .scalar_i64(
            "MATCH (n:Resource) WHERE n.scale_operation_id = $op RETURN count(n) AS c",
            &[("op", op.as_str().into())],
        )
        .unwrap();
    assert!(
        op_nodes > 0 && (op_nodes as u64) < m.expected.as_ref().unwrap().operation_nodes,
        "the kill should land part-way through the nodes: {op_nodes} in the graph"
    );
    assert_eq!(markers(c), 1);
    let resume = format!(
        "tenantgen load {} --uri {uri} --batch-size 500",
        gen.canonicalize().unwrap().display()
    );
    let row = stats_row(&uri, &op);
    assert_eq!(row["complete"], false, "{row}");
    assert_eq!(row["status"], "incomplete", "{row}");
    assert_eq!(row["nodes"], op_nodes, "{row}");
    assert_eq!(row["nodes_expected"], 18414, "{row}");
    assert_eq!(
        row["resume"],
        format!("incomplete — run `{resume}` again to resume"),
        "{row}"
    );
    let s = json_of(tenantgen().args(["stats", "--format", "json", "--uri", &uri]));
    assert_eq!(
        s["totals"]["nodes"],
        partial - 1,
        "the marker is no node: {s}"
    );
    let table = tenantgen().args(["stats", "--uri", &uri]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(&format!(
            "{op}: incomplete — run `{resume}` again to resume"
        )),
        "{table}"
    );
    let v = verify(&gen, &uri);
    let vt = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{vt}");
    // The table's first check, after the scope line (a part-loaded graph's totals are not the
    // manifest's) and the header.
    let first = vt
        .lines()
        .skip_while(|l| l.starts_with("scope: "))
        .nth(1)
        .unwrap_or_default();
    assert!(
        first.starts_with("FAIL  load.complete") && first.contains(&resume),
        "{vt}"
    );
    // Exporting it now would make a baseline holding part of the operation: refused.
    let exported = tmp.path().join("exported");
    let e = tenantgen()
        .args(["export", "--uri", &uri, "--out"])
        .arg(&exported)
        .output()
        .unwrap();
    let et = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2), "{et}");
    assert!(
        et.contains(&format!("incomplete load of operation {op}")) && et.contains(&resume),
        "{et}"
    );
    assert!(!exported.exists());
    eprintln!(
        "load e2e: incomplete operation checked in {:.1?}",
        t_incomplete.elapsed()
    );

    // ...then resume to completion, skipping what the record holds.
    let recorded = done_batches(&gen);
    let r = json_of(
        tenantgen()
            .args(["load", "--json", "--batch-size", "500", "--uri", &uri])
            .arg(&gen),
    );
    eprintln!("load e2e: resumed: {r}");
    assert_eq!(r["skipped_batches"], recorded as u64, "{r}");
    assert_eq!(r["operation_id"], op.as_str());
    assert!(r["notes"].to_string().contains("incomplete since"), "{r}");
    assert_eq!(markers(c), 0, "a complete load removes its marker");
    assert_eq!(stats_row(&uri, &op)["status"], "complete");
    assert_loaded(c, &m);

    // verify agrees (it is the bulk path's check).
    let v = verify(&gen, &uri);
    assert!(
        v.status.success(),
        "verify after load failed:\n{}\n{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );

    // A load whose first batch fails (the same seed under another operation id: every id is
    // taken by this one) leaves an operation with only its marker: stats lists it, clean
    // removes it and nothing else.
    let t_other = Instant::now();
    let e = m.expected.as_ref().unwrap();
    let other = "scale-other-ids-taken";
    let gen_other = tmp.path().join("gen-other");
    generate_seed(&gen_other, &["--operation-id", other]);
    let failed = tenantgen()
        .args(["load", "--quiet", "--batch-size", "500", "--uri", &uri])
        .arg(&gen_other)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{err}");
    assert!(err.contains("already belong"), "{err}");
    let row = stats_row(&uri, other);
    assert_eq!(
        (row["nodes"].clone(), row["status"].clone()),
        (0.into(), "incomplete".into()),
        "{row}"
    );
    assert_eq!(
        count(c, "MATCH (n) RETURN count(n) AS c"),
        e.nodes as i64 + 1
    );
    let cl = json_of(tenantgen().args(["clean", "--json", "--operation-id", other, "--uri", &uri]));
    assert_eq!(
        (cl["deleted_nodes"].clone(), cl["deleted_markers"].clone()),
        (0.into(), 1.into()),
        "{cl}"
    );
    assert_eq!(markers(c), 0);
    assert_loaded(c, &m);
    eprintln!(
        "load e2e: marker-only operation checked in {:.1?}",
        t_other.elapsed()
    );

    // The record goes with success; a second complete run finds the operation there and sends
    // and creates nothing.
    assert!(!gen.join(tenantgen::load::PROGRESS_FILE).exists());
    let again = json_of(
        tenantgen()
            .args(["load", "--json", "--uri", &uri])
            .arg(&gen),
    );
    assert_eq!(
        (
            again["already_loaded"].clone(),
            again["nodes"].clone(),
            again["relationships_created"].clone(),
            again["nodes_present"].clone()
        ),
        (true.into(), 0.into(), 0.into(), 18414.into()),
        "{again}"
    );
    assert_loaded(c, &m);

    // clean: refuses a bad id, a dry run deletes nothing, then only this operation goes.
    let bad = tenantgen()
        .args(["clean", "--operation-id", "x' OR 1=1", "--uri", &uri])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let dry = json_of(tenantgen().args([
        "clean",
        "--json",
        "--dry-run",
        "--operation-id",
        &op,
        "--uri",
        &uri,
    ]));
    assert_eq!(dry["before"]["operation_nodes"], 18414, "{dry}");
    assert_eq!(
        dry["before"]["operation_relationships"],
        m.expected.as_ref().unwrap().operation_relationships,
        "{dry}"
    );
    assert_eq!(
        count(c, "MATCH (n) RETURN count(n) AS c"),
        m.expected.as_ref().unwrap().nodes as i64
    );
    let cl = json_of(tenantgen().args(["clean", "--json", "--operation-id", &op, "--uri", &uri]));
    assert_eq!(cl["deleted_nodes"], 18414, "{cl}");
    assert_eq!(cl["after"]["operation_nodes"], 0, "{cl}");
    assert_eq!(by_label(c), seed_labels);
    assert_eq!(by_rel_type(c), seed_types);
    assert_eq!(count(c, "MATCH (n) RETURN count(n) AS c"), seed_total);
    let s = json_of(tenantgen().args(["stats", "--format", "json", "--uri", &uri]));
    assert_eq!(s["by_operation"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["by_operation"][0]["nodes"], 2046, "{s}");

    // A second clean (or a typo in the id) names nothing: an error, not "deleted 0".
    let again = tenantgen()
        .args(["clean", "--operation-id", &op, "--uri", &uri])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "no operation {op} in the graph; operations present: {SEED_OPERATION}"
        )) && err.contains("tenantgen stats"),
        "{err}"
    );
}

#[test]
fn load_refuses_a_graph_without_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    generate_seed(&gen, &[]);
    let inst = Instance::create(&tmp.path().join("inst"), InstanceOptions::default()).unwrap();
    let server = inst.start(&neo_home()).unwrap();
    let out = tenantgen()
        .args(["load", "--quiet", "--uri", &server.uri()])
        .arg(&gen)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("baseline") && err.contains("absent"), "{err}");
    let c = local_client(&server.uri());
    assert_eq!(count(&c, "MATCH (n) RETURN count(n) AS c"), 0);
}

/// The names of the graph's indexes and constraints, sorted.
fn schema_names(c: &Client) -> Vec<String> {
    let mut v: Vec<String> = c
        .rows(
            "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .chain(
            c.rows("SHOW CONSTRAINTS YIELD name RETURN name", &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<String>("name").unwrap()),
        )
        .collect();
    v.sort();
    v.dedup();
    v
}

fn names(v: &serde_json::Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// On a small graph (the mini baseline, ×2 loaded over Bolt) holding an index of the user's on
/// one of the keys `load` indexes: `load` says what it created and what it found, a second
/// `load` says `already loaded` and changes nothing, `clean` keeps tenantgen's schema and says
/// so, `clean --drop-schema` (with the operation, or alone once it is gone) drops exactly
/// tenantgen's and the user's index survives.
#[test]
fn load_reports_its_schema_a_rerun_is_already_loaded_and_clean_drops_only_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = import_and_start(&crate::common::mini_baseline(), &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let c = &loaded.client;
    c.run(
        "CREATE INDEX user_sop FOR (r:Resource) ON (r.scale_operation_id)",
        &[],
    )
    .unwrap();
    c.run("CALL db.awaitIndexes(60)", &[]).unwrap();
    let user_schema = schema_names(c);
    let baseline = crate::common::graph_digest(c);
    let gen = tmp.path().join("gen");
    crate::common::generate_mini(&gen, "3");
    let m = Manifest::read(&gen).unwrap();
    let op = m.operation.as_ref().unwrap().id.clone();
    let op_nodes = m.expected.as_ref().unwrap().operation_nodes;

    // First load: tenantgen's objects created under their names, the user's found and used.
    let first = json_of(
        tenantgen()
            .args(["load", "--json", "--uri", &uri])
            .arg(&gen),
    );
    let created = names(&first["schema"]["created"]);
    assert!(
        created.contains(&"tenantgen_resource_id_unique".to_string())
            && created.contains(&"tenantgen_resource_synthetic".to_string())
            && created.iter().all(|n| n.starts_with("tenantgen_")),
        "{first}"
    );
    assert_eq!(names(&first["schema"]["present"]), ["user_sop"], "{first}");
    assert_eq!(first["already_loaded"], false, "{first}");
    assert_eq!(first["nodes"], op_nodes, "{first}");
    let mut want = user_schema.clone();
    want.extend(created.iter().cloned());
    want.sort();
    assert_eq!(schema_names(c), want);
    let after_load = crate::common::graph_digest(c);

    // Second load: nothing sent, nothing created, counts unchanged.
    let again = tenantgen()
        .args(["load", "--uri", &uri])
        .arg(&gen)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        text.starts_with(&format!(
            "already loaded: 0 created, {op_nodes} present (operation {op} in {uri})"
        )),
        "{text}"
    );
    let again = json_of(
        tenantgen()
            .args(["load", "--json", "--uri", &uri])
            .arg(&gen),
    );
    assert_eq!(
        (
            again["already_loaded"].clone(),
            again["nodes"].clone(),
            again["nodes_present"].clone()
        ),
        (true.into(), 0.into(), op_nodes.into()),
        "{again}"
    );
    assert!(names(&again["schema"]["created"]).is_empty(), "{again}");
    assert_eq!(crate::common::graph_digest(c).diff(&after_load), "");
    assert_eq!(schema_names(c), want);

    // clean without --drop-schema: the graph is the baseline again, tenantgen's schema stays
    // and the summary says how to drop it.
    let cl = tenantgen()
        .args(["clean", "--operation-id", &op, "--uri", &uri])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cl.stdout);
    assert!(
        cl.status.success(),
        "{}",
        String::from_utf8_lossy(&cl.stderr)
    );
    assert!(
        text.contains(&format!("schema: tenantgen's {} remain (", created.len()))
            && text.contains("tenantgen_resource_id_unique")
            && text.contains("--drop-schema` drops them"),
        "{text}"
    );
    assert_eq!(crate::common::graph_digest(c).diff(&baseline), "");
    assert_eq!(schema_names(c), want);

    // Load again (the schema is all there now), then clean --drop-schema: tenantgen's go, the
    // user's index stays, the graph is the baseline.
    let third = json_of(
        tenantgen()
            .args(["load", "--json", "--uri", &uri])
            .arg(&gen),
    );
    assert!(names(&third["schema"]["created"]).is_empty(), "{third}");
    let mut present = created.clone();
    present.push("user_sop".into());
    present.sort();
    assert_eq!(names(&third["schema"]["present"]), present, "{third}");
    let cl = json_of(tenantgen().args([
        "clean",
        "--json",
        "--drop-schema",
        "--operation-id",
        &op,
        "--uri",
        &uri,
    ]));
    assert_eq!(names(&cl["dropped_schema"]), created, "{cl}");
    assert!(names(&cl["schema_remaining"]).is_empty(), "{cl}");
    assert_eq!(schema_names(c), user_schema);
    assert_eq!(crate::common::graph_digest(c).diff(&baseline), "");

    // After the last operation is gone, `clean --drop-schema` alone drops tenantgen's schema
    // (a dry run first lists it).
    let fourth = json_of(
        tenantgen()
            .args(["load", "--json", "--uri", &uri])
            .arg(&gen),
    );
    assert_eq!(names(&fourth["schema"]["created"]), created, "{fourth}");
    json_of(tenantgen().args(["clean", "--json", "--operation-id", &op, "--uri", &uri]));
    let dry = tenantgen()
        .args(["clean", "--dry-run", "--drop-schema", "--uri", &uri])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success() && text.contains("would be dropped") && text.contains("dry run"),
        "{text}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(schema_names(c), want);
    let cl = json_of(tenantgen().args(["clean", "--json", "--drop-schema", "--uri", &uri]));
    assert_eq!(names(&cl["dropped_schema"]), created, "{cl}");
    assert_eq!(schema_names(c), user_schema);
    let none = tenantgen()
        .args(["clean", "--drop-schema", "--uri", &uri])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&none.stdout),
        "schema: no constraint or index of tenantgen's in the graph\n"
    );
    assert_eq!(crate::common::graph_digest(c).diff(&baseline), "");
}
