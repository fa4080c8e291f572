//! Reading a baseline directory (the seed tenant, an export, or a generated output) into the
//! index the plan needs: every node's ID space, id, kind and flags; the real abstracted
//! resources that copies are made from, with the byte offset of their record; and the edges
//! that touch them. Property payloads stay in the memory-mapped files: `generate` copies a base
//! record's fields from the mapping when it writes a copy.
//!
//! Everything is checked while indexing (header syntax, record width, typed values, duplicate
//! ids, dangling relationship ends), and every error names the file and line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::format::csv as csvfmt;
use crate::format::header::{read_header, Column, ColumnKind, Header, HeaderFileError, ValueType};

/// The longest field tenantgen accepts, in bytes: neo4j-admin's default read buffer
/// (`--read-buffer-size`, 4 MiB) must hold a whole field, and a longer one fails the import
/// halfway with a message that names neither the file nor the line.
pub const MAX_FIELD_BYTES: usize = 4 * 1024 * 1024;
use crate::manifest::{self, Expected, Manifest, ManifestError, PatternCount};

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    HeaderFile(#[from] HeaderFileError),
    #[error("cannot read {path}: {error}; the manifest lists it, so restore it or regenerate the baseline")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}:1: {message}")]
    Header { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Record {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: manifest says {expected} rows, the file has {found}; regenerate the manifest or restore the file")]
    RowCount {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("baseline {dir} has no real abstracted resources to copy (nodes labelled exactly :Resource, not :Original, without synthetic=true); pass a baseline with real resources")]
    NoBase { dir: PathBuf },
}

/// A data file mapped into memory.
pub struct Mapped {
    pub path: PathBuf,
    map: Option<Mmap>,
}

impl Mapped {
    fn open(path: PathBuf) -> Result<Mapped, BaselineError> {
        let file = File::open(&path).map_err(|error| BaselineError::Io {
            path: path.clone(),
            error,
        })?;
        let len = file
            .metadata()
            .map_err(|error| BaselineError::Io {
                path: path.clone(),
                error,
            })?
            .len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the baseline is an input that tenantgen only reads; the mapping is private
            // to this process and lives no longer than the `Baseline`. A concurrent writer would
            // make the output wrong, not unsound Rust (we only read bytes through `&[u8]`).
            Some(
                unsafe { Mmap::map(&file) }.map_err(|error| BaselineError::Io {
                    path: path.clone(),
                    error,
                })?,
            )
        };
        Ok(Mapped { path, map })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// A node group with its parsed header and mapped files.
pub struct NodeGroupData {
    pub meta: manifest::NodeGroup,
    pub header: Header,
    pub header_path: PathBuf,
    pub files: Vec<Mapped>,
    pub id_col: usize,
    pub type_col: Option<usize>,
    pub name_col: Option<usize>,
    pub synthetic_col: Option<usize>,
    pub is_abstracted: bool,
    pub is_original: bool,
}

/// A relationship group with its parsed header and mapped files.
pub struct RelGroupData {
    pub meta: manifest::RelGroup,
    pub header: Header,
    pub header_path: PathBuf,
    pub files: Vec<Mapped>,
    pub start_col: usize,
    pub end_col: usize,
}

/// The relationship from an abstracted resource to its `:Original` twin: never copied, it is how
/// a base's twin is found.
pub const SCAN_SOURCE_NODE: &str = "SCAN_SOURCE_NODE";

/// A node's flags.
pub mod flags {
    pub const SYNTHETIC: u8 = 1;
    pub const ORIGINAL: u8 = 2;
    pub const ABSTRACTED: u8 = 4;
    pub const BASE: u8 = 8;
}

/// What the index knows of one node.
#[derive(Debug, Clone, Copy)]
pub struct NodeInfo {
    pub group: u16,
    pub kind: u32,
    pub flags: u8,
}

/// A real abstracted resource that copies are made from.
#[derive(Debug, Clone)]
pub struct BaseResource {
    pub node: u32,
    pub group: u16,
    pub file: u16,
    /// Byte offset of its record in the mapped file.
    pub offset: u64,
    pub kind: u32,
}

/// One end of an edge that touches a base resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A base resource (index into [`Baseline::bases`]).
    Base(u32),
    /// Any other node, kept as it is in the copies' edges.
    Other(u32),
}

/// An edge with at least one base resource end, copied by the replicate strategy.
#[derive(Debug, Clone)]
pub struct BaseEdge {
    pub group: u16,
    pub file: u16,
    pub offset: u64,
    pub start: End,
    pub end: End,
    /// Found between the bases' `:Original` twins rather than on the bases themselves (ATG
    /// does not copy these).
    pub via_twin: bool,
}

/// The baseline's index. See the module docs.
pub struct Baseline {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub node_groups: Vec<NodeGroupData>,
    pub rel_groups: Vec<RelGroupData>,
    /// Interned node kinds (`type` values and labels).
    pub kinds: Vec<String>,
    pub nodes: Vec<NodeInfo>,
    ids: HashMap<(u16, Box<[u8]>), u32>,
    spaces: Vec<String>,
    pub bases: Vec<BaseResource>,
    pub base_edges: Vec<BaseEdge>,
    /// The base (index into `bases`) of each `:Original` twin: linked to it by
    /// `SCAN_SOURCE_NODE`, or named by its `original_id`.
    pub twins: HashMap<u32, u32>,
    /// The baseline graph's own counts.
    pub counts: Expected,
    /// Whether some node value holds a raw CR or LF (the import then needs
    /// `--multiline-fields=true`, whatever the manifest says).
    pub line_breaks: bool,
}

impl Baseline {
    /// Reads and indexes the baseline in `dir`.
    pub fn open(dir: &Path) -> Result<Baseline, BaselineError> {
        let manifest = Manifest::read(dir)?;
        let mut b = Baseline {
            dir: dir.to_path_buf(),
            manifest,
            node_groups: Vec::new(),
            rel_groups: Vec::new(),
            kinds: Vec::new(),
            nodes: Vec::new(),
            ids: HashMap::new(),
            spaces: Vec::new(),
            bases: Vec::new(),
            base_edges: Vec::new(),
            twins: HashMap::new(),
            counts: Expected::default(),
            line_breaks: false,
        };
        let mut kind_index: HashMap<String, u32> = HashMap::new();
        b.index_nodes(&mut kind_index)?;
        b.index_relationships()?;
        b.lift_twin_edges();
        Ok(b)
    }

    /// Calls `f(file, offset, start, end, raw start field, raw end field)` for every record of
    /// relationship group `g` whose ends are indexed.
    pub fn for_each_rel(&self, g: usize, mut f: impl FnMut(u16, u64, u32, u32, &[u8], &[u8])) {
        let data = &self.rel_groups[g];
        let (Some(ss), Some(es)) = (
            self.space(&data.meta.start_space),
            self.space(&data.meta.end_space),
        ) else {
            return;
        };
        let mut fields = Vec::new();
        for (fi, file) in data.files.iter().enumerate() {
            let bytes = file.bytes();
            let mut pos = 0;
            while pos < bytes.len() {
                let next = csvfmt::split_record(bytes, pos, &mut fields);
                let raw = |c: usize| fields.get(c).map(|r| &bytes[r.clone()]);
                if let (Some(rs), Some(re)) = (raw(data.start_col), raw(data.end_col)) {
                    if let (Some(s), Some(e)) = (csvfmt::unescape(rs), csvfmt::unescape(re)) {
                        if let (Some(s), Some(e)) = (self.lookup(ss, &s), self.lookup(es, &e)) {
                            f(fi as u16, pos as u64, s, e, rs, re);
                        }
                    }
                }
                pos = next.max(pos + 1);
            }
        }
    }

    /// Finds the `:Original` twins of the bases (by `SCAN_SOURCE_NODE`, else by `original_id`)
    /// and the edges between twins (or a twin and a
    /// base) that the bases themselves lack: in a scanned tenant most resource-to-resource
    /// edges (VM → NIC, subnet → NIC, VM → disk) hang on the twins. They are added to
    /// `base_edges` marked `via_twin`, each base pair and type once.
    fn lift_twin_edges(&mut self) {
        let base_of: HashMap<u32, u32> = self
            .bases
            .iter()
            .enumerate()
            .map(|(i, b)| (b.node, i as u32))
            .collect();
        let mut twins = HashMap::new();
        for g in 0..self.rel_groups.len() {
            if self.rel_groups[g].meta.rel_type != SCAN_SOURCE_NODE {
                continue;
            }
            self.for_each_rel(g, |_, _, s, e, _, _| {
                let original = |n: u32| self.nodes[n as usize].flags & flags::ORIGINAL != 0;
                let (base, twin) = if original(s) { (e, s) } else { (s, e) };
                if let (true, Some(&k)) = (original(twin), base_of.get(&base)) {
                    twins.entry(twin).or_insert(k);
                }
            });
        }
        // A scanned tenant links few bases by SCAN_SOURCE_NODE, but every abstracted resource
        // names its twin's Azure id in `original_id`.
        let original_spaces: BTreeSet<u16> = self
            .node_groups
            .iter()
            .filter(|g| g.is_original)
            .filter_map(|g| self.space(&g.meta.id_space))
            .collect();
        let linked: std::collections::HashSet<u32> = twins.values().copied().collect();
        let mut fields = Vec::new();
        for k in 0..self.bases.len() {
            if linked.contains(&(k as u32)) {
                continue;
            }
            let Some(oid) = self.base_property(k, "original_id", &mut fields) else {
                continue;
            };
            let twin = original_spaces
                .iter()
                .filter_map(|&sp| self.lookup(sp, oid.as_bytes()))
                .find(|&n| self.nodes[n as usize].flags & flags::ORIGINAL != 0);
            if let Some(t) = twin {
                twins.entry(t).or_insert(k as u32);
            }
        }
        if twins.is_empty() {
            self.twins = twins;
            return;
        }
        let key =
            |g: u16, s: u32, e: u32| (self.rel_groups[g as usize].meta.rel_type.clone(), s, e);
        let mut seen: std::collections::HashSet<(String, u32, u32)> = self
            .base_edges
            .iter()
            .filter_map(|e| match (e.start, e.end) {
                (End::Base(s), End::Base(t)) => Some(key(e.group, s, t)),
                _ => None,
            })
            .collect();
        let mut lifted = Vec::new();
        for g in 0..self.rel_groups.len() {
            if self.rel_groups[g].meta.rel_type == SCAN_SOURCE_NODE {
                continue;
            }
            self.for_each_rel(g, |file, offset, s, e, _, _| {
                let (ts, te) = (twins.get(&s), twins.get(&e));
                if ts.is_none() && te.is_none() {
                    return;
                }
                let (Some(&a), Some(&b)) = (
                    ts.or_else(|| base_of.get(&s)),
                    te.or_else(|| base_of.get(&e)),
                ) else {
                    return;
                };
                if seen.insert(key(g as u16, a, b)) {
                    lifted.push(BaseEdge {
                        group: g as u16,
                        file,
                        offset,
                        start: End::Base(a),
                        end: End::Base(b),
                        via_twin: true,
                    });
                }
            });
        }
        self.base_edges.extend(lifted);
        self.twins = twins;
    }

    /// The ID space number of `name`, if any node group uses it.
    pub fn space(&self, name: &str) -> Option<u16> {
        self.spaces.iter().position(|s| s == name).map(|i| i as u16)
    }

    /// The node with `id` in ID space `space`.
    pub fn lookup(&self, space: u16, id: &[u8]) -> Option<u32> {
        self.ids.get(&(space, Box::from(id))).copied()
    }

    /// Whether any node in `space` has this id (used to keep generated ids collision-free).
    pub fn contains_id(&self, space: &str, id: &[u8]) -> bool {
        self.space(space)
            .is_some_and(|s| self.ids.contains_key(&(s, Box::from(id))))
    }

    /// The id of the first node of the first group labelled exactly `label`.
    pub fn first_id(&self, label: &str) -> Option<String> {
        let g = self
            .node_groups
            .iter()
            .find(|g| g.meta.labels.len() == 1 && g.meta.labels[0] == label)?;
        let bytes = g.files.first()?.bytes();
        let mut fields = Vec::new();
        csvfmt::split_record(bytes, 0, &mut fields);
        let raw = &bytes[fields.get(g.id_col)?.clone()];
        csvfmt::unescape(raw).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// Calls `f` with every node id (any ID space).
    pub fn for_each_id(&self, mut f: impl FnMut(&[u8])) {
        for (_, id) in self.ids.keys() {
            f(id);
        }
    }

    /// Whether a node labelled `label` has this id (in that label's ID space).
    pub fn contains_label_id(&self, label: &str, id: &str) -> bool {
        self.node_groups
            .iter()
            .filter(|g| g.meta.labels.iter().any(|l| l == label))
            .any(|g| self.contains_id(&g.meta.id_space, id.as_bytes()))
    }

    /// Property `key` of base resource `k` as text (`None` when its group has no such column
    /// or the value is absent).
    pub fn base_property(
        &self,
        k: usize,
        key: &str,
        fields: &mut Vec<Range<usize>>,
    ) -> Option<String> {
        let b = &self.bases[k];
        let col = self.node_groups[b.group as usize].header.property(key)?;
        let rec = self.base_record(b, fields);
        let v = csvfmt::unescape(&rec[fields.get(col)?.clone()])?;
        Some(String::from_utf8_lossy(&v).into_owned())
    }

    /// The values of property `key` on the base resources with how many bases hold each, by
    /// value (absent values left out).
    pub fn real_resources_by(&self, key: &str) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut fields = Vec::new();
        for k in 0..self.bases.len() {
            if let Some(v) = self.base_property(k, key, &mut fields) {
                *counts.entry(v).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// Resources per resource group in this graph: the resources its `:ResourceGroup` nodes
    /// contain over the groups that contain any, rounded (at least 1); `None` without any.
    pub fn resources_per_group(&self) -> Option<u64> {
        let mut groups = std::collections::HashSet::new();
        let mut contained = 0u64;
        for g in 0..self.rel_groups.len() {
            if self.rel_groups[g].meta.rel_type != "CONTAINS" {
                continue;
            }
            self.for_each_rel(g, |_, _, s, _, _, _| {
                let sg = &self.node_groups[self.nodes[s as usize].group as usize];
                if sg.meta.labels.iter().any(|l| l == "ResourceGroup") {
                    groups.insert(s);
                    contained += 1;
                }
            });
        }
        (!groups.is_empty())
            .then(|| ((contained as f64 / groups.len() as f64).round() as u64).max(1))
    }

    /// The kind name of a node.
    pub fn kind_name(&self, node: u32) -> &str {
        &self.kinds[self.nodes[node as usize].kind as usize]
    }

    /// The raw fields of a base resource's record.
    pub fn base_record<'a>(
        &'a self,
        base: &BaseResource,
        fields: &mut Vec<Range<usize>>,
    ) -> &'a [u8] {
        let bytes = self.node_groups[base.group as usize].files[base.file as usize].bytes();
        let end = csvfmt::split_record(bytes, base.offset as usize, fields);
        let start = base.offset as usize;
        for f in fields.iter_mut() {
            *f = f.start - start..f.end - start;
        }
        &bytes[start..end]
    }

    /// The raw fields of a base edge's record.
    pub fn edge_record<'a>(&'a self, edge: &BaseEdge, fields: &mut Vec<Range<usize>>) -> &'a [u8] {
        let bytes = self.rel_groups[edge.group as usize].files[edge.file as usize].bytes();
        let end = csvfmt::split_record(bytes, edge.offset as usize, fields);
        let start = edge.offset as usize;
        for f in fields.iter_mut() {
            *f = f.start - start..f.end - start;
        }
        &bytes[start..end]
    }

    fn intern(kinds: &mut Vec<String>, index: &mut HashMap<String, u32>, k: &str) -> u32 {
        if let Some(&i) = index.get(k) {
            return i;
        }
        let i = kinds.len() as u32;
        kinds.push(k.to_string());
        index.insert(k.to_string(), i);
        i
    }

    fn index_nodes(&mut self, kind_index: &mut HashMap<String, u32>) -> Result<(), BaselineError> {
        let groups = self.manifest.node_groups.clone();
        let mut tally = NodeTally {
            kind_index,
            by_type: BTreeMap::new(),
            fields: Vec::new(),
        };
        for (gi, meta) in groups.into_iter().enumerate() {
            let header_path = self.dir.join(&meta.header);
            let header = read_header(&header_path)?;
            let g = self.node_group_scan(gi, &meta, &header, &header_path, tally.kind_index)?;
            let mut files = Vec::new();
            for (fi, entry) in meta.files.iter().enumerate() {
                let (mapped, rows) = self.index_file(entry, &header, |b, records, pos| {
                    b.index_node_record(&g, fi as u16, records, pos, &mut tally)
                })?;
                for l in &meta.labels {
                    *self.counts.by_label.entry(l.clone()).or_default() += rows;
                }
                self.counts.nodes += rows;
                files.push(mapped);
            }
            self.node_groups.push(NodeGroupData {
                id_col: g.id_col,
                type_col: g.type_col,
                name_col: g.name_col,
                synthetic_col: g.synthetic_col,
                is_abstracted: g.is_abstracted,
                is_original: g.is_original,
                meta,
                header,
                header_path,
                files,
            });
        }
        self.counts.by_type = tally.by_type;
        Ok(())
    }

    /// Checks a node group's header and works out, once, what indexing its records needs;
    /// registers its ID space and label kind.
    fn node_group_scan<'a>(
        &mut self,
        index: usize,
        meta: &'a manifest::NodeGroup,
        header: &'a Header,
        header_path: &Path,
        kind_index: &mut HashMap<String, u32>,
    ) -> Result<NodeGroupScan<'a>, BaselineError> {
        let id_col = node_id_column(header, header_path, meta)?;
        let space = match self.space(&meta.id_space) {
            Some(i) => i,
            None => {
                self.spaces.push(meta.id_space.clone());
                (self.spaces.len() - 1) as u16
            }
        };
        let has = |l: &str| meta.labels.iter().any(|x| x == l);
        let is_original = has("Original");
        let is_abstracted = has("Resource") && !is_original;
        let string_prop = |name: &str| {
            header.property(name).filter(|&i| {
                matches!(
                    header.columns[i].kind,
                    ColumnKind::Property {
                        ty: ValueType::String,
                        array: false
                    }
                )
            })
        };
        let min_label = meta.labels.iter().min().cloned().unwrap_or_default();
        Ok(NodeGroupScan {
            index,
            meta,
            header,
            space,
            id_col,
            type_col: string_prop("type"),
            name_col: string_prop("name"),
            synthetic_col: header.property("synthetic"),
            label_kind: Self::intern(&mut self.kinds, kind_index, &min_label),
            is_original,
            is_abstracted,
            is_plain_resource: is_abstracted && meta.labels.len() == 1,
        })
    }

    /// Indexes the node record `records` has just read, at `pos`.
    fn index_node_record(
        &mut self,
        g: &NodeGroupScan<'_>,
        file: u16,
        records: &Records<'_>,
        pos: &csv::Position,
        tally: &mut NodeTally<'_>,
    ) -> Result<(), BaselineError> {
        let rec = &records.rec;
        let line = pos.line();
        if !self.line_breaks {
            self.line_breaks = rec.iter().any(csvfmt::has_line_break);
        }
        let id = rec.get(g.id_col).unwrap_or_default();
        if id.is_empty() {
            return Err(BaselineError::Record {
                path: records.path.to_path_buf(),
                line,
                message: format!(
                    "empty id in column {}; every node needs an id",
                    g.id_col + 1
                ),
            });
        }
        let synthetic = g
            .synthetic_col
            .and_then(|c| rec.get(c))
            .is_some_and(|v| v == b"true");
        let type_val = g
            .type_col
            .and_then(|c| rec.get(c))
            .filter(|v| !v.is_empty());
        let kind = match type_val {
            Some(t) => Self::intern(
                &mut self.kinds,
                tally.kind_index,
                &String::from_utf8_lossy(t),
            ),
            None => g.label_kind,
        };
        let mut f = g.flags(synthetic);
        let node = self.nodes.len() as u32;
        if g.is_plain_resource && !synthetic {
            f |= flags::BASE;
            // Record where the record starts so generate can copy it verbatim.
            let offset = pos.byte();
            debug_assert!({
                csvfmt::split_record(records.bytes, offset as usize, &mut tally.fields);
                tally.fields.len() == g.header.columns.len()
            });
            self.bases.push(BaseResource {
                node,
                group: g.index as u16,
                file,
                offset,
                kind,
            });
        }
        if self.ids.insert((g.space, Box::from(id)), node).is_some() {
            return Err(self.duplicate_id(g, records.path, line, id));
        }
        self.nodes.push(NodeInfo {
            group: g.index as u16,
            kind,
            flags: f,
        });
        self.count_node(g, kind, synthetic, &mut tally.by_type);
        Ok(())
    }

    /// Adds one node to the baseline's own counts.
    fn count_node(
        &mut self,
        g: &NodeGroupScan<'_>,
        kind: u32,
        synthetic: bool,
        by_type: &mut BTreeMap<String, u64>,
    ) {
        if g.is_abstracted {
            *by_type
                .entry(self.kinds[kind as usize].clone())
                .or_default() += 1;
            self.counts.abstracted += 1;
            if !synthetic {
                self.counts.real_abstracted += 1;
            }
        }
        if synthetic {
            self.counts.synthetic += 1;
        }
        if g.is_original {
            self.counts.original += 1;
        }
    }

    /// The error for a node id already indexed in its ID space, pointing at the first one.
    fn duplicate_id(
        &self,
        g: &NodeGroupScan<'_>,
        path: &Path,
        line: u64,
        id: &[u8],
    ) -> BaselineError {
        let first = self
            .first_occurrence(g.index, g.id_col, &g.meta.id_space, id)
            .map(|(p, l)| format!(" (first at {}:{l})", p.display()))
            .unwrap_or_default();
        BaselineError::Record {
            path: path.to_path_buf(),
            line,
            message: format!(
                "duplicate id {:?} in ID space {}{first}; ids must be unique per ID space",
                String::from_utf8_lossy(id),
                g.meta.id_space
            ),
        }
    }

    /// Maps one data file of a group, hands each of its checked records to `index`, and checks
    /// the file's record count against the manifest; returns the mapping and the count.
    fn index_file(
        &mut self,
        entry: &manifest::FileEntry,
        header: &Header,
        mut index: impl FnMut(&mut Self, &Records<'_>, &csv::Position) -> Result<(), BaselineError>,
    ) -> Result<(Mapped, u64), BaselineError> {
        let mapped = Mapped::open(self.dir.join(&entry.path))?;
        let mut records = Records::new(&mapped.path, mapped.bytes(), header);
        while let Some(pos) = records.next()? {
            index(self, &records, &pos)?;
        }
        let rows = records.rows;
        check_row_count(&mapped.path, entry.rows, rows)?;
        Ok((mapped, rows))
    }

    /// Where `id` first appears among the node files of ID space `space` up to group `upto`
    /// (error reporting only: it rereads the files).
    fn first_occurrence(
        &self,
        upto: usize,
        current_id_col: usize,
        space: &str,
        id: &[u8],
    ) -> Option<(PathBuf, u64)> {
        for (g, meta) in self.manifest.node_groups.iter().enumerate().take(upto + 1) {
            if meta.id_space != space {
                continue;
            }
            let col = self.node_groups.get(g).map_or(current_id_col, |d| d.id_col);
            for f in &meta.files {
                let path = self.dir.join(&f.path);
                let bytes = std::fs::read(&path).ok()?;
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(bytes.as_slice());
                let mut rec = csv::ByteRecord::new();
                while rdr.read_byte_record(&mut rec).ok()? {
                    if rec.get(col) == Some(id) {
                        return Some((path, rec.position().map_or(0, |p| p.line())));
                    }
                }
            }
        }
        None
    }

    fn index_relationships(&mut self) -> Result<(), BaselineError> {
        let groups = self.manifest.relationship_groups.clone();
        let mut tally = RelTally {
            base_pos: self
                .bases
                .iter()
                .enumerate()
                .map(|(i, b)| (b.node, i as u32))
                .collect(),
            patterns: BTreeMap::new(),
        };
        for (gi, meta) in groups.into_iter().enumerate() {
            let header_path = self.dir.join(&meta.header);
            let header = read_header(&header_path)?;
            let (start_col, end_col) = rel_end_columns(&header, &header_path, &meta)?;
            let g = RelGroupScan {
                index: gi,
                meta: &meta,
                start_col,
                end_col,
                start_space: self.space(&meta.start_space).unwrap_or(u16::MAX),
                end_space: self.space(&meta.end_space).unwrap_or(u16::MAX),
                copyable: meta.rel_type != SCAN_SOURCE_NODE,
            };
            let mut files = Vec::new();
            for (fi, entry) in meta.files.iter().enumerate() {
                let (mapped, rows) = self.index_file(entry, &header, |b, records, pos| {
                    b.index_rel_record(&g, fi as u16, records, pos, &mut tally)
                })?;
                *self
                    .counts
                    .by_rel_type
                    .entry(meta.rel_type.clone())
                    .or_default() += rows;
                self.counts.relationships += rows;
                files.push(mapped);
            }
            self.rel_groups.push(RelGroupData {
                meta,
                header,
                header_path,
                files,
                start_col,
                end_col,
            });
        }
        self.counts.by_pattern = tally
            .patterns
            .into_iter()
            .map(|((s, t, e), count)| PatternCount {
                source: self.kinds[s as usize].clone(),
                rel_type: t,
                target: self.kinds[e as usize].clone(),
                count,
            })
            .collect();
        Ok(())
    }

    /// Indexes the relationship record `records` has just read, at `pos`.
    fn index_rel_record(
        &mut self,
        g: &RelGroupScan<'_>,
        file: u16,
        records: &Records<'_>,
        pos: &csv::Position,
        tally: &mut RelTally,
    ) -> Result<(), BaselineError> {
        let s = self.rel_end(
            g.start_space,
            g.start_col,
            "start",
            &g.meta.start_space,
            records,
            pos,
        )?;
        let e = self.rel_end(
            g.end_space,
            g.end_col,
            "end",
            &g.meta.end_space,
            records,
            pos,
        )?;
        let (sk, ek) = (self.nodes[s as usize].kind, self.nodes[e as usize].kind);
        *tally
            .patterns
            .entry((sk, g.meta.rel_type.clone(), ek))
            .or_default() += 1;
        if g.copyable {
            if let (Some(a), Some(b)) = (
                self.copy_end(s, &tally.base_pos),
                self.copy_end(e, &tally.base_pos),
            ) {
                if matches!(a, End::Base(_)) || matches!(b, End::Base(_)) {
                    self.base_edges.push(BaseEdge {
                        group: g.index as u16,
                        file,
                        offset: pos.byte(),
                        start: a,
                        end: b,
                        via_twin: false,
                    });
                }
            }
        }
        Ok(())
    }

    /// The node a relationship record names in column `col`, which must exist in `space`.
    fn rel_end(
        &self,
        space: u16,
        col: usize,
        what: &str,
        space_name: &str,
        records: &Records<'_>,
        pos: &csv::Position,
    ) -> Result<u32, BaselineError> {
        let id = records.rec.get(col).unwrap_or_default();
        self.ids
            .get(&(space, Box::from(id)))
            .copied()
            .ok_or_else(|| BaselineError::Record {
                path: records.path.to_path_buf(),
                line: pos.line(),
                message: format!(
                    "{what} {:?} is not a node in ID space {space_name}; add the node or remove the relationship",
                    String::from_utf8_lossy(id)
                ),
            })
    }

    /// How node `n` appears as an end of a copied edge; `None` when such an edge is not copied.
    fn copy_end(&self, n: u32, base_pos: &HashMap<u32, u32>) -> Option<End> {
        let info = self.nodes[n as usize];
        if info.flags & flags::BASE != 0 {
            Some(End::Base(base_pos[&n]))
        } else if info.flags & (flags::ORIGINAL | flags::SYNTHETIC) != 0 {
            None
        } else {
            Some(End::Other(n))
        }
    }

    /// Fails when there is nothing to copy.
    pub fn require_bases(&self) -> Result<(), BaselineError> {
        if self.bases.is_empty() {
            return Err(BaselineError::NoBase {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }
}

/// What indexing one node group's records needs to know of the group, worked out once from
/// its header and labels.
struct NodeGroupScan<'a> {
    index: usize,
    meta: &'a manifest::NodeGroup,
    header: &'a Header,
    space: u16,
    id_col: usize,
    type_col: Option<usize>,
    name_col: Option<usize>,
    synthetic_col: Option<usize>,
    /// The kind of nodes without a `type` value.
    label_kind: u32,
    is_original: bool,
    is_abstracted: bool,
    is_plain_resource: bool,
}

impl NodeGroupScan<'_> {
    /// The flags of a node of this group, apart from [`flags::BASE`].
    fn flags(&self, synthetic: bool) -> u8 {
        let mut f = 0u8;
        if synthetic {
            f |= flags::SYNTHETIC;
        }
        if self.is_original {
            f |= flags::ORIGINAL;
        }
        if self.is_abstracted {
            f |= flags::ABSTRACTED;
        }
        f
    }
}

/// What indexing the node groups carries from record to record besides the `Baseline` itself.
struct NodeTally<'k> {
    kind_index: &'k mut HashMap<String, u32>,
    by_type: BTreeMap<String, u64>,
    /// Scratch for the debug check of a base record's width.
    fields: Vec<Range<usize>>,
}

