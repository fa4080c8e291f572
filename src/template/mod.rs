//! The template: a YAML file that says which Azure resource types to generate, how many of each,
//! and what their names, locations, properties, SKUs and tags look like (`{{ }}` expressions
//! rendered per row), plus optional relationship rules and a `replicate` section for the
//! replicate strategy. See `docs/template.md` for the format.
//!
//! This module owns reading, checking and compiling templates and rendering one row's values into
//! caller buffers. It does not decide how many rows go where (that is `plan`), derive ids or seeds
//! (that is `generate`), or write CSV. Words: a *template path* is the dotted location of a value
//! inside the file (`resources[12].template.name_pattern`); a *pattern* is a string value that may
//! hold `{index}`-style placeholders and `{{ }}` expressions.
//!
//! serde_yaml stays inside this module (in `yaml`): it is deprecated upstream and may be swapped.

mod atg;
mod render;
pub mod topology;
mod yaml;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value as JsonValue;

use yaml::{locate, path_string, RawTemplate, Seg, YamlFailure, YamlMapping, YamlValue};

pub use atg::FRIENDLY_TYPES;
pub use render::{
    compile_pattern, render_name_pattern, CompiledPattern, CompiledResource, CompiledTemplate,
    RowCheck, RowVars,
};

/// Largest `count` a resource entry may ask for.
pub const MAX_COUNT: u64 = 1_000_000_000;

/// Regions used for `{{ random_location }}` when `config.random_locations` is absent.
pub const DEFAULT_LOCATIONS: [&str; 10] = [
    "eastus",
    "eastus2",
    "westus2",
    "centralus",
    "northeurope",
    "westeurope",
    "uksouth",
    "southeastasia",
    "japaneast",
    "australiaeast",
];

/// Location pattern used when a resource's template has none.
pub const DEFAULT_LOCATION_PATTERN: &str = "{{ random_location }}";

/// Why a template could not be read, checked, compiled or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {}: {error}: check the path and its permissions", path.display())]
    Read {
        path: PathBuf,
        /// Not a `#[source]`: the message already holds it (no repeat in `{:#}` chains).
        error: std::io::Error,
    },
    /// The file has no YAML content at all.
    #[error("template {} is empty: it needs at least `resources:` (or `replicate:`); see docs/template.md", path.display())]
    Empty { path: PathBuf },
    /// The file is not UTF-8.
    #[error("template {}:{line}:{column}: invalid UTF-8 at byte offset {offset}: save the file as UTF-8", path.display())]
    NotUtf8 {
        path: PathBuf,
        offset: usize,
        line: usize,
        column: usize,
    },
    /// The file is larger than any real template.
    #[error("template {} is {size} bytes, over the {limit}-byte limit: split it or remove generated bulk", path.display())]
    TooLarge {
        path: PathBuf,
        size: usize,
        limit: usize,
    },
    /// YAML syntax, an unknown or missing key, a value of the wrong type, or a wrong value.
    #[error("template {}{}: {message}", path.display(), Loc(*line, *column))]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        /// Template path of the offending value (empty at the top level).
        at: String,
        message: String,
    },
    /// A `{{ }}` expression that does not compile, names an unknown variable, or fails on row 0.
    #[error("template {}{}: {at}: {message}", path.display(), Loc(*line, *column))]
    Expression {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        at: String,
        message: String,
    },
    /// A pattern given outside a template file (a CLI flag) is wrong.
    #[error("pattern {at}: {message}")]
    Pattern { at: String, message: String },
    /// A row failed to render (rare: every expression was test-rendered at load time).
    #[error("rendering {at} for index {index} failed: {message}: check the expression")]
    Render {
        at: String,
        index: u64,
        message: String,
    },
}

impl TemplateError {
    /// Template path of the offending value, where there is one.
    pub fn at(&self) -> Option<&str> {
        match self {
            TemplateError::Invalid { at, .. }
            | TemplateError::Expression { at, .. }
            | TemplateError::Pattern { at, .. }
            | TemplateError::Render { at, .. } => Some(at),
            _ => None,
        }
    }

    /// 1-based line and column, where known.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            TemplateError::NotUtf8 { line, column, .. } => Some((*line, *column)),
            TemplateError::Invalid { line, column, .. }
            | TemplateError::Expression { line, column, .. } => line.zip(*column),
            _ => None,
        }
    }
}

struct Loc(Option<usize>, Option<usize>);

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(l), Some(c)) => write!(f, ":{l}:{c}"),
            (Some(l), None) => write!(f, ":{l}"),
            _ => Ok(()),
        }
    }
}

/// `metadata:`; informational except `scale_target` and `baseline_count`, which `plan` may check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    /// Abstracted resources the template aims at (baseline + generated).
    pub scale_target: Option<u64>,
    /// Abstracted resources the template assumes are already there.
    pub baseline_count: Option<u64>,
}

/// One `resources[i]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSpec {
    /// Azure resource type as written, e.g. `Microsoft.Compute/disks`.
    pub type_name: String,
    /// Rows to generate, 1 ..= [`MAX_COUNT`].
    pub count: u64,
    pub template: ResourceTemplate,
}

