//! The command line: clap types that mirror the flags (`*Args`), their conversion into each
//! stage's validated configuration, and the dispatch that runs a stage and maps its outcome to
//! an exit code. No stage module sees a clap type. Errors are printed here, once, with their
//! context chain.
//!
//! Exit codes: 0 done (and verified), 1 ran to the end but verification found a mismatch,
//! 2 error (bad input, missing Neo4j, failed import, ...), 130/143/129 interrupted by
//! SIGINT/SIGTERM/SIGHUP ([`crate::interrupt`]).

mod clean;
mod export;
mod generate;
mod import;
mod json;
mod load;
mod merge;
mod run;
mod start;
mod stats;
mod verify;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, DatabaseName};
use crate::neo4j::{ConnectionSettings, Secret};

pub use generate::GenerateArgs;

/// Exit code: verification found a mismatch.
pub const EXIT_MISMATCH: u8 = 1;
/// Exit code: an error.
pub const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Exit codes: 0 done (verified), 1 verification mismatch, 2 error, 130/143/129 interrupted.
Connection settings also come from NEO4J_URI, NEO4J_USERNAME (or NEO4J_USER) and NEO4J_PASSWORD.";

/// Big, realistic, reproducible Azure tenant graphs for Neo4j.
#[derive(Debug, Parser)]
#[command(name = "tenantgen", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// No progress bars and no informational output on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plan and write synthetic resources as neo4j-admin import files.
    Generate(GenerateArgs),
    /// Import a generated directory into a fresh Neo4j database with neo4j-admin.
    Import(import::ImportArgs),
    /// Combine the shard directories of one plan into one directory of the whole plan.
    Merge(merge::MergeArgs),
    /// The whole job: generate, import into a fresh database, start Neo4j, verify.
    Run(Box<run::RunArgs>),
    /// Scale a running graph in place: stream a generated directory over Bolt.
    Load(load::LoadArgs),
    /// Export a live graph into the baseline layout.
    Export(export::ExportArgs),
    /// Check the live graph against a generated directory's manifest.
    Verify(verify::VerifyArgs),
    /// Delete one operation's synthetic nodes and relationships.
    Clean(clean::CleanArgs),
    /// Totals of the live graph: real, synthetic, original, by type and by operation.
    Stats(stats::StatsArgs),
    /// Start Neo4j on an instance directory tenantgen made, detached; print its bolt:// URI.
    Start(start::StartArgs),
    /// Stop the server running on an instance directory tenantgen made.
    Stop(start::StopArgs),
}

impl Command {
    /// The command's name, as the JSON documents give it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Generate(_) => "generate",
            Command::Import(_) => "import",
            Command::Merge(_) => "merge",
            Command::Run(_) => "run",
            Command::Load(_) => "load",
            Command::Export(_) => "export",
            Command::Verify(_) => "verify",
            Command::Clean(_) => "clean",
            Command::Stats(_) => "stats",
            Command::Start(_) => "start",
            Command::Stop(_) => "stop",
        }
    }

    /// Whether `--json` was asked for (`stats --format json` too).
    pub fn json(&self) -> bool {
        match self {
            Command::Generate(a) => a.json,
            Command::Import(a) => a.json,
            Command::Merge(a) => a.json,
            Command::Run(a) => a.generate.json,
            Command::Load(a) => a.json,
            Command::Export(a) => a.json,
            Command::Verify(a) => a.json,
            Command::Clean(a) => a.json,
            Command::Stats(a) => a.json(),
            Command::Start(a) => a.json,
            Command::Stop(a) => a.json,
        }
    }
}

/// Bolt connection flags shared by the commands that talk to a running server.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Bolt URI of the server.
    #[arg(long, env = "NEO4J_URI", default_value = "bolt://127.0.0.1:7687")]
    pub uri: String,
    /// User name (also NEO4J_USER).
    #[arg(long, env = "NEO4J_USERNAME")]
    pub user: Option<String>,
    /// Password; prefer the NEO4J_PASSWORD environment variable.
    #[arg(long, env = "NEO4J_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Database name (default: the server's default database).
    #[arg(long)]
    pub database: Option<String>,
}

