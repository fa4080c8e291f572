//! Class-data archives (AppCDS) for the server and `neo4j-admin`: a JVM started with
//! `-XX:SharedArchiveFile` maps the Neo4j classes it loaded last time instead of parsing and
//! verifying ~200 jars again, which takes seconds off every start. The first start of a kind
//! runs with `-XX:ArchiveClassesAtExit` into a `.part` file that [`finish`] renames into place
//! once that JVM has exited (the JVM writes the archive at exit); later starts use it.
//!
//! An archive is named by a key over everything it depends on — the Java binary and its class
//! library, the home's path and every jar's name, size and modification time — so a changed
//! Java or jar set gets a fresh archive, and the stale one is removed. Its checksum is kept
//! beside it and checked before each use: a damaged archive is removed and rebuilt (with a
//! note). A missing, stale or unusable archive only costs speed: the JVM ignores an archive it
//! cannot map, and every problem here drops the flags rather than failing a start.
//!
//! Archives of the project's own install live in `<home>/cds/`; those of any other Neo4j home
//! in the user's cache directory (`$XDG_CACHE_HOME/tenantgen/cds`, else `~/.cache/...`), or are
//! skipped with one note when that cannot be written. `TENANTGEN_CDS=off` turns them off (the
//! benchmark's "without archives" rows). Only files named `<kind>-<home>-<key>.jsa*` are ever
//! removed from those directories.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::{default_home, NeoHome};

/// Which JVM an archive is for: its classes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Server,
    Admin,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Server => "server",
            Kind::Admin => "admin",
        }
    }
}

/// The archive flags for one JVM launch and, when this launch writes the archive, where the JVM
/// writes it and where [`finish`] moves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// JVM flags, for `JAVA_TOOL_OPTIONS`.
    pub flags: String,
    /// `(part, archive)` when this launch builds the archive.
    pub build: Option<(PathBuf, PathBuf)>,
}

/// Notes for the user (skipped or rebuilt archives), each said once per process.
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn note(text: String) {
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&text) {
        said.push(text.clone());
        NOTES.lock().unwrap_or_else(|e| e.into_inner()).push(text);
    }
}

