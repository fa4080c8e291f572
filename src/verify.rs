//! Verification of a live graph against a generated directory's manifest: the counts the import
//! must show (totals, labels, relationship types, kinds, patterns), the operation's markers,
//! labels and relationships, the dual-graph rules (no `:Original`, no scan link on a copy), `id`
//! uniqueness across `:Resource`, the baseline left unchanged, and property fidelity of a sample
//! of copies against their bases. It reads only: no index is created and nothing is written.
//! The first check, `load.complete`, fails while the operation's load marker is in the graph
//! (a `load` stopped part-way: [`crate::load::marker`]) and names the command that resumes it;
//! the marker is left out of every count, so it never disturbs the others.
//!
//! Every check becomes a named [`Check`] (a stable id such as `counts.by_label`); a mismatch fails
//! the check, it is never an error. [`VerifyError`] is kept for what stops the checking itself (a
//! manifest without `operation`/`expected`, a query the server refuses, and an operation the graph
//! holds nothing of: [`crate::stats::require_operation`], exit 2 naming the operations present).
//! Queries are whole-graph
//! scans at most, a handful of them, so the cost grows linearly with the graph.
//!
//! Two [`Scope`]s: `graph` checks every count of the whole graph (what a fresh import must
//! show); `operation` checks only what the operation owns — read from its nodes outwards, so
//! other operations and unrelated data in the graph are not counted — and the real resources
//! and scanned twins it must have left as the manifest's baseline had them (what a load into a
//! graph in use must show). Left to the graph, the scope is `graph` when its totals are the
//! manifest's and `operation` otherwise, and the report says why.
//!
//! Domain words: an *operation node* has `scale_operation_id` = the manifest's operation id; a
//! *base* is a real abstracted resource a copy was made from (`template_source_id`); a template
//! row's `template_source_id` is a *template reference* instead (never a node). *Kind*,
//! *abstracted*, *synthetic*, *real* and *original* are [`crate::cypher`]'s, whose predicates
//! every query here uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use crate::cypher::{
    abstracted, count_nodes, kind, quote, real, real_abstracted, synthetic, template_source_expr,
    LOAD_MARKER, ORIGINAL, RESOURCE,
};
use crate::load::marker;
use crate::manifest::{Expected, Manifest, Operation, Origin};
use crate::neo4j::{Client, Neo4jError};
use crate::report::{thousands, Bar};

/// The property-fidelity sample size when none is given.
pub const DEFAULT_SAMPLE: usize = 200;
/// How many examples (ids, keys) a failing check lists in its detail.
const EXAMPLES: usize = 5;

/// What can stop verification (a mismatch is not an error: it fails a [`Check`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The manifest's operation is not in the graph: every check would fail, and the cause is
    /// the graph (or the manifest) picked, not the operation's data.
    #[error(transparent)]
    Absent(#[from] crate::stats::OperationAbsent),
    #[error("the manifest has no `{missing}` section, so there is nothing to verify against: pass the manifest of a directory written by `tenantgen generate`")]
    NotGenerated { missing: &'static str },
    #[error("check {check}: {source}")]
    Query {
        check: &'static str,
        #[source]
        source: Box<Neo4jError>,
    },
    #[error("check {check}: column '{column}' of the server's answer is not what verify expects: {detail}")]
    Decode {
        check: &'static str,
        column: &'static str,
        detail: String,
    },
}

/// What verify checks: the whole graph, or only what the operation owns and what it must not
/// have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every count of the graph against the manifest: what a fresh import must show.
    Graph,
    /// The operation's nodes and relationships (counts by type, label, relationship type and
    /// pattern, markers, labels, ids, sources, fidelity) and the real resources and scanned
    /// twins left as the manifest's baseline had them; other data in the graph (unrelated nodes,
    /// other operations) is not counted: what a load into a graph in use must show.
    Operation,
    /// Only the figures Neo4j keeps in its counts store — totals, labels, relationship types —
    /// against the whole graph's: the same cost at any size, for a store restored from a
    /// fixture that was verified in full when it was cached.
    Counts,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Graph => "graph",
            Scope::Operation => "operation",
            Scope::Counts => "counts",
        })
    }
}

/// How to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How many of the operation's nodes the property-fidelity check compares with their base
    /// (spread evenly over the nodes ordered by `id`); 0 skips that check.
    pub sample: usize,
    /// Show checks done / total and the running check on stderr (when it is a terminal).
    pub progress: bool,
    /// The scope; `None` picks it from the graph: [`Scope::Graph`] when its totals are the
    /// manifest's (a fresh import), else [`Scope::Operation`] (a load into a graph holding
    /// other data).
    pub scope: Option<Scope>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            sample: DEFAULT_SAMPLE,
            progress: false,
            scope: Some(Scope::Graph),
        }
    }
}

/// The checks made so far; each one counts on the progress bar.
struct Checks<'a> {
    list: Vec<Check>,
    bar: &'a Bar,
}

impl Checks<'_> {
    fn push(&mut self, check: Check) {
        self.list.push(check);
        self.bar.set_position(self.list.len() as u64);
    }

    fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        for c in checks {
            self.push(c);
        }
    }
}

/// How many checks [`verify`] makes of `op` in `scope`: the progress bar's total (a debug
/// build asserts it at the end of every verification).
fn planned_checks(op: &Operation, scope: Scope) -> u64 {
    u64::from(op.edge_markers)
        + match scope {
            Scope::Graph => 23,
            Scope::Operation => 17,
            Scope::Counts => 5 - u64::from(op.edge_markers),
        }
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Stable id, e.g. `counts.by_label`.
    pub name: String,
    pub passed: bool,
    /// A count (shown with thousands separators), or a description.
    #[serde(serialize_with = "number_or_text")]
    pub expected: String,
    #[serde(serialize_with = "number_or_text")]
    pub found: String,
    /// What differs (first few examples), or a note.
    pub detail: String,
}

/// A count as a JSON number (its thousands separators dropped), anything else as text.
fn number_or_text<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let groups: Vec<&str> = digits.split(',').collect();
    let grouped = groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && !groups[0].is_empty()
        && (groups.len() == 1
            || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3)));
    match grouped
        .then(|| value.replace(',', "").parse::<i64>().ok())
        .flatten()
    {
        Some(n) => s.serialize_i64(n),
        None => s.serialize_str(value),
    }
}

impl Check {
    fn new(
        name: &str,
        passed: bool,
        expected: impl Into<String>,
        found: impl Into<String>,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            passed,
            expected: expected.into(),
            found: found.into(),
            detail: detail.into(),
        }
    }

    /// A count that must equal `expected`.
    fn count(name: &str, expected: u64, found: u64) -> Check {
        let detail = if expected == found {
            String::new()
        } else {
            format!("differs by {}", signed(found as i128 - expected as i128))
        };
        Check::new(
            name,
            expected == found,
            thousands(expected),
            thousands(found),
            detail,
        )
    }

    /// A count that must be 0, with example ids of the offenders.
    fn none(name: &str, found: u64, what: &str, examples: &[String]) -> Check {
        let detail = if found == 0 {
            String::new()
        } else {
            format!("{what}, e.g. {}", examples.join(", "))
        };
        Check::new(name, found == 0, "0", thousands(found), detail)
    }

    /// A count per key (label, type, pattern) that must equal the expected map.
    fn counts(
        name: &str,
        what: &str,
        expected: &BTreeMap<String, u64>,
        found: &BTreeMap<String, u64>,
    ) -> Check {
        let diffs = compare_counts(expected, found);
        let summary = |m: &BTreeMap<String, u64>| {
            format!(
                "{} {what}, {} in all",
                thousands(m.values().filter(|&&v| v > 0).count() as u64),
                thousands(m.values().sum())
            )
        };
        let detail = if diffs.is_empty() {
            String::new()
        } else {
            let mut d = format!("{} differ: ", diffs.len());
            let shown: Vec<String> = diffs
                .iter()
                .take(EXAMPLES)
                .map(|(k, e, f)| format!("{k} expected {} found {}", thousands(*e), thousands(*f)))
                .collect();
            d.push_str(&shown.join("; "));
            if diffs.len() > EXAMPLES {
                d.push_str("; ...");
            }
            d
        };
        Check::new(
            name,
            diffs.is_empty(),
            summary(expected),
            summary(found),
            detail,
        )
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub checks: Vec<Check>,
    pub operation_id: String,
    pub scope: Scope,
    /// Why the scope was picked, when the graph picked it.
    pub scope_note: Option<String>,
    pub elapsed: Duration,
}

