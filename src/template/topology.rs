//! The built-in Azure topology: relationship rules in the template format itself
//! (`builtin-topology.yaml`, shown verbatim in `docs/template.md`), so a template without
//! `relationships` still gets owned NICs, disks and subnets, and users can read and override
//! each rule. Which rules apply to a template, and how a template's own rules inherit a
//! built-in's cardinality, is the plan's business (`plan::topology`).

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use super::{yaml, Cardinality, Checker, RelationshipRule};

/// The rules' source text.
pub const BUILTIN_YAML: &str = include_str!("builtin-topology.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    relationships: Vec<yaml::RawRelationship>,
}

/// Whether two Azure type names name the same type: ASCII case ignored, and the spellings
/// scanned tenants use for the same thing taken as one (`Microsoft.Network/subnets` is
/// `Microsoft.Network/virtualNetworks/subnets`).
pub fn same_type(a: &str, b: &str) -> bool {
    const ALIASES: [(&str, &str); 1] = [(
        "microsoft.network/subnets",
        "microsoft.network/virtualnetworks/subnets",
    )];
    let canon = |t: &str| {
        let t = t.to_ascii_lowercase();
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == t)
            .map_or(t, |(_, c)| c.to_string())
    };
    canon(a) == canon(b)
}

/// The built-in rule between types `a` and `b` (either direction): the rule and whether it
/// runs from `b` to `a`.
pub fn builtin_between(a: &str, b: &str) -> Option<(usize, &'static RelationshipRule, bool)> {
    builtin().iter().enumerate().find_map(|(i, r)| {
        if same_type(&r.source_type, a) && same_type(&r.target_type, b) {
            Some((i, r, false))
        } else if same_type(&r.source_type, b) && same_type(&r.target_type, a) {
            Some((i, r, true))
        } else {
            None
        }
    })
}

/// The cardinality a rule from type `a` to type `b` inherits from the built-in rule for the pair
/// (mirrored when the built-in one runs from `b` to `a`).
pub fn inherited_cardinality(a: &str, b: &str) -> Option<Cardinality> {
    let (_, rule, mirrored) = builtin_between(a, b)?;
    rule.cardinality
        .map(|c| if mirrored { c.mirrored() } else { c })
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