/// What indexing one relationship group's records needs to know of the group.
struct RelGroupScan<'a> {
    index: usize,
    meta: &'a manifest::RelGroup,
    start_col: usize,
    end_col: usize,
    start_space: u16,
    end_space: u16,
    /// Whether the replicate strategy copies edges of this type.
    copyable: bool,
}

/// What indexing the relationship groups carries from record to record.
struct RelTally {
    /// A base resource's node number to its index in [`Baseline::bases`].
    base_pos: HashMap<u32, u32>,
    patterns: BTreeMap<(u32, String, u32), u64>,
}

/// The `:ID` column of a node group's header, checked against the manifest's group.
fn node_id_column(
    header: &Header,
    header_path: &Path,
    meta: &manifest::NodeGroup,
) -> Result<usize, BaselineError> {
    let ids = header.find(|k| matches!(k, ColumnKind::Id { .. }));
    let id_col = match ids.as_slice() {
        [one] => *one,
        _ => {
            return Err(BaselineError::Header {
                path: header_path.to_path_buf(),
                message: format!(
                    "a node header needs exactly one :ID column, found {}",
                    ids.len()
                ),
            })
        }
    };
    if let ColumnKind::Id { space, .. } = &header.columns[id_col].kind {
        if space != &meta.id_space {
            return Err(BaselineError::Header {
                path: header_path.to_path_buf(),
                message: format!(
                    "the :ID column's ID space is {space:?} but the manifest's group {:?} says {:?}; make them agree",
                    meta.name, meta.id_space
                ),
            });
        }
    }
    if !header
        .find(|k| matches!(k, ColumnKind::StartId { .. } | ColumnKind::EndId { .. }))
        .is_empty()
    {
        return Err(BaselineError::Header {
            path: header_path.to_path_buf(),
            message: "a node header cannot have :START_ID or :END_ID columns".into(),
        });
    }
    Ok(id_col)
}

