//! The one JSON convention of every command's `--json` (the schema is docs/json.md): one
//! document on stdout, opened by `schema_version` and `command`; numbers are JSON numbers, keys
//! are snake_case; on an error the document is `{"schema_version", "command", "error": {"kind",
//! "message", "file", "line", "hint"}}` and the exit code 2. The human message still goes to
//! stderr, so a terminal shows it either way.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::out;

/// Bumped when a key is renamed or removed or changes type; adding a key does not bump it.
pub const SCHEMA_VERSION: u64 = 1;

/// `body`'s keys after `schema_version` and `command`.
pub fn document(command: &str, body: Value) -> Value {
    let mut doc = Map::new();
    doc.insert("schema_version".into(), json!(SCHEMA_VERSION));
    doc.insert("command".into(), json!(command));
    match body {
        Value::Object(map) => doc.extend(map),
        other => {
            doc.insert("result".into(), other);
        }
    }
    Value::Object(doc)
}

/// Prints [`document`] on stdout, pretty, with a final newline.
pub fn print(command: &str, body: Value) -> anyhow::Result<()> {
    emit(&document(command, body))
}

/// Prints a finished document (a [`document`] or an error document) on stdout.
pub fn emit(doc: &Value) -> anyhow::Result<()> {
    out(&format!("{}\n", serde_json::to_string_pretty(doc)?))
}

/// The error document of a command line clap refused (an unknown flag, a bad value, two flags
/// that exclude each other): kind `flag`.
pub fn usage_error_document(command: &str, message: &str) -> Value {
    let first = message
        .lines()
        .next()
        .unwrap_or(message)
        .trim_start_matches("error: ");
    let hint = message
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("tip:"))
        .map(|l| l.trim_start_matches("tip:").trim().to_string())
        .unwrap_or_else(|| format!("see `tenantgen {command} --help`"));
    document(
        command,
        json!({
            "error": {
                "kind": "flag",
                "message": first,
                "file": null,
                "line": null,
                "hint": hint,
            }
        }),
    )
}

/// The error document of `e`.
pub fn error_document(command: &str, e: &anyhow::Error) -> Value {
    let message = format!("{e:#}");
    let (file, line) = location(e);
    document(
        command,
        json!({
            "error": {
                "kind": kind(e),
                "message": message,
                "file": file,
                "line": line,
                "hint": hint(&e.root_cause().to_string()),
            }
        }),
    )
}

/// The stage whose error it is, from the innermost typed error of the chain.
fn kind(e: &anyhow::Error) -> &'static str {
    use crate::{clean, config, export, import, load, manifest, neo4j, outdir, plan, template};
    for cause in e.chain().collect::<Vec<_>>().into_iter().rev() {
        // A directory tenantgen will not replace or cannot write, whichever stage found it.
        let output = cause.is::<outdir::OwnershipError>()
            || cause.is::<outdir::OutDirError>()
            || cause.is::<crate::write::WriteError>()
            || matches!(
                cause.downcast_ref::<import::ImportError>(),
                Some(import::ImportError::Ownership(_))
            )
            || matches!(
                cause.downcast_ref::<export::ExportError>(),
                Some(export::ExportError::Ownership(_))
            )
            || matches!(
                cause.downcast_ref::<crate::shards::ShardError>(),
                Some(
                    crate::shards::ShardError::Ownership(_)
                        | crate::shards::ShardError::Exists { .. }
                        | crate::shards::ShardError::Out(_)
                )
            );
        let k = if output {
            "output"
        } else if cause.is::<crate::stats::OperationAbsent>() {
            // `stats --operation-id` (clean's and verify's are their own kinds).
            "flag"
        } else if cause.is::<config::ConfigError>() {
            "flag"
        } else if cause.is::<template::TemplateError>() {
            "template"
        } else if cause.is::<manifest::ManifestError>()
            || cause.is::<crate::baseline::BaselineError>()
        {
            "input"
        } else if let Some(p) = cause.downcast_ref::<plan::PlanError>() {
            match p {
                plan::PlanError::Flag { .. } | plan::PlanError::Config(_) => "flag",
                plan::PlanError::Baseline(_) => "input",
                plan::PlanError::Template(_) => "template",
                plan::PlanError::Other { .. } | plan::PlanError::StoreLimit { .. } => "plan",
            }
        } else if cause.is::<neo4j::Neo4jError>() {
            "neo4j"
        } else if cause.is::<import::ImportError>() {
            "import"
        } else if cause.is::<crate::shards::ShardError>() {
            // The shards given (incomplete, foreign, not shards) are the input of `merge`.
            "input"
        } else if cause.is::<load::LoadError>() {
            "load"
        } else if cause.is::<export::ExportError>() {
            "export"
        } else if cause.is::<clean::CleanError>() {
            "clean"
        } else if cause.is::<crate::verify::VerifyError>() {
            "verify"
        } else if cause.is::<std::io::Error>() {
            "io"
        } else {
            continue;
        };
        return k;
    }
    if e.root_cause().to_string().starts_with("--") {
        "flag"
    } else {
        "error"
    }
}

