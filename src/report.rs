//! What tenantgen tells a person: numbers with thousands separators, byte sizes, rates
//! (`807,372 rows/s`), the summaries commands print when they finish, and the progress bars of
//! the long steps ([`Bar`]). Every stage formats its numbers through here, so `18,414` and
//! `15.2 MiB` read the same in every message.
//!
//! The summaries take plain values (counts, durations, texts a stage already rendered), never a
//! stage's own types, so that this module depends on no stage. Where the text goes (stdout,
//! stderr, `--quiet`) is decided by `cli`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::manifest::Expected;

/// `18414` → `18,414`.
pub fn thousands(n: u64) -> String {
    group_digits(false, n)
}

/// `-1234567` → `-1,234,567` (the graph statistics' signed counts).
pub fn thousands_i64(n: i64) -> String {
    group_digits(n < 0, n.unsigned_abs())
}

fn group_digits(negative: bool, n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if negative {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `generate`'s closing lines: what was written where, how fast, and how to import it.
/// A shard of several (`Some((k, n, plan))`) is one n-th of the plan and is not imported on its
/// own: the hint says how the shards combine.
pub fn written(
    rows: u64,
    bytes: u64,
    out: &std::path::Path,
    elapsed: Duration,
    shard: Option<(usize, usize, &str)>,
) -> String {
    let secs = elapsed.as_secs_f64();
    let next = match shard {
        Some((k, n, plan)) if n > 1 => format!(
            "shard {k}/{n} of plan {plan}; combine with `tenantgen import DIR1 … DIR{n} --data-dir DIR` (the {n} shards' directories, this one among them), or `tenantgen merge DIR1 … DIR{n} --out DIR`; a shard alone cannot be imported"
        ),
        _ => format!("import with: tenantgen import {}", out.display()),
    };
    format!(
        "wrote {} rows ({}) to {} in {:.2} s ({})\n{next}\n",
        thousands(rows),
        human_bytes(bytes),
        out.display(),
        secs,
        rate(rows, elapsed, "rows"),
    )
}

/// One timed stage of `run`.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: &'static str,
    pub time: Duration,
}

/// Where `run` left the Neo4j server.
#[derive(Debug, Clone)]
pub enum Server {
    /// Still running at `uri` as process `pid`.
    Running {
        uri: String,
        pid: u32,
    },
    Stopped,
}

/// Everything `run`'s human summary shows.
pub struct RunSummary<'a> {
    pub operation_id: &'a str,
    pub expected: &'a Expected,
    pub stages: &'a [Stage],
    pub total: Duration,
    /// The verification table, or `None` to leave it out (`--quiet` after a pass).
    pub verify_table: Option<String>,
    pub passed: bool,
    pub instance: &'a std::path::Path,
    pub server: Server,
}

/// `run`'s closing summary: the graph, the operation's share, stage times, the verdict and
/// where the server is.
pub fn run_summary(r: &RunSummary<'_>) -> String {
    let e = r.expected;
    let mut s = String::new();
    let _ = write!(
        s,
        "operation {}\n  graph: {} nodes ({} abstracted, {} synthetic, {} original), {} relationships\n  this operation: +{} nodes, +{} relationships\n",
        r.operation_id,
        thousands(e.nodes),
        thousands(e.abstracted),
        thousands(e.synthetic),
        thousands(e.original),
        thousands(e.relationships),
        thousands(e.operation_nodes),
        thousands(e.operation_relationships),
    );
    s.push_str("  stages:");
    for st in r.stages {
        let _ = write!(s, " {} {:.2} s,", st.name, st.time.as_secs_f64());
    }
    let _ = writeln!(s, " total {:.2} s", r.total.as_secs_f64());
    if let Some(table) = &r.verify_table {
        s.push_str(table);
    }
    let _ = writeln!(
        s,
        "verification: {}",
        if r.passed { "PASSED" } else { "FAILED" }
    );
    let instance = r.instance.display();
    match &r.server {
        Server::Running { uri, pid } => {
            let _ = writeln!(
                s,
                "Neo4j keeps running at {uri} (pid {pid}, instance {instance}); stop it with: tenantgen stop {instance}"
            );
        }
        Server::Stopped => {
            let _ = writeln!(
                s,
                "server stopped; instance kept in {instance}; start it again with: tenantgen start {instance}"
            );
        }
    }
    s
}

/// `807371.57` per second → `807,372 rows/s`: a rate as a whole number with its unit.
pub fn per_second(rate: f64, unit: &str) -> String {
    let whole = if rate.is_finite() && rate > 0.0 {
        rate.round() as u64
    } else {
        0
    };
    format!("{} {unit}/s", thousands(whole))
}

/// `n` things in `elapsed` as a rate ([`per_second`]).
pub fn rate(n: u64, elapsed: Duration, unit: &str) -> String {
    per_second(n as f64 / elapsed.as_secs_f64().max(1e-9), unit)
}

