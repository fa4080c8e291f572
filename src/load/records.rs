//! Reading a group's data parts into typed Bolt rows: parts are mapped (or decompressed when
//! `.gz`), split into records with [`crate::format::csv`] (the `csv` crate cannot tell `""` from an
//! empty field) and converted by the header's column types with
//! [`crate::cypher::convert_field`]. Batching and sending are [`super::sender`]'s.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use neo4rs::{BoltMap, BoltString, BoltType};

use super::{GroupPlan, LoadError, Result};
use crate::cypher;
use crate::format::csv as csvfmt;

/// A data part's bytes: mapped, or decompressed when it is `.gz`.
enum Data {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Data {
    fn open(path: &Path) -> Result<Data> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        if path.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(file)
                .read_to_end(&mut out)
                .map_err(io)?;
            return Ok(Data::Owned(out));
        }
        if file.metadata().map_err(io)?.len() == 0 {
            return Ok(Data::Owned(Vec::new()));
        }
        // SAFETY: the generated directory is not modified while `load` reads it (the same
        // assumption `baseline` makes); a concurrent truncation could fault the process.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Data::Map(map))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Data::Map(m) => m,
            Data::Owned(v) => v,
        }
    }
}

/// Calls `f(record_number, fields)` for every record of a part (raw field spans into `buf`).
pub(super) fn for_each_record(
    path: &Path,
    width: usize,
    mut f: impl FnMut(u64, &[u8], &[std::ops::Range<usize>]) -> Result<()>,
) -> Result<()> {
    let data = Data::open(path)?;
    let buf = data.bytes();
    let mut fields = Vec::with_capacity(width);
    let mut pos = 0;
    let mut record = 0u64;
    while pos < buf.len() {
        let next = csvfmt::split_record(buf, pos, &mut fields);
        record += 1;
        if fields.len() == 1 && buf[pos..next].iter().all(|b| *b == b'\n' || *b == b'\r') {
            pos = next;
            continue;
        }
        if fields.len() != width {
            return Err(LoadError::Record {
                path: path.to_path_buf(),
                record,
                message: format!("{} fields, the header has {width}", fields.len()),
            });
        }
        f(record, buf, &fields)?;
        pos = next;
    }
    Ok(())
}

/// `{props: {...}, t: {...}}` of one record: plain properties and temporal strings.
pub(super) fn record_maps(
    g: &GroupPlan,
    path: &Path,
    record: u64,
    buf: &[u8],
    fields: &[std::ops::Range<usize>],
) -> Result<(BoltMap, BoltMap)> {
    let mut props = BoltMap::with_capacity(g.props.len());
    let mut temporal = BoltMap::new();
    for p in &g.props {
        let raw = &buf[fields[p.index].clone()];
        let value =
            cypher::convert_field(p.ty, p.array, raw).map_err(|message| LoadError::Record {
                path: path.to_path_buf(),
                record,
                message: format!("column {} ({}): {message}", p.index + 1, p.name),
            })?;
        if let Some(v) = value {
            let key = BoltString::from(p.name.as_str());
            if p.temporal().is_some() {
                temporal.put(key, v);
            } else {
                props.put(key, v);
            }
        }
    }
    Ok((props, temporal))
}

pub(super) fn id_field(path: &Path, record: u64, raw: &[u8], what: &str) -> Result<String> {
    let value = csvfmt::unescape(raw).ok_or_else(|| LoadError::Record {
        path: path.to_path_buf(),
        record,
        message: format!("the {what} is empty"),
    })?;
    cypher::text(&value).map_err(|message| LoadError::Record {
        path: path.to_path_buf(),
        record,
        message: format!("the {what}: {message}"),
    })
}

pub(super) fn map(entries: Vec<(&str, BoltType)>) -> BoltType {
    let mut m = BoltMap::with_capacity(entries.len());
    for (k, v) in entries {
        m.put(BoltString::from(k), v);
    }
    BoltType::Map(m)
}

pub(super) fn rel_value(
    g: &GroupPlan,
    path: &Path,
    record: u64,
    buf: &[u8],
    fields: &[std::ops::Range<usize>],
) -> Result<BoltType> {
    let (props, t) = record_maps(g, path, record, buf, fields)?;
    Ok(map(vec![
        ("props", BoltType::Map(props)),
        ("t", BoltType::Map(t)),
    ]))
}

pub(super) fn pair_hash(s: &[u8], e: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(s);
    h.update(&[0]);
    h.update(e);
    h.digest()
}

/// Hashes of the (start, end) pairs that occur more than once in a group (one pass over the
/// ends only; a hash collision only holds a unique pair back, which stays exact).
pub(super) fn repeated_pairs(g: &GroupPlan) -> Result<HashSet<u64>> {
    let mut seen = HashSet::new();
    let mut repeated = HashSet::new();
    for (_, path) in &g.files {
        for_each_record(path, g.width, |_, buf, fields| {
            let h = pair_hash(
                &buf[fields[g.id_col].clone()],
                &buf[fields[g.end_col].clone()],
            );
            if !seen.insert(h) {
                repeated.insert(h);
            }
            Ok(())
        })?;
    }
    Ok(repeated)
}
