//! The YAML side of the template module: the raw serde model (exactly the keys a template may
//! hold, `deny_unknown_fields` everywhere), the guards that keep a hostile document from hanging
//! the parser or eating memory, and [`locate`], which finds the line and column of a template
//! path for errors found after parsing. serde_yaml is used here and nowhere else in the crate.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Largest template accepted, in bytes. Real templates are a few hundred kilobytes at most; the
/// cap bounds the parser's work before anything else runs.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 8 * 1024 * 1024;

/// Most YAML nodes a document may expand to once aliases are followed. serde_yaml 0.9 caps alias
/// *jumps* (100 per event) and nesting (128 levels), but one alias to a large anchored subtree
/// can still expand to far more values than the file holds; this budget bounds that.
pub(crate) const MAX_EXPANDED_NODES: u64 = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemplate {
    #[serde(default)]
    pub metadata: Option<RawMetadata>,
    #[serde(default)]
    pub resources: Option<Vec<RawResource>>,
    #[serde(default)]
    pub config: Option<RawConfig>,
    #[serde(default)]
    pub relationships: Option<Vec<RawRelationship>>,
    #[serde(default)]
    pub replicate: Option<RawReplicate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetadata {
    #[serde(default)]
    pub name: Option<Scalar>,
    #[serde(default)]
    pub description: Option<Scalar>,
    #[serde(default)]
    pub version: Option<Scalar>,
    #[serde(default)]
    pub scale_target: Option<serde_yaml::Value>,
    #[serde(default)]
    pub baseline_count: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResource {
    #[serde(rename = "type")]
    pub type_name: String,
    pub count: serde_yaml::Value,
    pub template: RawResourceTemplate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResourceTemplate {
    pub name_pattern: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub properties: Option<serde_yaml::Value>,
    #[serde(default)]
    pub sku: Option<serde_yaml::Value>,
    #[serde(default)]
    pub kind: Option<Scalar>,
    #[serde(default)]
    pub plan: Option<serde_yaml::Value>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub random_locations: Option<Vec<String>>,
    #[serde(default)]
    pub resource_group_pattern: Option<String>,
    #[serde(default)]
    pub tag_prefix: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub subscriptions: Option<Vec<String>>,
    #[serde(default)]
    pub resources_per_group: Option<u64>,
    #[serde(default)]
    pub topology: Option<String>,
    // ATG's batching knobs: accepted so ATG templates load, then ignored.
    #[serde(default)]
    pub batch_size: Option<IgnoredAny>,
    #[serde(default)]
    pub max_parallel: Option<IgnoredAny>,
    #[serde(default)]
    pub rate_limit_delay_ms: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRelationship {
    pub source_type: String,
    pub target_type: String,
    pub relationship_type: String,
    #[serde(default, alias = "connection_ratio")]
    pub ratio: Option<f64>,
    #[serde(default)]
    pub cardinality: Option<String>,
    #[serde(default)]
    pub max: Option<u64>,
    #[serde(default)]
    pub same: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplicate {
    #[serde(default)]
    pub types: Option<Vec<String>>,
    #[serde(default)]
    pub per_type: Option<serde_yaml::Mapping>,
    #[serde(default)]
    pub naming: Option<RawNaming>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBounds {
    #[serde(default)]
    pub min: Option<u64>,
    #[serde(default)]
    pub max: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNaming {
    pub name_pattern: String,
}

/// A YAML scalar read as text: `version: 1.0` and `kind: StorageV2` both work.
#[derive(Debug, Clone)]
pub(crate) struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A serde_yaml failure, reduced to what our errors need.
#[derive(Debug)]
pub(crate) struct YamlFailure {
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// serde_yaml's template path (`resources[0].template`), `None` at the top level.
    pub at: Option<String>,
    pub message: String,
}

impl YamlFailure {
    fn from_error(e: &serde_yaml::Error) -> Self {
        let loc = e.location();
        let mut text = e.to_string();
        if let Some(l) = &loc {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(pos) = text.find(&suffix) {
                text.replace_range(pos..pos + suffix.len(), "");
            }
        }
        // serde_yaml writes "path: message"; a path has no spaces or backticks.
        let (at, message) = match text.split_once(": ") {
            Some((p, m))
                if !p.is_empty()
                    && !p.contains(' ')
                    && !p.contains('`')
                    && (p.ends_with(']') || p.chars().all(|c| c != '(')) =>
            {
                (Some(p.to_owned()), m.to_owned())
            }
            _ => (None, text),
        };
        YamlFailure {
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            at,
            message,
        }
    }
}

/// What the first pass learned about the document.
pub(crate) enum Shape {
    /// No document, or a document that is only `null`/`~`.
    Empty,
    Present,
}

/// Parse the document once without building anything, counting nodes (aliases included) so an
/// alias bomb stops at [`MAX_EXPANDED_NODES`] instead of exhausting memory.
pub(crate) fn check_shape(src: &str) -> Result<Shape, YamlFailure> {
    let mut budget = MAX_EXPANDED_NODES;
    let de = serde_yaml::Deserializer::from_str(src);
    let mut docs = 0usize;
    let mut empty = true;
    for doc in de {
        docs += 1;
        if docs > 1 {
            return Err(YamlFailure {
                line: None,
                column: None,
                at: None,
                message: "the file holds more than one YAML document (`---`): keep one".into(),
            });
        }
        let kind = Counter {
            budget: &mut budget,
        }
        .deserialize(doc)
        .map_err(|e| YamlFailure::from_error(&e))?;
        empty = kind;
    }
    Ok(if empty { Shape::Empty } else { Shape::Present })
}

/// Marker text of the node-budget error, matched by the caller to reword it.
pub(crate) const BUDGET_HINT: &str = "the document expands to too many YAML nodes";

/// Counts nodes; its value is "this node is null".
struct Counter<'b> {
    budget: &'b mut u64,
}

impl Counter<'_> {
    fn take<E: de::Error>(&mut self) -> Result<(), E> {
        if *self.budget == 0 {
            return Err(E::custom(BUDGET_HINT));
        }
        *self.budget -= 1;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Counter<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Counter<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<bool, E> {
        self.take().map(|_| false)
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<bool, E> {
        self.take().map(|_| false)
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<bool, E> {
        self.take().map(|_| false)
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<bool, E> {
        self.take().map(|_| false)
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<bool, E> {
        self.take().map(|_| false)
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<bool, E> {
        self.take().map(|_| true)
    }
    fn visit_none<E: de::Error>(mut self) -> Result<bool, E> {
        self.take().map(|_| true)
    }
    fn visit_some<D: de::Deserializer<'de>>(mut self, d: D) -> Result<bool, D::Error> {
        self.take()?;
        Counter {
            budget: self.budget,
        }
        .deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        self.take()?;
        while seq
            .next_element_seed(Counter {
                budget: &mut *self.budget,
            })?
            .is_some()
        {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        self.take()?;
        while map
            .next_key_seed(Counter {
                budget: &mut *self.budget,
            })?
            .is_some()
        {
            map.next_value_seed(Counter {
                budget: &mut *self.budget,
            })?;
        }
        Ok(false)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
        Err(de::Error::custom(
            "YAML tags (`!name`) are not supported in templates: remove the tag",
        ))
    }
}

/// Deserialize the typed raw model (after [`check_shape`] passed).
pub(crate) fn parse_raw(src: &str) -> Result<RawTemplate, YamlFailure> {
    serde_yaml::from_str(src).map_err(|e| YamlFailure::from_error(&e))
}

/// A read-only view of a YAML node handed to the semantic pass, so that `serde_yaml::Value` does
/// not leak out of this module's YAML half.
pub(crate) use serde_yaml::Mapping as YamlMapping;
pub(crate) use serde_yaml::Value as YamlValue;

/// One step of a template path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Format a path the way serde_yaml and our messages do: `resources[3].template.name_pattern`.
pub(crate) fn path_string(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// Line and column (1-based) of the node at `segs`, or of its nearest existing ancestor.
pub(crate) fn locate(src: &str, segs: &[Seg]) -> Option<(usize, usize)> {
    for len in (1..=segs.len()).rev() {
        let r = serde_yaml::Deserializer::from_str(src)
            .next()
            .map(|d| Locate { rest: &segs[..len] }.deserialize(d));
        if let Some(Err(e)) = r {
            if e.to_string().contains(FOUND) {
                if let Some(l) = e.location() {
                    return Some((l.line(), l.column()));
                }
            }
        }
    }
    None
}

const FOUND: &str = "__tenantgen_locate_found__";

struct Locate<'p> {
    rest: &'p [Seg],
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(FOUND)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.leaf()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.leaf()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.leaf()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.leaf()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.rest.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        let mut i = 0usize;
        loop {
            if *first == Seg::Index(i) {
                seq.next_element_seed(Locate { rest })?;
                return Ok(());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.rest.split_first() else {
            return Err(de::Error::custom(FOUND));
        };
        while let Some(key) = map.next_key::<Scalar>()? {
            if *first == Seg::Key(key.0) {
                map.next_value_seed(Locate { rest })?;
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

impl Locate<'_> {
    fn leaf<E: de::Error>(&self) -> Result<(), E> {
        if self.rest.is_empty() {
            Err(E::custom(FOUND))
        } else {
            Ok(())
        }
    }
}

/// Read `replicate.per_type.<type>` (`{ min, max }`).
pub(crate) fn bounds_from_value(v: &YamlValue) -> Result<RawBounds, String> {
    serde_yaml::from_value(v.clone()).map_err(|e| e.to_string())
}

/// Deepest flow nesting (`[`/`{`) accepted, matching serde_yaml's own recursion limit.
pub(crate) const MAX_FLOW_DEPTH: usize = 128;
/// Widest block indentation accepted (leading spaces plus compact `- ` indicators).
pub(crate) const MAX_BLOCK_INDENT: usize = 1024;

/// Reject very deep nesting before libyaml sees it: libyaml's scanner slows down with the square
/// of the nesting depth (40,000 levels take seconds), long before serde_yaml's recursion limit
/// can reject the document. The scan is lexical and conservative: brackets inside quoted
/// scalars and comments are skipped; a document within the limits is never rejected.
pub(crate) fn check_nesting(src: &str) -> Result<(), YamlFailure> {
    let too_deep = |line: usize, column: usize| YamlFailure {
        line: Some(line),
        column: Some(column),
        at: None,
        message: "recursion limit exceeded".into(),
    };
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    for (ln, line) in src.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        if quote.is_none() && flow == 0 {
            let mut indent = 0;
            loop {
                while b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
                    i += 1;
                    indent += 1;
                }
                if matches!(b.get(i), Some(b'-' | b'?'))
                    && matches!(b.get(i + 1), None | Some(b' ' | b'\t'))
                {
                    i += 1;
                    indent += 2;
                    continue;
                }
                break;
            }
            if indent > MAX_BLOCK_INDENT {
                return Err(too_deep(ln + 1, i + 1));
            }
        }
        let mut prev = b' ';
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(b'"') => {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        quote = None;
                    }
                }
                Some(_) => {
                    if c == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            quote = None;
                        }
                    }
                }
                None => match c {
                    b'#' if prev == b' ' || prev == b'\t' => break,
                    b'"' | b'\'' if matches!(prev, b' ' | b'\t' | b'[' | b'{' | b',' | b':') => {
                        quote = Some(c)
                    }
                    b'[' | b'{' => {
                        flow += 1;
                        if flow > MAX_FLOW_DEPTH {
                            return Err(too_deep(ln + 1, i + 1));
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
            i += 1;
        }
    }
    Ok(())
}

/// The whole document as a YAML value, for telling the template formats apart by their keys
/// (after [`check_shape`] passed).
pub(crate) fn parse_value(src: &str) -> Result<YamlValue, YamlFailure> {
    serde_yaml::from_str(src).map_err(|e| YamlFailure::from_error(&e))
}

/// Deserialize one of the ATG formats' raw models (after [`check_shape`] passed).
pub(crate) fn parse_as<T: serde::de::DeserializeOwned>(src: &str) -> Result<T, YamlFailure> {
    serde_yaml::from_str(src).map_err(|e| YamlFailure::from_error(&e))
}
