//! Smoke tests of `tenantgen::neo4j` against the real Neo4j: start a server, import a tiny
//! hand-written directory with `neo4j-admin`, read every value back over Bolt.

use std::path::Path;
use std::time::Instant;

use tenantgen::neo4j::{ImportRequest, ImportTotals, Instance, InstanceOptions, NeoHome};

use crate::common::{local_client, neo_home, write_file};

#[test]
fn server_starts_and_answers_return_1() {
    let home = neo_home();
    let tmp = tempfile::tempdir().unwrap();
    let inst = Instance::create(tmp.path(), InstanceOptions::default()).unwrap();
    let t0 = Instant::now();
    let server = inst.start(&home).unwrap();
    let client = local_client(&server.uri());
    assert_eq!(client.scalar_i64("RETURN 1 AS one", &[]).unwrap(), 1);
    eprintln!(
        "neo4j smoke: server on {} (pid {}) answered RETURN 1 after {:.1?}",
        server.uri(),
        server.pid(),
        t0.elapsed()
    );
    assert_eq!(
        client
            .scalar_i64("RETURN $x + 1 AS y", &[("x", 41_i64.into())])
            .unwrap(),
        42
    );
    drop(client);
    server.stop().unwrap();
}

/// Node header: one column per case. Row t1 leaves the `*_none` columns empty (unquoted) and
/// has `""` in `empty_quoted`; row t2 has `""` in the `string[]` column `tags_none`.
const THING_HEADER: &str = "id:ID(Thing),:LABEL,name:string,size:long,ok:boolean,at:datetime,\
tags:string[],path:string,empty_quoted:string,absent:string,tags_none:string[],at_none:datetime,\
size_none:long\n";

const THING_DATA: &str = concat!(
    "t1,Thing;Extra,\"He said \"\"hi\"\", then left — naïve ✓ 日本\",42,true,2024-05-06T07:08:09.123Z,",
    "a;b c;d,C:\\dir\\,\"\",,,,\n",
    "t2,Thing,plain,-9007199254740993,false,2023-01-02T03:04:05+02:00,solo,x,x,present,\"\",",
    "2020-02-29T23:59:59[Europe/Stockholm],7\n",
);

fn write_tiny_import(dir: &Path) {
    write_file(dir, "hdr/thing.csv", THING_HEADER);
    write_file(dir, "data/thing-0.csv", THING_DATA);
    write_file(
        dir,
        "hdr/owns.csv",
        ":START_ID(Thing),:END_ID(Thing),weight:long\n",
    );
    write_file(dir, "data/owns-0.csv", "t1,t2,7\n");
    write_file(
        dir,
        "import.args",
        "--nodes=hdr/thing.csv,data/thing-0.csv\n\
         --relationships=OWNS=hdr/owns.csv,data/owns-0.csv\n",
    );
}

