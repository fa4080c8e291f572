//! Compiled patterns and the per-row renderer. Every string value of a template is compiled once
//! into pieces: literal text, a plain variable (`{index}`, `{index:05d}`, `{{ random_location }}`)
//! written without minijinja, or a minijinja expression evaluated with only the variables it
//! names. Output goes into caller buffers; the plain-variable path allocates nothing per row.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use minijinja::value::ValueKind;
use minijinja::{Environment, Expression, UndefinedBehavior, Value};
use serde_json::Value as JsonValue;

use super::{type_prefix, Template, TemplateError, DEFAULT_LOCATION_PATTERN};

/// One shared, configuration-free environment: strict undefined handling, default builtins.
/// Compiled expressions borrow it, so it must outlive them: a process-wide static does.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env
    })
}

/// The values one row is rendered with.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowVars<'a> {
    /// 0-based row index within the resource entry.
    pub index: u64,
    /// Copy number (replicate); 0 otherwise.
    pub copy: u64,
    pub random_location: &'a str,
    /// The row's rendered location (not available to the location pattern itself).
    pub location: &'a str,
    pub subscription_id: &'a str,
    /// The row's rendered resource group (not available to the resource-group pattern).
    pub resource_group: &'a str,
    pub tenant_id: &'a str,
    /// Name of the copied resource (replicate); empty otherwise.
    pub original_name: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Index,
    Copy,
    RandomLocation,
    Location,
    SubscriptionId,
    ResourceGroup,
    TenantId,
    Type,
    Name,
    OriginalName,
}

const ALL_VARS: [Var; 10] = [
    Var::Index,
    Var::Copy,
    Var::RandomLocation,
    Var::Location,
    Var::SubscriptionId,
    Var::ResourceGroup,
    Var::TenantId,
    Var::Type,
    Var::Name,
    Var::OriginalName,
];

impl Var {
    fn name(self) -> &'static str {
        match self {
            Var::Index => "index",
            Var::Copy => "copy",
            Var::RandomLocation => "random_location",
            Var::Location => "location",
            Var::SubscriptionId => "subscription_id",
            Var::ResourceGroup => "resource_group",
            Var::TenantId => "tenant_id",
            Var::Type => "type",
            Var::Name => "name",
            Var::OriginalName => "original_name",
        }
    }

    fn from_name(s: &str) -> Option<Var> {
        ALL_VARS.into_iter().find(|v| v.name() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Which variables a field may use. Rows are rendered in the order location → resource group →
/// name → everything else, so each field sees what was rendered before it.
#[derive(Debug, Clone, Copy)]
struct Scope {
    bits: u16,
    field: &'static str,
}

impl Scope {
    const fn of(vars: &[Var], field: &'static str) -> Scope {
        let mut bits = 0u16;
        let mut i = 0;
        while i < vars.len() {
            bits |= 1 << (vars[i] as u16);
            i += 1;
        }
        Scope { bits, field }
    }
    fn has(self, v: Var) -> bool {
        self.bits & v.bit() != 0
    }
    fn list(self) -> String {
        ALL_VARS
            .iter()
            .filter(|v| self.has(**v))
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Var::*;
const LOCATION_SCOPE: Scope = Scope::of(
    &[
        Index,
        Copy,
        RandomLocation,
        SubscriptionId,
        TenantId,
        Type,
        OriginalName,
    ],
    "a location",
);
const RG_SCOPE: Scope = Scope::of(
    &[
        Index,
        Copy,
        RandomLocation,
        Location,
        SubscriptionId,
        TenantId,
        OriginalName,
    ],
    "resource_group_pattern",
);
const NAME_SCOPE: Scope = Scope::of(
    &[
        Index,
        Copy,
        RandomLocation,
        Location,
        SubscriptionId,
        ResourceGroup,
        TenantId,
        Type,
        OriginalName,
    ],
    "a name_pattern",
);
const VALUE_SCOPE: Scope = Scope::of(&ALL_VARS, "a value");
const PUBLIC_SCOPE: Scope = Scope::of(
    &[
        Index,
        Copy,
        RandomLocation,
        Location,
        SubscriptionId,
        ResourceGroup,
        TenantId,
        OriginalName,
    ],
    "this pattern",
);

/// A row plus the per-resource values that are not in [`RowVars`].
struct Row<'a> {
    vars: &'a RowVars<'a>,
    type_name: &'a str,
    name: &'a str,
}

impl Row<'_> {
    fn text(&self, v: Var) -> Option<&str> {
        Some(match v {
            Index | Copy => return None,
            RandomLocation => self.vars.random_location,
            Location => self.vars.location,
            SubscriptionId => self.vars.subscription_id,
            ResourceGroup => self.vars.resource_group,
            TenantId => self.vars.tenant_id,
            Type => self.type_name,
            Name => self.name,
            OriginalName => self.vars.original_name,
        })
    }
    fn number(&self, v: Var) -> u64 {
        if v == Copy {
            self.vars.copy
        } else {
            self.vars.index
        }
    }
    fn write(&self, v: Var, out: &mut String) {
        match self.text(v) {
            Some(s) => out.push_str(s),
            None => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{}", self.number(v));
            }
        }
    }
    fn value(&self, v: Var) -> Value {
        match self.text(v) {
            Some(s) => Value::from(s),
            None => Value::from(self.number(v)),
        }
    }
}

struct Expr {
    source: Box<str>,
    expr: Expression<'static, 'static>,
    vars: Vec<Var>,
}

enum Piece {
    Lit(Box<str>),
    Var(Var),
    Padded { var: Var, width: usize, zero: bool },
    Expr(Box<Expr>),
}

/// A compiled string value: literal text, placeholders and `{{ }}` expressions.
pub struct CompiledPattern {
    pieces: Vec<Piece>,
    at: String,
    /// The source was exactly one `{{ expr }}`: its rendered text may become a JSON number/bool.
    sole_expr: bool,
}

impl fmt::Debug for CompiledPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPattern")
            .field("at", &self.at)
            .field("pieces", &self.pieces.len())
            .field("sole_expr", &self.sole_expr)
            .finish()
    }
}

