//! `tenantgen generate`: the seed run's numbers, determinism across threads and shards, golden
//! headers, and imports of every mode with the real neo4j-admin.

use std::collections::BTreeMap;
use std::path::Path;

use tenantgen::manifest::Manifest;

use crate::common::{generate_seed, import_and_start, tenantgen};

fn manifest(dir: &Path) -> Manifest {
    Manifest::read(dir).unwrap_or_else(|e| panic!("manifest of {}: {e}", dir.display()))
}

/// Data-part checksums of a generated directory, by path.
fn part_sums(m: &Manifest) -> BTreeMap<String, String> {
    m.node_groups
        .iter()
        .flat_map(|g| &g.files)
        .chain(m.relationship_groups.iter().flat_map(|g| &g.files))
        .filter(|f| !f.path.starts_with("baseline/"))
        .map(|f| {
            (
                f.path.clone(),
                f.xxh3.clone().expect("generated files have checksums"),
            )
        })
        .collect()
}

#[test]
fn atg_compat_reproduces_the_seed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("atg");
    generate_seed(&out, &["--atg-compat", "--scale-factor", "10"]);
    let m = manifest(&out);
    let e = m.expected.as_ref().unwrap();
    assert_eq!(e.nodes, 25_755);
    assert_eq!(e.abstracted, 22_506);
    assert_eq!(e.synthetic, 20_460);
    assert_eq!(e.real_abstracted, 2_046);
    assert_eq!(e.original, 2_216);
    assert_eq!(e.relationships, 10_632);
    assert_eq!(e.operation_nodes, 18_414);
    assert_eq!(e.operation_relationships, 3_807);
    assert_eq!(e.by_rel_type["CONTAINS"], 8_238);
    assert_eq!(e.by_rel_type["LOCATED_IN"], 2_144);
    assert_eq!(e.by_rel_type["SCAN_SOURCE_NODE"], 202);
    assert_eq!(e.by_rel_type["TAGGED_WITH"], 48);
    // The reference's per-type growth: 9 × the real base count.
    for (ty, growth) in [
        ("Microsoft.Network/virtualNetworks", 2_772),
        ("Microsoft.Network/networkInterfaces", 1_539),
        ("Microsoft.ManagedIdentity/userAssignedIdentities", 1_017),
        ("Microsoft.Compute/virtualMachines", 693),
        ("microsoft.alertsmanagement/smartDetectorAlertRules", 252),
        ("Microsoft.Automation/automationAccounts/runbooks", 117),
    ] {
        assert_eq!(e.operation_by_type[ty], growth, "{ty}");
    }
    let op = m.operation.as_ref().unwrap();
    assert_eq!(op.synthetic_labels, vec!["Resource".to_string()]);
    assert!(!op.edge_markers);
    // ATG ids: synthetic-{prefix}-{8 hex}; the name is kept.
    let data = std::fs::read_to_string(out.join("data/synthetic.resource.part-0000.csv")).unwrap();
    let first = data.lines().next().unwrap();
    let id = first.split(',').next().unwrap();
    let hex = id.rsplit('-').next().unwrap();
    assert!(id.starts_with("synthetic-") && hex.len() == 8, "{id}");
}

