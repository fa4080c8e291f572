//! `tenantgen run`: the whole job — (export) → generate → import into a fresh instance →
//! start the server → verify → summary → stop (or keep it running).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::import::Neo4jArgs;
use super::{info, out, GenerateArgs, Global, EXIT_MISMATCH};
use crate::fixture::{Cache, Entry, Lookup};
use crate::import::{import, Restore};
use crate::neo4j::{Client, ConnectionSettings, Secret};
use crate::report::{run_summary, RunSummary, Server, Stage};
use crate::verify::{verify, Scope, VerifyOptions};

/// Flags of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub generate: GenerateArgs,
    #[command(flatten)]
    pub neo4j: Neo4jArgs,
    /// Export the baseline from this live graph first (credentials from NEO4J_USERNAME and
    /// NEO4J_PASSWORD).
    #[arg(long, value_name = "URI", conflicts_with = "baseline")]
    pub from_uri: Option<String>,
    /// Leave the server running (detached: it outlives the terminal) and print its bolt:// URI;
    /// `tenantgen stop DIR` stops it.
    #[arg(long)]
    pub keep_running: bool,
    /// With --keep-running: append NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD (when the server
    /// asks for one), NEO4J_DATABASE, NEO4J_PID and TENANTGEN_INSTANCE to FILE as KEY=VALUE
    /// lines, for the next CI step (a dotenv file, or "$GITHUB_ENV").
    #[arg(long, value_name = "FILE", requires = "keep_running")]
    pub env_file: Option<PathBuf>,
    /// Keep the imported store in a fixture cache and restore it when the same job runs again
    /// (needs --timestamp). DIR defaults to $XDG_CACHE_HOME/tenantgen/fixtures (else
    /// ~/.cache/tenantgen/fixtures).
    #[arg(long, value_name = "DIR", num_args = 0..=1, conflicts_with = "from_uri")]
    pub cache: Option<Option<PathBuf>>,
    /// Size bound of the fixture cache (least recently used entries go first), e.g. 10G or 512m.
    #[arg(long, value_name = "SIZE", default_value = "10G")]
    pub cache_max_size: String,
    /// Print the fixture-cache key of this job (everything that determines its store) and exit.
    #[arg(long, conflicts_with = "from_uri")]
    pub print_cache_key: bool,
    /// Copies whose properties verify compares with their base.
    #[arg(long, default_value_t = 200)]
    pub sample: usize,
    /// How to verify: `full`, every check of the whole graph; `counts`, only the totals, labels
    /// and relationship types of Neo4j's counts store. Default: `full`, and `counts` on a
    /// fixture-cache hit (the cached store was verified in full before it was cached, and its
    /// files' checksums are checked when it is restored).
    #[arg(long, value_enum, value_name = "CHECKS")]
    pub verify: Option<RunVerify>,
}

/// `run --verify`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunVerify {
    Full,
    Counts,
}