impl CompiledPattern {
    /// Template path this pattern came from.
    pub fn at(&self) -> &str {
        &self.at
    }

    /// True when the pattern has no placeholders or expressions.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    /// True when no piece needs minijinja (the allocation-free path).
    pub fn is_fast(&self) -> bool {
        self.pieces.iter().all(|p| !matches!(p, Piece::Expr(_)))
    }

    /// True when no row can make this pattern fail, so it need not be evaluated per row: its
    /// pieces are literal text, placeholders, and expressions of only names, literals and `~`.
    pub fn is_total(&self) -> bool {
        self.pieces.iter().all(|p| match p {
            Piece::Lit(_) | Piece::Var(_) | Piece::Padded { .. } => true,
            Piece::Expr(e) => is_total_expr(&e.source),
        })
    }

    fn render(&self, row: &Row<'_>, out: &mut String) -> Result<(), TemplateError> {
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(v) => row.write(*v, out),
                Piece::Padded { var, width, zero } => {
                    let n = row.number(*var);
                    let _ = if *zero {
                        write!(out, "{n:0width$}", width = *width)
                    } else {
                        write!(out, "{n:width$}", width = *width)
                    };
                }
                Piece::Expr(e) => {
                    let ctx: Value = e.vars.iter().map(|v| (v.name(), row.value(*v))).collect();
                    let value = e.expr.eval(ctx).map_err(|err| TemplateError::Render {
                        at: self.at.clone(),
                        index: row.vars.index,
                        message: jinja_message(&err, &e.source),
                    })?;
                    // Strict mode rejects undefined variables, but an expression may still
                    // evaluate to undefined (`index.nope`): printing it would write nothing.
                    if value.is_undefined() {
                        return Err(TemplateError::Render {
                            at: self.at.clone(),
                            index: row.vars.index,
                            message: format!("`{{{{ {} }}}}` is undefined", e.source),
                        });
                    }
                    // `1/0` is a float infinity in minijinja; written out it would be `inf`,
                    // which no consumer reads as a number.
                    if value.kind() == ValueKind::Number {
                        if let Some(f) =
                            f64::try_from(value.clone()).ok().filter(|f| !f.is_finite())
                        {
                            return Err(TemplateError::Render {
                                at: self.at.clone(),
                                index: row.vars.index,
                                message: format!(
                                    "`{{{{ {} }}}}` is {f}, not a finite number: guard the divisor or the operands",
                                    e.source
                                ),
                            });
                        }
                    }
                    let _ = write!(out, "{value}");
                }
            }
        }
        Ok(())
    }

    fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.pieces.iter().flat_map(|p| match p {
            Piece::Lit(_) => Vec::new(),
            Piece::Var(v) | Piece::Padded { var: v, .. } => vec![*v],
            Piece::Expr(e) => e.vars.clone(),
        })
    }
}

