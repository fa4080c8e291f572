//! The validated configuration: what a stage may assume about its inputs once `cli` has turned
//! the raw flags into these types. Every rule that involves a flag's value (ranges, defaults
//! that depend on another flag, the shape of an operation id or a database name) is written
//! once, here, with the message that names the flag and says what to pass instead.
//!
//! This module knows no clap type (`cli` maps its `*Args` onto these) and no baseline: rules
//! that need the baseline's counts (a factor too small for the base, a target below the
//! current total) belong to `plan`.
//!
//! Domain words: the *operation* is one generation run, named by its [`OperationId`] and
//! stamped on every node and relationship it makes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, SecondsFormat, Utc};

/// Rows per data part when `--part-rows` is not given.
pub const DEFAULT_PART_ROWS: u64 = 250_000;

/// The longest operation id (it is stored on every synthetic node and relationship).
pub const MAX_OPERATION_ID: usize = 128;

/// A flag value that breaks a rule; the message names the flag and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("--strategy template needs --template FILE (see docs/template.md)")]
    TemplateStrategyNeedsTemplate,
    #[error("{path}: the template has a `replicate:` section, which only the replicate strategy reads, but the template strategy is selected (by --strategy template, or by --template without --strategy): pass --strategy replicate, or remove the section to make rows from `resources`")]
    ReplicateSectionWithTemplateStrategy { path: String },
    #[error("{path}: the template has `resources` entries, which only the template strategy reads, but --strategy replicate is given: leave --strategy out (--template selects the template strategy) or pass --strategy template")]
    ResourcesWithReplicateStrategy { path: String },
    #[error("--scale-factor {0}: pass a finite number above 1 (the final abstracted total over the base; 10 adds 9 copies per base resource)")]
    ReplicateFactor(f64),
    #[error("--scale-factor {0}: pass a finite number above 0 (it multiplies each template count; default 1)")]
    TemplateFactor(f64),
    #[error(
        "--target-total 0: pass the abstracted total to reach, above the baseline's current count"
    )]
    TargetZero,
    #[error(
        "--timestamp {value:?} is not an RFC 3339 time ({reason}); use e.g. 2025-11-15T21:17:00Z"
    )]
    Timestamp { value: String, reason: String },
    #[error("--part-rows 0: pass at least 1 (rows per data part; default {DEFAULT_PART_ROWS})")]
    PartRowsZero,
    #[error("--shard {0:?} must be K/N with 1 ≤ K ≤ N, e.g. --shard 1/4")]
    Shard(String),
    #[error("--shard {index}/{count} needs --timestamp: the operation id and the generation markers derive from the run's time, so shards made at different times do not combine; pass the same --timestamp (e.g. --timestamp 2025-11-15T21:17:00Z) to all {count} shards")]
    ShardTimestamp { index: u32, count: u32 },
    #[error("--atg-compat copies edges as ATG does (cross product) and --edges aligned asks for the opposite: leave out --edges, or drop --atg-compat")]
    AtgCompatAligned,
    #[error("{flag} is a replicate-strategy flag (it is about copies of the baseline's edges) and this run uses the template strategy: drop it{hint}")]
    ReplicateOnly {
        flag: &'static str,
        hint: &'static str,
    },
    #[error("--threads 0: pass at least 1, or leave it out to use every CPU")]
    ThreadsZero,
    #[error("--operation-id: {0:?} must be 1 to {MAX_OPERATION_ID} letters, digits, '-', '_', '.' or ':'")]
    OperationId(String),
    #[error("--database {0:?} is not a Neo4j database name: use 3 to 63 ASCII letters, digits, '.' or '-', starting with a letter")]
    DatabaseName(String),
    #[error("--database {0:?} is Neo4j's own system database; import into another name")]
    SystemDatabase(String),
}

