//! `manifest.json`: the description of a tenantgen directory (a baseline or a generated
//! output). It lists node and relationship groups with their header and data files, and for a
//! generated directory the operation that made it and the counts the graph must show once
//! imported. The same types are read by `baseline`, written by `write` and `export`, and checked
//! by `import` and `verify`; the manifest also renders the importer's argfile (`import.args`),
//! which `write` stores and `import` derives for a directory without one. See `docs/format.md`.
//!
//! Domain words: a *group* is one header plus its data parts; a node's *kind* is its `type`
//! property when it has a string one, else its lexicographically smallest label.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The `format` value this version reads and writes.
pub const FORMAT: &str = "tenantgen/1";
/// The manifest's file name inside a directory.
pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "cannot read {path}: {error}; pass a tenantgen directory (one with manifest.json, as `generate` and `export` write it)"
    )]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}; fix the manifest or regenerate the directory")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: format is {found:?}, this tenantgen reads {FORMAT:?}; regenerate the directory with this version")]
    Format { path: PathBuf, found: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Whether a directory is an input baseline or the output of `generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Baseline,
    Generated,
}

/// The CSV dialect of every file in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    pub delimiter: String,
    pub array_delimiter: String,
    pub quote: String,
    pub multiline_fields: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: ",".into(),
            array_delimiter: ";".into(),
            quote: "\"".into(),
            multiline_fields: false,
        }
    }
}

/// One data file of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xxh3: Option<String>,
}

/// Where a group's rows come from in a generated directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    #[default]
    Baseline,
    Synthetic,
}

impl Origin {
    fn is_baseline(&self) -> bool {
        *self == Origin::Baseline
    }
}

/// A node group: every node in it has `labels` and an id in `id_space`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    pub name: String,
    pub labels: Vec<String>,
    pub id_space: String,
    pub header: String,
    pub files: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Origin::is_baseline")]
    pub origin: Origin,
}

/// A relationship group: one type between two ID spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelGroup {
    pub name: String,
    #[serde(rename = "type")]
    pub rel_type: String,
    pub start_space: String,
    pub end_space: String,
    pub header: String,
    pub files: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Origin::is_baseline")]
    pub origin: Origin,
}

/// What made a generated directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub id: String,
    pub seed: u64,
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_total: Option<u64>,
    pub edges: String,
    pub atg_compat: bool,
    /// When the run happened (UTC, RFC 3339); the `generation_timestamp` markers derive from it.
    pub timestamp: String,
    /// The exact `generation_timestamp` marker written on every synthetic node.
    pub generation_timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub baseline: String,
    /// Real abstracted resources the copies were made from.
    pub base_resources: u64,
    pub synthetic_nodes: u64,
    pub synthetic_relationships: u64,
    /// Property keys a copy does not inherit from its base (verify's fidelity check skips them).
    #[serde(default)]
    pub overridden_keys: Vec<String>,
    /// Labels of the synthetic resource nodes.
    pub synthetic_labels: Vec<String>,
    /// Whether synthetic relationships carry `synthetic` and `scale_operation_id`.
    pub edge_markers: bool,
    /// Whether replicate copies were linked to their base's resource group, region and tags.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hierarchy_links: bool,
}

/// One (source kind, relationship type, target kind) count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternCount {
    pub source: String,
    #[serde(rename = "type")]
    pub rel_type: String,
    pub target: String,
    pub count: u64,
}

/// The counts the whole graph must show after import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub nodes: u64,
    pub relationships: u64,
    /// `:Resource` nodes without `:Original`.
    pub abstracted: u64,
    /// Abstracted resources that are not synthetic.
    pub real_abstracted: u64,
    /// Nodes with `synthetic = true` (earlier operations included).
    pub synthetic: u64,
    /// Nodes of this operation.
    pub operation_nodes: u64,
    /// Relationships of this operation.
    pub operation_relationships: u64,
    pub original: u64,
    pub by_label: BTreeMap<String, u64>,
    /// Abstracted resources by `type`.
    pub by_type: BTreeMap<String, u64>,
    /// This operation's nodes by `type`.
    pub operation_by_type: BTreeMap<String, u64>,
    pub by_rel_type: BTreeMap<String, u64>,
    pub by_pattern: Vec<PatternCount>,
    /// This operation's nodes by label (verify's operation scope; absent in the manifests of
    /// tenantgen versions before it, and in a baseline's counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_by_label: Option<BTreeMap<String, u64>>,
    /// This operation's relationships by type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_by_rel_type: Option<BTreeMap<String, u64>>,
    /// This operation's relationships by pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_by_pattern: Option<Vec<PatternCount>>,
}

/// Which part of a sharded generation a directory holds. The groups of a shard list only its
/// own data parts (the baseline's files are in shard 1); `plan` and `parts` let the shards be
/// combined (`import DIR…`, `merge`) without trusting the user to pass the right set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// The plan's fingerprint: equal in every shard of one plan (tool version, the inputs'
    /// checksums, the flags that shape the output, seed, operation id, N); see
    /// `write::plan_fingerprint`. Empty in manifests of tenantgen versions before it.
    #[serde(default)]
    pub plan: String,
    /// Synthetic data parts of the whole plan, over all shards.
    #[serde(default)]
    pub parts: u64,
}

/// The whole `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub kind: Kind,
    pub csv: CsvOptions,
    pub node_groups: Vec<NodeGroup>,
    pub relationship_groups: Vec<RelGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
}