#[test]
fn default_mode_copies_edges_aligned_with_markers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aligned");
    generate_seed(&out, &[]);
    let e = manifest(&out).expected.unwrap();
    assert_eq!(e.nodes, 25_755);
    // 1,085 resource→resource CONTAINS pairs — 47 base→base, the rest between the bases'
    // :Original twins (linked by SCAN_SOURCE_NODE or named by `original_id`: VM → disk,
    // VNet → subnet, PE → NIC…); every base has a twin, so none comes from the Azure ids bases
    // name (the scan's edges win) — 9 copies each;
    // every copy contained by its base's resource group (all 2,046 bases have one), located in
    // its base's region (1,974 bases; 72 are `global` or have none) and tagged with its base's
    // tags (3,969 base–tag pairs).
    assert_eq!(e.by_rel_type["CONTAINS"], 4_431 + 1_085 * 9 + 2_046 * 9);
    assert_eq!(e.by_rel_type["LOCATED_IN"], 2_144 + 1_974 * 9);
    assert_eq!(e.by_rel_type["TAGGED_WITH"], 48 + 3_969 * 9);
    assert_eq!(
        e.operation_relationships,
        (1_085 + 2_046 + 1_974 + 3_969) * 9
    );
    assert_eq!(e.relationships, 6_825 + 81_666);
    assert_eq!(e.by_label["Synthetic"], 18_414);
    let m = manifest(&out);
    assert!(m.operation.unwrap().hierarchy_links);
    for group in [
        "synthetic.linked.contains.resourcegroup.resource.csv",
        "synthetic.linked.located_in.resource.region.csv",
        "synthetic.linked.tagged_with.resource.tag.csv",
    ] {
        let header = std::fs::read_to_string(out.join("headers").join(group)).unwrap();
        let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/headers")
            .join(group);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &header).unwrap();
        }
        assert_eq!(header, std::fs::read_to_string(golden).unwrap(), "{group}");
    }
    // Without hierarchy links: the base edges only, as before.
    let bare = tmp.path().join("bare");
    generate_seed(&bare, &["--no-hierarchy"]);
    let e = manifest(&bare).expected.unwrap();
    assert_eq!(e.operation_relationships, 47 * 9);
    assert_eq!(e.relationships, 6_825 + 423);
    let header = std::fs::read_to_string(out.join("headers/synthetic.resource.csv")).unwrap();
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/headers/synthetic.resource.csv");
    assert_eq!(header, std::fs::read_to_string(golden).unwrap());
    let rel_header =
        std::fs::read_to_string(out.join("headers/synthetic.contains.resource.resource.csv"))
            .unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/headers/synthetic.contains.resource.resource.csv");
    assert_eq!(rel_header, std::fs::read_to_string(golden).unwrap());
}

#[test]
fn output_is_identical_at_any_thread_count_and_across_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let flags = ["--scale-factor", "3.5", "--part-rows", "997", "--seed", "7"];
    let mut sums = Vec::new();
    for threads in ["1", "2", "8"] {
        let out = tmp.path().join(format!("t{threads}"));
        let mut args = flags.to_vec();
        args.extend(["--threads", threads]);
        generate_seed(&out, &args);
        sums.push(part_sums(&manifest(&out)));
    }
    assert!(
        sums[0].len() > 5,
        "expected several parts, got {:?}",
        sums[0].keys()
    );
    assert_eq!(sums[0], sums[1]);
    assert_eq!(sums[0], sums[2]);
    let mut union = BTreeMap::new();
    for k in 1..=3 {
        let out = tmp.path().join(format!("s{k}"));
        let shard = format!("{k}/3");
        let mut args = flags.to_vec();
        args.extend(["--shard", &shard]);
        generate_seed(&out, &args);
        let part = part_sums(&manifest(&out));
        for (path, sum) in part {
            assert!(
                union.insert(path.clone(), sum).is_none(),
                "{path} in two shards"
            );
        }
    }
    assert_eq!(union, sums[0]);
    // A different seed changes the output.
    let out = tmp.path().join("other-seed");
    generate_seed(
        &out,
        &["--scale-factor", "3.5", "--part-rows", "997", "--seed", "8"],
    );
    assert_ne!(part_sums(&manifest(&out)), sums[0]);
}

#[test]
fn dry_run_writes_nothing_and_prints_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dry");
    let output = tenantgen()
        .args(["generate", "--dry-run", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            "abstracted 4,092 (2,046 real, 2,046 earlier synthetic) → +18,414 synthetic → 22,506"
        ),
        "{text}"
    );
    assert!(!out.exists());
}

#[test]
fn existing_output_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    generate_seed(&out, &["--scale-factor", "2"]);
    let output = tenantgen()
        .args(["generate", "--scale-factor", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("exists; pass --force"), "{err}");
    // No temporary sibling is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn every_mode_imports_with_the_real_neo4j_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/templates/small-network.yaml");
    let template = template.to_str().unwrap().to_string();
    let modes: [(&str, Vec<&str>); 4] = [
        ("aligned", vec![]),
        ("cross", vec!["--edges", "cross", "--scale-factor", "3"]),
        ("atg", vec!["--atg-compat"]),
        (
            "template",
            vec![
                "--strategy",
                "template",
                "--template",
                &template,
                "--compress",
                "gz",
            ],
        ),
    ];
    for (name, flags) in modes {
        let out = tmp.path().join(name);
        generate_seed(&out, &flags);
        let e = manifest(&out).expected.unwrap();
        let output = tenantgen()
            .args([
                "import",
                "--max-off-heap",
                "1G",
                "--import-heap",
                "1g",
                "--data-dir",
            ])
            .arg(tmp.path().join(format!("{name}.db")))
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: import failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).replace(',', "");
        assert!(
            text.contains(&format!(
                "imported {} nodes {} relationships",
                e.nodes, e.relationships
            )),
            "{name}: {text}"
        );
    }
}

