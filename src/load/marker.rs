//! The load marker ([`crate::cypher`]'s *load marker*): one `:TenantgenLoad` node per operation
//! whose load has begun and not finished. `load` merges it before the first batch and deletes it
//! once every batch is in, so it survives whatever stops a load part-way (a signal, SIGKILL, a
//! failed batch, a lost connection) and a re-run of the same load, which resumes, removes it.
//! `stats` and `verify` read it to call the operation incomplete, `clean` deletes it with the
//! operation. This module owns the marker's queries and the resume command it leads to; the
//! label and property names are [`crate::cypher`]'s.

use std::path::Path;

use serde::Serialize;

use crate::cypher::{
    quote, LOAD_MARKER, MARKER_BATCH_SIZE, MARKER_DATABASE, MARKER_DIR, MARKER_NODES_EXPECTED,
    MARKER_OPERATION_ID, MARKER_RELATIONSHIPS_EXPECTED, MARKER_STARTED_AT,
};
use crate::neo4j::{Client, Neo4jError};

/// An incomplete load, as its marker records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadMarker {
    pub operation_id: String,
    /// When the first run of the load began (the server's clock).
    pub started_at: String,
    /// The generated directory the load reads.
    pub dir: String,
    /// The database the load writes to (`None`: the server's default).
    pub database: Option<String>,
    pub batch_size: i64,
    pub nodes_expected: i64,
    pub relationships_expected: i64,
}

/// The command that resumes the load of `dir` into `uri` (credentials stay in the environment).
pub fn resume_command(dir: &str, uri: &str, database: Option<&str>, batch_size: i64) -> String {
    let mut c = format!("tenantgen load {dir} --uri {uri}");
    if let Some(db) = database {
        c.push_str(&format!(" --database {db}"));
    }
    c.push_str(&format!(" --batch-size {batch_size}"));
    c
}

impl LoadMarker {
    /// The command that resumes this load through `uri` (the address the reader reached the
    /// graph by, which the marker does not store).
    pub fn resume_command(&self, uri: &str) -> String {
        resume_command(&self.dir, uri, self.database.as_deref(), self.batch_size)
    }

    /// `incomplete — run `…` again to resume`, the words `stats` and `verify` use.
    pub fn advice(&self, uri: &str) -> String {
        format!(
            "incomplete — run `{}` again to resume",
            self.resume_command(uri)
        )
    }
}

/// The marker of a load of `dir` that is about to send its first batch.
pub(super) fn new(
    operation_id: &str,
    dir: &Path,
    database: Option<&str>,
    batch_size: usize,
    nodes_expected: u64,
    relationships_expected: u64,
) -> LoadMarker {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    LoadMarker {
        operation_id: operation_id.into(),
        started_at: String::new(),
        dir: dir.display().to_string(),
        database: database.map(str::to_string),
        batch_size: batch_size as i64,
        nodes_expected: nodes_expected as i64,
        relationships_expected: relationships_expected as i64,
    }
}

/// Writes `m` (a re-run keeps the first run's start and takes this run's directory and batch
/// size); returns when the load first began if an earlier run left the marker.
pub(super) fn begin(client: &Client, m: &LoadMarker) -> Result<Option<String>, Neo4jError> {
    let rows = client.rows(
        &format!(
            "MERGE (m:{label} {{{op}: $op}}) \
             ON CREATE SET m.{started} = datetime(), m.{new} = true \
             ON MATCH SET m.{new} = false \
             SET m.{dir} = $dir, m.{db} = $db, m.{batch} = $batch, \
                 m.{nodes} = $nodes, m.{rels} = $rels \
             WITH m, m.{new} AS created REMOVE m.{new} \
             RETURN created, toString(m.{started}) AS started",
            label = quote(LOAD_MARKER),
            op = quote(MARKER_OPERATION_ID),
            started = quote(MARKER_STARTED_AT),
            new = quote("created"),
            dir = quote(MARKER_DIR),
            db = quote(MARKER_DATABASE),
            batch = quote(MARKER_BATCH_SIZE),
            nodes = quote(MARKER_NODES_EXPECTED),
            rels = quote(MARKER_RELATIONSHIPS_EXPECTED),
        ),
        &[
            ("op", m.operation_id.as_str().into()),
            ("dir", m.dir.as_str().into()),
            (
                "db",
                m.database
                    .as_deref()
                    .map_or(neo4rs::BoltType::Null(neo4rs::BoltNull), Into::into),
            ),
            ("batch", m.batch_size.into()),
            ("nodes", m.nodes_expected.into()),
            ("rels", m.relationships_expected.into()),
        ],
    )?;
    let row = rows.first();
    let created = row
        .and_then(|r| r.get::<bool>("created").ok())
        .unwrap_or(true);
    Ok((!created).then(|| {
        row.and_then(|r| r.get::<String>("started").ok())
            .unwrap_or_default()
    }))
}

