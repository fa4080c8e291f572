//! `tenantgen export` against the real Neo4j: the seed tenant survives export → import → export
//! byte-identical with every property's type, and a property the format cannot hold is refused
//! with the node's id and the property's name. Everything runs in one test so that only two
//! servers start (one at a time).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tenantgen::baseline::Baseline;
use tenantgen::export::{export, ExportConfig, DEFAULT_BATCH};
use tenantgen::neo4j::Client;

use crate::common::{import_and_start, seed_dir, tenantgen};

/// Every (labels, key, valueType) of nodes and (type, key, valueType) of relationships, with
/// counts: equal on two servers means every property kept its type.
fn type_profile(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for (cypher, what) in [
        (
            "MATCH (n) UNWIND keys(n) AS k \
             RETURN labels(n) AS l, k AS key, valueType(n[k]) AS t, count(*) AS c",
            "node",
        ),
        (
            "MATCH ()-[r]->() UNWIND keys(r) AS k \
             RETURN [type(r)] AS l, k AS key, valueType(r[k]) AS t, count(*) AS c",
            "rel",
        ),
    ] {
        for row in client.rows(cypher, &[]).unwrap() {
            let mut labels: Vec<String> = row.get("l").unwrap();
            labels.sort();
            out.push(format!(
                "{what} {} {} {} {}",
                labels.join(":"),
                row.get::<String>("key").unwrap(),
                row.get::<String>("t").unwrap(),
                row.get::<i64>("c").unwrap()
            ));
        }
    }
    out.sort();
    out
}

/// Relative path → bytes of every file under `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn counts(client: &Client) -> (i64, i64) {
    (
        client.scalar_i64("MATCH (n) RETURN count(n)", &[]).unwrap(),
        client
            .scalar_i64("MATCH ()-[r]->() RETURN count(r)", &[])
            .unwrap(),
    )
}