/// `resources[i].template`. String leaves are patterns, rendered per row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceTemplate {
    pub name_pattern: String,
    /// `None` means [`DEFAULT_LOCATION_PATTERN`].
    pub location: Option<String>,
    /// Always a JSON object (empty when absent).
    pub properties: serde_json::Map<String, JsonValue>,
    pub sku: Option<JsonValue>,
    pub kind: Option<String>,
    pub plan: Option<JsonValue>,
    /// Tag name → value pattern, in file order. Rendered values are always JSON strings.
    pub tags: Option<Vec<(String, String)>>,
}

/// `config:`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateConfig {
    /// Regions `{{ random_location }}` picks from; never empty.
    pub random_locations: Vec<String>,
    pub resource_group_pattern: Option<String>,
    pub tag_prefix: Option<String>,
    pub subscription_id: Option<String>,
    pub tenant_id: Option<String>,
    /// Subscriptions the rows are spread over (default: the baseline's, in proportion to its
    /// resources).
    pub subscriptions: Vec<String>,
    /// Resources per generated resource group (default: the baseline's average).
    pub resources_per_group: Option<u64>,
    /// Whether the built-in Azure rules ([`topology::BUILTIN`]) apply (`topology: builtin`,
    /// the default) or only the file's own (`topology: none`).
    pub builtin_topology: bool,
    /// ATG keys that were present and are ignored (`batch_size`, `max_parallel`,
    /// `rate_limit_delay_ms`), so the CLI can say so.
    pub ignored_keys: Vec<&'static str>,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        TemplateConfig {
            random_locations: DEFAULT_LOCATIONS.iter().map(|s| s.to_string()).collect(),
            resource_group_pattern: None,
            tag_prefix: None,
            subscription_id: None,
            tenant_id: None,
            subscriptions: Vec::new(),
            resources_per_group: None,
            builtin_topology: true,
            ignored_keys: Vec::new(),
        }
    }
}

/// One `relationships[i]` rule (or a built-in one, [`topology::BUILTIN`]): edges of
/// `relationship_type` from source rows to target rows, as many and as shared as `cardinality`
/// says.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationshipRule {
    pub source_type: String,
    pub target_type: String,
    pub relationship_type: String,
    /// 0 ..= 1000; `connection_ratio` in ATG files: edges per source row (many_to_many, default
    /// 1.0), or the cap on edges per source row on average (the other cardinalities).
    pub ratio: Option<f64>,
    /// `None` when the file does not say: the built-in rule for the same two types decides, else
    /// many_to_many.
    pub cardinality: Option<Cardinality>,
    /// one_to_many: targets per source at most; many_to_one: sources per target at most.
    pub max: Option<u64>,
    /// What the two ends of every edge share; `None` when the file does not say.
    pub same: Option<Vec<Same>>,
}

impl RelationshipRule {
    /// Edges per source row of a many_to_many rule.
    pub fn ratio(&self) -> f64 {
        self.ratio.unwrap_or(1.0)
    }
}

/// How the rows of a rule's two types pair up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// Each source row at most one target, each target at most one source.
    OneToOne,
    /// Each target at most one source (its owner); a source many targets (up to `max`).
    OneToMany,
    /// Each source at most one target (its owner); a target many sources (up to `max`).
    ManyToOne,
    /// Any row any number: `ratio` edges per source row, targets picked by hash.
    ManyToMany,
}

impl Cardinality {
    pub const NAMES: [&'static str; 4] =
        ["one_to_one", "one_to_many", "many_to_one", "many_to_many"];

    pub fn parse(s: &str) -> Option<Cardinality> {
        Some(match s {
            "one_to_one" => Cardinality::OneToOne,
            "one_to_many" => Cardinality::OneToMany,
            "many_to_one" => Cardinality::ManyToOne,
            "many_to_many" => Cardinality::ManyToMany,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Cardinality::OneToOne => "one_to_one",
            Cardinality::OneToMany => "one_to_many",
            Cardinality::ManyToOne => "many_to_one",
            Cardinality::ManyToMany => "many_to_many",
        }
    }

    /// The same pairing seen from the other end.
    pub fn mirrored(self) -> Cardinality {
        match self {
            Cardinality::OneToMany => Cardinality::ManyToOne,
            Cardinality::ManyToOne => Cardinality::OneToMany,
            c => c,
        }
    }
}

/// What the two ends of a rule's edges share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Same {
    Region,
    /// The resource group, and with it the subscription.
    ResourceGroup,
}

impl Same {
    pub fn parse(s: &str) -> Option<Same> {
        match s {
            "region" => Some(Same::Region),
            "resource_group" => Some(Same::ResourceGroup),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Same::Region => "region",
            Same::ResourceGroup => "resource_group",
        }
    }
}

/// Bounds on the number of copies of one type (`replicate.per_type`); `None` = unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyBounds {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

/// `replicate:`, read by the replicate strategy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicateSpec {
    /// Type filters; empty = every type. A segment ending in `*` matches by prefix; a final `*`
    /// segment also matches nested types. Matching ignores ASCII case, as Azure does.
    pub types: Vec<String>,
    /// Type → copy bounds, in file order.
    pub per_type: Vec<(String, CopyBounds)>,
    /// `naming.name_pattern`, e.g. `{original_name}-s{copy}`.
    pub name_pattern: Option<String>,
    /// The scale factor when no flag gives one (ATG's patterns format has `scale_factor`).
    pub scale_factor: Option<f64>,
}

