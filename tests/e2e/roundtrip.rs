//! Any string survives: base values with quotes, commas, `;`, CR, LF, tabs, control characters,
//! unicode and trailing backslashes go through generate → the real neo4j-admin → Bolt and come
//! back byte-exact, in the bases and in every copy. The strings are drawn by proptest from a
//! fixed seed, so a failure reproduces.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tenantgen::format::csv::push_field;

use crate::common::{import_and_start, tenantgen, write_file};

fn tricky_strings(n: usize) -> Vec<String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        1 => Just('"'),
        1 => Just(','),
        1 => Just(';'),
        1 => Just('\n'),
        1 => Just('\r'),
        1 => Just('\t'),
        1 => Just('\\'),
        1 => Just(' '),
        1 => (1u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
    ];
    let strategy = proptest::collection::vec(ch, 0..24)
        .prop_map(|v| v.into_iter().filter(|&c| c != '\0').collect::<String>());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut out: Vec<String> = [
        "",
        "C:\\Temp\\",
        "\"",
        "a,b;c",
        " padded ",
        "line\nbreak",
        "cr\rlf\r\n",
        "Zürich 東京 🚀",
        "\\\"",
        "tab\there",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    while out.len() < n {
        out.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    out
}

fn write_baseline(dir: &Path, values: &[String]) {
    let mut data = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let id = format!("vm-{i:016x}");
        data.extend_from_slice(id.as_bytes());
        data.push(b',');
        push_field(&mut data, format!("vm-{i}").as_bytes());
        data.extend_from_slice(b",Microsoft.Compute/virtualMachines,");
        push_field(&mut data, v.as_bytes());
        data.extend_from_slice(format!(",{i},2025-11-10T14:03:27.512Z\n").as_bytes());
    }
    write_file(
        dir,
        "headers/resource.csv",
        "id:ID(Resource),name:string,type:string,note:string,n:long,updated_at:datetime\n",
    );
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/resource.part-0000.csv"), &data).unwrap();
    let mut manifest = String::new();
    let _ = write!(
        manifest,
        r#"{{
  "format": "tenantgen/1",
  "kind": "baseline",
  "csv": {{ "delimiter": ",", "array_delimiter": ";", "quote": "\"", "multiline_fields": false }},
  "node_groups": [
    {{ "name": "resource", "labels": ["Resource"], "id_space": "Resource", "header": "headers/resource.csv",
      "files": [ {{ "path": "data/resource.part-0000.csv", "rows": {} }} ] }}
  ],
  "relationship_groups": []
}}
"#,
        values.len()
    );
    write_file(dir, "manifest.json", &manifest);
}

#[test]
fn arbitrary_strings_round_trip_through_the_real_importer() {
    let tmp = tempfile::tempdir().unwrap();
    let values = tricky_strings(160);
    let baseline = tmp.path().join("baseline");
    write_baseline(&baseline, &values);
    let out = tmp.path().join("out");
    let output = tenantgen()
        .args(["generate", "--quiet", "--scale-factor", "3", "--baseline"])
        .arg(&baseline)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The line breaks in the base values switch multiline import on, whatever the baseline said.
    let args = std::fs::read_to_string(out.join("import.args")).unwrap();
    assert!(args.contains("--multiline-fields=true"), "{args}");

    let loaded = import_and_start(&out, &tmp.path().join("db"));
    let rows = loaded
        .client
        .rows(
            "MATCH (n:Resource) RETURN n.name AS name, n.note AS note, n.template_source_id AS src ORDER BY n.id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), values.len() * 3);
    let mut checked = 0;
    for row in rows {
        let name: String = row.get("name").unwrap();
        let note: Option<String> = row.get("note").ok();
        let base_index: usize = name
            .trim_start_matches("vm-")
            .split("-s")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            note.as_deref(),
            Some(values[base_index].as_str()),
            "{name}: value {:?} came back as {note:?}",
            values[base_index]
        );
        checked += 1;
    }
    assert_eq!(checked, values.len() * 3);
}