impl VerifyReport {
    /// Whether every check passed (and there is at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The checks that failed, in order.
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// A human table, one line per check, then a summary line.
    pub fn table(&self) -> String {
        let headers = ["", "check", "expected", "found", "detail"];
        let rows: Vec<[&str; 5]> = self
            .checks
            .iter()
            .map(|c| {
                [
                    if c.passed { "ok" } else { "FAIL" },
                    c.name.as_str(),
                    c.expected.as_str(),
                    c.found.as_str(),
                    c.detail.as_str(),
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        if let Some(note) = &self.scope_note {
            let _ = writeln!(out, "scope: {} ({note})", self.scope);
        }
        for r in std::iter::once(&headers).chain(&rows) {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let failed = self.failed().len();
        let _ = writeln!(
            out,
            "{}: {} checks, {} passed, {} failed (operation {}, scope {}, {:.2} s)",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.checks.len(),
            self.checks.len() - failed,
            failed,
            self.operation_id,
            self.scope,
            self.elapsed.as_secs_f64()
        );
        out
    }

    /// One JSON document: `operation_id`, `scope` (and `scope_note` when the graph picked it),
    /// `passed`, `elapsed_ms`, `failed` (names) and `checks`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "operation_id": self.operation_id,
            "scope": self.scope,
            "scope_note": self.scope_note,
            "passed": self.passed(),
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "failed": self.failed().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            "checks": self.checks,
        })
    }
}

/// The keys whose counts differ, as (key, expected, found); a missing key counts 0.
pub fn compare_counts(
    expected: &BTreeMap<String, u64>,
    found: &BTreeMap<String, u64>,
) -> Vec<(String, u64, u64)> {
    let keys: BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let e = expected.get(k).copied().unwrap_or(0);
            let f = found.get(k).copied().unwrap_or(0);
            (e != f).then(|| (k.clone(), e, f))
        })
        .collect()
}

/// One property as verify compares it: the key, the Neo4j type (`valueType()`, e.g.
/// `ZONED DATETIME NOT NULL`) and the value as strings (`toString()` of the value, or of each
/// element of a list), which keeps temporal values' offsets and zones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Prop {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "t")]
    pub value_type: String,
    #[serde(rename = "v")]
    pub value: Vec<String>,
}

/// How a copy's property differs from its base's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropDiff {
    /// The base has the key, the copy does not.
    Missing(String),
    /// The copy has a key the base does not.
    Extra(String),
    /// Same key, different Neo4j types (copy's, base's).
    Type(String, String, String),
    /// Same key and type, different values.
    Value(String),
}

impl PropDiff {
    pub fn key(&self) -> &str {
        match self {
            PropDiff::Missing(k)
            | PropDiff::Extra(k)
            | PropDiff::Type(k, _, _)
            | PropDiff::Value(k) => k,
        }
    }
}

impl std::fmt::Display for PropDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PropDiff::Missing(k) => write!(f, "{k} missing"),
            PropDiff::Extra(k) => write!(f, "{k} extra"),
            PropDiff::Type(k, c, b) => write!(f, "{k} is {c}, base has {b}"),
            PropDiff::Value(k) => write!(f, "{k} differs"),
        }
    }
}

/// Compares a copy's properties with its base's, ignoring the `skip` keys (the operation's
/// overridden keys); the differences come sorted by key.
pub fn compare_properties(copy: &[Prop], base: &[Prop], skip: &[String]) -> Vec<PropDiff> {
    let keep = |p: &&Prop| !skip.contains(&p.key);
    let c: BTreeMap<&str, &Prop> = copy
        .iter()
        .filter(keep)
        .map(|p| (p.key.as_str(), p))
        .collect();
    let b: BTreeMap<&str, &Prop> = base
        .iter()
        .filter(keep)
        .map(|p| (p.key.as_str(), p))
        .collect();
    let keys: BTreeSet<&str> = c.keys().chain(b.keys()).copied().collect();
    keys.into_iter()
        .filter_map(|k| match (c.get(k), b.get(k)) {
            (Some(_), None) => Some(PropDiff::Extra(k.into())),
            (None, Some(_)) => Some(PropDiff::Missing(k.into())),
            (Some(cp), Some(bp)) if cp.value_type != bp.value_type => Some(PropDiff::Type(
                k.into(),
                cp.value_type.clone(),
                bp.value_type.clone(),
            )),
            (Some(cp), Some(bp)) if cp.value != bp.value => Some(PropDiff::Value(k.into())),
            _ => None,
        })
        .collect()
}

fn signed(n: i128) -> String {
    let s = thousands(n.unsigned_abs() as u64);
    if n < 0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

// ---------------------------------------------------------------------------------------------
// Cypher

/// Properties of the node bound to `n` as a list of [`Prop`] maps.
fn props(n: &str) -> String {
    crate::cypher::property_list(n)
}

/// Query plumbing: every query belongs to a check, named in errors.
struct Q<'a> {
    client: &'a Client,
    op: &'a str,
    /// Shows the check whose query runs.
    bar: &'a Bar,
}

impl Q<'_> {
    fn rows(
        &self,
        check: &'static str,
        cypher: &str,
        extra: &[(&str, neo4rs::BoltType)],
    ) -> Result<Vec<neo4rs::Row>, VerifyError> {
        self.bar.message(|| check.to_string());
        let mut params: Vec<(&str, neo4rs::BoltType)> = vec![("op", self.op.into())];
        params.extend(extra.iter().cloned());
        self.client
            .rows(cypher, &params)
            .map_err(|source| VerifyError::Query {
                check,
                source: Box::new(source),
            })
    }

    fn one(
        &self,
        check: &'static str,
        cypher: &str,
        extra: &[(&str, neo4rs::BoltType)],
    ) -> Result<neo4rs::Row, VerifyError> {
        self.rows(check, cypher, extra)?
            .into_iter()
            .next()
            .ok_or(VerifyError::Decode {
                check,
                column: "*",
                detail: "the query returned no row".into(),
            })
    }
}

fn get<'r, T: Deserialize<'r>>(
    row: &'r neo4rs::Row,
    check: &'static str,
    column: &'static str,
) -> Result<T, VerifyError> {
    row.get::<T>(column).map_err(|e| VerifyError::Decode {
        check,
        column,
        detail: e.to_string(),
    })
}

fn count(row: &neo4rs::Row, check: &'static str, column: &'static str) -> Result<u64, VerifyError> {
    let n: i64 = get(row, check, column)?;
    Ok(n.max(0) as u64)
}

// ---------------------------------------------------------------------------------------------
// The checks