/// Conservative: outside string literals only names, digits, spaces and `~` (which
/// stringifies, so cannot fail), and none of `in`, `is`, `if` (a bare `if` can yield undefined,
/// `in`/`is` can reject an operand). Operators, subscripts, attributes, filters and calls are
/// all "may fail"; the compiler already refused names that are not variables or globals.
fn is_total_expr(src: &str) -> bool {
    let mut chars = src.chars();
    let mut word = String::new();
    let bad_word = |w: &str| matches!(w, "in" | "is" | "if");
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if bad_word(&word) {
            return false;
        }
        word.clear();
        match c {
            '~' => {}
            c if c.is_whitespace() => {}
            '"' | '\'' => loop {
                match chars.next() {
                    None => return false,
                    Some('\\') => {
                        chars.next();
                    }
                    Some(q) if q == c => break,
                    Some(_) => {}
                }
            },
            _ => return false,
        }
    }
    !bad_word(&word)
}

fn jinja_message(err: &minijinja::Error, source: &str) -> String {
    match err.detail() {
        Some(d) => format!("{} in `{{{{ {source} }}}}`: {d}", err.kind()),
        None => format!("{} in `{{{{ {source} }}}}`", err.kind()),
    }
}

/// Compile a pattern given outside a template (a CLI flag, `replicate.naming.name_pattern`).
/// It may use every [`RowVars`] field; `at` names it in errors.
pub fn compile_pattern(src: &str, template_path: &str) -> Result<CompiledPattern, TemplateError> {
    let p = parse_pattern(src, template_path, PUBLIC_SCOPE).map_err(|message| {
        TemplateError::Pattern {
            at: template_path.to_owned(),
            message,
        }
    })?;
    let sample = sample_vars("eastus", "", "");
    let row = Row {
        vars: &sample,
        type_name: "",
        name: "",
    };
    p.render(&row, &mut String::new())
        .map_err(|e| TemplateError::Pattern {
            at: template_path.to_owned(),
            message: format!("fails on a sample row: {}", render_message(&e)),
        })?;
    Ok(p)
}

/// Render a pattern from [`compile_pattern`] for one row, appending to `out`.
pub fn render_name_pattern(
    pattern: &CompiledPattern,
    vars: &RowVars<'_>,
    out: &mut String,
) -> Result<(), TemplateError> {
    pattern.render(
        &Row {
            vars,
            type_name: "",
            name: "",
        },
        out,
    )
}

