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
//! Ownership: every directory tenantgen stages or lays out carries a [`MARKER`] file naming
//! what it is ([`Made`]). [`check_replace`] is the one rule for `generate --force`,
//! `export --force`, `run` and `import [--overwrite]`: an existing directory is replaced only when
//! it is empty or its marker proves it is tenantgen's output of the same kind; never `/`,
//! `$HOME`, the current directory or a repository root, never a directory that is, holds or lies
//! inside an input (the baseline, the template, the directory being imported).
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

/// The marker file in every directory tenantgen makes; its one line names the [`Made`].
pub const MARKER: &str = ".tenantgen";

/// What tenantgen made a directory as; only a directory of the same kind is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Generated,
    Export,
    Instance,
}

impl Made {
    fn word(self) -> &'static str {
        match self {
            Made::Generated => "generated",
            Made::Export => "export",
            Made::Instance => "instance",
        }
    }

    /// For messages: "generated output", ...
    pub fn describe(self) -> &'static str {
        match self {
            Made::Generated => "generated output",
            Made::Export => "an export",
            Made::Instance => "a Neo4j instance directory",
        }
    }

    /// What tenantgen made `dir` as: its [`MARKER`], else (directories written before the marker
    /// existed) a generated manifest or an instance config with tenantgen's header line.
    pub fn of(dir: &Path) -> Option<Made> {
        if let Ok(text) = fs::read_to_string(dir.join(MARKER)) {
            let word = text.trim().strip_prefix("tenantgen ")?;
            return [Made::Generated, Made::Export, Made::Instance]
                .into_iter()
                .find(|m| m.word() == word);
        }
        let manifest = fs::read_to_string(dir.join(crate::manifest::FILE_NAME)).ok();
        let generated = manifest
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| {
                v["format"] == crate::manifest::FORMAT && v["kind"] == Made::Generated.word()
            });
        if generated {
            return Some(Made::Generated);
        }
        let conf = fs::read_to_string(dir.join("conf/neo4j.conf")).unwrap_or_default();
        conf.starts_with("# Written by tenantgen")
            .then_some(Made::Instance)
    }
}

/// Writes `dir`'s [`MARKER`].
pub fn mark(dir: &Path, made: Made) -> io::Result<()> {
    fs::write(dir.join(MARKER), format!("tenantgen {}\n", made.word()))
}

/// An input that an output must not be, hold, or lie inside: ("the baseline", its path).
#[derive(Debug, Clone)]
pub struct Input {
    pub what: &'static str,
    pub path: PathBuf,
}

/// How [`check_replace`] judges a target: the flag that named it, what the command makes there,
/// and the inputs to protect.
#[derive(Debug, Clone)]
pub struct Replace<'a> {
    pub flag: &'static str,
    pub made: Made,
    pub inputs: &'a [Input],
}

/// What is at a target that [`check_replace`] allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Nothing,
    Empty,
    /// tenantgen's own output of the kind asked for.
    Ours,
}

