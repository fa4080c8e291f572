//! `cypher`: the graph's domain rules written as Cypher, in one place for every module that
//! emits Cypher (`load`, `stats`, `clean`, `verify`, `export`, `write`'s `load.cypher`). It owns
//! identifier quoting, derived keys, the schema an in-place load creates, the predicates that say what a node *is*, the label
//! relationship ends are matched on, and the conversion of CSV fields into Cypher parameters.
//! It does not run queries (that is [`crate::neo4j`]) nor decide what a stage asks.
//!
//! Domain words, each defined once here:
//! - *original*: a node labelled `:Original` (the scanned resource of ATG's dual graph);
//! - *abstracted*: a `:Resource` that is not *original*;
//! - *synthetic*: a node whose `synthetic` property is `true` (absent, `null` or `false` is
//!   *real*);
//! - *kind*: a node's `type` property when that is a string, else its lexicographically
//!   smallest label — the same rule as [`crate::manifest`], so the expected counts a manifest
//!   holds and the counts verify finds speak of the same thing. `stats` groups by the `type`
//!   property as text instead ([`type_text`]): a node without a string `type` shows there as
//!   `(none)` (or its `toString`), not as its smallest label;
//! - *end label*: the label relationship ends of an ID space are matched on ([`end_label`]);
//! - *operation node*: a synthetic, non-original node carrying an operation's
//!   `scale_operation_id` — copies and template rows, and the resource groups, regions and tag
//!   a template operation makes ([`operation_node`]);
//! - *template reference*: the `template_source_id` of a template row,
//!   `template:<file>#resources[<entry>]` ([`template_source`]): it names the template entry the
//!   row was made from, never a node, so nothing looks it up as an `id`;
//! - *derived key*: the export key of a node whose `id` cannot be its key — absent, duplicated
//!   in its ID space, or not a string — `derived:<16 hex>` or `derived:<16 hex>:<id as text>`
//!   ([`derived_key`]): the hex is xxh3 over the node's sorted labels and its other properties'
//!   keys and values as text, so it is the same on the live graph and on a graph imported from
//!   the export, and whoever holds the node can compute it again ([`key_material`],
//!   [`DerivedKeys`]). Nodes alike in labels, properties and id get `~2`, `~3`, … after the hex
//!   in the export; any of them resolves them;
//! - *load marker*: a `:TenantgenLoad` node ([`LOAD_MARKER`]) that exists exactly while a `load`
//!   of its operation is incomplete (written before the first batch, deleted once the last one
//!   is in). It is bookkeeping, not a resource: it has no `scale_operation_id` (its operation is
//!   in [`MARKER_OPERATION_ID`]) and every whole-graph node count leaves it out
//!   ([`count_nodes`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use neo4rs::{BoltList, BoltMap, BoltString, BoltType};
use xxhash_rust::xxh3::Xxh3;

use crate::format::csv as csvfmt;
use crate::format::header::ValueType;
use crate::manifest::NodeGroup;

/// The label of every resource (abstracted and original).
pub const RESOURCE: &str = "Resource";
/// The label of an original (scanned) resource.
pub const ORIGINAL: &str = "Original";

/// The prefix of the name of every constraint and index tenantgen creates: the record, kept by
/// the database itself, of which schema objects are tenantgen's (`clean --drop-schema` drops
/// those and never another; one the user made, whatever it covers, has another name).
pub const SCHEMA_PREFIX: &str = "tenantgen_";

/// A constraint or index an in-place load needs: a uniqueness constraint or a range index on
/// one label and property.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaObject {
    pub name: String,
    /// `constraint` (unique) or `index` (range).
    pub kind: &'static str,
    pub label: String,
    pub property: String,
}

/// [`SchemaObject::kind`] of a uniqueness constraint.
pub const CONSTRAINT: &str = "constraint";
/// [`SchemaObject::kind`] of a range index.
pub const INDEX: &str = "index";