impl Manifest {
    /// Reads and checks `dir/manifest.json` (or the file itself when `path` is a file).
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let file = if path.is_dir() {
            path.join(FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let text = fs::read_to_string(&file).map_err(|error| ManifestError::Read {
            path: file.clone(),
            error,
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| ManifestError::Parse {
            path: file.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if manifest.format != FORMAT {
            return Err(ManifestError::Format {
                path: file,
                found: manifest.format,
            });
        }
        manifest.check().map_err(|message| ManifestError::Invalid {
            path: file,
            message,
        })?;
        Ok(manifest)
    }

    /// Writes the manifest as pretty JSON with a trailing newline.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ManifestError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        fs::write(path, text).map_err(|error| ManifestError::Write {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Structural rules that serde cannot express.
    fn check(&self) -> Result<(), String> {
        if self.csv.delimiter != "," || self.csv.array_delimiter != ";" || self.csv.quote != "\"" {
            return Err(format!(
                "csv dialect {:?} is not supported: tenantgen reads delimiter \",\", array delimiter \";\" and quote '\"'",
                self.csv
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        let groups = self
            .node_groups
            .iter()
            .map(|g| (&g.name, &g.header, &g.files, "node_groups"))
            .chain(
                self.relationship_groups
                    .iter()
                    .map(|g| (&g.name, &g.header, &g.files, "relationship_groups")),
            );
        for (name, header, files, section) in groups {
            if !valid_group_name(name) {
                return Err(format!(
                    "{section}: group name {name:?} may only hold lowercase letters, digits, '.', '_' and '-'"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!("{section}: group name {name:?} appears twice"));
            }
            for p in std::iter::once(header).chain(files.iter().map(|f| &f.path)) {
                if !safe_relative_path(p) {
                    return Err(format!(
                        "{section}.{name}: path {p:?} must be relative, inside the directory, without '..'"
                    ));
                }
            }
        }
        for g in &self.node_groups {
            for l in &g.labels {
                if !valid_name(l) {
                    return Err(format!(
                        "node_groups.{}: label {l:?} cannot be used: labels and types {NAME_RULE}",
                        g.name
                    ));
                }
            }
            if !valid_token(&g.id_space) {
                return Err(format!(
                    "node_groups.{}: id_space {:?} must be letters, digits and '_'",
                    g.name, g.id_space
                ));
            }
        }
        let spaces: std::collections::BTreeSet<&str> = self
            .node_groups
            .iter()
            .map(|g| g.id_space.as_str())
            .collect();
        for g in &self.relationship_groups {
            if !valid_name(&g.rel_type) {
                return Err(format!(
                    "relationship_groups.{}: type {:?} cannot be used: labels and types {NAME_RULE}",
                    g.name, g.rel_type
                ));
            }
            for s in [&g.start_space, &g.end_space] {
                // A shard's relationships may end in ID spaces another shard defines.
                if !spaces.contains(s.as_str()) && self.shard.is_none() {
                    return Err(format!(
                        "relationship_groups.{}: unknown ID space {s:?} (node groups define {:?})",
                        g.name, spaces
                    ));
                }
            }
        }
        Ok(())
    }

    /// The argfile for `neo4j-admin database import full <db> @import.args`, run from the
    /// output directory. Only file groups and format options: the caller adds the database name,
    /// `--overwrite-destination` and resource limits.
    pub fn import_args(&self) -> String {
        let mut s = String::new();
        for g in &self.node_groups {
            let files: Vec<&str> = std::iter::once(g.header.as_str())
                .chain(g.files.iter().map(|f| f.path.as_str()))
                .collect();
            s.push_str(&arg_line(&format!(
                "--nodes={}={}",
                g.labels.join(":"),
                files.join(",")
            )));
        }
        for g in &self.relationship_groups {
            let files: Vec<&str> = std::iter::once(g.header.as_str())
                .chain(g.files.iter().map(|f| f.path.as_str()))
                .collect();
            s.push_str(&arg_line(&format!(
                "--relationships={}={}",
                g.rel_type,
                files.join(",")
            )));
        }
        s.push_str(&format!(
            "--delimiter=,\n--array-delimiter=;\n--multiline-fields={}\n--id-type=string\n--skip-bad-relationships=false\n--skip-duplicate-nodes=false\n--normalize-types=true\n--ignore-empty-strings=false\n--trim-strings=false\n",
            self.csv.multiline_fields
        ));
        s
    }

    /// Total rows over all node groups.
    pub fn node_rows(&self) -> u64 {
        self.node_groups
            .iter()
            .flat_map(|g| &g.files)
            .map(|f| f.rows)
            .sum()
    }

    /// Total rows over all relationship groups.
    pub fn relationship_rows(&self) -> u64 {
        self.relationship_groups
            .iter()
            .flat_map(|g| &g.files)
            .map(|f| f.rows)
            .sum()
    }
}

/// Group names become file names: keep them boring.
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !name.starts_with('.')
}

/// One line of the argfile: in double quotes when it holds whitespace (neo4j-admin's argfile
/// reader splits arguments at whitespace; [`valid_name`] keeps quotes and backslashes out).
fn arg_line(arg: &str) -> String {
    if arg.chars().any(char::is_whitespace) {
        format!("\"{arg}\"\n")
    } else {
        format!("{arg}\n")
    }
}

/// What [`valid_name`] says, for messages.
pub const NAME_RULE: &str = "may hold any character but control characters and ` : = , ; \" ' \\ (neo4j-admin's --nodes and --relationships arguments cannot carry them), at most 128 bytes";

/// Labels and relationship types: any text the importer's arguments can carry (Cypher quotes
/// them, [`crate::cypher::quote`]).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s
            .chars()
            .any(|c| c.is_control() || "`:=,;\"'\\".contains(c))
        && s.trim() == s
}

/// ID spaces: identifiers that need no escaping anywhere.
pub fn valid_token(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 128
}

fn safe_relative_path(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path.is_relative()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && !p.contains(['\\', ',', '"', '\'', ' ', '\n', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            kind: Kind::Baseline,
            csv: CsvOptions::default(),
            node_groups: vec![NodeGroup {
                name: "resource".into(),
                labels: vec!["Resource".into()],
                id_space: "Resource".into(),
                header: "headers/resource.csv".into(),
                files: vec![FileEntry {
                    path: "data/resource.part-0000.csv".into(),
                    rows: 3,
                    bytes: None,
                    xxh3: None,
                }],
                origin: Origin::Baseline,
            }],
            relationship_groups: vec![RelGroup {
                name: "contains.resource.resource".into(),
                rel_type: "CONTAINS".into(),
                start_space: "Resource".into(),
                end_space: "Resource".into(),
                header: "headers/contains.resource.resource.csv".into(),
                files: vec![],
                origin: Origin::Baseline,
            }],
            operation: None,
            expected: None,
            shard: None,
        }
    }

    #[test]
    fn round_trips_through_json() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample();
        m.write(&dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(Manifest::read(dir.path()).unwrap(), m);
    }

    #[test]
    fn rejects_unknown_space_and_bad_paths() {
        let mut m = sample();
        m.relationship_groups[0].end_space = "Tag".into();
        assert!(m.check().unwrap_err().contains("unknown ID space \"Tag\""));
        let mut m = sample();
        m.node_groups[0].files[0].path = "../escape.csv".into();
        assert!(m.check().unwrap_err().contains("inside the directory"));
        let mut m = sample();
        m.node_groups[0].labels = vec!["Bad:Label".into()];
        assert!(m.check().unwrap_err().contains("label"));
    }

    #[test]
    fn unknown_keys_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        fs::write(&p, "{\n  \"format\": \"tenantgen/1\",\n  \"colour\": 1\n}").unwrap();
        let e = Manifest::read(&p).unwrap_err().to_string();
        assert!(e.contains(":3:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn names_with_spaces_are_quoted_in_the_argfile_and_odd_ones_refused() {
        for ok in [
            "Resource",
            "Odd Label",
            "Microsoft.Compute/virtualMachines",
            "été",
            "a-b",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "a:b", "a=b", "a,b", "a;b", "a\"b", "a'b", "a\\b", "a`b", "a\nb", " a",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        let mut m = sample();
        m.node_groups[0].labels = vec!["Odd Label".into(), "Resource".into()];
        m.relationship_groups[0].rel_type = "HAS PART".into();
        let args = m.import_args();
        assert!(
            args.starts_with(
                "\"--nodes=Odd Label:Resource=headers/resource.csv,data/resource.part-0000.csv\"\n"
            ),
            "{args}"
        );
        assert!(
            args.contains("\n\"--relationships=HAS PART=headers/"),
            "{args}"
        );
        assert!(m.check().is_ok());
        m.node_groups[0].labels = vec!["Resource`:Evil".into()];
        let e = m.check().unwrap_err();
        assert!(e.contains("may hold any character but"), "{e}");
    }

    #[test]
    fn import_args_list_every_group_and_the_dialect() {
        let mut m = sample();
        m.csv.multiline_fields = true;
        assert_eq!(
            m.import_args(),
            "--nodes=Resource=headers/resource.csv,data/resource.part-0000.csv\n\
             --relationships=CONTAINS=headers/contains.resource.resource.csv\n\
             --delimiter=,\n--array-delimiter=;\n--multiline-fields=true\n--id-type=string\n\
             --skip-bad-relationships=false\n--skip-duplicate-nodes=false\n--normalize-types=true\n\
             --ignore-empty-strings=false\n--trim-strings=false\n"
        );
    }
}
