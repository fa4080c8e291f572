//! The staged output directory that `write` and `export` fill, and the files in it: a hidden
//! temporary sibling (`.NAME.tmp-PID`, with `headers/` and `data/`), data parts hashed (xxh3)
//! and optionally gzipped as they are written, header files, and the commit that renames the
//! finished directory into place.
//!
//! The guarantee: after a commit, a failed commit, or a crash at any point followed by the next
//! run's [`Target::clean_stale`], `out` is either the previous directory or the new one, never a
//! mix and never a half-written one. A commit moves the previous output aside
//! (`.NAME.old-PID`) before renaming the new one in; a failure between the two renames puts it
//! back, and a crash between them is repaired by the next cleanup. Temporary siblings whose
//! process is gone are removed by that cleanup.
//!
//! This module owns the directory's mechanics only: which files a stage writes, and the wording
//! of its errors (from the [`Step`] that failed), belong to that stage.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use crate::format::header::Header;
use crate::manifest::FileEntry;

/// Output compression of the data parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    /// The data parts' file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "csv",
            Compression::Gzip => "csv.gz",
        }
    }
}

/// The path of a group's header file inside the directory.
pub fn header_path(group: &str) -> String {
    format!("headers/{group}.csv")
}

/// The path of a group's data part `index` inside the directory.
pub fn part_path(group: &str, index: usize, compress: Compression) -> String {
    format!("data/{group}.part-{index:04}.{}", compress.extension())
}

/// What was being done when an output directory operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    CreateParent,
    /// Removing this process's own leftover temporary directory.
    RemoveLeftover,
    CreateDir,
    CreateFile,
    WriteFile,
    SyncFile,
    /// Moving the previous output aside before the new one is renamed in.
    MoveAside,
    /// Renaming the new output into place.
    Install,
}

/// A failed output directory operation: the step, the path it failed on and the cause. Stages
/// turn it into their own error, worded for their command.
#[derive(Debug, thiserror::Error)]
#[error("{step:?} {path}: {error}")]
pub struct OutDirError {
    pub step: Step,
    pub path: PathBuf,
    pub error: io::Error,
}

fn failed(step: Step, path: &Path) -> impl FnOnce(io::Error) -> OutDirError + '_ {
    move |error| OutDirError {
        step,
        path: path.to_path_buf(),
        error,
    }
}

/// Where a directory is committed: `out`, the parent that holds it and its temporary siblings,
/// and the name those siblings carry.
#[derive(Debug, Clone)]
pub struct Target {
    out: PathBuf,
    parent: PathBuf,
    name: String,
}

impl Target {
    /// `fallback` names the siblings when `out` has no file name of its own (`/`, `..`).
    pub fn new(out: &Path, fallback: &str) -> Target {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| fallback.into());
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Target {
            out: out.to_path_buf(),
            parent,
            name,
        }
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    pub fn parent(&self) -> &Path {
        &self.parent
    }

    fn sibling(&self, what: &str, pid: u32) -> PathBuf {
        self.parent.join(format!(".{}.{what}-{pid}", self.name))
    }

    pub fn create_parent(&self) -> Result<(), OutDirError> {
        fs::create_dir_all(&self.parent).map_err(failed(Step::CreateParent, &self.parent))
    }

    /// Removes `.NAME.tmp-PID` and `.NAME.old-PID` siblings whose process is gone, and returns
    /// them. An `.old` sibling while `out` is missing is the previous output of a commit killed
    /// between its two renames: it is renamed back to `out` instead (and not returned).
    pub fn clean_stale(&self) -> Vec<PathBuf> {
        let mut cleaned = Vec::new();
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return cleaned;
        };
        let tmp = format!(".{}.tmp-", self.name);
        let old = format!(".{}.old-", self.name);
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let (pid, aside) = match (file.strip_prefix(&tmp), file.strip_prefix(&old)) {
                (Some(pid), _) => (pid, false),
                (None, Some(pid)) => (pid, true),
                (None, None) => continue,
            };
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            let alive = pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists();
            if alive {
                continue;
            }
            if aside && !self.out.exists() && fs::rename(e.path(), &self.out).is_ok() {
                continue;
            }
            if fs::remove_dir_all(e.path()).is_ok() {
                cleaned.push(e.path());
            }
        }
        cleaned
    }

    /// Creates this process's temporary sibling with `headers/` and `data/` (replacing a
    /// leftover of the same pid); it is removed again unless committed.
    pub fn stage(&self) -> Result<Staged, OutDirError> {
        self.create_parent()?;
        let path = self.sibling("tmp", std::process::id());
        if path.exists() {
            fs::remove_dir_all(&path).map_err(failed(Step::RemoveLeftover, &path))?;
        }
        let staged = Staged {
            target: self.clone(),
            path,
            committed: false,
        };
        for d in ["headers", "data"] {
            let p = staged.path.join(d);
            fs::create_dir_all(&p).map_err(failed(Step::CreateDir, &p))?;
        }
        Ok(staged)
    }
}