/// The first `FILE:LINE` (or `FILE: line N` / `FILE: record N`) the messages of the chain name.
fn location(e: &anyhow::Error) -> (Option<String>, Option<u64>) {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?P<file>(?:/|\./|\.\./)?[\w.@+-]+(?:/[\w.@+-]+)*\.(?:ya?ml|csv|csv\.gz|json|conf|args|cypher|log))(?::(?P<line>\d+)|: (?:line|record) (?P<line2>\d+))?")
            .expect("valid regex")
    });
    for cause in e.chain() {
        let text = cause.to_string();
        if let Some(c) = re.captures(&text) {
            let line = c
                .name("line")
                .or(c.name("line2"))
                .and_then(|m| m.as_str().parse().ok());
            let file = c.name("file").map(|m| m.as_str().to_string());
            // A bare name (`manifest.json` of "DIR has no manifest.json") names no file.
            if file
                .as_deref()
                .is_some_and(|f| f.contains('/') && Path::new(f).extension().is_some())
            {
                return (file, line);
            }
        }
    }
    (None, None)
}

/// What to do, by the house rule that a message says what is wrong and then what to do: the
/// text after its last `; `, else after its last `: ` — outside parentheses and backticks,
/// which hold examples and asides (none when no such separator is found).
fn hint(message: &str) -> Option<String> {
    let first = message.lines().next().unwrap_or(message);
    let (mut depth, mut code) = (0i32, false);
    let (mut semi, mut colon) = (None, None);
    let bytes = first.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => code = !code,
            b'(' if !code => depth += 1,
            b')' if !code => depth -= 1,
            b';' | b':' if !code && depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                if b == b';' {
                    semi = Some(i + 2);
                } else {
                    colon = Some(i + 2);
                }
            }
            _ => {}
        }
    }
    let advice = first[semi.or(colon)?..].trim();
    (advice.split_whitespace().count() >= 2).then(|| advice.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_open_with_the_version_and_the_command() {
        let doc = document("verify", json!({"passed": true}));
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schema_version", "command", "passed"]);
        assert_eq!(doc["schema_version"], SCHEMA_VERSION);
    }

    #[test]
    fn errors_carry_kind_location_and_hint() {
        let e = anyhow::Error::new(crate::config::ConfigError::ReplicateFactor(0.5));
        assert_eq!(
            error_document("generate", &e)["error"]["hint"],
            "pass a finite number above 1 (the final abstracted total over the base; 10 adds 9 copies per base resource)"
        );
        let e = anyhow::Error::new(crate::config::ConfigError::ThreadsZero);
        let doc = error_document("generate", &e);
        assert_eq!(doc["error"]["kind"], "flag");
        assert_eq!(
            doc["error"]["hint"],
            "pass at least 1, or leave it out to use every CPU"
        );
        assert_eq!(doc["error"]["file"], Value::Null);

        let e = anyhow::anyhow!(
            "template t/big.yaml:12:3: unknown key `resourcez`; did you mean `resources`?"
        )
        .context("planning");
        let doc = error_document("generate", &e);
        assert_eq!(doc["error"]["file"], "t/big.yaml");
        assert_eq!(doc["error"]["line"], 12);
        assert_eq!(doc["error"]["hint"], "did you mean `resources`?");
        assert_eq!(
            doc["error"]["message"],
            "planning: template t/big.yaml:12:3: unknown key `resourcez`; did you mean `resources`?"
        );
    }
}
