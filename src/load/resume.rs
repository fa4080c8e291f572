//! Resuming a load: `DIR/.load-progress.json` records the completed batches per target
//! (URI + database) with the batch size and operation id, so a re-run skips them without
//! sending anything. It is only a shortcut — a batch re-sent after a crash is harmless (see
//! [`super`]) — so every write is best effort, and a record the graph contradicts is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{LoadPlan, Result};
use crate::neo4j::Client;

/// The progress file inside the generated directory.
pub const PROGRESS_FILE: &str = ".load-progress.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProgressDoc {
    #[serde(default)]
    targets: BTreeMap<String, TargetProgress>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TargetProgress {
    operation_id: String,
    batch_size: usize,
    /// Completed batch indices by data file (or `<group>#parallel`).
    done: BTreeMap<String, BTreeSet<u64>>,
}

/// `DIR/.load-progress.json`; writes are best effort (a read-only directory only loses the
/// shortcut, never correctness).
pub(super) struct ProgressFile {
    path: Option<PathBuf>,
    doc: ProgressDoc,
    target: String,
}

impl ProgressFile {
    pub(super) fn open(
        dir: &Path,
        target: &str,
        operation: &str,
        batch_size: usize,
        notes: &mut Vec<String>,
    ) -> ProgressFile {
        let path = dir.join(PROGRESS_FILE);
        let mut doc: ProgressDoc = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let entry = doc.targets.entry(target.to_string()).or_default();
        if entry.operation_id != operation || entry.batch_size != batch_size {
            if !entry.done.is_empty() {
                notes.push(format!(
                    "{PROGRESS_FILE}: earlier progress was for batch size {} / operation {}; starting the record afresh (MERGE keeps the load exact)",
                    entry.batch_size, entry.operation_id
                ));
            }
            *entry = TargetProgress {
                operation_id: operation.into(),
                batch_size,
                ..TargetProgress::default()
            };
        } else if !entry.done.is_empty() {
            let n: usize = entry.done.values().map(BTreeSet::len).sum();
            notes.push(format!(
                "resuming: {PROGRESS_FILE} marks {n} batches of this operation as done"
            ));
        }
        let mut file = ProgressFile {
            path: Some(path),
            doc,
            target: target.into(),
        };
        if let Err(e) = file.save() {
            notes.push(format!(
                "cannot write {PROGRESS_FILE} ({e}); a re-run will re-send every batch (still exact)"
            ));
            file.path = None;
        }
        file
    }

    fn entry(&mut self) -> &mut TargetProgress {
        self.doc.targets.entry(self.target.clone()).or_default()
    }

    pub(super) fn is_done(&mut self, file: &str, batch: u64) -> bool {
        self.entry()
            .done
            .get(file)
            .is_some_and(|s| s.contains(&batch))
    }

    pub(super) fn mark(&mut self, file: &str, batch: u64) {
        self.entry()
            .done
            .entry(file.to_string())
            .or_default()
            .insert(batch);
        let _ = self.save();
    }

    /// The load finished: the record is only for resuming, so it goes (a later re-run, e.g.
    /// after `clean`, must send everything again).
    pub(super) fn finish(&mut self) {
        self.doc.targets.remove(&self.target);
        let _ = match &self.path {
            Some(path) if self.doc.targets.is_empty() => std::fs::remove_file(path),
            _ => self.save(),
        };
    }

    /// A lower bound of the node rows the recorded node batches hold.
    fn recorded_node_rows(&mut self, node_files: &[String], batch_size: usize) -> u64 {
        let done = &self.entry().done;
        node_files
            .iter()
            .filter_map(|f| done.get(f))
            .map(|s| s.len().saturating_sub(1) as u64 * batch_size as u64)
            .sum()
    }

    fn recorded(&mut self) -> usize {
        self.entry().done.values().map(BTreeSet::len).sum()
    }

    /// Forgets the recorded batches (the graph does not hold them any more).
    fn reset(&mut self) {
        self.entry().done.clear();
        let _ = self.save();
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.doc).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

/// The progress record is trusted only while the graph still holds at least the nodes it
/// claims (a `clean` or a restored database since the crash invalidates it).
pub(super) fn check_progress(
    client: &Client,
    plan: &LoadPlan,
    operation: &str,
    batch_size: usize,
    progress: &mut ProgressFile,
    notes: &mut Vec<String>,
) -> Result<()> {
    if progress.recorded() == 0 {
        return Ok(());
    }
    let node_files: Vec<String> = plan
        .nodes
        .iter()
        .flat_map(|g| g.files.iter().map(|(name, _)| name.clone()))
        .collect();
    let claimed = progress.recorded_node_rows(&node_files, batch_size);
    let present = client.scalar_i64(
        "MATCH (n:Resource) WHERE n.scale_operation_id = $op RETURN count(n) AS c",
        &[("op", operation.into())],
    )?;
    if present == 0 || (present as u64) < claimed {
        notes.push(format!(
            "{PROGRESS_FILE} records batches the graph does not hold ({present} nodes of the operation, at least {claimed} recorded); sending everything again"
        ));
        progress.reset();
    }
    Ok(())
}
