//! The constraints and indexes of an in-place load, on the live graph: which of those `load`
//! needs are there already (whoever made them), creating the missing ones under tenantgen's
//! names ([`crate::cypher::SCHEMA_PREFIX`]), and listing and dropping tenantgen's for `clean
//! --drop-schema`. The objects themselves (names, statements) are [`crate::cypher`]'s.
//!
//! The record of what tenantgen created is the name: it lives in the database with the objects
//! (so it survives the process, a restart and a dump), needs no bookkeeping node the graph's
//! counts would have to leave out, and an object the user made — even one on the same label and
//! property, which `load` then finds present and uses instead of making its own — is never
//! tenantgen's. Objects an older tenantgen made carry Neo4j's generated names: `load` reports
//! them as present and `clean` leaves them.

use serde::Serialize;

use crate::cypher::{self, SchemaObject, CONSTRAINT, INDEX};
use crate::neo4j::{Client, Neo4jError};

/// What `load` found and made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaReport {
    /// Created by this load (tenantgen's names).
    pub created: Vec<SchemaObject>,
    /// Already there (tenantgen's from an earlier load, or someone else's covering the same
    /// label and property), not touched.
    pub present: Vec<SchemaObject>,
}

impl SchemaReport {
    /// `schema: created …; already present: …` (one line).
    pub fn summary(&self) -> String {
        let list = |v: &[SchemaObject]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let created = if self.created.is_empty() {
            "schema: created nothing".to_string()
        } else {
            format!(
                "schema: created {} ({})",
                self.created.len(),
                list(&self.created)
            )
        };
        if self.present.is_empty() {
            created
        } else {
            format!(
                "{created}; already present {} ({})",
                self.present.len(),
                list(&self.present)
            )
        }
    }
}

/// The node range indexes and uniqueness constraints in the graph, as objects (a constraint's
/// own backing index is the constraint).
pub fn existing(client: &Client) -> Result<Vec<SchemaObject>, Neo4jError> {
    let rows = client.rows(
        "SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, owningConstraint \
         WHERE type = 'RANGE' AND entityType = 'NODE' AND size(labelsOrTypes) = 1 \
               AND size(properties) = 1 \
         RETURN name, labelsOrTypes[0] AS label, properties[0] AS property, owningConstraint \
         ORDER BY name",
        &[],
    )?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let owner = r.get::<Option<String>>("owningConstraint").ok().flatten();
            let (name, kind) = match owner {
                Some(c) => (c, CONSTRAINT),
                None => (r.get::<String>("name").ok()?, INDEX),
            };
            Some(SchemaObject {
                name,
                kind,
                label: r.get::<String>("label").ok()?,
                property: r.get::<String>("property").ok()?,
            })
        })
        .collect())
}

/// tenantgen's objects in the graph (constraints first, the order they are dropped in).
pub fn ours(client: &Client) -> Result<Vec<SchemaObject>, Neo4jError> {
    let mut v: Vec<SchemaObject> = existing(client)?
        .into_iter()
        .filter(SchemaObject::is_ours)
        .collect();
    v.sort_by_key(|o| (o.kind != CONSTRAINT, o.name.clone()));
    Ok(v)
}

/// Drops `objects` (from [`ours`]).
pub fn drop(client: &Client, objects: &[SchemaObject]) -> Result<(), Neo4jError> {
    for o in objects {
        client.run(&o.drop(), &[])?;
    }
    Ok(())
}

/// The object in `existing` that serves as `want`: the same label and property, and for a
/// constraint a constraint (an index serves any object).
fn find<'a>(existing: &'a [SchemaObject], want: &SchemaObject) -> Option<&'a SchemaObject> {
    existing.iter().find(|o| {
        o.label == want.label
            && o.property == want.property
            && (want.kind == INDEX || o.kind == CONSTRAINT)
    })
}

/// Creates what of the id constraint (an index when duplicates prevent it) and the indexes on
/// `end_labels` is missing; returns what was created and found, and `constraint` or `index`
/// (what guards the resource ids).
pub(super) fn ensure<'a>(
    client: &Client,
    end_labels: impl IntoIterator<Item = &'a str>,
    notes: &mut Vec<String>,
) -> Result<(SchemaReport, String), Neo4jError> {
    let existing = existing(client)?;
    let mut report = SchemaReport::default();
    let need = |want: SchemaObject, report: &mut SchemaReport| -> Result<(), Neo4jError> {
        match find(&existing, &want) {
            Some(o) => report.present.push(o.clone()),
            None => {
                client.run(&want.create(), &[])?;
                report.created.push(want);
            }
        }
        Ok(())
    };
    let mut id_schema = CONSTRAINT.to_string();
    let constraint = cypher::id_constraint();
    if let Some(o) = find(&existing, &constraint) {
        report.present.push(o.clone());
    } else if let Err(e) = client.run(&constraint.create(), &[]) {
        id_schema = INDEX.into();
        notes.push(format!(
            "could not create the unique constraint on :Resource(id) ({}); using an index instead — check the graph for duplicate ids",
            first_line(&e.to_string())
        ));
        need(cypher::id_index(), &mut report)?;
    } else {
        report.created.push(constraint);
    }
    for index in cypher::load_indexes(end_labels) {
        need(index, &mut report)?;
    }
    client.run(cypher::AWAIT_INDEXES, &[])?;
    Ok((report, id_schema))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, kind: &'static str, label: &str, property: &str) -> SchemaObject {
        SchemaObject {
            name: name.into(),
            kind,
            label: label.into(),
            property: property.into(),
        }
    }

    #[test]
    fn an_index_serves_an_index_only_a_constraint_a_constraint() {
        let existing = [
            obj("mine", INDEX, "Resource", "id"),
            obj("theirs", CONSTRAINT, "Resource", "synthetic"),
        ];
        assert_eq!(find(&existing, &cypher::id_constraint()), None);
        assert_eq!(
            find(&existing, &cypher::id_index()).map(|o| o.name.as_str()),
            Some("mine")
        );
        let synthetic = SchemaObject::ours(INDEX, "Resource", "synthetic");
        assert_eq!(
            find(&existing, &synthetic).map(|o| o.name.as_str()),
            Some("theirs")
        );
    }

    #[test]
    fn the_summary_names_what_was_created_and_what_was_there() {
        let r = SchemaReport {
            created: vec![cypher::id_constraint()],
            present: vec![obj("user_sop", INDEX, "Resource", "scale_operation_id")],
        };
        assert_eq!(
            r.summary(),
            "schema: created 1 (constraint tenantgen_resource_id_unique on :Resource(id)); already present 1 (index user_sop on :Resource(scale_operation_id))"
        );
        assert_eq!(SchemaReport::default().summary(), "schema: created nothing");
    }
}
