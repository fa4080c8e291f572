//! `tenantgen verify` against the real Neo4j: the seed tenant ×10 in the default and the
//! ATG-compatible mode passes; every corruption of the matrix (applied to one loaded server and
//! undone in place) fails with the check that names it; an operation with no node in the graph
//! fails; after loads into a graph in use, the operation scope checks each operation alone.
//! Three server starts in all.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use tenantgen::manifest::Manifest;
use tenantgen::neo4j::Client;

use crate::common::{generate_seed, import_and_start, tenantgen};

/// Runs `tenantgen verify --json` and returns its exit code and document.
fn verify_json(manifest: &Path, uri: &str, extra: &[&str]) -> (i32, Value) {
    let output = tenantgen()
        .args(["verify", "--quiet", "--json", "--uri", uri, "--manifest"])
        .arg(manifest)
        .args(extra)
        .output()
        .expect("tenantgen runs");
    let code = output.status.code().expect("exit code");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "verify (exit {code}) printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (code, doc)
}

fn failed_names(doc: &Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn assert_all_passed(code: i32, doc: &Value, what: &str) {
    assert_eq!(code, 0, "{what}: verify failed: {:#}", doc);
    assert_eq!(doc["passed"], true, "{what}");
    assert!(
        failed_names(doc).is_empty(),
        "{what}: {:?}",
        failed_names(doc)
    );
    assert!(doc["checks"].as_array().unwrap().len() >= 20, "{what}");
}

fn scalar(client: &Client, cypher: &str, params: &[(&str, &str)]) -> String {
    let p: Vec<(&str, neo4rs::BoltType)> = params.iter().map(|(k, v)| (*k, (*v).into())).collect();
    client
        .scalar_string(cypher, &p)
        .unwrap_or_else(|e| panic!("{cypher}: {e}"))
}

fn count(client: &Client, cypher: &str) -> i64 {
    client
        .scalar_i64(cypher, &[])
        .unwrap_or_else(|e| panic!("{cypher}: {e}"))
}

fn run(client: &Client, cypher: &str, params: &[(&str, &str)]) {
    let p: Vec<(&str, neo4rs::BoltType)> = params.iter().map(|(k, v)| (*k, (*v).into())).collect();
    client
        .run(cypher, &p)
        .unwrap_or_else(|e| panic!("{cypher}: {e}"));
}

/// One corruption: what it does, how to undo it, and the check that must catch it.
struct Corruption {
    name: &'static str,
    apply: &'static str,
    undo: &'static str,
    check: &'static str,
}

#[test]
fn verify_default_mode_passes_and_catches_every_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gen");
    // Without hierarchy links some copies have no relationship: deleting one and recreating it
    // from a sibling restores the graph exactly (the links are verified by the matrix and the
    // shape test).
    generate_seed(&dir, &["--no-hierarchy"]);
    let loaded = import_and_start(&dir, &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let c = &loaded.client;
    let op = loaded.manifest.operation.as_ref().unwrap().id.clone();

    let t0 = Instant::now();
    let (code, doc) = verify_json(&dir, &uri, &[]);
    eprintln!("verify default mode (first run): {:.2?}", t0.elapsed());
    assert_all_passed(code, &doc, "default mode");
    assert_eq!(doc["operation_id"], op.as_str());

    // The table form, and a manifest directory or file both accepted.
    let out = tenantgen()
        .args(["verify", "--quiet", "--uri", &uri, "--manifest"])
        .arg(dir.join("manifest.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("PASSED: "), "{table}");
    assert!(table.contains("properties.fidelity"), "{table}");

    // Fixed actors: the first copy in id order (always in the fidelity sample), its base, an
    // isolated copy, one synthetic edge, an Original and a real abstracted node of another kind.
    let first = scalar(
        c,
        "MATCH (n) WHERE n.scale_operation_id = $op RETURN n.id AS id ORDER BY id LIMIT 1",
        &[("op", &op)],
    );
    let base = scalar(
        c,
        "MATCH (n {id: $id}) RETURN n.template_source_id AS b",
        &[("id", &first)],
    );
    let isolated = scalar(
        c,
        "MATCH (n:Synthetic) WHERE n.scale_operation_id = $op AND n.id <> $first AND NOT (n)--() \
         RETURN n.id AS id ORDER BY id LIMIT 1",
        &[("op", &op), ("first", &first)],
    );
    let (edge_start, edge_end) = {
        let rows = c
            .rows(
                "MATCH (a)-[r:CONTAINS]->(b) WHERE r.scale_operation_id = $op \
                 RETURN a.id AS a, b.id AS b ORDER BY a, b LIMIT 1",
                &[("op", op.as_str().into())],
            )
            .unwrap();
        (
            rows[0].get::<String>("a").unwrap(),
            rows[0].get::<String>("b").unwrap(),
        )
    };
    let other_kind = scalar(
        c,
        "MATCH (a {id: $a}), (n:Resource) WHERE NOT n:Original AND coalesce(n.synthetic, false) <> true \
         AND n.type <> a.type RETURN n.id AS id ORDER BY id LIMIT 1",
        &[("a", &edge_end)],
    );
    let original = scalar(
        c,
        "MATCH (n:Original) RETURN n.id AS id ORDER BY id LIMIT 1",
        &[],
    );
    let strategy = scalar(
        c,
        "MATCH (n {id: $id}) RETURN n.generation_strategy AS s",
        &[("id", &first)],
    );
    let location = scalar(
        c,
        "MATCH (n {id: $id}) RETURN n.location AS l",
        &[("id", &first)],
    );
    let isolated_name = scalar(
        c,
        "MATCH (n {id: $id}) RETURN n.name AS n",
        &[("id", &isolated)],
    );
    let isolated_base = scalar(
        c,
        "MATCH (n {id: $id}) RETURN n.template_source_id AS n",
        &[("id", &isolated)],
    );
    let params: Vec<(&str, &str)> = vec![
        ("op", &op),
        ("first", &first),
        ("base", &base),
        ("isolated", &isolated),
        ("isolated_name", &isolated_name),
        ("isolated_base", &isolated_base),
        ("a", &edge_start),
        ("b", &edge_end),
        ("other", &other_kind),
        ("original", &original),
        ("strategy", &strategy),
        ("location", &location),
    ];

    let matrix = [
        Corruption {
            name: "a deleted synthetic node",
            apply: "MATCH (n {id: $isolated}) DETACH DELETE n",
            // Its siblings (same base, same operation) hold every other property.
            undo: "MATCH (s) WHERE s.scale_operation_id = $op AND s.template_source_id = $isolated_base \
                   WITH s LIMIT 1 CREATE (n:Resource:Synthetic) SET n = properties(s), \
                   n.id = $isolated, n.name = $isolated_name",
            check: "operation.nodes",
        },
        Corruption {
            name: "a deleted synthetic edge",
            apply: "MATCH ({id: $a})-[r:CONTAINS]->({id: $b}) DELETE r",
            undo: "MATCH (a {id: $a}), (b {id: $b}) \
                   CREATE (a)-[:CONTAINS {synthetic: true, scale_operation_id: $op}]->(b)",
            check: "operation.relationships",
        },
        Corruption {
            name: "a removed marker",
            apply: "MATCH (n {id: $first}) REMOVE n.generation_strategy",
            undo: "MATCH (n {id: $first}) SET n.generation_strategy = $strategy",
            check: "operation.markers",
        },
        Corruption {
            name: "an added :Original label",
            apply: "MATCH (n {id: $first}) SET n:Original",
            undo: "MATCH (n {id: $first}) REMOVE n:Original",
            check: "operation.no_original",
        },
        Corruption {
            name: "an added SCAN_SOURCE_NODE",
            apply: "MATCH (n {id: $first}), (o:Original {id: $original}) \
                    CREATE (n)-[:SCAN_SOURCE_NODE {confidence: 'exact'}]->(o)",
            undo: "MATCH ({id: $first})-[s:SCAN_SOURCE_NODE]->() DELETE s",
            check: "operation.no_scan_link",
        },
        Corruption {
            name: "a duplicated id",
            apply: "MATCH (n {id: $isolated}) SET n.id = $first",
            undo: "MATCH (n {id: $first}) WHERE n.name = $isolated_name SET n.id = $isolated",
            check: "resource.id_unique",
        },
        Corruption {
            name: "a changed base property",
            apply: "MATCH (n:Resource {id: $base}) WHERE NOT n:Original SET n.location = 'mars'",
            undo: "MATCH (n:Resource {id: $base}) WHERE NOT n:Original SET n.location = $location",
            check: "properties.fidelity",
        },
        Corruption {
            name: "a relationship moved to another node",
            apply: "MATCH (a {id: $a})-[r:CONTAINS]->({id: $b}), (o {id: $other}) \
                    CREATE (a)-[r2:CONTAINS]->(o) SET r2 = properties(r) DELETE r",
            undo: "MATCH (a {id: $a})-[r:CONTAINS]->({id: $other}), (b {id: $b}) \
                   CREATE (a)-[r2:CONTAINS]->(b) SET r2 = properties(r) DELETE r",
            check: "counts.by_pattern",
        },
        Corruption {
            name: "a marker with the wrong operation id",
            apply: "MATCH (n {id: $isolated}) SET n.scale_operation_id = 'scale-20000101T000000-00000000'",
            undo: "MATCH (n {id: $isolated}) SET n.scale_operation_id = $op",
            check: "operation.nodes",
        },
        Corruption {
            name: "a copy's property changed",
            apply: "MATCH (n {id: $first}) SET n.location = 'mars'",
            undo: "MATCH (n {id: $first}) SET n.location = $location",
            check: "properties.fidelity",
        },
        Corruption {
            name: "a copy with an extra label",
            apply: "MATCH (n {id: $first}) SET n:Extra",
            undo: "MATCH (n {id: $first}) REMOVE n:Extra",
            check: "operation.labels",
        },
    ];
    let mut missed = Vec::new();
    for k in &matrix {
        run(c, k.apply, &params);
        let t = Instant::now();
        let (code, doc) = verify_json(&dir, &uri, &[]);
        let failed = failed_names(&doc);
        eprintln!(
            "corruption {:?}: exit {code}, failed {failed:?} ({:.2?})",
            k.name,
            t.elapsed()
        );
        if code != 1 || !failed.iter().any(|f| f == k.check) {
            missed.push(format!(
                "{}: exit {code}, expected {} among failed {failed:?}",
                k.name, k.check
            ));
        }
        run(c, k.undo, &params);
        let (code, doc) = verify_json(&dir, &uri, &[]);
        assert_all_passed(code, &doc, &format!("after undoing {}", k.name));
    }
    assert!(missed.is_empty(), "corruptions not caught: {missed:#?}");

    // A load marker of the operation (what an interrupted `load` leaves) fails the first check
    // and only that one: the marker is in none of the counts.
    run(
        c,
        "CREATE (:TenantgenLoad {operation_id: $op, started_at: datetime(), dir: '/g', batch_size: 500})",
        &params,
    );
    let (code, doc) = verify_json(&dir, &uri, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(failed_names(&doc), ["load.complete"], "{doc:#}");
    assert_eq!(doc["checks"][0]["name"], "load.complete", "{doc:#}");
    let detail = doc["checks"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "incomplete — run `tenantgen load /g --uri {uri} --batch-size 500` again to resume"
        )),
        "{detail}"
    );
    run(c, "MATCH (m:TenantgenLoad) DELETE m", &params);
}

#[test]
fn verify_atg_mode_matches_the_seed_run_and_fails_on_an_empty_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("atg");
    generate_seed(&dir, &["--atg-compat"]);
    let loaded = import_and_start(&dir, &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let c = &loaded.client;

    let t0 = Instant::now();
    let (code, doc) = verify_json(&dir, &uri, &[]);
    eprintln!("verify ATG mode (first run): {:.2?}", t0.elapsed());
    assert_all_passed(code, &doc, "ATG mode");
    let t0 = Instant::now();
    let (code, doc) = verify_json(&dir, &uri, &["--sample", "100000"]);
    eprintln!("verify ATG mode, every copy compared: {:.2?}", t0.elapsed());
    assert_all_passed(code, &doc, "ATG mode, full sample");

    // The seed run's numbers (ATG reference §8), in the live graph.
    assert_eq!(count(c, "MATCH (n) RETURN count(n)"), 25_755);
    assert_eq!(
        count(c, "MATCH (n:Resource) WHERE NOT n:Original RETURN count(n)"),
        22_506
    );
    assert_eq!(
        count(c, "MATCH (n) WHERE n.synthetic = true RETURN count(n)"),
        20_460
    );
    assert_eq!(count(c, "MATCH ()-[r]->() RETURN count(r)"), 10_632);

    // The default-mode manifest (under the same operation id) does not describe this graph.
    let atg_op = loaded.manifest.operation.as_ref().unwrap().id.clone();
    let default_dir = tmp.path().join("default");
    generate_seed(&default_dir, &["--operation-id", &atg_op]);
    let (code, doc) = verify_json(&default_dir, &uri, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(!failed_names(&doc).is_empty());

    // An operation with no node in the graph is an error naming the ones present, even when
    // the manifest expects none.
    let mut m = Manifest::read(&dir).unwrap();
    let op = m.operation.as_mut().unwrap();
    op.id = "scale-20000101T000000-00000000".into();
    let e = m.expected.as_mut().unwrap();
    e.operation_nodes = 0;
    e.operation_by_type.clear();
    let empty = tmp.path().join("empty-op.json");
    m.write(&empty).unwrap();
    let (code, doc) = verify_json(&empty, &uri, &[]);
    assert_eq!(code, 2, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "no operation scale-20000101T000000-00000000 in the graph; operations present: "
        ) && message.contains(&format!("{atg_op};")),
        "{doc:#}"
    );

    // Errors exit 2: a missing manifest, a server that does not answer.
    let out = tenantgen()
        .args(["verify", "--quiet", "--uri", &uri, "--manifest"])
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = tenantgen()
        .args([
            "verify",
            "--quiet",
            "--uri",
            "bolt://127.0.0.1:9",
            "--password",
            "s3cret-pw",
            "--manifest",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bolt://127.0.0.1:9"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

/// Generates the mini baseline ×`factor` with its own seed and timestamp (so each operation has
/// its own ids) into `out`; returns the operation id.
fn generate_op(out: &Path, factor: &str, seed: &str, timestamp: &str) -> String {
    let o = tenantgen()
        .args([
            "generate",
            "--quiet",
            "--scale-factor",
            factor,
            "--seed",
            seed,
        ])
        .args(["--timestamp", timestamp, "--baseline"])
        .arg(crate::common::mini_baseline())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Manifest::read(out).unwrap().operation.unwrap().id
}

fn load(dir: &Path, uri: &str) {
    let o = tenantgen()
        .args(["load", "--quiet", "--uri", uri])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A graph in use — the baseline, unrelated nodes of the user's, two earlier operations —
/// takes a third by `load`: `verify` checks it in the operation scope (picked and said), passes,
/// and passes for the earlier ones too; `--scope graph` does not (the graph holds more than the
/// manifest); a relationship taken from an operation fails its relationship checks only;
/// `clean` of the third gives back the graph before it, node for node.
#[test]
fn verify_after_load_into_a_graph_in_use_checks_the_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let loaded = import_and_start(&crate::common::mini_baseline(), &tmp.path().join("inst"));
    let uri = loaded.server.uri();
    let c = &loaded.client;
    run(
        c,
        "CREATE (:Thing {name: 'a'})-[:LINKS {w: 1}]->(:Thing {name: 'b'}), (:Thing:Other)",
        &[],
    );
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let third = tmp.path().join("c");
    let op_a = generate_op(&a, "3", "1", "2025-11-15T21:17:00Z");
    let op_b = generate_op(&b, "2", "2", "2025-11-16T21:17:00Z");
    let op_c = generate_op(&third, "4", "3", "2025-11-17T21:17:00Z");
    load(&a, &uri);
    load(&b, &uri);
    let before = crate::common::graph_digest(c);
    load(&third, &uri);

    for (dir, op) in [(&third, &op_c), (&a, &op_a), (&b, &op_b)] {
        let (code, doc) = verify_json(dir, &uri, &[]);
        assert_eq!(code, 0, "{op}: {:?}\n{doc:#}", failed_names(&doc));
        assert_eq!(doc["scope"], "operation", "{doc:#}");
        assert!(
            doc["scope_note"]
                .as_str()
                .unwrap_or_default()
                .contains("other data is in it"),
            "{doc:#}"
        );
        let names: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        for want in [
            "operation.by_label",
            "operation.by_rel_type",
            "operation.by_pattern",
            "operation.relationships",
            "resource.id_unique",
            "baseline.real_abstracted",
            "properties.fidelity",
        ] {
            assert!(names.contains(&want), "{want} missing: {names:?}");
        }
        assert!(!names.contains(&"totals.nodes"), "{names:?}");
    }
    let (code, doc) = verify_json(&third, &uri, &["--scope", "graph"]);
    assert_eq!(code, 1, "{doc:#}");
    assert!(
        failed_names(&doc).contains(&"totals.nodes".to_string()),
        "{doc:#}"
    );
    let out = tenantgen()
        .args(["verify", "--uri", &uri])
        .arg(&third)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.starts_with("scope: operation (the graph holds ")
            && text.contains(&format!("(operation {op_c}, scope operation, ")),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // clean of C gives back the graph before its load, node for node.
    let out = tenantgen()
        .args(["clean", "--quiet", "--operation-id", &op_c, "--uri", &uri])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(crate::common::graph_digest(c).diff(&before), "");

    // One of B's relationships gone: B's relationship checks fail, nothing else; A passes.
    run(
        c,
        "MATCH ()-[r]->() WHERE r.scale_operation_id = $op WITH r LIMIT 1 DELETE r",
        &[("op", op_b.as_str())],
    );
    let (code, doc) = verify_json(&b, &uri, &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(
        failed_names(&doc),
        [
            "operation.by_rel_type",
            "operation.by_pattern",
            "operation.relationships"
        ],
        "{doc:#}"
    );
    let (code, doc) = verify_json(&a, &uri, &[]);
    assert_eq!(code, 0, "{:?}", failed_names(&doc));
}
