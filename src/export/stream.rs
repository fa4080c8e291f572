//! Streaming, the second of the export's two passes: each discovered group's rows are read in
//! a fixed order (keyset pages over a unique key, or one ordered query that the driver pulls in
//! batches) and encoded straight into the group's part writer, so memory stays constant
//! whatever the graph's size. Owns the Cypher that reads rows, the Bolt-to-CSV encoding of
//! values, and derived ids; the groups themselves come from [`super::discover`].

use neo4rs::{BoltType, Row};
use xxhash_rust::xxh3::xxh3_64;

use super::{
    describe_labels, io_err, label_match, prop, string, ExportError, IdStrategy, NodePlan, PropCol,
    RelPlan, Result,
};
use crate::cypher::quote;
use crate::format::csv as csvfmt;
use crate::format::header::{Column, ColumnKind, Header};
use crate::manifest::{NodeGroup, Origin, RelGroup};
use crate::neo4j::Client;
use crate::outdir::{self, Compression, PartWriter, Staged};
use crate::report::Bar;

/// Writes one node group: its header, then its rows into one part, checked against the count
/// discovery saw.
pub(super) fn node_group(
    client: &Client,
    plan: &NodePlan,
    batch: usize,
    enc: &mut Encoder,
    staged: &Staged,
    bar: &Bar,
) -> Result<NodeGroup> {
    let stored = plan.id == IdStrategy::Stored;
    let id_col = Column {
        name: if stored { "id".into() } else { String::new() },
        kind: ColumnKind::Id {
            space: plan.space.clone(),
            stored,
        },
    };
    let columns = std::iter::once(id_col)
        .chain(prop_columns(&plan.cols))
        .collect();
    let header = staged.write_header(&plan.name, &Header { columns })?;
    let mut part = create_part(staged, &plan.name)?;
    export_nodes(client, plan, batch, enc, &mut part, bar)?;
    if part.rows() != plan.count {
        return Err(ExportError::Changed {
            what: format!("node group {}", plan.name),
            expected: plan.count,
            found: part.rows(),
        });
    }
    Ok(NodeGroup {
        name: plan.name.clone(),
        labels: plan.labels.clone(),
        id_space: plan.space.clone(),
        header,
        files: vec![part.finish()?],
        origin: Origin::Baseline,
    })
}

/// Writes one relationship group: its header, then each of its patterns' rows into one part,
/// each checked against the count discovery saw.
pub(super) fn rel_group(
    client: &Client,
    plan: &RelPlan,
    nodes: &[NodePlan],
    enc: &mut Encoder,
    staged: &Staged,
    bar: &Bar,
) -> Result<RelGroup> {
    let ends = [
        Column {
            name: String::new(),
            kind: ColumnKind::StartId {
                space: plan.start_space.clone(),
            },
        },
        Column {
            name: String::new(),
            kind: ColumnKind::EndId {
                space: plan.end_space.clone(),
            },
        },
    ];
    let columns = ends.into_iter().chain(prop_columns(&plan.cols)).collect();
    let header = staged.write_header(&plan.name, &Header { columns })?;
    let mut part = create_part(staged, &plan.name)?;
    for &(s, e, count) in &plan.patterns {
        let found = export_relationships(client, plan, &nodes[s], &nodes[e], enc, &mut part, bar)?;
        if found != count {
            return Err(ExportError::Changed {
                what: format!(
                    "relationships {}-[:{}]->{}",
                    describe_labels(&nodes[s].labels),
                    plan.rel_type,
                    describe_labels(&nodes[e].labels)
                ),
                expected: count,
                found,
            });
        }
    }
    Ok(RelGroup {
        name: plan.name.clone(),
        rel_type: plan.rel_type.clone(),
        start_space: plan.start_space.clone(),
        end_space: plan.end_space.clone(),
        header,
        files: vec![part.finish()?],
        origin: Origin::Baseline,
    })
}