/// Deletes operation `op`'s marker; returns how many there were (0 or 1).
pub fn delete(client: &Client, op: &str) -> Result<i64, Neo4jError> {
    client.scalar_i64(
        &format!(
            "MATCH (m:{} {{{}: $op}}) DELETE m RETURN count(*) AS c",
            quote(LOAD_MARKER),
            quote(MARKER_OPERATION_ID)
        ),
        &[("op", op.into())],
    )
}

/// The markers in the graph (only operation `op`'s when given), by operation id.
pub fn read(client: &Client, op: Option<&str>) -> Result<Vec<LoadMarker>, Neo4jError> {
    let filter = if op.is_some() {
        format!(" WHERE m.{} = $op", quote(MARKER_OPERATION_ID))
    } else {
        String::new()
    };
    let rows = client.rows(
        &format!(
            "MATCH (m:{label}){filter} \
             RETURN toString(m.{op}) AS op, toString(m.{started}) AS started, \
                    toString(m.{dir}) AS dir, toString(m.{db}) AS db, \
                    coalesce(toInteger(m.{batch}), 5000) AS batch, \
                    coalesce(toInteger(m.{nodes}), 0) AS nodes, \
                    coalesce(toInteger(m.{rels}), 0) AS rels \
             ORDER BY op",
            label = quote(LOAD_MARKER),
            op = quote(MARKER_OPERATION_ID),
            started = quote(MARKER_STARTED_AT),
            dir = quote(MARKER_DIR),
            db = quote(MARKER_DATABASE),
            batch = quote(MARKER_BATCH_SIZE),
            nodes = quote(MARKER_NODES_EXPECTED),
            rels = quote(MARKER_RELATIONSHIPS_EXPECTED),
        ),
        &[("op", op.unwrap_or_default().into())],
    )?;
    let text = |r: &neo4rs::Row, k: &str| r.get::<Option<String>>(k).ok().flatten();
    Ok(rows
        .iter()
        .map(|r| LoadMarker {
            operation_id: text(r, "op").unwrap_or_default(),
            started_at: text(r, "started").unwrap_or_default(),
            dir: text(r, "dir").unwrap_or_else(|| "DIR".into()),
            database: text(r, "db"),
            batch_size: r.get::<i64>("batch").unwrap_or(5000),
            nodes_expected: r.get::<i64>("nodes").unwrap_or(0),
            relationships_expected: r.get::<i64>("rels").unwrap_or(0),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_command_names_dir_uri_database_and_batch_size() {
        assert_eq!(
            resume_command("/g", "bolt://127.0.0.1:7687", None, 500),
            "tenantgen load /g --uri bolt://127.0.0.1:7687 --batch-size 500"
        );
        let m = LoadMarker {
            operation_id: "op".into(),
            started_at: String::new(),
            dir: "/data/gen".into(),
            database: Some("tenants".into()),
            batch_size: 5000,
            nodes_expected: 10,
            relationships_expected: 4,
        };
        assert_eq!(
            m.advice("bolt://h:1"),
            "incomplete — run `tenantgen load /data/gen --uri bolt://h:1 --database tenants --batch-size 5000` again to resume"
        );
    }
}