impl SchemaObject {
    /// tenantgen's object of `kind` on `label`(`property`), named [`SCHEMA_PREFIX`]`label_property`
    /// (`_unique` for a constraint), lower case, anything but letters and digits as `_`.
    pub fn ours(kind: &'static str, label: &str, property: &str) -> SchemaObject {
        let word = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        let mut name = format!("{SCHEMA_PREFIX}{}_{}", word(label), word(property));
        if kind == CONSTRAINT {
            name.push_str("_unique");
        }
        SchemaObject {
            name,
            kind,
            label: label.into(),
            property: property.into(),
        }
    }

    /// The `CREATE … IF NOT EXISTS` statement of this object.
    pub fn create(&self) -> String {
        let (name, label, key) = (quote(&self.name), quote(&self.label), quote(&self.property));
        if self.kind == CONSTRAINT {
            format!(
                "CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
            )
        } else {
            format!("CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{key})")
        }
    }

    /// The `DROP … IF EXISTS` statement of this object.
    pub fn drop(&self) -> String {
        let what = if self.kind == CONSTRAINT {
            "CONSTRAINT"
        } else {
            "INDEX"
        };
        format!("DROP {what} {} IF EXISTS", quote(&self.name))
    }

    /// Whether this object is tenantgen's ([`SCHEMA_PREFIX`]).
    pub fn is_ours(&self) -> bool {
        self.name.starts_with(SCHEMA_PREFIX)
    }
}

impl std::fmt::Display for SchemaObject {
    /// `constraint tenantgen_resource_id_unique on :Resource(id)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} on :{}({})",
            self.kind, self.name, self.label, self.property
        )
    }
}

/// The schema an in-place load needs, first: resource ids unique (so a `MERGE`/`MATCH` by id
/// is an index seek), [`id_index`] where duplicates prevent it.
pub fn id_constraint() -> SchemaObject {
    SchemaObject::ours(CONSTRAINT, RESOURCE, "id")
}

/// The fallback of [`id_constraint`] for a graph that already holds duplicate ids.
pub fn id_index() -> SchemaObject {
    SchemaObject::ours(INDEX, RESOURCE, "id")
}

/// Waits for the indexes just created, so the batches after it seek instead of scan.
pub const AWAIT_INDEXES: &str = "CALL db.awaitIndexes(300)";

/// The indexes after [`id_constraint`]: the operation keys `clean` and resuming match on, and
/// `id` on every other label relationship ends are matched by ([`end_label`]).
pub fn load_indexes<'a>(end_labels: impl IntoIterator<Item = &'a str>) -> Vec<SchemaObject> {
    let mut v: Vec<SchemaObject> = ["scale_operation_id", "synthetic", "template_source_id"]
        .iter()
        .map(|key| SchemaObject::ours(INDEX, RESOURCE, key))
        .collect();
    for label in end_labels.into_iter().filter(|l| *l != RESOURCE) {
        v.push(SchemaObject::ours(INDEX, label, "id"));
    }
    v
}

/// The label of a load marker (see the module header).
pub const LOAD_MARKER: &str = "TenantgenLoad";
/// A load marker's operation id (not `scale_operation_id`, so that no query over an
/// operation's nodes finds the marker).
pub const MARKER_OPERATION_ID: &str = "operation_id";
/// When the first run of the load began (a datetime).
pub const MARKER_STARTED_AT: &str = "started_at";
/// The generated directory the load reads, as an absolute path.
pub const MARKER_DIR: &str = "dir";
/// The database the load writes to, absent for the server's default.
pub const MARKER_DATABASE: &str = "database";
/// The load's batch size (a re-run with the same one skips the batches already recorded).
pub const MARKER_BATCH_SIZE: &str = "batch_size";
/// The node rows the load sends.
pub const MARKER_NODES_EXPECTED: &str = "nodes_expected";
/// The relationship rows the load sends.
pub const MARKER_RELATIONSHIPS_EXPECTED: &str = "relationships_expected";

/// The query that counts the graph's nodes without the load markers (both counts come from
/// the counts store, so it stays as cheap as `count(n)`), as column `c`.
pub fn count_nodes() -> String {
    format!(
        "CALL {{ MATCH (n) RETURN count(n) AS nodes }} \
         CALL {{ MATCH (m:{LOAD_MARKER}) RETURN count(m) AS markers }} \
         RETURN nodes - markers AS c"
    )
}

