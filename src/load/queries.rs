//! The Cypher text of the load batches: one `UNWIND $rows` query per group, built once from
//! its labels, type and property columns. Every name is quoted and every temporal column
//! converted through [`crate::cypher`]; what the rows hold is [`super::records`]'s.

use super::PropCol;
use crate::cypher::quote;

/// `, n.`k` = datetime(row.t.`k`)` for each temporal column.
fn temporal_sets(var: &str, src: &str, props: &[PropCol]) -> String {
    let mut s = String::new();
    for p in props {
        if let Some(f) = p.temporal() {
            let k = quote(&p.name);
            if p.array {
                s.push_str(&format!(", {var}.{k} = [x IN {src}.t.{k} | {f}(x)]"));
            } else {
                s.push_str(&format!(", {var}.{k} = {f}({src}.t.{k})"));
            }
        }
    }
    s
}

/// The `UNWIND ... MERGE` query of a node group.
pub(super) fn node_cypher(merge_label: &str, labels: &[String], props: &[PropCol]) -> String {
    let mut extra = String::new();
    for l in labels.iter().filter(|l| *l != merge_label) {
        extra.push_str(&format!(", n:{}", quote(l)));
    }
    let foreign = if props.iter().any(|p| p.name == "scale_operation_id") {
        "sum(CASE WHEN n.scale_operation_id = $op THEN 0 ELSE 1 END)"
    } else {
        "0"
    };
    format!(
        "UNWIND $rows AS row\n\
         MERGE (n:{ml} {{id: row.id}})\n\
         ON CREATE SET n += row.props{temporal}{extra}\n\
         RETURN {foreign} AS foreign, 0 AS missing, 0 AS created",
        ml = quote(merge_label),
        temporal = temporal_sets("n", "row", props),
    )
}

/// The query of a relationship group: per (start, end) pair, create the missing tail of the
/// pair's relationship list (see the module doc). With `by_element`, an end whose row holds
/// its node's elementId (`row.si`, `row.ei`: an end named by a derived key) is found by it.
pub(super) fn rel_cypher(
    start: &str,
    end: &str,
    rel_type: &str,
    props: &[PropCol],
    by_element: bool,
) -> String {
    let filter = if props.iter().any(|p| p.name == "scale_operation_id") {
        " WHERE x.scale_operation_id = $op"
    } else {
        ""
    };
    let ends = if by_element {
        format!(
            "OPTIONAL MATCH (a0:{sl} {{id: row.s}})\n\
             OPTIONAL MATCH (a1) WHERE elementId(a1) = row.si\n\
             WITH row, coalesce(a0, a1) AS a\n\
             OPTIONAL MATCH (b0:{el} {{id: row.e}})\n\
             OPTIONAL MATCH (b1) WHERE elementId(b1) = row.ei\n\
             WITH row, a, coalesce(b0, b1) AS b\n",
            sl = quote(start),
            el = quote(end),
        )
    } else {
        format!(
            "OPTIONAL MATCH (a:{sl} {{id: row.s}})\n\
             OPTIONAL MATCH (b:{el} {{id: row.e}})\n",
            sl = quote(start),
            el = quote(end),
        )
    };
    format!(
        "UNWIND $rows AS row\n\
         {ends}\
         CALL {{\n\
         \x20 WITH row, a, b\n\
         \x20 WITH row, a, b WHERE a IS NOT NULL AND b IS NOT NULL\n\
         \x20 OPTIONAL MATCH (a)-[x:{t}]->(b){filter}\n\
         \x20 WITH row, a, b, count(x) AS have\n\
         \x20 UNWIND row.rels[have..] AS rel\n\
         \x20 CREATE (a)-[r:{t}]->(b)\n\
         \x20 SET r = rel.props{temporal}\n\
         \x20 RETURN count(r) AS created\n\
         }}\n\
         RETURN 0 AS foreign, sum(CASE WHEN a IS NULL OR b IS NULL THEN size(row.rels) ELSE 0 END) AS missing, sum(created) AS created",
        t = quote(rel_type),
        temporal = temporal_sets("r", "rel", props),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::header::ValueType;

    #[test]
    fn queries_quote_names_and_convert_temporals() {
        let props = vec![
            PropCol {
                index: 1,
                name: "updated_at".into(),
                ty: ValueType::DateTime,
                array: false,
            },
            PropCol {
                index: 2,
                name: "scale_operation_id".into(),
                ty: ValueType::String,
                array: false,
            },
        ];
        let q = node_cypher("Resource", &["Resource".into(), "Synthetic".into()], &props);
        assert!(q.contains("MERGE (n:`Resource` {id: row.id})"), "{q}");
        assert!(
            q.contains("n.`updated_at` = datetime(row.t.`updated_at`)"),
            "{q}"
        );
        assert!(q.contains(", n:`Synthetic`"), "{q}");
        assert!(q.contains("n.scale_operation_id = $op"), "{q}");
        let r = rel_cypher("Resource", "Region", "LOCATED_IN", &props, false);
        assert!(r.contains("(b:`Region` {id: row.e})"), "{r}");
        assert!(!r.contains("elementId"), "{r}");
        let d = rel_cypher("Resource", "Odd Thing", "USES", &props, true);
        assert!(d.contains("(b0:`Odd Thing` {id: row.e})"), "{d}");
        assert!(d.contains("WHERE elementId(b1) = row.ei"), "{d}");
        assert!(d.contains("WITH row, a, coalesce(b0, b1) AS b"), "{d}");
        assert!(r.contains("CREATE (a)-[r:`LOCATED_IN`]->(b)"), "{r}");
        assert!(r.contains("WHERE x.scale_operation_id = $op"), "{r}");
        assert_eq!(crate::cypher::quote("a`b"), "`a``b`");
    }
}
