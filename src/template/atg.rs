//! The two template formats of the replaced system (ATG) that are not ours: *patterns* ("copy
//! existing, with rules": `scale_factor`, `resource_patterns`, `naming_strategy`,
//! `relationship_handling`) and *friendly* ("generate from scratch": friendly type names such as
//! `VirtualMachine`, `name_prefix`, `labels`, `relationships[].connection_ratio`, `scaling`,
//! `validation`). ATG's third format (absolute per-type counts) is a subset of ours.
//!
//! Each format has its own serde model here; [`detect`] tells them apart by their distinctive
//! keys, and the converters turn them into our raw model, which then goes through the same
//! checks as a template in our own format. Our format keeps `deny_unknown_fields` for typos; an
//! ATG file's keys are the ones its users already have, so a key whose meaning tenantgen does not
//! implement is accepted with one warning (file:line, the key, and what tenantgen does instead),
//! never silently and never as an error.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::yaml::{
    locate, RawMetadata, RawNaming, RawRelationship, RawReplicate, RawResource,
    RawResourceTemplate, RawTemplate, Scalar, Seg, YamlMapping, YamlValue,
};
use super::{type_prefix, TemplateError};

/// Which format a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Ours (and ATG's absolute per-type counts, which is a subset of ours).
    Own,
    Patterns,
    Friendly,
}

/// Keys only the patterns format has at the top level.
const PATTERN_KEYS: [&str; 4] = [
    "scale_factor",
    "resource_patterns",
    "naming_strategy",
    "relationship_handling",
];

/// Tells the formats apart. Only keys our format never has decide, so a typo in our own format
/// still meets `deny_unknown_fields`.
pub(crate) fn detect(doc: &YamlValue) -> Format {
    let Some(top) = doc.as_mapping() else {
        return Format::Own;
    };
    let has = |m: &YamlMapping, k: &str| m.contains_key(YamlValue::String(k.to_owned()));
    if PATTERN_KEYS.iter().any(|k| has(top, k)) {
        return Format::Patterns;
    }
    if has(top, "scaling") || has(top, "validation") {
        return Format::Friendly;
    }
    let author = top
        .get("metadata")
        .and_then(YamlValue::as_mapping)
        .is_some_and(|m| has(m, "author"));
    let friendly_resource = top
        .get("resources")
        .and_then(YamlValue::as_sequence)
        .is_some_and(|rs| {
            rs.iter().filter_map(YamlValue::as_mapping).any(|r| {
                has(r, "name_prefix")
                    || has(r, "labels")
                    || (has(r, "type") && has(r, "count") && !has(r, "template"))
            })
        });
    if author || friendly_resource {
        Format::Friendly
    } else {
        Format::Own
    }
}

/// ATG's friendly type names → Azure resource types. Lookup ignores ASCII case.
pub const FRIENDLY_TYPES: [(&str, &str); 32] = [
    ("VirtualMachine", "Microsoft.Compute/virtualMachines"),
    (
        "VirtualMachineScaleSet",
        "Microsoft.Compute/virtualMachineScaleSets",
    ),
    ("Disk", "Microsoft.Compute/disks"),
    ("ManagedDisk", "Microsoft.Compute/disks"),
    ("AvailabilitySet", "Microsoft.Compute/availabilitySets"),
    ("Snapshot", "Microsoft.Compute/snapshots"),
    ("VirtualNetwork", "Microsoft.Network/virtualNetworks"),
    // The seed graph (ATG scans) holds subnets as `Microsoft.Network/subnets`.
    ("Subnet", "Microsoft.Network/subnets"),
    ("NetworkInterface", "Microsoft.Network/networkInterfaces"),
    (
        "NetworkSecurityGroup",
        "Microsoft.Network/networkSecurityGroups",
    ),
    ("PublicIPAddress", "Microsoft.Network/publicIPAddresses"),
    ("PublicIP", "Microsoft.Network/publicIPAddresses"),
    ("LoadBalancer", "Microsoft.Network/loadBalancers"),
    (
        "ApplicationGateway",
        "Microsoft.Network/applicationGateways",
    ),
    ("RouteTable", "Microsoft.Network/routeTables"),
    ("PrivateEndpoint", "Microsoft.Network/privateEndpoints"),
    ("PrivateDnsZone", "Microsoft.Network/privateDnsZones"),
    ("StorageAccount", "Microsoft.Storage/storageAccounts"),
    ("KeyVault", "Microsoft.KeyVault/vaults"),
    ("SqlServer", "Microsoft.Sql/servers"),
    ("SqlDatabase", "Microsoft.Sql/servers/databases"),
    ("CosmosDB", "Microsoft.DocumentDB/databaseAccounts"),
    ("RedisCache", "Microsoft.Cache/redis"),
    ("WebApp", "Microsoft.Web/sites"),
    ("AppService", "Microsoft.Web/sites"),
    ("FunctionApp", "Microsoft.Web/sites"),
    ("AppServicePlan", "Microsoft.Web/serverfarms"),
    (
        "ContainerRegistry",
        "Microsoft.ContainerRegistry/registries",
    ),
    (
        "KubernetesCluster",
        "Microsoft.ContainerService/managedClusters",
    ),
    ("AKSCluster", "Microsoft.ContainerService/managedClusters"),
    (
        "LogAnalyticsWorkspace",
        "Microsoft.OperationalInsights/workspaces",
    ),
    (
        "ManagedIdentity",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
    ),
];