/// The notes gathered since the last call (for the cli to print).
pub fn take_notes() -> Vec<String> {
    std::mem::take(&mut *NOTES.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Silences the JVM's per-class "Skipping ..." warnings, which it prints on stdout.
const QUIET: &str = "-Xlog:cds=off -Xlog:cds+dynamic=off";
/// A `.part` file older than this is the leftover of a JVM that never finished.
const PART_MAX_AGE: Duration = Duration::from_secs(3600);

/// The archive flags for a launch of `kind` from `home`, or `None` (no archive: start as
/// before) when archives are off or cannot be used here.
pub fn prepare(home: &NeoHome, kind: Kind) -> Option<Launch> {
    if std::env::var("TENANTGEN_CDS").is_ok_and(|v| matches!(v.as_str(), "off" | "0" | "no")) {
        return None;
    }
    let dir = archive_dir(home)?;
    let key = key(home, kind)?;
    let home_id = format!(
        "{:08x}",
        xxh3_64(home.path.as_os_str().as_encoded_bytes()) as u32
    );
    let prefix = format!("{}-{home_id}-", kind.name());
    let archive = dir.join(format!("{prefix}{key:016x}.jsa"));
    if archive.display().to_string().contains(char::is_whitespace) {
        // JAVA_TOOL_OPTIONS is split at white space.
        note(format!(
            "class-data archives skipped: their directory {} has white space in its path, which JAVA_TOOL_OPTIONS cannot carry; JVM starts take a few seconds longer",
            dir.display()
        ));
        return None;
    }
    sweep(&dir, &prefix, &archive);
    if archive.exists() {
        if intact(&archive) {
            return Some(Launch {
                flags: format!("-XX:SharedArchiveFile={} {QUIET}", archive.display()),
                build: None,
            });
        }
        let _ = fs::remove_file(&archive);
        let _ = fs::remove_file(sum_path(&archive));
        note(format!(
            "class-data archive {} is damaged (it does not match its checksum): removed it; this start builds a new one",
            archive.display()
        ));
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let part = dir.join(format!(
        "{prefix}{key:016x}.jsa.{}-{nanos}.part",
        std::process::id()
    ));
    Some(Launch {
        flags: format!("-XX:ArchiveClassesAtExit={} {QUIET}", part.display()),
        build: Some((part, archive)),
    })
}

/// Moves the archive a finished JVM wrote into place (with its checksum); does nothing when the
/// JVM wrote none (it was killed, or could not dump).
pub fn finish(part: &Path, archive: &Path) {
    let Ok(bytes) = fs::read(part) else {
        return;
    };
    if !bytes.starts_with(&DYNAMIC_MAGIC) {
        // Empty, or cut short: the JVM writes the header last.
        let _ = fs::remove_file(part);
        return;
    }
    // The checksum first: a reader that sees the new archive also sees its checksum.
    let sum = sum_path(archive);
    let sum_part = part.with_extension("sum-part");
    let ok = fs::write(&sum_part, checksum(&bytes)).is_ok()
        && fs::rename(&sum_part, &sum).is_ok()
        && fs::rename(part, archive).is_ok();
    if !ok {
        let _ = fs::remove_file(&sum_part);
        let _ = fs::remove_file(part);
    }
}

/// Records a server's pending archive in its instance's `run/` directory, for whoever stops it
/// (this process, or a later `tenantgen stop`).
pub fn record_pending(run_dir: &Path, build: &(PathBuf, PathBuf)) {
    let text = format!("{}\n{}\n", build.0.display(), build.1.display());
    let _ = fs::write(run_dir.join(PENDING), text);
}

/// Finishes the archive a stopped server of this instance wrote, if one is pending.
pub fn finish_pending(run_dir: &Path) {
    let file = run_dir.join(PENDING);
    let Ok(text) = fs::read_to_string(&file) else {
        return;
    };
    let _ = fs::remove_file(&file);
    let mut lines = text.lines();
    if let (Some(part), Some(archive)) = (lines.next(), lines.next()) {
        let (part, archive) = (Path::new(part), Path::new(archive));
        // Only our own names: the file is in a directory a user could edit.
        if is_ours(part) && is_ours(archive) {
            finish(part, archive);
        }
    }
}

const PENDING: &str = "cds.pending";

/// Whether the server of this instance is to write an archive when it exits.
pub fn is_pending(run_dir: &Path) -> bool {
    run_dir.join(PENDING).is_file()
}

fn is_ours(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        (n.starts_with("server-") || n.starts_with("admin-")) && n.contains(".jsa")
    })
}

fn sum_path(archive: &Path) -> PathBuf {
    archive.with_extension("jsa.xxh3")
}

fn checksum(bytes: &[u8]) -> String {
    format!("{} {:016x}\n", bytes.len(), xxh3_64(bytes))
}

fn intact(archive: &Path) -> bool {
    let Ok(want) = fs::read_to_string(sum_path(archive)) else {
        return false;
    };
    fs::read(archive)
        .is_ok_and(|bytes| bytes.starts_with(&DYNAMIC_MAGIC) && checksum(&bytes) == want)
}

/// The first bytes of a dynamic archive (HotSpot's `CDS_DYNAMIC_ARCHIVE_MAGIC`, little-endian).
const DYNAMIC_MAGIC: [u8; 4] = [0xa8, 0xab, 0x0b, 0xf0];

/// Removes this kind's archives of this home under another key (stale: Java or jars changed)
/// and `.part` files their JVM never finished.
fn sweep(dir: &Path, prefix: &str, current: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let current_name = current.file_name().and_then(|n| n.to_str()).unwrap_or("");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(prefix) || name.starts_with(current_name) {
            if name.starts_with(current_name) && name.ends_with(".part") {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > PART_MAX_AGE);
                if old {
                    let _ = fs::remove_file(entry.path());
                }
            }
            continue;
        }
        if name.contains(".jsa") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// `<home>/cds` for the project's own install; the user's cache directory for any other home.
fn archive_dir(home: &NeoHome) -> Option<PathBuf> {
    let own = default_home()
        .canonicalize()
        .is_ok_and(|own| own == home.path);
    let dir = if own {
        home.path.join("cds")
    } else {
        match user_cache_dir() {
            Some(cache) => cache.join("tenantgen").join("cds"),
            None => {
                note(format!(
                    "class-data archives skipped for the Neo4j home {}: neither XDG_CACHE_HOME nor HOME is set, so there is no cache directory to keep them in; JVM starts take a few seconds longer",
                    home.path.display()
                ));
                return None;
            }
        }
    };
    if let Err(e) = fs::create_dir_all(&dir) {
        note(format!(
            "class-data archives skipped: cannot create {} ({e}); JVM starts take a few seconds longer",
            dir.display()
        ));
        return None;
    }
    Some(dir)
}

/// `$XDG_CACHE_HOME`, else `$HOME/.cache`.
pub fn user_cache_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    nonempty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".cache")))
}