impl ReplicateSpec {
    /// Whether `type_name` passes the `types` filter.
    pub fn matches(&self, type_name: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|p| glob_type(p, type_name))
    }
}

fn glob_type(pattern: &str, type_name: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let ty: Vec<&str> = type_name.split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        let last = i + 1 == pat.len();
        if last && *p == "*" {
            return ty.len() > i;
        }
        let Some(t) = ty.get(i) else { return false };
        let ok = match p.strip_suffix('*') {
            Some(prefix) => {
                t.len() >= prefix.len() && t[..prefix.len()].eq_ignore_ascii_case(prefix)
            }
            None => t.eq_ignore_ascii_case(p),
        };
        if !ok {
            return false;
        }
    }
    pat.len() == ty.len()
}

/// A checked template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub path: PathBuf,
    pub metadata: Metadata,
    pub resources: Vec<ResourceSpec>,
    pub config: TemplateConfig,
    pub relationships: Vec<RelationshipRule>,
    pub replicate: Option<ReplicateSpec>,
    /// One line each, `warning: FILE:LINE: `key` ...`: a key that was accepted but whose
    /// meaning tenantgen does not implement, and what it does instead. The plan prints them.
    pub warnings: Vec<String>,
    /// The source text, kept to find line and column for errors found at compile time.
    source: String,
}

impl Template {
    /// Rows the `resources` entries ask for, all together.
    pub fn total_count(&self) -> u64 {
        self.resources.iter().map(|r| r.count).sum()
    }

    /// Compile every pattern once and test-render it on sample row 0.
    pub fn compile(&self) -> Result<CompiledTemplate, TemplateError> {
        render::compile_template(self)
    }

    /// Error for the value at `segs`, with its line and column.
    pub(crate) fn expression_error(&self, at: &str, message: String) -> TemplateError {
        let (line, column) = self.position(at);
        TemplateError::Expression {
            path: self.path.clone(),
            line,
            column,
            at: at.to_owned(),
            message,
        }
    }
}

impl Template {
    /// Line and column of the value at path `at` in the file.
    fn position(&self, at: &str) -> (Option<usize>, Option<usize>) {
        split_loc(locate(&self.source, &parse_path(at)))
    }

    /// An error found after loading (at planning) about the value at path `at`
    /// (`config.subscriptions[2]`), located in the file like a load-time one.
    pub fn invalid_at(&self, at: &str, message: String) -> TemplateError {
        let (line, column) = self.position(at);
        TemplateError::Invalid {
            path: self.path.clone(),
            line,
            column,
            at: at.to_owned(),
            message,
        }
    }

    /// A render failure, reported as the template expression (file:line:column) that fails on
    /// the row it names; other errors pass through.
    pub fn row_error(&self, e: TemplateError) -> TemplateError {
        match e {
            TemplateError::Render { at, index, message } => {
                self.expression_error(&at, format!("fails on row {index}: {message}"))
            }
            other => other,
        }
    }
}

fn split_loc(l: Option<(usize, usize)>) -> (Option<usize>, Option<usize>) {
    match l {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    }
}

/// Inverse of `path_string` for the paths this module builds (keys hold no `.` or `[`; property
/// keys that do are located at their nearest plain ancestor).
fn parse_path(at: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in at.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                segs.push(Seg::Key(rest[..b].to_owned()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(i) = stripped[..end].parse() {
                    segs.push(Seg::Index(i));
                }
                rest = &stripped[end + 1..];
            }
        } else {
            segs.push(Seg::Key(rest.to_owned()));
        }
    }
    segs
}

/// Read and check a template file.
pub fn load_template(path: &Path) -> Result<Template, TemplateError> {
    let bytes = std::fs::read(path).map_err(|error| TemplateError::Read {
        path: path.to_owned(),
        error,
    })?;
    if bytes.len() > yaml::MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge {
            path: path.to_owned(),
            size: bytes.len(),
            limit: yaml::MAX_TEMPLATE_BYTES,
        });
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let offset = e.valid_up_to();
            let before = &bytes[..offset];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            return Err(TemplateError::NotUtf8 {
                path: path.to_owned(),
                offset,
                line,
                column,
            });
        }
    };
    parse_template_str(text, path)
}

