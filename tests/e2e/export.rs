//! `tenantgen export` against the real Neo4j: the seed tenant survives export → import → export
//! byte-identical with every property's type, and what the format cannot hold is refused in one
//! error naming each node's id and property (two servers, one at a time). A graph of odd data —
//! nodes without `id`, duplicated and integer ids, durations, 2D and 3D points in both
//! reference systems, lists, a label and a type with a space — exports with warnings, and the
//! export is a baseline `run` verifies and `load` scales the odd graph from (two more servers).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use tenantgen::baseline::Baseline;
use tenantgen::export::{export, ExportConfig, DEFAULT_BATCH};
use tenantgen::neo4j::Client;

use crate::common::{import_and_start, mini_baseline, seed_dir, small_run, tenantgen};

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

    // Nodes without an `id`: keyed by derived keys (a hash of their labels and properties);
    // the id column is then `:ID(Space)` (not stored), and relationships point at the keys.
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
    let warnings: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("node :Zone: 2 without an `id`")),
        "{warnings:#?}"
    );
    let derived = Baseline::open(&e4).unwrap_or_else(|e| panic!("E4 does not load: {e}"));
    assert_eq!(derived.counts.nodes, 7_345);
    let read = |rel: &str| std::fs::read_to_string(e4.join(rel)).unwrap();
    assert_eq!(
        read("headers/zone.csv"),
        ":ID(Zone),at:datetime,code:string\n"
    );
    let zones = read("data/zone.part-0000.csv");
    let zl: Vec<&str> = zones.lines().collect();
    assert_eq!(zl.len(), 2, "{zones}");
    assert!(
        zl[0].starts_with("derived:")
            && zl[0].ends_with(",2020-02-29T23:59:59+01:00[Europe/Stockholm],z1"),
        "{zones}"
    );
    assert!(
        zl[1].starts_with("derived:") && zl[1].ends_with(",,z2"),
        "{zones}"
    );
    let z1 = zl[0].split(',').next().unwrap();
    assert_eq!(read("headers/blob.csv"), ":ID(Blob),a:double,b:string[]\n");
    let links = read("data/links.zone.blob.part-0000.csv");
    let lines: Vec<&str> = links.lines().collect();
    assert_eq!(lines.len(), 3, "{links}");
    assert!(
        lines[0].starts_with(&format!("{z1},derived:")) && lines[0].ends_with(",1"),
        "{links}"
    );
    assert!(
        lines[1].starts_with(&format!("{z1},derived:")) && lines[1].ends_with(",2"),
        "{links}"
    );
    assert!(
        lines[2].starts_with("derived:") && lines[2].ends_with(','),
        "{links}"
    );
    c.run("MATCH (n) WHERE n:Zone OR n:Blob DETACH DELETE n", &[])
        .unwrap();

    // What the format cannot hold is refused, every problem in one error, each naming the
    // node's id and the property.
    c.run(
        "CREATE (:Probe {id: 'p-empty', tags: []}), (:Probe {id: 'p-semi', tags: ['a;b']}), \
                (:Probe {id: 'p-list', v: ['x']}), (:Probe {id: 'p-scalar', v: 'y'}), \
                (:`Bad:Label` {id: 'p-label'})",
        &[],
    )
    .unwrap();
    let out = tmp.path().join("refused");
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
        err.starts_with("the graph cannot be exported as it is (4 problems):"),
        "{err}"
    );
    for want in [
        "\"p-empty\": property \"tags\" is an empty list",
        "\"p-semi\": property \"tags\" holds an empty string or an element with ';'",
        "property \"v\" is a list on some nodes and a single value on others",
        "label \"Bad:Label\" cannot be exported",
    ] {
        assert!(err.contains(want), "{want} missing in {err}");
    }
    assert!(!out.exists(), "a refused export leaves no directory");
    c.run("MATCH (n) WHERE n:Probe OR n:`Bad:Label` DELETE n", &[])
        .unwrap();
    drop(second);
}

