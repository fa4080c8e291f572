//! Row generation: turns one part of the plan (a range of global indexes) into CSV bytes.
//! A copy's record is its base's record with a few fields replaced; fields that are not
//! replaced are copied verbatim, still escaped, from the memory-mapped baseline, so a copy's
//! properties equal its base's byte for byte and no value is decoded or re-encoded.
//!
//! Every byte derives from the plan and the global index, never from a thread or a clock, so
//! any part can be produced by any worker in any order with the same result.

use std::ops::Range;

use crate::baseline::{Baseline, End};
use crate::config::EdgeMode;
use crate::cypher;
use crate::format::csv as csvfmt;
use crate::plan::links::{Links, Referenced};
use crate::plan::{
    EdgePattern, EdgeSource, NodeCol, NodeSource, OutEdges, OutNodes, Plan, RelCol, ReplicatePlan,
    Source, TemplatePlan,
};
use crate::template::type_prefix;
use crate::template::RowVars;

/// Where a part's bytes go: each call gets a buffer of whole rows and how many rows it holds.
pub type Sink<'a> = dyn FnMut(&[u8], u64) -> std::io::Result<()> + 'a;

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

    /// Writes rows `range` of a synthetic node group.
    pub fn node_part(
        &self,
        group: &OutNodes,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        match (&group.source, &self.plan.source) {
            (NodeSource::Replica { columns }, Source::Replicate(rp)) => {
                self.replica_nodes(rp, columns, range, sink)
            }
            (NodeSource::Template, Source::Template(tp)) => self.template_nodes(tp, range, sink),
            (
                NodeSource::ResourceGroups | NodeSource::Regions | NodeSource::Tag,
                Source::Template(tp),
            ) => self.hierarchy_nodes(tp, &group.source, range, sink),
            _ => Err(mismatch(&group.name)),
        }
    }

    fn replica_nodes(
        &self,
        rp: &ReplicatePlan,
        by_group: &std::collections::HashMap<u16, Vec<NodeCol>>,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        let plan = self.plan;
        let mut out = Rows::new(sink);
        let mut fields: Vec<Range<usize>> = Vec::new();
        let mut name = String::new();
        let (mut k, mut j) = rp.locate(range.start);
        let mut i = range.start;
        while i < range.end {
            while j >= u64::from(rp.copies[k]) {
                k += 1;
                j = 0;
            }
            let base = &self.baseline.bases[k];
            let columns = &by_group[&base.group];
            let id_col = self.baseline.node_groups[base.group as usize].id_col;
            let rec = self.baseline.base_record(base, &mut fields);
            // All copies of base k are consecutive: write them with one record split.
            let run_end = (range.end - i).min(u64::from(rp.copies[k]) - j);
            for _ in 0..run_end {
                for (c, col) in columns.iter().enumerate() {
                    if c > 0 {
                        out.buf.push(csvfmt::DELIMITER);
                    }
                    match *col {
                        NodeCol::Copy(f) => out.buf.extend_from_slice(&rec[fields[f].clone()]),
                        NodeCol::Absent => {}
                        NodeCol::Id => plan.push_id(&mut out.buf, self.prefixes[k], i),
                        NodeCol::Name => {
                            let f = self.baseline.node_groups[base.group as usize]
                                .name_col
                                .map(|n| &rec[fields[n].clone()])
                                .unwrap_or_default();
                            match rp.names.as_ref().and_then(|c| c.replicate_name_pattern()) {
                                None => push_suffixed(&mut out.buf, f, j + 1),
                                Some(pattern) => {
                                    let original = csvfmt::unescape(f).unwrap_or_default();
                                    let original = String::from_utf8_lossy(&original);
                                    let vars = RowVars {
                                        index: i,
                                        copy: j + 1,
                                        original_name: &original,
                                        ..RowVars::default()
                                    };
                                    name.clear();
                                    crate::template::render_name_pattern(pattern, &vars, &mut name)
                                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                                    csvfmt::push_field(&mut out.buf, name.as_bytes());
                                }
                            }
                        }
                        NodeCol::Synthetic => out.buf.extend_from_slice(b"true"),
                        NodeCol::OperationId => out.buf.extend_from_slice(&self.op_id),
                        NodeCol::Strategy => out.buf.extend_from_slice(&self.strategy),
                        NodeCol::GenerationTimestamp => out.buf.extend_from_slice(&self.gen_ts),
                        NodeCol::SourceId => {
                            out.buf.extend_from_slice(&rec[fields[id_col].clone()])
                        }
                    }
                }
                i += 1;
                j += 1;
                out.end_row()?;
            }
        }
        out.finish()
    }

    /// Writes rows `range` of a synthetic relationship group.
    pub fn edge_part(
        &self,
        group: &OutEdges,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        match (&group.source, &self.plan.source) {
            (
                EdgeSource::Replica {
                    base_group,
                    patterns,
                    prefix,
                },
                Source::Replicate(rp),
            ) => {
                let from = ReplicaEdges {
                    rp,
                    base_group: *base_group,
                    patterns,
                    prefix,
                };
                self.replica_edges(group, &from, range, sink)
            }
            (EdgeSource::Linked(links), Source::Replicate(rp)) => {
                self.linked_edges(group, links, rp, range, sink)
            }
            (EdgeSource::Referenced(r), Source::Replicate(rp)) => {
                self.referenced_edges(group, r, rp, range, sink)
            }
            (
                EdgeSource::Replica { .. } | EdgeSource::Linked(_) | EdgeSource::Referenced(_),
                Source::Template(_),
            )
            | (_, Source::Replicate(_)) => Err(mismatch(&group.name)),
            (_, Source::Template(tp)) => self.template_edges(tp, group, range, sink),
        }
    }

    fn replica_edges(
        &self,
        group: &OutEdges,
        from: &ReplicaEdges<'_>,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        let ReplicaEdges {
            rp,
            base_group,
            patterns,
            prefix,
        } = *from;
        let cross = self.plan.config.edges == EdgeMode::Cross;
        let mut out = Rows::new(sink);
        let mut fields: Vec<Range<usize>> = Vec::new();
        let data = &self.baseline.rel_groups[base_group as usize];
        let mut p = prefix.partition_point(|&x| x <= range.start) - 1;
        let mut r = range.start;
        while r < range.end {
            while r >= prefix[p + 1] {
                p += 1;
            }
            let pattern = patterns[p];
            let edge = &self.baseline.base_edges[pattern.edge as usize];
            let rec = self.baseline.edge_record(edge, &mut fields);
            let stop = range.end.min(prefix[p + 1]);
            while r < stop {
                let local = r - prefix[p];
                let (a, b) = match (cross, edge.end) {
                    (true, End::Base(t)) => {
                        let ct = u64::from(rp.copies[t as usize]);
                        (local / ct, local % ct)
                    }
                    _ => (local, local),
                };
                for (c, col) in group.columns.iter().enumerate() {
                    if c > 0 {
                        out.buf.push(csvfmt::DELIMITER);
                    }
                    match *col {
                        RelCol::Start => self.push_end(
                            &mut out.buf,
                            rp,
                            edge.start,
                            a,
                            &rec[fields[data.start_col].clone()],
                        ),
                        RelCol::End => self.push_end(
                            &mut out.buf,
                            rp,
                            edge.end,
                            b,
                            &rec[fields[data.end_col].clone()],
                        ),
                        RelCol::Copy(f) => out.buf.extend_from_slice(&rec[fields[f].clone()]),
                        RelCol::Synthetic => out.buf.extend_from_slice(b"true"),
                        RelCol::OperationId => out.buf.extend_from_slice(&self.op_id),
                    }
                }
                r += 1;
                out.end_row()?;
            }
        }
        out.finish()
    }

    /// Rows `range` of a hierarchy link group: pair-major, copy-minor.
    fn linked_edges(
        &self,
        group: &OutEdges,
        links: &Links,
        rp: &ReplicatePlan,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        self.pair_rows(group, &links.prefix, range, sink, |buf, col, p, j| {
            let (k, e) = links.pairs[p];
            let k = k as usize;
            match (col, links.kind.copy_is_start) {
                (RelCol::Start, true) | (RelCol::End, false) => {
                    self.plan.push_id(buf, self.prefixes[k], rp.prefix[k] + j)
                }
                _ => buf.extend_from_slice(&links.ends[e as usize]),
            }
        })
    }

    /// Rows `range` of a referenced-edge group: pair-major, copy j to copy j.
    fn referenced_edges(
        &self,
        group: &OutEdges,
        refs: &Referenced,
        rp: &ReplicatePlan,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        self.pair_rows(group, &refs.prefix, range, sink, |buf, col, p, j| {
            let (s, t) = refs.pairs[p];
            let k = if col == RelCol::Start { s } else { t } as usize;
            self.plan.push_id(buf, self.prefixes[k], rp.prefix[k] + j)
        })
    }

    /// Rows `range` of a group made of pairs, pair `p` giving `prefix[p + 1] - prefix[p]` rows:
    /// `end(buf, column, p, j)` writes the start or end of row `j` of pair `p`, the markers are
    /// written here.
    fn pair_rows(
        &self,
        group: &OutEdges,
        prefix: &[u64],
        range: Range<u64>,
        sink: &mut Sink<'_>,
        end: impl Fn(&mut Vec<u8>, RelCol, usize, u64),
    ) -> std::io::Result<PartStats> {
        let mut out = Rows::new(sink);
        let mut p = prefix.partition_point(|&x| x <= range.start) - 1;
        for r in range {
            while r >= prefix[p + 1] {
                p += 1;
            }
            for (c, &col) in group.columns.iter().enumerate() {
                if c > 0 {
                    out.buf.push(csvfmt::DELIMITER);
                }
                match col {
                    RelCol::Start | RelCol::End => end(&mut out.buf, col, p, r - prefix[p]),
                    RelCol::Synthetic => out.buf.extend_from_slice(b"true"),
                    RelCol::OperationId => out.buf.extend_from_slice(&self.op_id),
                    RelCol::Copy(_) => {}
                }
            }
            out.end_row()?;
        }
        out.finish()
    }

    fn template_nodes(
        &self,
        tp: &TemplatePlan,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        let plan = self.plan;
        let seed = plan.config.seed;
        let mut out = Rows::new(sink);
        let (mut loc, mut name, mut text) = (String::new(), String::new(), String::new());
        let mut rg = String::new();
        let tenant = escaped(&tp.tenant_id);
        let sources: Vec<Vec<u8>> = (0..tp.counts.len())
            .map(|r| escaped(&cypher::template_source(&tp.template_name, r)))
            .collect();
        let render_err = |e: crate::template::TemplateError| std::io::Error::other(e.to_string());
        let (mut r, _) = tp.locate(range.start);
        for i in range {
            while i >= tp.prefix[r + 1] {
                r += 1;
            }
            let res = tp.compiled.resource(r);
            let place = tp.placement(r, i);
            tp.rg_name(place.group, &mut rg).map_err(render_err)?;
            let mut vars = tp.row_vars(seed, r, i, place, &rg);
            loc.clear();
            res.render_location(&vars, &mut loc).map_err(render_err)?;
            vars.location = &loc;
            name.clear();
            res.render_name(&vars, &mut name).map_err(render_err)?;
            plan.push_id(&mut out.buf, res.prefix(), i);
            out.buf.push(b',');
            csvfmt::push_field(&mut out.buf, name.as_bytes());
            out.buf.push(b',');
            csvfmt::push_field(&mut out.buf, res.type_name().as_bytes());
            out.buf.push(b',');
            csvfmt::push_field(&mut out.buf, loc.as_bytes());
            out.buf.push(b',');
            text.clear();
            res.render_properties_json(&vars, &name, &mut text)
                .map_err(render_err)?;
            csvfmt::push_field(&mut out.buf, text.as_bytes());
            type Render = fn(
                &crate::template::CompiledResource,
                &RowVars<'_>,
                &str,
                &mut String,
            ) -> Result<bool, crate::template::TemplateError>;
            let optional: [Render; 4] = [
                crate::template::CompiledResource::render_tags_json,
                crate::template::CompiledResource::render_sku_json,
                crate::template::CompiledResource::render_kind,
                crate::template::CompiledResource::render_plan_json,
            ];
            for f in optional {
                out.buf.push(b',');
                text.clear();
                if f(res, &vars, &name, &mut text).map_err(render_err)? {
                    csvfmt::push_field(&mut out.buf, text.as_bytes());
                }
            }
            out.buf.push(b',');
            csvfmt::push_field(&mut out.buf, vars.subscription_id.as_bytes());
            out.buf.push(b',');
            csvfmt::push_field(&mut out.buf, rg.as_bytes());
            out.buf.push(b',');
            out.buf.extend_from_slice(&tenant);
            out.buf.extend_from_slice(b",true,");
            out.buf.extend_from_slice(&self.op_id);
            out.buf.push(b',');
            out.buf.extend_from_slice(&self.strategy);
            out.buf.push(b',');
            out.buf.extend_from_slice(&self.gen_ts);
            out.buf.push(b',');
            out.buf.extend_from_slice(&sources[r]);
            out.end_row()?;
        }
        out.finish()
    }

    fn hierarchy_nodes(
        &self,
        tp: &TemplatePlan,
        source: &NodeSource,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        let mut out = Rows::new(sink);
        for x in range {
            let fields: Vec<String> = match source {
                NodeSource::ResourceGroups => {
                    let g = u64::from(tp.rg_new[x as usize]);
                    let mut name = String::new();
                    tp.rg_name(g, &mut name)
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                    vec![
                        tp.rg_id(g, &name),
                        name,
                        tp.subscription(g).to_string(),
                        "ResourceGroup".into(),
                    ]
                }
                NodeSource::Regions => {
                    let code = &tp.regions_new[x as usize];
                    vec![code.clone(), code.clone(), code.clone()]
                }
                NodeSource::Tag => {
                    let (id, key, value) = tp.tag.clone().unwrap_or_default();
                    vec![id, key, value]
                }
                _ => Vec::new(),
            };
            for f in &fields {
                csvfmt::push_field(&mut out.buf, f.as_bytes());
                out.buf.push(b',');
            }
            out.buf.extend_from_slice(b"true,");
            out.buf.extend_from_slice(&self.op_id);
            out.buf.push(b',');
            out.buf.extend_from_slice(&self.strategy);
            out.buf.push(b',');
            out.buf.extend_from_slice(&self.gen_ts);
            out.end_row()?;
        }
        out.finish()
    }

    fn template_edges(
        &self,
        tp: &TemplatePlan,
        group: &OutEdges,
        range: Range<u64>,
        sink: &mut Sink<'_>,
    ) -> std::io::Result<PartStats> {
        let plan = self.plan;
        let seed = plan.config.seed;
        let mut out = Rows::new(sink);
        let id_of = |buf: &mut Vec<u8>, i: u64| {
            let (r, _) = tp.locate(i);
            plan.push_id(buf, tp.compiled.resource(r).prefix(), i);
        };
        let mut rg = String::new();
        for x in range {
            let edge = match group.source {
                EdgeSource::Rule(k) => Some(tp.rule_edge(seed, k, x)),
                _ => None,
            };
            for (c, col) in group.columns.iter().enumerate() {
                if c > 0 {
                    out.buf.push(csvfmt::DELIMITER);
                }
                match (col, &group.source) {
                    (RelCol::Start, EdgeSource::Contains) => {
                        let (r, _) = tp.locate(x);
                        let g = tp.placement(r, x).group;
                        tp.rg_name(g, &mut rg)
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        csvfmt::push_field(&mut out.buf, tp.rg_id(g, &rg).as_bytes());
                    }
                    (RelCol::Start, EdgeSource::SubscriptionContains) => {
                        let g = u64::from(tp.rg_new[x as usize]);
                        csvfmt::push_field(&mut out.buf, tp.subscription(g).as_bytes());
                    }
                    (RelCol::End, EdgeSource::SubscriptionContains) => {
                        let g = u64::from(tp.rg_new[x as usize]);
                        tp.rg_name(g, &mut rg)
                            .map_err(|e| std::io::Error::other(e.to_string()))?;
                        csvfmt::push_field(&mut out.buf, tp.rg_id(g, &rg).as_bytes());
                    }
                    (RelCol::End, EdgeSource::Contains) => id_of(&mut out.buf, x),
                    (RelCol::Start, EdgeSource::LocatedIn)
                    | (RelCol::End, EdgeSource::LocatedIn) => {
                        let k = tp.located_prefix.partition_point(|&p| p <= x) - 1;
                        let r = tp.located[k];
                        let i = tp.prefix[r] + (x - tp.located_prefix[k]);
                        if *col == RelCol::Start {
                            id_of(&mut out.buf, i);
                        } else {
                            let code = tp.region(seed, r, i).unwrap_or_default();
                            csvfmt::push_field(&mut out.buf, code.as_bytes());
                        }
                    }
                    (RelCol::Start, EdgeSource::TaggedWith) => id_of(&mut out.buf, x),
                    (RelCol::End, EdgeSource::TaggedWith) => {
                        let id = tp.tag.as_ref().map(|t| t.0.as_str()).unwrap_or_default();
                        csvfmt::push_field(&mut out.buf, id.as_bytes());
                    }
                    (RelCol::Start, EdgeSource::Rule(_)) => {
                        id_of(&mut out.buf, edge.map_or(0, |e| e.0))
                    }
                    (RelCol::End, EdgeSource::Rule(_)) => {
                        id_of(&mut out.buf, edge.map_or(0, |e| e.1))
                    }
                    (RelCol::Synthetic, _) => out.buf.extend_from_slice(b"true"),
                    (RelCol::OperationId, _) => out.buf.extend_from_slice(&self.op_id),
                    _ => {}
                }
            }
            out.end_row()?;
        }
        out.finish()
    }

    #[inline]
    fn push_end(&self, buf: &mut Vec<u8>, rp: &ReplicatePlan, end: End, copy: u64, raw: &[u8]) {
        match end {
            End::Base(k) => {
                let k = k as usize;
                self.plan
                    .push_id(buf, self.prefixes[k], rp.prefix[k] + copy);
            }
            End::Other(_) => buf.extend_from_slice(raw),
        }
    }
}

