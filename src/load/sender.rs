//! Sending the batches: a producer (the calling thread) streams a group's records into
//! batches, worker threads send them, each batch one auto-commit transaction retried on
//! transient failures and split when the server runs out of transaction memory. Relationship
//! pairs that repeat in a group are held back and sent whole (see [`super`] on resumability).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use neo4rs::{BoltList, BoltType};

use super::records::{
    for_each_record, id_field, map, pair_hash, record_maps, rel_value, repeated_pairs,
};
use super::resume::ProgressFile;
use super::{GroupPlan, LoadError, LoadPlan, Result};
use crate::neo4j::{Client, Retry, RetryError};
use crate::report::Bar;

/// One batch: its place (file, index) for the progress file, its query and rows.
struct Work {
    file: String,
    batch: u64,
    cypher: Arc<String>,
    rows: Vec<BoltType>,
    /// Rows of the source files this batch holds (relationship rows, not pairs).
    count: u64,
    is_rel: bool,
}

/// What the workers did, summed across them.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) nodes: AtomicU64,
    pub(super) rels: AtomicU64,
    pub(super) rels_created: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) skipped: AtomicU64,
}

/// One load's sending side: the client, the progress record and the counters the workers share.
pub(super) struct Loader<'a> {
    pub(super) client: &'a Client,
    pub(super) op: String,
    pub(super) batch_size: usize,
    pub(super) workers: usize,
    pub(super) progress: Mutex<ProgressFile>,
    pub(super) bar: Bar,
    pub(super) stats: Counters,
}

type Send<'s> = dyn FnMut(Work) -> Result<()> + 's;

