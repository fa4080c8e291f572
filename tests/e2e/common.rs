//! Helpers shared by the end-to-end tests.

#![allow(dead_code)] // not every test module uses every helper

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// `tests/golden/mini-baseline`, the valid 3-resource baseline.
pub fn mini_baseline() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mini-baseline")
}

/// Runs `tenantgen generate` on [`mini_baseline`] scaled by `factor` into `out` with a pinned
/// timestamp; panics with its stderr on failure.
pub fn generate_mini(out: &Path, factor: &str) {
    let o = tenantgen()
        .args(["generate", "--quiet", "--scale-factor", factor])
        .args(["--timestamp", "2025-11-15T21:17:00Z", "--baseline"])
        .arg(mini_baseline())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Import and server sizes for the small graphs of the safety tests, where several servers and
/// importers run at once.
pub const SIZES: [&str; 8] = [
    "--server-heap",
    "512m",
    "--pagecache",
    "128m",
    "--max-off-heap",
    "512M",
    "--import-heap",
    "512m",
];

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

/// Every node (its sorted labels and properties) and every relationship (its type, properties
/// and the full text of both ends), sorted: two graphs with equal digests hold the same nodes
/// and relationships whatever their internal ids.
#[derive(Debug, PartialEq, Eq)]
pub struct GraphDigest {
    pub nodes: Vec<String>,
    pub relationships: Vec<String>,
}

/// The Cypher text of the properties of `var`, keys sorted, lists element by element.
const PROPS_TEXT: &str = "reduce(s = '', k IN ks | s + k + '=' + \
     CASE WHEN valueType(x[k]) STARTS WITH 'LIST' \
          THEN '[' + reduce(t = '', e IN x[k] | t + toString(e) + ';') + ']' \
          ELSE valueType(x[k]) + ':' + toString(x[k]) END + '|')";

pub fn graph_digest(c: &Client) -> GraphDigest {
    let node_rows = c
        .rows(
            &format!(
                "MATCH (x) CALL (x) {{ UNWIND keys(x) AS k WITH k ORDER BY k RETURN collect(k) AS ks }} \
                 CALL (x) {{ UNWIND labels(x) AS l WITH l ORDER BY l RETURN collect(l) AS ls }} \
                 RETURN elementId(x) AS e, reduce(s = '', l IN ls | s + ':' + l) + ' ' + {PROPS_TEXT} AS t"
            ),
            &[],
        )
        .expect("node digest query");
    let mut by_element = std::collections::HashMap::new();
    for r in &node_rows {
        by_element.insert(r.get::<String>("e").unwrap(), r.get::<String>("t").unwrap());
    }
    let rel_rows = c
        .rows(
            &format!(
                "MATCH (a)-[x]->(b) CALL (x) {{ UNWIND keys(x) AS k WITH k ORDER BY k RETURN collect(k) AS ks }} \
                 RETURN elementId(a) AS a, elementId(b) AS b, type(x) + ' ' + {PROPS_TEXT} AS t"
            ),
            &[],
        )
        .expect("relationship digest query");
    let mut relationships: Vec<String> = rel_rows
        .iter()
        .map(|r| {
            format!(
                "({})-[{}]->({})",
                by_element[&r.get::<String>("a").unwrap()],
                r.get::<String>("t").unwrap(),
                by_element[&r.get::<String>("b").unwrap()]
            )
        })
        .collect();
    let mut nodes: Vec<String> = by_element.into_values().collect();
    nodes.sort();
    relationships.sort();
    GraphDigest {
        nodes,
        relationships,
    }
}

impl GraphDigest {
    /// Empty when equal, else how they differ (counts and a few examples each way).
    pub fn diff(&self, other: &GraphDigest) -> String {
        fn side(what: &str, a: &[String], b: &[String]) -> String {
            let (sa, sb): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
                (a.iter().collect(), b.iter().collect());
            let only_a: Vec<_> = sa.difference(&sb).take(3).collect();
            let only_b: Vec<_> = sb.difference(&sa).take(3).collect();
            if a == b {
                String::new()
            } else {
                format!(
                    "{what}: {} vs {}; only before {only_a:?}; only after {only_b:?}\n",
                    a.len(),
                    b.len()
                )
            }
        }
        side("nodes", &self.nodes, &other.nodes)
            + &side("relationships", &self.relationships, &other.relationships)
    }
}

/// `tenantgen run --json` sized for a test machine where several servers run at once.
pub fn small_run() -> assert_cmd::Command {
    let mut cmd = tenantgen();
    cmd.args([
        "run",
        "--json",
        "--server-heap",
        "768m",
        "--pagecache",
        "256m",
        "--max-off-heap",
        "1G",
        "--import-heap",
        "1g",
    ]);
    cmd
}

/// Every file under `dir` (but `skip`ped top-level entries) with its checksum; directories as
/// `/`.
pub fn tree(dir: &Path, skip: &[&str]) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if dir == root && skip.iter().any(|s| rel == Path::new(s)) {
                continue;
            }
            if p.is_dir() {
                out.insert(rel, "/".into());
                walk(root, &p, skip, out);
            } else {
                out.insert(rel, tenantgen::outdir::file_xxh3(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}