/// Checks the live graph behind `client` against `manifest` (a generated directory's).
pub fn verify(
    client: &Client,
    manifest: &Manifest,
    opts: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let started = Instant::now();
    let op = manifest
        .operation
        .as_ref()
        .ok_or(VerifyError::NotGenerated {
            missing: "operation",
        })?;
    let e = manifest
        .expected
        .as_ref()
        .ok_or(VerifyError::NotGenerated {
            missing: "expected",
        })?;
    let present = crate::stats::operation_ids(client).map_err(|e| VerifyError::Query {
        check: "operations",
        source: Box::new(e),
    })?;
    crate::stats::require_operation(
        &op.id,
        &present,
        "load or import the manifest's directory into this graph first (`tenantgen load DIR --uri …`, `tenantgen import DIR`), or verify against the manifest of an operation present",
    )?;
    let hidden = Bar::hidden();
    let totals = Totals::read(&Q {
        client,
        op: &op.id,
        bar: &hidden,
    })?;
    let (scope, scope_note) = match opts.scope {
        Some(scope) => (scope, None),
        None if totals.nodes == e.nodes && totals.relationships == e.relationships => (
            Scope::Graph,
            Some("the graph's totals are the manifest's: a fresh import".to_string()),
        ),
        None => (
            Scope::Operation,
            Some(format!(
                "the graph holds {} nodes and {} relationships, the manifest's baseline and operation {} and {}: \
                 other data is in it, so the operation is checked, not the whole graph; --scope graph checks the whole graph",
                thousands(totals.nodes),
                thousands(totals.relationships),
                thousands(e.nodes),
                thousands(e.relationships)
            )),
        ),
    };
    let bar = Bar::steps(opts.progress, "verify", planned_checks(op, scope), "checks");
    let q = Q {
        client,
        op: &op.id,
        bar: &bar,
    };
    let mut checks = Checks {
        list: Vec::new(),
        bar: &bar,
    };
    bar.message(|| "load.complete".into());
    checks.push(load_complete(client, &op.id)?);
    let label_sets = operation_label_sets(manifest, op);
    match scope {
        Scope::Graph => {
            let whole = whole_graph_checks(&q, e, &totals, &mut checks)?;
            operation_node_checks(&q, op, e, &label_sets, scope, &mut checks)?;
            let op_rels = relationship_checks(&q, op, e, &mut checks)?;

            // 10. The baseline is unchanged.
            checks.push(Check::count(
                "baseline.real_abstracted",
                e.real_abstracted,
                whole.nodes.real_abstracted(),
            ));
            checks.push(Check::count(
                "baseline.original",
                e.original,
                whole.by_label.get(ORIGINAL).copied().unwrap_or(0),
            ));
            checks.push(Check::count(
                "baseline.relationships",
                e.relationships.saturating_sub(e.operation_relationships),
                totals.relationships.saturating_sub(op_rels),
            ));
        }
        Scope::Operation => {
            operation_node_checks(&q, op, e, &label_sets, scope, &mut checks)?;
            operation_relationship_checks(&q, op, e, &mut checks)?;
            // The real resources and their scanned twins are as the baseline had them (other
            // operations' nodes and unrelated data are not counted).
            let real = count(
                &q.one(
                    "baseline.real_abstracted",
                    &format!(
                        "MATCH (n:{RESOURCE}) WHERE {} RETURN count(n) AS c",
                        real_abstracted("n")
                    ),
                    &[],
                )?,
                "baseline.real_abstracted",
                "c",
            )?;
            checks.push(Check::count(
                "baseline.real_abstracted",
                e.real_abstracted,
                real,
            ));
            let original = count(
                &q.one(
                    "baseline.original",
                    &format!("MATCH (n:{ORIGINAL}) RETURN count(n) AS c"),
                    &[],
                )?,
                "baseline.original",
                "c",
            )?;
            checks.push(Check::count("baseline.original", e.original, original));
        }
        Scope::Counts => {
            count_store_checks(&q, e, &totals, &mut checks)?;
        }
    }

    // 11. Property fidelity on a sample.
    if scope != Scope::Counts {
        checks.push(fidelity(&q, op, opts.sample)?);
    }
    bar.finish();
    debug_assert_eq!(checks.list.len() as u64, planned_checks(op, scope));

    Ok(VerifyReport {
        checks: checks.list,
        operation_id: op.id.clone(),
        scope,
        scope_note,
        elapsed: started.elapsed(),
    })
}

/// 0. No load of the operation stopped part-way (its load marker is absent).
fn load_complete(client: &Client, op: &str) -> Result<Check, VerifyError> {
    const CHECK: &str = "load.complete";
    let markers = marker::read(client, Some(op)).map_err(|source| VerifyError::Query {
        check: CHECK,
        source: Box::new(source),
    })?;
    Ok(match markers.first() {
        None => Check::new(CHECK, true, "complete", "complete", ""),
        Some(m) => Check::new(
            CHECK,
            false,
            "complete",
            format!("incomplete since {}", m.started_at),
            format!(
                "a load of this operation stopped part-way: {}",
                m.advice(client.uri())
            ),
        ),
    })
}

/// What the whole-graph checks found that later checks compare with.
struct WholeGraph {
    by_label: BTreeMap<String, u64>,
    nodes: GraphScan,
}

/// 1-3: totals, labels, relationship types, abstracted and synthetic nodes, kinds.
/// The graph's totals (counts store), without the load markers.
struct Totals {
    nodes: u64,
    relationships: u64,
}

impl Totals {
    fn read(q: &Q<'_>) -> Result<Totals, VerifyError> {
        Ok(Totals {
            nodes: count(
                &q.one("totals.nodes", &count_nodes(), &[])?,
                "totals.nodes",
                "c",
            )?,
            relationships: count(
                &q.one(
                    "totals.relationships",
                    "MATCH ()-[r]->() RETURN count(r) AS c",
                    &[],
                )?,
                "totals.relationships",
                "c",
            )?,
        })
    }
}

fn whole_graph_checks(
    q: &Q<'_>,
    e: &Expected,
    totals: &Totals,
    checks: &mut Checks<'_>,
) -> Result<WholeGraph, VerifyError> {
    let by_label = count_store_checks(q, e, totals, checks)?;
    // 2-3. One node scan: abstracted by kind (and how many of them are synthetic), synthetic.
    let graph = node_scan(q)?;
    checks.push(Check::count(
        "counts.abstracted",
        e.abstracted,
        graph.abstracted(),
    ));
    checks.push(Check::count(
        "counts.synthetic",
        e.synthetic,
        graph.synthetic,
    ));
    checks.push(Check::counts(
        "counts.by_type",
        "kinds",
        &e.by_type,
        &graph.abstracted_by_kind,
    ));
    Ok(WholeGraph {
        by_label,
        nodes: graph,
    })
}

/// 1-2: totals, labels and relationship types — the figures Neo4j keeps in its counts store,
/// so they cost the same at any size; returns the counts by label.
fn count_store_checks(
    q: &Q<'_>,
    e: &Expected,
    totals: &Totals,
    checks: &mut Checks<'_>,
) -> Result<BTreeMap<String, u64>, VerifyError> {
    // 1. Totals (counts store).
    checks.push(Check::count("totals.nodes", e.nodes, totals.nodes));
    let rels = totals.relationships;
    checks.push(Check::count("totals.relationships", e.relationships, rels));

    // 2. Labels and relationship types (counts store), over the expected and the present ones.
    let by_label = token_counts(
        q,
        "counts.by_label",
        "CALL db.labels() YIELD label RETURN collect(label) AS t",
        e.by_label.keys(),
        |l| format!("MATCH (n:{}) RETURN count(n) AS c", quote(l)),
    )?;
    checks.push(Check::counts(
        "counts.by_label",
        "labels",
        &e.by_label,
        &by_label,
    ));
    let by_rel = token_counts(
        q,
        "counts.by_rel_type",
        "CALL db.relationshipTypes() YIELD relationshipType RETURN collect(relationshipType) AS t",
        e.by_rel_type.keys(),
        |t| format!("MATCH ()-[r:{}]->() RETURN count(r) AS c", quote(t)),
    )?;
    checks.push(Check::counts(
        "counts.by_rel_type",
        "types",
        &e.by_rel_type,
        &by_rel,
    ));
    Ok(by_label)
}

