//! The fixture cache of `run --cache`: imported stores kept by a key over everything that
//! determines them, so that the same job run again restores the store instead of generating
//! and importing it. It owns the key ([`key`]), the entries (one directory each, named by the
//! key, holding the generated `manifest.json`, the store under `store/` and a marker file
//! [`MARKER`] that lists every file with its checksum), their checking on use, and
//! least-recently-used eviction to a size bound. It never removes a directory without the
//! marker: the cache directory may hold other things. Importing and restoring a store into an
//! instance is `import`'s.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::config::{GenerateConfig, OperationInfo};

/// The marker file of an entry; its presence makes the directory tenantgen's to replace.
pub const MARKER: &str = "tenantgen-fixture.json";
/// Bumped when the layout or what the key covers changes: old entries then simply miss.
const FORMAT: &str = "tenantgen-fixture-1";

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixture cache: cannot {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("fixture cache {path} is not a directory: pass another --cache DIR")]
    NotADirectory { path: PathBuf },
}

type Result<T, E = FixtureError> = std::result::Result<T, E>;

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FixtureError + 'a {
    move |error| FixtureError::Io {
        what,
        path: path.to_path_buf(),
        error,
    }
}

/// What the marker records: the counts the import reported and each file's checksum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub format: String,
    pub key: String,
    pub database: String,
    pub nodes: u64,
    pub relationships: u64,
    pub properties: u64,
    /// `(path relative to the entry, size, xxh3)`, sorted.
    pub files: Vec<(String, u64, String)>,
}

impl Entry {
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

/// The key of a generation: the tool's version, the Neo4j version, the database name, every
/// byte of the baseline and of the template, the settings that shape the graph, and the resolved
/// operation (its id and marker values, which carry the timestamp).
pub fn key(
    config: &GenerateConfig,
    op: &OperationInfo,
    neo4j_version: &str,
    database: &str,
) -> Result<String> {
    let mut h = Xxh3::new();
    let mut add = |s: &[u8]| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s);
    };
    add(FORMAT.as_bytes());
    add(env!("CARGO_PKG_VERSION").as_bytes());
    add(neo4j_version.as_bytes());
    add(database.as_bytes());
    add(config.strategy.name().as_bytes());
    add(format!("{:?}", config.scale).as_bytes());
    add(&[config.scale_given as u8, config.atg_compat as u8]);
    add(&config.seed.to_le_bytes());
    add(config.edges.name().as_bytes());
    add(op.id.as_bytes());
    add(op.generation_timestamp.as_bytes());
    add(op.strategy.as_bytes());
    for (rel, path) in files_under(&config.baseline)? {
        add(rel.as_bytes());
        add(&fs::read(&path).map_err(io_err("read", &path))?);
    }
    if let Some(t) = &config.template {
        add(&fs::read(t).map_err(io_err("read", t))?);
    }
    Ok(format!("{:016x}", h.digest()))
}

