//! Row generation: turns one part of the plan (a range of global indexes) into CSV bytes.
//! A copy's record is its base's record with a few fields replaced; fields that are not
//! replaced are copied verbatim, still escaped, from the memory-mapped baseline, so a copy's
//! properties equal its base's byte for byte and no value is decoded or re-encoded.
//!
//! Every byte derives from the plan and the global index, never from a thread or a clock, so
//! any part can be produced by any worker in any order with the same result.

use std::ops::Range;

use crate::baseline::{Baseline, End};
use crate::csvfmt;
use crate::plan::{NodeCol, Plan, RelCol, ReplicaEdges};
use crate::template::type_prefix;

/// Bytes a part buffers before handing them to the sink.
pub const FLUSH_BYTES: usize = 1 << 20;

/// Row producer for the synthetic node and relationship groups of one plan.
pub struct Generator<'a> {
    plan: &'a Plan,
    baseline: &'a Baseline,
    /// Id prefix per base.
    prefixes: Vec<&'static str>,
    op_id: Vec<u8>,
    strategy: Vec<u8>,
    gen_ts: Vec<u8>,
}

/// What a part turned out to hold.
#[derive(Debug, Default, Clone, Copy)]
pub struct PartStats {
    pub rows: u64,
    pub bytes: u64,
}

impl<'a> Generator<'a> {
    pub fn new(plan: &'a Plan, baseline: &'a Baseline) -> Self {
        let escaped = |s: &str| {
            let mut v = Vec::new();
            csvfmt::push_field(&mut v, s.as_bytes());
            v
        };
        Generator {
            plan,
            baseline,
            prefixes: baseline
                .bases
                .iter()
                .map(|b| type_prefix(&baseline.kinds[b.kind as usize]))
                .collect(),
            op_id: escaped(&plan.op.id),
            strategy: escaped(&plan.op.strategy),
            gen_ts: escaped(&plan.op.generation_timestamp),
        }
    }

