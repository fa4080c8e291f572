//! The `--json` convention (docs/json.md) of every command, on the real binary and a real
//! server: one document on stdout that opens with `schema_version` and `command`, numbers as
//! JSON numbers, snake_case keys, and on an error `{"error": {"kind", "message", "file",
//! "line", "hint"}}` with exit 2. Each document's *shape* — every key path with its JSON type,
//! array elements as `[]` — is compared with `tests/golden/json/<command>.shape`, so a renamed
//! key or a number turned string fails here; values are free to change. To accept a new shape,
//! run `UPDATE_GOLDEN=1 cargo test --test e2e json` and review the diff.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{mini_baseline, tenantgen, SIZES};

/// `path: type` lines of `v`, sorted and without repeats.
fn shape(v: &Value) -> BTreeSet<String> {
    fn walk(path: &str, v: &Value, out: &mut BTreeSet<String>) {
        let ty = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(items) => {
                for item in items {
                    walk(&format!("{path}[]"), item, out);
                }
                "array"
            }
            Value::Object(map) => {
                for (k, item) in map {
                    // Maps keyed by data (labels, types, stage names) are one shape.
                    let key = if is_data_key(path) { "*" } else { k.as_str() };
                    let p = if path.is_empty() {
                        key.to_string()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(&p, item, out);
                }
                "object"
            }
        };
        if !path.is_empty() {
            out.insert(format!("{path}: {ty}"));
        }
    }
    let mut out = BTreeSet::new();
    walk("", v, &mut out);
    out
}

/// Objects whose keys are data, not schema.
fn is_data_key(path: &str) -> bool {
    [
        "by_label",
        "by_type",
        "operation_by_type",
        "by_rel_type",
        "operation_by_label",
        "operation_by_rel_type",
    ]
    .iter()
    .any(|k| path == *k || path.ends_with(&format!(".{k}")))
}

/// Keys are snake_case (data keys excepted).
fn bad_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let snake = k
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !is_data_key(path) && !snake {
                    out.push(format!("{path}.{k}"));
                }
                bad_keys(item, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| bad_keys(i, path, out)),
        _ => {}
    }
}

/// Runs `args`, expects `code`, parses stdout as one document of `command` and checks it
/// against the golden shape `name`.
pub fn document(args: &[&str], code: i32, command: &str, name: &str) -> Value {
    let o = tenantgen().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}):\n{stdout}"));
    check_document(&doc, command, name);
    doc
}

/// The convention's rules for `doc`, a document of `command`, and its golden shape `name`.
pub fn check_document(doc: &Value, command: &str, name: &str) {
    assert_eq!(doc["schema_version"], 1, "{name}");
    assert_eq!(doc["command"], command, "{name}");
    let keys: Vec<&String> = doc.as_object().unwrap().keys().take(2).collect();
    assert_eq!(keys, ["schema_version", "command"], "{name}");
    let mut bad = Vec::new();
    bad_keys(doc, "", &mut bad);
    assert!(bad.is_empty(), "{name}: keys not snake_case: {bad:?}");
    check_shape(name, doc);
}

fn check_shape(name: &str, doc: &Value) {
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/json/{name}.shape"));
    let got: String = shape(doc).into_iter().map(|l| l + "\n").collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|_| panic!("{} missing: UPDATE_GOLDEN=1 to create it", golden.display()));
    assert!(
        want == got,
        "{name}: the JSON shape changed (UPDATE_GOLDEN=1 to accept, and bump schema_version in docs/json.md if a key was renamed, removed or changed type)\n--- want\n{want}--- got\n{got}"
    );
}

