//! Destructive paths: every command that replaces a directory (`generate --force`,
//! `export --force`, `import`, `import --overwrite`, `run`) against every kind of target, and
//! `clean` against the running graph. Each cell ends either in the documented replacement of
//! tenantgen's own output (exit 0, the target now carries the marker of what the command makes)
//! or in exit 2 with the target unchanged, checksummed file by file before and after. One
//! server, started once, is the "running instance" of every cell and the source of the exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{
    generate_mini, import_and_start, mini_baseline, tenantgen, tree, write_file, SIZES,
};
use tenantgen::outdir::{Made, MARKER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exit 0; the target is now tenantgen's output of this kind.
    Replaced(Made),
    /// Exit 2; the target is unchanged.
    Refused,
}

/// The small, fast job every cell generates: the mini baseline, doubled.
const SMALL: [&str; 6] = [
    "--quiet",
    "--scale-factor",
    "2",
    "--timestamp",
    "2025-11-15T21:17:00Z",
    "--baseline",
];

fn generate(out: &Path) {
    generate_mini(out, "2");
}

fn import(gen: &Path, data_dir: &Path, overwrite: bool) -> std::process::Output {
    let mut cmd = tenantgen();
    cmd.arg("import").arg(gen).arg("--data-dir").arg(data_dir);
    cmd.args(SIZES);
    if overwrite {
        cmd.arg("--overwrite");
    }
    cmd.output().unwrap()
}

