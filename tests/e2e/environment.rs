//! The environment going wrong around a run: a busy Bolt port, a server that cannot start, a
//! wrong password. Each must end with exit 2 and a message that says what to do.

use std::path::Path;
use std::process::Command;

use crate::common::tenantgen;

fn stderr_of(output: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit 2, stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_busy_bolt_port_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = tenantgen()
        .args([
            "run",
            "--quiet",
            "--scale-factor",
            "2",
            "--port",
            &port,
            "--out",
        ])
        .arg(tmp.path().join("g"))
        .output()
        .unwrap();
    let err = stderr_of(&output);
    assert!(
        err.contains(&format!("127.0.0.1:{port} is already in use")),
        "{err}"
    );
    assert!(err.contains("pass another --port"), "{err}");
    assert!(
        !tmp.path().join("g").exists(),
        "refused before generating anything"
    );
}

#[test]
fn a_server_that_cannot_start_shows_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    // A page cache larger than the machine's memory: Neo4j refuses to start (exit 3).
    let output = tenantgen()
        .args([
            "run",
            "--quiet",
            "--scale-factor",
            "2",
            "--pagecache",
            "4096g",
            "--out",
        ])
        .arg(tmp.path().join("g"))
        .output()
        .unwrap();
    let err = stderr_of(&output);
    assert!(err.contains("starting Neo4j"), "{err}");
    assert!(
        err.contains("console.log"),
        "the error should point at the server log:\n{err}"
    );
}

#[test]
fn a_wrong_password_is_refused_without_echoing_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = format!("auth-test-{}", std::process::id());
    let start = Command::new(root.join("scripts/neo4j"))
        .args(["start", &name])
        .env("NEO4J_PASSWORD", "right-Passw0rd")
        .output()
        .unwrap();
    struct Stop<'a>(&'a Path, String);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = Command::new(self.0.join("scripts/neo4j"))
                .args(["stop", &self.1])
                .output();
            let _ = std::fs::remove_dir_all(self.0.join(".neo4j/instances").join(&self.1));
        }
    }
    let _stop = Stop(root, name.clone());
    assert!(
        start.status.success(),
        "scripts/neo4j start failed:\n{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let uri = String::from_utf8_lossy(&start.stdout).trim().to_string();
    assert!(uri.starts_with("bolt://127.0.0.1:"), "{uri}");
    let output = tenantgen()
        .args(["stats", "--uri", &uri])
        .env("NEO4J_PASSWORD", "wrong-Passw0rd-canary")
        .output()
        .unwrap();
    let err = stderr_of(&output);
    assert!(!err.contains("wrong-Passw0rd-canary"), "{err}");
    assert!(err.contains(&uri), "{err}");
    assert!(
        err.to_lowercase().contains("password") || err.to_lowercase().contains("auth"),
        "{err}"
    );
    // The right password works.
    let output = tenantgen()
        .args(["stats", "--uri", &uri])
        .env("NEO4J_PASSWORD", "right-Passw0rd")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