/// A label, relationship type or property key in backticks, inner backticks doubled: the
/// quoted name matches exactly `name`, whatever it holds (labels and types are validated
/// tokens, but property keys and exported names may hold anything).
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The node bound to `var` is abstracted.
pub fn abstracted(var: &str) -> String {
    format!("{var}:{RESOURCE} AND NOT {var}:{ORIGINAL}")
}

/// The node (or relationship) bound to `var` is synthetic.
pub fn synthetic(var: &str) -> String {
    format!("{var}.synthetic = true")
}

/// The node (or relationship) bound to `var` is real (not synthetic); `null` counts as real.
pub fn real(var: &str) -> String {
    format!("coalesce({var}.synthetic, false) <> true")
}

/// The node bound to `var` is a real abstracted resource (what a copy's base must be).
pub fn real_abstracted(var: &str) -> String {
    format!("{} AND {}", abstracted(var), real(var))
}

/// The node bound to `var` belongs to the operation whose id is the parameter `$param`.
pub fn operation_node(var: &str, param: &str) -> String {
    format!(
        "{var}.scale_operation_id = ${param} AND {} AND NOT {var}:{ORIGINAL}",
        synthetic(var)
    )
}

/// What every template reference starts with.
const TEMPLATE_SOURCE_PREFIX: &str = "template:";

/// The template reference of the rows of entry `entry` of the template file `file`.
pub fn template_source(file: &str, entry: usize) -> String {
    format!("{TEMPLATE_SOURCE_PREFIX}{file}#resources[{entry}]")
}

/// Whether a `template_source_id` value is a template reference (else it is a base's `id`).
pub fn is_template_source(value: &str) -> bool {
    value.starts_with(TEMPLATE_SOURCE_PREFIX)
}

/// The Cypher string expression `expr` is a template reference.
pub fn template_source_expr(expr: &str) -> String {
    format!("{expr} STARTS WITH '{TEMPLATE_SOURCE_PREFIX}'")
}

/// The kind of the node bound to `var` (see the module header).
pub fn kind(var: &str) -> String {
    format!(
        "CASE WHEN {var}.type IS :: STRING NOT NULL THEN {var}.type \
         ELSE reduce(m = head(labels({var})), l IN labels({var}) | CASE WHEN l < m THEN l ELSE m END) END"
    )
}

/// The `type` property of the node bound to `var` as text, `(none)` when absent: the `type`
/// column of `stats` (not a kind: see the module header).
pub fn type_text(var: &str) -> String {
    format!("coalesce(toString({var}.type), '(none)')")
}

/// The label the relationship ends in ID space `space` are matched on by their `id`: a label
/// every node group of the space carries — `Resource` when they all do, else the space's name,
/// else the smallest shared one. `None` when the space has no group or its groups share no
/// label. (Whether those groups store `id` is the caller's check: it needs their headers.)
pub fn end_label(node_groups: &[NodeGroup], space: &str) -> Option<String> {
    let mut common: Option<Vec<&String>> = None;
    for g in node_groups.iter().filter(|g| g.id_space == space) {
        common = Some(match common {
            None => {
                let mut labels: Vec<&String> = g.labels.iter().collect();
                labels.sort();
                labels.dedup();
                labels
            }
            Some(c) => c.into_iter().filter(|l| g.labels.contains(l)).collect(),
        });
    }
    let common = common.unwrap_or_default();
    [RESOURCE, space]
        .iter()
        .find(|l| common.iter().any(|c| c == *l))
        .map(|l| l.to_string())
        .or_else(|| common.first().map(|l| l.to_string()))
}

/// The Cypher function that turns a parameter of type `ty` into the value: the text of a
/// temporal value or duration, the map of a point ([`convert_field`]); `None` for the types a
/// parameter carries as themselves.
pub fn temporal_fn(ty: ValueType) -> Option<&'static str> {
    match ty {
        ValueType::DateTime => Some("datetime"),
        ValueType::Date => Some("date"),
        ValueType::LocalDateTime => Some("localdatetime"),
        ValueType::Time => Some("time"),
        ValueType::LocalTime => Some("localtime"),
        ValueType::Duration => Some("duration"),
        ValueType::Point => Some("point"),
        _ => None,
    }
}