/// The odd graph: the mini baseline plus nodes and relationships real tenants have.
const ODD: &str = "\
    MATCH (vm:Resource {id: 'vm-1'}) \
    CREATE (d1:Resource {id: 'r-dup', name: 'dup-a', type: 'Microsoft.Compute/disks', location: 'eastus', size: 1}), \
           (d2:Resource {id: 'r-dup', name: 'dup-b', type: 'Microsoft.Compute/disks', location: 'eastus', size: 2}), \
           (n1:Resource {name: 'no-id', type: 'Microsoft.Compute/virtualMachines', location: 'westus', size: 5, \
                         ttl: duration('P1Y2M3DT4H5M6.5S'), flat: point({x: 1.5, y: -2.0}), \
                         deep: point({x: 1.0, y: 2.0, z: 3.0}), \
                         geo: point({longitude: 12.5, latitude: 56.25}), \
                         geo3: point({longitude: 12.5, latitude: 56.25, height: 100.0}), \
                         zones: ['1', '2'], weights: [1.5, 2.25], counts: [1, 2, 3], \
                         seen: datetime('2025-01-02T03:04:05Z')}), \
           (i1:Resource {id: 42, name: 'int-id', type: 'Microsoft.Network/networkInterfaces', location: 'eastus', size: 7}), \
           (t1:`Odd Label`:Thing {code: 't1'}), (t2:Thing {id: 7, code: 't2'}), (t3:Thing {id: 't-str', code: 't3'}), \
           (n1)-[:`USES IT` {since: duration('P1D'), at: point({x: 1.0, y: 2.0}), tags: ['a', 'b']}]->(t1), \
           (d1)-[:`USES IT` {since: duration('PT1H')}]->(t2), (d2)-[:`USES IT`]->(t3), \
           (i1)-[:CONTAINS]->(n1), (vm)-[:CONTAINS]->(d1)";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn odd_data_exports_with_warnings_and_runs_and_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let odd = import_and_start(&mini_baseline(), &tmp.path().join("odd"));
    let uri = odd.server.uri();
    let c = &odd.client;
    c.run(ODD, &[]).unwrap();
    let before = counts(c);

    // Export: every problem worked around, each with a warning.
    let x = tmp.path().join("x");
    let o = tenantgen()
        .args(["export", "--uri", &uri, "--out"])
        .arg(&x)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "export failed:\n{err}");
    for want in [
        "warning: node :Resource: 1 without an `id`, 2 whose `id` another node of the ID space has too (\"r-dup\"), 1 whose `id` is not a string",
        "warning: node :Thing: 1 whose `id` is not a string",
        "warning: node :Odd Label:Thing: 1 without an `id`",
        "warning: node :Resource: property \"id\" has different types",
    ] {
        assert!(err.contains(want), "{want:?} missing in:\n{err}");
    }
    let read = |rel: &str| {
        std::fs::read_to_string(x.join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}; the export holds {:?}", files(&x).keys()))
    };
    let header = read("headers/resource.csv");
    assert!(header.starts_with(":ID(Resource),"), "{header}");
    for col in [
        "id:string",
        "ttl:duration",
        "flat:point",
        "geo3:point",
        "counts:long[]",
        "weights:double[]",
        "seen:datetime",
    ] {
        assert!(header.contains(col), "{col} missing in {header}");
    }
    assert_eq!(
        read("headers/odd_label.thing.csv"),
        ":ID(Odd_Label),code:string\n"
    );
    let data = read("data/resource.part-0000.csv");
    assert!(data.starts_with("subnet-1,"), "{data}");
    assert!(data.contains("{crs:cartesian,x:1.5,y:-2.0}"), "{data}");
    assert!(
        data.contains("{crs:wgs-84-3d,x:12.5,y:56.25,z:100.0}"),
        "{data}"
    );
    assert!(data.contains(",P1Y2M3DT4H5M6.5S,"), "{data}");
    let keyed = |tail: &str, id: &str| {
        data.lines()
            .filter(|l| l.starts_with("derived:") && l.split(',').next().unwrap().ends_with(tail))
            .filter(|l| l.contains(&format!(",{id},")))
            .count()
    };
    assert_eq!(keyed(":r-dup", "r-dup"), 2, "{data}");
    assert_eq!(keyed(":42", "42"), 1, "{data}");

    // generate → run on that baseline: imported, verified, fidelity and sources pass.
    let g = tmp.path().join("g");
    let o = tenantgen()
        .args(["generate", "--quiet", "--scale-factor", "2"])
        .args(["--timestamp", "2025-11-15T21:17:00Z", "--baseline"])
        .arg(&x)
        .arg("--out")
        .arg(&g)
        .output()
        .unwrap();
    assert!(o.status.success(), "generate failed:\n{}", stderr(&o));
    let args = std::fs::read_to_string(g.join("import.args")).unwrap();
    assert!(
        args.contains("\"--nodes=Odd Label:Thing=baseline/headers/odd_label.thing.csv"),
        "{args}"
    );
    assert!(args.contains("\"--relationships=USES IT="), "{args}");
    let o = small_run()
        .args(["--scale-factor", "2", "--timestamp", "2025-11-15T21:17:00Z"])
        .arg("--baseline")
        .arg(&x)
        .arg("--out")
        .arg(tmp.path().join("job"))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON document ({e}):\n{}", stderr(&o)));
    assert_eq!(
        o.status.code(),
        Some(0),
        "run failed:\n{doc:#}\n{}",
        stderr(&o)
    );
    let passed = |doc: &serde_json::Value, name: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ch| ch["name"] == name && ch["passed"] == true)
    };
    for check in ["properties.fidelity", "operation.template_source"] {
        assert!(passed(&doc["verify"], check), "{check}: {doc:#}");
    }

    // load into the odd graph itself → verify.
    let o = tenantgen()
        .args(["load", "--quiet", "--uri", &uri])
        .arg(&g)
        .output()
        .unwrap();
    assert!(o.status.success(), "load failed:\n{}", stderr(&o));
    let o = tenantgen()
        .args(["verify", "--json", "--uri", &uri])
        .arg(&g)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON document ({e}):\n{}", stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "verify failed:\n{v:#}");
    for check in ["properties.fidelity", "operation.template_source"] {
        assert!(passed(&v, check), "{check}: {v:#}");
    }
    // The copy of the node without an id kept its types and its edge to the node without one.
    let t = |q: &str| c.scalar_string(q, &[]).unwrap();
    assert_eq!(
        t("MATCH (c:Resource {synthetic: true}) WHERE c.template_source_id STARTS WITH 'derived:' \
           AND c.flat IS NOT NULL RETURN DISTINCT valueType(c.geo3) + ' ' + valueType(c.ttl)"),
        "POINT NOT NULL DURATION NOT NULL"
    );
    assert_eq!(
        c.scalar_i64(
            "MATCH (c:Resource {synthetic: true})-[:`USES IT`]->(:`Odd Label` {code: 't1'}) \
             RETURN count(c)",
            &[]
        )
        .unwrap(),
        1
    );
    let after = counts(c);
    assert!(
        after.0 > before.0 && after.1 > before.1,
        "{before:?} → {after:?}"
    );
}