#[test]
fn tricky_values_survive_into_copies_byte_exact() {
    // The seed holds quotes, commas, ';', tabs, unicode, leading/trailing blanks and a trailing
    // backslash in llm_description, plus datetimes and string arrays: compare every copy's
    // properties with its base's over Bolt.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g");
    generate_seed(&out, &["--scale-factor", "2"]);
    let loaded = import_and_start(&out, &tmp.path().join("db"));
    let rows = loaded
        .client
        .rows(
            "MATCH (c:Synthetic) MATCH (b:Resource {id: c.template_source_id})
             WITH c, b, [k IN keys(b) WHERE NOT k IN ['id','name'] AND NOT k IN $markers] AS ks
             WITH c, b, ks, [k IN ks WHERE c[k] IS NULL OR NOT (c[k] = b[k]) OR valueType(c[k]) <> valueType(b[k])] AS bad
             RETURN count(c) AS copies, sum(size(bad)) AS mismatches,
                    sum(CASE WHEN b.llm_description ENDS WITH '\\\\' THEN 1 ELSE 0 END) AS backslash",
            &[(
                "markers",
                vec![
                    "synthetic",
                    "scale_operation_id",
                    "generation_strategy",
                    "generation_timestamp",
                    "template_source_id",
                ]
                .into(),
            )],
        )
        .unwrap();
    let copies: i64 = rows[0].get("copies").unwrap();
    let mismatches: i64 = rows[0].get("mismatches").unwrap();
    let backslash: i64 = rows[0].get("backslash").unwrap();
    assert_eq!(copies, 2_046);
    assert_eq!(mismatches, 0);
    assert!(
        backslash >= 1,
        "the seed's trailing-backslash value was not copied"
    );
}

/// The `--dry-run --json` plan of `generate` with `flags` on the seed tenant.
fn dry_plan(flags: &[&str]) -> serde_json::Value {
    let out = tenantgen()
        .args(["generate", "--dry-run", "--json", "--quiet"])
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "generate {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn template_alone_selects_the_template_strategy_and_reaches_scale_target() {
    // The shipped extreme template says 40,000 and its counts add up to it on the seed.
    let p = dry_plan(&["--template", "test-data/extreme-scale-template.yaml"]);
    assert_eq!(p["strategy"], "template", "{p}");
    assert_eq!(p["abstracted_before"], 4_092, "{p}");
    assert_eq!(p["synthetic_nodes"], 40_000 - 4_092, "{p}");
    assert_eq!(
        p["notes"][0], "template counts 35,908 reach metadata.scale_target 40,000 as written",
        "{p}"
    );
    // A target the counts do not add up to is reached exactly; --scale-factor 1 keeps them.
    let tmp = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/templates/small-network.yaml"),
    )
    .unwrap()
    .replace(
        "  version: \"1\"\n",
        "  version: \"1\"\n  scale_target: 4333\n",
    );
    let t = tmp.path().join("target.yaml");
    std::fs::write(&t, small).unwrap();
    let t = t.to_str().unwrap();
    let p = dry_plan(&["--template", t]);
    assert_eq!(p["synthetic_nodes"], 4_333 - 4_092, "{p}");
    assert_eq!(
        p["notes"][0],
        "template counts 140 scaled to reach metadata.scale_target 4,333; pass --scale-factor 1 to keep the counts as written",
        "{p}"
    );
    let p = dry_plan(&["--template", t, "--scale-factor", "1"]);
    assert_eq!(p["synthetic_nodes"], 140, "{p}");
    assert!(p.get("notes").is_none(), "{p}");
    // --strategy replicate with a replicate section keeps replicating.
    let p = dry_plan(&[
        "--strategy",
        "replicate",
        "--template",
        "test-data/templates/replicate-rules.yaml",
    ]);
    assert_eq!(p["strategy"], "replicate", "{p}");
}