/// Check a template given as text; `path` is only used in errors.
pub fn parse_template_str(src: &str, path: &Path) -> Result<Template, TemplateError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    if src.len() > yaml::MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge {
            path: path.to_owned(),
            size: src.len(),
            limit: yaml::MAX_TEMPLATE_BYTES,
        });
    }
    let yaml_err = |f: YamlFailure| yaml_error(path, f);
    yaml::check_nesting(src).map_err(yaml_err)?;
    match yaml::check_shape(src).map_err(yaml_err)? {
        yaml::Shape::Empty => {
            return Err(TemplateError::Empty {
                path: path.to_owned(),
            })
        }
        yaml::Shape::Present => {}
    }
    let doc = yaml::parse_value(src).map_err(yaml_err)?;
    let mut notes = atg::Notes {
        path,
        src,
        warnings: Vec::new(),
    };
    let (raw, scale_factor) = match atg::detect(&doc) {
        atg::Format::Own => (yaml::parse_raw(src).map_err(yaml_err)?, None),
        atg::Format::Patterns => {
            let c = atg::convert_patterns(yaml::parse_as(src).map_err(yaml_err)?, &mut notes)?;
            (c.raw, c.scale_factor)
        }
        atg::Format::Friendly => {
            let c = atg::convert_friendly(yaml::parse_as(src).map_err(yaml_err)?, &mut notes)?;
            (c.raw, c.scale_factor)
        }
    };
    let mut t = Checker { path, src }.check(raw)?;
    for k in &t.config.ignored_keys {
        notes.warn(
            &[Seg::Key("config".into()), Seg::Key((*k).into())],
            "is ignored: tenantgen writes import CSV in parts (--part-rows) and loads in Bolt batches (load --batch-size)",
        );
    }
    if let (Some(f), Some(r)) = (scale_factor, t.replicate.as_mut()) {
        r.scale_factor = Some(f);
    }
    t.warnings = notes.warnings;
    Ok(t)
}

/// The digits of an integer literal serde_yaml could only read as a 128-bit number
/// (`invalid type: integer `N` as u128, expected ...`).
fn out_of_range_integer(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("invalid type: integer `")?;
    let (n, tail) = rest.split_once('`')?;
    (tail.starts_with(" as u128") || tail.starts_with(" as i128")).then_some(n)
}

fn yaml_error(path: &Path, f: YamlFailure) -> TemplateError {
    let at = f.at.clone().unwrap_or_default();
    let where_ = if at.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("at {at}")
    };
    let message = if let Some(rest) = f.message.strip_prefix("unknown field ") {
        let (field, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = expected.replace('`', "");
        let expected = if expected.is_empty() {
            String::new()
        } else {
            format!(" (expected {expected})")
        };
        format!("unknown field {field} {where_}{expected}: remove it or fix the spelling")
    } else if f.message.starts_with("missing field ") {
        format!("{} {where_}: add it (see docs/template.md)", f.message)
    } else if f.message.starts_with("duplicate field ") {
        format!("{} {where_}: keep one", f.message)
    } else if f.message.contains(yaml::BUDGET_HINT) || f.message == "repetition limit exceeded" {
        format!(
            "the document expands to more than {} YAML nodes through anchors and aliases (an alias bomb?): write the values out or use fewer aliases",
            yaml::MAX_EXPANDED_NODES
        )
    } else if let Some(n) = out_of_range_integer(&f.message) {
        if at.ends_with(".count") {
            format!("{at} must be a whole number from 1 to {MAX_COUNT}, got {n}")
        } else {
            format!("the integer {n} {where_} does not fit in 64 bits: fix the value (see docs/template.md)")
        }
    } else if let Some(got) = f
        .message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.strip_suffix(", expected u64"))
        .filter(|_| !at.is_empty())
    {
        format!("{at} must be a whole number, got {got} (see docs/template.md)")
    } else if f.message == "recursion limit exceeded" {
        "the document nests deeper than 128 levels: flatten it".to_owned()
    } else if at.is_empty() {
        format!("{}: fix the YAML (see docs/template.md)", f.message)
    } else {
        format!(
            "{} {where_}: fix the value (see docs/template.md)",
            f.message
        )
    };
    TemplateError::Invalid {
        path: path.to_owned(),
        line: f.line,
        column: f.column,
        at,
        message,
    }
}

/// A mapping key of a template path (`resources[2].template` is `[key("resources"),
/// Index(2), key("template")]`).
fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