#[test]
fn seed_round_trips_byte_identical_and_unsupported_types_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let e1 = tmp.path().join("e1");
    let e2 = tmp.path().join("e2");

    // Server 1: the seed tenant. Export it with the binary (E1).
    let first = import_and_start(&seed_dir(), &tmp.path().join("inst1"));
    assert_eq!(counts(&first.client), (7_341, 6_825));
    let profile1 = type_profile(&first.client);
    let t0 = Instant::now();
    let out = tenantgen()
        .args(["export", "--uri", &first.server.uri(), "--out"])
        .arg(&e1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "export: seed tenant exported in {:.2?} (binary, warm-up included)",
        t0.elapsed()
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("exported 7,341 nodes") && summary.contains("6,825 relationships"),
        "{summary}"
    );
    // An existing directory is refused without --force.
    let again = tenantgen()
        .args(["export", "--uri", &first.server.uri(), "--out"])
        .arg(&e1)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    drop(first);

    let baseline = Baseline::open(&e1).unwrap_or_else(|e| panic!("E1 does not load: {e}"));
    assert_eq!(baseline.counts.nodes, 7_341);
    assert_eq!(baseline.counts.relationships, 6_825);
    assert_eq!(baseline.manifest.kind, tenantgen::manifest::Kind::Baseline);
    for g in &baseline.manifest.node_groups {
        assert!(g
            .files
            .iter()
            .all(|f| f.bytes.is_some() && f.xxh3.is_some()));
    }
    let names: Vec<&str> = baseline
        .manifest
        .node_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert!(names.contains(&"resource.original"), "{names:?}");
    let resource = baseline
        .node_groups
        .iter()
        .find(|g| g.meta.name == "resource")
        .unwrap();
    let header = resource.header.line();
    assert!(header.starts_with("id:ID(Resource),"), "{header}");
    for col in ["updated_at:datetime", "zones:string[]", "synthetic:boolean"] {
        assert!(header.contains(col), "{col} missing in {header}");
    }

    // Server 2: E1 imported. Export it with the library (E2): identical bytes, same types.
    let second = import_and_start(&e1, &tmp.path().join("inst2"));
    assert_eq!(counts(&second.client), (7_341, 6_825));
    assert_eq!(type_profile(&second.client), profile1);
    let cfg = ExportConfig {
        out: e2.clone(),
        force: false,
        batch: DEFAULT_BATCH,
        progress: false,
    };
    let t0 = Instant::now();
    let report = export(&second.client, &cfg).unwrap();
    eprintln!(
        "export: seed tenant exported in {:.2?} (library, {} node groups, {} relationship groups)",
        t0.elapsed(),
        report.node_groups.len(),
        report.relationship_groups.len()
    );
    assert_eq!((report.nodes, report.relationships), (7_341, 6_825));
    let (f1, f2) = (files(&e1), files(&e2));
    assert_eq!(f1.keys().collect::<Vec<_>>(), f2.keys().collect::<Vec<_>>());
    for (path, bytes) in &f1 {
        assert!(bytes == &f2[path], "{path} differs between E1 and E2");
    }
    // Small pages give the same bytes as one page per group.
    let e3 = tmp.path().join("e3");
    export(
        &second.client,
        &ExportConfig {
            out: e3.clone(),
            force: false,
            batch: 97,
            progress: false,
        },
    )
    .unwrap();
    assert!(files(&e3) == f1, "--batch-size 97 changed the output");

    // Per-type spot checks on the re-imported graph.
    let c = &second.client;
    let t = |q: &str| c.scalar_string(q, &[]).unwrap();
    assert_eq!(
        t("MATCH (n:Resource) WHERE n.updated_at IS NOT NULL RETURN DISTINCT valueType(n.updated_at)"),
        "ZONED DATETIME NOT NULL"
    );
    assert_eq!(
        t("MATCH (n:Resource) WHERE n.zones IS NOT NULL RETURN DISTINCT valueType(n.zones)"),
        "LIST<STRING NOT NULL> NOT NULL"
    );
    assert_eq!(
        t("MATCH (n:Resource) WHERE n.synthetic IS NOT NULL RETURN DISTINCT valueType(n.synthetic)"),
        "BOOLEAN NOT NULL"
    );

    // Nodes without an `id`: keyed by `code` (unique) or by a hash of their properties; the id
    // column is then `:ID(Space)` (not stored), and relationships point at the derived ids.
    c.run(
        "CREATE (z1:Zone {code: 'z1', at: datetime('2020-02-29T23:59:59[Europe/Stockholm]')}), \
                (z2:Zone {code: 'z2'}), (b1:Blob {a: 1.5, b: ['x', 'y']}), (b2:Blob {a: 0.1}) \
         CREATE (z1)-[:LINKS {w: 1}]->(b1), (z1)-[:LINKS {w: 2}]->(b1), (z2)-[:LINKS]->(b2)",
        &[],
    )
    .unwrap();
    let e4 = tmp.path().join("e4");
    let report = export(
        c,
        &ExportConfig {
            out: e4.clone(),
            force: false,
            batch: DEFAULT_BATCH,
            progress: false,
        },
    )
    .unwrap();
    assert_eq!((report.nodes, report.relationships), (7_345, 6_828));
    let derived = Baseline::open(&e4).unwrap_or_else(|e| panic!("E4 does not load: {e}"));
    assert_eq!(derived.counts.nodes, 7_345);
    let read = |rel: &str| std::fs::read_to_string(e4.join(rel)).unwrap();
    assert_eq!(
        read("headers/zone.csv"),
        ":ID(Zone),at:datetime,code:string\n"
    );
    assert_eq!(
        read("data/zone.part-0000.csv"),
        "Zone:z1,2020-02-29T23:59:59+01:00[Europe/Stockholm],z1\nZone:z2,,z2\n"
    );
    assert_eq!(read("headers/blob.csv"), ":ID(Blob),a:double,b:string[]\n");
    let links = read("data/links.zone.blob.part-0000.csv");
    let lines: Vec<&str> = links.lines().collect();
    assert_eq!(lines.len(), 3, "{links}");
    assert!(
        lines[0].starts_with("Zone:z1,Blob:") && lines[0].ends_with(",1"),
        "{links}"
    );
    assert!(
        lines[1].starts_with("Zone:z1,Blob:") && lines[1].ends_with(",2"),
        "{links}"
    );
    assert!(
        lines[2].starts_with("Zone:z2,Blob:") && lines[2].ends_with(','),
        "{links}"
    );
    c.run("MATCH (n) WHERE n:Zone OR n:Blob DETACH DELETE n", &[])
        .unwrap();

    // Unsupported types are refused with the node's id and the property's name.
    for (id, value, ty) in [
        ("probe-point", "point({x: 1.0, y: 2.0})", "POINT"),
        ("probe-duration", "duration('P1D')", "DURATION"),
    ] {
        c.run(
            &format!("CREATE (:Probe {{id: $id, odd: {value}}})"),
            &[("id", id.into())],
        )
        .unwrap();
        let out = tmp.path().join(id);
        let err = export(
            c,
            &ExportConfig {
                out: out.clone(),
                force: false,
                batch: DEFAULT_BATCH,
                progress: false,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!("{id:?}")) && err.contains("\"odd\"") && err.contains(ty),
            "{err}"
        );
        assert!(!out.exists(), "a refused export leaves no directory");
        c.run("MATCH (n:Probe) DELETE n", &[]).unwrap();
    }
    drop(second);
}
