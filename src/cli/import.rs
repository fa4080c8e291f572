//! `tenantgen import`: flags → [`ImportConfig`], then the import and its report.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{out, Global};
use crate::config::DatabaseName;
use crate::import::{import, ImportConfig};
use crate::report::thousands;

/// Flags of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The directory to import (generated output, baseline or export), or all the shard
    /// directories of one sharded plan (`generate --shard K/N`), imported together in one run.
    #[arg(value_name = "DIR", default_value = "import-out/generated", num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// The shard directories to combine, as a pattern with `*` and `?` in its last component
    /// (quote it), e.g. --shards 'out/shard-*'.
    #[arg(long, value_name = "GLOB", conflicts_with = "dirs")]
    pub shards: Option<String>,
    #[command(flatten)]
    pub neo4j: Neo4jArgs,
    /// Replace an existing database in the instance directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Import even when the store's estimated size exceeds the free disk space.
    #[arg(long)]
    pub ignore_space_check: bool,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Where Neo4j lives and how the import and server are sized.
#[derive(Debug, Clone, Args)]
pub struct Neo4jArgs {
    /// Neo4j home (default: $NEO4J_HOME, else the project's scripts/neo4j install).
    #[arg(long, value_name = "DIR")]
    pub neo4j_home: Option<PathBuf>,
    /// Instance directory to import into (conf, data, logs); default: DIR.neo4j beside the input.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database name.
    #[arg(long, default_value = "neo4j")]
    pub database: String,
    /// Importer threads (default: the number of CPUs).
    #[arg(long = "import-threads", value_name = "N")]
    pub import_threads: Option<usize>,
    /// Importer --max-off-heap-memory.
    #[arg(long, default_value = "4G")]
    pub max_off_heap: String,
    /// Importer JVM heap.
    #[arg(long, default_value = "2g")]
    pub import_heap: String,
    /// Server heap (`auto`: 1g, more for graphs over 2.5M entities).
    #[arg(long, default_value = "auto")]
    pub server_heap: String,
    /// Server page cache (`auto`: sized like the heap).
    #[arg(long, default_value = "auto")]
    pub pagecache: String,
    /// Bolt port of the instance (default: a free one for a new instance, the kept one for an
    /// existing instance).
    #[arg(long)]
    pub port: Option<u16>,
    /// Then write the database as a `neo4j-admin database dump` archive to FILE (run: after
    /// verification), for `neo4j-admin database load` elsewhere; FILE must not exist.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Replace the whole instance directory instead of only its database: a fresh config (auth
    /// off, a new port) and a new system database (its users and roles are lost).
    #[arg(long)]
    pub reset_instance: bool,
}

impl Neo4jArgs {
    /// The validated import configuration for input `dir`.
    pub fn config(&self, dir: &std::path::Path, overwrite: bool) -> anyhow::Result<ImportConfig> {
        let instance_dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => {
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .context("the input directory needs a name; pass --data-dir")?;
                dir.with_file_name(format!("{name}.neo4j"))
            }
        };
        let mut cfg = ImportConfig::new(dir.to_path_buf(), instance_dir);
        cfg.neo4j_home = self.neo4j_home.clone();
        cfg.database = DatabaseName::for_import(&self.database)?.into_string();
        // Resetting replaces the instance, so it needs no --overwrite of its own.
        cfg.overwrite = overwrite || self.reset_instance;
        cfg.reset_instance = self.reset_instance;
        if let Some(t) = self.import_threads {
            if t == 0 {
                anyhow::bail!("--import-threads must be at least 1");
            }
            cfg.threads = t;
        }
        cfg.max_off_heap = self.max_off_heap.clone();
        cfg.heap = self.import_heap.clone();
        cfg.server_heap = self.server_heap.clone();
        cfg.pagecache = self.pagecache.clone();
        cfg.port = self.port;
        Ok(cfg)
    }
}

impl ImportArgs {
    /// The import configuration: of one directory, or of shards combined (which need
    /// `--data-dir`: no one shard's name says where the whole goes).
    pub fn config(&self) -> anyhow::Result<ImportConfig> {
        let dirs = match &self.shards {
            Some(p) => crate::shards::expand(p)?,
            None => self.dirs.clone(),
        };
        let combine = self.shards.is_some() || dirs.len() > 1;
        if combine && self.neo4j.data_dir.is_none() {
            anyhow::bail!(
                "importing {} shard directories together needs --data-dir DIR, the instance directory the whole plan goes into (e.g. --data-dir tenant.neo4j)",
                dirs.len()
            );
        }
        let mut cfg = self.neo4j.config(&dirs[0], self.overwrite)?;
        cfg.check_space = !self.ignore_space_check;
        if combine {
            cfg.shards = dirs;
        }
        Ok(cfg)
    }