pub fn run(mut args: RunArgs, global: Global) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut stages = Vec::new();
    let mut timed = |name: &'static str, t: Instant| {
        stages.push(Stage {
            name,
            time: t.elapsed(),
        })
    };
    if let Some(shard) = &args.generate.shard {
        anyhow::bail!(
            "--shard {shard}: run imports what it generates, and a shard is one part of an operation that cannot be imported on its own; leave out --shard (or make shards with `tenantgen generate --shard K/N`)"
        );
    }
    if args.generate.dry_run {
        // The plan and expected counts, as `generate --dry-run` prints them: nothing is run.
        let (plan, _, _) = super::generate::generate(&args.generate, global)?;
        if args.generate.json {
            super::json::print(
                "run",
                super::generate::plan_json(&plan, None, &args.generate),
            )?;
        } else {
            out(&plan.describe())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // run owns its output directories: each run replaces the previous one.
    args.generate.force = true;
    let json = args.generate.json;
    let quiet = Global {
        quiet: global.quiet || json,
    };

    // The key says what a run would make: nothing is checked or run for it.
    let fixture = if args.cache.is_some() || args.print_cache_key {
        Some(cache_key(&args)?)
    } else {
        None
    };
    if args.print_cache_key {
        out(&format!("{}\n", fixture.as_deref().unwrap_or_default()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(file) = &args.env_file {
        check_env_file(file)?;
    }
    // Refuse an instance directory that is not ours or is in use before exporting or generating anything.
    let pre = args.neo4j.config(&args.generate.out, true)?;
    crate::import::check_target(&pre)
        .with_context(|| format!("importing {}", args.generate.out.display()))?;
    if let Some(f) = &args.neo4j.dump {
        crate::import::check_dump(f)?;
    }

    if let Some(uri) = &args.from_uri {
        let t = Instant::now();
        let dir = args.generate.out.with_extension("baseline");
        let settings = env_settings(uri);
        let client = Client::connect(&settings).with_context(|| format!("connecting to {uri}"))?;
        let cfg = crate::export::ExportConfig {
            out: dir.clone(),
            force: true,
            batch: 10_000,
            progress: !quiet.quiet,
        };
        let report =
            crate::export::export(&client, &cfg).with_context(|| format!("exporting {uri}"))?;
        super::warn_export(quiet, &report.warnings);
        info(quiet, &format!("exported {uri} to {}", dir.display()));
        args.generate.baseline = Some(dir);
        timed("export", t);
    }

    let cache = match &args.cache {
        Some(dir) => Some(open_cache(dir.as_deref(), &args.cache_max_size)?),
        None => None,
    };
    let hit = match (&cache, &fixture) {
        (Some(cache), Some(key)) => match cache.lookup(key) {
            Lookup::Hit { dir, entry } => Some((dir, entry)),
            Lookup::Miss { note } => {
                if let Some(note) = note {
                    info(quiet, &format!("note: {note}"));
                }
                None
            }
        },
        _ => None,
    };

    let t = Instant::now();
    let (plan, out_dir) = match &hit {
        Some(_) => {
            // Planned, not written: the summary needs the operation and the expected counts.
            let mut plan_only = args.generate.clone();
            plan_only.dry_run = true;
            let (plan, _, _) = super::generate::generate(&plan_only, quiet)?;
            (plan, args.generate.out.clone())
        }
        None => {
            let (plan, _baseline, report) = super::generate::generate(&args.generate, quiet)?;
            let report = report.context("generate wrote nothing")?;
            timed("generate", t);
            (plan, report.out)
        }
    };

    let t = Instant::now();
    let mut cfg = match &hit {
        Some((dir, entry)) => {
            // The instance goes where a miss would put it; the input is the entry.
            let mut cfg = args.neo4j.config(&args.generate.out, true)?;
            cfg.dir = dir.clone();
            cfg.restore = Some(Restore {
                store: dir.join("store"),
                properties: entry.properties,
            });
            cfg
        }
        None => args.neo4j.config(&out_dir, true)?,
    };
    cfg.check_space = !args.generate.ignore_space_check;
    cfg.progress = !quiet.quiet;
    let state = if cfg.instance_dir.exists() {
        "is as it was"
    } else {
        "was not created"
    };
    let generated = crate::interrupt::note(match &hit {
        Some((dir, _)) => format!(
            "the cached fixture {} is as it was; {inst} {state}: run the same command again",
            dir.display(),
            inst = cfg.instance_dir.display(),
        ),
        None => format!(
            "{out} is generated and complete; {inst} {state}: import it with `tenantgen import {out} --data-dir {inst}{overwrite}`",
            out = out_dir.display(),
            inst = cfg.instance_dir.display(),
            overwrite = if cfg.instance_dir.exists() { " --overwrite" } else { "" },
        ),
    });
    let done = import(&cfg).with_context(|| format!("importing {}", out_dir.display()))?;
    super::note_cleaned(quiet, &done.cleaned);
    super::note_kept(quiet, &done, cfg.reset_instance);
    super::note_archives(quiet);
    timed(if hit.is_some() { "restore" } else { "import" }, t);
    drop(generated);
    // A miss keeps the fresh store (before any server ran on it), published once verified.
    let pending = match (&cache, &fixture, &hit) {
        (Some(cache), Some(key), None) => {
            let entry = Entry {
                format: String::new(),
                key: key.clone(),
                database: done.instance.database().to_string(),
                nodes: done.report.nodes,
                relationships: done.report.relationships,
                properties: done.report.properties,
                files: Vec::new(),
            };
            Some(cache.stage(
                key,
                &done.instance.data_dir(),
                &out_dir.join("manifest.json"),
                entry,
            )?)
        }
        _ => None,
    };
    let _imported = crate::interrupt::note(format!(
        "{out} is imported into {inst} (complete, not verified; the server was stopped): start it with `tenantgen start {inst}` and check it with `tenantgen verify {out} --uri URI`",
        out = cfg.dir.display(),
        inst = done.instance.dir().display()
    ));

    let t = Instant::now();
    let server = done
        .instance
        .start_showing_progress(&done.home, !quiet.quiet)
        .with_context(|| format!("starting Neo4j on {}", done.instance.dir().display()))?;
    timed("server start", t);
    super::note_archives(quiet);

    let t = Instant::now();
    // A kept instance may ask for a password (its users survive `--overwrite`).
    let settings = if done.instance.auth_enabled() {
        env_settings(&server.uri())
    } else {
        ConnectionSettings::local(server.uri())
    };
    let client =
        Client::connect(&settings).with_context(|| format!("connecting to {}", server.uri()))?;
    // A fresh import: the whole graph is the operation's and its baseline's.
    let scope = match (args.verify, &hit) {
        (Some(RunVerify::Full), _) | (None, None) => Scope::Graph,
        (Some(RunVerify::Counts), _) | (None, Some(_)) => Scope::Counts,
    };
    let opts = VerifyOptions {
        sample: args.sample,
        progress: !quiet.quiet,
        scope: Some(scope),
    };
    let verdict = verify(&client, &done.manifest, &opts).context("verifying")?;
    timed("verify", t);
    if let Some(pending) = pending.filter(|_| verdict.passed()) {
        let (dir, evicted) = pending.commit()?;
        info(
            quiet,
            &format!("cached the imported store in {}", dir.display()),
        );
        for e in evicted {
            info(
                quiet,
                &format!("evicted the least recently used fixture {}", e.display()),
            );
        }
    }
    drop(client);

    let mut server = Some(server);
    let mut dumped = None;
    // Only a verified graph is dumped: a mismatch leaves no archive that looks good.
    if let (Some(file), true) = (&args.neo4j.dump, verdict.passed()) {
        let t = Instant::now();
        if let Some(s) = server.take() {
            s.stop().context("stopping Neo4j")?;
        }
        timed("server stop", t);
        let t = Instant::now();
        let d = crate::import::dump(&done.instance, &done.home, file, &cfg.heap)
            .with_context(|| format!("dumping {}", done.instance.dir().display()))?;
        dumped = Some(d);
        timed("dump", t);
        if args.keep_running {
            let t = Instant::now();
            server = Some(
                done.instance
                    .start_showing_progress(&done.home, !quiet.quiet)
                    .with_context(|| {
                        format!("restarting Neo4j on {}", done.instance.dir().display())
                    })?,
            );
            timed("server start", t);
        }
    }
    let uri = done.instance.uri();
    let pid = server.as_ref().map_or(0, |s| s.pid());
    let kept = match server {
        Some(s) if args.keep_running => {
            let uri = s.keep();
            if let Some(file) = &args.env_file {
                let lines = env_lines(
                    &uri,
                    &settings,
                    done.instance.database(),
                    pid,
                    done.instance.dir(),
                );
                write_env_file(file, &lines)?;
                info(
                    quiet,
                    &format!(
                        "appended NEO4J_URI and the other connection settings to {}",
                        file.display()
                    ),
                );
            }
            Some(uri)
        }
        Some(s) => {
            let t = Instant::now();
            s.stop().context("stopping Neo4j")?;
            timed("server stop", t);
            None
        }
        None => None,
    };
    let total = started.elapsed();
    let e = &plan.expected;
    if json {
        let mut doc = serde_json::json!({
            "operation_id": plan.op.id,
            "out": out_dir.display().to_string(),
            "instance": done.instance.dir().display().to_string(),
            "uri": kept.as_deref().unwrap_or(&uri),
            "running": kept.is_some(),
            "pid": kept.is_some().then_some(pid),
            "imported": { "nodes": done.report.nodes, "relationships": done.report.relationships, "properties": done.report.properties },
            "expected": e,
            "stages": stages.iter().map(|s| (s.name.replace(' ', "_"), serde_json::json!(s.time.as_secs_f64()))).collect::<serde_json::Map<_, _>>(),
            "total_seconds": total.as_secs_f64(),
            "verify": verdict.to_json(),
            "dump": dumped.as_ref().map(super::import::dump_json),
            "passed": verdict.passed(),
        });
        if let Some(key) = &fixture {
            doc["cache"] = serde_json::json!({ "key": key, "hit": hit.is_some() });
        }
        super::json::print("run", doc)?;
    } else {
        let summary = RunSummary {
            operation_id: &plan.op.id,
            expected: e,
            stages: &stages,
            total,
            verify_table: (!verdict.passed() || !global.quiet).then(|| verdict.table()),
            passed: verdict.passed(),
            instance: done.instance.dir(),
            server: match kept {
                Some(uri) => Server::Running { uri, pid },
                None => Server::Stopped,
            },
        };
        out(&run_summary(&summary))?;
        if let Some(d) = &dumped {
            out(&super::import::dump_summary(d))?;
        }
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_MISMATCH)
    })
}

/// Settings for `uri` with the credentials of NEO4J_USERNAME (or NEO4J_USER) and NEO4J_PASSWORD.
fn env_settings(uri: &str) -> ConnectionSettings {
    ConnectionSettings {
        uri: uri.to_string(),
        user: std::env::var("NEO4J_USERNAME")
            .or_else(|_| std::env::var("NEO4J_USER"))
            .unwrap_or_else(|_| "neo4j".into()),
        password: Secret::new(std::env::var("NEO4J_PASSWORD").unwrap_or_default()),
        database: None,
    }
}

/// Refuses an `--env-file` that cannot be written, before any work.
fn check_env_file(file: &Path) -> anyhow::Result<()> {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "--env-file {}: its directory {} does not exist; create it or pass another file",
            file.display(),
            parent.display()
        );
    }
    if file.exists() && !file.is_file() {
        anyhow::bail!(
            "--env-file {}: exists and is not a regular file; pass a file path",
            file.display()
        );
    }
    Ok(())
}

