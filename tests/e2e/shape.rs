//! The shape of a generated tenant on the live graph (`stats --shape`): the seed tenant ×10 in
//! the default replicate mode and the extreme-scale template at 40,000, each run as a user runs
//! it (`run --keep-running`, then `stats --shape --json`), against the bars of the topology work.

use crate::common::{local_client, small_run, tenantgen};

/// `run --keep-running` with `flags` under `tmp`; (uri, instance).
fn run_kept(tmp: &std::path::Path, flags: &[&str]) -> (String, String) {
    let output = small_run()
        .args(["--keep-running", "--out"])
        .arg(tmp.join("job"))
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "run {flags:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["passed"], true, "{doc:#}");
    (
        doc["uri"].as_str().unwrap().to_string(),
        doc["instance"].as_str().unwrap().to_string(),
    )
}

/// `stats --shape --json` of operation `op`: figure name → (value, real).
fn shape(uri: &str, op: &str) -> std::collections::BTreeMap<String, (Option<f64>, Option<f64>)> {
    let output = tenantgen()
        .args([
            "stats",
            "--json",
            "--shape",
            "--operation-id",
            op,
            "--uri",
            uri,
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["shape"]["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                (f["value"].as_f64(), f["real"].as_f64()),
            )
        })
        .collect()
}

fn stop(instance: &str) {
    let o = tenantgen().args(["stop", instance]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Checks `name` with `ok`, naming the figure and all figures on failure.
fn check(
    figures: &std::collections::BTreeMap<String, (Option<f64>, Option<f64>)>,
    name: &str,
    ok: impl Fn(f64, Option<f64>) -> bool,
) -> Option<String> {
    match figures.get(name) {
        Some((Some(v), real)) if ok(*v, *real) => None,
        other => Some(format!("{name}: {other:?}")),
    }
}

#[test]
fn generated_tenants_have_the_shape_of_a_real_one() {
    let mut failures = Vec::new();
    let (tmp_replicate, tmp_template) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // Replicate, default mode: copies are linked into the hierarchy and to each other.
    let (uri, instance) = run_kept(
        tmp_replicate.path(),
        &["--scale-factor", "10", "--operation-id", "shape-replicate"],
    );
    let f = shape(&uri, "shape-replicate");
    failures.extend([
        check(&f, "connected", |v, _| v >= 0.99),
        check(&f, "reachable", |v, _| v == 1.0),
        check(&f, "nic_shared", |v, _| v == 0.0),
        // Found from the Azure ids the bases hold (a subnet's id under its VNet's, a NIC's
        // subnet, a VM's NICs); where the NICs and subnets sit is the bases' (the seed's NICs
        // and subnets are in different regions), so no co-location bar here.
        check(&f, "subnet_one_vnet", |v, _| v == 1.0),
        check(&f, "vm_network_path", |v, _| v >= 0.95),
        check(&f, "subscription_spread", |v, _| v <= 0.10),
        check(&f, "types_per_group", |v, real| {
            real.is_some_and(|r| (v - r).abs() <= 0.5 * r)
        }),
    ]);
    // Every copy of one base has the same relationships by type and direction.
    let c = local_client(&uri);
    let uneven = c
        .scalar_i64(
            "MATCH (x:Resource) WHERE x.scale_operation_id = 'shape-replicate' \
             WITH x, [(x)-[r]->() | 'out:' + type(r)] + [(x)<-[r]-() | 'in:' + type(r)] AS rels \
             UNWIND (CASE WHEN rels = [] THEN [''] ELSE rels END) AS rel \
             WITH x, rel ORDER BY rel WITH x, collect(rel) AS sig \
             WITH x.template_source_id AS base, collect(DISTINCT sig) AS sigs \
             RETURN count(CASE WHEN size(sigs) > 1 THEN 1 END) AS c",
            &[],
        )
        .unwrap();
    if uneven != 0 {
        failures.push(Some(format!(
            "{uneven} bases whose copies differ in their relationships"
        )));
    }
    // Each copy has its base's degree in the real tenant: its :Original twin's, over the
    // neighbours a copy can link to (hierarchy nodes and twins of real abstracted bases;
    // TAGGED_WITH aside, which copies also take from their bases' `tags`). Equal per copy,
    // so the per-type histograms are equal too.
    let differ = c
        .scalar_i64(
            "MATCH (x:Resource {scale_operation_id: 'shape-replicate'}) \
             MATCH (b:Resource {id: x.template_source_id}) \
             OPTIONAL MATCH (b)-[:SCAN_SOURCE_NODE]-(o1:Original) \
             OPTIONAL MATCH (o2:Original {id: b.original_id}) \
             WITH x, coalesce(o1, o2) AS o \
             WITH x, o, COUNT { (x)-[r]-() WHERE type(r) <> 'TAGGED_WITH' } AS mine, \
                  COUNT { (o)-[r]-(n) WHERE NOT type(r) IN ['SCAN_SOURCE_NODE', 'TAGGED_WITH'] \
                      AND (n:ResourceGroup OR n:Region OR n:Subscription \
                           OR EXISTS { (n)-[:SCAN_SOURCE_NODE]-(a:Resource) WHERE NOT a:Original AND a.scale_operation_id IS NULL } \
                           OR EXISTS { MATCH (a:Resource) WHERE a.original_id = n.id AND NOT a:Original AND a.scale_operation_id IS NULL }) } AS twin \
             RETURN count(CASE WHEN o IS NULL OR mine <> twin THEN 1 END) AS c",
            &[],
        )
        .unwrap();
    if differ != 0 {
        failures.push(Some(format!(
            "{differ} copies whose degree differs from their twin's"
        )));
    }
    stop(&instance);

    // Template: the built-in topology on the extreme-scale template at 40,000.
    let (uri, instance) = run_kept(
        tmp_template.path(),
        &[
            "--template",
            "test-data/extreme-scale-template.yaml",
            "--target-total",
            "40000",
            "--operation-id",
            "shape-template",
        ],
    );
    let f = shape(&uri, "shape-template");
    // A mistyped operation id is an error naming the ones present, not an empty table.
    let typo = tenantgen()
        .args([
            "stats",
            "--shape",
            "--operation-id",
            "shape-templat",
            "--uri",
            &uri,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&typo.stderr);
    if typo.status.code() != Some(2)
        || !stderr.contains("no operation shape-templat in the graph")
        || !stderr.contains("shape-template")
    {
        failures.push(Some(format!(
            "stats --operation-id typo: exit {:?}, {stderr}",
            typo.status.code()
        )));
    }
    failures.extend([
        check(&f, "connected", |v, _| v >= 0.99),
        check(&f, "reachable", |v, _| v == 1.0),
        check(&f, "nic_shared", |v, _| v == 0.0),
        check(&f, "vm_nic_colocated", |v, _| v == 1.0),
        check(&f, "nic_subnet_colocated", |v, _| v == 1.0),
        check(&f, "vm_disk_colocated", |v, _| v == 1.0),
        check(&f, "subnet_one_vnet", |v, _| v == 1.0),
        check(&f, "vm_network_path", |v, _| v >= 0.95),
        check(&f, "subscription_spread", |v, _| v <= 0.10),
        check(&f, "types_per_group", |v, real| {
            real.is_some_and(|r| (v - r).abs() <= 0.5 * r)
        }),
    ]);
    stop(&instance);
    let failures: Vec<String> = failures.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "shape figures off:\n{}",
        failures.join("\n")
    );
}
