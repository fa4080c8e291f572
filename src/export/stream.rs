//! Streaming, the second of the export's two passes: each discovered group's rows are read in
//! a fixed order (keyset pages over a unique key, or one ordered query that the driver pulls in
//! batches) and encoded straight into the group's part writer, so memory stays constant
//! whatever the graph's size (but for the count of each derived key, to number nodes alike).
//! Owns the Cypher that reads rows and the Bolt-to-CSV encoding of values; the groups come from
//! [`super::discover`], the derived-key rule from [`crate::cypher`].

use std::collections::HashMap;

use neo4rs::{BoltType, Row};

use super::{
    describe_labels, io_err, label_match, prop, string, ExportError, NodePlan, PropCol, RelPlan,
    Result,
};
use crate::cypher::{self, quote};
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
    let stored = plan.stored;
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

/// Streams one node group: the nodes keyed by their `id`, in id order (keyset pages over it),
/// then (unless the group is stored) the others in the order of their properties (one query,
/// which the driver pulls in batches), each keyed by its derived key.
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
    let dups = BoltType::from(plan.dups.clone());
    let keyed = own_key("n", plan);
    let k = prop("n", "id");
    let first = format!(
        "MATCH {pattern} WHERE {pred} AND {keyed} RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let next = format!(
        "MATCH {pattern} WHERE {pred} AND {keyed} AND {k} > $last \
         RETURN {k} AS k, {values} AS v ORDER BY {k} LIMIT $batch"
    );
    let mut last: Option<String> = None;
    loop {
        let (cypher, mut params) = match &last {
            None => (&first, Vec::new()),
            Some(l) => (&next, vec![("last", BoltType::from(l.as_str()))]),
        };
        params.push(("batch", BoltType::from(batch as i64)));
        params.push(("dups", dups.clone()));
        let mut page_last = None;
        let n = stream(client, cypher, params, |row| {
            let id = string(&row, "k", &owner)?;
            let vals = list_of(&row, "v", &owner)?;
            page_last = Some(id.clone());
            emit(id, vals, enc)
        })?;
        if (n as usize) < batch || page_last.is_none() {
            break;
        }
        last = page_last;
    }
    if plan.stored {
        return Ok(());
    }
    // Nodes alike get `~2`, `~3`, … in this order; relationships find them by elementId.
    let mut order = order_all("n", &plan.cols);
    order.push("elementId(n)".into());
    let cypher = format!(
        "MATCH {pattern} WHERE {pred} AND NOT ({keyed}) \
         RETURN elementId(n) AS e, {} AS m, {values} AS v ORDER BY {}",
        cypher::key_material("n"),
        order.join(", ")
    );
    let mut seen: HashMap<String, u64> = HashMap::new();
    stream(client, &cypher, vec![("dups", dups)], |row| {
        let m = material(&row, &owner)?;
        let e = string(&row, "e", &owner)?;
        let mut key = cypher::derived_key(&m);
        let n = seen.entry(key.clone()).or_default();
        *n += 1;
        if *n > 1 {
            key = cypher::alike_key(&key, *n);
            enc.alike.insert(e, key.clone());
        }
        let vals = list_of(&row, "v", &owner)?;
        emit(key, vals, enc)
    })?;
    Ok(())
}

/// The predicate that the node bound to `var` (of group `plan`) is keyed by its `id`: a string
/// no other node of the ID space has (`$dups`; every node of a stored group).
fn own_key(var: &str, plan: &NodePlan) -> String {
    own_key_with(var, plan, "dups")
}

fn own_key_with(var: &str, plan: &NodePlan, dups: &str) -> String {
    if plan.stored {
        "true".into()
    } else {
        let id = prop(var, "id");
        format!("({id} IS :: STRING NOT NULL AND NOT {id} IN ${dups})")
    }
}

fn material(row: &Row, what: &str) -> Result<cypher::KeyMaterial> {
    row.get::<cypher::KeyMaterial>("m")
        .map_err(|e| ExportError::Value {
            what: what.to_string(),
            value: e.to_string(),
        })
}

