//! The built-in Azure topology: relationship rules in the template format itself
//! (`builtin-topology.yaml`, shown verbatim in `docs/template.md`), so a template without
//! `relationships` still gets owned NICs, disks and subnets, and users can read and override
//! each rule. Which rules apply to a template, and how a template's own rules inherit a
//! built-in's cardinality, is the plan's business (`plan::topology`).

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{yaml, Checker, RelationshipRule};

/// The rules' source text.
pub const BUILTIN_YAML: &str = include_str!("builtin-topology.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    relationships: Vec<yaml::RawRelationship>,
}

/// The built-in rules, checked like a template's own.
pub fn builtin() -> &'static [RelationshipRule] {
    static RULES: OnceLock<Vec<RelationshipRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let file: File = serde_yaml::from_str(BUILTIN_YAML)
            .expect("builtin-topology.yaml is valid (a unit test parses it)");
        let checker = Checker {
            path: Path::new("builtin-topology.yaml"),
            src: BUILTIN_YAML,
        };
        file.relationships
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                checker
                    .check_relationship(i, r, &[])
                    .expect("builtin-topology.yaml's rules are valid (a unit test checks them)")
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Cardinality;

    #[test]
    fn the_builtin_rules_parse_and_each_owns_one_end() {
        let rules = builtin();
        assert!(rules.len() >= 5);
        for r in rules {
            assert!(
                r.cardinality.is_some_and(|c| c != Cardinality::ManyToMany),
                "{r:?}"
            );
            assert!(r.same.as_ref().is_some_and(|s| !s.is_empty()), "{r:?}");
        }
    }

    #[test]
    fn the_docs_show_the_builtin_rules_verbatim() {
        let docs = include_str!("../../docs/template.md");
        for line in BUILTIN_YAML
            .lines()
            .filter(|l| l.trim_start().starts_with("- {"))
        {
            assert!(
                docs.contains(line),
                "docs/template.md lacks the built-in rule\n{line}"
            );
        }
    }
}
