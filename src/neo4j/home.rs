//! Finding a Neo4j home: `--neo4j-home`, else `$NEO4J_HOME`, else the project's own install
//! (`scripts/neo4j install` into `.neo4j/`), checked for an executable `bin/neo4j` and
//! `bin/neo4j-admin`, and the pinned version, which lives in `scripts/neo4j-version` only.
//! It does not lay out instances or run anything but `neo4j --version` (see `instance`, `server`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Neo4jError, Result};

/// The pinned Neo4j version, read from `scripts/neo4j-version` (the one place it lives).
pub fn neo4j_version() -> &'static str {
    include_str!("../../scripts/neo4j-version").trim()
}

/// The project's default install directory, `<crate>/.neo4j/neo4j-community-<version>`.
pub fn default_home() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".neo4j")
        .join(format!("neo4j-community-{}", neo4j_version()))
}

/// A Neo4j home: a directory with `bin/neo4j` and `bin/neo4j-admin` (ours from
/// `scripts/neo4j install`, or an official tarball).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeoHome {
    pub path: PathBuf,
}

impl NeoHome {
    /// `explicit` (`--neo4j-home`), else `$NEO4J_HOME`, else the project's install
    /// ([`default_home`]); checks that `bin/neo4j` and `bin/neo4j-admin` are executable.
    pub fn locate(explicit: Option<&Path>) -> Result<NeoHome> {
        let (path, origin) = match explicit {
            Some(p) => (p.to_path_buf(), "from --neo4j-home"),
            None => match std::env::var_os("NEO4J_HOME").filter(|v| !v.is_empty()) {
                Some(v) => (PathBuf::from(v), "from $NEO4J_HOME"),
                None => (default_home(), "the project's default install"),
            },
        };
        Self::check(path, origin)
    }

    fn check(path: PathBuf, origin: &'static str) -> Result<NeoHome> {
        for (rel, missing) in [
            ("bin/neo4j-admin", "bin/neo4j-admin"),
            ("bin/neo4j", "bin/neo4j"),
        ] {
            let file = path.join(rel);
            if !file.is_file() {
                return Err(Neo4jError::HomeMissing {
                    path,
                    origin,
                    missing,
                });
            }
            if !is_executable(&file) {
                return Err(Neo4jError::NotExecutable { path: file, origin });
            }
        }
        let path = path.canonicalize().unwrap_or(path);
        Ok(NeoHome { path })
    }

    /// `<home>/bin/neo4j-admin`.
    pub fn admin(&self) -> PathBuf {
        self.path.join("bin").join("neo4j-admin")
    }

    /// `<home>/bin/neo4j`.
    pub fn server(&self) -> PathBuf {
        self.path.join("bin").join("neo4j")
    }

    /// The version reported by `bin/neo4j --version` (e.g. `5.26.31`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(self.server())
            .arg("--version")
            .env("NEO4J_HOME", &self.path)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| Neo4jError::Spawn {
                program: self.server(),
                error,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string())
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_home_says_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let err = NeoHome::locate(Some(tmp.path())).unwrap_err().to_string();
        assert!(err.contains("scripts/neo4j install"), "{err}");
        assert!(err.contains("--neo4j-home"), "{err}");
        assert!(err.contains("bin/neo4j-admin"), "{err}");
    }

    #[test]
    fn version_comes_from_the_one_file() {
        let v = neo4j_version();
        assert!(v.starts_with("5.26."), "{v}");
        assert!(default_home().ends_with(format!(".neo4j/neo4j-community-{v}")));
    }
}