impl ConnectArgs {
    /// The validated connection settings.
    pub fn settings(&self) -> Result<ConnectionSettings, ConfigError> {
        let user = self
            .user
            .clone()
            .or_else(|| std::env::var("NEO4J_USER").ok())
            .unwrap_or_else(|| "neo4j".into());
        if let Some(name) = &self.database {
            // Checked only: the server matches names without case, so it is passed as given.
            DatabaseName::parse(name)?;
        }
        Ok(ConnectionSettings {
            uri: self.uri.clone(),
            user,
            password: Secret::new(self.password.clone().unwrap_or_default()),
            database: self.database.clone(),
        })
    }
}

/// Output shared by all commands.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    pub quiet: bool,
}

/// Parses the arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            // `--json` promises a document on stdout even for a command line clap refused.
            let args: Vec<String> = std::env::args().skip(1).collect();
            if code == EXIT_ERROR && args.iter().any(|a| a == "--json") {
                let command = args
                    .iter()
                    .find(|a| !a.starts_with('-'))
                    .map_or("tenantgen", String::as_str);
                let _ = json::emit(&json::usage_error_document(command, &e.to_string()));
            }
            return ExitCode::from(code);
        }
    };
    let global = Global { quiet: cli.quiet };
    let (name, json) = (cli.command.name(), cli.command.json());
    if let Err(e) = crate::interrupt::install() {
        info(
            global,
            &format!("note: cannot handle signals ({e}); an interrupt may leave temporary files"),
        );
    }
    let result = match cli.command {
        Command::Generate(a) => generate::run(a, global),
        Command::Import(a) => import::run(a, global),
        Command::Run(a) => run::run(*a, global),
        Command::Load(a) => load::run(a, global),
        Command::Export(a) => export::run(a, global),
        Command::Verify(a) => verify::run(a, global),
        Command::Clean(a) => clean::run(a, global),
        Command::Merge(a) => merge::run(a, global),
        Command::Stats(a) => stats::run(a, global),
        Command::Start(a) => start::start(a, global),
        Command::Stop(a) => start::stop(a, global),
    };
    // An error the interrupt caused (a stopped child, a removed directory) is the handler's to
    // report: it exits with 128 + the signal.
    crate::interrupt::wait_if_requested();
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            if json {
                let _ = json::emit(&json::error_document(name, &e));
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints informational text on stderr unless `--quiet`.
pub fn info(global: Global, text: &str) {
    if !global.quiet {
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

/// Prints what an export worked around, one `warning:` line each, on stderr unless `--quiet`.
pub fn warn_export(global: Global, warnings: &[crate::export::ExportWarning]) {
    for w in warnings {
        info(global, &format!("warning: {w}"));
    }
}

/// Says once what became of the JVMs' class-data archives when it costs speed (skipped, or
/// rebuilt after damage).
pub fn note_archives(global: Global) {
    for text in crate::neo4j::archive_notes() {
        info(global, &format!("note: {text}"));
    }
}

/// Notes the leftovers of interrupted runs that a stage removed.
pub fn note_cleaned(global: Global, cleaned: &[std::path::PathBuf]) {
    for p in cleaned {
        info(
            global,
            &format!(
                "removed the leftover of an interrupted run: {}",
                p.display()
            ),
        );
    }
}

/// Says that an import kept the instance's config (and why its settings may not be the
/// defaults), and its notes.
pub fn note_kept(global: Global, done: &crate::import::ImportOutcome, reset: bool) {
    if reset {
        info(
            global,
            &format!(
                "reset {}: a fresh config (auth off, Bolt port {}) and a new system database (earlier users and settings are gone)",
                done.instance.dir().display(),
                done.instance.port(),
            ),
        );
    }
    if done.kept_instance {
        info(
            global,
            &format!(
                "kept the config, system database (users, roles) and port {} of {}; only database '{}' was replaced (--reset-instance for a fresh instance)",
                done.instance.port(),
                done.instance.dir().display(),
                done.instance.database(),
            ),
        );
    }
    for note in &done.notes {
        info(global, &format!("note: {note}"));
    }
}

/// Writes to stdout; a closed pipe ends the program quietly (exit 0) at the edge.
pub fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The seed tenant shipped in `test-data/seed-tenant`.
pub fn default_baseline() -> PathBuf {
    let local = PathBuf::from("test-data/seed-tenant");
    if local.join("manifest.json").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-data/seed-tenant")
}