fn render_message(e: &TemplateError) -> String {
    match e {
        TemplateError::Render { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

const PLACEHOLDER_HELP: &str =
    "known placeholders are {index}, {index:0Nd}, {copy}, {copy:0Nd} and {original_name}; use {{ }} for expressions";

fn parse_pattern(src: &str, at: &str, scope: Scope) -> Result<CompiledPattern, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = src;
    let mut exprs = 0usize;
    let flush = |lit: &mut String, pieces: &mut Vec<Piece>| {
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(lit).into_boxed_str()));
        }
    };
    while let Some(pos) = rest.find('{') {
        lit.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(body) = tail.strip_prefix("{{") {
            let end = body.find("}}").ok_or_else(|| {
                format!("`{{{{` without a closing `}}}}` in {src:?}: close the expression")
            })?;
            let expr = body[..end].trim();
            if expr.is_empty() {
                return Err(format!(
                    "empty `{{{{ }}}}` in {src:?}: put an expression inside or remove it"
                ));
            }
            flush(&mut lit, &mut pieces);
            exprs += 1;
            pieces.push(compile_expr(expr, scope)?);
            rest = &body[end + 2..];
        } else if tail.starts_with("{%") || tail.starts_with("{#") {
            return Err(format!(
                "`{}` blocks are not supported in {src:?}: only `{{{{ expression }}}}` is",
                &tail[..2]
            ));
        } else {
            let close = tail.find('}');
            let inner = close.map(|c| &tail[1..c]);
            let (name, spec) = match inner {
                Some(i) => i.split_once(':').map_or((i, None), |(n, s)| (n, Some(s))),
                None => ("", None),
            };
            if let (Some(close), true) = (close, is_ident(name)) {
                let var = match name {
                    "index" => Index,
                    "copy" => Copy,
                    "original_name" => OriginalName,
                    other => {
                        return Err(format!(
                            "unknown placeholder `{{{other}}}` in {src:?}: {PLACEHOLDER_HELP}"
                        ))
                    }
                };
                if !scope.has(var) {
                    return Err(format!(
                        "`{{{name}}}` is not available in {}: available are {}",
                        scope.field,
                        scope.list()
                    ));
                }
                flush(&mut lit, &mut pieces);
                match spec {
                    None => pieces.push(Piece::Var(var)),
                    Some(spec) => {
                        let bad = || {
                            format!("placeholder `{{{}}}` in {src:?} has an unknown format: write `{{{name}:05d}}` (zero-padded) or `{{{name}}}`", &tail[1..close])
                        };
                        if var == OriginalName {
                            return Err(bad());
                        }
                        let digits = spec.strip_suffix('d').ok_or_else(bad)?;
                        let (zero, digits) = match digits.strip_prefix('0') {
                            Some(d) => (true, d),
                            None => (false, digits),
                        };
                        let width = if digits.is_empty() {
                            0
                        } else {
                            digits
                                .parse::<usize>()
                                .ok()
                                .filter(|w| *w <= 64)
                                .ok_or_else(bad)?
                        };
                        pieces.push(Piece::Padded { var, width, zero });
                    }
                }
                rest = &tail[close + 1..];
            } else {
                lit.push('{');
                rest = &tail[1..];
            }
        }
    }
    lit.push_str(rest);
    flush(&mut lit, &mut pieces);
    let sole_expr = exprs == 1 && pieces.len() == 1;
    Ok(CompiledPattern {
        pieces,
        at: at.to_owned(),
        sole_expr,
    })
}

fn compile_expr(expr: &str, scope: Scope) -> Result<Piece, String> {
    let not_available = |v: Var| {
        format!(
            "`{}` is not available in {} (it is rendered later or not at all): available are {}",
            v.name(),
            scope.field,
            scope.list()
        )
    };
    if is_ident(expr) {
        if let Some(v) = Var::from_name(expr) {
            return if scope.has(v) {
                Ok(Piece::Var(v))
            } else {
                Err(not_available(v))
            };
        }
    }
    let compiled = env()
        .compile_expression_owned(expr.to_owned())
        .map_err(|e| {
            format!(
                "{} in `{{{{ {expr} }}}}`{}: fix the expression",
                e.kind(),
                e.detail().map(|d| format!(": {d}")).unwrap_or_default()
            )
        })?;
    let globals: HashSet<&str> = env().globals().map(|(n, _)| n).collect();
    let mut vars = Vec::new();
    let mut names: Vec<String> = compiled.undeclared_variables(false).into_iter().collect();
    names.sort();
    for name in names {
        match Var::from_name(&name) {
            Some(v) if scope.has(v) => vars.push(v),
            Some(v) => return Err(not_available(v)),
            None if globals.contains(name.as_str()) => {}
            None => {
                return Err(format!(
                    "undefined variable `{name}` in `{{{{ {expr} }}}}`: available are {}",
                    scope.list()
                ))
            }
        }
    }
    Ok(Piece::Expr(Box::new(Expr {
        source: expr.into(),
        expr: compiled,
        vars,
    })))
}