    /// Writes the synthetic nodes with global indexes in `range`.
    pub fn node_part(
        &self,
        range: Range<u64>,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<PartStats> {
        let plan = self.plan;
        let mut buf = Vec::with_capacity(FLUSH_BYTES + 64 * 1024);
        let mut fields: Vec<Range<usize>> = Vec::new();
        let mut stats = PartStats::default();
        let (mut k, mut j) = plan.locate(range.start);
        let mut i = range.start;
        while i < range.end {
            while j >= u64::from(plan.copies[k]) {
                k += 1;
                j = 0;
            }
            let base = &self.baseline.bases[k];
            let columns = &plan.nodes.columns[&base.group];
            let id_col = self.baseline.node_groups[base.group as usize].id_col;
            let rec = self.baseline.base_record(base, &mut fields);
            // All copies of base k are consecutive: write them with one record split.
            let run_end = (range.end - i).min(u64::from(plan.copies[k]) - j);
            for _ in 0..run_end {
                for (c, col) in columns.iter().enumerate() {
                    if c > 0 {
                        buf.push(csvfmt::DELIMITER);
                    }
                    match *col {
                        NodeCol::Copy(f) => buf.extend_from_slice(&rec[fields[f].clone()]),
                        NodeCol::Absent => {}
                        NodeCol::Id => plan.push_id(&mut buf, self.prefixes[k], i),
                        NodeCol::Name => {
                            let f = self.baseline.node_groups[base.group as usize]
                                .name_col
                                .map(|n| &rec[fields[n].clone()])
                                .unwrap_or_default();
                            push_suffixed(&mut buf, f, j + 1);
                        }
                        NodeCol::Synthetic => buf.extend_from_slice(b"true"),
                        NodeCol::OperationId => buf.extend_from_slice(&self.op_id),
                        NodeCol::Strategy => buf.extend_from_slice(&self.strategy),
                        NodeCol::GenerationTimestamp => buf.extend_from_slice(&self.gen_ts),
                        NodeCol::SourceId => buf.extend_from_slice(&rec[fields[id_col].clone()]),
                    }
                }
                buf.push(b'\n');
                i += 1;
                j += 1;
                stats.rows += 1;
                if buf.len() >= FLUSH_BYTES {
                    stats.bytes += buf.len() as u64;
                    sink(&buf)?;
                    buf.clear();
                }
            }
        }
        stats.bytes += buf.len() as u64;
        sink(&buf)?;
        Ok(stats)
    }

    /// Writes rows `range` of a synthetic relationship group.
    pub fn edge_part(
        &self,
        group: &ReplicaEdges,
        range: Range<u64>,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<PartStats> {
        let plan = self.plan;
        let cross = plan.config.edges == crate::plan::EdgeMode::Cross;
        let mut buf = Vec::with_capacity(FLUSH_BYTES + 64 * 1024);
        let mut fields: Vec<Range<usize>> = Vec::new();
        let mut stats = PartStats::default();
        let data = &self.baseline.rel_groups[group.base_group as usize];
        let mut p = group.prefix.partition_point(|&x| x <= range.start) - 1;
        let mut r = range.start;
        while r < range.end {
            while r >= group.prefix[p + 1] {
                p += 1;
            }
            let pattern = group.patterns[p];
            let edge = &self.baseline.base_edges[pattern.edge as usize];
            let rec = self.baseline.edge_record(edge, &mut fields);
            let stop = range.end.min(group.prefix[p + 1]);
            while r < stop {
                let local = r - group.prefix[p];
                let (a, b) = match (cross, edge.end) {
                    (true, End::Base(t)) => {
                        let ct = u64::from(plan.copies[t as usize]);
                        (local / ct, local % ct)
                    }
                    _ => (local, local),
                };
                for (c, col) in group.columns.iter().enumerate() {
                    if c > 0 {
                        buf.push(csvfmt::DELIMITER);
                    }
                    match *col {
                        RelCol::Start => self.push_end(
                            &mut buf,
                            edge.start,
                            a,
                            &rec[fields[data.start_col].clone()],
                        ),
                        RelCol::End => {
                            self.push_end(&mut buf, edge.end, b, &rec[fields[data.end_col].clone()])
                        }
                        RelCol::Copy(f) => buf.extend_from_slice(&rec[fields[f].clone()]),
                        RelCol::Synthetic => buf.extend_from_slice(b"true"),
                        RelCol::OperationId => buf.extend_from_slice(&self.op_id),
                    }
                }
                buf.push(b'\n');
                r += 1;
                stats.rows += 1;
                if buf.len() >= FLUSH_BYTES {
                    stats.bytes += buf.len() as u64;
                    sink(&buf)?;
                    buf.clear();
                }
            }
        }
        stats.bytes += buf.len() as u64;
        sink(&buf)?;
        Ok(stats)
    }

    #[inline]
    fn push_end(&self, buf: &mut Vec<u8>, end: End, copy: u64, raw: &[u8]) {
        match end {
            End::Base(k) => {
                let k = k as usize;
                self.plan
                    .push_id(buf, self.prefixes[k], self.plan.prefix[k] + copy);
            }
            End::Other(_) => buf.extend_from_slice(raw),
        }
    }
}

/// Appends `-s{n}` to a raw (possibly quoted) name field.
fn push_suffixed(buf: &mut Vec<u8>, raw: &[u8], n: u64) {
    if raw.first() == Some(&csvfmt::QUOTE) {
        let mut v = csvfmt::unescape(raw)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        v.extend_from_slice(b"-s");
        csvfmt::push_u64(&mut v, n);
        csvfmt::push_field(buf, &v);
    } else {
        buf.extend_from_slice(raw);
        if !raw.is_empty() {
            buf.extend_from_slice(b"-s");
            csvfmt::push_u64(buf, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_plain_and_quoted_names() {
        let mut b = Vec::new();
        push_suffixed(&mut b, b"vnet-01", 3);
        b.push(b'|');
        push_suffixed(&mut b, b"\"a,b\"", 12);
        b.push(b'|');
        push_suffixed(&mut b, b"", 1);
        assert_eq!(String::from_utf8(b).unwrap(), "vnet-01-s3|\"a,b-s12\"|");
    }
}
