//! `stats`: what a live graph holds — totals (nodes, relationships, abstracted, real,
//! synthetic, original), abstracted resources by `type` (real and synthetic columns) and
//! synthetic nodes by operation — and its three renderings (table, JSON, Markdown). Counting
//! is here; checking against a manifest is `verify`'s job. The words are
//! [`crate::cypher`]'s; note that the by-type table groups by the `type` property as text
//! ([`crate::cypher::type_text`]), not by kind. An operation whose load marker is in the graph
//! ([`crate::load::marker`]) is listed as incomplete with the command that resumes it, even
//! before any of its nodes arrived; the marker itself is in no total.
//!
//! The operations a graph holds are listed here, once: [`operation_ids`], and
//! [`require_operation`], the check `stats --operation-id`, `clean` and `verify` make before
//! they work on one operation (an id the graph does not hold is an error naming the ones it
//! does, never an empty answer).

pub mod shape;

use serde::Serialize;

use crate::cypher::{abstracted, count_nodes, real_abstracted, synthetic, type_text, ORIGINAL};
use crate::load::marker;
use crate::neo4j::{Client, Neo4jError};
use crate::report::thousands_i64;

/// Whole-graph totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub nodes: i64,
    pub relationships: i64,
    /// `:Resource` nodes without `:Original`.
    pub abstracted: i64,
    /// Abstracted resources that are not `synthetic = true`.
    pub real_abstracted: i64,
    /// Nodes with `synthetic = true`.
    pub synthetic: i64,
    /// `:Original` nodes.
    pub original: i64,
}

/// Abstracted resources of one `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub real: i64,
    pub synthetic: i64,
}

/// The nodes of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperationRow {
    pub operation_id: String,
    pub nodes: i64,
    pub strategy: String,
    pub timestamp: String,
    /// False while the operation's load marker is in the graph.
    pub complete: bool,
    /// `complete` or `incomplete`.
    pub status: &'static str,
    /// For an incomplete load: the node rows it sends in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_expected: Option<i64>,
    /// For an incomplete load: `incomplete — run `tenantgen load …` again to resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
}

const COMPLETE: &str = "complete";
const INCOMPLETE: &str = "incomplete";

impl OperationRow {
    /// A complete operation's row ([`collect`] marks the incomplete ones).
    fn new(operation_id: String, nodes: i64, strategy: String, timestamp: String) -> OperationRow {
        OperationRow {
            operation_id,
            nodes,
            strategy,
            timestamp,
            complete: true,
            status: COMPLETE,
            nodes_expected: None,
            resume: None,
        }
    }
}

/// Everything `stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    pub totals: Totals,
    pub by_type: Vec<TypeRow>,
    pub by_operation: Vec<OperationRow>,
}