/// The semantic pass over the raw model.
struct Checker<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Checker<'_> {
    fn err(&self, segs: &[Seg], message: String) -> TemplateError {
        let (line, column) = split_loc(locate(self.src, segs));
        TemplateError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            at: path_string(segs),
            message,
        }
    }

    fn check(self, raw: RawTemplate) -> Result<Template, TemplateError> {
        let metadata = self.check_metadata(raw.metadata)?;
        let raw_resources = raw.resources.unwrap_or_default();
        if raw_resources.is_empty() && raw.replicate.is_none() {
            return Err(self.err(
                &[key("resources")],
                "the template lists no resources: add at least one entry under `resources:` (or a `replicate:` section)".into(),
            ));
        }
        let mut resources = Vec::with_capacity(raw_resources.len());
        for (i, r) in raw_resources.into_iter().enumerate() {
            let spec = self.check_resource(i, r, &resources)?;
            resources.push(spec);
        }
        let config = self.check_config(raw.config)?;
        let replicate = match raw.replicate {
            None => None,
            Some(r) => Some(self.check_replicate(r)?),
        };
        let relationships = raw
            .relationships
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, r)| self.check_relationship(i, r, &resources))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Template {
            path: self.path.to_owned(),
            metadata,
            resources,
            config,
            relationships,
            replicate,
            warnings: Vec::new(),
            source: self.src.to_owned(),
        })
    }

    fn check_metadata(&self, raw: Option<yaml::RawMetadata>) -> Result<Metadata, TemplateError> {
        Ok(match raw {
            None => Metadata::default(),
            Some(m) => Metadata {
                name: m.name.map(|s| s.0),
                description: m.description.map(|s| s.0),
                version: m.version.map(|s| s.0),
                scale_target: self.opt_whole(
                    m.scale_target,
                    &[key("metadata"), key("scale_target")],
                    0,
                )?,
                baseline_count: self.opt_whole(
                    m.baseline_count,
                    &[key("metadata"), key("baseline_count")],
                    0,
                )?,
            },
        })
    }

    /// Entry `i` of `resources`; `resources` are the entries before it (for the repeat check).
    fn check_resource(
        &self,
        i: usize,
        r: yaml::RawResource,
        resources: &[ResourceSpec],
    ) -> Result<ResourceSpec, TemplateError> {
        let base = [key("resources"), Seg::Index(i)];
        let at_type = [base.clone().as_slice(), &[key("type")]].concat();
        if let Err(why) = check_type_name(&r.type_name) {
            return Err(self.err(
                &at_type,
                format!(
                    "{}.type `{}` {why}: write the full Azure type with its provider namespace, e.g. `Microsoft.Compute/virtualMachines`",
                    path_string(&base), r.type_name
                ),
            ));
        }
        if let Some(j) = resources
            .iter()
            .position(|p: &ResourceSpec| p.type_name.eq_ignore_ascii_case(&r.type_name))
        {
            return Err(self.err(
                &at_type,
                format!(
                    "{}.type `{}` repeats resources[{j}].type `{}` (Azure types ignore case): merge the two entries",
                    path_string(&base), r.type_name, resources[j].type_name
                ),
            ));
        }
        let at_count = [base.as_slice(), &[key("count")]].concat();
        let count = match whole(&r.count) {
            Some(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return Err(self.err(
                    &at_count,
                    format!(
                        "{} must be a whole number from 1 to {MAX_COUNT}, got {}",
                        path_string(&at_count),
                        show_yaml(&r.count)
                    ),
                ))
            }
        };
        let tbase = [base.as_slice(), &[key("template")]].concat();
        let t = r.template;
        let properties = match t.properties {
            None | Some(YamlValue::Null) => serde_json::Map::new(),
            Some(v) => {
                let segs = [tbase.as_slice(), &[key("properties")]].concat();
                match self.to_json(&v, &segs)? {
                    JsonValue::Object(m) => m,
                    _ => {
                        return Err(self.err(
                            &segs,
                            format!(
                                "{} must be a mapping of property names to values",
                                path_string(&segs)
                            ),
                        ))
                    }
                }
            }
        };
        let sku = match t.sku {
            None => None,
            Some(v) => Some(self.to_json(&v, &[tbase.as_slice(), &[key("sku")]].concat())?),
        };
        let plan = match t.plan {
            None => None,
            Some(v) => Some(self.to_json(&v, &[tbase.as_slice(), &[key("plan")]].concat())?),
        };
        Ok(ResourceSpec {
            type_name: r.type_name,
            count,
            template: ResourceTemplate {
                name_pattern: t.name_pattern,
                location: t.location,
                properties,
                sku,
                kind: t.kind.map(|s| s.0),
                plan,
                tags: t
                    .tags
                    .map(|m| m.into_iter().map(|(k, v)| (k, v.0)).collect()),
            },
        })
    }

    fn check_config(&self, raw: Option<yaml::RawConfig>) -> Result<TemplateConfig, TemplateError> {
        let mut config = TemplateConfig::default();
        if let Some(c) = raw {
            if let Some(locs) = c.random_locations {
                if locs.is_empty() {
                    return Err(self.err(
                        &[key("config"), key("random_locations")],
                        "config.random_locations is empty: list at least one region or remove the key to use the default ten".into(),
                    ));
                }
                if let Some(i) = locs.iter().position(|l| l.trim().is_empty()) {
                    return Err(self.err(
                        &[key("config"), key("random_locations"), Seg::Index(i)],
                        format!("config.random_locations[{i}] is blank: write a region such as `eastus`"),
                    ));
                }
                config.random_locations = locs;
            }
            config.resource_group_pattern = c.resource_group_pattern;
            config.tag_prefix = c.tag_prefix;
            config.subscription_id = c.subscription_id;
            config.tenant_id = c.tenant_id;
            config.subscriptions = c.subscriptions.unwrap_or_default();
            if let Some(i) = config
                .subscriptions
                .iter()
                .position(|v| v.trim().is_empty())
            {
                return Err(self.err(
                    &[key("config"), key("subscriptions"), Seg::Index(i)],
                    format!("config.subscriptions[{i}] is blank: write a subscription id"),
                ));
            }
            if let Some((i, j)) = (1..config.subscriptions.len()).find_map(|j| {
                config.subscriptions[..j]
                    .iter()
                    .position(|v| v == &config.subscriptions[j])
                    .map(|i| (i, j))
            }) {
                return Err(self.err(
                    &[key("config"), key("subscriptions"), Seg::Index(j)],
                    format!("config.subscriptions[{j}] repeats config.subscriptions[{i}]: name each subscription once"),
                ));
            }
            if c.resources_per_group == Some(0) {
                return Err(self.err(
                    &[key("config"), key("resources_per_group")],
                    "config.resources_per_group must be 1 or more".into(),
                ));
            }
            config.resources_per_group = c.resources_per_group;
            config.builtin_topology = match c.topology.as_deref() {
                None | Some("builtin") => true,
                Some("none") => false,
                Some(other) => {
                    return Err(self.err(
                        &[key("config"), key("topology")],
                        format!("config.topology `{other}` is not a topology: write builtin (the default) or none"),
                    ))
                }
            };
            for (present, name) in [
                (c.batch_size.is_some(), "batch_size"),
                (c.max_parallel.is_some(), "max_parallel"),
                (c.rate_limit_delay_ms.is_some(), "rate_limit_delay_ms"),
            ] {
                if present {
                    config.ignored_keys.push(name);
                }
            }
        }
        Ok(config)
    }

    /// Entry `i` of `relationships`, checked against the template's `resources`.
    fn check_relationship(
        &self,
        i: usize,
        r: yaml::RawRelationship,
        resources: &[ResourceSpec],
    ) -> Result<RelationshipRule, TemplateError> {
        let base = [key("relationships"), Seg::Index(i)];
        let at = |k: &str| [base.as_slice(), &[key(k)]].concat();
        if !is_rel_type(&r.relationship_type) {
            return Err(self.err(
                &at("relationship_type"),
                format!(
                    "{} `{}` is not a relationship type: use upper case letters, digits and `_`, starting with a letter, e.g. USES_SUBNET",
                    path_string(&at("relationship_type")), r.relationship_type
                ),
            ));
        }
        for (field, ty) in [
            ("source_type", &r.source_type),
            ("target_type", &r.target_type),
        ] {
            let segs = at(field);
            if resources.is_empty() {
                if let Err(why) = check_type_name(ty) {
                    return Err(self.err(&segs, format!("{} `{ty}` {why}: write the full Azure type, e.g. `Microsoft.Network/networkInterfaces`", path_string(&segs))));
                }
                continue;
            }
            if !resources.iter().any(|s| s.type_name == *ty) {
                let hint = match resources
                    .iter()
                    .find(|s| s.type_name.eq_ignore_ascii_case(ty))
                {
                    Some(s) => format!("did you mean `{}`?", s.type_name),
                    None => "add a `resources` entry for it or fix the spelling".to_owned(),
                };
                return Err(self.err(
                    &segs,
                    format!(
                        "{} `{ty}` is not a type listed in `resources`: {hint}",
                        path_string(&segs)
                    ),
                ));
            }
        }
        let ratio_checked = r.ratio.unwrap_or(1.0);
        if !(ratio_checked.is_finite() && (0.0..=1000.0).contains(&ratio_checked)) {
            let ratio = ratio_checked;
            let segs = at("ratio");
            let segs = if locate(self.src, &segs).is_some() {
                segs
            } else {
                at("connection_ratio")
            };
            return Err(self.err(
                &segs,
                format!(
                    "{} must be a number from 0 to 1000, got {ratio}",
                    path_string(&at("ratio"))
                ),
            ));
        }
        let cardinality = match r.cardinality.as_deref() {
            None => None,
            Some(c) => Some(Cardinality::parse(c).ok_or_else(|| {
                self.err(
                    &at("cardinality"),
                    format!(
                        "{} `{c}` is not a cardinality: write one of {}",
                        path_string(&at("cardinality")),
                        Cardinality::NAMES.join(", ")
                    ),
                )
            })?),
        };
        if let Some(m) = r.max {
            // A rule for a built-in pair inherits the built-in cardinality (see
            // `plan::topology`); the built-in rules themselves always name theirs.
            let effective = cardinality
                .or_else(|| topology::inherited_cardinality(&r.source_type, &r.target_type));
            let one_sided = matches!(
                effective,
                Some(Cardinality::OneToMany | Cardinality::ManyToOne)
            );
            if m == 0 {
                return Err(self.err(
                    &at("max"),
                    format!(
                        "{} is 0, which allows no links: write 1 or more, or drop the rule to make none",
                        path_string(&at("max"))
                    ),
                ));
            }
            if !one_sided {
                return Err(self.err(
                    &at("max"),
                    format!(
                        "{} needs `cardinality: one_to_many` (targets per source) or `many_to_one` (sources per target), written or inherited from the built-in rule for the pair (docs/template.md)",
                        path_string(&at("max"))
                    ),
                ));
            }
        }
        let same = match r.same {
            None => None,
            Some(list) => {
                let mut out = Vec::new();
                for (j, v) in list.iter().enumerate() {
                    let segs = [at("same").as_slice(), &[Seg::Index(j)]].concat();
                    let Some(x) = Same::parse(v) else {
                        return Err(self.err(
                            &segs,
                            format!(
                                "{} `{v}` is not something both ends can share: write region or resource_group",
                                path_string(&segs)
                            ),
                        ));
                    };
                    out.push(x);
                }
                if !out.is_empty() && cardinality == Some(Cardinality::ManyToMany) {
                    return Err(self.err(
                        &at("same"),
                        format!(
                            "{} needs a rule where one end owns the other (one_to_one, one_to_many or many_to_one); many_to_many edges pick targets anywhere",
                            path_string(&at("same"))
                        ),
                    ));
                }
                out.sort_unstable();
                out.dedup();
                Some(out)
            }
        };
        Ok(RelationshipRule {
            source_type: r.source_type,
            target_type: r.target_type,
            relationship_type: r.relationship_type,
            ratio: r.ratio,
            cardinality,
            max: r.max,
            same,
        })
    }

    fn check_replicate(&self, r: yaml::RawReplicate) -> Result<ReplicateSpec, TemplateError> {
        let mut spec = ReplicateSpec::default();
        for (i, p) in r.types.unwrap_or_default().into_iter().enumerate() {
            let segs = [key("replicate"), key("types"), Seg::Index(i)];
            let bad_star = p
                .split('/')
                .any(|s| s.trim_end_matches('*').contains('*') || s.matches('*').count() > 1);
            let shape_ok = p.contains('/') || p == "*";
            if bad_star || !shape_ok || p.trim().is_empty() {
                return Err(self.err(
                    &segs,
                    format!("{} `{p}` is not a type filter: write a type such as `Microsoft.Compute/virtualMachines`, with `*` only at the end of a segment (`Microsoft.Network/*`)", path_string(&segs)),
                ));
            }
            spec.types.push(p);
        }
        for (k, v) in r.per_type.unwrap_or_default() {
            let name = match &k {
                YamlValue::String(s) => s.clone(),
                other => show_yaml(other),
            };
            let segs = [key("replicate"), key("per_type"), key(&name)];
            if let Err(why) = check_type_name(&name) {
                return Err(self.err(&segs, format!("replicate.per_type key `{name}` {why}: use a full Azure type, e.g. `Microsoft.Compute/virtualMachines`")));
            }
            let b: yaml::RawBounds = serde_yaml_bounds(&v).map_err(|m| {
                self.err(
                    &segs,
                    format!(
                        "{}: {m}: write `{{ min: 1, max: 100 }}`",
                        path_string(&segs)
                    ),
                )
            })?;
            let bounds = CopyBounds {
                min: b.min,
                max: b.max,
            };
            if let (Some(min), Some(max)) = (b.min, b.max) {
                if min > max {
                    return Err(self.err(
                        &segs,
                        format!(
                            "{}: min {min} is above max {max}: swap them",
                            path_string(&segs)
                        ),
                    ));
                }
            }
            if spec
                .per_type
                .iter()
                .any(|(t, _)| t.eq_ignore_ascii_case(&name))
            {
                return Err(self.err(&segs, format!("replicate.per_type lists `{name}` twice (Azure types ignore case): keep one")));
            }
            spec.per_type.push((name, bounds));
        }
        if let Some(n) = r.naming {
            spec.name_pattern = Some(n.name_pattern);
        }
        Ok(spec)
    }

    fn opt_whole(
        &self,
        v: Option<YamlValue>,
        segs: &[Seg],
        min: u64,
    ) -> Result<Option<u64>, TemplateError> {
        match v {
            None | Some(YamlValue::Null) => Ok(None),
            Some(v) => match whole(&v) {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(self.err(
                    segs,
                    format!(
                        "{} must be a whole number, got {}",
                        path_string(segs),
                        show_yaml(&v)
                    ),
                )),
            },
        }
    }

    fn to_json(&self, v: &YamlValue, segs: &[Seg]) -> Result<JsonValue, TemplateError> {
        Ok(match v {
            YamlValue::Null => JsonValue::Null,
            YamlValue::Bool(b) => JsonValue::Bool(*b),
            YamlValue::Number(n) => {
                if let Some(u) = n.as_u64() {
                    JsonValue::from(u)
                } else if let Some(i) = n.as_i64() {
                    JsonValue::from(i)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    match serde_json::Number::from_f64(f) {
                        Some(n) => JsonValue::Number(n),
                        None => {
                            return Err(self.err(
                                segs,
                                format!("{} is {f}, which JSON cannot hold: use a finite number or a string", path_string(segs)),
                            ))
                        }
                    }
                }
            }
            YamlValue::String(s) => JsonValue::String(s.clone()),
            YamlValue::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let child = [segs, &[Seg::Index(i)]].concat();
                    out.push(self.to_json(item, &child)?);
                }
                JsonValue::Array(out)
            }
            YamlValue::Mapping(m) => self.map_to_json(m, segs)?,
            YamlValue::Tagged(_) => {
                return Err(self.err(
                    segs,
                    format!(
                        "{} has a YAML tag (`!name`), which templates do not support: remove it",
                        path_string(segs)
                    ),
                ))
            }
        })
    }

    fn map_to_json(&self, m: &YamlMapping, segs: &[Seg]) -> Result<JsonValue, TemplateError> {
        let mut out = serde_json::Map::with_capacity(m.len());
        for (k, v) in m {
            let name = match k {
                YamlValue::String(s) => s.clone(),
                YamlValue::Number(n) => n.to_string(),
                YamlValue::Bool(b) => b.to_string(),
                other => {
                    return Err(self.err(
                        segs,
                        format!(
                            "{} has a key {} that is not a string: property names must be text",
                            path_string(segs),
                            show_yaml(other)
                        ),
                    ))
                }
            };
            let child = [segs, &[Seg::Key(name.clone())]].concat();
            let value = self.to_json(v, &child)?;
            out.insert(name, value);
        }
        Ok(JsonValue::Object(out))
    }
}

