//! `clean`: delete one operation from a live graph — its nodes ([`crate::cypher::operation_node`]:
//! `synthetic = true` and `scale_operation_id = $id`, never `:Original`; copies, template rows
//! and the resource groups, regions and tag a template made) with their relationships, and every
//! relationship carrying that `scale_operation_id` — in bounded transactions, then check that
//! nothing of it is left, and last the operation's load marker ([`crate::load::marker`]) if a
//! load of it stopped part-way (an operation that has only a marker can be cleaned too); an id the
//! graph holds no node or marker of is refused ([`crate::stats::require_operation`]). The
//! baseline and other operations are never touched. What "synthetic" and "abstracted" mean is
//! [`crate::cypher`]'s; the graph totals leave load markers out, as `stats` does. tenantgen's
//! constraints and indexes ([`crate::load::schema`]) stay, and the report names them, unless
//! `--drop-schema` asks to drop them too (objects of other names, the user's, always stay);
//! [`drop_schema`] drops them without an operation (after the last one is gone).

use serde::Serialize;

use crate::cypher::{count_nodes, operation_node, SchemaObject};
use crate::load::{marker, schema};
use crate::neo4j::{Client, Neo4jError};
use crate::report::{thousands, Bar};
use crate::stats;

/// Nodes (and their relationships) deleted per transaction.
pub const CLEAN_BATCH: i64 = 10_000;

/// The operation's nodes: the same filter for counting and deleting.
fn op_nodes() -> String {
    format!("MATCH (n) WHERE {}", operation_node("n", "id"))
}

#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    #[error(transparent)]
    Neo4j(#[from] Neo4jError),
    #[error("invalid operation id {0:?}: give the `scale_operation_id` of the operation (e.g. scale-20251115T211700-41f18b94; `tenantgen stats` lists them)")]
    InvalidId(String),
    /// An id the graph holds nothing of is almost always a typo: "deleted 0" would read as
    /// success.
    #[error("--operation-id: {0}")]
    Absent(crate::stats::OperationAbsent),
    #[error("after clean, {nodes} node(s), {relationships} relationship(s) and {markers} load marker(s) of operation {id} are still in the graph; run clean again and check the server log")]
    Leftover {
        id: String,
        nodes: i64,
        relationships: i64,
        markers: i64,
    },
}

/// Whole-graph totals plus the operation's share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleanCounts {
    pub nodes: i64,
    pub relationships: i64,
    pub operation_nodes: i64,
    pub operation_relationships: i64,
    /// 1 while the operation's load marker is in the graph (its load stopped part-way).
    pub operation_markers: i64,
}

/// What `clean` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct CleanReport {
    pub operation_id: String,
    pub dry_run: bool,
    /// `--drop-schema` was given.
    pub drop_schema: bool,
    pub before: CleanCounts,
    pub after: Option<CleanCounts>,
    pub deleted_nodes: i64,
    pub deleted_relationships: i64,
    /// The operation's load marker deleted with it (0 or 1).
    pub deleted_markers: i64,
    /// tenantgen's constraints and indexes dropped (`--drop-schema`).
    pub dropped_schema: Vec<SchemaObject>,
    /// tenantgen's constraints and indexes left in the graph (all of them without
    /// `--drop-schema`, none with it; on a dry run those there are).
    pub schema_remaining: Vec<SchemaObject>,
}

impl CleanReport {
    /// The human summary: what was (or would be) deleted, then what of tenantgen's schema went
    /// or stays.
    pub fn summary(&self) -> String {
        let t = crate::report::thousands_i64;
        let b = &self.before;
        let marker = |verb: &str| {
            if b.operation_markers > 0 {
                format!(" (and the marker of its incomplete load {verb})")
            } else {
                String::new()
            }
        };
        let mut s = match &self.after {
            None => format!(
                "operation {}: {} nodes and {} relationships would be deleted{} (graph: {} nodes, {} relationships); dry run, nothing deleted",
                self.operation_id, t(b.operation_nodes), t(b.operation_relationships), marker("would be"), t(b.nodes), t(b.relationships)
            ),
            Some(a) => format!(
                "operation {}: deleted {} nodes and {} relationships{}; graph {} → {} nodes, {} → {} relationships; {} nodes and {} relationships of the operation left",
                self.operation_id,
                t(self.deleted_nodes),
                t(self.deleted_relationships),
                marker("too"),
                t(b.nodes),
                t(a.nodes),
                t(b.relationships),
                t(a.relationships),
                t(a.operation_nodes),
                t(a.operation_relationships)
            ),
        };
        if let Some(line) = schema_line(
            &self.dropped_schema,
            &self.schema_remaining,
            self.dry_run && self.drop_schema,
        ) {
            s.push('\n');
            s.push_str(&line);
        }
        s
    }
}