/// The label sets an operation node may have: those of the manifest's synthetic node groups
/// (a template operation also makes resource groups, regions and a tag), else the synthetic
/// resources' labels.
fn operation_label_sets(manifest: &Manifest, op: &Operation) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = Vec::new();
    for g in manifest
        .node_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        let mut labels = g.labels.clone();
        labels.sort();
        if !sets.contains(&labels) {
            sets.push(labels);
        }
    }
    if sets.is_empty() {
        sets.push(op.synthetic_labels.clone());
    }
    sets
}

/// 5-8: the operation's nodes — kinds, markers, labels, scan links, `id` uniqueness, sources.
fn operation_node_checks(
    q: &Q<'_>,
    op: &Operation,
    e: &Expected,
    label_sets: &[Vec<String>],
    scope: Scope,
    checks: &mut Checks<'_>,
) -> Result<(), VerifyError> {
    // 5-6. One scan of the operation's nodes.
    let opn = operation_scan(q, op, label_sets)?;
    checks.push(Check::counts(
        "counts.operation_by_type",
        "kinds",
        &e.operation_by_type,
        &opn.by_kind,
    ));
    if scope == Scope::Operation {
        checks.push(match &e.operation_by_label {
            Some(expected) => {
                Check::counts("operation.by_label", "labels", expected, &opn.by_label)
            }
            None => not_in_manifest("operation.by_label"),
        });
    }
    checks.extend(operation_checks(op, e, label_sets, &opn));

    // 6. No scan link on an operation node.
    let row = q.one(
        "operation.no_scan_link",
        "MATCH (a)-[s:SCAN_SOURCE_NODE]-(b) WHERE a.scale_operation_id = $op \
         RETURN count(s) AS c, collect(DISTINCT toStringOrNull(a.id))[..$k] AS ids",
        &[("k", (EXAMPLES as i64).into())],
    )?;
    checks.push(Check::none(
        "operation.no_scan_link",
        count(&row, "operation.no_scan_link", "c")?,
        "SCAN_SOURCE_NODE relationships on operation nodes",
        &get::<Vec<Option<String>>>(&row, "operation.no_scan_link", "ids")?
            .into_iter()
            .map(show_id)
            .collect::<Vec<_>>(),
    ));

    // 7. `id` unique across :Resource, for every id an operation node holds (the baseline's own
    // missing or duplicated ids are the baseline's: export keys those nodes by derived keys).
    let what = match scope {
        Scope::Graph | Scope::Counts => ":Resource nodes (or missing)",
        Scope::Operation => ":Resource nodes, the operation's among them (or missing on its nodes)",
    };
    let row = q.one(
        "resource.id_unique",
        &format!(
            "MATCH (n:{RESOURCE}) WITH n.id AS id, count(*) AS c, \
                    count(CASE WHEN n.scale_operation_id = $op THEN 1 END) AS mine \
             WHERE mine > 0 AND (id IS NULL OR c > 1) \
             RETURN count(*) AS c, sum(c) AS nodes, collect(toStringOrNull(id))[..$k] AS ids"
        ),
        &[("k", (EXAMPLES as i64).into())],
    )?;
    let dups = count(&row, "resource.id_unique", "c")?;
    let dup_nodes = count(&row, "resource.id_unique", "nodes")?;
    checks.push(Check::none(
        "resource.id_unique",
        dups,
        &format!(
            "{} ids held by {} {what}",
            thousands(dups),
            thousands(dup_nodes)
        ),
        &get::<Vec<Option<String>>>(&row, "resource.id_unique", "ids")?
            .into_iter()
            .map(show_id)
            .collect::<Vec<_>>(),
    ));

    // 8. Every template_source_id resolves to a base, or is a template reference.
    if op.strategy == "replicate" {
        checks.push(template_sources(q)?);
    } else {
        checks.push(template_references(q)?);
    }
    Ok(())
}

/// 4, 9: one relationship scan — patterns, and how relationships touch the operation; returns
/// the operation's relationship count.
fn relationship_checks(
    q: &Q<'_>,
    op: &Operation,
    e: &Expected,
    checks: &mut Checks<'_>,
) -> Result<u64, VerifyError> {
    let rs = relationship_scan(q)?;
    checks.push(Check::counts(
        "counts.by_pattern",
        "patterns",
        &pattern_map(&e.by_pattern),
        &rs.by_pattern,
    ));
    let op_rels = if op.edge_markers {
        rs.marked
    } else {
        rs.internal
    };
    checks.push(Check::new(
        "operation.relationships",
        op_rels == e.operation_relationships,
        thousands(e.operation_relationships),
        thousands(op_rels),
        if op.edge_markers {
            "relationships with scale_operation_id = the operation's"
        } else {
            "relationships between two operation nodes (no edge markers)"
        },
    ));
    if op.edge_markers {
        checks.push(marker_check(
            rs.unmarked_internal,
            rs.marked_detached,
            rs.marked_not_synthetic,
        ));
    }
    Ok(op_rels)
}

/// `operation.relationship_markers`: relationships between operation nodes without the
/// markers, marked ones touching no operation node, marked ones without `synthetic = true`.
fn marker_check(unmarked_internal: u64, marked_detached: u64, marked_not_synthetic: u64) -> Check {
    let mut detail = Vec::new();
    for (n, what) in [
        (
            unmarked_internal,
            "between operation nodes without the markers",
        ),
        (marked_detached, "marked but touching no operation node"),
        (marked_not_synthetic, "marked without synthetic = true"),
    ] {
        if n > 0 {
            detail.push(format!("{} {what}", thousands(n)));
        }
    }
    let bad = unmarked_internal + marked_detached + marked_not_synthetic;
    Check::new(
        "operation.relationship_markers",
        bad == 0,
        "0",
        thousands(bad),
        detail.join("; "),
    )
}

/// The operation scope's relationship checks: from the operation's nodes outwards, only the
/// relationships that touch them are read — by type and pattern, their count and markers.
fn operation_relationship_checks(
    q: &Q<'_>,
    op: &Operation,
    e: &Expected,
    checks: &mut Checks<'_>,
) -> Result<(), VerifyError> {
    let rs = operation_relationship_scan(q, op)?;
    checks.push(match &e.operation_by_rel_type {
        Some(expected) => {
            Check::counts("operation.by_rel_type", "types", expected, &rs.by_rel_type)
        }
        None => not_in_manifest("operation.by_rel_type"),
    });
    checks.push(match &e.operation_by_pattern {
        Some(expected) => Check::counts(
            "operation.by_pattern",
            "patterns",
            &pattern_map(expected),
            &rs.by_pattern,
        ),
        None => not_in_manifest("operation.by_pattern"),
    });
    let op_rels = rs.by_rel_type.values().sum::<u64>();
    checks.push(Check::new(
        "operation.relationships",
        op_rels == e.operation_relationships,
        thousands(e.operation_relationships),
        thousands(op_rels),
        if op.edge_markers {
            "relationships with scale_operation_id = the operation's, touching its nodes"
        } else {
            "relationships between two operation nodes (no edge markers)"
        },
    ));
    if op.edge_markers {
        // Read from the operation's nodes outwards: a marked relationship touching none of
        // them is not seen here.
        checks.push(marker_check(
            rs.unmarked_internal,
            0,
            rs.marked_not_synthetic,
        ));
    }
    Ok(())
}