/// The Cypher expression that writes the value `expr` of column type `ty` as the CSV text
/// neo4j-admin reads back (`None`: the value as it comes): temporal values and durations as
/// their `toString`, points as the map literal of [`ValueType::Point`].
pub fn to_csv_text(ty: ValueType, expr: &str) -> Option<String> {
    match ty {
        ValueType::Point => Some(format!(
            "'{{crs:' + {expr}.crs + ',x:' + toString({expr}.x) + ',y:' + toString({expr}.y) + \
             CASE WHEN {expr}.crs ENDS WITH '-3d' THEN ',z:' + toString({expr}.z) ELSE '' END + '}}'"
        )),
        t if temporal_fn(t).is_some() => Some(format!("toString({expr})")),
        _ => None,
    }
}

/// The point map (`{crs, x, y[, z]}`, or `latitude`/`longitude`/`height`) of the text of a
/// point column, for Cypher's `point()`.
fn point_map(s: &str) -> Result<BoltType, String> {
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| format!("{s:?} is not a point map ({{crs:cartesian,x:1.0,y:2.0}})"))?;
    let mut m = BoltMap::new();
    for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: {part:?} is not key:value"))?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().trim_matches(|c| c == '\'' || c == '"');
        let value = if k == "crs" {
            BoltType::from(v.to_ascii_lowercase())
        } else {
            BoltType::from(
                v.parse::<f64>()
                    .map_err(|e| format!("{s:?}: {k} {v:?} is not a number: {e}"))?,
            )
        };
        m.put(BoltString::from(k.as_str()), value);
    }
    Ok(BoltType::Map(m))
}

/// The Cypher expression that converts the string expression `text` into a value of type `ty`
/// (what `LOAD CSV`, which reads every field as a string, needs).
pub fn from_text(ty: ValueType, text: &str) -> String {
    let f = match ty {
        ValueType::String => return text.to_string(),
        ValueType::Long => "toInteger",
        ValueType::Double => "toFloat",
        ValueType::Boolean => "toBoolean",
        ValueType::Point => return point_from_text(text),
        t => temporal_fn(t).unwrap_or_default(),
    };
    format!("{f}({text})")
}

/// [`from_text`] of a point column: the map literal taken apart in Cypher (`LOAD CSV` has no
/// map parser), 3D when the reference system's name ends in `-3d`.
fn point_from_text(text: &str) -> String {
    let kv = format!("[p IN split(substring({text}, 1, size({text}) - 2), ',') | split(p, ':')]");
    let get = |k: &str| format!("head([kv IN {kv} WHERE trim(kv[0]) = '{k}' | trim(kv[1])])");
    let (crs, x, y, z) = (get("crs"), get("x"), get("y"), get("z"));
    format!(
        "CASE WHEN {text} IS NULL THEN null \
         WHEN {crs} ENDS WITH '-3d' THEN point({{crs: {crs}, x: toFloat({x}), y: toFloat({y}), z: toFloat({z})}}) \
         ELSE point({{crs: {crs}, x: toFloat({x}), y: toFloat({y})}}) END"
    )
}

/// The text of an unescaped field that must be UTF-8.
pub fn text(raw: &[u8]) -> Result<String, String> {
    String::from_utf8(raw.to_vec()).map_err(|_| "not valid UTF-8".to_string())
}

/// The parameter value of one unescaped scalar field; temporal values and durations stay
/// strings, points become maps (the query converts both with [`temporal_fn`]).
fn scalar(ty: ValueType, raw: &[u8]) -> Result<BoltType, String> {
    let s = text(raw)?;
    Ok(match ty {
        ValueType::String
        | ValueType::DateTime
        | ValueType::Date
        | ValueType::LocalDateTime
        | ValueType::Time
        | ValueType::LocalTime
        | ValueType::Duration => BoltType::from(s),
        ValueType::Point => point_map(&s)?,
        ValueType::Long => BoltType::from(
            s.trim()
                .parse::<i64>()
                .map_err(|e| format!("{s:?} is not a long: {e}"))?,
        ),
        ValueType::Double => BoltType::from(
            s.trim()
                .parse::<f64>()
                .map_err(|e| format!("{s:?} is not a double: {e}"))?,
        ),
        ValueType::Boolean => BoltType::from(s.trim().eq_ignore_ascii_case("true")),
    })
}