/// A temporary directory being filled; removed on drop unless [`Staged::commit`] succeeded.
#[derive(Debug)]
pub struct Staged {
    target: Target,
    path: PathBuf,
    committed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

impl Staged {
    /// The temporary directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `rel` inside the directory.
    pub fn write_file(&self, rel: &str, text: &str) -> Result<(), OutDirError> {
        let path = self.path.join(rel);
        fs::write(&path, text).map_err(failed(Step::WriteFile, &path))
    }

    /// Writes a group's header file and returns its path inside the directory.
    pub fn write_header(&self, group: &str, header: &Header) -> Result<String, OutDirError> {
        let rel = header_path(group);
        self.write_file(&rel, &header.file_text())?;
        Ok(rel)
    }

    /// Creates the data part `rel` inside the directory.
    pub fn create_part(
        &self,
        rel: String,
        compress: Compression,
    ) -> Result<PartWriter, OutDirError> {
        PartWriter::create(&self.path, rel, compress)
    }

    /// Flushes `rel`'s data to disk. Stages call it once every part is written rather than as
    /// each part finishes: a sync per part makes every worker wait for its own writeback.
    pub fn sync(&self, rel: &str) -> Result<(), OutDirError> {
        let path = self.path.join(rel);
        File::open(&path)
            .and_then(|f| f.sync_data())
            .map_err(failed(Step::SyncFile, &path))
    }

    /// Renames the directory into place, replacing a previous output last; see the module docs.
    pub fn commit(mut self) -> Result<(), OutDirError> {
        let out = self.target.out.clone();
        if out.exists() {
            let old = self.target.sibling("old", std::process::id());
            fs::rename(&out, &old).map_err(failed(Step::MoveAside, &out))?;
            if let Err(error) = fs::rename(&self.path, &out) {
                let _ = fs::rename(&old, &out);
                return Err(OutDirError {
                    step: Step::Install,
                    path: out,
                    error,
                });
            }
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(&self.path, &out).map_err(failed(Step::Install, &out))?;
        }
        self.committed = true;
        // Make the rename itself durable.
        let _ = File::open(&self.target.parent).and_then(|d| d.sync_all());
        Ok(())
    }
}

/// Counts and hashes the bytes that reach the file, so a part's checksum is that of the file
/// as stored (the compressed bytes of a `.gz` part).
struct Hashed {
    file: BufWriter<File>,
    hash: Xxh3,
    bytes: u64,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Encoded {
    Plain(Hashed),
    Gzip(flate2::write::GzEncoder<Hashed>),
}

/// One data part being written: rows are counted, bytes hashed and counted as they go, and
/// [`PartWriter::finish`] returns the part's manifest entry.
pub struct PartWriter {
    rel: String,
    path: PathBuf,
    out: Encoded,
    rows: u64,
}

impl PartWriter {
    /// Creates `dir/rel`.
    pub fn create(
        dir: &Path,
        rel: String,
        compress: Compression,
    ) -> Result<PartWriter, OutDirError> {
        let path = dir.join(&rel);
        let file = File::create(&path).map_err(failed(Step::CreateFile, &path))?;
        let hashed = Hashed {
            // Rows from `export` arrive one by one; the generator's 1 MiB buffers pass through.
            file: BufWriter::with_capacity(1 << 16, file),
            hash: Xxh3::new(),
            bytes: 0,
        };
        let out = match compress {
            Compression::None => Encoded::Plain(hashed),
            Compression::Gzip => Encoded::Gzip(flate2::write::GzEncoder::new(
                hashed,
                flate2::Compression::fast(),
            )),
        };
        Ok(PartWriter {
            rel,
            path,
            out,
            rows: 0,
        })
    }