/// A target tenantgen must not replace; each message says what is there and what to pass.
#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error("{flag} {path} is {what}: tenantgen never replaces it; pass a new directory (e.g. {flag} {example})", path = path.display(), example = path.join("tenantgen-out").display())]
    Special {
        flag: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{flag} {path} {relation} {what} {input}: tenantgen never writes over or into its input; pass a {flag} outside it", path = path.display(), input = input.display())]
    Input {
        flag: &'static str,
        path: PathBuf,
        relation: &'static str,
        what: &'static str,
        input: PathBuf,
    },
    #[error("{flag} {path} holds {entries} and no tenantgen marker ({MARKER}): tenantgen replaces only directories it made; pass a new or empty {flag}, or move the files away yourself", path = path.display())]
    NotOurs {
        flag: &'static str,
        path: PathBuf,
        entries: String,
    },
    #[error("{flag} {path} is {found} that tenantgen made, not {want}: pass another {flag}, or remove it yourself if it is no longer needed", path = path.display(), found = found.describe(), want = want.describe())]
    OtherKind {
        flag: &'static str,
        path: PathBuf,
        found: Made,
        want: Made,
    },
    #[error("{flag} {path}: {error}", path = path.display())]
    Io {
        flag: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

/// `p` made absolute with symlinks resolved as far as it exists (`a/../b` and links cannot hide
/// a protected directory).
pub fn resolve(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Whether `target` may be created or replaced by a command that makes `rule.made` there; see
/// the module docs. Nothing is changed.
pub fn check_replace(target: &Path, rule: &Replace) -> Result<Existing, OwnershipError> {
    let flag = rule.flag;
    let path = resolve(target);
    let home = std::env::var_os("HOME").map(|h| resolve(Path::new(&h)));
    let cwd = std::env::current_dir().ok().map(|d| resolve(&d));
    let special = if path.parent().is_none() {
        Some("the root directory")
    } else if home.as_deref() == Some(path.as_path()) {
        Some("your home directory ($HOME)")
    } else if cwd.as_deref() == Some(path.as_path()) {
        Some("the current directory")
    } else if path.join(".git").exists() {
        Some("a repository root (it has .git)")
    } else {
        None
    };
    if let Some(what) = special {
        return Err(OwnershipError::Special { flag, path, what });
    }
    for input in rule.inputs {
        let ip = resolve(&input.path);
        let relation = if ip == path {
            Some("is")
        } else if ip.starts_with(&path) {
            Some("contains")
        } else if path.starts_with(&ip) {
            Some("is inside")
        } else {
            None
        };
        if let Some(relation) = relation {
            return Err(OwnershipError::Input {
                flag,
                path,
                relation,
                what: input.what,
                input: ip,
            });
        }
    }
    if !path.exists() {
        return Ok(Existing::Nothing);
    }
    let io = |error| OwnershipError::Io {
        flag,
        path: path.clone(),
        error,
    };
    let mut names: Vec<String> = fs::read_dir(&path)
        .map_err(io)?
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    if names.is_empty() {
        return Ok(Existing::Empty);
    }
    match Made::of(&path) {
        Some(m) if m == rule.made => Ok(Existing::Ours),
        Some(found) => Err(OwnershipError::OtherKind {
            flag,
            path,
            found,
            want: rule.made,
        }),
        None => {
            names.sort();
            let n = names.len();
            let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            let entries = match n {
                1 => format!("1 entry ({shown})"),
                2 | 3 => format!("{n} entries ({shown})"),
                _ => format!("{n} entries ({shown}, …)"),
            };
            Err(OwnershipError::NotOurs {
                flag,
                path,
                entries,
            })
        }
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

    /// Removes `.NAME.tmp-PID`, `.NAME.staging-PID` (import's) and `.NAME.old-PID` siblings whose
    /// process is gone, and returns
    /// them. An `.old` sibling while `out` is missing is the previous output of a commit killed
    /// between its two renames: it is renamed back to `out` instead (and not returned).
    pub fn clean_stale(&self) -> Vec<PathBuf> {
        let mut cleaned = Vec::new();
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return cleaned;
        };
        let tmp = format!(".{}.tmp-", self.name);
        let staging = format!(".{}.staging-", self.name);
        let old = format!(".{}.old-", self.name);
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let temporary = file.strip_prefix(&tmp).or(file.strip_prefix(&staging));
            let (pid, aside) = match (temporary, file.strip_prefix(&old)) {
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

    /// Creates this process's temporary sibling with `headers/`, `data/` and the [`MARKER`] of
    /// `made` (replacing a leftover of the same pid); it is removed again unless committed.
    pub fn stage(&self, made: Made) -> Result<Staged, OutDirError> {
        self.create_parent()?;
        let path = self.sibling("tmp", std::process::id());
        if path.exists() {
            fs::remove_dir_all(&path).map_err(failed(Step::RemoveLeftover, &path))?;
        }
        let staged = Staged {
            target: self.clone(),
            _interrupt: crate::interrupt::remove_on_interrupt(&path),
            path,
            committed: false,
        };
        for d in ["headers", "data"] {
            let p = staged.path.join(d);
            fs::create_dir_all(&p).map_err(failed(Step::CreateDir, &p))?;
        }
        mark(&staged.path, made).map_err(failed(Step::WriteFile, &staged.path.join(MARKER)))?;
        Ok(staged)
    }
}

/// A temporary directory being filled; removed on drop unless [`Staged::commit`] succeeded.
#[derive(Debug)]
pub struct Staged {
    target: Target,
    path: PathBuf,
    committed: bool,
    _interrupt: crate::interrupt::Guard,
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
        crate::interrupt::critical(|| self.install())
    }

    fn install(&mut self) -> Result<(), OutDirError> {
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
        if crate::interrupt::requested() {
            return Err(crate::interrupt::error());
        }
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
        let staged = target.stage(Made::Generated).unwrap();
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

    fn generated_rule(inputs: &[Input]) -> Replace<'_> {
        Replace {
            flag: "--out",
            made: Made::Generated,
            inputs,
        }
    }

    #[test]
    fn only_empty_directories_and_our_own_output_are_replaced() {
        let root = tempfile::tempdir().unwrap();
        let rule = generated_rule(&[]);
        let out = root.path().join("gen");
        assert_eq!(check_replace(&out, &rule).unwrap(), Existing::Nothing);
        fs::create_dir(&out).unwrap();
        assert_eq!(check_replace(&out, &rule).unwrap(), Existing::Empty);
        fs::create_dir_all(out.join("src")).unwrap();
        fs::write(out.join("src/main.c"), "int main;").unwrap();
        fs::write(out.join("README"), "").unwrap();
        let e = check_replace(&out, &rule).unwrap_err().to_string();
        assert!(
            e.contains("holds 2 entries (README, src/) and no tenantgen marker"),
            "{e}"
        );
        // A staged directory carries the marker of what it is.
        let staged = Target::new(&out, "out").stage(Made::Generated).unwrap();
        assert_eq!(Made::of(staged.path()), Some(Made::Generated));
        staged.commit().unwrap();
        assert_eq!(check_replace(&out, &rule).unwrap(), Existing::Ours);
        mark(&out, Made::Instance).unwrap();
        let e = check_replace(&out, &rule).unwrap_err().to_string();
        assert!(
            e.contains("is a Neo4j instance directory that tenantgen made, not generated output"),
            "{e}"
        );
    }

    #[test]
    fn directories_written_before_the_marker_are_recognised() {
        let root = tempfile::tempdir().unwrap();
        let gen = root.path().join("gen");
        fs::create_dir(&gen).unwrap();
        fs::write(
            gen.join("manifest.json"),
            r#"{"format": "tenantgen/1", "kind": "generated"}"#,
        )
        .unwrap();
        assert_eq!(Made::of(&gen), Some(Made::Generated));
        // A baseline's manifest proves nothing: the seed tenant is not tenantgen's output.
        fs::write(
            gen.join("manifest.json"),
            r#"{"format": "tenantgen/1", "kind": "baseline"}"#,
        )
        .unwrap();
        assert_eq!(Made::of(&gen), None);
        let inst = root.path().join("inst");
        fs::create_dir_all(inst.join("conf")).unwrap();
        fs::write(inst.join("conf/neo4j.conf"), "# Written by tenantgen (x)\n").unwrap();
        assert_eq!(Made::of(&inst), Some(Made::Instance));
    }

    #[test]
    fn inputs_and_special_directories_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("test-data/seed");
        fs::create_dir_all(&base).unwrap();
        let inputs = [Input {
            what: "the baseline",
            path: base.clone(),
        }];
        let rule = generated_rule(&inputs);
        let err = |p: &Path| check_replace(p, &rule).unwrap_err().to_string();
        assert!(err(&base).contains(" is the baseline "), "{}", err(&base));
        let parent = root.path().join("test-data");
        assert!(
            err(&parent).contains(" contains the baseline "),
            "{}",
            err(&parent)
        );
        // Spelled another way, and not yet existing inside it.
        let dotted = root.path().join("test-data/../test-data/seed/out");
        assert!(
            err(&dotted).contains(" is inside the baseline "),
            "{}",
            err(&dotted)
        );
        let repo = root.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        assert!(err(&repo).contains("a repository root"), "{}", err(&repo));
        assert!(err(Path::new("/")).contains("the root directory"));
        let cwd = std::env::current_dir().unwrap();
        assert!(
            err(&cwd).contains("the current directory") || err(&cwd).contains("repository root")
        );
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