/// A check the manifest has no expectation for (written by a tenantgen before it recorded one).
fn not_in_manifest(name: &str) -> Check {
    Check::new(
        name,
        true,
        "-",
        "-",
        "not checked: the manifest predates this count; generate the directory again to check it",
    )
}

/// What the relationships touching the operation's nodes show.
#[derive(Debug, Default)]
struct OperationRelScan {
    /// The operation's relationships (marked, or between two of its nodes without edge markers).
    by_rel_type: BTreeMap<String, u64>,
    by_pattern: BTreeMap<String, u64>,
    unmarked_internal: u64,
    marked_not_synthetic: u64,
}

fn operation_relationship_scan(q: &Q<'_>, op: &Operation) -> Result<OperationRelScan, VerifyError> {
    const CHECK: &str = "operation.by_pattern";
    // Each relationship once: those leaving an operation node, then those entering one from a
    // node that is not the operation's.
    let mine = if op.edge_markers {
        "coalesce(r.scale_operation_id = $op, false)"
    } else {
        "(ao AND bo)"
    };
    let cypher = format!(
        "CALL () {{ \
           MATCH (a)-[r]->(b) WHERE a.scale_operation_id = $op RETURN a, r, b \
           UNION ALL \
           MATCH (a)-[r]->(b) WHERE b.scale_operation_id = $op AND NOT coalesce(a.scale_operation_id = $op, false) \
           RETURN a, r, b }} \
         WITH a, r, b, coalesce(a.scale_operation_id = $op, false) AS ao, \
              coalesce(b.scale_operation_id = $op, false) AS bo \
         WITH a, r, b, ao, bo, {mine} AS mine \
         RETURN {ka} AS source, type(r) AS rel, {kb} AS target, \
                count(CASE WHEN mine THEN 1 END) AS mine, \
                count(CASE WHEN ao AND bo AND NOT coalesce(r.scale_operation_id = $op, false) THEN 1 END) AS unmarked_internal, \
                count(CASE WHEN mine AND {rr} THEN 1 END) AS marked_not_synthetic",
        ka = kind("a"),
        kb = kind("b"),
        rr = real("r"),
    );
    let mut s = OperationRelScan::default();
    for row in q.rows(CHECK, &cypher, &[])? {
        let source: Option<String> = get(&row, CHECK, "source")?;
        let rel: String = get(&row, CHECK, "rel")?;
        let target: Option<String> = get(&row, CHECK, "target")?;
        let mine = count(&row, CHECK, "mine")?;
        if mine > 0 {
            let key = pattern_key(
                source.as_deref().unwrap_or_default(),
                &rel,
                target.as_deref().unwrap_or_default(),
            );
            *s.by_pattern.entry(key).or_default() += mine;
            *s.by_rel_type.entry(rel).or_default() += mine;
        }
        s.unmarked_internal += count(&row, CHECK, "unmarked_internal")?;
        s.marked_not_synthetic += count(&row, CHECK, "marked_not_synthetic")?;
    }
    Ok(s)
}

/// Pattern counts keyed like [`pattern_key`].
fn pattern_map(patterns: &[crate::manifest::PatternCount]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for p in patterns {
        *m.entry(pattern_key(&p.source, &p.rel_type, &p.target))
            .or_default() += p.count;
    }
    m
}

/// `(source)-[TYPE]->(target)`, the key of a pattern in reports.
pub fn pattern_key(source: &str, rel_type: &str, target: &str) -> String {
    format!("({source})-[{rel_type}]->({target})")
}

fn show_id(id: Option<String>) -> String {
    id.unwrap_or_else(|| "<no id>".into())
}

/// Counts per token (label or relationship type) for the union of the expected tokens and the
/// ones the database lists.
fn token_counts<'a>(
    q: &Q<'_>,
    check: &'static str,
    list: &str,
    expected: impl Iterator<Item = &'a String>,
    count_query: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, u64>, VerifyError> {
    let present: Vec<String> = get(&q.one(check, list, &[])?, check, "t")?;
    let tokens: BTreeSet<String> = expected
        .cloned()
        .chain(present.into_iter().filter(|t| t != LOAD_MARKER))
        .collect();
    let mut out = BTreeMap::new();
    for t in tokens {
        let n = count(&q.one(check, &count_query(&t), &[])?, check, "c")?;
        if n > 0 {
            out.insert(t, n);
        }
    }
    Ok(out)
}

/// What one scan of all nodes finds.
#[derive(Debug, Default)]
struct GraphScan {
    abstracted_by_kind: BTreeMap<String, u64>,
    abstracted_synthetic: u64,
    synthetic: u64,
}

impl GraphScan {
    fn abstracted(&self) -> u64 {
        self.abstracted_by_kind.values().sum()
    }

    fn real_abstracted(&self) -> u64 {
        self.abstracted() - self.abstracted_synthetic
    }
}

fn node_scan(q: &Q<'_>) -> Result<GraphScan, VerifyError> {
    const CHECK: &str = "counts.by_type";
    let cypher = format!(
        "MATCH (n) WITH n, {} AS abstracted \
         RETURN abstracted, CASE WHEN abstracted THEN {} END AS kind, count(*) AS nodes, \
                count(CASE WHEN {} THEN 1 END) AS synthetic",
        abstracted("n"),
        kind("n"),
        synthetic("n"),
    );
    let mut scan = GraphScan::default();
    for row in q.rows(CHECK, &cypher, &[])? {
        let abstracted: bool = get(&row, CHECK, "abstracted")?;
        let nodes = count(&row, CHECK, "nodes")?;
        let synthetic = count(&row, CHECK, "synthetic")?;
        scan.synthetic += synthetic;
        if abstracted {
            let kind: Option<String> = get(&row, CHECK, "kind")?;
            *scan
                .abstracted_by_kind
                .entry(kind.unwrap_or_default())
                .or_default() += nodes;
            scan.abstracted_synthetic += synthetic;
        }
    }
    Ok(scan)
}

/// What one scan of the operation's nodes finds.
#[derive(Debug, Default)]
struct OperationScan {
    nodes: u64,
    by_kind: BTreeMap<String, u64>,
    by_label: BTreeMap<String, u64>,
    synthetic: u64,
    bad_markers: u64,
    bad_marker_ids: Vec<String>,
    bad_labels: u64,
    bad_label_ids: Vec<String>,
    original: u64,
    original_ids: Vec<String>,
    strategies: BTreeSet<String>,
    timestamps: BTreeSet<String>,
}