/// A compiled JSON value (properties, sku, plan).
enum JNode {
    /// Already-serialised JSON: no patterns inside.
    Raw(Box<str>),
    Str(CompiledPattern),
    /// Members: `"key":` (escaped, with colon) and value.
    Obj(Vec<(Box<str>, JNode)>),
    Arr(Vec<JNode>),
}

impl JNode {
    fn compile(v: &JsonValue, at: &str, scope: Scope) -> Result<JNode, (String, String)> {
        Ok(match v {
            JsonValue::String(s) => {
                let p = parse_pattern(s, at, scope).map_err(|m| (at.to_owned(), m))?;
                if p.is_literal() {
                    let mut raw = String::new();
                    push_json_str(&mut raw, s);
                    JNode::Raw(raw.into())
                } else {
                    JNode::Str(p)
                }
            }
            JsonValue::Array(items) => {
                let nodes = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| JNode::compile(item, &format!("{at}[{i}]"), scope))
                    .collect::<Result<Vec<_>, _>>()?;
                if nodes.iter().all(|n| matches!(n, JNode::Raw(_))) {
                    JNode::Raw(v.to_string().into())
                } else {
                    JNode::Arr(nodes)
                }
            }
            JsonValue::Object(map) => {
                let mut members = Vec::with_capacity(map.len());
                for (k, item) in map {
                    let mut key = String::new();
                    push_json_str(&mut key, k);
                    key.push(':');
                    members.push((
                        key.into_boxed_str(),
                        JNode::compile(item, &format!("{at}.{k}"), scope)?,
                    ));
                }
                if members.iter().all(|(_, n)| matches!(n, JNode::Raw(_))) {
                    JNode::Raw(v.to_string().into())
                } else {
                    JNode::Obj(members)
                }
            }
            other => JNode::Raw(other.to_string().into()),
        })
    }

    fn render(&self, row: &Row<'_>, out: &mut String) -> Result<(), TemplateError> {
        match self {
            JNode::Raw(s) => out.push_str(s),
            JNode::Str(p) => render_json_string(p, row, out, p.sole_expr)?,
            JNode::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(row, out)?;
                }
                out.push(']');
            }
            JNode::Obj(members) => {
                out.push('{');
                for (i, (k, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    item.render(row, out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }

    fn patterns<'s>(&'s self, acc: &mut Vec<&'s CompiledPattern>) {
        match self {
            JNode::Raw(_) => {}
            JNode::Str(p) => acc.push(p),
            JNode::Arr(items) => items.iter().for_each(|i| i.patterns(acc)),
            JNode::Obj(m) => m.iter().for_each(|(_, i)| i.patterns(acc)),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Render `p` as a JSON value: a string, or, when `coerce` and the text is a JSON number or
/// `true`/`false`, that number or boolean.
fn render_json_string(
    p: &CompiledPattern,
    row: &Row<'_>,
    out: &mut String,
    coerce: bool,
) -> Result<(), TemplateError> {
    SCRATCH.with(|cell| {
        let mut local;
        let mut guard = cell.try_borrow_mut();
        let buf: &mut String = match guard.as_deref_mut() {
            Ok(b) => b,
            Err(_) => {
                local = String::new();
                &mut local
            }
        };
        buf.clear();
        p.render(row, buf)?;
        // minijinja prints booleans Python-style (`True`); JSON wants `true`.
        if coerce && (buf == "true" || buf == "True") {
            out.push_str("true");
        } else if coerce && (buf == "false" || buf == "False") {
            out.push_str("false");
        } else if coerce && is_json_number(buf) {
            out.push_str(buf);
        } else {
            push_json_str(out, buf);
        }
        Ok(())
    })
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Append `s` as a JSON string literal (same escapes as serde_json).
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One compiled `resources[i]` entry.
#[derive(Debug)]
pub struct CompiledResource {
    type_name: String,
    count: u64,
    name: CompiledPattern,
    location: CompiledPattern,
    properties: JNodeBox,
    sku: Option<JNodeBox>,
    plan: Option<JNodeBox>,
    kind: Option<CompiledPattern>,
    tags: Option<Vec<(Box<str>, CompiledPattern)>>,
}

/// `JNode` with a Debug that does not print the tree.
struct JNodeBox(JNode);

impl fmt::Debug for JNodeBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JNode")
    }
}

impl CompiledResource {
    /// The Azure type, as written in the template.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// ATG's id prefix for the type ([`type_prefix`]).
    pub fn prefix(&self) -> &'static str {
        type_prefix(&self.type_name)
    }

    /// `resources[i].count`.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn row<'a>(&'a self, vars: &'a RowVars<'a>, name: &'a str) -> Row<'a> {
        Row {
            vars,
            type_name: &self.type_name,
            name,
        }
    }

    /// Append the row's name. Uses every [`RowVars`] field but none rendered after it.
    pub fn render_name(&self, vars: &RowVars<'_>, out: &mut String) -> Result<(), TemplateError> {
        self.name.render(&self.row(vars, ""), out)
    }

    /// Append the row's location; `vars.location` is not read.
    pub fn render_location(
        &self,
        vars: &RowVars<'_>,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        self.location.render(&self.row(vars, ""), out)
    }

    /// Append the properties as a compact JSON object.
    pub fn render_properties_json(
        &self,
        vars: &RowVars<'_>,
        name: &str,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        self.properties.0.render(&self.row(vars, name), out)
    }

    /// Append the tags as a compact JSON object of strings; `false` (nothing written) when the
    /// template has no `tags`.
    pub fn render_tags_json(
        &self,
        vars: &RowVars<'_>,
        name: &str,
        out: &mut String,
    ) -> Result<bool, TemplateError> {
        let Some(tags) = &self.tags else {
            return Ok(false);
        };
        let row = self.row(vars, name);
        out.push('{');
        for (i, (k, p)) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            render_json_string(p, &row, out, false)?;
        }
        out.push('}');
        Ok(true)
    }

    /// Append the SKU as JSON; `false` when there is none.
    pub fn render_sku_json(
        &self,
        vars: &RowVars<'_>,
        name: &str,
        out: &mut String,
    ) -> Result<bool, TemplateError> {
        render_opt(self.sku.as_ref(), &self.row(vars, name), out)
    }

    /// Append the plan as JSON; `false` when there is none.
    pub fn render_plan_json(
        &self,
        vars: &RowVars<'_>,
        name: &str,
        out: &mut String,
    ) -> Result<bool, TemplateError> {
        render_opt(self.plan.as_ref(), &self.row(vars, name), out)
    }

    /// The compiled `kind` pattern, if any.
    pub fn kind(&self) -> Option<&CompiledPattern> {
        self.kind.as_ref()
    }

    /// Append the rendered `kind` (plain text); `false` when there is none.
    pub fn render_kind(
        &self,
        vars: &RowVars<'_>,
        name: &str,
        out: &mut String,
    ) -> Result<bool, TemplateError> {
        match &self.kind {
            None => Ok(false),
            Some(p) => p.render(&self.row(vars, name), out).map(|_| true),
        }
    }

    /// Whether any field of this resource needs minijinja (informational, for benchmarks).
    pub fn is_fast(&self) -> bool {
        self.patterns().iter().all(|p| p.is_fast())
    }

    /// True when no field can fail on any row ([`CompiledPattern::is_total`]): such a resource
    /// needs no per-row check.
    pub fn is_total(&self) -> bool {
        self.patterns().iter().all(|p| p.is_total())
    }

    /// A per-row evaluator of the fields that are not total, with buffers reused across rows.
    pub fn row_check(&self) -> RowCheck<'_> {
        RowCheck {
            res: self,
            rest: self
                .patterns()
                .into_iter()
                .skip(2)
                .filter(|p| !p.is_total())
                .collect(),
            loc: String::new(),
            name: String::new(),
            scratch: String::new(),
        }
    }

    fn patterns(&self) -> Vec<&CompiledPattern> {
        let mut acc = vec![&self.name, &self.location];
        self.properties.0.patterns(&mut acc);
        for n in [&self.sku, &self.plan].into_iter().flatten() {
            n.0.patterns(&mut acc);
        }
        acc.extend(self.kind.iter());
        if let Some(t) = &self.tags {
            acc.extend(t.iter().map(|(_, p)| p));
        }
        acc
    }
}