/// How synthetic resources are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Copy the real abstracted resources of the baseline.
    Replicate,
    /// Make resources from a template's per-type counts and values.
    Template,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Replicate => "replicate",
            Strategy::Template => "template",
        }
    }

    /// The strategy of the flags: `--strategy` when given, else the template strategy when
    /// `--template` is given, else replicate.
    pub fn resolve(asked: Option<Strategy>, template: Option<&Path>) -> Strategy {
        match (asked, template) {
            (Some(s), _) => s,
            (None, Some(_)) => Strategy::Template,
            (None, None) => Strategy::Replicate,
        }
    }

    /// Checks that the template's sections are the ones this strategy reads, so that no part
    /// of the file is silently ignored: `replicate:` belongs to the replicate strategy and
    /// `resources` to the template strategy.
    pub fn check_sections(
        self,
        path: &Path,
        has_resources: bool,
        has_replicate: bool,
    ) -> Result<(), ConfigError> {
        let path = path.display().to_string();
        match self {
            Strategy::Template if has_replicate => {
                Err(ConfigError::ReplicateSectionWithTemplateStrategy { path })
            }
            Strategy::Replicate if has_resources => {
                Err(ConfigError::ResourcesWithReplicateStrategy { path })
            }
            _ => Ok(()),
        }
    }

    /// The template file the strategy reads: the template strategy cannot run without one,
    /// the replicate strategy reads one only for its `replicate:` section.
    pub fn template(self, template: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
        match (self, template) {
            (Strategy::Template, None) => Err(ConfigError::TemplateStrategyNeedsTemplate),
            (_, t) => Ok(t.map(Path::to_path_buf)),
        }
    }
}

/// How a base edge is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeMode {
    /// Copy j gets its base's edges, base ends mapped to their copy j.
    Aligned,
    /// ATG's cross product: every copy of s to every copy of t.
    Cross,
}

impl EdgeMode {
    pub fn name(self) -> &'static str {
        match self {
            EdgeMode::Aligned => "aligned",
            EdgeMode::Cross => "cross",
        }
    }

    /// The mode in effect: `asked` (default aligned); ATG-compatible output copies edges as
    /// ATG does, so it takes cross and refuses an explicit aligned.
    pub fn resolve(asked: Option<EdgeMode>, atg_compat: bool) -> Result<EdgeMode, ConfigError> {
        match (asked, atg_compat) {
            (Some(EdgeMode::Aligned), true) => Err(ConfigError::AtgCompatAligned),
            (_, true) => Ok(EdgeMode::Cross),
            (asked, false) => Ok(asked.unwrap_or(EdgeMode::Aligned)),
        }
    }
}

/// How much to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// ATG's meaning: the final abstracted total over the base (f = 10 adds 9 copies per base).
    Factor(f64),
    /// The abstracted layer ends with exactly this many resources.
    TargetTotal(u64),
}

impl Scale {
    /// The scale asked for (`None` when neither `--scale-factor` nor `--target-total` is
    /// given), checked against the strategy; the default is 10 for replicate (ATG's) and 1 for
    /// template (the template's own counts).
    pub fn for_strategy(strategy: Strategy, asked: Option<Scale>) -> Result<Scale, ConfigError> {
        match (strategy, asked) {
            (Strategy::Replicate, Some(Scale::Factor(f))) if !f.is_finite() || f <= 1.0 => {
                Err(ConfigError::ReplicateFactor(f))
            }
            (Strategy::Template, Some(Scale::Factor(f))) if !f.is_finite() || f <= 0.0 => {
                Err(ConfigError::TemplateFactor(f))
            }
            (_, Some(Scale::TargetTotal(0))) => Err(ConfigError::TargetZero),
            (_, Some(scale)) => Ok(scale),
            (Strategy::Replicate, None) => Ok(Scale::Factor(10.0)),
            (Strategy::Template, None) => Ok(Scale::Factor(1.0)),
        }
    }
}

