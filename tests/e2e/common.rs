//! Helpers shared by the end-to-end tests.

#![allow(dead_code)] // not every test module uses every helper

use std::path::Path;

use tenantgen::neo4j::{Client, ConnectionSettings, NeoHome};

/// The Neo4j home the tests use (`$NEO4J_HOME` or the project's install). Panics when missing:
/// the end-to-end tests never skip silently.
pub fn neo_home() -> NeoHome {
    match NeoHome::locate(None) {
        Ok(home) => home,
        Err(e) => panic!("Neo4j is not installed: run scripts/neo4j install ({e})"),
    }
}

/// A Bolt client for a local server with auth disabled.
pub fn local_client(uri: &str) -> Client {
    Client::connect(&ConnectionSettings::local(uri))
        .unwrap_or_else(|e| panic!("cannot connect to {uri}: {e}"))
}

/// Writes `contents` to `dir/rel`, creating parent directories.
pub fn write_file(dir: &Path, rel: &str, contents: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