/// Evaluates one resource's fallible fields row by row without keeping the output: the
/// location and name always (later fields read them), the rest only when not total.
pub struct RowCheck<'a> {
    res: &'a CompiledResource,
    rest: Vec<&'a CompiledPattern>,
    loc: String,
    name: String,
    scratch: String,
}

impl RowCheck<'_> {
    /// Evaluate the row `vars` describes (`vars.location` is not read).
    pub fn row(&mut self, vars: &RowVars<'_>) -> Result<(), TemplateError> {
        self.loc.clear();
        self.res.render_location(vars, &mut self.loc)?;
        let vars = RowVars {
            location: &self.loc,
            ..*vars
        };
        self.name.clear();
        self.res.render_name(&vars, &mut self.name)?;
        let row = self.res.row(&vars, &self.name);
        for p in &self.rest {
            self.scratch.clear();
            p.render(&row, &mut self.scratch)?;
        }
        Ok(())
    }
}

fn render_opt(
    n: Option<&JNodeBox>,
    row: &Row<'_>,
    out: &mut String,
) -> Result<bool, TemplateError> {
    match n {
        None => Ok(false),
        Some(n) => n.0.render(row, out).map(|_| true),
    }
}

/// Every pattern of a template, compiled and test-rendered once.
#[derive(Debug)]
pub struct CompiledTemplate {
    resources: Vec<CompiledResource>,
    resource_group: Option<CompiledPattern>,
    replicate_name: Option<CompiledPattern>,
}