/// `--timestamp`: an RFC 3339 time, kept in UTC.
pub fn parse_timestamp(value: &str) -> Result<DateTime<Utc>, ConfigError> {
    DateTime::parse_from_rfc3339(value)
        .map(|ts| ts.with_timezone(&Utc))
        .map_err(|e| ConfigError::Timestamp {
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// `--part-rows`: at least one row per part.
pub fn part_rows(rows: u64) -> Result<u64, ConfigError> {
    if rows == 0 {
        return Err(ConfigError::PartRowsZero);
    }
    Ok(rows)
}

/// A shard of several pins the run's time: every worker must make the same operation.
pub fn check_shard_time(
    shard: Option<(u32, u32)>,
    timestamp: Option<DateTime<Utc>>,
) -> Result<(), ConfigError> {
    match shard {
        Some((index, count)) if count > 1 && timestamp.is_none() => {
            Err(ConfigError::ShardTimestamp { index, count })
        }
        _ => Ok(()),
    }
}

/// Refuses the flags that only the replicate strategy reads when `strategy` is template.
pub fn check_replicate_only(
    strategy: Strategy,
    no_hierarchy: bool,
    edges_given: bool,
) -> Result<(), ConfigError> {
    if strategy != Strategy::Template {
        return Ok(());
    }
    if no_hierarchy {
        return Err(ConfigError::ReplicateOnly {
            flag: "--no-hierarchy",
            hint: " (a template's links are its relationship rules and the built-in topology: `config.topology: none` in the template turns the built-in rules off)",
        });
    }
    if edges_given {
        return Err(ConfigError::ReplicateOnly {
            flag: "--edges",
            hint: "",
        });
    }
    Ok(())
}

/// `--shard K/N` with 1 ≤ K ≤ N.
pub fn parse_shard(s: &str) -> Result<(u32, u32), ConfigError> {
    let parsed = s
        .split_once('/')
        .and_then(|(k, n)| Some((k.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((k, n)) if k >= 1 && k <= n => Ok((k, n)),
        _ => Err(ConfigError::Shard(s.to_string())),
    }
}

/// `--threads`: at least one; by default every CPU.
pub fn threads(asked: Option<usize>) -> Result<usize, ConfigError> {
    match asked {
        Some(0) => Err(ConfigError::ThreadsZero),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
    }
}

/// The name of an operation (`scale_operation_id`): 1 to [`MAX_OPERATION_ID`] ASCII letters,
/// digits, `-`, `_`, `.` or `:`, so it needs no escaping in CSV, Cypher or a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationId(String);

impl OperationId {
    pub fn parse(id: &str) -> Result<OperationId, ConfigError> {
        let plain = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if id.is_empty() || id.len() > MAX_OPERATION_ID || !plain {
            return Err(ConfigError::OperationId(id.to_string()));
        }
        Ok(OperationId(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Neo4j database name as Neo4j accepts it: 3 to 63 characters, an ASCII letter first, then
/// ASCII letters, digits, `.` or `-`. Neo4j compares names without case, so the name is kept
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseName(String);

impl DatabaseName {
    pub fn parse(name: &str) -> Result<DatabaseName, ConfigError> {
        let mut bytes = name.bytes();
        let well_formed = (3..=63).contains(&name.len())
            && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !well_formed {
            return Err(ConfigError::DatabaseName(name.to_string()));
        }
        Ok(DatabaseName(name.to_ascii_lowercase()))
    }

    /// A database to import into: any valid name but `system`, which Neo4j owns.
    pub fn for_import(name: &str) -> Result<DatabaseName, ConfigError> {
        let db = DatabaseName::parse(name)?;
        if db.0 == "system" {
            return Err(ConfigError::SystemDatabase(name.to_string()));
        }
        Ok(db)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The validated configuration of a generation (built by `cli` from the raw flags).
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub baseline: PathBuf,
    /// Always `Some` for [`Strategy::Template`] (see [`Strategy::template`]).
    pub template: Option<PathBuf>,
    pub strategy: Strategy,
    pub scale: Scale,
    /// Whether `--scale-factor` or `--target-total` gave `scale` (else it is the strategy's
    /// default, and a template's `metadata.scale_target` decides instead).
    pub scale_given: bool,
    pub seed: u64,
    pub edges: EdgeMode,
    pub atg_compat: bool,
    /// Whether replicate copies get hierarchy links (`CONTAINS` from their base's resource
    /// group, `LOCATED_IN` its region, `TAGGED_WITH` its tags); never with `atg_compat`.
    pub links: bool,
    /// The id asked for with `--operation-id`, as given. It is checked by [`OperationId::parse`]
    /// when the operation is resolved ([`OperationInfo::resolve`], while planning), which is
    /// where its error has always been reported.
    pub operation_id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub part_rows: u64,
}

/// The operation's identity and markers.
#[derive(Debug, Clone)]
pub struct OperationInfo {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    pub generation_timestamp: String,
    pub strategy: String,
}

impl OperationInfo {
    /// The operation of `config`: its id (asked for, or derived from the time, the mode and
    /// the seed) and the marker values every synthetic node carries.
    pub fn resolve(config: &GenerateConfig) -> Result<OperationInfo, ConfigError> {
        let ts = config.timestamp.unwrap_or_else(Utc::now);
        let local = ts.with_timezone(&Local);
        let id = match &config.operation_id {
            Some(id) => OperationId::parse(id)?.0,
            None => {
                // The mode is part of the hash so that two runs differing only in mode get
                // different operation ids.
                let key = format!(
                    "{}|{}|{}|{}",
                    ts.to_rfc3339_opts(SecondsFormat::Micros, true),
                    config.strategy.name(),
                    config.edges.name(),
                    config.atg_compat
                );
                let h = xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), config.seed);
                let when = if config.atg_compat {
                    local.format("%Y%m%dT%H%M%S").to_string()
                } else {
                    ts.format("%Y%m%dT%H%M%S").to_string()
                };
                format!("scale-{when}-{:08x}", h as u32)
            }
        };
        let generation_timestamp = if config.atg_compat {
            // ATG writes Python's isoformat() of local time: no zone, microseconds unless zero.
            let micros = local.timestamp_subsec_micros();
            if micros == 0 {
                local.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                local.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            }
        } else {
            ts.to_rfc3339_opts(SecondsFormat::Micros, true)
        };
        Ok(OperationInfo {
            id,
            timestamp: ts,
            generation_timestamp,
            strategy: if config.atg_compat {
                "template".into()
            } else {
                config.strategy.name().into()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GenerateConfig {
        GenerateConfig {
            baseline: PathBuf::from("b"),
            template: None,
            strategy: Strategy::Replicate,
            scale: Scale::Factor(10.0),
            scale_given: true,
            seed: 42,
            edges: EdgeMode::Aligned,
            atg_compat: false,
            links: true,
            operation_id: None,
            timestamp: Some(parse_timestamp("2025-11-15T21:17:00Z").unwrap()),
            part_rows: DEFAULT_PART_ROWS,
        }
    }

    #[test]
    fn template_selects_the_template_strategy_unless_strategy_says_otherwise() {
        let t = Some(Path::new("t.yaml"));
        let (r, tt) = (Strategy::Replicate, Strategy::Template);
        assert_eq!(Strategy::resolve(None, None), r);
        assert_eq!(Strategy::resolve(None, t), tt);
        assert_eq!(Strategy::resolve(Some(r), t), r);
        assert_eq!(Strategy::resolve(Some(tt), None), tt);
    }

    #[test]
    fn a_template_section_of_the_other_strategy_is_refused() {
        let p = Path::new("t.yaml");
        assert_eq!(Strategy::Template.check_sections(p, true, false), Ok(()));
        assert_eq!(Strategy::Replicate.check_sections(p, false, true), Ok(()));
        let e = Strategy::Template
            .check_sections(p, true, true)
            .unwrap_err();
        assert!(e.to_string().contains("pass --strategy replicate"), "{e}");
        let e = Strategy::Replicate
            .check_sections(p, true, false)
            .unwrap_err();
        assert!(e.to_string().contains("leave --strategy out"), "{e}");
    }

    #[test]
    fn template_strategy_needs_a_template() {
        assert_eq!(
            Strategy::Template.template(None),
            Err(ConfigError::TemplateStrategyNeedsTemplate)
        );
        assert_eq!(Strategy::Replicate.template(None), Ok(None));
        assert_eq!(
            Strategy::Template.template(Some(Path::new("t.yaml"))),
            Ok(Some(PathBuf::from("t.yaml")))
        );
    }

    #[test]
    fn replicate_factor_must_exceed_one() {
        let r = Strategy::Replicate;
        for f in [1.0, 0.5, f64::INFINITY, f64::NAN] {
            assert!(matches!(
                Scale::for_strategy(r, Some(Scale::Factor(f))),
                Err(ConfigError::ReplicateFactor(_))
            ));
        }
        assert_eq!(
            Scale::for_strategy(r, Some(Scale::Factor(1.5))),
            Ok(Scale::Factor(1.5))
        );
    }

    #[test]
    fn template_factor_must_exceed_zero() {
        let t = Strategy::Template;
        assert_eq!(
            Scale::for_strategy(t, Some(Scale::Factor(0.0))),
            Err(ConfigError::TemplateFactor(0.0))
        );
        assert_eq!(
            Scale::for_strategy(t, Some(Scale::Factor(0.5))),
            Ok(Scale::Factor(0.5))
        );
    }

    #[test]
    fn target_total_must_be_positive() {
        for s in [Strategy::Replicate, Strategy::Template] {
            assert_eq!(
                Scale::for_strategy(s, Some(Scale::TargetTotal(0))),
                Err(ConfigError::TargetZero)
            );
            assert_eq!(
                Scale::for_strategy(s, Some(Scale::TargetTotal(7))),
                Ok(Scale::TargetTotal(7))
            );
        }
    }

    #[test]
    fn default_scale_depends_on_the_strategy() {
        assert_eq!(
            Scale::for_strategy(Strategy::Replicate, None),
            Ok(Scale::Factor(10.0))
        );
        assert_eq!(
            Scale::for_strategy(Strategy::Template, None),
            Ok(Scale::Factor(1.0))
        );
    }

    #[test]
    fn atg_compat_takes_cross_edges_and_refuses_aligned() {
        use EdgeMode::{Aligned, Cross};
        let table = [
            (None, false, Ok(Aligned)),
            (Some(Cross), false, Ok(Cross)),
            (Some(Aligned), false, Ok(Aligned)),
            (None, true, Ok(Cross)),
            (Some(Cross), true, Ok(Cross)),
            (Some(Aligned), true, Err(ConfigError::AtgCompatAligned)),
        ];
        for (asked, atg, want) in table {
            assert_eq!(EdgeMode::resolve(asked, atg), want, "{asked:?} {atg}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(
            parse_timestamp("2025-11-15T22:17:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2025-11-15T21:17:00+00:00"
        );
        assert!(matches!(
            parse_timestamp("yesterday"),
            Err(ConfigError::Timestamp { .. })
        ));
    }

    #[test]
    fn part_rows_zero_names_the_real_default() {
        assert_eq!(part_rows(1), Ok(1));
        let e = part_rows(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--part-rows 0: pass at least 1 (rows per data part; default 250000)"
        );
    }

    #[test]
    fn shards_are_k_of_n() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert_eq!(parse_shard(" 1 / 1 "), Ok((1, 1)));
        let t = parse_timestamp("2025-11-15T21:17:00Z").ok();
        assert!(check_shard_time(Some((2, 4)), t).is_ok());
        assert!(check_shard_time(Some((1, 1)), None).is_ok());
        assert!(check_shard_time(None, None).is_ok());
        let e = check_shard_time(Some((2, 4)), None).unwrap_err();
        assert!(e.to_string().contains("--timestamp"), "{e}");
        for bad in ["0/4", "5/4", "x", "1/", "/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn threads_are_at_least_one() {
        assert_eq!(threads(Some(0)), Err(ConfigError::ThreadsZero));
        assert_eq!(threads(Some(3)), Ok(3));
        assert!(threads(None).unwrap() >= 1);
    }

    #[test]
    fn operation_ids_are_plain_tokens() {
        assert!(OperationId::parse("scale-20251115T211700-41f18b94").is_ok());
        assert!(OperationId::parse("a:b.c_d-1").is_ok());
        assert!(OperationId::parse(&"x".repeat(MAX_OPERATION_ID)).is_ok());
        for bad in ["", "a b", "x' OR 1=1", "a'b"] {
            assert_eq!(
                OperationId::parse(bad),
                Err(ConfigError::OperationId(bad.into()))
            );
        }
        assert!(OperationId::parse(&"x".repeat(MAX_OPERATION_ID + 1)).is_err());
        assert_eq!(
            OperationId::parse("a'b").unwrap_err().to_string(),
            "--operation-id: \"a'b\" must be 1 to 128 letters, digits, '-', '_', '.' or ':'"
        );
    }

    #[test]
    fn database_names_follow_neo4j() {
        for good in ["neo4j", "abc", "my-db.v2", "Tenant-A"] {
            assert!(DatabaseName::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            DatabaseName::parse("Tenant-A").unwrap().as_str(),
            "tenant-a"
        );
        let long = format!("a{}", "b".repeat(62));
        assert!(DatabaseName::parse(&long).is_ok());
        for bad in [
            "a-b c",
            "ab",
            "1abc",
            "-abc",
            "a_b_c",
            "",
            &format!("{long}c"),
        ] {
            assert_eq!(
                DatabaseName::parse(bad),
                Err(ConfigError::DatabaseName(bad.to_string())),
                "{bad}"
            );
        }
        assert!(DatabaseName::parse("a-b c")
            .unwrap_err()
            .to_string()
            .starts_with("--database \"a-b c\""));
    }

    #[test]
    fn system_is_reserved_for_import() {
        assert!(DatabaseName::parse("system").is_ok());
        assert_eq!(
            DatabaseName::for_import("SYSTEM"),
            Err(ConfigError::SystemDatabase("SYSTEM".into()))
        );
        assert_eq!(DatabaseName::for_import("neo4j").unwrap().as_str(), "neo4j");
    }

    #[test]
    fn operation_id_given_or_derived() {
        let mut c = config();
        let op = OperationInfo::resolve(&c).unwrap();
        assert!(op.id.starts_with("scale-20251115T211700-"), "{}", op.id);
        assert_eq!(op.generation_timestamp, "2025-11-15T21:17:00.000000Z");
        assert_eq!(op.strategy, "replicate");
        c.edges = EdgeMode::Cross;
        assert_ne!(OperationInfo::resolve(&c).unwrap().id, op.id);
        c.operation_id = Some("mine".into());
        assert_eq!(OperationInfo::resolve(&c).unwrap().id, "mine");
        c.operation_id = Some("a'b".into());
        assert!(OperationInfo::resolve(&c).is_err());
    }
}