/// Every regular file under `dir`, as (relative path with `/`, path), sorted.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        for entry in fs::read_dir(dir).map_err(io_err("read", dir))? {
            let entry = entry.map_err(io_err("read", dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_err("read", &path))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                out.push((rel.to_string_lossy().replace('\\', "/"), path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// A cache directory and its size bound.
#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
    pub max_size: u64,
}

/// The result of a lookup.
#[derive(Debug)]
pub enum Lookup {
    Hit {
        dir: PathBuf,
        entry: Entry,
    },
    /// No entry; `note` says why when it is worth saying (a damaged entry was removed, or the
    /// key's directory is not tenantgen's).
    Miss {
        note: Option<String>,
    },
}

impl Cache {
    /// The default directory: `$XDG_CACHE_HOME/tenantgen/fixtures`, else
    /// `~/.cache/tenantgen/fixtures`.
    pub fn default_dir() -> Option<PathBuf> {
        crate::neo4j::user_cache_dir().map(|c| c.join("tenantgen").join("fixtures"))
    }

    pub fn open(dir: &Path, max_size: u64) -> Result<Cache> {
        if dir.exists() && !dir.is_dir() {
            return Err(FixtureError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            max_size,
        })
    }

    fn entry_dir(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The entry of `key` if it is there and every file matches its checksum; a damaged entry
    /// is removed (it is ours: it has the marker).
    pub fn lookup(&self, key: &str) -> Lookup {
        let dir = self.entry_dir(key);
        if !dir.exists() {
            return Lookup::Miss { note: None };
        }
        let Some(entry) = read_marker(&dir) else {
            return Lookup::Miss {
                note: Some(format!(
                    "{} is not a fixture tenantgen made (no readable {MARKER}): left it alone, and this run is not cached",
                    dir.display()
                )),
            };
        };
        match check(&dir, &entry) {
            Ok(()) => {
                // The marker's time is the entry's last use, for eviction.
                let _ = fs::File::options()
                    .write(true)
                    .open(dir.join(MARKER))
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Lookup::Hit { dir, entry }
            }
            Err(problem) => {
                let removed = fs::remove_dir_all(&dir).is_ok();
                Lookup::Miss {
                    note: Some(format!(
                        "cached fixture {} is damaged ({problem}): {}; this run rebuilds it",
                        dir.display(),
                        if removed {
                            "removed it"
                        } else {
                            "could not remove it"
                        }
                    )),
                }
            }
        }
    }

    /// Copies a freshly imported store (`data_dir`'s database and its transaction logs) and the
    /// generation's manifest into a staging entry; [`Pending::commit`] publishes it.
    pub fn stage(
        &self,
        key: &str,
        data_dir: &Path,
        manifest: &Path,
        mut entry: Entry,
    ) -> Result<Pending> {
        let staging = self
            .dir
            .join(format!(".{key}.staging-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        }
        entry.format = FORMAT.into();
        let db = entry.database.clone();
        for sub in ["databases", "transactions"] {
            let from = data_dir.join(sub).join(&db);
            if from.is_dir() {
                copy_tree(&from, &staging.join("store").join(sub).join(&db))?;
            }
        }
        let to = staging.join("manifest.json");
        fs::copy(manifest, &to).map_err(io_err("copy", manifest))?;
        entry.files = files_under(&staging)?
            .into_iter()
            .map(|(rel, path)| {
                let bytes = fs::read(&path).map_err(io_err("read", &path))?;
                Ok((rel, bytes.len() as u64, format!("{:016x}", xxh3_64(&bytes))))
            })
            .collect::<Result<_>>()?;
        write_marker(&staging, &entry)?;
        Ok(Pending {
            staging,
            target: self.entry_dir(key),
            cache: self.clone(),
        })
    }

    /// Removes the least recently used entries (ours only) until the cache fits its bound.
    pub fn evict(&self, keep: &Path) -> Vec<PathBuf> {
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let dir = e.path();
                let entry = read_marker(&dir)?;
                let used = fs::metadata(dir.join(MARKER)).ok()?.modified().ok()?;
                Some((used, entry.size(), dir))
            })
            .collect();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        let mut removed = Vec::new();
        for (_, size, dir) in entries {
            if total <= self.max_size {
                break;
            }
            if dir == keep {
                continue;
            }
            if fs::remove_dir_all(&dir).is_ok() {
                total -= size;
                removed.push(dir);
            }
        }
        removed
    }
}

/// A staged entry, published by [`Pending::commit`] once its run verified; removed if dropped
/// uncommitted.
#[derive(Debug)]
pub struct Pending {
    staging: PathBuf,
    target: PathBuf,
    cache: Cache,
}

impl Pending {
    /// Publishes the entry (unless another run published the same key first) and evicts to the
    /// size bound; returns the entry's directory and the entries evicted.
    pub fn commit(self) -> Result<(PathBuf, Vec<PathBuf>)> {
        if !self.target.exists() {
            fs::rename(&self.staging, &self.target).map_err(io_err("publish", &self.target))?;
        }
        let evicted = self.cache.evict(&self.target);
        Ok((self.target.clone(), evicted))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
    }
}

fn read_marker(dir: &Path) -> Option<Entry> {
    let text = fs::read_to_string(dir.join(MARKER)).ok()?;
    let entry: Entry = serde_json::from_str(&text).ok()?;
    (entry.format == FORMAT).then_some(entry)
}

fn write_marker(dir: &Path, entry: &Entry) -> Result<()> {
    let path = dir.join(MARKER);
    let text = serde_json::to_string_pretty(entry).expect("an entry serialises");
    fs::write(&path, text).map_err(io_err("write", &path))
}

/// Every listed file has its size and checksum, and no file is missing.
fn check(dir: &Path, entry: &Entry) -> std::result::Result<(), String> {
    for (rel, size, sum) in &entry.files {
        let path = dir.join(rel);
        let bytes = fs::read(&path).map_err(|e| format!("{rel}: {e}"))?;
        if bytes.len() as u64 != *size || format!("{:016x}", xxh3_64(&bytes)) != *sum {
            return Err(format!("{rel} does not match its checksum"));
        }
    }
    if !entry.files.iter().any(|f| f.0 == "manifest.json") {
        return Err("no manifest.json".into());
    }
    Ok(())
}

/// Copies a directory tree (copy-on-write where the file system does it: `fs::copy` uses
/// `copy_file_range`). Never hard links: a server writes into the store it runs on.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(io_err("create", to))?;
    for entry in fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().map_err(io_err("read", &src))?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(io_err("copy", &src))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(db: &str) -> Entry {
        Entry {
            format: FORMAT.into(),
            key: "k".into(),
            database: db.into(),
            nodes: 1,
            relationships: 0,
            properties: 0,
            files: vec![],
        }
    }

    fn staged(cache: &Cache, key: &str, bytes: &[u8]) -> PathBuf {
        let src = tempfile::tempdir().unwrap();
        let data = src.path().join("data");
        fs::create_dir_all(data.join("databases/neo4j")).unwrap();
        fs::write(data.join("databases/neo4j/store"), bytes).unwrap();
        fs::write(src.path().join("manifest.json"), "{}").unwrap();
        let p = cache
            .stage(
                key,
                &data,
                &src.path().join("manifest.json"),
                entry("neo4j"),
            )
            .unwrap();
        p.commit().unwrap().0
    }

    #[test]
    fn a_staged_entry_hits_and_a_damaged_one_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), u64::MAX).unwrap();
        let dir = staged(&cache, "a", b"store bytes");
        assert!(matches!(cache.lookup("a"), Lookup::Hit { .. }));
        fs::write(dir.join("store/databases/neo4j/store"), b"store bytez").unwrap();
        let Lookup::Miss { note: Some(note) } = cache.lookup("a") else {
            panic!("a damaged entry misses with a note")
        };
        assert!(note.contains("does not match its checksum"), "{note}");
        assert!(!dir.exists());
    }

    #[test]
    fn a_directory_without_the_marker_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path(), 0).unwrap();
        fs::create_dir_all(tmp.path().join("b")).unwrap();
        fs::write(tmp.path().join("b/mine.txt"), "x").unwrap();
        assert!(matches!(cache.lookup("b"), Lookup::Miss { note: Some(_) }));
        staged(&cache, "c", b"1");
        // Over the bound (0): our other entries go, the user's directory stays.
        staged(&cache, "d", b"2");
        assert!(tmp.path().join("b/mine.txt").exists());
        assert!(
            !tmp.path().join("c").exists(),
            "least recently used evicted"
        );
        assert!(tmp.path().join("d").exists(), "the new entry stays");
    }
}