/// Converts one raw CSV field by its column type into a parameter value, as neo4j-admin reads
/// it: an empty unquoted field is absent (`None`), `""` is the empty string (absent for an
/// array), `;` splits arrays.
pub fn convert_field(ty: ValueType, array: bool, raw: &[u8]) -> Result<Option<BoltType>, String> {
    let Some(value) = csvfmt::unescape(raw) else {
        return Ok(None);
    };
    if !array {
        return scalar(ty, &value).map(Some);
    }
    if value.is_empty() {
        return Ok(None);
    }
    let items = value
        .split(|b| *b == csvfmt::ARRAY_DELIMITER)
        .map(|item| scalar(ty, item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(BoltType::List(BoltList::from(items))))
}

// ---------------------------------------------------------------------------------------------
// Derived keys (see the module header)

/// What every derived key starts with.
pub const DERIVED_KEY_PREFIX: &str = "derived:";

/// Whether an export key (or a `template_source_id`) is a derived key.
pub fn is_derived_key(key: &str) -> bool {
    key.starts_with(DERIVED_KEY_PREFIX)
}

/// Properties of the node bound to `n` as a list of `{k, t, v}` maps: key, `valueType` and the
/// values as text (one for a scalar, the elements for a list).
pub fn property_list(n: &str) -> String {
    format!(
        "[k IN keys({n}) | {{k: k, t: valueType({n}[k]), \
          v: CASE WHEN valueType({n}[k]) STARTS WITH 'LIST' THEN [x IN {n}[k] | coalesce(toStringOrNull(x), valueType(x))] \
             ELSE [coalesce(toStringOrNull({n}[k]), valueType({n}[k]))] END}}]"
    )
}

/// The Cypher map a derived key is computed from ([`KeyMaterial`]).
pub fn key_material(n: &str) -> String {
    format!(
        "{{l: labels({n}), p: {}, id: toStringOrNull({n}.id)}}",
        property_list(n)
    )
}

/// One property of [`KeyMaterial`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PropText {
    pub k: String,
    pub v: Vec<String>,
}

/// What [`key_material`] returns for one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct KeyMaterial {
    pub l: Vec<String>,
    pub p: Vec<PropText>,
    pub id: Option<String>,
}

/// The derived key of a node (without the `~N` of nodes alike).
pub fn derived_key(m: &KeyMaterial) -> String {
    let mut labels: Vec<&str> = m.l.iter().map(String::as_str).collect();
    labels.sort_unstable();
    let mut props: Vec<&PropText> = m.p.iter().filter(|p| p.k != "id").collect();
    props.sort_by(|a, b| a.k.cmp(&b.k));
    let mut h = Xxh3::new();
    for l in labels {
        h.update(l.as_bytes());
        h.update(&[0x1f]);
    }
    h.update(&[0x1e]);
    for p in props {
        h.update(p.k.as_bytes());
        for v in &p.v {
            h.update(&[0x1f]);
            h.update(v.as_bytes());
        }
        h.update(&[0x1e]);
    }
    let mut hex = Vec::with_capacity(16);
    csvfmt::push_hex16(&mut hex, h.digest());
    let mut key = format!("{DERIVED_KEY_PREFIX}{}", String::from_utf8_lossy(&hex));
    if let Some(id) = &m.id {
        key.push(':');
        key.push_str(id);
    }
    key
}

/// `key` with `~n` after its hex: the key of the `n`-th node alike (`n` ≥ 2).
pub fn alike_key(key: &str, n: u64) -> String {
    let cut = (DERIVED_KEY_PREFIX.len() + 16).min(key.len());
    format!("{}~{n}{}", &key[..cut], &key[cut..])
}