/// The `:START_ID` and `:END_ID` columns of a relationship group's header, checked against the
/// manifest's group.
fn rel_end_columns(
    header: &Header,
    header_path: &Path,
    meta: &manifest::RelGroup,
) -> Result<(usize, usize), BaselineError> {
    let starts = header.find(|k| matches!(k, ColumnKind::StartId { .. }));
    let ends = header.find(|k| matches!(k, ColumnKind::EndId { .. }));
    let (start_col, end_col) = match (starts.as_slice(), ends.as_slice()) {
        ([s], [e]) => (*s, *e),
        _ => {
            return Err(BaselineError::Header {
                path: header_path.to_path_buf(),
                message: "a relationship header needs exactly one :START_ID and one :END_ID column"
                    .into(),
            })
        }
    };
    for (col, want) in [(start_col, &meta.start_space), (end_col, &meta.end_space)] {
        let got = match &header.columns[col].kind {
            ColumnKind::StartId { space } | ColumnKind::EndId { space } => space,
            _ => unreachable!("found by kind"),
        };
        if got != want {
            return Err(BaselineError::Header {
                path: header_path.to_path_buf(),
                message: format!(
                    "column {} uses ID space {got:?} but the manifest's group {:?} says {want:?}; make them agree",
                    col + 1,
                    meta.name
                ),
            });
        }
    }
    Ok((start_col, end_col))
}