/// A group's one data part (an export is never compressed).
fn create_part(staged: &Staged, group: &str) -> Result<PartWriter> {
    Ok(staged.create_part(
        outdir::part_path(group, 0, Compression::None),
        Compression::None,
    )?)
}

fn write_row(part: &mut PartWriter, row: &[u8], bar: &Bar) -> Result<()> {
    bar.add(1);
    part.write_row(row)
        .map_err(|source| io_err("cannot write", part.path())(source))
}

/// Streams one node group in id order: keyset pages over a unique string key, or (for hashed
/// ids) one query ordered by every property, which the driver still pulls in batches.
fn export_nodes(
    client: &Client,
    plan: &NodePlan,
    batch: usize,
    enc: &mut Encoder,
    part: &mut PartWriter,
    bar: &Bar,
) -> Result<()> {
    let owner = format!("node {}", describe_labels(&plan.labels));
    let (pattern, pred) = label_match("n", &plan.labels);
    let values = values_expr("n", &plan.cols);
    let mut row_buf = Vec::new();
    let mut props = Vec::new();
    let mut prev: Option<String> = None;
    let mut emit = |id: String, vals: Vec<BoltType>, enc: &mut Encoder| -> Result<()> {
        props.clear();
        enc.push_props(
            &mut props,
            &plan.cols,
            &vals,
            &Ctx {
                owner: &owner,
                id: &id,
            },
        )?;
        let id = match plan.id {
            IdStrategy::Stored => id,
            IdStrategy::Key(_) => derived_id(plan, id.as_bytes()),
            IdStrategy::Hash => derived_id(plan, &props),
        };
        if prev.as_deref() == Some(id.as_str()) {
            return Err(ExportError::DuplicateId {
                space: plan.space.clone(),
                id,
                labels: describe_labels(&plan.labels),
            });
        }
        row_buf.clear();
        csvfmt::push_field(&mut row_buf, id.as_bytes());
        row_buf.extend_from_slice(&props);
        row_buf.push(b'\n');
        write_row(part, &row_buf, bar)?;
        prev = Some(id);
        Ok(())
    };
    let key = match &plan.id {
        IdStrategy::Stored => "id".to_string(),
        IdStrategy::Key(k) => k.clone(),
        IdStrategy::Hash => {
            let order = order_all("n", &plan.cols);
            let order = if order.is_empty() {
                String::new()
            } else {
                format!(" ORDER BY {}", order.join(", "))
            };
            let cypher = format!("MATCH {pattern} WHERE {pred} RETURN {values} AS v{order}");
            stream(client, &cypher, Vec::new(), |row| {
                let vals = list_of(&row, "v", &owner)?;
                emit(String::new(), vals, enc)
            })?;
            return Ok(());
        }
    };
    let k = prop("n", &key);
    let first = format!(
        "MATCH {pattern} WHERE {pred} RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let next = format!(
        "MATCH {pattern} WHERE {pred} AND {k} > $last \
         RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let mut last: Option<String> = None;
    loop {
        let (cypher, mut params) = match &last {
            None => (&first, Vec::new()),
            Some(l) => (&next, vec![("last", BoltType::from(l.as_str()))]),
        };
        params.push(("batch", BoltType::from(batch as i64)));
        let mut page_last = None;
        let n = stream(client, cypher, params, |row| {
            let id = string(&row, "k", &owner)?;
            let vals = list_of(&row, "v", &owner)?;
            page_last = Some(id.clone());
            emit(id, vals, enc)
        })?;
        if (n as usize) < batch || page_last.is_none() {
            return Ok(());
        }
        last = page_last;
    }
}

/// The Cypher that returns a node's id material and the terms that order by it.
fn endpoint_exprs(var: &str, plan: &NodePlan) -> (String, Vec<String>) {
    match &plan.id {
        IdStrategy::Stored => (prop(var, "id"), vec![prop(var, "id")]),
        IdStrategy::Key(k) => (prop(var, k), vec![prop(var, k)]),
        IdStrategy::Hash => (values_expr(var, &plan.cols), order_all(var, &plan.cols)),
    }
}

/// The id of an endpoint from the value [`endpoint_exprs`] returned.
fn endpoint_id(plan: &NodePlan, v: BoltType, enc: &mut Encoder, owner: &str) -> Result<String> {
    match (&plan.id, v) {
        (IdStrategy::Stored, BoltType::String(s)) => Ok(s.value),
        (IdStrategy::Key(_), BoltType::String(s)) => Ok(derived_id(plan, s.value.as_bytes())),
        (IdStrategy::Hash, BoltType::List(l)) => {
            let mut props = Vec::new();
            enc.push_props(&mut props, &plan.cols, &l.value, &Ctx { owner, id: "" })?;
            Ok(derived_id(plan, &props))
        }
        (_, other) => Err(ExportError::Value {
            what: format!("endpoint of {owner}"),
            value: format!("{other:?}"),
        }),
    }
}

/// Streams the relationships of one (start group, type, end group) pattern, ordered by start
/// id, end id, then every property (so parallel edges come in a fixed order).
fn export_relationships(
    client: &Client,
    plan: &RelPlan,
    start: &NodePlan,
    end: &NodePlan,
    enc: &mut Encoder,
    part: &mut PartWriter,
    bar: &Bar,
) -> Result<u64> {
    let owner = format!("relationship group {}", plan.name);
    let (sp, spred) = label_match("a", &start.labels);
    let (ep, epred) = label_match("b", &end.labels);
    let (a_expr, a_order) = endpoint_exprs("a", start);
    let (b_expr, b_order) = endpoint_exprs("b", end);
    let order: Vec<String> = a_order
        .into_iter()
        .chain(b_order)
        .chain(order_all("r", &plan.cols))
        .collect();
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", order.join(", "))
    };
    let cypher = format!(
        "MATCH {sp}-[r:{}]->{ep} WHERE {spred} AND {epred} \
         RETURN {a_expr} AS start_id, {b_expr} AS end_id, {} AS vals{order}",
        quote(&plan.rel_type),
        values_expr("r", &plan.cols)
    );
    let mut row_buf = Vec::new();
    stream(client, &cypher, Vec::new(), |row| {
        let a = row
            .get::<BoltType>("start_id")
            .map_err(|e| ExportError::Value {
                what: owner.clone(),
                value: e.to_string(),
            })?;
        let b = row
            .get::<BoltType>("end_id")
            .map_err(|e| ExportError::Value {
                what: owner.clone(),
                value: e.to_string(),
            })?;
        let a = endpoint_id(start, a, enc, &owner)?;
        let b = endpoint_id(end, b, enc, &owner)?;
        let vals = list_of(&row, "vals", &owner)?;
        row_buf.clear();
        csvfmt::push_field(&mut row_buf, a.as_bytes());
        row_buf.push(csvfmt::DELIMITER);
        csvfmt::push_field(&mut row_buf, b.as_bytes());
        let id = format!("{a}->{b}");
        enc.push_props(
            &mut row_buf,
            &plan.cols,
            &vals,
            &Ctx {
                owner: &owner,
                id: &id,
            },
        )?;
        row_buf.push(b'\n');
        write_row(part, &row_buf, bar)
    })
}