/// A derived key split into (the key without `~n`, `n` (1 without), the id text if any).
fn split_derived(key: &str) -> Option<(String, u64, Option<&str>)> {
    let rest = key.strip_prefix(DERIVED_KEY_PREFIX)?;
    let hex = rest.get(..16)?;
    let mut tail = &rest[16..];
    let mut n = 1;
    if let Some(t) = tail.strip_prefix('~') {
        let end = t.find(':').unwrap_or(t.len());
        n = t[..end].parse().ok()?;
        tail = &t[end..];
    }
    let id = match tail {
        "" => None,
        t => Some(t.strip_prefix(':')?),
    };
    let mut base = format!("{DERIVED_KEY_PREFIX}{hex}");
    if let Some(id) = id {
        base.push(':');
        base.push_str(id);
    }
    Some((base, n, id))
}

/// Finds the nodes a set of derived keys names: [`DerivedKeys::query`] asks the graph for the
/// candidates (the nodes with one of the keys' ids, and those without an id when a key has
/// none), [`DerivedKeys::resolve`] computes their keys and returns each key's node.
#[derive(Debug, Clone, Default)]
pub struct DerivedKeys {
    keys: BTreeSet<String>,
}

impl DerivedKeys {
    /// The derived keys among `keys`.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> DerivedKeys {
        DerivedKeys {
            keys: keys
                .into_iter()
                .filter(|k| is_derived_key(k))
                .map(str::to_string)
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The query (parameters `$ids`, `$bare`) that returns the candidates labelled `label` and
    /// matching `pred` on `n` as `e` (elementId) and `m` ([`key_material`]).
    pub fn query(label: &str, pred: &str) -> String {
        let m = key_material("n");
        format!(
            "UNWIND $ids AS id MATCH (n:{l}) WHERE n.id IN [id, toIntegerOrNull(id), toFloatOrNull(id), toBooleanOrNull(id)] AND {pred} \
             RETURN elementId(n) AS e, {m} AS m \
             UNION \
             MATCH (n:{l}) WHERE $bare AND n.id IS NULL AND {pred} \
             RETURN elementId(n) AS e, {m} AS m",
            l = quote(label)
        )
    }

    /// The `$ids` and `$bare` parameters of [`DerivedKeys::query`].
    pub fn params(&self) -> (Vec<String>, bool) {
        let mut ids = BTreeSet::new();
        let mut bare = false;
        for k in &self.keys {
            match split_derived(k) {
                Some((_, _, Some(id))) => {
                    ids.insert(id.to_string());
                }
                _ => bare = true,
            }
        }
        (ids.into_iter().collect(), bare)
    }

    /// Each key's node (its elementId) among the `candidates`; keys no candidate has are left out.
    pub fn resolve(
        &self,
        candidates: impl IntoIterator<Item = (String, KeyMaterial)>,
    ) -> HashMap<String, String> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (e, m) in candidates {
            by_key.entry(derived_key(&m)).or_default().push(e);
        }
        for nodes in by_key.values_mut() {
            nodes.sort();
            nodes.dedup();
        }
        let mut out = HashMap::new();
        for k in &self.keys {
            let Some((base, n, _)) = split_derived(k) else {
                continue;
            };
            if let Some(nodes) = by_key.get(&base) {
                let i = (n as usize).saturating_sub(1).min(nodes.len() - 1);
                out.insert(k.clone(), nodes[i].clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;

    #[test]
    fn quoting_keeps_every_odd_name_one_identifier() {
        // Plain tokens, and the injection attempts of the golden corpus
        // (tests/golden/errors/*-injection, template-relationship-bad-name).
        let cases = [
            ("Resource", "`Resource`"),
            ("LOCATED_IN", "`LOCATED_IN`"),
            ("we`ird", "`we``ird`"),
            ("a`b", "`a``b`"),
            ("Resource`:Evil", "`Resource``:Evil`"),
            (
                "CONTAINS`]->() DETACH DELETE n //",
                "`CONTAINS``]->() DETACH DELETE n //`",
            ),
            ("USES`]->() DELETE x //", "`USES``]->() DELETE x //`"),
            (
                "Microsoft.X/y`) DETACH DELETE n //",
                "`Microsoft.X/y``) DETACH DELETE n //`",
            ),
            ("``", "``````"),
            ("", "``"),
            ("with space", "`with space`"),
        ];
        for (name, quoted) in cases {
            let q = quote(name);
            assert_eq!(q, quoted, "{name}");
            // One identifier: no lone backtick inside.
            let inner = &q[1..q.len() - 1];
            assert_eq!(inner.replace("``", "").matches('`').count(), 0, "{q}");
        }
    }

    #[test]
    fn domain_predicates() {
        assert_eq!(abstracted("n"), "n:Resource AND NOT n:Original");
        assert_eq!(synthetic("r"), "r.synthetic = true");
        assert_eq!(real("b"), "coalesce(b.synthetic, false) <> true");
        assert!(kind("a").starts_with("CASE WHEN a.type IS :: STRING NOT NULL THEN a.type"));
        assert!(kind("a").contains("head(labels(a))"));
        assert_eq!(type_text("n"), "coalesce(toString(n.type), '(none)')");
        assert!(count_nodes().contains("MATCH (m:TenantgenLoad) RETURN count(m)"));
    }

    fn group(space: &str, labels: &[&str]) -> NodeGroup {
        NodeGroup {
            name: labels.join("_").to_lowercase(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            id_space: space.into(),
            header: String::new(),
            files: Vec::new(),
            origin: Origin::default(),
        }
    }

    #[test]
    fn end_label_is_shared_by_every_group_of_the_space() {
        let groups = [
            group("Resource", &["Original", "Resource"]),
            group("Resource", &["Resource", "Synthetic"]),
            group("Region", &["Region", "Place"]),
            group("Tag", &["Tag", "Label"]),
            group("Tag", &["Label", "Tag"]),
            group("Odd", &["B", "A"]),
            group("Odd", &["C", "A", "B"]),
            group("Apart", &["A"]),
            group("Apart", &["B"]),
        ];
        assert_eq!(end_label(&groups, "Resource").as_deref(), Some("Resource"));
        assert_eq!(end_label(&groups, "Region").as_deref(), Some("Region"));
        assert_eq!(end_label(&groups, "Tag").as_deref(), Some("Tag"));
        assert_eq!(end_label(&groups, "Odd").as_deref(), Some("A"));
        assert_eq!(end_label(&groups, "Apart"), None);
        assert_eq!(end_label(&groups, "Missing"), None);
    }

    #[test]
    fn conversions_by_type() {
        assert_eq!(temporal_fn(ValueType::DateTime), Some("datetime"));
        assert_eq!(temporal_fn(ValueType::Date), Some("date"));
        assert_eq!(temporal_fn(ValueType::LocalDateTime), Some("localdatetime"));
        assert_eq!(temporal_fn(ValueType::Long), None);
        assert_eq!(from_text(ValueType::String, "row[1]"), "row[1]");
        assert_eq!(from_text(ValueType::Long, "x"), "toInteger(x)");
        assert_eq!(from_text(ValueType::Double, "x"), "toFloat(x)");
        assert_eq!(from_text(ValueType::Boolean, "x"), "toBoolean(x)");
        assert_eq!(from_text(ValueType::DateTime, "x"), "datetime(x)");
        assert_eq!(from_text(ValueType::LocalDateTime, "x"), "localdatetime(x)");
    }

    fn material(labels: &[&str], props: &[(&str, &[&str])], id: Option<&str>) -> KeyMaterial {
        KeyMaterial {
            l: labels.iter().map(|l| l.to_string()).collect(),
            p: props
                .iter()
                .map(|(k, v)| PropText {
                    k: k.to_string(),
                    v: v.iter().map(|x| x.to_string()).collect(),
                })
                .collect(),
            id: id.map(str::to_string),
        }
    }

    #[test]
    fn derived_keys_ignore_order_and_the_id_value_type() {
        let a = material(
            &["Thing", "Odd Label"],
            &[("name", &["a"]), ("n", &["1"])],
            None,
        );
        let b = material(
            &["Odd Label", "Thing"],
            &[("n", &["1"]), ("name", &["a"])],
            None,
        );
        let k = derived_key(&a);
        assert_eq!(k, derived_key(&b));
        assert!(
            is_derived_key(&k) && k.len() == DERIVED_KEY_PREFIX.len() + 16,
            "{k}"
        );
        // The id is not hashed: an integer id exported as a string keeps its key.
        let with_id = material(&["Thing"], &[("id", &["42"]), ("name", &["a"])], Some("42"));
        let key = derived_key(&with_id);
        assert!(key.ends_with(":42"), "{key}");
        let other = material(&["Thing"], &[("name", &["b"])], Some("42"));
        assert_ne!(derived_key(&other), key);
        assert_ne!(
            derived_key(&material(&["Thing"], &[("name", &["a", "b"])], None)),
            derived_key(&material(&["Thing"], &[("name", &["ab"])], None))
        );
    }

    #[test]
    fn derived_keys_resolve_to_their_nodes() {
        let a = material(&["Thing"], &[("name", &["a"])], None);
        let b = material(&["Thing"], &[("name", &["b"])], Some("dup"));
        let (ka, kb) = (derived_key(&a), derived_key(&b));
        let twin = alike_key(&kb, 2);
        assert!(twin.contains("~2:dup"), "{twin}");
        let keys = DerivedKeys::new([ka.as_str(), kb.as_str(), twin.as_str(), "plain-id"]);
        assert_eq!(keys.params(), (vec!["dup".to_string()], true));
        let found = keys.resolve([
            ("e1".to_string(), a),
            ("e3".to_string(), b.clone()),
            ("e2".to_string(), b),
        ]);
        assert_eq!(found[&ka], "e1");
        assert_eq!(found[&kb], "e2");
        assert_eq!(found[&twin], "e3");
        assert!(!found.contains_key("plain-id"));
        assert!(DerivedKeys::query("Odd Label", "true").contains("(n:`Odd Label`)"));
    }

    #[test]
    fn points_and_durations_convert() {
        assert_eq!(temporal_fn(ValueType::Duration), Some("duration"));
        assert_eq!(temporal_fn(ValueType::Point), Some("point"));
        let p = convert_field(
            ValueType::Point,
            false,
            b"\"{crs:wgs-84-3d,x:12.5,y:-3.0,z:7.0}\"",
        )
        .unwrap()
        .unwrap();
        let BoltType::Map(m) = p else { panic!("{p:?}") };
        assert_eq!(m.get::<String>("crs").unwrap(), "wgs-84-3d");
        assert_eq!(m.get::<f64>("z").unwrap(), 7.0);
        assert!(convert_field(ValueType::Point, false, b"1,2").is_err());
        assert_eq!(
            convert_field(ValueType::Duration, false, b"P1DT2H").unwrap(),
            Some(BoltType::from("P1DT2H"))
        );
        let text = to_csv_text(ValueType::Point, "n.`p`").unwrap();
        assert!(text.contains("',x:' + toString(n.`p`.x)"), "{text}");
        assert_eq!(
            to_csv_text(ValueType::Duration, "x").as_deref(),
            Some("toString(x)")
        );
        assert_eq!(to_csv_text(ValueType::Long, "x"), None);
    }

    #[test]
    fn converts_fields_by_type() {
        assert!(convert_field(ValueType::String, false, b"")
            .unwrap()
            .is_none());
        assert_eq!(
            convert_field(ValueType::String, false, b"\"\"").unwrap(),
            Some(BoltType::from(""))
        );
        assert_eq!(
            convert_field(ValueType::Long, false, b"-42").unwrap(),
            Some(BoltType::from(-42_i64))
        );
        assert_eq!(
            convert_field(ValueType::Boolean, false, b"true").unwrap(),
            Some(BoltType::from(true))
        );
        assert_eq!(
            convert_field(ValueType::Double, false, b"1.5").unwrap(),
            Some(BoltType::from(1.5))
        );
        assert_eq!(
            convert_field(ValueType::String, true, b"a;b c").unwrap(),
            Some(BoltType::from(vec!["a".to_string(), "b c".to_string()]))
        );
        assert!(convert_field(ValueType::String, true, b"\"\"")
            .unwrap()
            .is_none());
        assert!(convert_field(ValueType::Long, false, b"x").is_err());
    }
}