/// The Cypher columns of an endpoint (`<p>k`: its `id` when that is its key, else `<p>e`: its
/// elementId and `<p>m`: its key material) and the terms that order by it.
fn endpoint_exprs(var: &str, plan: &NodePlan, dups: &str, p: &str) -> (String, Vec<String>) {
    let id = prop(var, "id");
    if plan.stored {
        return (
            format!("{id} AS {p}k, null AS {p}e, null AS {p}m"),
            vec![id],
        );
    }
    let own = own_key_with(var, plan, dups);
    let key = format!("CASE WHEN {own} THEN {id} END");
    let cols = format!(
        "{key} AS {p}k, CASE WHEN {own} THEN null ELSE elementId({var}) END AS {p}e, \
         CASE WHEN {own} THEN null ELSE {} END AS {p}m",
        cypher::key_material(var)
    );
    let mut order = vec![key];
    order.extend(order_all(var, &plan.cols));
    (cols, order)
}

/// The key of an endpoint from the columns [`endpoint_exprs`] returned.
fn endpoint_id(row: &Row, p: &str, enc: &Encoder, owner: &str) -> Result<String> {
    let bad = |e: neo4rs::DeError| ExportError::Value {
        what: format!("endpoint of {owner}"),
        value: e.to_string(),
    };
    if let Some(id) = row.get::<Option<String>>(&format!("{p}k")).map_err(bad)? {
        return Ok(id);
    }
    let e: String = row.get(&format!("{p}e")).map_err(bad)?;
    if let Some(k) = enc.alike.get(&e) {
        return Ok(k.clone());
    }
    let m: cypher::KeyMaterial = row.get(&format!("{p}m")).map_err(bad)?;
    Ok(cypher::derived_key(&m))
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
    let (a_cols, a_order) = endpoint_exprs("a", start, "sdups", "s");
    let (b_cols, b_order) = endpoint_exprs("b", end, "edups", "e");
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
         RETURN {a_cols}, {b_cols}, {} AS vals{order}",
        quote(&plan.rel_type),
        values_expr("r", &plan.cols)
    );
    let mut row_buf = Vec::new();
    let params = vec![
        ("sdups", BoltType::from(start.dups.clone())),
        ("edups", BoltType::from(end.dups.clone())),
    ];
    stream(client, &cypher, params, |row| {
        let a = endpoint_id(&row, "s", enc, &owner)?;
        let b = endpoint_id(&row, "e", enc, &owner)?;
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
/// temporal values and durations as Neo4j's own `toString`, points as their map literal
/// (exactly what neo4j-admin reads back), values of several types as text.
fn value_expr(var: &str, col: &PropCol) -> String {
    let p = prop(var, &col.key);
    let text = |x: &str| {
        if col.as_text {
            Some(format!("toString({x})"))
        } else {
            cypher::to_csv_text(col.ty, x)
        }
    };
    if col.array {
        match text("x") {
            Some(t) => format!("[x IN {p} | {t}]"),
            None => p,
        }
    } else {
        text(&p).unwrap_or(p)
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
    /// elementId → key of the nodes alike after the first (see [`cypher::alike_key`]).
    alike: HashMap<String, String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::header::ValueType;

    fn col(key: &str, ty: ValueType, array: bool) -> PropCol {
        PropCol {
            key: key.into(),
            ty,
            array,
            as_text: false,
        }
    }

    #[test]
    fn values_are_read_as_neo4j_admin_reads_them() {
        assert_eq!(
            value_expr("n", &col("a", ValueType::String, false)),
            "n.`a`"
        );
        assert_eq!(
            value_expr("n", &col("d", ValueType::Duration, false)),
            "toString(n.`d`)"
        );
        let p = value_expr("n", &col("p", ValueType::Point, true));
        assert!(p.starts_with("[x IN n.`p` | '{crs:' + x.crs"), "{p}");
        let mixed = PropCol {
            as_text: true,
            ..col("id", ValueType::String, false)
        };
        assert_eq!(value_expr("n", &mixed), "toString(n.`id`)");
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