/// The `java` the launchers run: `$JAVA_HOME/bin/java`, else the first on `PATH`.
fn java_binary() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|v| !v.is_empty()) {
        let java = PathBuf::from(home).join("bin").join("java");
        if java.is_file() {
            return java.canonicalize().ok();
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("java"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// A key over what an archive depends on; `None` when there is no Java to key it by.
fn key(home: &NeoHome, kind: Kind) -> Option<u64> {
    let mut h = Xxh3::new();
    let mut add = |s: &str| {
        h.update(s.as_bytes());
        h.update(b"\0");
    };
    add("tenantgen-cds-1");
    add(kind.name());
    add(&home.path.display().to_string());
    let java = java_binary()?;
    add(&stamp(&java));
    // The class library (`lib/modules`) changes with every Java update, the binary may not.
    if let Some(java_home) = java.parent().and_then(Path::parent) {
        add(&stamp(&java_home.join("lib").join("modules")));
    }
    for sub in ["lib", "plugins"] {
        let mut jars: Vec<String> = fs::read_dir(home.path.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| stamp(&e.path()))
            .collect();
        jars.sort();
        for jar in &jars {
            add(jar);
        }
    }
    Some(h.digest())
}

/// `path size mtime`, or the path alone when it cannot be read.
fn stamp(path: &Path) -> String {
    let meta = fs::metadata(path);
    let size = meta.as_ref().map_or(0, |m| m.len());
    let mtime = meta
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{} {size} {mtime}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_moves_the_archive_with_its_checksum_and_damage_is_seen() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("server-0000-1.jsa");
        let part = tmp.path().join("server-0000-1.jsa.1-2.part");
        fs::write(&part, [&DYNAMIC_MAGIC[..], b"class data"].concat()).unwrap();
        finish(&part, &archive);
        assert!(!part.exists());
        assert!(intact(&archive));
        fs::write(&archive, [&DYNAMIC_MAGIC[..], b"class dat!"].concat()).unwrap();
        assert!(!intact(&archive), "same size, other bytes");
        // Cut short (no header yet): never moved into place.
        let cut = tmp.path().join("server-0000-1.jsa.5-6.part");
        fs::write(&cut, [0u8; 64]).unwrap();
        finish(&cut, &tmp.path().join("server-0000-2.jsa"));
        assert!(!tmp.path().join("server-0000-2.jsa").exists() && !cut.exists());
        // A JVM that wrote nothing leaves nothing.
        finish(&tmp.path().join("server-0000-1.jsa.3-4.part"), &archive);
        assert!(archive.exists());
    }

    #[test]
    fn sweep_removes_stale_keys_of_this_home_only() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            "server-aa-1.jsa",
            "server-aa-1.jsa.xxh3",
            "server-aa-2.jsa",
            "server-aa-2.jsa.xxh3",
            "server-bb-2.jsa",
            "admin-aa-2.jsa",
            "notes.txt",
        ] {
            fs::write(d.join(f), b"x").unwrap();
        }
        sweep(d, "server-aa-", &d.join("server-aa-2.jsa"));
        let mut left: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "admin-aa-2.jsa",
                "notes.txt",
                "server-aa-2.jsa",
                "server-aa-2.jsa.xxh3",
                "server-bb-2.jsa"
            ]
        );
    }

    #[test]
    fn pending_names_must_be_ours() {
        assert!(is_ours(Path::new("/c/server-aa-1.jsa.1-2.part")));
        assert!(!is_ours(Path::new("/home/me/.bashrc")));
    }
}