fn prop_columns(cols: &[PropCol]) -> impl Iterator<Item = Column> + '_ {
    cols.iter().map(|c| Column {
        name: c.key.clone(),
        kind: ColumnKind::Property {
            ty: c.ty,
            array: c.array,
        },
    })
}

/// The Cypher expression that returns a column's value in a form [`Encoder`] writes verbatim:
/// temporal values as Neo4j's own `toString` (exactly what neo4j-admin reads back).
fn value_expr(var: &str, col: &PropCol) -> String {
    let p = prop(var, &col.key);
    let temporal = crate::cypher::temporal_fn(col.ty).is_some();
    match (temporal, col.array) {
        (false, _) => p,
        (true, false) => format!("toString({p})"),
        (true, true) => format!("[x IN {p} | toString(x)]"),
    }
}

fn values_expr(var: &str, cols: &[PropCol]) -> String {
    let exprs: Vec<String> = cols.iter().map(|c| value_expr(var, c)).collect();
    format!("[{}]", exprs.join(", "))
}

/// `ORDER BY` terms over every column: a total order on distinct property maps.
fn order_all(var: &str, cols: &[PropCol]) -> Vec<String> {
    cols.iter().map(|c| prop(var, &c.key)).collect()
}

/// Shortest text that parses back to the same `f64` (Rust's `Debug`), in Java's spelling for
/// the non-finite values neo4j-admin reads.
fn push_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        out.extend_from_slice(format!("{v:?}").as_bytes());
    }
}

