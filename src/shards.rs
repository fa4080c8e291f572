//! Shards that combine: the directories of `generate --shard K/N`, written on any number of
//! workers, checked to be one plan's complete set and put back together as the unsharded
//! output. `import DIR…` imports the combination in one neo4j-admin run (from a directory of
//! symbolic links inside its staging instance), `merge` writes it as one directory (hard links
//! where possible, copies otherwise).
//!
//! The checks, all before anything is written: every directory is a shard with the plan's
//! fingerprint ([`crate::manifest::ShardInfo`]); all carry the same fingerprint (a shard of
//! other inputs, flags, seed, operation id or N is *foreign*); the indexes are 1..N, each once;
//! and the parts they list are the plan's parts, each once. Their files' checksums are the
//! caller's ([`crate::import::check_files`], per shard), as for any directory.
//!
//! The combination is exact: shards take the plan's parts round-robin (`write`), so part `i`
//! of the whole is part `i / N` of shard `i % N + 1`, and the combined manifest lists every
//! group's files in the unsharded order; its `import.args` is the unsharded one.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::manifest::{FileEntry, Manifest, ManifestError, Origin, ShardInfo};
use crate::outdir::{self, Existing, Input, Made, OutDirError, OwnershipError, Replace, Target};

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{dir} is not a shard (its manifest has no shard section): combine only directories written by `tenantgen generate --shard K/N`; import a whole directory on its own")]
    NotAShard { dir: PathBuf },
    #[error("{dir} is shard {index}/{count} written by an older tenantgen (its manifest carries no plan fingerprint): regenerate every shard with this version")]
    NoFingerprint {
        dir: PathBuf,
        index: u32,
        count: u32,
    },
    #[error("{dir} is shard {index}/{count} of plan {plan}, not of plan {first_plan} like {first}: it was generated from other inputs, flags, seed, operation id or shard count; regenerate it with the same flags and --timestamp as the others, or leave it out")]
    Foreign {
        dir: PathBuf,
        index: u32,
        count: u32,
        plan: String,
        first: PathBuf,
        first_plan: String,
    },
    #[error("shard {index}/{count} is given twice: {first} and {second}; pass each shard once")]
    Duplicate {
        index: u32,
        count: u32,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{missing} of plan {plan} {verb} missing (given: {given}); pass all {count} shard directories, e.g. `tenantgen import DIR1 … DIR{count} --data-dir DIR`")]
    Missing {
        missing: String,
        verb: &'static str,
        plan: String,
        count: u32,
        given: String,
    },
    #[error("{dir} (shard {index}/{count}) lists {found} data parts, the plan gives it {wanted}: its manifest was changed; regenerate that shard")]
    Parts {
        dir: PathBuf,
        index: u32,
        count: u32,
        found: usize,
        wanted: usize,
    },
    #[error("{dir} is shard {index} of {count} of plan {plan}: a shard holds only its own data parts and cannot be imported on its own; combine all {count} with `tenantgen import DIR1 … DIR{count} --data-dir DIR` (or `tenantgen merge DIR1 … DIR{count} --out DIR` for neo4j-admin by hand)")]
    Single {
        dir: PathBuf,
        index: u32,
        count: u32,
        plan: String,
    },
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("output {path} exists; pass --force to replace it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("cannot write {}: {}", .0.path.display(), .0.error)]
    Out(#[from] OutDirError),
    #[error("--shards {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("cannot {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

/// One shard as given.
#[derive(Debug, Clone)]
pub struct Shard {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// A checked, complete set of shards and the manifest of their combination.
#[derive(Debug, Clone)]
pub struct Combined {
    /// Ordered by index.
    pub shards: Vec<Shard>,
    /// The whole plan's manifest, as the unsharded run writes it (no shard section).
    pub manifest: Manifest,
    /// Every path the combined manifest lists (headers and data) → the file in its shard.
    pub sources: BTreeMap<String, PathBuf>,
    pub plan: String,
}

/// How [`Combined::materialize`] puts a file into the combined directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A symbolic link to the shard's file (a transient directory of `import`).
    Symbolic,
    /// A hard link, or a copy across file systems (`merge`'s lasting directory).
    HardOrCopy,
}

/// The shard section of a directory's manifest, if it has one.
fn info<'a>(dir: &Path, m: &'a Manifest) -> Result<&'a ShardInfo, ShardError> {
    let s = m
        .shard
        .as_ref()
        .ok_or_else(|| ShardError::NotAShard { dir: dir.into() })?;
    if s.plan.is_empty() {
        return Err(ShardError::NoFingerprint {
            dir: dir.into(),
            index: s.index,
            count: s.count,
        });
    }
    Ok(s)
}

/// The refusal of a single shard of several given where a whole directory is expected.
pub fn single(dir: &Path, m: &Manifest) -> Option<ShardError> {
    let s = m.shard.as_ref().filter(|s| s.count > 1)?;
    Some(ShardError::Single {
        dir: dir.into(),
        index: s.index,
        count: s.count,
        plan: s.plan.clone(),
    })
}

/// Reads and checks the shards in `dirs`; see the module docs.
pub fn combine(dirs: &[PathBuf]) -> Result<Combined, ShardError> {
    let mut shards = Vec::new();
    for d in dirs {
        let manifest = Manifest::read(d)?;
        shards.push(Shard {
            dir: d.clone(),
            manifest,
        });
    }
    let first = info(&shards[0].dir, &shards[0].manifest)?.clone();
    let mut by_index: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, s) in shards.iter().enumerate() {
        let si = info(&s.dir, &s.manifest)?;
        if si.plan != first.plan || si.count != first.count {
            return Err(ShardError::Foreign {
                dir: s.dir.clone(),
                index: si.index,
                count: si.count,
                plan: si.plan.clone(),
                first: shards[0].dir.clone(),
                first_plan: first.plan.clone(),
            });
        }
        if let Some(&j) = by_index.get(&si.index) {
            return Err(ShardError::Duplicate {
                index: si.index,
                count: si.count,
                first: shards[j].dir.clone(),
                second: s.dir.clone(),
            });
        }
        by_index.insert(si.index, i);
    }
    let missing: Vec<u32> = (1..=first.count)
        .filter(|k| !by_index.contains_key(k))
        .collect();
    if !missing.is_empty() {
        let n = first.count;
        let names: Vec<String> = missing.iter().map(|k| format!("{k}/{n}")).collect();
        let mut given: Vec<String> = by_index
            .iter()
            .map(|(k, &i)| format!("{k}/{n} {}", shards[i].dir.display()))
            .collect();
        given.truncate(8);
        return Err(ShardError::Missing {
            missing: format!(
                "shard{} {}",
                if missing.len() > 1 { "s" } else { "" },
                names.join(", ")
            ),
            verb: if missing.len() > 1 { "are" } else { "is" },
            plan: first.plan,
            count: n,
            given: given.join(", "),
        });
    }
    let shards: Vec<Shard> = by_index.values().map(|&i| shards[i].clone()).collect();
    combined(shards, first)
}

