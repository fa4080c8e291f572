//! `stats --shape`: whether the synthetic part of a live graph has the shape of a real tenant —
//! connected, reachable from its subscriptions, NICs owned by one VM, owners and owned in one
//! region and resource group, subnets in one VNet, resources spread over subscriptions and
//! resource groups mixing types the way the real part does. Each figure is a count over the
//! synthetic abstracted resources (optionally of one operation) and the real tenant it is set
//! against: its scanned `:Original` layer where the graph has one (a scanned tenant keeps its
//! hierarchy and resource-to-resource edges there). What the figures should be is the caller's
//! business (the e2e tests and benchmarks state their bars). The words are [`crate::cypher`]'s.

use serde::Serialize;

use crate::cypher::{abstracted, real_abstracted, synthetic, ORIGINAL};
use crate::neo4j::{Client, Neo4jError};

/// Azure's type names of the resources the ownership figures look at (compared in lower case).
const VM: &str = "microsoft.compute/virtualmachines";
const NIC: &str = "microsoft.network/networkinterfaces";
const DISK: &str = "microsoft.compute/disks";
const VNET: &str = "microsoft.network/virtualnetworks";
const PRIVATE_ENDPOINT: &str = "microsoft.network/privateendpoints";
/// Scanned tenants spell subnets both ways.
const SUBNETS: [&str; 2] = [
    "microsoft.network/virtualnetworks/subnets",
    "microsoft.network/subnets",
];

/// One figure: `part` of `whole` (a share), or a value set against the real graph's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub name: &'static str,
    pub description: &'static str,
    /// The count that has the property, and the count looked at (shares).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whole: Option<i64>,
    /// The figure: a share in 0..=1, a deviation, or a median.
    pub value: Option<f64>,
    /// The same figure over the real tenant (see [`Shape::real_layer`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real: Option<f64>,
}

impl Figure {
    fn share(name: &'static str, description: &'static str, part: i64, whole: i64) -> Figure {
        Figure {
            name,
            description,
            part: Some(part),
            whole: Some(whole),
            value: (whole > 0).then(|| part as f64 / whole as f64),
            real: None,
        }
    }
}

/// The shape figures of a graph.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Shape {
    /// The operation the figures are scoped to (all synthetic resources when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Which nodes the `real` column is computed over: `original` (the scanned `:Original`
    /// layer, where a scanned tenant keeps its hierarchy and resource-to-resource edges) when the
    /// graph has one, else `abstracted` (the real abstracted resources).
    pub real_layer: &'static str,
    pub figures: Vec<Figure>,
}