/// Fails when a data file's record count differs from the manifest's.
fn check_row_count(path: &Path, expected: u64, found: u64) -> Result<(), BaselineError> {
    if found != expected {
        return Err(BaselineError::RowCount {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    Ok(())
}

/// A node group given in memory to [`Baseline::from_memory`].
#[doc(hidden)]
pub struct MemNodes<'a> {
    pub labels: &'a [&'a str],
    pub id_space: &'a str,
    /// The header line, e.g. `id:ID(Resource),name,type`.
    pub header: &'a str,
    /// Data rows, one record per line.
    pub rows: &'a str,
}

/// A relationship group given in memory to [`Baseline::from_memory`].
#[doc(hidden)]
pub struct MemRels<'a> {
    pub rel_type: &'a str,
    pub start_space: &'a str,
    pub end_space: &'a str,
    pub header: &'a str,
    pub rows: &'a str,
}

impl Baseline {
    /// A baseline built from groups held in memory, for tests of the stages that read one.
    ///
    /// It goes through the same reading and checking as [`Baseline::open`]: the groups are
    /// written to a scratch directory, indexed, and the directory is removed (the mapped data
    /// stays readable until the `Baseline` is dropped; where removing a mapped file fails, the
    /// scratch directory is left in the temp directory).
    #[doc(hidden)]
    pub fn from_memory(
        nodes: &[MemNodes<'_>],
        rels: &[MemRels<'_>],
    ) -> Result<Baseline, BaselineError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tenantgen-mem-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| BaselineError::Io { path, error }
        };
        for sub in ["headers", "data"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io(&dir))?;
        }
        let write =
            |name: &str, header: &str, rows: &str| -> Result<manifest::FileEntry, BaselineError> {
                let (h, d) = (
                    format!("headers/{name}.csv"),
                    format!("data/{name}.part-0000.csv"),
                );
                std::fs::write(dir.join(&h), format!("{header}\n")).map_err(io(&dir.join(&h)))?;
                std::fs::write(dir.join(&d), rows).map_err(io(&dir.join(&d)))?;
                Ok(manifest::FileEntry {
                    path: d,
                    rows: rows.lines().filter(|l| !l.is_empty()).count() as u64,
                    bytes: None,
                    xxh3: None,
                })
            };
        let mut node_groups = Vec::new();
        for (i, g) in nodes.iter().enumerate() {
            let name = format!("nodes-{i}");
            let file = write(&name, g.header, g.rows)?;
            node_groups.push(manifest::NodeGroup {
                header: format!("headers/{name}.csv"),
                name,
                labels: g.labels.iter().map(|l| l.to_string()).collect(),
                id_space: g.id_space.into(),
                files: vec![file],
                origin: manifest::Origin::Baseline,
            });
        }
        let mut relationship_groups = Vec::new();
        for (i, g) in rels.iter().enumerate() {
            let name = format!("rels-{i}");
            let file = write(&name, g.header, g.rows)?;
            relationship_groups.push(manifest::RelGroup {
                header: format!("headers/{name}.csv"),
                name,
                rel_type: g.rel_type.into(),
                start_space: g.start_space.into(),
                end_space: g.end_space.into(),
                files: vec![file],
                origin: manifest::Origin::Baseline,
            });
        }
        let m = Manifest {
            format: manifest::FORMAT.into(),
            kind: manifest::Kind::Baseline,
            csv: manifest::CsvOptions::default(),
            node_groups,
            relationship_groups,
            operation: None,
            expected: None,
            shard: None,
        };
        m.write(&dir.join(manifest::FILE_NAME))?;
        let opened = Baseline::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        opened
    }
}