/// The Azure type a friendly name stands for; a name with a `/` is already a type.
fn resolve_type(name: &str) -> Option<String> {
    if name.contains('/') {
        return Some(name.to_owned());
    }
    FRIENDLY_TYPES
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(name))
        .map(|(_, t)| (*t).to_owned())
}

// ---- the patterns format -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct RawPatterns {
    #[serde(default)]
    pub name: Option<Scalar>,
    #[serde(default)]
    pub description: Option<Scalar>,
    #[serde(default)]
    pub scale_factor: Option<f64>,
    #[serde(default)]
    pub resource_patterns: Option<Vec<RawPattern>>,
    #[serde(default)]
    pub naming_strategy: Option<RawNamingStrategy>,
    #[serde(default)]
    pub relationship_handling: Option<RawRelationshipHandling>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawPattern {
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub min_count: Option<u64>,
    #[serde(default)]
    pub max_count: Option<u64>,
    #[serde(default)]
    pub clone_relationships: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawNamingStrategy {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub suffix_pattern: Option<String>,
    #[serde(default)]
    pub preserve_location: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRelationshipHandling {
    #[serde(default)]
    pub clone_internal: Option<bool>,
    #[serde(default)]
    pub clone_external: Option<bool>,
    #[serde(default)]
    pub update_references: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

// ---- the friendly format -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(crate) struct RawFriendly {
    #[serde(default)]
    pub metadata: Option<RawFriendlyMetadata>,
    #[serde(default)]
    pub resources: Option<Vec<RawFriendlyResource>>,
    #[serde(default)]
    pub relationships: Option<Vec<RawFriendlyRelationship>>,
    #[serde(default)]
    pub scaling: Option<RawScaling>,
    #[serde(default)]
    pub validation: Option<YamlMapping>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawFriendlyMetadata {
    #[serde(default)]
    pub name: Option<Scalar>,
    #[serde(default)]
    pub description: Option<Scalar>,
    #[serde(default)]
    pub version: Option<Scalar>,
    #[serde(default)]
    pub author: Option<Scalar>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawFriendlyResource {
    #[serde(rename = "type")]
    pub type_name: String,
    pub count: YamlValue,
    #[serde(default)]
    pub name_prefix: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub properties: Option<YamlValue>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawFriendlyRelationship {
    pub source_type: String,
    pub target_type: String,
    pub relationship_type: String,
    #[serde(default)]
    pub connection_ratio: Option<f64>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawScaling {
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub maintain_relationships: Option<bool>,
    #[serde(default)]
    pub batch_size: Option<YamlValue>,
    #[serde(flatten)]
    pub other: BTreeMap<String, YamlValue>,
}

// ---- conversion ----------------------------------------------------------------------------

/// An ATG document turned into our raw model, with the warnings its keys earned.
pub(crate) struct Converted {
    pub raw: RawTemplate,
    /// `scale_factor` of the patterns format (the replicate factor when no flag gives one).
    pub scale_factor: Option<f64>,
}

/// Builds warnings and errors located in the source.
pub(crate) struct Notes<'a> {
    pub path: &'a Path,
    pub src: &'a str,
    pub warnings: Vec<String>,
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

impl Notes<'_> {
    /// `file:line: `key` ...: tenantgen does X instead`, once per key.
    pub fn warn(&mut self, segs: &[Seg], what: &str) {
        let line = locate(self.src, segs).map_or(String::new(), |(l, _)| format!(":{l}"));
        self.warnings.push(format!(
            "warning: {}{line}: `{}` {what}",
            self.path.display(),
            super::yaml::path_string(segs)
        ));
    }

    fn others(&mut self, base: &[Seg], other: &BTreeMap<String, YamlValue>) {
        for k in other.keys() {
            let segs = [base, &[key(k)]].concat();
            self.warn(
                &segs,
                "is not a key of the ATG template format tenantgen reads; it is ignored",
            );
        }
    }

    fn err(&self, segs: &[Seg], message: String) -> TemplateError {
        let (line, column) = super::split_loc(locate(self.src, segs));
        TemplateError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            at: super::yaml::path_string(segs),
            message,
        }
    }

    fn resolve(&self, name: &str, segs: &[Seg]) -> Result<String, TemplateError> {
        resolve_type(name).ok_or_else(|| {
            let known: Vec<&str> = FRIENDLY_TYPES.iter().map(|(f, _)| *f).collect();
            self.err(
                segs,
                format!(
                    "{} `{name}` is not a friendly type name tenantgen knows ({}): write the full Azure type instead, e.g. `Microsoft.Compute/virtualMachines`",
                    super::yaml::path_string(segs),
                    known.join(", ")
                ),
            )
        })
    }
}

/// The patterns format → a `replicate:` section (the replicate strategy copies the baseline).
pub(crate) fn convert_patterns(
    p: RawPatterns,
    notes: &mut Notes<'_>,
) -> Result<Converted, TemplateError> {
    notes.others(&[], &p.other);
    let mut types = Vec::new();
    let mut per_type = YamlMapping::new();
    for (i, r) in p
        .resource_patterns
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let base = [key("resource_patterns"), Seg::Index(i)];
        notes.others(&base, &r.other);
        let ty = notes.resolve(&r.type_name, &[base.as_slice(), &[key("type")]].concat())?;
        if r.clone_relationships == Some(false) {
            notes.warn(
                &[base.as_slice(), &[key("clone_relationships")]].concat(),
                "is false: tenantgen copies every relationship of a copied resource regardless",
            );
        }
        if r.min_count.is_some() || r.max_count.is_some() {
            let mut b = YamlMapping::new();
            if let Some(n) = r.min_count {
                b.insert(YamlValue::from("min"), YamlValue::from(n));
            }
            if let Some(n) = r.max_count {
                b.insert(YamlValue::from("max"), YamlValue::from(n));
            }
            per_type.insert(YamlValue::from(ty.clone()), YamlValue::Mapping(b));
        }
        types.push(ty);
    }
    let naming = match p.naming_strategy {
        None => None,
        Some(n) => naming_pattern(n, notes),
    };
    if let Some(h) = p.relationship_handling {
        let base = [key("relationship_handling")];
        notes.others(&base, &h.other);
        for (v, k, what) in [
            (h.clone_internal, "clone_internal", "is false: tenantgen copies the relationships between copied resources regardless"),
            (h.clone_external, "clone_external", "is false: tenantgen (without --atg-compat) links each copy to the uncopied nodes its base links to regardless"),
        ] {
            if v == Some(false) {
                notes.warn(&[base[0].clone(), key(k)], what);
            }
        }
        if h.update_references == Some(true) {
            notes.warn(
                &[base[0].clone(), key("update_references")],
                "is not implemented: tenantgen gives each copy a new id and name but leaves resource ids inside its properties as the base has them",
            );
        }
    }
    Ok(Converted {
        raw: RawTemplate {
            metadata: Some(RawMetadata {
                name: p.name,
                description: p.description,
                version: None,
                scale_target: None,
                baseline_count: None,
            }),
            resources: None,
            config: None,
            relationships: None,
            replicate: Some(RawReplicate {
                types: Some(types),
                per_type: Some(per_type),
                naming: naming.map(|name_pattern| RawNaming { name_pattern }),
            }),
        },
        scale_factor: p.scale_factor,
    })
}

/// `naming_strategy` → `{prefix}{original_name}{suffix}`; a suffix tenantgen cannot render
/// falls back to our `-s{copy}` with a warning.
fn naming_pattern(n: RawNamingStrategy, notes: &mut Notes<'_>) -> Option<String> {
    let base = [key("naming_strategy")];
    notes.others(&base, &n.other);
    if n.preserve_location == Some(false) {
        notes.warn(
            &[base[0].clone(), key("preserve_location")],
            "is false: tenantgen keeps each copy in its base's location regardless",
        );
    }
    let prefix = n.prefix.unwrap_or_default();
    let fallback = format!("{prefix}{{original_name}}-s{{copy}}");
    let Some(suffix) = n.suffix_pattern else {
        return Some(fallback);
    };
    let pattern = format!("{prefix}{{original_name}}{suffix}");
    let numbered = pattern.contains("{copy") || pattern.contains("{index");
    if super::compile_pattern(&pattern, "naming_strategy").is_ok() && numbered {
        Some(pattern)
    } else {
        notes.warn(
            &[base[0].clone(), key("suffix_pattern")],
            &format!("`{suffix}` is not a pattern tenantgen renders with a copy number ({{copy}}, {{copy:0Nd}}, {{index}}): names are `{fallback}` instead"),
        );
        Some(fallback)
    }
}

/// The friendly format → `resources` and `relationships` for the template strategy.
pub(crate) fn convert_friendly(
    f: RawFriendly,
    notes: &mut Notes<'_>,
) -> Result<Converted, TemplateError> {
    notes.others(&[], &f.other);
    let metadata = f.metadata.map(|m| {
        notes.others(&[key("metadata")], &m.other);
        if m.author.is_some() {
            notes.warn(
                &[key("metadata"), key("author")],
                "is informational: tenantgen does not record it in the output",
            );
        }
        RawMetadata {
            name: m.name,
            description: m.description,
            version: m.version,
            scale_target: None,
            baseline_count: None,
        }
    });
    let mut resources = Vec::new();
    for (i, r) in f.resources.unwrap_or_default().into_iter().enumerate() {
        let base = [key("resources"), Seg::Index(i)];
        let at = |k: &str| [base.as_slice(), &[key(k)]].concat();
        notes.others(&base, &r.other);
        let ty = notes.resolve(&r.type_name, &at("type"))?;
        if let Some(labels) = &r.labels {
            let extra: Vec<&str> = labels
                .iter()
                .map(String::as_str)
                .filter(|l| !matches!(*l, "Resource" | "Synthetic"))
                .collect();
            if !extra.is_empty() {
                notes.warn(
                    &at("labels"),
                    &format!(
                        "asks for {}: tenantgen labels every generated resource :Resource:Synthetic only",
                        extra.join(", ")
                    ),
                );
            }
        }
        let name_pattern = match r.name_prefix {
            Some(p) if p.contains('{') || p.contains('}') => {
                return Err(notes.err(
                    &at("name_prefix"),
                    format!("resources[{i}].name_prefix `{p}` holds `{{` or `}}`: a prefix is plain text, remove them"),
                ))
            }
            Some(p) => format!("{p}-{{index}}"),
            None => format!("{}-{{index}}", type_prefix(&ty)),
        };
        resources.push(RawResource {
            type_name: ty,
            count: r.count,
            template: RawResourceTemplate {
                name_pattern,
                location: None,
                properties: r.properties,
                sku: None,
                kind: None,
                plan: None,
                tags: None,
            },
        });
    }
    let mut relationships = Vec::new();
    for (i, r) in f.relationships.unwrap_or_default().into_iter().enumerate() {
        let base = [key("relationships"), Seg::Index(i)];
        let at = |k: &str| [base.as_slice(), &[key(k)]].concat();
        notes.others(&base, &r.other);
        relationships.push(RawRelationship {
            source_type: notes.resolve(&r.source_type, &at("source_type"))?,
            target_type: notes.resolve(&r.target_type, &at("target_type"))?,
            relationship_type: r.relationship_type,
            ratio: r.connection_ratio,
            cardinality: None,
            max: None,
            same: None,
        });
    }
    if let Some(s) = f.scaling {
        let base = [key("scaling")];
        notes.others(&base, &s.other);
        if let Some(st) = s.strategy.filter(|s| s != "proportional") {
            notes.warn(
                &[base[0].clone(), key("strategy")],
                &format!("`{st}` is not implemented: tenantgen scales every count proportionally (--scale-factor / --target-total)"),
            );
        }
        if s.maintain_relationships == Some(false) {
            notes.warn(
                &[base[0].clone(), key("maintain_relationships")],
                "is false: tenantgen scales the relationships with their resources regardless",
            );
        }
        if s.batch_size.is_some() {
            notes.warn(
                &[base[0].clone(), key("batch_size")],
                "is ignored: tenantgen writes import CSV in parts (--part-rows), and `load --batch-size` sets Bolt batches",
            );
        }
    }
    if let Some(v) = f.validation {
        let keys: Vec<String> = v
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        notes.warn(
            &[key("validation")],
            &format!(
                "({}) is not read: `tenantgen verify` (and `run`) checks node, label, type and relationship counts against the manifest",
                keys.join(", ")
            ),
        );
    }
    Ok(Converted {
        raw: RawTemplate {
            metadata,
            resources: Some(resources),
            config: None,
            relationships: Some(relationships),
            replicate: None,
        },
        scale_factor: None,
    })
}