impl Shape {
    pub fn get(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name == name)
    }

    /// The figures as a table.
    pub fn render(&self) -> String {
        let mut rows = vec![[
            "figure".to_string(),
            "value".into(),
            "of".into(),
            "real".into(),
            "what".into(),
        ]];
        for f in &self.figures {
            let value = match (f.value, f.whole) {
                (None, _) => "-".to_string(),
                (Some(v), Some(_)) => format!("{:.1} %", v * 100.0),
                (Some(v), None) => format!("{v:.2}"),
            };
            let of = match (f.part, f.whole) {
                (Some(p), Some(w)) => format!(
                    "{} / {}",
                    crate::report::thousands_i64(p),
                    crate::report::thousands_i64(w)
                ),
                _ => String::new(),
            };
            let real = match (f.real, f.whole) {
                (None, _) => String::new(),
                (Some(r), Some(_)) => format!("{:.1} %", r * 100.0),
                (Some(r), None) => format!("{r:.2}"),
            };
            rows.push([
                f.name.to_string(),
                value,
                of,
                real,
                f.description.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::from("shape of the synthetic resources");
        match &self.operation_id {
            Some(op) => out.push_str(&format!(" of operation {op}")),
            None => out.push_str(" of every operation (--operation-id OP for one)"),
        }
        out.push_str(match self.real_layer {
            "original" => "; real = the scanned tenant (its :Original resources)\n",
            _ => "; real = the real abstracted resources\n",
        });
        for r in rows {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    let pad = widths[c] - v.chars().count();
                    if c == 1 || c == 2 || c == 3 {
                        format!("{}{v}", " ".repeat(pad))
                    } else {
                        format!("{v}{}", " ".repeat(pad))
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes the predicate that a variable is in one side's scope.
type Scope<'a> = dyn Fn(&str) -> String + 'a;

fn is_type(var: &str, types: &[&str]) -> String {
    let list: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
    format!("toLower(toString({var}.type)) IN [{}]", list.join(", "))
}

/// Computes the figures on the live graph, for the synthetic resources of `operation` (all of
/// them when `None`); every share is also computed over the real tenant (its `:Original` layer
/// when `has_original`: the caller's counts say whether the graph has one), so a generated tenant can be set against the scanned one.
pub fn collect(
    client: &Client,
    operation: Option<&str>,
    has_original: bool,
) -> Result<Shape, Neo4jError> {
    let scope = |v: &str| {
        let mut s = format!("{} AND {}", abstracted(v), synthetic(v));
        if operation.is_some() {
            s.push_str(&format!(" AND {v}.scale_operation_id = $op"));
        }
        s
    };
    let real_scope = |v: &str| {
        if has_original {
            format!("{v}:{ORIGINAL}")
        } else {
            real_abstracted(v)
        }
    };
    let params: Vec<(&str, neo4rs::BoltType)> = operation
        .map(|op| vec![("op", op.into())])
        .unwrap_or_default();
    // Each query has `part` and `whole`; `q(scope)` writes it for one side.
    let share = |name: &'static str,
                 description: &'static str,
                 q: &dyn Fn(&Scope) -> String|
     -> Result<Figure, Neo4jError> {
        let run = |text: String| -> Result<(i64, i64), Neo4jError> {
            let row = client
                .rows(&text, &params)?
                .into_iter()
                .next()
                .expect("an aggregation returns one row");
            Ok((
                row.get::<i64>("part").unwrap_or(0),
                row.get::<i64>("whole").unwrap_or(0),
            ))
        };
        let (p, w) = run(q(&scope))?;
        let (rp, rw) = run(q(&real_scope))?;
        let mut f = Figure::share(name, description, p, w);
        f.real = (rw > 0).then(|| rp as f64 / rw as f64);
        Ok(f)
    };
    let mut figures = vec![
        share(
            "connected",
            "resources with at least one relationship",
            &|sc| {
                format!(
                    "MATCH (r) WHERE {} RETURN count(r) AS whole, \
                     sum(CASE WHEN EXISTS {{ (r)--() }} THEN 1 ELSE 0 END) AS part",
                    sc("r")
                )
            },
        )?,
        share(
            "reachable",
            "resources reachable by (:Subscription)-[:CONTAINS*1..2]->(r)",
            &|sc| {
                format!(
                    "MATCH (r) WHERE {} RETURN count(r) AS whole, \
                     sum(CASE WHEN EXISTS {{ (:Subscription)-[:CONTAINS*1..2]->(r) }} THEN 1 ELSE 0 END) AS part",
                    sc("r")
                )
            },
        )?,
        share(
            "nic_shared",
            "NICs attached to more than one VM or private endpoint",
            &|sc| {
                format!(
                    "MATCH (n) WHERE {} AND {} \
                     WITH n, count {{ (n)--(v:Resource) WHERE {} }} AS owners \
                     RETURN count(n) AS whole, sum(CASE WHEN owners > 1 THEN 1 ELSE 0 END) AS part",
                    sc("n"),
                    is_type("n", &[NIC]),
                    is_type("v", &[VM, PRIVATE_ENDPOINT])
                )
            },
        )?,
    ];
    for (name, description, a, b) in [
        (
            "vm_nic_colocated",
            "VM–NIC links with both ends in one region and resource group",
            &[VM][..],
            &[NIC][..],
        ),
        (
            "nic_subnet_colocated",
            "NIC–subnet links with both ends in one region and resource group",
            &[NIC][..],
            &SUBNETS[..],
        ),
        (
            "vm_disk_colocated",
            "VM–disk links with both ends in one region and resource group",
            &[VM][..],
            &[DISK][..],
        ),
    ] {
        figures.push(share(name, description, &|sc| {
            format!(
                "MATCH (a:Resource)-[]-(b:Resource) WHERE {} AND {} AND (({}) OR ({})) \
                 RETURN count(*) AS whole, sum(CASE WHEN a.location = b.location \
                 AND a.resource_group = b.resource_group AND a.subscription_id = b.subscription_id \
                 THEN 1 ELSE 0 END) AS part",
                is_type("a", a),
                is_type("b", b),
                sc("a"),
                sc("b")
            )
        })?);
    }
    figures.push(share(
        "subnet_one_vnet",
        "subnets with exactly one VNet",
        &|sc| {
            format!(
                "MATCH (s) WHERE {} AND {} \
                 WITH s, count {{ (s)--(v:Resource) WHERE {} }} AS vnets \
                 RETURN count(s) AS whole, sum(CASE WHEN vnets = 1 THEN 1 ELSE 0 END) AS part",
                sc("s"),
                is_type("s", &SUBNETS),
                is_type("v", &[VNET])
            )
        },
    )?);
    figures.push(share(
        "vm_network_path",
        "VMs with a NIC in a subnet of a VNet",
        &|sc| {
            format!(
                "MATCH (vm) WHERE {} AND {} RETURN count(vm) AS whole, \
                 sum(CASE WHEN EXISTS {{ (vm)--(n:Resource)--(s:Resource)--(v:Resource) \
                 WHERE {} AND {} AND {} }} THEN 1 ELSE 0 END) AS part",
                sc("vm"),
                is_type("vm", &[VM]),
                is_type("n", &[NIC]),
                is_type("s", &SUBNETS),
                is_type("v", &[VNET])
            )
        },
    )?);
    // Set against the resources generation follows (the baseline's real abstracted ones), not
    // the scan, which may hold resources the abstraction left out.
    figures.push(subscription_spread(
        client,
        &scope("r"),
        &real_abstracted("r"),
        &params,
    )?);
    figures.push(types_per_group(
        client,
        &scope("r"),
        &real_scope("r"),
        &params,
    )?);
    Ok(Shape {
        operation_id: operation.map(str::to_string),
        real_layer: if has_original {
            "original"
        } else {
            "abstracted"
        },
        figures,
    })
}

/// The largest relative difference between a subscription's share of the synthetic resources
/// and its share of the `real_scope` ones (subscriptions holding at least 1 % of the real ones).
fn subscription_spread(
    client: &Client,
    scope: &str,
    real_scope: &str,
    params: &[(&str, neo4rs::BoltType)],
) -> Result<Figure, Neo4jError> {
    let rows = client.rows(
        &format!(
            "MATCH (r:Resource) WHERE r.subscription_id IS NOT NULL \
             RETURN toString(r.subscription_id) AS sub, \
             sum(CASE WHEN {real_scope} THEN 1 ELSE 0 END) AS real_count, \
             sum(CASE WHEN {scope} THEN 1 ELSE 0 END) AS synthetic_count"
        ),
        params,
    )?;
    let counts: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<i64>("real_count").unwrap_or(0),
                r.get::<i64>("synthetic_count").unwrap_or(0),
            )
        })
        .collect();
    let (real_total, syn_total): (i64, i64) =
        counts.iter().fold((0, 0), |(a, b), (r, s)| (a + r, b + s));
    let value = (real_total > 0 && syn_total > 0).then(|| {
        counts
            .iter()
            .filter(|(r, _)| *r as f64 / real_total as f64 >= 0.01)
            .map(|(r, s)| {
                let (rs, ss) = (*r as f64 / real_total as f64, *s as f64 / syn_total as f64);
                (ss / rs - 1.0).abs()
            })
            .fold(0.0, f64::max)
    });
    Ok(Figure {
        name: "subscription_spread",
        description:
            "largest relative difference of a subscription's share, synthetic vs the real abstracted resources, which generation follows (0.10 = 10 %)",
        part: None,
        whole: None,
        value,
        real: None,
    })
}

/// The median of distinct types per resource group, over groups holding synthetic resources,
/// set against the median over groups holding real ones.
fn types_per_group(
    client: &Client,
    scope: &str,
    real_scope: &str,
    params: &[(&str, neo4rs::BoltType)],
) -> Result<Figure, Neo4jError> {
    let median = |which: String| -> Result<Option<f64>, Neo4jError> {
        let rows = client.rows(
            &format!(
                "MATCH (g:ResourceGroup)-[:CONTAINS]->(r:Resource) WHERE {which} \
                 WITH g, count(DISTINCT r.type) AS t \
                 RETURN percentileDisc(t, 0.5) AS m, count(g) AS groups"
            ),
            params,
        )?;
        Ok(rows
            .first()
            .filter(|r| r.get::<i64>("groups").unwrap_or(0) > 0)
            .and_then(|r| r.get::<i64>("m").ok())
            .map(|m| m as f64))
    };
    Ok(Figure {
        name: "types_per_group",
        description: "median distinct types per resource group (synthetic; real alongside)",
        part: None,
        whole: None,
        value: median(scope.to_string())?,
        real: median(real_scope.to_string())?,
    })
}