fn operation_scan(
    q: &Q<'_>,
    op: &Operation,
    label_sets: &[Vec<String>],
) -> Result<OperationScan, VerifyError> {
    const CHECK: &str = "operation.nodes";
    let nonempty = |p: &str| format!("(n.{p} IS :: STRING NOT NULL AND n.{p} <> '')");
    let mut markers = vec![
        synthetic("n"),
        nonempty("scale_operation_id"),
        nonempty("generation_strategy"),
        nonempty("generation_timestamp"),
    ];
    if op.strategy == "replicate" {
        markers.push(nonempty("template_source_id"));
    }
    let cypher = format!(
        "MATCH (n) WHERE n.scale_operation_id = $op \
         WITH n, {kind} AS kind, coalesce({markers}, false) AS markers_ok, \
              any(ls IN $label_sets WHERE size(labels(n)) = size(ls) AND all(l IN ls WHERE l IN labels(n))) AS labels_ok \
         RETURN kind, labels(n) AS labels, count(*) AS nodes, count(CASE WHEN {synthetic} THEN 1 END) AS synthetic, \
                count(CASE WHEN NOT markers_ok THEN 1 END) AS bad_markers, \
                collect(CASE WHEN NOT markers_ok THEN toStringOrNull(n.id) END)[..$k] AS bad_marker_ids, \
                count(CASE WHEN NOT labels_ok THEN 1 END) AS bad_labels, \
                collect(CASE WHEN NOT labels_ok THEN toStringOrNull(n.id) END)[..$k] AS bad_label_ids, \
                count(CASE WHEN n:{ORIGINAL} THEN 1 END) AS original, \
                collect(CASE WHEN n:{ORIGINAL} THEN toStringOrNull(n.id) END)[..$k] AS original_ids, \
                collect(DISTINCT toStringOrNull(n.generation_strategy))[..$k] AS strategies, \
                collect(DISTINCT toStringOrNull(n.generation_timestamp))[..$k] AS timestamps",
        kind = kind("n"),
        synthetic = synthetic("n"),
        markers = markers.join(" AND "),
    );
    let label_sets: Vec<neo4rs::BoltType> = label_sets
        .iter()
        .map(|set| {
            set.iter()
                .map(|l| neo4rs::BoltType::from(l.as_str()))
                .collect::<Vec<_>>()
                .into()
        })
        .collect();
    let rows = q.rows(
        CHECK,
        &cypher,
        &[
            ("label_sets", label_sets.into()),
            ("k", (EXAMPLES as i64).into()),
        ],
    )?;
    let mut s = OperationScan::default();
    let take = |v: &mut Vec<String>, more: Vec<Option<String>>| {
        v.extend(more.into_iter().map(show_id));
        v.truncate(EXAMPLES);
    };
    for row in rows {
        let kind: Option<String> = get(&row, CHECK, "kind")?;
        let nodes = count(&row, CHECK, "nodes")?;
        s.nodes += nodes;
        *s.by_kind.entry(kind.unwrap_or_default()).or_default() += nodes;
        for label in get::<Vec<String>>(&row, CHECK, "labels")? {
            *s.by_label.entry(label).or_default() += nodes;
        }
        s.synthetic += count(&row, CHECK, "synthetic")?;
        s.bad_markers += count(&row, CHECK, "bad_markers")?;
        take(&mut s.bad_marker_ids, get(&row, CHECK, "bad_marker_ids")?);
        s.bad_labels += count(&row, CHECK, "bad_labels")?;
        take(&mut s.bad_label_ids, get(&row, CHECK, "bad_label_ids")?);
        s.original += count(&row, CHECK, "original")?;
        take(&mut s.original_ids, get(&row, CHECK, "original_ids")?);
        s.strategies.extend(
            get::<Vec<Option<String>>>(&row, CHECK, "strategies")?
                .into_iter()
                .flatten(),
        );
        s.timestamps.extend(
            get::<Vec<Option<String>>>(&row, CHECK, "timestamps")?
                .into_iter()
                .flatten(),
        );
    }
    Ok(s)
}

fn operation_checks(
    op: &Operation,
    e: &Expected,
    label_sets: &[Vec<String>],
    s: &OperationScan,
) -> Vec<Check> {
    let mut out = Vec::new();
    // The count, and a failure on zero synthetic nodes even when the counts agree.
    let ok = s.nodes == e.operation_nodes && s.synthetic > 0;
    let detail = if s.synthetic == 0 {
        format!("no synthetic node carries scale_operation_id = {}", op.id)
    } else if s.nodes != e.operation_nodes {
        format!(
            "differs by {}",
            signed(s.nodes as i128 - e.operation_nodes as i128)
        )
    } else {
        String::new()
    };
    out.push(Check::new(
        "operation.nodes",
        ok,
        thousands(e.operation_nodes),
        thousands(s.nodes),
        detail,
    ));
    let what = if op.strategy == "replicate" {
        "without synthetic = true or with an empty scale_operation_id, generation_strategy, generation_timestamp or template_source_id"
    } else {
        "without synthetic = true or with an empty scale_operation_id, generation_strategy or generation_timestamp"
    };
    out.push(Check::none(
        "operation.markers",
        s.bad_markers,
        what,
        &s.bad_marker_ids,
    ));
    // One strategy and the manifest's exact timestamp on every node.
    let ts: Vec<&String> = s.timestamps.iter().collect();
    let strategies: Vec<&String> = s.strategies.iter().collect();
    let ok =
        s.nodes > 0 && strategies.len() == 1 && ts.len() == 1 && *ts[0] == op.generation_timestamp;
    out.push(Check::new(
        "operation.marker_values",
        ok,
        format!("one strategy, generation_timestamp {}", op.generation_timestamp),
        format!(
            "strategies {:?}, timestamps {:?}",
            strategies, ts
        ),
        if ok { "" } else { "every node of one operation carries the same strategy and the manifest's generation_timestamp" },
    ));
    out.push(Check::none(
        "operation.labels",
        s.bad_labels,
        &match label_sets {
            [one] => format!("nodes whose labels are not exactly {one:?}"),
            _ => format!("nodes whose labels are not exactly one of {label_sets:?}"),
        },
        &s.bad_label_ids,
    ));
    out.push(Check::none(
        "operation.no_original",
        s.original,
        "operation nodes labelled :Original",
        &s.original_ids,
    ));
    out
}

fn template_sources(q: &Q<'_>) -> Result<Check, VerifyError> {
    const CHECK: &str = "operation.template_source";
    let row = q.one(
        CHECK,
        &format!("MATCH (c) WHERE c.scale_operation_id = $op \
         WITH collect(DISTINCT c.template_source_id) AS ts \
         OPTIONAL MATCH (b) WHERE b.id IN ts AND {} \
         WITH ts, collect(DISTINCT b.id) AS found \
         RETURN size(ts) AS wanted, size(found) AS found, \
                [t IN ts WHERE t STARTS WITH $derived AND NOT t IN found] AS derived, \
                CASE WHEN size(found) < size(ts) \
                     THEN [t IN ts WHERE NOT t IN found AND NOT t STARTS WITH $derived | toStringOrNull(t)][..$k] ELSE [] END AS missing",
            real_abstracted("b")),
        &[
            ("k", (EXAMPLES as i64).into()),
            ("derived", crate::cypher::DERIVED_KEY_PREFIX.into()),
        ],
    )?;
    let wanted = count(&row, CHECK, "wanted")?;
    // Bases exported without a usable `id` are named by derived keys.
    let derived: Vec<String> = get(&row, CHECK, "derived")?;
    let resolved = derived_bases(q, CHECK, &derived)?;
    let found = count(&row, CHECK, "found")? + resolved.len() as u64;
    let mut missing: Vec<String> = get::<Vec<Option<String>>>(&row, CHECK, "missing")?
        .into_iter()
        .map(show_id)
        .collect();
    missing.extend(
        derived
            .iter()
            .filter(|k| !resolved.contains_key(*k))
            .map(|k| show_id(Some(k.clone()))),
    );
    missing.truncate(EXAMPLES);
    Ok(Check::new(
        CHECK,
        wanted == found,
        format!("{} distinct sources resolve", thousands(wanted)),
        format!("{} resolve", thousands(found)),
        if wanted == found {
            String::new()
        } else {
            format!(
                "{} template_source_id values name no abstracted non-synthetic :Resource, e.g. {}",
                thousands(wanted - found),
                missing.join(", ")
            )
        },
    ))
}

/// The real abstracted resources named by the derived keys among `keys`: key → elementId.
fn derived_bases(
    q: &Q<'_>,
    check: &'static str,
    keys: &[String],
) -> Result<std::collections::HashMap<String, String>, VerifyError> {
    let keys = crate::cypher::DerivedKeys::new(keys.iter().map(String::as_str));
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let (ids, bare) = keys.params();
    let rows = q.rows(
        check,
        &crate::cypher::DerivedKeys::query(RESOURCE, &real_abstracted("n")),
        &[("ids", ids.into()), ("bare", bare.into())],
    )?;
    let mut candidates = Vec::with_capacity(rows.len());
    for row in &rows {
        candidates.push((get(row, check, "e")?, get(row, check, "m")?));
    }
    Ok(keys.resolve(candidates))
}