fn serde_yaml_bounds(v: &YamlValue) -> Result<yaml::RawBounds, String> {
    yaml::bounds_from_value(v)
}

/// A YAML number that is a whole, non-negative value.
fn whole(v: &YamlValue) -> Option<u64> {
    match v {
        YamlValue::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64)
                .then_some(f as u64)
        }),
        _ => None,
    }
}

fn show_yaml(v: &YamlValue) -> String {
    match v {
        YamlValue::Null => "nothing (null)".into(),
        YamlValue::Bool(b) => b.to_string(),
        YamlValue::Number(n) => n.to_string(),
        YamlValue::String(s) => format!("{s:?} (a string)"),
        YamlValue::Sequence(_) => "a list".into(),
        YamlValue::Mapping(_) => "a mapping".into(),
        YamlValue::Tagged(_) => "a tagged value".into(),
    }
}

/// `Ok` when `t` looks like `Namespace.Provider/type[/subtype...]`; else why not.
fn check_type_name(t: &str) -> Result<(), &'static str> {
    let Some((ns, rest)) = t.split_once('/') else {
        return Err("has no provider namespace");
    };
    let ns_ok = ns.contains('.')
        && ns
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !ns_ok {
        return Err("has no valid provider namespace (`Namespace.Provider`)");
    }
    let rest_ok = rest.split('/').all(|s| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !rest_ok {
        return Err("has an empty or malformed type segment");
    }
    Ok(())
}