/// Checks what the csv reader forgives: an unclosed quote (the reader silently ends the field at
/// the end of the file) or a stray `"` in an unquoted field, and fields too long for the importer.
/// `span` is the record's bytes in `bytes`.
/// A data file's records in order, each checked against its header (raw quoting, width,
/// typed values, no header line in the data).
struct Records<'a> {
    rdr: csv::Reader<&'a [u8]>,
    rec: csv::ByteRecord,
    path: &'a Path,
    bytes: &'a [u8],
    header: &'a Header,
    rows: u64,
}

impl<'a> Records<'a> {
    fn new(path: &'a Path, bytes: &'a [u8], header: &'a Header) -> Self {
        Records {
            rdr: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes),
            rec: csv::ByteRecord::new(),
            path,
            bytes,
            header,
            rows: 0,
        }
    }

    /// Reads the next record into `self.rec` and returns where it starts.
    fn next(&mut self) -> Result<Option<csv::Position>, BaselineError> {
        let before = self.rdr.position().clone();
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => {
                return Err(BaselineError::Record {
                    path: self.path.to_path_buf(),
                    line: before.line(),
                    message: format!("{e}"),
                })
            }
        }
        self.rows += 1;
        let pos = self.rec.position().cloned().unwrap_or(before);
        let span = pos.byte() as usize..self.rdr.position().byte() as usize;
        check_raw(
            self.path,
            pos.line(),
            self.bytes,
            span,
            self.header,
            &self.rec,
        )?;
        check_record(
            self.path,
            pos.line(),
            self.header,
            &self.rec,
            self.rows == 1,
        )?;
        Ok(Some(pos))
    }
}