/// `notes` of a plan that start with `warning: FILE:LINE: `key``.
fn warnings_for(p: &serde_json::Value, file: &str) -> Vec<String> {
    p["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str())
                .filter(|n| n.starts_with(&format!("warning: {file}:")))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_atg_template_format_plans() {
    let dir = "test-data/templates/atg-formats";
    // A: absolute per-type counts; its scale_target is what its counts add up to on the seed.
    let f = format!("{dir}/per-type-counts.yaml");
    let p = dry_plan(&["--template", &f]);
    assert_eq!(p["strategy"], "template", "{p}");
    assert_eq!(p["synthetic_nodes"], 69, "{p}");
    let by_type = &p["expected"]["operation_by_type"];
    assert_eq!(by_type["Microsoft.Compute/disks"], 40, "{p}");
    assert_eq!(by_type["Microsoft.Storage/storageAccounts"], 25, "{p}");
    assert_eq!(by_type["Microsoft.Network/virtualNetworks"], 4, "{p}");
    let w = warnings_for(&p, &f);
    assert_eq!(w.len(), 3, "{p}");
    assert!(w[0].starts_with(&format!("warning: {f}:39: `config.batch_size` is ignored")));

    // C: friendly type names, name prefixes and connection ratios.
    let f = format!("{dir}/friendly.yaml");
    let p = dry_plan(&["--template", &f]);
    assert_eq!(p["strategy"], "template", "{p}");
    assert_eq!(p["synthetic_nodes"], 28, "{p}");
    let by_type = &p["expected"]["operation_by_type"];
    assert_eq!(by_type["Microsoft.Compute/virtualMachines"], 20, "{p}");
    assert_eq!(by_type["Microsoft.Network/subnets"], 6, "{p}");
    assert_eq!(by_type["Microsoft.Network/virtualNetworks"], 2, "{p}");
    let rels = &p["expected"]["by_rel_type"];
    // connection_ratio 0.9 of 20 VMs; 1.0 of 6 subnets.
    assert_eq!(rels["USES_SUBNET"].as_u64().unwrap(), 18, "{p}");
    assert_eq!(rels["PART_OF"].as_u64().unwrap(), 6, "{p}");
    let w = warnings_for(&p, &f);
    assert_eq!(w.len(), 4, "{p}");
    assert!(w[0].starts_with(&format!("warning: {f}:8: `metadata.author`")));

    // B: copy existing, with rules; its scale_factor 2 gives each selected base one copy,
    // within the per-type bounds.
    let f = format!("{dir}/patterns.yaml");
    let p = dry_plan(&["--strategy", "replicate", "--template", &f]);
    assert_eq!(p["strategy"], "replicate", "{p}");
    let by_type = &p["expected"]["operation_by_type"];
    assert_eq!(by_type["Microsoft.Compute/virtualMachines"], 50, "{p}");
    assert_eq!(by_type["Microsoft.Network/virtualNetworks"], 20, "{p}");
    // Unbounded types get what plain replication at factor 2 gives them.
    let seed_nics = dry_plan(&["--scale-factor", "2"])["expected"]["operation_by_type"]
        ["Microsoft.Network/networkInterfaces"]
        .as_u64()
        .unwrap();
    assert_eq!(
        by_type["Microsoft.Network/networkInterfaces"].as_u64(),
        Some(seed_nics),
        "{p}"
    );
    assert_eq!(by_type.as_object().unwrap().len(), 4, "{p}");
    assert!(
        p["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("the template's scale_factor 2 is the scale factor"),
        "{p}"
    );
    assert_eq!(warnings_for(&p, &f).len(), 2, "{p}");
    // A flag overrides scale_factor.
    let p = dry_plan(&[
        "--strategy",
        "replicate",
        "--template",
        &f,
        "--scale-factor",
        "3",
    ]);
    assert_eq!(
        p["expected"]["operation_by_type"]["Microsoft.Network/networkInterfaces"].as_u64(),
        Some(2 * seed_nics),
        "{p}"
    );
}