/// The KEY=VALUE lines of the CI hand-off: what a client needs to connect, the server's pid,
/// and the instance directory for `tenantgen stop`.
fn env_lines(
    uri: &str,
    settings: &ConnectionSettings,
    database: &str,
    pid: u32,
    instance: &Path,
) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("NEO4J_URI", uri.to_string()),
        ("NEO4J_USERNAME", settings.user.clone()),
    ];
    if !settings.password.expose().is_empty() {
        lines.push(("NEO4J_PASSWORD", settings.password.expose().to_string()));
    }
    lines.push(("NEO4J_DATABASE", database.to_string()));
    lines.push(("NEO4J_PID", pid.to_string()));
    lines.push(("TENANTGEN_INSTANCE", instance.display().to_string()));
    lines
}

/// Appends `lines` to `file` (created owner-only: it may hold a password). Appending, not
/// replacing: `$GITHUB_ENV` and a user's dotenv file hold other lines, and the last value of a
/// key wins in both.
fn write_env_file(file: &Path, lines: &[(&str, String)]) -> anyhow::Result<()> {
    let mut text = String::new();
    for (key, value) in lines {
        if value.contains(['\n', '\r']) {
            anyhow::bail!("--env-file {}: the value of {key} has a line break, which a KEY=VALUE file cannot hold; the server is running (stop it with `tenantgen stop`)", file.display());
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("opening --env-file {}", file.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing --env-file {}", file.display()))?;
    Ok(())
}

/// The fixture-cache key of this job (see [`crate::fixture::key`]).
fn cache_key(args: &RunArgs) -> anyhow::Result<String> {
    let (config, _) = args.generate.config()?;
    if config.timestamp.is_none() {
        anyhow::bail!(
            "--cache and --print-cache-key need --timestamp: without it each run makes another operation (its id and markers carry the time), so no cached store could ever be reused; pin one, e.g. --timestamp 2025-11-15T21:17:00Z"
        );
    }
    let op = crate::config::OperationInfo::resolve(&config)?;
    let home = crate::neo4j::NeoHome::locate(args.neo4j.neo4j_home.as_deref())?;
    let version = home.version()?;
    let database = crate::config::DatabaseName::for_import(&args.neo4j.database)?;
    Ok(crate::fixture::key(
        &config,
        &op,
        &version,
        database.as_str(),
    )?)
}

fn open_cache(dir: Option<&Path>, max_size: &str) -> anyhow::Result<Cache> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => Cache::default_dir().context(
            "--cache: neither XDG_CACHE_HOME nor HOME is set, so there is no default cache directory; pass --cache DIR",
        )?,
    };
    let bytes = crate::import::size_bytes(max_size);
    if bytes == 0 {
        anyhow::bail!("--cache-max-size {max_size}: pass a size such as 10G, 512m or 2048k");
    }
    Ok(Cache::open(&dir, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_takes_an_optional_directory_anywhere_on_the_line() {
        use clap::Parser;
        let cache = |args: &[&str]| {
            let cli = crate::cli::Cli::try_parse_from([&["tenantgen", "run"], args].concat())
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            let crate::cli::Command::Run(a) = cli.command else {
                panic!("not run")
            };
            a.cache
        };
        assert_eq!(cache(&[]), None);
        assert_eq!(cache(&["--cache"]), Some(None));
        assert_eq!(cache(&["--cache", "--print-cache-key"]), Some(None));
        assert_eq!(cache(&["--cache", "/c"]), Some(Some(PathBuf::from("/c"))));
    }

    #[test]
    fn env_file_appends_and_names_the_password_only_with_auth() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("ci.env");
        std::fs::write(&file, "KEPT=1\n").unwrap();
        let local = ConnectionSettings::local("bolt://127.0.0.1:7");
        let lines = env_lines("bolt://127.0.0.1:7", &local, "neo4j", 42, tmp.path());
        write_env_file(&file, &lines).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("KEPT=1\nNEO4J_URI=bolt://127.0.0.1:7\n"),
            "{text}"
        );
        assert!(text.contains("\nNEO4J_PID=42\n") && !text.contains("NEO4J_PASSWORD"));
        let mut auth = local.clone();
        auth.password = Secret::new("s3cret");
        let lines = env_lines("bolt://127.0.0.1:7", &auth, "neo4j", 42, tmp.path());
        assert!(lines.contains(&("NEO4J_PASSWORD", "s3cret".to_string())));
        let broken = [("NEO4J_PASSWORD", "a\nb".to_string())];
        assert!(write_env_file(&file, &broken).is_err());
        assert!(check_env_file(&tmp.path().join("missing/ci.env")).is_err());
    }
}