#[test]
fn destructive_commands_replace_only_tenantgens_own_output() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // The running instance, imported by tenantgen itself.
    let gen = root.join("gen");
    generate(&gen);
    let live = import_and_start(&gen, &root.join("live"));
    let uri = live.server.uri();
    let live_dir = live.instance.dir().to_path_buf();
    let count = |c: &tenantgen::neo4j::Client| {
        c.scalar_i64("MATCH (n) RETURN count(n) AS c", &[])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let live_nodes = count(&live.client);
    // A stopped instance of another run, imported once and copied into each cell that needs one.
    let other = root.join("other");
    let o = import(&gen, &other, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fixtures = Fixtures {
        live: live_dir.clone(),
        other,
    };

    // Each target kind, made fresh for every cell by `make(cell, fixtures)`; returns the path.
    type Make = fn(&Path, &Fixtures) -> PathBuf;
    let targets: [(&str, Make); 7] = [
        ("source tree", |d, _| {
            write_file(&d.join("proj"), "src/main.c", "int main(void){return 0;}\n");
            write_file(&d.join("proj"), "README.md", "mine\n");
            d.join("proj")
        }),
        ("baseline's parent", |d, _| {
            copy(&mini_baseline(), &d.join("td/base"));
            d.join("td")
        }),
        ("baseline itself", |d, _| {
            copy(&mini_baseline(), &d.join("td/base"));
            d.join("td/base")
        }),
        ("running instance", |_, f| f.live.clone()),
        ("instance of another run", |d, f| {
            let st = std::process::Command::new("cp")
                .arg("-a")
                .arg(&f.other)
                .arg(d.join("other"))
                .status()
                .unwrap();
            assert!(st.success());
            d.join("other")
        }),
        ("empty dir", |d, _| {
            std::fs::create_dir_all(d.join("empty")).unwrap();
            d.join("empty")
        }),
        ("own previous output", |d, _| {
            generate(&d.join("prev"));
            d.join("prev")
        }),
    ];
    // Rows: the commands; columns: the targets in the order above. `-` refused, `G` replaced by
    // generated output, `E` by an export, `I` by an instance.
    let expect: [(&str, &str); 5] = [
        ("generate --force", "- - - - - G G"),
        ("export --force", "- - - - - E -"),
        ("import", "- - - - - I -"),
        ("import --overwrite", "- - - - I I -"),
        ("run --force", "- - - - I G G"),
    ];
    let mut failures = Vec::new();
    let mut table = String::new();
    let mut cells = 0;
    for (command, outcomes) in expect {
        let outcomes = outcomes.split(' ').map(|c| match c {
            "G" => Outcome::Replaced(Made::Generated),
            "E" => Outcome::Replaced(Made::Export),
            "I" => Outcome::Replaced(Made::Instance),
            _ => Outcome::Refused,
        });
        for ((target, make), want) in targets.iter().zip(outcomes) {
            cells += 1;
            let cell = root.join(format!("cell-{cells}"));
            std::fs::create_dir_all(&cell).unwrap();
            let path = make(&cell, &fixtures);
            // A running server writes its logs and store as it goes: compare the rest.
            let skip: &[&str] = if path == live_dir {
                &["logs", "data"]
            } else {
                &[]
            };
            let before = tree(&path, skip);
            let mut cmd = tenantgen();
            // What a user would pass for this target with this command.
            let checked = match command {
                "generate --force" => {
                    cmd.arg("generate").args(SMALL).arg(base_for(&path));
                    cmd.arg("--force").arg("--out").arg(&path);
                    path.clone()
                }
                "export --force" => {
                    cmd.args(["export", "--uri", &uri, "--force", "--out"])
                        .arg(&path);
                    path.clone()
                }
                "import" | "import --overwrite" => {
                    cmd.arg("import").arg(&gen).arg("--data-dir").arg(&path);
                    cmd.args(SIZES);
                    if command.ends_with("--overwrite") {
                        cmd.arg("--overwrite");
                    }
                    path.clone()
                }
                _ => {
                    // run's targets are its instance directory (for instances) or its --out.
                    cmd.arg("run").args(SMALL).arg(base_for(&path)).args(SIZES);
                    if target.contains("instance") {
                        let out = cell.join("job");
                        cmd.arg("--out").arg(&out).arg("--data-dir").arg(&path);
                    } else {
                        cmd.arg("--out").arg(&path);
                    }
                    path.clone()
                }
            };
            let o = cmd.output().unwrap();
            let after = tree(&checked, skip);
            let got = outcome(&o, &checked, &before, &after);
            record(&mut table, &mut failures, command, target, want, got, &o);
        }
    }
    // The running server was never disturbed.
    assert_eq!(count(&live.client), live_nodes);
    assert_eq!(Made::of(&live_dir), Some(Made::Instance));

    // clean touches no directory: against the running graph it deletes exactly one operation.
    let stats = |c: &tenantgen::neo4j::Client| {
        c.scalar_i64(
            "MATCH (n) WHERE n.scale_operation_id = 'scale-nothing' RETURN count(n) AS c",
            &[],
        )
        .unwrap()
    };
    assert_eq!(stats(&live.client), 0);
    let o = tenantgen()
        .args(["clean", "--operation-id", "scale-nothing", "--uri", &uri])
        .output()
        .unwrap();
    table.push_str(&format!(
        "clean --operation-id (absent op) | running instance | exit {:?}\n",
        o.status.code()
    ));
    assert_eq!(
        count(&live.client),
        live_nodes,
        "clean of an absent operation deleted nodes"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.code() != Some(2) || !err.contains("no operation scale-nothing in the graph") {
        failures.push(format!(
            "clean of an absent operation: exit {:?}, stderr {err}",
            o.status.code()
        ));
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "{}\n{}", table, failures.join("\n"));
}

struct Fixtures {
    live: PathBuf,
    other: PathBuf,
}

fn base_for(target: &Path) -> PathBuf {
    // Cells whose target is (or holds) a baseline generate from that one.
    let inner = target.join("base");
    if inner.join("manifest.json").is_file() {
        inner
    } else if target.join("manifest.json").is_file()
        && target.file_name().is_some_and(|n| n == "base")
    {
        target.to_path_buf()
    } else {
        mini_baseline()
    }
}

fn outcome(
    o: &std::process::Output,
    target: &Path,
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
) -> Result<Outcome, String> {
    let stderr = String::from_utf8_lossy(&o.stderr);
    match o.status.code() {
        Some(2) if before == after => Ok(Outcome::Refused),
        Some(2) => Err(format!("exit 2 but the target changed: {stderr}")),
        Some(0) => match Made::of(target) {
            Some(m) if target.join(MARKER).is_file() => Ok(Outcome::Replaced(m)),
            m => Err(format!("exit 0 but the target is {m:?}")),
        },
        c => Err(format!("exit {c:?}: {stderr}")),
    }
}

fn record(
    table: &mut String,
    failures: &mut Vec<String>,
    command: &str,
    target: &str,
    want: Outcome,
    got: Result<Outcome, String>,
    o: &std::process::Output,
) {
    let first_line = String::from_utf8_lossy(&o.stderr)
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("")
        .to_string();
    table.push_str(&format!("{command} | {target} | {got:?} | {first_line}\n"));
    if got.as_ref() != Ok(&want) {
        failures.push(format!("{command} × {target}: want {want:?}, got {got:?}"));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