impl CompiledTemplate {
    /// The compiled `resources[i]`. Panics when `i` is out of range, like slice indexing.
    pub fn resource(&self, i: usize) -> &CompiledResource {
        &self.resources[i]
    }

    /// All compiled resources, in template order.
    pub fn resources(&self) -> &[CompiledResource] {
        &self.resources
    }

    /// Append the row's resource group from `config.resource_group_pattern`; `false` (nothing
    /// written) when there is no pattern. `vars.resource_group` is not read.
    pub fn render_resource_group(
        &self,
        vars: &RowVars<'_>,
        out: &mut String,
    ) -> Result<bool, TemplateError> {
        match &self.resource_group {
            None => Ok(false),
            Some(p) => p
                .render(
                    &Row {
                        vars,
                        type_name: "",
                        name: "",
                    },
                    out,
                )
                .map(|_| true),
        }
    }

    /// `replicate.naming.name_pattern`, compiled; render it with [`render_name_pattern`].
    pub fn replicate_name_pattern(&self) -> Option<&CompiledPattern> {
        self.replicate_name.as_ref()
    }
}

fn sample_vars<'a>(loc: &'a str, sub: &'a str, tenant: &'a str) -> RowVars<'a> {
    RowVars {
        index: 0,
        copy: 0,
        random_location: loc,
        location: loc,
        subscription_id: if sub.is_empty() {
            "00000000-0000-0000-0000-000000000000"
        } else {
            sub
        },
        resource_group: "rg-sample",
        tenant_id: if tenant.is_empty() {
            "00000000-0000-0000-0000-000000000000"
        } else {
            tenant
        },
        original_name: "sample",
    }
}

pub(super) fn compile_template(t: &Template) -> Result<CompiledTemplate, TemplateError> {
    let pat = |src: &str, at: String, scope: Scope| {
        parse_pattern(src, &at, scope).map_err(|m| t.expression_error(&at, m))
    };
    let loc0 = t
        .config
        .random_locations
        .first()
        .map_or("eastus", String::as_str);
    let sample = sample_vars(
        loc0,
        t.config.subscription_id.as_deref().unwrap_or(""),
        t.config.tenant_id.as_deref().unwrap_or(""),
    );
    let check = |r| on_row0(t, r);

    let resource_group = match &t.config.resource_group_pattern {
        None => None,
        Some(src) => {
            let p = pat(src, "config.resource_group_pattern".into(), RG_SCOPE)?;
            check(p.render(
                &Row {
                    vars: &sample,
                    type_name: "",
                    name: "",
                },
                &mut String::new(),
            ))?;
            Some(p)
        }
    };
    let replicate_name = match t.replicate.as_ref().and_then(|r| r.name_pattern.as_deref()) {
        None => None,
        Some(src) => {
            let p = pat(src, "replicate.naming.name_pattern".into(), PUBLIC_SCOPE)?;
            check(p.render(
                &Row {
                    vars: &sample,
                    type_name: "",
                    name: "",
                },
                &mut String::new(),
            ))?;
            Some(p)
        }
    };

    let mut resources = Vec::with_capacity(t.resources.len());
    for (i, r) in t.resources.iter().enumerate() {
        resources.push(compile_resource(t, i, r, &sample)?);
    }
    Ok(CompiledTemplate {
        resources,
        resource_group,
        replicate_name,
    })
}