fn check_raw(
    path: &Path,
    line: u64,
    bytes: &[u8],
    span: Range<usize>,
    header: &Header,
    rec: &csv::ByteRecord,
) -> Result<(), BaselineError> {
    let raw = bytes.get(span).unwrap_or_default();
    // RFC 4180: a quoted field holds its two quotes plus doubled inner ones, and an unquoted
    // field holds none, so a well-formed record has an even number of quote characters.
    if memchr::memchr_iter(b'"', raw).count() % 2 == 1 {
        return Err(BaselineError::Record {
            path: path.to_path_buf(),
            line,
            message: "unbalanced quote: a quoted field that starts in this record is never closed, or a value holds a lone '\"'; close the quote, and double every '\"' inside a quoted value".into(),
        });
    }
    for (i, field) in rec.iter().enumerate() {
        if field.len() > MAX_FIELD_BYTES {
            let name = header.columns.get(i).map_or("", |c| c.name.as_str());
            return Err(BaselineError::Record {
                path: path.to_path_buf(),
                line,
                message: format!(
                    "column {} ({name}) holds a value of {} bytes, over the {MAX_FIELD_BYTES}-byte (4 MiB) limit of neo4j-admin's read buffer; shorten the value",
                    i + 1,
                    field.len()
                ),
            });
        }
    }
    Ok(())
}

