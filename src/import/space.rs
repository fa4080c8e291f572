//! Disk space of an import: the estimate of what `neo4j-admin database import full` needs
//! beside the instance directory, the free space there, and the recognition of a failure that
//! was a full disk.
//!
//! neo4j-admin reports a full disk as a bad input line (`ERROR in input … in field:
//! template_source_id:string:27`) whose `original error` is an `OutOfDiskSpaceException` naming
//! the store file it could not grow; [`out_of_space`] finds that in its output so that the user
//! is told the disk is full instead. The "store" here is what the import writes into the staging
//! instance: the database's store files (with the importer's work files at their peak), its
//! preallocated transaction log and the system database.

use std::ffi::CString;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Peak bytes of the staging instance per byte of CSV input, measured on the replicate plan
/// (1,007,341 nodes and 4,476,501 relationships from 1.34 GB of CSV peaked at 3.35 GB while
/// importing, and left a 2.44 GB instance). Strings dominate the store: the property and string
/// stores grow in 8 MiB–128 MiB chunks.
const PEAK_PER_INPUT_BYTE: (u64, u64) = (5, 2);

/// The transaction log neo4j-admin preallocates (256 MiB) and the first chunks of the property
/// and string stores: what a graph of 100,000 nodes already needs (133 MiB of CSV made a
/// 523 MB instance), while a tiny one writes neither (a 6-node import took 1.9 MB). Counted
/// up to twice the input.
const LOG_AND_CHUNKS: u64 = 320 << 20;

/// The system database, the config and the logs.
const BASE_BYTES: u64 = 16 << 20;

/// Below this many free bytes after a failed import the file system counts as full (neo4j-admin
/// grows its stores in chunks of up to 128 MiB, so a failed request leaves less than one).
const FULL_BELOW: u64 = 128 << 20;

/// The bytes the staging instance of an import of `input` CSV bytes needs at its peak.
pub fn estimate(input: u64) -> u64 {
    let (num, den) = PEAK_PER_INPUT_BYTE;
    input.saturating_mul(num) / den + LOG_AND_CHUNKS.min(input.saturating_mul(2)) + BASE_BYTES
}

/// The CSV bytes neo4j-admin reads from `files` (symbolic links followed); a gzip file counts
/// with its uncompressed size, read from its trailer.
pub fn input_bytes<'a>(files: impl IntoIterator<Item = &'a Path>) -> u64 {
    files
        .into_iter()
        .map(|p| {
            let on_disk = std::fs::metadata(p).map_or(0, |m| m.len());
            if p.extension().is_some_and(|e| e == "gz") {
                gzip_size(p).unwrap_or(on_disk).max(on_disk)
            } else {
                on_disk
            }
        })
        .sum()
}

/// The uncompressed size a gzip file records in its last four bytes (ISIZE: the size modulo
/// 2^32, exact for the parts tenantgen writes, which stay below 4 GiB).
fn gzip_size(p: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(p).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b).ok()?;
    Some(u64::from(u32::from_le_bytes(b)))
}

/// Free bytes (for an unprivileged writer) on the file system that holds `dir`, or would hold
/// it: the nearest existing ancestor is asked. None when it cannot be told.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let at = existing_ancestor(dir)?;
    let c = CString::new(at.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a NUL-terminated path that outlives the call, and `st` is a plain C struct
    // that statvfs fills in; zeroed is a valid value for it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Whether a file system with `free` bytes left after a failed import counts as full.
pub fn looks_full(free: u64) -> bool {
    free < FULL_BELOW
}

/// The mount point of the file system that holds `dir` (the highest ancestor on the same
/// device), for naming the full disk; `dir`'s nearest existing ancestor when that fails.
pub fn mount_point(dir: &Path) -> PathBuf {
    let Some(start) = existing_ancestor(dir) else {
        return dir.to_path_buf();
    };
    let Ok(dev) = std::fs::metadata(&start).map(|m| m.dev()) else {
        return start;
    };
    let mut top = start.clone();
    for a in start.ancestors().skip(1) {
        match std::fs::metadata(a) {
            Ok(m) if m.dev() == dev => top = a.to_path_buf(),
            _ => break,
        }
    }
    top
}

fn existing_ancestor(dir: &Path) -> Option<PathBuf> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(dir)
    };
    abs.ancestors().find(|a| a.exists()).map(Path::to_path_buf)
}

/// A full disk that neo4j-admin's output reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfSpace {
    /// The store file it could not grow, when the output names it.
    pub file: Option<PathBuf>,
    /// The size it asked for that file.
    pub requested: Option<u64>,
}