impl Loader<'_> {
    /// Sends every node group, then (once every node is in, so that relationship ends match)
    /// every relationship group.
    pub(super) fn send_plan(&self, plan: &LoadPlan) -> Result<()> {
        self.phase(|send| {
            for g in &plan.nodes {
                self.produce_nodes(g, send)?;
            }
            Ok(())
        })?;
        self.phase(|send| {
            for g in &plan.rels {
                self.produce_rels(g, &plan.derived, send)?;
            }
            Ok(())
        })
    }

    /// Runs `produce` on this thread while `workers` threads send what it yields; returns the
    /// first error of either side once all sent batches are done.
    fn phase(&self, produce: impl FnOnce(&mut Send<'_>) -> Result<()>) -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(self.workers * 2);
        let rx = Mutex::new(rx);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<LoadError>> = Mutex::new(None);
        let produced = std::thread::scope(|scope| {
            for _ in 0..self.workers {
                scope.spawn(|| loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(work)) = next else { break };
                    if failed.load(Ordering::Relaxed) {
                        continue; // drain so the producer never blocks on a full channel
                    }
                    if let Err(e) = self.send(work) {
                        failed.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                });
            }
            let mut send = |w: Work| -> Result<()> {
                if crate::interrupt::requested() {
                    return Err(LoadError::Invalid("interrupted".into()));
                }
                if failed.load(Ordering::Relaxed) {
                    return Err(LoadError::Invalid("a worker failed".into()));
                }
                tx.send(w)
                    .map_err(|_| LoadError::Invalid("the workers stopped".into()))
            };
            let r = produce(&mut send);
            drop(tx);
            r
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        produced
    }

    /// Whether the progress file marks this batch done (and counts it as skipped).
    fn skip(&self, file: &str, batch: u64, rows: u64) -> bool {
        let done = self.is_done_cached(file, batch);
        if done {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            self.bar.add(rows);
        }
        done
    }

    fn produce_nodes(&self, g: &GroupPlan, send: &mut Send<'_>) -> Result<()> {
        for (name, path) in &g.files {
            let mut rows: Vec<BoltType> = Vec::with_capacity(self.batch_size);
            let mut batch = 0u64;
            let mut in_batch = 0u64;
            for_each_record(path, g.width, |record, buf, fields| {
                in_batch += 1;
                let skipping = self.is_done_cached(name, batch);
                if !skipping {
                    let id = id_field(path, record, &buf[fields[g.id_col].clone()], "node id")?;
                    let (props, t) = record_maps(g, path, record, buf, fields)?;
                    rows.push(map(vec![
                        ("id", id.into()),
                        ("props", BoltType::Map(props)),
                        ("t", BoltType::Map(t)),
                    ]));
                }
                if in_batch as usize == self.batch_size {
                    self.flush(g, name, batch, &mut rows, in_batch, send)?;
                    batch += 1;
                    in_batch = 0;
                }
                Ok(())
            })?;
            if in_batch > 0 {
                self.flush(g, name, batch, &mut rows, in_batch, send)?;
            }
        }
        Ok(())
    }

    /// Whether the progress file marks this batch done (without counting it).
    fn is_done_cached(&self, file: &str, batch: u64) -> bool {
        self.progress
            .lock()
            .map(|mut p| p.is_done(file, batch))
            .unwrap_or(false)
    }

    fn flush(
        &self,
        g: &GroupPlan,
        file: &str,
        batch: u64,
        rows: &mut Vec<BoltType>,
        count: u64,
        send: &mut Send<'_>,
    ) -> Result<()> {
        if self.skip(file, batch, count) {
            rows.clear();
            return Ok(());
        }
        let rows = std::mem::replace(rows, Vec::with_capacity(self.batch_size));
        send(Work {
            file: file.to_string(),
            batch,
            cypher: g.cypher.clone(),
            rows,
            count,
            is_rel: g.is_rel,
        })
    }

    fn produce_rels(
        &self,
        g: &GroupPlan,
        derived: &HashMap<String, String>,
        send: &mut Send<'_>,
    ) -> Result<()> {
        let repeated = repeated_pairs(g)?;
        // Pairs that repeat in the group: all their rows, sent whole after the stream.
        let mut held: BTreeMap<(String, String), Vec<BoltType>> = BTreeMap::new();
        for (name, path) in &g.files {
            let mut rows: Vec<BoltType> = Vec::with_capacity(self.batch_size);
            let mut batch = 0u64;
            let mut in_batch = 0u64;
            for_each_record(path, g.width, |record, buf, fields| {
                let s_raw = &buf[fields[g.id_col].clone()];
                let e_raw = &buf[fields[g.end_col].clone()];
                let is_repeated =
                    !repeated.is_empty() && repeated.contains(&pair_hash(s_raw, e_raw));
                if !is_repeated {
                    in_batch += 1;
                    if self.is_done_cached(name, batch) {
                        // counted, not converted
                    } else {
                        let s = id_field(path, record, s_raw, "start id")?;
                        let e = id_field(path, record, e_raw, "end id")?;
                        let rel = rel_value(g, path, record, buf, fields)?;
                        rows.push(pair_row(s, e, vec![rel], derived));
                    }
                    if in_batch as usize == self.batch_size {
                        self.flush(g, name, batch, &mut rows, in_batch, send)?;
                        batch += 1;
                        in_batch = 0;
                    }
                } else {
                    let s = id_field(path, record, s_raw, "start id")?;
                    let e = id_field(path, record, e_raw, "end id")?;
                    let rel = rel_value(g, path, record, buf, fields)?;
                    held.entry((s, e)).or_default().push(rel);
                }
                Ok(())
            })?;
            if in_batch > 0 {
                self.flush(g, name, batch, &mut rows, in_batch, send)?;
            }
        }
        let key = format!("{}#parallel", g.name);
        let mut rows = Vec::new();
        let mut count = 0u64;
        let mut batch = 0u64;
        for ((s, e), rels) in held {
            count += rels.len() as u64;
            rows.push(pair_row(s, e, rels, derived));
            if count as usize >= self.batch_size {
                self.flush(g, &key, batch, &mut rows, count, send)?;
                batch += 1;
                count = 0;
            }
        }
        if count > 0 {
            self.flush(g, &key, batch, &mut rows, count, send)?;
        }
        Ok(())
    }

    /// Sends one batch, retrying transient failures with backoff.
    fn send(&self, w: Work) -> Result<()> {
        let (foreign, missing, created) =
            self.run_rows(&w.cypher, &w.rows)
                .map_err(|f| LoadError::Batch {
                    path: w.file.clone(),
                    batch: w.batch,
                    uri: self.client.uri().into(),
                    attempts: f.attempts,
                    detail: f.detail(),
                })?;
        if foreign > 0 {
            return Err(LoadError::Foreign {
                path: w.file,
                batch: w.batch,
                count: foreign,
                operation: self.op.clone(),
            });
        }
        if missing > 0 {
            return Err(LoadError::MissingEnds {
                path: w.file,
                batch: w.batch,
                count: missing,
            });
        }
        let s = &self.stats;
        if w.is_rel {
            s.rels.fetch_add(w.count, Ordering::Relaxed);
            s.rels_created.fetch_add(created as u64, Ordering::Relaxed);
        } else {
            s.nodes.fetch_add(w.count, Ordering::Relaxed);
        }
        s.batches.fetch_add(1, Ordering::Relaxed);
        self.bar.add(w.count);
        if let Ok(mut p) = self.progress.lock() {
            p.mark(&w.file, w.batch);
        }
        Ok(())
    }

    /// Runs `cypher` over `rows`: transient failures are retried with backoff, and a batch too
    /// big for the server's transaction memory is split in halves (rows are idempotent, so a
    /// half that already went through is harmless to send again). Returns (foreign, missing,
    /// created) summed over the pieces, or the last error and the attempts made.
    fn run_rows(
        &self,
        cypher: &str,
        rows: &[BoltType],
    ) -> std::result::Result<(i64, i64, i64), RetryError> {
        let params = [
            ("rows", BoltType::List(BoltList::from(rows.to_vec()))),
            ("op", self.op.as_str().into()),
        ];
        let retry = Retry {
            give_up_on_out_of_memory: rows.len() > 1,
            ..Retry::default()
        };
        match self.client.write_with_retry(&retry, cypher, &params) {
            Ok(out) => Ok(out.last().map_or((0, 0, 0), |row| {
                (
                    row.get::<i64>("foreign").unwrap_or(0),
                    row.get::<i64>("missing").unwrap_or(0),
                    row.get::<i64>("created").unwrap_or(0),
                )
            })),
            Err(f) if f.error.is_out_of_memory() && rows.len() > 1 => {
                let (a, b) = rows.split_at(rows.len() / 2);
                let x = self.run_rows(cypher, a)?;
                let y = self.run_rows(cypher, b)?;
                Ok((x.0 + y.0, x.1 + y.1, x.2 + y.2))
            }
            Err(f) => Err(f),
        }
    }
}

/// The row of one (start, end) pair: an end named by a resolved derived key goes as its
/// elementId (`si`/`ei`), any other by its id (`s`/`e`).
fn pair_row(
    s: String,
    e: String,
    rels: Vec<BoltType>,
    derived: &HashMap<String, String>,
) -> BoltType {
    let end = |key: String| match derived.get(&key) {
        Some(element) => (
            BoltType::Null(neo4rs::BoltNull),
            BoltType::from(element.as_str()),
        ),
        None => (BoltType::from(key), BoltType::Null(neo4rs::BoltNull)),
    };
    let (s, si) = end(s);
    let (e, ei) = end(e);
    map(vec![
        ("s", s),
        ("si", si),
        ("e", e),
        ("ei", ei),
        ("rels", BoltType::List(BoltList::from(rels))),
    ])
}