/// The synthetic parts of a shard in the order it wrote them: node groups, then relationship
/// groups, each group's files in order, with the index of the group among the synthetic ones.
fn synthetic_parts(m: &Manifest) -> Vec<(usize, FileEntry)> {
    let nodes = m
        .node_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
        .map(|g| &g.files);
    let rels = m
        .relationship_groups
        .iter()
        .filter(|g| g.origin == Origin::Synthetic)
        .map(|g| &g.files);
    nodes
        .chain(rels)
        .enumerate()
        .flat_map(|(g, files)| files.iter().map(move |f| (g, f.clone())))
        .collect()
}

fn combined(shards: Vec<Shard>, first: ShardInfo) -> Result<Combined, ShardError> {
    let n = first.count as usize;
    let total = first.parts as usize;
    let lists: Vec<Vec<(usize, FileEntry)>> = shards
        .iter()
        .map(|s| synthetic_parts(&s.manifest))
        .collect();
    for (k, (s, list)) in shards.iter().zip(&lists).enumerate() {
        // Parts k, k + N, k + 2N, … of the whole.
        let wanted = (total + n - 1 - k) / n;
        if list.len() != wanted {
            return Err(ShardError::Parts {
                dir: s.dir.clone(),
                index: k as u32 + 1,
                count: first.count,
                found: list.len(),
                wanted,
            });
        }
    }
    // Shard 1 holds the baseline's groups and the operation; every shard has every synthetic
    // group (the fingerprint covers their names and headers).
    let mut manifest = shards[0].manifest.clone();
    manifest.shard = None;
    let mut groups: Vec<Vec<FileEntry>> = Vec::new();
    let mut sources = BTreeMap::new();
    let base = &shards[0].dir;
    for i in 0..total {
        let (g, f) = &lists[i % n][i / n];
        if groups.len() <= *g {
            groups.resize(g + 1, Vec::new());
        }
        sources.insert(f.path.clone(), shards[i % n].dir.join(&f.path));
        groups[*g].push(f.clone());
    }
    let mut groups = groups.into_iter();
    for g in manifest
        .node_groups
        .iter_mut()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        g.files = groups.next().unwrap_or_default();
    }
    for g in manifest
        .relationship_groups
        .iter_mut()
        .filter(|g| g.origin == Origin::Synthetic)
    {
        g.files = groups.next().unwrap_or_default();
    }
    let headers = manifest
        .node_groups
        .iter()
        .map(|g| (&g.header, &g.files, g.origin))
        .chain(
            manifest
                .relationship_groups
                .iter()
                .map(|g| (&g.header, &g.files, g.origin)),
        );
    for (header, files, origin) in headers {
        sources.insert(header.clone(), base.join(header));
        if origin == Origin::Baseline {
            for f in files {
                sources.insert(f.path.clone(), base.join(&f.path));
            }
        }
    }
    Ok(Combined {
        shards,
        manifest,
        sources,
        plan: first.plan,
    })
}