/// Finds a full disk in neo4j-admin's output: its `OutOfDiskSpaceException` (`System is out of
/// disk space for store file at: PATH. … Requested file size: N.`), or the OS's `No space left
/// on device` (ENOSPC) anywhere else it writes.
pub fn out_of_space(output: &str) -> Option<OutOfSpace> {
    const STORE: &str = "out of disk space for store file at: ";
    if let Some(line) = output.lines().find(|l| l.contains(STORE)) {
        let rest = &line[line.find(STORE)? + STORE.len()..];
        let file = rest
            .split(". To be able")
            .next()
            .map(|f| PathBuf::from(f.trim()));
        let requested = line
            .split("Requested file size: ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok());
        return Some(OutOfSpace { file, requested });
    }
    let enospc = output.contains("No space left on device")
        || output.contains("OutOfDiskSpaceException")
        || output.contains("ErrorCode=28");
    enospc.then_some(OutOfSpace {
        file: None,
        requested: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of neo4j-admin 5.26.31's real output for an import into a 200 MiB tmpfs (the
    /// replicate plan at 100,000 synthetic nodes; the header list shortened).
    const REAL: &str = "\
IMPORT FAILED in 10s 998ms.
Data statistics is not available.
Peak memory usage: 0B
Error in input data
WARNING Import failed. The store files in /tmp/tgB/full/.inst.staging-12827/data/databases/neo4j are left as they are, although they are likely in an unusable state.
org.neo4j.cli.CommandFailedException: Error importing csv file.
Caused by: org.neo4j.importer.FileImporter$CsvImportException: org.neo4j.internal.batchimport.input.InputException: ERROR in input
  data source: BufferedCharSeeker[source:/tmp/tgB/g100k/data/synthetic.resource.part-0000.csv, position:2338071, line:2048]
  in field: template_source_id:string:27
  for header: [id:ID(Resource), name:string, type:string, template_source_id:string]
  raw field value: vmss-8fa2cfaf27594560
  original error: org.neo4j.io.pagecache.OutOfDiskSpaceException: System is out of disk space for store file at: /tmp/tgB/full/.inst.staging-12827/data/databases/neo4j/neostore.propertystore.db.strings. To be able to proceed please allocate more disk space for the database and restart. Requested file size: 100663296. Call error: ErrorCode=28, errorMessage='No space left on device'
Caused by: org.neo4j.io.pagecache.OutOfDiskSpaceException: System is out of disk space for store file at: /tmp/tgB/full/.inst.staging-12827/data/databases/neo4j/neostore.propertystore.db.strings. To be able to proceed please allocate more disk space for the database and restart. Requested file size: 100663296. Call error: ErrorCode=28, errorMessage='No space left on device'
";

    #[test]
    fn real_importer_output_is_a_full_disk() {
        let oos = out_of_space(REAL).expect("recognised");
        assert_eq!(
            oos.file.as_deref(),
            Some(Path::new(
                "/tmp/tgB/full/.inst.staging-12827/data/databases/neo4j/neostore.propertystore.db.strings"
            ))
        );
        assert_eq!(oos.requested, Some(100_663_296));
    }

    #[test]
    fn enospc_elsewhere_is_a_full_disk_without_a_file() {
        let out = "java.io.IOException: No space left on device\n\tat java.base/...";
        assert_eq!(
            out_of_space(out),
            Some(OutOfSpace {
                file: None,
                requested: None
            })
        );
    }

    #[test]
    fn a_real_input_error_is_not_a_full_disk() {
        let out = "Caused by: org.neo4j.internal.batchimport.input.InputException: ERROR in input\n  data source: BufferedCharSeeker[source:x.csv, position:10, line:2]\n  in field: name:string:2\n  original error: Extra column not present in header on line:2";
        assert_eq!(out_of_space(out), None);
    }

    #[test]
    fn estimate_scales_with_the_input() {
        assert_eq!(estimate(0), 16 << 20);
        // 133 MiB of CSV made a 523 MB instance.
        assert!(estimate(139_676_984) > 523_587_554);
        // The measured 1.34 GB of CSV peaked at 3.35 GB: the estimate covers it.
        let e = estimate(1_338_067_265);
        assert!((3_350_000_000..4_000_000_000).contains(&e), "{e}");
    }

    #[test]
    fn free_bytes_and_mount_point_of_a_missing_dir_come_from_its_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("a/b/inst");
        assert!(free_bytes(&missing).is_some_and(|f| f > 0));
        let m = mount_point(&missing);
        assert!(tmp.path().starts_with(&m), "{m:?}");
    }

    #[test]
    fn gzip_parts_count_uncompressed() {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(&vec![b'a'; 100_000]).unwrap();
        enc.finish().unwrap();
        assert_eq!(input_bytes([p.as_path()]), 100_000);
    }
}
