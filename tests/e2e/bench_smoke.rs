//! `scripts/bench` cannot rot: a tiny `--quick` run (generation section only: no Neo4j start,
//! about 20 s with a debug build) must produce benchmarks.json and benchmarks.md with the expected shape. The benchmark
//! itself stays out of CI.

use std::path::Path;
use std::process::Command;

#[test]
fn bench_quick_writes_the_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("tempdir");
    let tenantgen = Path::new(env!("CARGO_BIN_EXE_tenantgen"));
    let mut cmd = Command::new(root.join("scripts/bench"));
    // The csv baseline example in the test's own profile (its dependencies are already built),
    // so the script does not start a release build.
    let example = tenantgen.with_file_name("examples").join("csv_baseline");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile = match tenantgen.parent().and_then(|d| d.file_name()) {
        Some(d) if d != "debug" => d.to_string_lossy().into_owned(),
        _ => "dev".to_string(),
    };
    let built = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--example",
            "csv_baseline",
            "--profile",
            &profile,
        ])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "cargo build --example csv_baseline failed");
    assert!(example.is_file(), "{} was not built", example.display());
    cmd.env("CSV_BASELINE", &example);
    let output = cmd
        .current_dir(root)
        .args([
            "--quick",
            "--sizes",
            "1000",
            "--sections",
            "gen",
            "--no-docs",
            "--out",
        ])
        .arg(out.path())
        // The test binary's own tenantgen: no `cargo build --release` in the script.
        .env("TENANTGEN", tenantgen)
        .output()
        .expect("scripts/bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/bench --quick failed:\n{stderr}"
    );

    let text = std::fs::read_to_string(out.path().join("benchmarks.json"))
        .unwrap_or_else(|e| panic!("no benchmarks.json: {e}\n{stderr}"));
    let json: serde_json::Value = serde_json::from_str(&text).expect("benchmarks.json is JSON");
    for key in [
        "meta",
        "generate",
        "seed_job",
        "bulk_vs_cypher",
        "import",
        "scaling",
        "targets",
        "raw",
    ] {
        assert!(json.get(key).is_some(), "benchmarks.json lacks {key:?}");
    }
    let meta = &json["meta"];
    for key in [
        "cores",
        "memory_gib",
        "load_average_start",
        "repeats",
        "noisy",
    ] {
        assert!(meta.get(key).is_some(), "meta lacks {key:?}");
    }
    let gen = json["generate"].as_array().expect("generate is a list");
    // Two strategies × threads 1 and 2 at the one size.
    assert_eq!(gen.len(), 4, "generate entries: {gen:#?}");
    for e in gen {
        for key in [
            "strategy",
            "size",
            "threads",
            "rows",
            "bytes",
            "wall_s",
            "rows_per_s",
            "peak_rss_mb",
            "csv_baseline_rows_per_s",
            "dd_bytes_per_s",
            "ratio_to_csv",
            "ratio_to_dd",
        ] {
            assert!(
                e.get(key).is_some_and(|v| !v.is_null()),
                "generate entry lacks {key:?}: {e:#}"
            );
        }
        assert!(e["rows"].as_u64().unwrap() >= 1000, "{e:#}");
        assert!(e["wall_s"]["median"].as_f64().unwrap() > 0.0);
    }
    let targets = json["targets"].as_array().expect("targets is a list");
    assert!(
        targets
            .iter()
            .all(|t| ["PASS", "MISS", "N/A"].contains(&t["status"].as_str().unwrap_or(""))),
        "{targets:#?}"
    );
    let md = std::fs::read_to_string(out.path().join("benchmarks.md")).expect("benchmarks.md");
    assert!(
        md.contains("## Targets") && md.contains("## 1. Generation"),
        "{md}"
    );
    assert!(md.contains("2 cores") || md.contains(" cores ("), "{md}");
}