/// `^[A-Z][A-Z0-9_]*$`
fn is_rel_type(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// ATG's id prefix for a resource type (exact, case-sensitive lookup, as ATG does); `resource`
/// for anything else.
pub fn type_prefix(type_name: &str) -> &'static str {
    match type_name {
        "Microsoft.Compute/virtualMachines" => "vm",
        "Microsoft.Compute/disks" => "disk",
        "Microsoft.Compute/availabilitySets" => "avset",
        "Microsoft.Compute/virtualMachineScaleSets" => "vmss",
        "Microsoft.Compute/images" => "image",
        "Microsoft.Compute/snapshots" => "snapshot",
        "Microsoft.Network/virtualNetworks" => "vnet",
        "Microsoft.Network/subnets" | "Microsoft.Network/virtualNetworks/subnets" => "subnet",
        "Microsoft.Network/networkSecurityGroups" => "nsg",
        "Microsoft.Network/publicIPAddresses" => "pip",
        "Microsoft.Network/networkInterfaces" => "nic",
        "Microsoft.Network/loadBalancers" => "lb",
        "Microsoft.Network/applicationGateways" => "appgw",
        "Microsoft.Network/virtualNetworkGateways" => "vnetgw",
        "Microsoft.Network/localNetworkGateways" => "localgw",
        "Microsoft.Network/connections" => "conn",
        "Microsoft.Network/routeTables" => "rt",
        "Microsoft.Network/privateDnsZones" => "pdns",
        "Microsoft.Network/privateEndpoints" => "pe",
        "Microsoft.Storage/storageAccounts" => "storage",
        "Microsoft.Storage/storageAccounts/blobServices" => "blob",
        "Microsoft.Storage/storageAccounts/fileServices" => "file",
        "Microsoft.Storage/storageAccounts/queueServices" => "queue",
        "Microsoft.Storage/storageAccounts/tableServices" => "table",
        "Microsoft.Sql/servers" => "sql",
        "Microsoft.Sql/servers/databases" => "sqldb",
        "Microsoft.DBforMySQL/servers" => "mysql",
        "Microsoft.DBforPostgreSQL/servers" => "postgres",
        "Microsoft.DocumentDB/databaseAccounts" => "cosmos",
        "Microsoft.Cache/redis" => "redis",
        "Microsoft.KeyVault/vaults" => "kv",
        "Microsoft.ManagedIdentity/userAssignedIdentities" => "identity",
        "Microsoft.Security/securityContacts" => "seccontact",
        "Microsoft.Web/sites" => "app",
        "Microsoft.Web/serverfarms" => "appplan",
        "Microsoft.Web/hostingEnvironments" => "ase",
        "Microsoft.ContainerRegistry/registries" => "acr",
        "Microsoft.ContainerService/managedClusters" => "aks",
        "Microsoft.ContainerInstance/containerGroups" => "aci",
        "Microsoft.Insights/components" => "appinsights",
        "Microsoft.Insights/workspaces" => "workspace",
        "Microsoft.OperationalInsights/workspaces" => "loganalytics",
        "Microsoft.Automation/automationAccounts" => "automation",
        "Microsoft.DataFactory/factories" => "adf",
        "Microsoft.Databricks/workspaces" => "databricks",
        "Microsoft.Synapse/workspaces" => "synapse",
        "Microsoft.Devices/IotHubs" => "iothub",
        "Microsoft.EventHub/namespaces" => "eventhub",
        "Microsoft.ServiceBus/namespaces" => "servicebus",
        "Microsoft.Resources/resourceGroups" => "rg",
        "Microsoft.Resources/subscriptions" => "sub",
        "Microsoft.Resources/deployments" => "deployment",
        _ => "resource",
    }
}