/// Turns Bolt values into CSV fields; remembers whether any value held a line break.
#[derive(Default)]
pub(super) struct Encoder {
    pub(super) multiline: bool,
    scratch: Vec<u8>,
}

/// What a value belongs to, for error messages.
struct Ctx<'a> {
    owner: &'a str,
    id: &'a str,
}

impl Encoder {
    /// Appends the properties (`,`-separated, each preceded by a `,`).
    fn push_props(
        &mut self,
        out: &mut Vec<u8>,
        cols: &[PropCol],
        values: &[BoltType],
        ctx: &Ctx<'_>,
    ) -> Result<()> {
        if values.len() != cols.len() {
            return Err(ExportError::Value {
                what: ctx.owner.to_string(),
                value: format!("{} values for {} columns", values.len(), cols.len()),
            });
        }
        for (col, v) in cols.iter().zip(values) {
            out.push(csvfmt::DELIMITER);
            self.push_value(out, col, v, ctx)?;
        }
        Ok(())
    }

    fn push_value(
        &mut self,
        out: &mut Vec<u8>,
        col: &PropCol,
        v: &BoltType,
        ctx: &Ctx<'_>,
    ) -> Result<()> {
        let array_err = |problem: &str| ExportError::Array {
            owner: ctx.owner.to_string(),
            id: ctx.id.to_string(),
            key: col.key.clone(),
            problem: problem.to_string(),
        };
        match v {
            BoltType::Null(_) => {}
            BoltType::List(list) if col.array => {
                if list.value.is_empty() {
                    return Err(array_err("is an empty list"));
                }
                self.scratch.clear();
                let mut elem = Vec::new();
                for (i, e) in list.value.iter().enumerate() {
                    elem.clear();
                    scalar_text(&mut elem, e).ok_or_else(|| ExportError::Value {
                        what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                        value: format!("{e:?}"),
                    })?;
                    if elem.is_empty() {
                        return Err(array_err("holds an empty string element"));
                    }
                    if elem.contains(&csvfmt::ARRAY_DELIMITER) {
                        return Err(array_err(&format!(
                            "has element {:?} holding ';'",
                            String::from_utf8_lossy(&elem)
                        )));
                    }
                    if i > 0 {
                        self.scratch.push(csvfmt::ARRAY_DELIMITER);
                    }
                    self.scratch.extend_from_slice(&elem);
                }
                self.multiline |= csvfmt::has_line_break(&self.scratch);
                csvfmt::push_field(out, &self.scratch);
            }
            v if !col.array => {
                self.scratch.clear();
                scalar_text(&mut self.scratch, v).ok_or_else(|| ExportError::Value {
                    what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                    value: format!("{v:?}"),
                })?;
                self.multiline |= csvfmt::has_line_break(&self.scratch);
                csvfmt::push_field(out, &self.scratch);
            }
            other => {
                return Err(ExportError::Value {
                    what: format!("{} with id {:?}, property {:?}", ctx.owner, ctx.id, col.key),
                    value: format!("{other:?}"),
                })
            }
        }
        Ok(())
    }
}

