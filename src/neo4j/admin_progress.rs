//! neo4j-admin's own progress, read while the import runs: with `--verbose` the importer writes
//! a `NAME, started DATE` line when a stage begins (`Nodes`, `Relationships`, `Node Degrees`,
//! …), then redraws one bar with `\r` (`[*Nodes:0B/s 1.004GiB----…] 410K ∆50.0K`: the count the
//! stage has processed, and the change since the last redraw), and `Done in 22s 276ms` when the
//! stage ends. [`AdminProgress`] is fed the log as it grows and says where the import is; the
//! percentage is the count over the manifest's totals for the two stages that count nodes and
//! relationships (the other stages count records of their own: only the count is shown).
//! Filtering these lines out of error messages is `instance`'s (`is_progress_line`).

use crate::report::thousands;

/// The totals the `Nodes` and `Relationships` stages count towards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportTotals {
    pub nodes: u64,
    pub relationships: u64,
}

/// Where an import is, from the part of its log read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminProgress {
    /// The stage running now, e.g. `Nodes`.
    pub stage: Option<String>,
    /// Which stage it is (1 for the first).
    pub step: usize,
    /// The stage's newest count.
    pub count: Option<u64>,
    /// `IMPORT DONE` was seen.
    pub done: bool,
    /// The bytes after the last `\n` or `\r`: a line still being written.
    partial: Vec<u8>,
}

impl AdminProgress {
    /// Takes the next bytes of the log (they may end inside a line or a character).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n' || b == b'\r') else {
            return;
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        for segment in complete.split(|&b| b == b'\n' || b == b'\r') {
            self.line(String::from_utf8_lossy(segment).trim());
        }
    }

    fn line(&mut self, line: &str) {
        if let Some(stage) = stage_start(line) {
            self.stage = Some(stage.to_string());
            self.step += 1;
            self.count = None;
        } else if let Some(count) = bar_count(line) {
            if self.stage.is_some() {
                self.count = Some(count);
            }
        } else if line.starts_with("IMPORT DONE") {
            self.done = true;
        }
    }

    /// One line for a progress bar: `step 1: Nodes 98% (410,000 of 414,495 nodes)`.
    pub fn describe(&self, totals: ImportTotals) -> String {
        let Some(stage) = &self.stage else {
            return "starting neo4j-admin".into();
        };
        if self.done {
            return "import done, writing the store".into();
        }
        let mut s = format!("step {}: {stage}", self.step);
        let total = match stage.as_str() {
            "Nodes" => Some((totals.nodes, "nodes")),
            "Relationships" => Some((totals.relationships, "relationships")),
            _ => None,
        };
        match (self.count, total) {
            (Some(n), Some((t, unit))) if t > 0 => {
                let pct = (n.min(t) * 100) / t;
                s.push_str(&format!(
                    " {pct}% ({} of {} {unit})",
                    thousands(n),
                    thousands(t)
                ));
            }
            (Some(n), _) => s.push_str(&format!(" ({} processed)", thousands(n))),
            (None, _) => {}
        }
        s
    }
}

/// `Nodes, started 2026-12-02 02:02:29.689+0000` → `Nodes`.
fn stage_start(line: &str) -> Option<&str> {
    let (name, rest) = line.rsplit_once(", started ")?;
    let date = rest.as_bytes();
    let looks_dated = date.len() >= 10
        && date[..4].iter().all(u8::is_ascii_digit)
        && date[4] == b'-'
        && date[7] == b'-';
    (looks_dated && !name.is_empty()).then_some(name)
}

/// `[*Nodes:0B/s 1.004GiB----] 410K ∆50.0K` → 410,000.
fn bar_count(line: &str) -> Option<u64> {
    if !line.starts_with('[') {
        return None;
    }
    let (_, tail) = line.rsplit_once(']')?;
    let (count, _) = tail.split_once('∆')?;
    parse_count(count.trim())
}

