//! `aio mine --input FILE [--horizon N]`: every occurrence of every pattern, forward-return statistics, an
//! out-of-sample verdict and a robustness score per pattern, stored in the library with the dataset.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;

use crate::{
    ingest::{self, LoadOptions, NoProgress},
    patterns::{self, miner::MinerConfig},
    store::{Library, NewPatternStats},
};

/// Arguments of `aio mine`.
#[derive(Debug, clap::Args)]
pub struct MineArgs {
    /// Input bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Forward-return horizon in bars.
    #[arg(long, default_value_t = 10)]
    pub horizon: usize,
    /// Share of the bars (the most recent) held out for the out-of-sample check.
    #[arg(long, default_value_t = 0.3)]
    pub oos_fraction: f64,
    /// Minimum occurrences in each half for a verdict.
    #[arg(long, default_value_t = 20)]
    pub min_occurrences: usize,
    /// Also write the full report as JSON.
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
    /// Do not store the statistics in the library.
    #[arg(long)]
    pub no_store: bool,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `aio mine`.
pub fn run(args: MineArgs, library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let horizon_u32 = u32::try_from(args.horizon).context("--horizon is too large")?;
    let loaded = ingest::load_path(&args.input, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?;
    let cfg = MinerConfig {
        horizon_bars: args.horizon,
        oos_fraction: args.oos_fraction,
        min_occurrences: args.min_occurrences,
        ..MinerConfig::default()
    };
    let started = Instant::now();
    let report = patterns::mine_bars(&loaded.bars, &cfg).with_context(|| format!("mining {}", args.input.display()))?;
    let elapsed = started.elapsed();

    println!(
        "{:<28} {:>4} {:>6} {:>7} {:>10} {:>10} {:>7} {:>7} {:>6}  verdict",
        "pattern", "dir", "n", "hit %", "mean", "median", "t", "t oos", "robust"
    );
    for s in &report.stats {
        println!(
            "{:<28} {:>4} {:>6} {:>7.1} {:>10.6} {:>10.6} {:>7.2} {:>7.2} {:>6}  {}",
            s.pattern,
            match s.direction {
                1 => "up",
                -1 => "down",
                _ => "-",
            },
            s.all.count,
            s.all.hit_rate * 100.0,
            s.all.mean,
            s.all.median,
            s.all.t_stat,
            s.out_of_sample.t_stat,
            s.robustness.map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
            s.verdict
        );
    }
    let validated = report.stats.iter().filter(|s| s.validated).count();
    eprintln!(
        "{} bars, horizon {} bars, split at bar {}: {} pattern(s), {validated} validated out of sample ({:.0} ms)",
        report.bars,
        report.horizon_bars,
        report.split_index,
        report.stats.len(),
        elapsed.as_secs_f64() * 1e3
    );
    if let Some(out) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        ingest::write_atomically(out, |file| {
            use std::io::Write;
            file.write_all(json.as_bytes()).map_err(|e| e.to_string())
        })?;
    }
    if !args.no_store {
        let dataset_id = super::register_dataset(library, &loaded, &args.input)?;
        let rows = report
            .stats
            .iter()
            .map(|s| {
                Ok(NewPatternStats {
                    dataset_id: Some(dataset_id),
                    name: s.pattern.clone(),
                    horizon_bars: Some(horizon_u32),
                    occurrences: s.all.count as u64,
                    stats: serde_json::to_value(s)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let path = Library::resolve_path(library)?;
        let mut lib = Library::open(&path).context("opening the library")?;
        lib.replace_pattern_stats(dataset_id, horizon_u32, &rows)?;
        eprintln!("stored {} pattern statistics for dataset {} in {}", rows.len(), dataset_id.0, path.display());
    }
    Ok(ExitCode::SUCCESS)
}