/// A progress bar or spinner on stderr, shown only when stderr is a terminal and `enabled`
/// (neither `--quiet` nor `--json`); a hidden one makes every call a no-op, so stages take one
/// whether or not a person watches (tests, pipes). Never writes to stdout.
#[derive(Default)]
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    /// A bar that shows nothing.
    pub fn hidden() -> Bar {
        Bar(None)
    }

    fn shown(enabled: bool, total: Option<u64>, template: &str, what: &str) -> Bar {
        use std::io::IsTerminal;
        if !enabled || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = match total {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&per_second(s.per_sec(), "rows"));
                    },
                )
                .with_key(
                    "count",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&thousands(s.pos()));
                    },
                )
                .with_key(
                    "total",
                    |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&thousands(s.len().unwrap_or(0)));
                    },
                ),
        );
        bar.set_prefix(what.to_string());
        // A spinner that turns while the step waits on another process or a query.
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(Some(bar))
    }

    /// Rows of `total` written or sent, their rate and the time left (generate, load, export).
    pub fn rows(enabled: bool, what: &str, total: u64) -> Bar {
        Bar::shown(
            enabled,
            Some(total),
            "{spinner} {prefix} {bar:30} {count}/{total} rows  {rate}  eta {eta}",
            what,
        )
    }

    /// Steps of `total` done (`unit`: `checks`), with the current one as the message (verify).
    pub fn steps(enabled: bool, what: &str, total: u64, unit: &str) -> Bar {
        Bar::shown(
            enabled,
            Some(total),
            &format!("{{spinner}} {{prefix}} {{bar:30}} {{count}}/{{total}} {unit}  {{msg}} [{{elapsed}}]"),
            what,
        )
    }

    /// A spinner with the elapsed time and what the step waits for as the message (server
    /// start, import, clean).
    pub fn spinner(enabled: bool, what: &str) -> Bar {
        Bar::shown(enabled, None, "{spinner} {prefix} [{elapsed}] {msg}", what)
    }

    /// Whether the bar is on the terminal (so that a step can skip work only it needs).
    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub fn add(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }

    pub fn set_position(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.set_position(n);
        }
    }

    /// Sets the message; `text` is built only when the bar is shown.
    pub fn message(&self, text: impl FnOnce() -> String) {
        if let Some(b) = &self.0 {
            b.set_message(text());
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    // A step that fails half-way leaves no bar above its error message.
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(18414), "18,414");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(thousands_i64(-1_234_567), "-1,234,567");
        assert_eq!(thousands_i64(-999), "-999");
        assert_eq!(thousands_i64(i64::MIN), "-9,223,372,036,854,775,808");
        assert_eq!(thousands_i64(1000), "1,000");
    }

    #[test]
    fn rates_are_whole_numbers_with_units() {
        assert_eq!(per_second(807_371.570_9, "rows"), "807,372 rows/s");
        assert_eq!(per_second(0.4, "rows"), "0 rows/s");
        assert_eq!(per_second(f64::NAN, "rows"), "0 rows/s");
        assert_eq!(per_second(f64::INFINITY, "rows"), "0 rows/s");
        assert_eq!(
            rate(37_163, Duration::from_secs(1), "rows"),
            "37,163 rows/s"
        );
        assert_eq!(
            rate(3_000_000, Duration::from_millis(1500), "nodes"),
            "2,000,000 nodes/s"
        );
        let w = written(
            416_507,
            1024,
            std::path::Path::new("/o"),
            Duration::from_secs(8),
            None,
        );
        assert_eq!(
            w,
            "wrote 416,507 rows (1.0 KiB) to /o in 8.00 s (52,063 rows/s)\nimport with: tenantgen import /o\n"
        );
        let w = written(
            1,
            1,
            std::path::Path::new("/o"),
            Duration::from_secs(1),
            Some((2, 4, "0123abcd")),
        );
        assert!(
            w.contains("shard 2/4 of plan 0123abcd; combine with `tenantgen import DIR1 … DIR4 --data-dir DIR`")
                && !w.contains("tenantgen import /o"),
            "{w}"
        );
        let w = written(
            1,
            1,
            std::path::Path::new("/o"),
            Duration::from_secs(1),
            Some((1, 1, "x")),
        );
        assert!(w.contains("import with: tenantgen import /o"), "{w}");
    }

    #[test]
    fn a_hidden_bar_does_nothing() {
        let bar = Bar::rows(false, "load", 10);
        bar.add(3);
        bar.set_position(5);
        bar.message(|| unreachable!("a hidden bar builds no message"));
        bar.finish();
        assert!(Bar::hidden().0.is_none() && bar.0.is_none());
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(15_938_355), "15.2 MiB");
    }

    #[test]
    fn run_summary_lists_stages_verdict_and_server() {
        let e = Expected {
            nodes: 25_755,
            relationships: 10_632,
            abstracted: 22_506,
            synthetic: 18_414,
            operation_nodes: 18_414,
            operation_relationships: 3_807,
            ..Expected::default()
        };
        let stages = [
            Stage {
                name: "generate",
                time: Duration::from_millis(40),
            },
            Stage {
                name: "import",
                time: Duration::from_millis(1500),
            },
        ];
        let mut r = RunSummary {
            operation_id: "op-1",
            expected: &e,
            stages: &stages,
            total: Duration::from_millis(1540),
            verify_table: None,
            passed: true,
            instance: std::path::Path::new("/x/generated.neo4j"),
            server: Server::Stopped,
        };
        assert_eq!(
            run_summary(&r),
            "operation op-1\n  graph: 25,755 nodes (22,506 abstracted, 18,414 synthetic, 0 original), 10,632 relationships\n  this operation: +18,414 nodes, +3,807 relationships\n  stages: generate 0.04 s, import 1.50 s, total 1.54 s\nverification: PASSED\nserver stopped; instance kept in /x/generated.neo4j; start it again with: tenantgen start /x/generated.neo4j\n"
        );
        r.passed = false;
        r.verify_table = Some("TABLE\n".into());
        r.server = Server::Running {
            uri: "bolt://127.0.0.1:7999".into(),
            pid: 12,
        };
        assert!(run_summary(&r).ends_with(
            "TABLE\nverification: FAILED\nNeo4j keeps running at bolt://127.0.0.1:7999 (pid 12, instance /x/generated.neo4j); stop it with: tenantgen stop /x/generated.neo4j\n"
        ));
    }
}