/// neo4j-admin's counts: `327`, `30.0K`, `1.24M` (powers of 1,000).
fn parse_count(s: &str) -> Option<u64> {
    let (digits, scale) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    let v: f64 = digits.parse().ok()?;
    (v >= 0.0).then(|| (v * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `tenantgen import` of `generate --scale-factor 200` (414,495 nodes, 16,178
    /// relationships; neo4j-admin 5.26.31 `--verbose`), its `logs/import.log` from "Nodes,
    /// started" on, shortened to the first stages and the end. The bars are separated by `\r`
    /// as the importer writes them.
    const VERBOSE_LOG: &str = "Nodes, started 2026-12-02 02:02:29.689+0000\n\
\r[*Nodes:0B/s 1.004GiB-------------------------------------------------------------------------]    0 \u{2206}    0\
\r[*Nodes:0B/s 1.004GiB-------------------------------------------------------------------------]30.0K \u{2206}30.0K\
\r[*Nodes:0B/s 1.004GiB-------------------------------------------------------------------------] 200K \u{2206}70.0K\
\r[*Nodes:0B/s 1.004GiB-------------------------------------------------------------------------] 410K \u{2206}50.0K\n\
Done in 22s 276ms\n\
Prepare node index, started 2026-12-02 02:02:51.961+0000\n\
\r[*:1.005GiB-----------------------------------------------------------------------------------] 430K \u{2206} 430K\
\r[*:1.005GiB-----------------------------------------------------------------------------------]1.24M \u{2206} 810K\n\
Done in 2s 253ms\n\
Relationships, started 2026-12-02 02:02:54.229+0000\n\
\r[*Relationships:?? 1.005GiB-------------------------------------------------------------------]10.0K \u{2206}10.0K\n\
Done in 407ms\n\
Node Degrees, started 2026-12-02 02:02:54.815+0000\n\
\r[>|*>--------------------------------------------------|CALCULATE:1024MiB---------------------] 120K \u{2206} 120K\n\
Done in 145ms\n\
Relationship --> Relationship 1-4/4, started 2026-12-02 02:02:55.091+0000\n\
\r[>----------------|*LINK-----------------------------------------------------------|v:??------] 120K \u{2206} 120K\n\
Done in 379ms\n\
\n\
IMPORT DONE in 35s 70ms. \n\
Imported:\n\
  414495 nodes\n\
  16178 relationships\n\
  9671214 properties\n\
Peak memory usage: 1.036GiB\n";

    const TOTALS: ImportTotals = ImportTotals {
        nodes: 414_495,
        relationships: 16_178,
    };

    /// Feeds `log` up to the end of its `n`th occurrence of `needle`.
    fn upto(log: &str, needle: &str, n: usize) -> AdminProgress {
        let end = log
            .match_indices(needle)
            .nth(n - 1)
            .map(|(i, m)| i + m.len())
            .expect("needle in log");
        let mut p = AdminProgress::default();
        p.feed(&log.as_bytes()[..end]);
        p
    }

    #[test]
    fn reads_stages_and_percentages_from_a_real_verbose_log() {
        let p = AdminProgress::default();
        assert_eq!(p.describe(TOTALS), "starting neo4j-admin");
        // The bar redraw is complete once the next \r or \n arrives.
        let states = [
            (
                "\u{2206}30.0K\r",
                "step 1: Nodes 7% (30,000 of 414,495 nodes)",
            ),
            (
                "\u{2206}50.0K\n",
                "step 1: Nodes 98% (410,000 of 414,495 nodes)",
            ),
            (
                "\u{2206} 810K\n",
                "step 2: Prepare node index (1,240,000 processed)",
            ),
            ("54.229+0000\n", "step 3: Relationships"),
            (
                "\u{2206}10.0K\n",
                "step 3: Relationships 61% (10,000 of 16,178 relationships)",
            ),
            (
                "55.091+0000\n",
                "step 5: Relationship --> Relationship 1-4/4",
            ),
        ];
        for (needle, want) in states {
            assert_eq!(
                upto(VERBOSE_LOG, needle, 1).describe(TOTALS),
                want,
                "after {needle:?}"
            );
        }
        let mut p = AdminProgress::default();
        p.feed(VERBOSE_LOG.as_bytes());
        assert!(p.done);
        assert_eq!(p.describe(TOTALS), "import done, writing the store");
    }

    #[test]
    fn a_chunk_may_end_inside_a_character_or_a_line() {
        let mut whole = AdminProgress::default();
        whole.feed(VERBOSE_LOG.as_bytes());
        for size in [1, 2, 3, 7, 64] {
            let mut p = AdminProgress::default();
            for chunk in VERBOSE_LOG.as_bytes().chunks(size) {
                p.feed(chunk);
            }
            assert_eq!(p, whole, "chunks of {size} bytes");
        }
    }

    #[test]
    fn counts_as_neo4j_admin_prints_them() {
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("327"), Some(327));
        assert_eq!(parse_count("30.0K"), Some(30_000));
        assert_eq!(parse_count("1.24M"), Some(1_240_000));
        assert_eq!(parse_count("2.5G"), Some(2_500_000_000));
        assert_eq!(parse_count("K"), None);
        assert_eq!(parse_count("x"), None);
        assert_eq!(
            bar_count("[*Nodes:?? 1.004GiB---]    0 \u{2206}    0"),
            Some(0)
        );
        assert_eq!(bar_count("Done in 22s 276ms"), None);
        assert_eq!(
            stage_start("Nodes, started 2026-12-02 02:02:29.689+0000"),
            Some("Nodes")
        );
        assert_eq!(stage_start("Relationships, started soon"), None);
    }

    #[test]
    fn a_count_past_the_total_reads_100_percent() {
        let mut p = AdminProgress::default();
        p.feed(b"Nodes, started 2026-12-02 02:02:29.689+0000\n[*Nodes:0B/s 1GiB--] 500K \xe2\x88\x86 90K\n");
        assert_eq!(
            p.describe(TOTALS),
            "step 1: Nodes 100% (500,000 of 414,495 nodes)"
        );
        assert_eq!(
            p.describe(ImportTotals::default()),
            "step 1: Nodes (500,000 processed)"
        );
    }
}