/// A test render's failure, reported as the template expression that fails on row 0.
fn on_row0(t: &Template, r: Result<(), TemplateError>) -> Result<(), TemplateError> {
    r.map_err(|e| t.row_error(e))
}

/// Compiles `resources[i]` and test-renders every field on row 0, so runtime errors surface
/// when the template is loaded.
fn compile_resource(
    t: &Template,
    i: usize,
    r: &super::ResourceSpec,
    sample: &RowVars<'_>,
) -> Result<CompiledResource, TemplateError> {
    let pat = |src: &str, at: String, scope: Scope| {
        parse_pattern(src, &at, scope).map_err(|m| t.expression_error(&at, m))
    };
    let json = |v: &JsonValue, at: String, scope: Scope| {
        JNode::compile(v, &at, scope).map_err(|(at, m)| t.expression_error(&at, m))
    };
    let check = |r| on_row0(t, r);
    let base = format!("resources[{i}].template");
    let rt = &r.template;
    let c = CompiledResource {
        type_name: r.type_name.clone(),
        count: r.count,
        name: pat(&rt.name_pattern, format!("{base}.name_pattern"), NAME_SCOPE)?,
        location: pat(
            rt.location.as_deref().unwrap_or(DEFAULT_LOCATION_PATTERN),
            format!("{base}.location"),
            LOCATION_SCOPE,
        )?,
        properties: JNodeBox(json(
            &JsonValue::Object(rt.properties.clone()),
            format!("{base}.properties"),
            VALUE_SCOPE,
        )?),
        sku: match &rt.sku {
            None => None,
            Some(v) => Some(JNodeBox(json(v, format!("{base}.sku"), VALUE_SCOPE)?)),
        },
        plan: match &rt.plan {
            None => None,
            Some(v) => Some(JNodeBox(json(v, format!("{base}.plan"), VALUE_SCOPE)?)),
        },
        kind: match &rt.kind {
            None => None,
            Some(k) => Some(pat(k, format!("{base}.kind"), VALUE_SCOPE)?),
        },
        tags: match &rt.tags {
            None => None,
            Some(tags) => {
                let mut v = Vec::with_capacity(tags.len());
                for (k, src) in tags {
                    let mut key = String::new();
                    push_json_str(&mut key, k);
                    key.push(':');
                    v.push((
                        key.into_boxed_str(),
                        pat(src, format!("{base}.tags.{k}"), VALUE_SCOPE)?,
                    ));
                }
                Some(v)
            }
        },
    };
    // Test-render every field on row 0 so runtime errors surface at load time.
    let mut buf = String::new();
    check(c.render_location(sample, &mut buf))?;
    check(c.render_name(sample, &mut buf))?;
    check(c.render_properties_json(sample, "sample-name", &mut buf))?;
    check(
        c.render_tags_json(sample, "sample-name", &mut buf)
            .map(|_| ()),
    )?;
    check(
        c.render_sku_json(sample, "sample-name", &mut buf)
            .map(|_| ()),
    )?;
    check(
        c.render_plan_json(sample, "sample-name", &mut buf)
            .map(|_| ()),
    )?;
    check(c.render_kind(sample, "sample-name", &mut buf).map(|_| ()))?;
    debug_assert!(c.patterns().iter().all(|p| p.vars().count() < usize::MAX));
    Ok(c)
}