impl Combined {
    /// Puts every file of the combination into `dir` (which exists) and writes its
    /// `manifest.json` and `import.args`.
    pub fn materialize(&self, dir: &Path, link: Link) -> Result<(), ShardError> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |error| ShardError::Io { what, path, error }
        };
        for (rel, src) in &self.sources {
            let dst = dir.join(rel);
            if let Some(p) = dst.parent() {
                fs::create_dir_all(p).map_err(io("create", p))?;
            }
            let src = src.canonicalize().map_err(io("resolve", src))?;
            match link {
                Link::Symbolic => {
                    std::os::unix::fs::symlink(&src, &dst).map_err(io("link", &dst))?;
                }
                Link::HardOrCopy => {
                    if fs::hard_link(&src, &dst).is_err() {
                        fs::copy(&src, &dst).map_err(io("copy", &dst))?;
                    }
                }
            }
        }
        let args = dir.join("import.args");
        fs::write(&args, self.manifest.import_args()).map_err(io("write", &args))?;
        self.manifest.write(&dir.join(crate::manifest::FILE_NAME))?;
        Ok(())
    }
}

/// Writes the combination `c` as the generated directory `out` (hard links where possible,
/// copies otherwise), staged and committed as `generate` commits: an existing `out` is replaced
/// only with `force` and only when tenantgen generated it, never when it is or holds a shard.
pub fn merge(c: &Combined, out: &Path, force: bool) -> Result<PathBuf, ShardError> {
    let out = outdir::resolve(out);
    let inputs: Vec<Input> = c
        .shards
        .iter()
        .map(|s| Input {
            what: "the shard",
            path: s.dir.clone(),
        })
        .collect();
    let rule = Replace {
        flag: "--out",
        made: Made::Generated,
        inputs: &inputs,
    };
    if outdir::check_replace(&out, &rule)? != Existing::Nothing && !force {
        return Err(ShardError::Exists { path: out });
    }
    let target = Target::new(&out, "out");
    target.clean_stale();
    let staged = target.stage(Made::Generated)?;
    c.materialize(staged.path(), Link::HardOrCopy)?;
    staged.commit()?;
    Ok(out)
}

/// The directories `pattern` names: `*` and `?` in its last component, matched against the
/// entries of its parent directory, sorted.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, ShardError> {
    let err = |reason: String| ShardError::Pattern {
        pattern: pattern.into(),
        reason,
    };
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| err("give a pattern such as out/shard-*".into()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if parent.to_string_lossy().contains(['*', '?']) {
        return Err(err(
            "only the last component may hold * or ?, e.g. out/shard-*".into(),
        ));
    }
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(&name)
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
    ))
    .map_err(|e| err(e.to_string()))?;
    let entries = fs::read_dir(&parent).map_err(|e| err(format!("{}: {e}", parent.display())))?;
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.starts_with('.') && re.is_match(&n) && e.path().is_dir()
        })
        .map(|e| parent.join(e.file_name()))
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(err(format!("no directory in {} matches", parent.display())));
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_last_component_only() {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["shard-1", "shard-2", "shard-10", "other", ".shard-tmp"] {
            fs::create_dir(tmp.path().join(d)).unwrap();
        }
        fs::write(tmp.path().join("shard-file"), "").unwrap();
        let p = format!("{}/shard-*", tmp.path().display());
        let got: Vec<String> = expand(&p)
            .unwrap()
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["shard-1", "shard-10", "shard-2"]);
        let p = format!("{}/shard-?", tmp.path().display());
        assert_eq!(expand(&p).unwrap().len(), 2);
        let p = format!("{}/*/x", tmp.path().display());
        assert!(expand(&p)
            .unwrap_err()
            .to_string()
            .contains("last component"));
        let p = format!("{}/none-*", tmp.path().display());
        assert!(expand(&p).unwrap_err().to_string().contains("no directory"));
    }
}