/// A template operation's resources name their template entry, not a base: every
/// `template_source_id` on the operation's nodes is a template reference.
fn template_references(q: &Q<'_>) -> Result<Check, VerifyError> {
    const CHECK: &str = "operation.template_source";
    let row = q.one(
        CHECK,
        &format!(
            "MATCH (c:{RESOURCE}) WHERE c.scale_operation_id = $op \
             WITH c, coalesce({}, false) AS ok \
             RETURN count(c) AS rows, count(CASE WHEN NOT ok THEN 1 END) AS bad, \
                    collect(CASE WHEN NOT ok THEN toStringOrNull(c.id) END)[..$k] AS ids",
            template_source_expr("c.template_source_id")
        ),
        &[("k", (EXAMPLES as i64).into())],
    )?;
    let rows = count(&row, CHECK, "rows")?;
    let bad = count(&row, CHECK, "bad")?;
    let ids: Vec<String> = get::<Vec<Option<String>>>(&row, CHECK, "ids")?
        .into_iter()
        .map(show_id)
        .collect();
    Ok(Check::new(
        CHECK,
        bad == 0,
        format!("{} template references", thousands(rows)),
        thousands(rows - bad),
        if bad == 0 {
            String::new()
        } else {
            format!(
                "resources of the operation whose template_source_id is not a template reference (template:<file>#resources[<n>]), e.g. {}",
                ids.join(", ")
            )
        },
    ))
}

/// What one scan of all relationships finds.
#[derive(Debug, Default)]
struct RelScan {
    by_pattern: BTreeMap<String, u64>,
    /// Relationships with the operation's `scale_operation_id`.
    marked: u64,
    /// Relationships between two operation nodes.
    internal: u64,
    unmarked_internal: u64,
    marked_detached: u64,
    marked_not_synthetic: u64,
}

fn relationship_scan(q: &Q<'_>) -> Result<RelScan, VerifyError> {
    const CHECK: &str = "counts.by_pattern";
    let cypher = format!(
        "MATCH (a)-[r]->(b) \
         WITH a, r, b, coalesce(a.scale_operation_id = $op, false) AS ao, \
              coalesce(b.scale_operation_id = $op, false) AS bo, \
              coalesce(r.scale_operation_id = $op, false) AS ro \
         RETURN {ka} AS source, type(r) AS rel, {kb} AS target, count(*) AS c, \
                count(CASE WHEN ro THEN 1 END) AS marked, \
                count(CASE WHEN ao AND bo THEN 1 END) AS internal, \
                count(CASE WHEN ao AND bo AND NOT ro THEN 1 END) AS unmarked_internal, \
                count(CASE WHEN ro AND NOT ao AND NOT bo THEN 1 END) AS marked_detached, \
                count(CASE WHEN ro AND {rr} THEN 1 END) AS marked_not_synthetic",
        ka = kind("a"),
        kb = kind("b"),
        rr = real("r"),
    );
    let mut s = RelScan::default();
    for row in q.rows(CHECK, &cypher, &[])? {
        let source: Option<String> = get(&row, CHECK, "source")?;
        let rel: String = get(&row, CHECK, "rel")?;
        let target: Option<String> = get(&row, CHECK, "target")?;
        let key = pattern_key(
            source.as_deref().unwrap_or_default(),
            &rel,
            target.as_deref().unwrap_or_default(),
        );
        *s.by_pattern.entry(key).or_default() += count(&row, CHECK, "c")?;
        s.marked += count(&row, CHECK, "marked")?;
        s.internal += count(&row, CHECK, "internal")?;
        s.unmarked_internal += count(&row, CHECK, "unmarked_internal")?;
        s.marked_detached += count(&row, CHECK, "marked_detached")?;
        s.marked_not_synthetic += count(&row, CHECK, "marked_not_synthetic")?;
    }
    Ok(s)
}