/// One rendered section: title, column heads, rows of cells.
type Section = (&'static str, Vec<String>, Vec<Vec<String>>);

/// The output formats of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

fn field<T: serde::de::DeserializeOwned>(row: &neo4rs::Row, key: &str) -> Option<T> {
    row.get::<T>(key).ok()
}

/// An operation id the graph holds no node or load marker of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no operation {operation} in the graph; operations present: {}; {advice}", present_list(.present))]
pub struct OperationAbsent {
    pub operation: String,
    /// The operations the graph does hold, sorted.
    pub present: Vec<String>,
    /// What to do, in the words of the command that asked.
    pub advice: String,
}

fn present_list(present: &[String]) -> String {
    if present.is_empty() {
        "none".into()
    } else {
        present.join(", ")
    }
}

/// The ids of the operations in the graph, sorted: those with nodes and those whose load
/// stopped before its first node (only the load marker).
pub fn operation_ids(client: &Client) -> Result<Vec<String>, Neo4jError> {
    let mut ids: Vec<String> = client
        .rows(
            "MATCH (n) WHERE n.scale_operation_id IS NOT NULL \
             RETURN DISTINCT toString(n.scale_operation_id) AS op",
            &[],
        )?
        .iter()
        .filter_map(|r| field::<String>(r, "op"))
        .collect();
    ids.extend(
        marker::read(client, None)?
            .into_iter()
            .map(|m| m.operation_id),
    );
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Ok when `operation` is one of `present` (from [`operation_ids`] or
/// [`GraphStats::operation_ids`]), else the error that names the operations present and says
/// `advice`.
pub fn require_operation(
    operation: &str,
    present: &[String],
    advice: &str,
) -> Result<(), OperationAbsent> {
    if present.iter().any(|p| p == operation) {
        return Ok(());
    }
    Err(OperationAbsent {
        operation: operation.into(),
        present: present.to_vec(),
        advice: advice.into(),
    })
}

/// Counts the live graph.
pub fn collect(client: &Client) -> Result<GraphStats, Neo4jError> {
    let c = |q: &str| client.scalar_i64(q, &[]);
    let totals = Totals {
        nodes: c(&count_nodes())?,
        relationships: c("MATCH ()-[r]->() RETURN count(r) AS c")?,
        abstracted: c(&format!(
            "MATCH (n) WHERE {} RETURN count(n) AS c",
            abstracted("n")
        ))?,
        real_abstracted: c(&format!(
            "MATCH (n) WHERE {} RETURN count(n) AS c",
            real_abstracted("n")
        ))?,
        synthetic: c(&format!(
            "MATCH (n) WHERE {} RETURN count(n) AS c",
            synthetic("n")
        ))?,
        original: c(&format!("MATCH (n:{ORIGINAL}) RETURN count(n) AS c"))?,
    };
    let by_type = client
        .rows(
            &format!(
                "MATCH (n) WHERE {} WITH {} AS t, {} AS s \
                 RETURN t, sum(CASE WHEN s THEN 0 ELSE 1 END) AS real_count, \
                 sum(CASE WHEN s THEN 1 ELSE 0 END) AS synthetic_count ORDER BY t",
                abstracted("n"),
                type_text("n"),
                synthetic("n"),
            ),
            &[],
        )?
        .iter()
        .map(|r| TypeRow {
            kind: field(r, "t").unwrap_or_default(),
            real: field(r, "real_count").unwrap_or_default(),
            synthetic: field(r, "synthetic_count").unwrap_or_default(),
        })
        .collect();
    let mut by_operation: Vec<OperationRow> = client
        .rows(
            "MATCH (n) WHERE n.scale_operation_id IS NOT NULL \
             RETURN toString(n.scale_operation_id) AS op, count(n) AS nodes, \
             collect(DISTINCT toString(n.generation_strategy)) AS strategies, \
             min(toString(n.generation_timestamp)) AS ts ORDER BY op",
            &[],
        )?
        .iter()
        .map(|r| {
            OperationRow::new(
                field(r, "op").unwrap_or_default(),
                field(r, "nodes").unwrap_or_default(),
                field::<Vec<String>>(r, "strategies")
                    .unwrap_or_default()
                    .join(","),
                field::<Option<String>>(r, "ts")
                    .flatten()
                    .unwrap_or_default(),
            )
        })
        .collect();
    for m in marker::read(client, None)? {
        let at = by_operation.partition_point(|r| r.operation_id < m.operation_id);
        if by_operation
            .get(at)
            .is_none_or(|r| r.operation_id != m.operation_id)
        {
            // A load stopped before its first node: the marker is all there is.
            let row = OperationRow::new(m.operation_id.clone(), 0, String::new(), String::new());
            by_operation.insert(at, row);
        }
        let row = &mut by_operation[at];
        row.complete = false;
        row.status = INCOMPLETE;
        row.nodes_expected = Some(m.nodes_expected);
        row.resume = Some(m.advice(client.uri()));
    }
    Ok(GraphStats {
        totals,
        by_type,
        by_operation,
    })
}

impl GraphStats {
    /// The operations listed, in order (what [`operation_ids`] finds).
    pub fn operation_ids(&self) -> Vec<String> {
        self.by_operation
            .iter()
            .map(|r| r.operation_id.clone())
            .collect()
    }

    fn totals_rows(&self) -> Vec<(&'static str, i64)> {
        let t = &self.totals;
        vec![
            ("nodes", t.nodes),
            ("relationships", t.relationships),
            ("abstracted", t.abstracted),
            ("real abstracted", t.real_abstracted),
            ("synthetic", t.synthetic),
            ("original", t.original),
        ]
    }

    fn sections(&self) -> Vec<Section> {
        let totals = self
            .totals_rows()
            .into_iter()
            .map(|(k, v)| vec![k.to_string(), thousands_i64(v)])
            .collect();
        let types = self
            .by_type
            .iter()
            .map(|r| {
                vec![
                    r.kind.clone(),
                    thousands_i64(r.real),
                    thousands_i64(r.synthetic),
                    thousands_i64(r.real + r.synthetic),
                ]
            })
            .collect();
        let ops = self
            .by_operation
            .iter()
            .map(|r| {
                vec![
                    r.operation_id.clone(),
                    thousands_i64(r.nodes),
                    r.strategy.clone(),
                    r.timestamp.clone(),
                    match r.nodes_expected {
                        Some(e) if !r.complete => {
                            format!(
                                "{} ({} of {} nodes)",
                                r.status,
                                thousands_i64(r.nodes),
                                thousands_i64(e)
                            )
                        }
                        _ => r.status.to_string(),
                    },
                ]
            })
            .collect();
        vec![
            ("Totals", vec!["count".into(), "value".into()], totals),
            (
                "Abstracted resources by type",
                ["type", "real", "synthetic", "total"]
                    .map(String::from)
                    .to_vec(),
                types,
            ),
            (
                "Operations",
                ["operation", "nodes", "strategy", "timestamp", "status"]
                    .map(String::from)
                    .to_vec(),
                ops,
            ),
        ]
    }

    /// Renders in `format`; every rendering ends with a newline.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
                s.push('\n');
                s
            }
            Format::Table => self.render_table(),
            Format::Markdown => self.render_markdown(),
        }
    }

    fn render_table(&self) -> String {
        let mut out = String::new();
        for (i, (title, head, rows)) in self.sections().into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(title);
            out.push('\n');
            if rows.is_empty() {
                out.push_str("  (none)\n");
                continue;
            }
            let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            // Text left, numbers right (a column is numeric when every cell is).
            let numeric: Vec<bool> = (0..widths.len())
                .map(|j| {
                    j > 0
                        && rows.iter().all(|r| {
                            r[j].chars()
                                .next()
                                .is_some_and(|ch| ch.is_ascii_digit() || ch == '-')
                                && !r[j].contains(['T', ' '])
                        })
                })
                .collect();
            let line = |cells: &[String]| {
                let mut s = String::new();
                for (j, (c, w)) in cells.iter().zip(&widths).enumerate() {
                    let pad = w - c.chars().count();
                    if numeric[j] {
                        s.push_str(&format!("  {}{c}", " ".repeat(pad)));
                    } else {
                        s.push_str(&format!("  {c}{}", " ".repeat(pad)));
                    }
                }
                s.trim_end().to_string() + "\n"
            };
            out.push_str(&line(&head));
            for r in &rows {
                out.push_str(&line(r));
            }
        }
        for l in self.resume_lines() {
            out.push_str(&format!("  {l}\n"));
        }
        out
    }

    /// One line per incomplete operation: its id and how to resume it.
    fn resume_lines(&self) -> Vec<String> {
        self.by_operation
            .iter()
            .filter_map(|r| Some(format!("{}: {}", r.operation_id, r.resume.as_ref()?)))
            .collect()
    }

    fn render_markdown(&self) -> String {
        let cell = |c: &str| c.replace('|', "\\|");
        let mut out = String::new();
        for (i, (title, head, rows)) in self.sections().into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("## {title}\n\n"));
            out.push_str(&format!("| {} |\n", head.join(" | ")));
            let align: Vec<&str> = head
                .iter()
                .enumerate()
                .map(|(j, _)| if j == 0 { "---" } else { "---:" })
                .collect();
            out.push_str(&format!("| {} |\n", align.join(" | ")));
            for r in &rows {
                let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
        }
        let resume = self.resume_lines();
        if !resume.is_empty() {
            out.push('\n');
            for l in resume {
                out.push_str(&format!("- {}\n", l.replace('|', "\\|")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_operation_names_those_present_or_none() {
        let present = ["scale-a".to_string(), "scale-b".to_string()];
        assert_eq!(require_operation("scale-b", &present, "do x"), Ok(()));
        assert_eq!(
            require_operation("scale-c", &present, "do x")
                .unwrap_err()
                .to_string(),
            "no operation scale-c in the graph; operations present: scale-a, scale-b; do x"
        );
        assert_eq!(
            require_operation("scale-c", &[], "do x")
                .unwrap_err()
                .to_string(),
            "no operation scale-c in the graph; operations present: none; do x"
        );
    }

    fn sample() -> GraphStats {
        GraphStats {
            totals: Totals {
                nodes: 7341,
                relationships: 6825,
                abstracted: 4092,
                real_abstracted: 2046,
                synthetic: 2046,
                original: 2216,
            },
            by_type: vec![TypeRow {
                kind: "Microsoft.Network/virtualNetworks".into(),
                real: 12,
                synthetic: 1200,
            }],
            by_operation: vec![OperationRow {
                operation_id: "scale-20251111T191612-d2dcd199".into(),
                nodes: 2046,
                strategy: "template".into(),
                timestamp: "2025-11-11T19:16:12.123456".into(),
                complete: true,
                status: COMPLETE,
                nodes_expected: None,
                resume: None,
            }],
        }
    }

    /// `sample` plus an operation whose load stopped after 1,500 of its 18,414 nodes, and one
    /// whose load stopped before its first node.
    fn with_incomplete() -> GraphStats {
        let mut s = sample();
        for (op, nodes) in [("scale-a", 1500), ("scale-b", 0)] {
            s.by_operation.push(OperationRow {
                operation_id: op.into(),
                nodes,
                strategy: if nodes > 0 { "replicate".into() } else { String::new() },
                timestamp: String::new(),
                complete: false,
                status: INCOMPLETE,
                nodes_expected: Some(18414),
                resume: Some(format!(
                    "incomplete — run `tenantgen load /g/{op} --uri bolt://h:1 --batch-size 500` again to resume"
                )),
            });
        }
        s
    }

    #[test]
    fn incomplete_operations_say_how_to_resume() {
        let t = with_incomplete().render(Format::Table);
        assert!(t.contains("  complete\n"), "{t}");
        assert!(t.contains("incomplete (1,500 of 18,414 nodes)"), "{t}");
        assert!(t.contains("incomplete (0 of 18,414 nodes)"), "{t}");
        assert!(
            t.ends_with("  scale-b: incomplete — run `tenantgen load /g/scale-b --uri bolt://h:1 --batch-size 500` again to resume\n"),
            "{t}"
        );
        let m = with_incomplete().render(Format::Markdown);
        assert!(
            m.contains("| scale-a | 1,500 | replicate |  | incomplete (1,500 of 18,414 nodes) |"),
            "{m}"
        );
        assert!(
            m.contains("\n- scale-a: incomplete — run `tenantgen load /g/scale-a"),
            "{m}"
        );
        let j: serde_json::Value =
            serde_json::from_str(&with_incomplete().render(Format::Json)).unwrap();
        assert_eq!(j["by_operation"][0]["complete"], true);
        assert_eq!(j["by_operation"][0]["status"], "complete");
        assert!(j["by_operation"][0].get("resume").is_none());
        assert_eq!(j["by_operation"][1]["complete"], false);
        assert_eq!(j["by_operation"][1]["status"], "incomplete");
        assert_eq!(j["by_operation"][1]["nodes_expected"], 18414);
        assert!(j["by_operation"][2]["resume"]
            .as_str()
            .unwrap()
            .contains("tenantgen load /g/scale-b"));
    }

    #[test]
    fn table_aligns_numbers_right() {
        let t = sample().render(Format::Table);
        assert!(t.starts_with("Totals\n"), "{t}");
        assert!(t.contains("  nodes            7,341\n"), "{t}");
        assert!(t.contains("  original         2,216\n"), "{t}");
        assert!(
            t.contains("  type                               real  synthetic  total\n"),
            "{t}"
        );
        assert!(
            t.contains("Microsoft.Network/virtualNetworks    12      1,200  1,212"),
            "{t}"
        );
        assert!(
            t.contains("scale-20251111T191612-d2dcd199  2,046  template"),
            "{t}"
        );
    }

    #[test]
    fn markdown_has_one_table_per_section() {
        let m = sample().render(Format::Markdown);
        assert_eq!(m.matches("## ").count(), 3, "{m}");
        assert!(m.contains("| real abstracted | 2,046 |"), "{m}");
        assert!(
            m.contains("| type | real | synthetic | total |\n| --- | ---: | ---: | ---: |"),
            "{m}"
        );
    }

    #[test]
    fn json_round_trips_the_numbers() {
        let j: serde_json::Value = serde_json::from_str(&sample().render(Format::Json)).unwrap();
        assert_eq!(j["totals"]["synthetic"], 2046);
        assert_eq!(j["by_type"][0]["type"], "Microsoft.Network/virtualNetworks");
        assert_eq!(j["by_operation"][0]["nodes"], 2046);
    }
}