fn check_record(
    path: &Path,
    line: u64,
    header: &Header,
    rec: &csv::ByteRecord,
    first: bool,
) -> Result<(), BaselineError> {
    let err = |message: String| BaselineError::Record {
        path: path.to_path_buf(),
        line,
        message,
    };
    if rec.len() != header.columns.len() {
        return Err(err(format!(
            "record has {} fields, the header has {}; every record needs exactly the header's columns",
            rec.len(),
            header.columns.len()
        )));
    }
    if first {
        let line_fields: Vec<String> = header.columns.iter().map(Column::header_field).collect();
        if rec.iter().zip(&line_fields).all(|(a, b)| a == b.as_bytes()) {
            return Err(err(
                "the data file starts with its header line; headers belong only in the header file"
                    .into(),
            ));
        }
    }
    for (i, (col, raw)) in header.columns.iter().zip(rec.iter()).enumerate() {
        let ColumnKind::Property { ty, array } = col.kind else {
            continue;
        };
        if raw.is_empty() {
            continue;
        }
        let v = std::str::from_utf8(raw).map_err(|_| {
            err(format!(
                "column {} ({}) is not valid UTF-8",
                i + 1,
                col.name
            ))
        })?;
        if ty == ValueType::String {
            continue;
        }
        let bad = if array {
            v.split(';').find(|e| !ty.accepts(e))
        } else if ty.accepts(v) {
            None
        } else {
            Some(v)
        };
        if let Some(bad) = bad {
            let shown: String = bad.chars().take(60).collect();
            return Err(err(format!(
                "column {} ({}) holds {shown:?}, which is not a {}; fix the value or the header type",
                i + 1,
                col.name,
                ty.header_name()
            )));
        }
    }
    Ok(())
}