    /// The part's full path, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends `bytes`, which hold `rows` complete rows.
    pub fn write_rows(&mut self, bytes: &[u8], rows: u64) -> io::Result<()> {
        match &mut self.out {
            Encoded::Plain(w) => w.write_all(bytes)?,
            Encoded::Gzip(w) => w.write_all(bytes)?,
        }
        self.rows += rows;
        Ok(())
    }

    /// Appends one complete row.
    pub fn write_row(&mut self, row: &[u8]) -> io::Result<()> {
        self.write_rows(row, 1)
    }

    /// Ends the part (the gzip trailer, the buffer) and returns its entry with rows, bytes and
    /// checksum.
    pub fn finish(self) -> Result<FileEntry, OutDirError> {
        let written = match self.out {
            Encoded::Plain(w) => Ok(w),
            Encoded::Gzip(w) => w.finish(),
        };
        let mut hashed = written.map_err(failed(Step::WriteFile, &self.path))?;
        hashed
            .flush()
            .map_err(failed(Step::WriteFile, &self.path))?;
        Ok(FileEntry {
            path: self.rel,
            rows: self.rows,
            bytes: Some(hashed.bytes),
            xxh3: Some(xxh3_hex(hashed.hash.digest())),
        })
    }
}

/// A checksum as the manifest records it: xxh3-64 as 16 lowercase hex digits.
pub fn xxh3_hex(digest: u64) -> String {
    format!("{digest:016x}")
}

/// The checksum of a file's bytes, streamed so a large file is never read into memory whole.
pub fn file_xxh3(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(xxh3_hex(h.digest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid no process can have (Linux caps pids at 2^22).
    const DEAD_PID: u32 = 4_000_000_000;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `out` with one file `marker` holding `text`.
    fn previous_output(out: &Path, text: &str) {
        fs::create_dir_all(out.join("data")).unwrap();
        fs::write(out.join("data/marker"), text).unwrap();
    }

    fn new_output(target: &Target) -> Staged {
        let staged = target.stage().unwrap();
        staged.write_file("data/marker", "new").unwrap();
        staged.write_file("manifest.json", "{}").unwrap();
        staged
    }

    fn marker(out: &Path) -> String {
        fs::read_to_string(out.join("data/marker")).unwrap()
    }

    #[test]
    fn commit_replaces_the_previous_output_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        previous_output(&out, "old");
        fs::write(out.join("stale-only-in-old"), "x").unwrap();
        let target = Target::new(&out, "out");
        new_output(&target).commit().unwrap();
        assert_eq!(marker(&out), "new");
        assert!(!out.join("stale-only-in-old").exists());
        assert_eq!(listing(root.path()), ["gen"]);
    }

    #[test]
    fn a_crash_before_commit_leaves_the_previous_output() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        previous_output(&out, "old");
        let target = Target::new(&out, "out");
        // An error unwinds: the staged directory is dropped.
        drop(new_output(&target));
        assert_eq!(marker(&out), "old");
        assert_eq!(listing(root.path()), ["gen"]);
        // A kill runs no destructor; the next run's cleanup removes what it left.
        std::mem::forget(new_output(&target));
        let dead = root.path().join(format!(".gen.tmp-{DEAD_PID}"));
        fs::create_dir(&dead).unwrap();
        assert_eq!(listing(root.path()).len(), 3);
        let cleaned = target.clean_stale();
        assert_eq!(cleaned.len(), 2, "{cleaned:?}");
        assert_eq!(marker(&out), "old");
        assert_eq!(listing(root.path()), ["gen"]);
    }

    #[test]
    fn a_failed_install_puts_the_previous_output_back() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        previous_output(&out, "old");
        let target = Target::new(&out, "out");
        let staged = new_output(&target);
        // The previous output is moved aside, then the rename of the new one fails.
        fs::remove_dir_all(staged.path()).unwrap();
        let e = staged.commit().unwrap_err();
        assert_eq!(e.step, Step::Install);
        assert_eq!(marker(&out), "old");
        assert_eq!(listing(root.path()), ["gen"]);
    }