/// What `clean --drop-schema` without an operation found and did.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaCleanReport {
    pub dry_run: bool,
    /// tenantgen's constraints and indexes dropped.
    pub dropped_schema: Vec<SchemaObject>,
    /// tenantgen's constraints and indexes left (on a dry run, those there are).
    pub schema_remaining: Vec<SchemaObject>,
}

impl SchemaCleanReport {
    /// The human summary.
    pub fn summary(&self) -> String {
        schema_line(&self.dropped_schema, &self.schema_remaining, self.dry_run)
            .unwrap_or_else(|| "schema: no constraint or index of tenantgen's in the graph".into())
    }
}

/// `schema: dropped tenantgen's …`, `… would be dropped` (`would_drop`: a dry run of
/// `--drop-schema`) or `… remain; --drop-schema drops them`; `None` when there is neither.
fn schema_line(
    dropped: &[SchemaObject],
    remaining: &[SchemaObject],
    would_drop: bool,
) -> Option<String> {
    let list = |v: &[SchemaObject]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !dropped.is_empty() {
        Some(format!(
            "schema: dropped tenantgen's {} ({})",
            dropped.len(),
            list(dropped)
        ))
    } else if remaining.is_empty() {
        None
    } else if would_drop {
        Some(format!(
            "schema: tenantgen's {} would be dropped ({}); dry run, nothing dropped",
            remaining.len(),
            list(remaining)
        ))
    } else {
        Some(format!(
            "schema: tenantgen's {} remain ({}); `tenantgen clean --drop-schema` drops them (the user's own constraints and indexes stay)",
            remaining.len(),
            list(remaining)
        ))
    }
}

/// Drops tenantgen's constraints and indexes ([`crate::load::schema::ours`]; never the user's)
/// without touching an operation (or, on a `dry_run`, lists them).
pub fn drop_schema(client: &Client, dry_run: bool) -> Result<SchemaCleanReport, CleanError> {
    let ours = schema::ours(client)?;
    if dry_run {
        return Ok(SchemaCleanReport {
            dry_run,
            dropped_schema: Vec::new(),
            schema_remaining: ours,
        });
    }
    schema::drop(client, &ours)?;
    Ok(SchemaCleanReport {
        dry_run,
        dropped_schema: ours,
        schema_remaining: schema::ours(client)?,
    })
}

/// Counts the graph and the operation's share.
pub fn counts(client: &Client, id: &str) -> Result<CleanCounts, CleanError> {
    let p = [("id", id.into())];
    Ok(CleanCounts {
        nodes: client.scalar_i64(&count_nodes(), &[])?,
        relationships: client.scalar_i64("MATCH ()-[r]->() RETURN count(r) AS c", &[])?,
        operation_nodes: client.scalar_i64(&format!("{} RETURN count(n) AS c", op_nodes()), &p)?,
        operation_relationships: client.scalar_i64(
            &format!(
                "CALL {{ {op_nodes} MATCH (n)-[r]-() RETURN r \
                 UNION MATCH ()-[r]->() WHERE r.scale_operation_id = $id RETURN r }} \
                 RETURN count(r) AS c",
                op_nodes = op_nodes()
            ),
            &p,
        )?,
        operation_markers: marker::read(client, Some(id))?.len() as i64,
    })
}

