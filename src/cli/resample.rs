//! `aio resample --input FILE --timeframe TF --out OUT [--day-start HH:MM]`.

use std::{path::PathBuf, process::ExitCode};

use crate::{
    domain::Timeframe,
    ingest::{self, LoadOptions, NoProgress},
};

/// Arguments of `aio resample`.
#[derive(Debug, clap::Args)]
pub struct ResampleArgs {
    /// Input bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Target timeframe (M5, H4, D1, W1, MN1, 4h, 1d …).
    #[arg(long)]
    pub timeframe: Timeframe,
    /// Output file (.parquet or .csv).
    #[arg(long)]
    pub out: PathBuf,
    /// When day, week and month bars begin, UTC (default 00:00; 22:00 for the forex trading day).
    #[arg(long, value_name = "HH:MM", default_value = "00:00")]
    pub day_start: String,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `aio resample`.
pub fn run(args: ResampleArgs, _library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let day_start_secs = super::parse_day_start(&args.day_start)?;
    ingest::OutputFormat::from_path(&args.out)?;
    let loaded = ingest::load_path(&args.input, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?;
    let out = ingest::resample(&loaded.bars, loaded.timeframe, args.timeframe, day_start_secs)?;
    ingest::write_bars(&args.out, &out)?;
    println!(
        "resampled {} {} bars to {} {} bars → {}",
        loaded.bars.len(),
        loaded.timeframe.map(|t| t.to_string()).unwrap_or_else(|| "irregular".into()),
        out.len(),
        args.timeframe,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
