//! `aio bench import|startup`: measurements printed beside a reference run on the same machine, same run.

use std::{
    io::BufWriter,
    process::{Command, ExitCode},
    time::{Duration, Instant},
};

use anyhow::Context;
use polars::prelude::*;

use crate::ingest::{self, LoadOptions, NoProgress};

/// Arguments of `aio bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: BenchKind,
}

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchKind {
    /// Import of a generated generic CSV to Parquet, against polars' own CSV → Parquet on the same file.
    Import {
        /// Rows to generate.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Repetitions (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Cold start to the first frame with the sample data, against a start with no data (needs a display).
    Startup {
        /// Repetitions.
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
}

/// Runs `aio bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        BenchKind::Import { rows, repeat } => bench_import(rows, repeat.max(1)),
        BenchKind::Startup { repeat } => bench_startup(repeat.max(1)),
    }
}

fn best_of(repeat: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

fn bench_import(rows: usize, repeat: usize) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("bench.csv");
    ingest::synthetic::write_random_walk_csv(&csv, rows)?;
    let size_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
    let ours_out = dir.path().join("ours.parquet");
    let ours = best_of(repeat, || {
        let loaded = ingest::load_path(&csv, &LoadOptions::default(), &NoProgress)?;
        anyhow::ensure!(loaded.bars.len() == rows, "imported {} of {rows} rows", loaded.bars.len());
        ingest::write_parquet(&ours_out, &loaded.bars)?;
        Ok(())
    })?;
    // Reference: polars alone reads the same CSV with a typed schema (time kept as text, no validation)
    // and writes zstd Parquet: the floor for "CSV in, Parquet out" with this library on this machine.
    let ref_out = dir.path().join("reference.parquet");
    let reference = best_of(repeat, || {
        let mut df = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv.clone()))?
            .finish()?;
        let file = std::fs::File::create(&ref_out)?;
        ParquetWriter::new(BufWriter::new(file)).with_compression(ParquetCompression::Zstd(None)).finish(&mut df)?;
        Ok(())
    })?;
    println!("import benchmark: {rows} rows, {size_mb:.1} MB generic CSV, best of {repeat}");
    println!("  aio import (parse, validate, Parquet zstd)     {:>8.1} ms", ours.as_secs_f64() * 1e3);
    println!(
        "  reference: polars read_csv → Parquet (no time parsing, no validation) {:>8.1} ms",
        reference.as_secs_f64() * 1e3
    );
    println!(
        "  ratio aio / reference: {:.2}×   goal: ≤ 1000 ms for 1,000,000 rows",
        ours.as_secs_f64() / reference.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_startup(args: &[&str]) -> anyhow::Result<(Duration, f64)> {
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let output = Command::new(exe).args(args).env("AIO_NO_PERSIST", "1").output()?;
    let wall = t.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first_frame_ms = stdout
        .lines()
        .find_map(|l| l.strip_prefix("first_frame_ms="))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .with_context(|| {
            format!(
                "the workstation did not report a first frame (is a display available?): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    Ok((wall, first_frame_ms))
}

fn bench_startup(repeat: usize) -> anyhow::Result<ExitCode> {
    let mut sample = Vec::new();
    let mut empty = Vec::new();
    for _ in 0..repeat {
        sample.push(run_startup(&["--sample", "--exit-after-first-frame"])?);
        empty.push(run_startup(&["--empty", "--exit-after-first-frame"])?);
    }
    let median = |v: &mut Vec<(Duration, f64)>| {
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v[v.len() / 2]
    };
    let (first_wall, first_ms) = sample[0];
    let (s_wall, s_ms) = median(&mut sample);
    let (e_wall, e_ms) = median(&mut empty);
    println!("startup benchmark: {repeat} runs each, median");
    println!(
        "  sample (5,000 EUR/USD H1 bars): first frame with data {s_ms:>7.1} ms after process start (process wall {:.1} ms)",
        s_wall.as_secs_f64() * 1e3
    );
    println!(
        "  reference, no data:             first frame           {e_ms:>7.1} ms (process wall {:.1} ms)",
        e_wall.as_secs_f64() * 1e3
    );
    println!("  first (coldest) sample run:     {first_ms:.1} ms (wall {:.1} ms)", first_wall.as_secs_f64() * 1e3);
    println!("  ratio sample / no data: {:.2}×   goal: ≤ 500 ms", s_ms / e_ms);
    Ok(ExitCode::SUCCESS)
}
