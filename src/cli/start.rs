//! `tenantgen start` / `tenantgen stop`: a server on an instance directory tenantgen made (by
//! `import` or `run`), started detached so that it outlives the terminal, and stopped again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{out, Global};
use crate::neo4j::{stop_process, store_holder, Instance, NeoHome};
use crate::outdir::Made;

/// Flags of `start`.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Instance directory (made by `tenantgen import` or `tenantgen run`).
    pub dir: PathBuf,
    /// Neo4j home (default: $NEO4J_HOME, else the project's scripts/neo4j install).
    #[arg(long, value_name = "DIR")]
    pub neo4j_home: Option<PathBuf>,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `stop`.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Instance directory whose server to stop.
    pub dir: PathBuf,
    /// Print one JSON document on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Refuses a directory that is not an instance tenantgen made: its server is not ours to run.
fn check_ours(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{} does not exist: pass an instance directory that `tenantgen import` or `tenantgen run` made",
            dir.display()
        );
    }
    if Made::of(dir) != Some(Made::Instance) {
        anyhow::bail!(
            "{} is not a Neo4j instance that tenantgen made (no `tenantgen instance` marker): start and stop it with its own tools (`neo4j start|stop`, or `scripts/neo4j start|stop NAME` for the project's named instances)",
            dir.display()
        );
    }
    Ok(())
}

pub fn start(args: StartArgs, global: Global) -> anyhow::Result<ExitCode> {
    check_ours(&args.dir)?;
    if let Some(h) = store_holder(&args.dir) {
        // Already up: say where, as a first start would (a script may start twice).
        let instance = Instance::open(&args.dir, None)?;
        if crate::neo4j::port_answers(instance.port()) {
            return report_running(&args, &instance, &instance.uri(), h.pid, true);
        }
        anyhow::bail!(
            "{} is already in use by process {} (it holds {}): `tenantgen stop {}` first",
            args.dir.display(),
            h.pid,
            h.file.display(),
            args.dir.display()
        );
    }
    let instance = Instance::open(&args.dir, None)?;
    let home = NeoHome::locate(args.neo4j_home.as_deref())?;
    let server = instance
        .start_showing_progress(&home, !global.quiet && !args.json)
        .with_context(|| format!("starting Neo4j on {}", args.dir.display()))?;
    super::note_archives(Global {
        quiet: global.quiet || args.json,
    });
    let pid = server.pid();
    let uri = server.keep();
    report_running(&args, &instance, &uri, pid, false)
}

/// What `start` prints once a server answers on the instance: one it started, or one that was
/// already up (a script may start twice).
fn report_running(
    args: &StartArgs,
    instance: &Instance,
    uri: &str,
    pid: u32,
    already: bool,
) -> anyhow::Result<ExitCode> {
    if args.json {
        super::json::print(
            "start",
            serde_json::json!({
                "instance": instance.dir().display().to_string(),
                "uri": uri,
                "pid": pid,
                "database": instance.database(),
                "already_running": already,
            }),
        )?;
    } else {
        out(&format!(
            "Neo4j {} on {}: {uri} (pid {pid}, database {}); stop it with `tenantgen stop {}`\n",
            if already {
                "already runs"
            } else {
                "is running"
            },
            args.dir.display(),
            instance.database(),
            args.dir.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stop(args: StopArgs, _global: Global) -> anyhow::Result<ExitCode> {
    check_ours(&args.dir)?;
    let Some(holder) = store_holder(&args.dir) else {
        if args.json {
            super::json::print(
                "stop",
                serde_json::json!({"instance": args.dir.display().to_string(), "stopped": false, "pid": null}),
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        out(&format!(
            "no server runs on {}: nothing to stop\n",
            args.dir.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    };
    stop_process(holder.pid, &args.dir)
        .with_context(|| format!("stopping the server on {}", args.dir.display()))?;
    let _ = std::fs::remove_file(args.dir.join("run/neo4j.pid"));
    crate::neo4j::finish_pending_archive(&args.dir.join("run"));
    if args.json {
        return super::json::print(
            "stop",
            serde_json::json!({"instance": args.dir.display().to_string(), "stopped": true, "pid": holder.pid}),
        )
        .map(|()| ExitCode::SUCCESS);
    }
    out(&format!(
        "stopped the server on {} (pid {})\n",
        args.dir.display(),
        holder.pid
    ))?;
    Ok(ExitCode::SUCCESS)
}
