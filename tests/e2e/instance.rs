//! An existing instance directory across `import --overwrite`: its config, system database
//! (users and passwords, auth on), port and the user's own config lines survive, only the
//! database is the new one; `--reset-instance` gives a fresh instance instead. On the real
//! neo4j-admin and a real server with auth enabled.

use std::path::Path;

use crate::common::{generate_mini, neo_home, tenantgen, SIZES};
use tenantgen::neo4j::{Client, ConnectionSettings, Instance, Neo4jError, Secret};

/// Generates the mini baseline scaled by `factor` into `out`; returns the expected node count.
fn generate(out: &Path, factor: &str) -> i64 {
    generate_mini(out, factor);
    let m = tenantgen::manifest::Manifest::read(out).unwrap();
    m.expected
        .expect("generated manifest has expected counts")
        .nodes as i64
}

fn import(gen: &Path, data_dir: &Path, extra: &[&str]) -> std::process::Output {
    tenantgen()
        .arg("import")
        .arg(gen)
        .arg("--data-dir")
        .arg(data_dir)
        .args(SIZES)
        .args(extra)
        .output()
        .unwrap()
}

fn ok(what: &str, o: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{what}: {:?}\n{stderr}", o.status);
    stderr
}

fn connect(
    uri: &str,
    user: &str,
    password: &str,
    database: Option<&str>,
) -> Result<Client, Neo4jError> {
    Client::connect(&ConnectionSettings {
        uri: uri.into(),
        user: user.into(),
        password: Secret::new(password),
        database: database.map(str::to_string),
    })
}

fn count(c: &Client) -> i64 {
    c.scalar_i64("MATCH (n) RETURN count(n) AS c", &[]).unwrap()
}

fn conf(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("conf/neo4j.conf")).unwrap()
}

#[test]
fn overwrite_keeps_auth_users_port_and_config_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (gen_a, gen_b, d) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("d"),
    );
    let nodes_a = generate(&gen_a, "2");
    let nodes_b = generate(&gen_b, "5");
    assert_ne!(nodes_a, nodes_b);
    ok("first import", &import(&gen_a, &d, &[]));
    let home = neo_home();

    // First start (auth off, as tenantgen writes it): the system database is created; add a
    // user and give `neo4j` a password, then turn auth on and add a line of our own.
    let first = Instance::open(&d, None).unwrap();
    let port = first.port();
    let server = first.start(&home).unwrap();
    let system = connect(&server.uri(), "neo4j", "", None).unwrap();
    system
        .run(
            "CREATE USER alice SET PASSWORD 'alice-secret-1' CHANGE NOT REQUIRED",
            &[],
        )
        .unwrap();
    system
        .run(
            "ALTER USER neo4j SET PASSWORD 'neo4j-secret-1' CHANGE NOT REQUIRED",
            &[],
        )
        .unwrap();
    drop(system);
    server.stop().unwrap();
    let edited = conf(&d).replace(
        "dbms.security.auth_enabled=false",
        "dbms.security.auth_enabled=true",
    ) + "# my own line\ndb.transaction.timeout=10m\n";
    std::fs::write(d.join("conf/neo4j.conf"), &edited).unwrap();

    let stderr = ok("import --overwrite", &import(&gen_b, &d, &["--overwrite"]));
    assert!(stderr.contains("kept the config"), "{stderr}");
    // Explicit sizes (SIZES) are the only lines that may change; here they equal the old ones.
    assert_eq!(conf(&d), edited, "the config was rewritten");

    let inst = Instance::open(&d, None).unwrap();
    assert_eq!(inst.port(), port);
    assert!(inst.auth_enabled());
    let server = inst.start(&home).unwrap();
    let uri = server.uri();
    match connect(&uri, "neo4j", "", None)
        .and_then(|c| c.scalar_i64("MATCH (n) RETURN count(n) AS c", &[]))
    {
        Err(Neo4jError::Auth { .. }) => {}
        other => panic!("auth is off after --overwrite: {other:?}"),
    }
    let alice = connect(&uri, "alice", "alice-secret-1", None).unwrap();
    assert_eq!(count(&alice), nodes_b, "the database is not the new graph");
    let admin = connect(&uri, "neo4j", "neo4j-secret-1", None).unwrap();
    let users = admin
        .rows("SHOW USERS YIELD user RETURN user ORDER BY user", &[])
        .unwrap();
    let users: Vec<String> = users.iter().map(|r| r.get("user").unwrap()).collect();
    assert_eq!(users, ["alice", "neo4j"]);
    drop((alice, admin));
    server.stop().unwrap();

    // Another database name than the one the system database serves is refused, unchanged.
    let before = conf(&d);
    let o = import(&gen_a, &d, &["--overwrite", "--database", "other"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--database neo4j") && stderr.contains("--reset-instance"),
        "{stderr}"
    );
    assert_eq!(conf(&d), before);
    assert!(!d.join("data/databases/other").exists());

    // --reset-instance: the old behaviour, a fresh config and no system database yet.
    let stderr = ok(
        "import --reset-instance",
        &import(&gen_a, &d, &["--overwrite", "--reset-instance"]),
    );
    assert!(!stderr.contains("kept the config"), "{stderr}");
    let fresh = conf(&d);
    assert!(
        fresh.contains("dbms.security.auth_enabled=false"),
        "{fresh}"
    );
    assert!(!fresh.contains("# my own line"), "{fresh}");
    assert!(!d.join("data/databases/system").exists());
    let server = Instance::open(&d, None).unwrap().start(&home).unwrap();
    let c = connect(&server.uri(), "neo4j", "", None).unwrap();
    assert_eq!(count(&c), nodes_a);
}