/// Compares `sample` operation nodes (spread evenly over them in `id` order) with their bases.
fn fidelity(q: &Q<'_>, op: &Operation, sample: usize) -> Result<Check, VerifyError> {
    const CHECK: &str = "properties.fidelity";
    let skipped = |why: String| Check::new(CHECK, true, "-", "-", why);
    if op.strategy != "replicate" {
        return Ok(skipped(format!(
            "not applicable: strategy {} makes nodes without a base",
            op.strategy
        )));
    }
    if sample == 0 {
        return Ok(skipped("skipped (--sample 0)".into()));
    }
    let cypher = format!(
        "MATCH (c) WHERE c.scale_operation_id = $op \
         WITH c ORDER BY c.id \
         WITH collect(c) AS cs \
         WITH cs, size(cs) AS n \
         UNWIND CASE WHEN n <= $sample THEN range(0, n - 1) \
                     ELSE [i IN range(0, $sample - 1) | i * n / $sample] END AS idx \
         WITH cs[idx] AS c \
         RETURN toStringOrNull(c.id) AS id, toStringOrNull(c.template_source_id) AS source, {} AS props",
        props("c")
    );
    #[derive(Deserialize)]
    struct Node {
        id: Option<String>,
        source: Option<String>,
        props: Vec<Prop>,
    }
    let read = |row: &neo4rs::Row| -> Result<Node, VerifyError> {
        Ok(Node {
            id: get(row, CHECK, "id")?,
            source: get(row, CHECK, "source")?,
            props: get(row, CHECK, "props")?,
        })
    };
    let copies = q
        .rows(CHECK, &cypher, &[("sample", (sample as i64).into())])?
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let sources: BTreeSet<&str> = copies.iter().filter_map(|c| c.source.as_deref()).collect();
    let ids: Vec<neo4rs::BoltType> = sources.iter().map(|&s| s.into()).collect();
    let cypher = format!(
        "MATCH (c) WHERE c.id IN $ids AND {} \
         RETURN toStringOrNull(c.id) AS id, null AS source, {} AS props",
        real_abstracted("c"),
        props("c")
    );
    let mut bases: BTreeMap<String, Node> = BTreeMap::new();
    for row in q.rows(CHECK, &cypher, &[("ids", ids.into())])? {
        let b = read(&row)?;
        if let Some(id) = b.id.clone() {
            bases.insert(id, b);
        }
    }
    // Bases named by derived keys: found by their key material, read by elementId.
    let derived: Vec<String> = sources
        .iter()
        .filter(|s| crate::cypher::is_derived_key(s))
        .map(|s| s.to_string())
        .collect();
    let by_element = derived_bases(q, CHECK, &derived)?;
    if !by_element.is_empty() {
        let elements: Vec<neo4rs::BoltType> =
            by_element.values().map(|e| e.as_str().into()).collect();
        let cypher = format!(
            "MATCH (c) WHERE elementId(c) IN $elements \
             RETURN elementId(c) AS id, null AS source, {} AS props",
            props("c")
        );
        let mut by_id: BTreeMap<String, Node> = BTreeMap::new();
        for row in q.rows(CHECK, &cypher, &[("elements", elements.into())])? {
            let b = read(&row)?;
            if let Some(e) = b.id.clone() {
                by_id.insert(e, b);
            }
        }
        for (key, element) in &by_element {
            if let Some(b) = by_id.get(element) {
                bases.insert(
                    key.clone(),
                    Node {
                        id: Some(key.clone()),
                        source: None,
                        props: b.props.clone(),
                    },
                );
            }
        }
    }
    let mut problems: Vec<String> = Vec::new();
    let mut bad = 0u64;
    for c in &copies {
        let id = c.id.clone().unwrap_or_else(|| "<no id>".into());
        let diffs = match c.source.as_deref().and_then(|s| bases.get(s)) {
            None => vec![format!(
                "{id}: base {:?} not found",
                c.source.as_deref().unwrap_or("")
            )],
            Some(b) => compare_properties(&c.props, &b.props, &op.overridden_keys)
                .iter()
                .map(|d| format!("({id}, {d})"))
                .collect(),
        };
        if !diffs.is_empty() {
            bad += 1;
            problems.extend(diffs);
        }
    }
    let shown = problems.iter().take(EXAMPLES).cloned().collect::<Vec<_>>();
    let mut detail = format!(
        "{} copies compared with {} bases, overridden keys skipped",
        thousands(copies.len() as u64),
        thousands(bases.len() as u64)
    );
    if bad > 0 {
        detail = format!("{}; {}", shown.join("; "), detail);
        if problems.len() > EXAMPLES {
            detail.insert_str(
                0,
                &format!("{} differences: ", thousands(problems.len() as u64)),
            );
        }
    }
    Ok(Check::new(
        CHECK,
        bad == 0 && !copies.is_empty(),
        format!(
            "{} sampled copies equal their base",
            thousands(copies.len() as u64)
        ),
        format!("{} differ", thousands(bad)),
        if copies.is_empty() {
            "no operation node to sample".into()
        } else {
            detail
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(k: &str, t: &str, v: &[&str]) -> Prop {
        Prop {
            key: k.into(),
            value_type: t.into(),
            value: v.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn report(passed: &[bool]) -> VerifyReport {
        VerifyReport {
            checks: passed
                .iter()
                .enumerate()
                .map(|(i, &p)| Check::new(&format!("c.{i}"), p, "1", if p { "1" } else { "2" }, ""))
                .collect(),
            operation_id: "scale-x".into(),
            scope: Scope::Graph,
            scope_note: None,
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn compare_counts_treats_missing_keys_as_zero() {
        let e: BTreeMap<String, u64> = [("A".into(), 2), ("B".into(), 3)].into();
        let f: BTreeMap<String, u64> = [("A".into(), 2), ("C".into(), 1)].into();
        assert_eq!(
            compare_counts(&e, &f),
            vec![("B".into(), 3, 0), ("C".into(), 0, 1)]
        );
        assert!(compare_counts(&e, &e).is_empty());
    }

    #[test]
    fn compare_properties_skips_overridden_keys() {
        let base = [
            prop("id", "STRING NOT NULL", &["vm-1"]),
            prop("location", "STRING NOT NULL", &["westus"]),
            prop("zones", "LIST<STRING NOT NULL> NOT NULL", &["1", "2"]),
        ];
        let copy = [
            prop("id", "STRING NOT NULL", &["synthetic-vm-1"]),
            prop("location", "STRING NOT NULL", &["westus"]),
            prop("zones", "LIST<STRING NOT NULL> NOT NULL", &["1", "2"]),
            prop("synthetic", "BOOLEAN NOT NULL", &["true"]),
        ];
        let skip = vec!["id".to_string(), "synthetic".to_string()];
        assert!(compare_properties(&copy, &base, &skip).is_empty());
        assert_eq!(
            compare_properties(&copy, &base, &[]),
            vec![
                PropDiff::Value("id".into()),
                PropDiff::Extra("synthetic".into())
            ]
        );
    }

    #[test]
    fn compare_properties_sees_types_values_and_missing_keys() {
        let base = [
            prop(
                "updated_at",
                "ZONED DATETIME NOT NULL",
                &["2025-11-09T12:56:57.131Z"],
            ),
            prop("count", "INTEGER NOT NULL", &["1"]),
            prop("tags", "STRING NOT NULL", &["{}"]),
            prop("zones", "LIST<STRING NOT NULL> NOT NULL", &["1", "2"]),
        ];
        let copy = [
            // Same instant, other offset: a different value.
            prop(
                "updated_at",
                "ZONED DATETIME NOT NULL",
                &["2025-11-09T13:56:57.131+01:00"],
            ),
            prop("count", "FLOAT NOT NULL", &["1.0"]),
            prop("zones", "LIST<STRING NOT NULL> NOT NULL", &["2", "1"]),
        ];
        let diffs = compare_properties(&copy, &base, &[]);
        assert_eq!(
            diffs,
            vec![
                PropDiff::Type(
                    "count".into(),
                    "FLOAT NOT NULL".into(),
                    "INTEGER NOT NULL".into()
                ),
                PropDiff::Missing("tags".into()),
                PropDiff::Value("updated_at".into()),
                PropDiff::Value("zones".into()),
            ]
        );
        assert_eq!(
            diffs[0].to_string(),
            "count is FLOAT NOT NULL, base has INTEGER NOT NULL"
        );
        assert_eq!(diffs[1].key(), "tags");
    }

    #[test]
    fn table_lines_up_and_summarises() {
        let mut r = report(&[true, false]);
        r.checks[1].detail = "differs by +1".into();
        let t = r.table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("      check"), "{t}");
        assert_eq!(lines[1], "ok    c.0    1         1", "{t}");
        assert_eq!(
            lines[2], "FAIL  c.1    1         2      differs by +1",
            "{t}"
        );
        assert_eq!(
            lines[3],
            "FAILED: 2 checks, 1 passed, 1 failed (operation scale-x, scope graph, 1.50 s)"
        );
        assert!(report(&[true])
            .table()
            .contains("PASSED: 1 checks, 1 passed, 0 failed"));
    }

    #[test]
    fn json_shape() {
        let r = report(&[true, false, true]);
        let j = r.to_json();
        assert_eq!(j["operation_id"], "scale-x");
        assert_eq!(j["scope"], "graph");
        assert!(j["scope_note"].is_null());
        assert_eq!(j["passed"], false);
        assert_eq!(j["elapsed_ms"], 1500);
        assert_eq!(j["failed"], json!(["c.1"]));
        let checks = j["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 3);
        assert_eq!(
            checks[1],
            json!({"name": "c.1", "passed": false, "expected": 1, "found": 2, "detail": ""})
        );
        assert_eq!(report(&[true]).to_json()["passed"], true);
    }

    #[test]
    fn an_empty_report_does_not_pass() {
        assert!(!report(&[]).passed());
        assert!(report(&[true, true]).passed());
        assert_eq!(report(&[false, true, false]).failed().len(), 2);
    }

    #[test]
    fn count_checks_say_how_far_off() {
        let c = Check::count("totals.nodes", 25_755, 25_754);
        assert!(!c.passed);
        assert_eq!(
            (c.expected.as_str(), c.found.as_str()),
            ("25,755", "25,754")
        );
        assert_eq!(c.detail, "differs by -1");
        let e: BTreeMap<String, u64> = [("Resource".into(), 3)].into();
        let f: BTreeMap<String, u64> = [("Resource".into(), 2), ("Extra".into(), 1)].into();
        let c = Check::counts("counts.by_label", "labels", &e, &f);
        assert!(!c.passed);
        assert_eq!(c.expected, "1 labels, 3 in all");
        assert_eq!(c.found, "2 labels, 3 in all");
        assert_eq!(
            c.detail,
            "2 differ: Extra expected 0 found 1; Resource expected 3 found 2"
        );
    }

    #[test]
    fn tokens_are_quoted() {
        assert_eq!(quote("Resource"), "`Resource`");
        assert_eq!(quote("we`ird"), "`we``ird`");
        assert_eq!(pattern_key("a", "T", "b"), "(a)-[T]->(b)");
    }
}
