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

/// The built `tenantgen` binary, run from the repository root (so the default baseline resolves).
pub fn tenantgen() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("tenantgen").expect("tenantgen binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("NEO4J_URI")
        .env_remove("NEO4J_PASSWORD")
        .env_remove("NEO4J_USERNAME")
        .env_remove("NEO4J_USER");
    cmd
}

/// The shipped seed tenant.
pub fn seed_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/seed-tenant")
}

/// Runs `tenantgen generate` on the seed tenant into `out` with a pinned timestamp and the
/// given extra flags; panics with its stderr on failure.
pub fn generate_seed(out: &Path, extra: &[&str]) {
    let mut cmd = tenantgen();
    cmd.args([
        "generate",
        "--quiet",
        "--force",
        "--timestamp",
        "2025-11-15T21:17:00Z",
        "--out",
    ])
    .arg(out)
    .args(extra);
    let output = cmd.output().expect("tenantgen runs");
    assert!(
        output.status.success(),
        "tenantgen generate {extra:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server started on a freshly imported directory; stops when dropped.
pub struct Loaded {
    pub instance: tenantgen::neo4j::Instance,
    pub server: tenantgen::neo4j::Server,
    pub client: Client,
    pub manifest: tenantgen::manifest::Manifest,
}

/// Imports `dir` (a tenantgen directory) into a fresh instance under `instance_dir` with the
/// library's import stage, starts the server and connects.
pub fn import_and_start(dir: &Path, instance_dir: &Path) -> Loaded {
    let mut cfg =
        tenantgen::import::ImportConfig::new(dir.to_path_buf(), instance_dir.to_path_buf());
    cfg.max_off_heap = "1G".into();
    cfg.heap = "1g".into();
    cfg.server_heap = "768m".into();
    cfg.pagecache = "256m".into();
    let done = tenantgen::import::import(&cfg)
        .unwrap_or_else(|e| panic!("import of {} failed: {e}", dir.display()));
    let server = done
        .instance
        .start(&done.home)
        .unwrap_or_else(|e| panic!("server on {} did not start: {e}", instance_dir.display()));
    let client = local_client(&server.uri());
    Loaded {
        instance: done.instance,
        server,
        client,
        manifest: done.manifest,
    }
}