    /// The input as messages name it.
    fn input(&self, cfg: &ImportConfig) -> String {
        if cfg.shards.is_empty() {
            cfg.dir.display().to_string()
        } else {
            format!("{} shards ({} …)", cfg.shards.len(), cfg.dir.display())
        }
    }
}

pub fn run(args: ImportArgs, global: Global) -> anyhow::Result<ExitCode> {
    let mut cfg = args.config()?;
    cfg.progress = !global.quiet && !args.json;
    let input = args.input(&cfg);
    if let Some(f) = &args.neo4j.dump {
        crate::import::check_dump(f)?;
    }
    let done = import(&cfg).with_context(|| format!("importing {input}"))?;
    let dumped = match &args.neo4j.dump {
        Some(f) => Some(
            crate::import::dump(&done.instance, &done.home, f, &cfg.heap)
                .with_context(|| format!("dumping {}", done.instance.dir().display()))?,
        ),
        None => None,
    };
    // What `verify` checks the graph against: a combination's manifest is kept with the
    // instance, as no shard holds the whole plan's counts.
    let manifest = if cfg.shards.is_empty() {
        cfg.dir.join(crate::manifest::FILE_NAME)
    } else {
        done.instance.dir().join(crate::manifest::FILE_NAME)
    };
    let quiet = Global {
        quiet: global.quiet || args.json,
    };
    super::note_cleaned(quiet, &done.cleaned);
    super::note_kept(quiet, &done, cfg.reset_instance);
    super::note_archives(quiet);
    if args.json {
        super::json::print(
            "import",
            serde_json::json!({
                "dir": cfg.dir.display().to_string(),
                "shards": cfg.shards.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "manifest": manifest.display().to_string(),
                "instance": done.instance.dir().display().to_string(),
                "database": done.instance.database(),
                "port": done.instance.port(),
                "nodes": done.report.nodes,
                "relationships": done.report.relationships,
                "properties": done.report.properties,
                "import_seconds": done.report.elapsed.as_secs_f64(),
                "check_seconds": done.check_time.as_secs_f64(),
                "dump": dumped.as_ref().map(dump_json),
                "cleaned": done.cleaned.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let combined = if cfg.shards.is_empty() {
        String::new()
    } else {
        format!(
            "combined {} shards; the whole plan's manifest is {}\nthen verify with: tenantgen verify {} --uri bolt://127.0.0.1:{}\n",
            cfg.shards.len(),
            manifest.display(),
            done.instance.dir().display(),
            done.instance.port(),
        )
    };
    let dump_text = dumped.as_ref().map(dump_summary).unwrap_or_default();
    out(&format!(
        "imported {} nodes, {} relationships, {} properties in {:.1} s into {} (database {})\nstart it with: tenantgen start {}\n{combined}{dump_text}",
        thousands(done.report.nodes),
        thousands(done.report.relationships),
        thousands(done.report.properties),
        done.report.elapsed.as_secs_f64(),
        done.instance.dir().display(),
        done.instance.database(),
        done.instance.dir().display(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// The `dump` object of the `import` and `run` documents.
pub fn dump_json(d: &crate::import::Dumped) -> serde_json::Value {
    serde_json::json!({
        "file": d.file.display().to_string(),
        "bytes": d.bytes,
        "seconds": d.elapsed.as_secs_f64(),
    })
}

/// The lines `import` and `run` print about a written dump.
pub fn dump_summary(d: &crate::import::Dumped) -> String {
    format!(
        "dumped the database to {} ({}) in {:.1} s\nload it into another Neo4j (stopped) with: neo4j-admin database load neo4j --from-stdin --overwrite-destination < {}\n",
        d.file.display(),
        crate::report::human_bytes(d.bytes),
        d.elapsed.as_secs_f64(),
        d.file.display(),
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn import_config(args: &[&str]) -> anyhow::Result<crate::import::ImportConfig> {
        let cli = Cli::try_parse_from([&["tenantgen", "import", "dir"], args].concat())?;
        let Command::Import(a) = cli.command else {
            panic!("not import")
        };
        a.config()
    }

    #[test]
    fn database_names_are_checked_as_neo4j_does() {
        let e = import_config(&["--database", "a-b c"]).unwrap_err();
        assert!(e.to_string().starts_with("--database \"a-b c\""), "{e}");
        assert!(import_config(&["--database", "system"]).is_err());
        let cfg = import_config(&["--database", "Tenant-A.v2"]).unwrap();
        assert_eq!(cfg.database, "tenant-a.v2");
    }
}
