//! `tenantgen run`: the whole job on the seed tenant, against the real importer and server.

use crate::common::small_run;

#[test]
fn run_on_the_seed_tenant_verifies_and_reports_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("job");
    let output = small_run()
        .args(["--timestamp", "2025-11-15T21:17:00Z", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "run failed:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(doc["passed"], true, "{doc:#}");
    assert_eq!(doc["running"], false);
    assert_eq!(doc["imported"]["nodes"], 25_755);
    assert_eq!(doc["imported"]["relationships"], 6_825 + 81_666);
    crate::json::check_document(&doc, "run", "run");
    for stage in ["generate", "import", "server_start", "verify"] {
        assert!(
            doc["stages"][stage].as_f64().is_some(),
            "stage {stage} missing: {doc:#}"
        );
    }
    // The instance stays on disk, stopped, next to the output.
    assert!(out
        .with_file_name("job.neo4j")
        .join("data/databases/neo4j")
        .is_dir());
}

#[test]
fn run_from_a_live_graph_exports_it_first() {
    let tmp = tempfile::tempdir().unwrap();
    let source =
        crate::common::import_and_start(&crate::common::seed_dir(), &tmp.path().join("source"));
    let out = tmp.path().join("job");
    let output = small_run()
        .args(["--atg-compat", "--from-uri", &source.server.uri(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "run failed:\n{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(doc["passed"], true, "{doc:#}");
    // The seed run's numbers, from an exported baseline this time.
    assert_eq!(doc["imported"]["nodes"], 25_755);
    assert_eq!(doc["imported"]["relationships"], 10_632);
    assert!(doc["stages"]["export"].as_f64().is_some(), "{doc:#}");
    assert!(out
        .with_extension("baseline")
        .join("manifest.json")
        .is_file());
}