/// The unquoted text of a scalar value (temporal values arrive as strings).
fn scalar_text(out: &mut Vec<u8>, v: &BoltType) -> Option<()> {
    match v {
        BoltType::String(s) => out.extend_from_slice(s.value.as_bytes()),
        BoltType::Integer(i) => out.extend_from_slice(i.value.to_string().as_bytes()),
        BoltType::Float(f) => push_double(out, f.value),
        BoltType::Boolean(b) => out.extend_from_slice(if b.value { b"true" } else { b"false" }),
        _ => return None,
    }
    Some(())
}

fn list_of(row: &Row, key: &str, what: &str) -> Result<Vec<BoltType>> {
    match row.get::<BoltType>(key) {
        Ok(BoltType::List(l)) => Ok(l.value),
        Ok(other) => Err(ExportError::Value {
            what: what.to_string(),
            value: format!("{other:?}"),
        }),
        Err(e) => Err(ExportError::Value {
            what: what.to_string(),
            value: e.to_string(),
        }),
    }
}

/// Runs `cypher` and calls `f` with each row as it arrives (the driver pulls in batches).
fn stream(
    client: &Client,
    cypher: &str,
    params: Vec<(&str, BoltType)>,
    f: impl FnMut(Row) -> Result<()>,
) -> Result<u64> {
    client.for_each_row(cypher, &params, f)
}

/// The derived id of a node of `plan` from its key value or its encoded properties.
fn derived_id(plan: &NodePlan, key_or_props: &[u8]) -> String {
    let mut id = plan.labels.join(":");
    id.push(':');
    match plan.id {
        IdStrategy::Hash => {
            let mut hex = Vec::with_capacity(16);
            csvfmt::push_hex16(&mut hex, xxh3_64(key_or_props));
            id.push_str(&String::from_utf8_lossy(&hex));
        }
        _ => id.push_str(&String::from_utf8_lossy(key_or_props)),
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::header::ValueType;

    fn col(key: &str, ty: ValueType, array: bool) -> PropCol {
        PropCol {
            key: key.into(),
            ty,
            array,
        }
    }

    #[test]
    fn doubles_use_shortest_round_trip() {
        let text = |v: f64| {
            let mut out = Vec::new();
            push_double(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(1.0), "1.0");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1e300), "1e300");
        assert_eq!(text(f64::INFINITY), "Infinity");
        assert_eq!(text(f64::NAN), "NaN");
        for v in [0.1 + 0.2, -2.5e-10, 123456.789] {
            assert_eq!(text(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn encoder_quotes_lists_and_refuses_what_arrays_cannot_hold() {
        let mut enc = Encoder::default();
        let ctx = Ctx {
            owner: "node :Resource",
            id: "r1",
        };
        let cols = [
            col("name", ValueType::String, false),
            col("zones", ValueType::String, true),
            col("n", ValueType::Long, false),
            col("gone", ValueType::String, false),
            col("empty", ValueType::String, false),
        ];
        let zones: BoltType = vec![BoltType::from("1"), BoltType::from("2")].into();
        let vals = vec![
            BoltType::from("a,b\nc"),
            zones,
            BoltType::from(42_i64),
            BoltType::Null(neo4rs::BoltNull),
            BoltType::from(""),
        ];
        let mut out = Vec::new();
        enc.push_props(&mut out, &cols, &vals, &ctx).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ",\"a,b\nc\",\"1;2\",42,,\"\""
        );
        assert!(enc.multiline);

        let bad: BoltType = vec![BoltType::from("x;y")].into();
        let e = enc
            .push_props(&mut Vec::new(), &cols[1..2], &[bad], &ctx)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"r1\"") && e.contains("\"zones\"") && e.contains("';'"),
            "{e}"
        );
        let empty: BoltType = Vec::<BoltType>::new().into();
        let e = enc
            .push_props(&mut Vec::new(), &cols[1..2], &[empty], &ctx)
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty list"), "{e}");
    }
}