/// The copied base edges of one replicate relationship group.
#[derive(Clone, Copy)]
struct ReplicaEdges<'p> {
    rp: &'p ReplicatePlan,
    base_group: u16,
    patterns: &'p [EdgePattern],
    prefix: &'p [u64],
}

/// A group that names one strategy's source in a plan of the other: `plan` never makes one.
fn mismatch(group: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "group {group} does not belong to this plan's strategy (a tenantgen bug)"
    ))
}

/// A part's output: rows accumulate in one buffer that goes to the sink in large writes.
struct Rows<'s> {
    buf: Vec<u8>,
    stats: PartStats,
    sink: &'s mut Sink<'s>,
    /// Rows in `buf`.
    pending: u64,
}

impl<'s> Rows<'s> {
    fn new(sink: &'s mut Sink<'s>) -> Self {
        Rows {
            buf: Vec::with_capacity(FLUSH_BYTES + 64 * 1024),
            stats: PartStats::default(),
            sink,
            pending: 0,
        }
    }

    /// Ends the current row; hands the buffer over once it is large.
    #[inline]
    fn end_row(&mut self) -> std::io::Result<()> {
        self.buf.push(b'\n');
        self.stats.rows += 1;
        self.pending += 1;
        if self.buf.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stats.bytes += self.buf.len() as u64;
        (self.sink)(&self.buf, self.pending)?;
        self.buf.clear();
        self.pending = 0;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<PartStats> {
        self.flush()?;
        Ok(self.stats)
    }
}

fn escaped(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    csvfmt::push_field(&mut v, s.as_bytes());
    v
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
