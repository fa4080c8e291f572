//! The "bare csv-crate writer" baseline of `scripts/bench`: how fast does the `csv` crate alone
//! write the same rows that `tenantgen generate` wrote?
//!
//! Usage: `cargo run --release --example csv_baseline -- IN_DIR OUT_FILE [--chunk N]`
//!
//! Reads the data parts of a tenantgen output directory (`IN_DIR/data/*.csv`, the synthetic
//! groups; headers and the hard-linked baseline are not part of the generated volume) into
//! `csv::ByteRecord`s — untimed — then times writing all of them with a default `csv::Writer`
//! (`QuoteStyle::Necessary`) into one file, followed by `sync_data`. Records are read and written
//! in chunks of N records (default 1,000,000) so that 10M rows do not need ~10 GB of memory; only
//! the writes (and the final flush + `sync_data`) are timed. Parts are written one after another
//! into the same file, each through its own `csv::Writer` (parts of different groups have
//! different field counts, and a default writer rejects a change of record length).
//!
//! Prints one JSON line: rows, bytes (written), input_bytes (the parts' size: equal to `bytes`
//! when the writer reproduced the generator's bytes), seconds, rows_per_s, bytes_per_s, chunks.
//! OUT_FILE is removed at the end unless `--keep` is given.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!("usage: csv_baseline IN_DIR OUT_FILE [--chunk N] [--keep]");
    std::process::exit(2);
}

/// Reads up to `limit` records from `reader` into `out`; returns how many were read.
fn fill(
    reader: &mut csv::Reader<BufReader<File>>,
    out: &mut Vec<csv::ByteRecord>,
    limit: usize,
) -> csv::Result<usize> {
    let mut n = 0;
    while n < limit {
        let mut rec = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut rec)? {
            break;
        }
        out.push(rec);
        n += 1;
    }
    Ok(n)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut chunk = 1_000_000usize;
    let mut keep = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chunk" => {
                chunk = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--keep" => keep = true,
            "-h" | "--help" => usage(),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [in_dir, out_file] = <[PathBuf; 2]>::try_from(positional).unwrap_or_else(|_| usage());
    let chunk = chunk.max(1);

    let mut parts: Vec<PathBuf> = fs::read_dir(in_dir.join("data"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    parts.sort();
    if parts.is_empty() {
        return Err(format!(
            "no uncompressed data parts in {} (a --compress gz output is not supported)",
            in_dir.join("data").display()
        )
        .into());
    }
    let input_bytes: u64 = parts
        .iter()
        .map(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();

    let mut file = File::create(&out_file)?;
    let mut timed = Duration::ZERO;
    let mut rows = 0u64;
    let mut chunks = 0u64;
    let mut records: Vec<csv::ByteRecord> = Vec::with_capacity(chunk.min(1 << 20));
    for part in &parts {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(BufReader::with_capacity(1 << 20, File::open(part)?));
        // One writer per part (default settings) over the shared file.
        let mut writer = Some(csv::Writer::from_writer(&mut file));
        loop {
            records.clear();
            let n = fill(&mut reader, &mut records, chunk).map_err(|e| with_path(part, e))?;
            if n == 0 {
                break;
            }
            chunks += 1;
            let t = Instant::now();
            let w = writer.as_mut().expect("writer lives until the part ends");
            for r in &records {
                w.write_byte_record(r)?;
            }
            timed += t.elapsed();
            rows += n as u64;
        }
        let t = Instant::now();
        writer.take().expect("writer").flush()?;
        timed += t.elapsed();
    }
    drop(records);
    let t = Instant::now();
    file.flush()?;
    file.sync_data()?;
    timed += t.elapsed();
    let bytes = file.metadata()?.len();
    drop(file);
    if !keep {
        fs::remove_file(&out_file)?;
    }
    let secs = timed.as_secs_f64();
    println!(
        "{{\"rows\":{rows},\"bytes\":{bytes},\"input_bytes\":{input_bytes},\"same_size\":{},\"seconds\":{secs:.6},\"rows_per_s\":{:.1},\"bytes_per_s\":{:.1},\"parts\":{},\"chunks\":{chunks},\"chunk_records\":{chunk}}}",
        bytes == input_bytes,
        rows as f64 / secs.max(1e-9),
        bytes as f64 / secs.max(1e-9),
        parts.len(),
    );
    Ok(())
}

fn with_path(p: &Path, e: csv::Error) -> Box<dyn std::error::Error> {
    format!("{}: {e}", p.display()).into()
}