/// Deletes operation `id` (or only counts it when `dry_run`), then with `drop_schema`
/// tenantgen's constraints and indexes ([`crate::load::schema::ours`]; never the user's);
/// `progress` shows the batches deleted on stderr (when it is a terminal).
pub fn clean(
    client: &Client,
    id: &str,
    dry_run: bool,
    drop_schema: bool,
    progress: bool,
) -> Result<CleanReport, CleanError> {
    stats::require_operation(
        id,
        &stats::operation_ids(client)?,
        "check the id and pass one of them to --operation-id (`tenantgen stats` lists them)",
    )
    .map_err(CleanError::Absent)?;
    let before = counts(client, id)?;
    if dry_run {
        return Ok(CleanReport {
            operation_id: id.into(),
            dry_run,
            drop_schema,
            before,
            after: None,
            deleted_nodes: 0,
            deleted_relationships: 0,
            deleted_markers: 0,
            dropped_schema: Vec::new(),
            schema_remaining: schema::ours(client)?,
        });
    }
    let p = [("id", id.into()), ("limit", CLEAN_BATCH.into())];
    let bar = Bar::spinner(progress, "clean");
    let (mut batches, mut rels, mut nodes) = (0u64, 0u64, 0u64);
    let show = |batches: u64, rels: u64, nodes: u64| {
        bar.message(|| {
            format!(
                "{} batches of ≤{}: {} marked relationships, {} of {} nodes deleted",
                thousands(batches),
                thousands(CLEAN_BATCH as u64),
                thousands(rels),
                thousands(nodes),
                thousands(before.operation_nodes.max(0) as u64),
            )
        })
    };
    show(0, 0, 0);
    // Marked relationships first (they may link nodes that stay), then the nodes with theirs.
    loop {
        let n = client.scalar_i64(
            "MATCH ()-[r]->() WHERE r.scale_operation_id = $id \
             WITH r LIMIT $limit DELETE r RETURN count(*) AS c",
            &p,
        )?;
        if n == 0 {
            break;
        }
        batches += 1;
        rels += n as u64;
        show(batches, rels, nodes);
    }
    loop {
        let n = client.scalar_i64(
            &format!(
                "{} WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS c",
                op_nodes()
            ),
            &p,
        )?;
        if n == 0 {
            break;
        }
        batches += 1;
        nodes += n as u64;
        show(batches, rels, nodes);
    }
    bar.finish();
    // The marker goes last: a clean stopped part-way leaves the operation marked incomplete.
    let deleted_markers = marker::delete(client, id)?;
    let after = counts(client, id)?;
    if after.operation_nodes > 0 || after.operation_relationships > 0 || after.operation_markers > 0
    {
        return Err(CleanError::Leftover {
            id: id.into(),
            nodes: after.operation_nodes,
            relationships: after.operation_relationships,
            markers: after.operation_markers,
        });
    }
    // The schema goes after the operation: its indexes are what the deletes above seek by.
    let ours = schema::ours(client)?;
    let (dropped_schema, schema_remaining) = if drop_schema {
        schema::drop(client, &ours)?;
        (ours, schema::ours(client)?)
    } else {
        (Vec::new(), ours)
    };
    Ok(CleanReport {
        operation_id: id.into(),
        dry_run,
        drop_schema,
        before,
        after: Some(after),
        deleted_nodes: before.nodes - after.nodes,
        deleted_relationships: before.relationships - after.relationships,
        deleted_markers,
        dropped_schema,
        schema_remaining,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cypher::{id_constraint, id_index};

    #[test]
    fn the_schema_line_says_what_went_what_stays_and_how_to_drop_it() {
        let ours = [id_constraint()];
        assert_eq!(
            schema_line(&ours, &[], false).unwrap(),
            "schema: dropped tenantgen's 1 (constraint tenantgen_resource_id_unique on :Resource(id))"
        );
        assert_eq!(
            schema_line(&[], &[id_index()], false).unwrap(),
            "schema: tenantgen's 1 remain (index tenantgen_resource_id on :Resource(id)); `tenantgen clean --drop-schema` drops them (the user's own constraints and indexes stay)"
        );
        assert!(schema_line(&[], &ours, true)
            .unwrap()
            .ends_with("would be dropped (constraint tenantgen_resource_id_unique on :Resource(id)); dry run, nothing dropped"));
        assert_eq!(schema_line(&[], &[], false), None);
    }
}