#[test]
fn every_command_prints_one_versioned_document() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |rel: &str| tmp.path().join(rel).display().to_string();
    let (gen, inst) = (p("gen"), p("gen.neo4j"));
    let mini = mini_baseline().display().to_string();
    let small = [
        "--scale-factor",
        "2",
        "--timestamp",
        "2025-11-15T21:17:00Z",
        "--baseline",
        &mini,
    ];

    let planned = document(
        &[&["generate", "--json", "--dry-run"][..], &small].concat(),
        0,
        "generate",
        "generate-dry-run",
    );
    assert_eq!(planned["dry_run"], true);
    let g = document(
        &[&["generate", "--json", "--out", &gen][..], &small].concat(),
        0,
        "generate",
        "generate",
    );
    let op = g["operation_id"].as_str().unwrap().to_string();

    // The baseline alone goes into the instance, so that `load` has something to scale.
    let i = document(
        &[
            &["import", "--json", &mini, "--data-dir", &inst][..],
            &SIZES,
        ]
        .concat(),
        0,
        "import",
        "import",
    );
    assert!(i["nodes"].is_u64());
    let s = document(&["start", "--json", &inst], 0, "start", "start");
    let uri = s["uri"].as_str().unwrap().to_string();

    let l = document(&["load", "--json", "--uri", &uri, &gen], 0, "load", "load");
    assert!(l["nodes"].is_u64());
    let v = document(
        &["verify", "--json", "--uri", &uri, &gen],
        0,
        "verify",
        "verify",
    );
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["expected"].is_u64()),
        "counts are numbers: {v}"
    );
    let st = document(&["stats", "--json", "--uri", &uri], 0, "stats", "stats");
    let alias = tenantgen()
        .args(["stats", "--format", "json", "--uri", &uri])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&alias.stdout).unwrap(),
        st,
        "--format json is --json"
    );
    document(
        &["export", "--json", "--uri", &uri, "--out", &p("exported")],
        0,
        "export",
        "export",
    );
    document(
        &["clean", "--json", "--operation-id", &op, "--uri", &uri],
        0,
        "clean",
        "clean",
    );
    document(
        &["clean", "--json", "--drop-schema", "--uri", &uri],
        0,
        "clean",
        "clean-schema",
    );
    document(&["stop", "--json", &inst], 0, "stop", "stop");

    let dry = document(
        &[
            &["run", "--json", "--dry-run", "--out", &p("dry")][..],
            &small,
        ]
        .concat(),
        0,
        "run",
        "generate-dry-run",
    );
    assert_eq!(dry["dry_run"], true);
    assert!(
        !tmp.path().join("dry").exists(),
        "run --dry-run writes nothing"
    );

    // Errors: one document too, exit 2 — clap's refusals included.
    let e = document(
        &["generate", "--json", "--scale-factr", "3"],
        2,
        "generate",
        "error-flag",
    );
    assert_eq!(e["error"]["kind"], "flag");
    let e = document(
        &["run", "--json", "--shard", "1/2", "--out", &p("sh")],
        2,
        "run",
        "error-flag",
    );
    assert_eq!(e["error"]["kind"], "flag");
    assert!(!tmp.path().join("sh").exists());
    let e = document(
        &[
            "generate",
            "--json",
            "--scale-factor",
            "0.5",
            "--out",
            &p("x"),
        ],
        2,
        "generate",
        "error-flag",
    );
    assert_eq!(e["error"]["kind"], "flag");
    assert!(
        e["error"]["hint"].as_str().unwrap().starts_with("pass "),
        "{e}"
    );
    let e = document(
        &["verify", "--json", "--uri", "bolt://127.0.0.1:1", &gen],
        2,
        "verify",
        "error-neo4j",
    );
    assert_eq!(e["error"]["kind"], "neo4j");
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "resources:\n  - type: Microsoft.Compute/virtualMachines\n    count: -3\n",
    )
    .unwrap();
    let e = document(
        &[
            "generate",
            "--json",
            "--dry-run",
            "--template",
            &bad.display().to_string(),
        ],
        2,
        "generate",
        "error-template",
    );
    assert_eq!(e["error"]["kind"], "template");
    assert_eq!(e["error"]["file"], bad.display().to_string(), "{e}");
    assert!(e["error"]["line"].is_u64(), "{e}");
}