#[test]
fn tiny_import_round_trips_every_value() {
    let home = neo_home();
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    write_tiny_import(&gen);
    let inst = Instance::create(&tmp.path().join("inst"), InstanceOptions::default()).unwrap();
    assert!(!inst.has_database());

    let req = ImportRequest {
        workdir: gen.clone(),
        argfile: "import.args".into(),
        overwrite: false,
        threads: 2,
        max_off_heap: "1G".into(),
        heap: "1g".into(),
        jvm_flags: None,
        progress: false,
        totals: ImportTotals::default(),
    };
    let report = inst.import(&home, &req).unwrap();
    eprintln!(
        "neo4j smoke: imported {} nodes, {} relationships, {} properties in {:.1?}",
        report.nodes, report.relationships, report.properties, report.elapsed
    );
    assert_eq!((report.nodes, report.relationships), (2, 1));
    // t1: id name size ok at tags path empty_quoted = 8; t2: 11 (tags_none `""` is not stored);
    // the relationship: weight = 1.
    assert_eq!(report.properties, 8 + 11 + 1, "{}", report.log);
    assert!(report.log.contains("IMPORT DONE"));
    assert!(inst.has_database());

    // A second import without overwrite is refused before the importer runs.
    let again = inst.import(&home, &req).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");

    let server = inst.start(&home).unwrap();
    let client = local_client(&server.uri());

    // Which properties exist, with which type: absent keys were not stored at all.
    let rows = client
        .rows(
            "MATCH (n:Thing) UNWIND keys(n) AS k \
             RETURN n.id AS id, k AS key, valueType(n[k]) AS t ORDER BY id, key",
            &[],
        )
        .unwrap();
    let stored: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.get::<String>("id").unwrap(),
                r.get::<String>("key").unwrap(),
                r.get::<String>("t").unwrap()
            )
        })
        .collect();
    let expected = [
        "t1 at ZONED DATETIME NOT NULL",
        "t1 empty_quoted STRING NOT NULL",
        "t1 id STRING NOT NULL",
        "t1 name STRING NOT NULL",
        "t1 ok BOOLEAN NOT NULL",
        "t1 path STRING NOT NULL",
        "t1 size INTEGER NOT NULL",
        "t1 tags LIST<STRING NOT NULL> NOT NULL",
        "t2 absent STRING NOT NULL",
        "t2 at ZONED DATETIME NOT NULL",
        "t2 at_none ZONED DATETIME NOT NULL",
        "t2 empty_quoted STRING NOT NULL",
        "t2 id STRING NOT NULL",
        "t2 name STRING NOT NULL",
        "t2 ok BOOLEAN NOT NULL",
        "t2 path STRING NOT NULL",
        "t2 size INTEGER NOT NULL",
        "t2 size_none INTEGER NOT NULL",
        "t2 tags LIST<STRING NOT NULL> NOT NULL",
    ];
    assert_eq!(stored, expected);

    let q = "MATCH (n:Thing {id: $id}) RETURN n.name AS name, n.size AS size, n.ok AS ok, \
             toString(n.at) AS at, n.tags AS tags, n.path AS path, n.empty_quoted AS eq, \
             n.empty_quoted = '' AS eq_is_empty, n.absent IS NULL AS absent_null, \
             n.tags_none IS NULL AS tags_none_null, n.at_none IS NULL AS at_none_null, \
             n.size_none IS NULL AS size_none_null, labels(n) AS labels";
    let t1 = client.rows(q, &[("id", "t1".into())]).unwrap();
    let t1 = &t1[0];
    assert_eq!(
        t1.get::<String>("name").unwrap(),
        "He said \"hi\", then left — naïve ✓ 日本"
    );
    assert_eq!(t1.get::<i64>("size").unwrap(), 42);
    assert!(t1.get::<bool>("ok").unwrap());
    assert_eq!(t1.get::<String>("at").unwrap(), "2024-05-06T07:08:09.123Z");
    assert_eq!(t1.get::<Vec<String>>("tags").unwrap(), ["a", "b c", "d"]);
    assert_eq!(t1.get::<String>("path").unwrap(), "C:\\dir\\");
    assert_eq!(t1.get::<String>("eq").unwrap(), "");
    assert!(t1.get::<bool>("eq_is_empty").unwrap(), "\"\" imports as ''");
    assert!(
        t1.get::<bool>("absent_null").unwrap(),
        "empty field: no property"
    );
    assert!(t1.get::<bool>("tags_none_null").unwrap());
    assert!(t1.get::<bool>("at_none_null").unwrap());
    assert!(t1.get::<bool>("size_none_null").unwrap());
    let mut labels = t1.get::<Vec<String>>("labels").unwrap();
    labels.sort();
    assert_eq!(labels, ["Extra", "Thing"]);

    let t2 = client.rows(q, &[("id", "t2".into())]).unwrap();
    let t2 = &t2[0];
    assert_eq!(t2.get::<String>("name").unwrap(), "plain");
    assert_eq!(t2.get::<i64>("size").unwrap(), -9_007_199_254_740_993);
    assert!(!t2.get::<bool>("ok").unwrap());
    assert_eq!(t2.get::<String>("at").unwrap(), "2023-01-02T03:04:05+02:00");
    assert_eq!(t2.get::<Vec<String>>("tags").unwrap(), ["solo"]);
    assert!(
        t2.get::<bool>("tags_none_null").unwrap(),
        "\"\" in a string[] column: no property"
    );
    assert_eq!(
        client
            .scalar_string("MATCH (n:Thing {id: 't2'}) RETURN toString(n.at_none)", &[])
            .unwrap(),
        "2020-02-29T23:59:59+01:00[Europe/Stockholm]"
    );

    let rel = client
        .rows(
            "MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, r.weight AS w, b.id AS b",
            &[],
        )
        .unwrap();
    assert_eq!(rel.len(), 1);
    assert_eq!(rel[0].get::<String>("a").unwrap(), "t1");
    assert_eq!(rel[0].get::<String>("t").unwrap(), "OWNS");
    assert_eq!(rel[0].get::<i64>("w").unwrap(), 7);
    assert_eq!(rel[0].get::<String>("b").unwrap(), "t2");
    assert_eq!(
        client.scalar_i64("MATCH (n) RETURN count(n)", &[]).unwrap(),
        2
    );

    drop(client);
    server.stop().unwrap();
}

#[test]
fn failed_import_names_the_bad_row() {
    let home = neo_home();
    let tmp = tempfile::tempdir().unwrap();
    let gen = tmp.path().join("gen");
    write_tiny_import(&gen);
    write_file(&gen, "data/owns-0.csv", "t1,t9,7\n");
    let inst = Instance::create(&tmp.path().join("inst"), InstanceOptions::default()).unwrap();
    let req = ImportRequest {
        workdir: gen,
        argfile: "import.args".into(),
        overwrite: false,
        threads: 2,
        max_off_heap: "1G".into(),
        heap: "1g".into(),
        jvm_flags: None,
        progress: false,
        totals: ImportTotals::default(),
    };
    let err = inst.import(&home, &req).unwrap_err().to_string();
    assert!(err.contains("referring to missing node t9"), "{err}");
    assert!(err.contains("import full neo4j failed"), "{err}");
}

#[test]
fn missing_home_tells_how_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("no-such-neo4j");
    let err = NeoHome::locate(Some(&bad)).unwrap_err().to_string();
    assert!(err.contains("scripts/neo4j install"), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");

    // A directory that exists but is not a home.
    let err = NeoHome::locate(Some(tmp.path())).unwrap_err().to_string();
    assert!(err.contains("scripts/neo4j install"), "{err}");
}