    #[test]
    fn a_crash_between_the_renames_is_repaired_by_the_next_cleanup() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        previous_output(&out, "old");
        let target = Target::new(&out, "out");
        // A killed commit: the previous output moved aside, the new one still staged.
        let staged = new_output(&target);
        fs::rename(&out, root.path().join(format!(".gen.old-{DEAD_PID}"))).unwrap();
        std::mem::forget(staged);
        assert!(!out.exists());
        let cleaned = target.clean_stale();
        assert_eq!(
            cleaned.len(),
            1,
            "only the staged directory is removed: {cleaned:?}"
        );
        assert_eq!(marker(&out), "old");
        assert_eq!(listing(root.path()), ["gen"]);
        // Killed after both renames: the new output is in place, the old one goes.
        let staged = new_output(&target);
        fs::rename(&out, root.path().join(format!(".gen.old-{DEAD_PID}"))).unwrap();
        fs::rename(staged.path(), &out).unwrap();
        std::mem::forget(staged);
        target.clean_stale();
        assert_eq!(marker(&out), "new");
        assert_eq!(listing(root.path()), ["gen"]);
    }

    #[test]
    fn stale_siblings_of_live_processes_and_other_names_stay() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("gen");
        let live = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let keep = [
            format!(".gen.tmp-{}", live.id()),
            format!(".other.tmp-{DEAD_PID}"),
            ".gen.tmp-notapid".to_string(),
        ];
        for k in &keep {
            fs::create_dir(root.path().join(k)).unwrap();
        }
        assert!(Target::new(&out, "out").clean_stale().is_empty());
        let mut live = live;
        let _ = live.kill();
        let _ = live.wait();
        assert_eq!(listing(root.path()).len(), keep.len());
    }

    #[test]
    fn parts_hash_and_count_the_stored_bytes() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("data")).unwrap();
        let mut p = PartWriter::create(
            dir.path(),
            part_path("g", 7, Compression::None),
            Compression::None,
        )
        .unwrap();
        p.write_row(b"a,1\n").unwrap();
        p.write_rows(b"b,2\nc,3\n", 2).unwrap();
        let e = p.finish().unwrap();
        assert_eq!(e.path, "data/g.part-0007.csv");
        assert_eq!((e.rows, e.bytes), (3, Some(12)));
        let stored = dir.path().join(&e.path);
        assert_eq!(fs::read(&stored).unwrap(), b"a,1\nb,2\nc,3\n");
        assert_eq!(e.xxh3, Some(file_xxh3(&stored).unwrap()));
        assert_eq!(
            e.xxh3.as_deref(),
            Some(xxh3_hex(xxhash_rust::xxh3::xxh3_64(b"a,1\nb,2\nc,3\n")).as_str())
        );

        let mut gz = PartWriter::create(
            dir.path(),
            part_path("g", 0, Compression::Gzip),
            Compression::Gzip,
        )
        .unwrap();
        gz.write_rows(b"a,1\nb,2\n", 2).unwrap();
        let e = gz.finish().unwrap();
        assert_eq!(e.path, "data/g.part-0000.csv.gz");
        let stored = fs::read(dir.path().join(&e.path)).unwrap();
        assert_eq!(e.bytes, Some(stored.len() as u64));
        assert_eq!(e.xxh3, Some(xxh3_hex(xxhash_rust::xxh3::xxh3_64(&stored))));
        let mut text = String::new();
        flate2::read::GzDecoder::new(stored.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a,1\nb,2\n");
    }

    #[test]
    fn names_of_siblings_and_files() {
        let t = Target::new(Path::new("exp"), "export");
        assert_eq!(t.parent(), Path::new("."));
        assert_eq!(t.sibling("tmp", 12), Path::new("./.exp.tmp-12"));
        let t = Target::new(Path::new("/"), "out");
        assert_eq!(t.sibling("old", 3), Path::new("./.out.old-3"));
        assert_eq!(header_path("resource"), "headers/resource.csv");
    }
}
