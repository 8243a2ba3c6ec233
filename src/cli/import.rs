//! `aio import FILE --out OUT.{parquet,csv} [--symbol S] [--timeframe TF] [--force]`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

use crate::{
    domain::{Timeframe, format_ts_nanos},
    ingest::{self, LoadOptions, NoProgress},
};

/// Arguments of `aio import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The bar file: generic/TradingView/MetaTrader 5/Dukascopy/backtesting.py CSV, or Parquet.
    pub file: PathBuf,
    /// Output file; the extension (.parquet or .csv) picks the format.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// Instrument symbol (default: guessed from the file name).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Timeframe such as M15, H1, 1h, D1 (default: inferred from the bar spacing).
    #[arg(long)]
    pub timeframe: Option<Timeframe>,
    /// Import even when validation finds errors: bad rows are dropped, rows sorted, duplicates removed.
    #[arg(long)]
    pub force: bool,
    /// Spike threshold for warnings, in ATR(14) multiples.
    #[arg(long, value_name = "N")]
    pub spike_atr: Option<f64>,
    /// Do not register the dataset in the library.
    #[arg(long)]
    pub no_library: bool,
}

/// Runs `aio import`.
pub fn run(args: ImportArgs, library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    ingest::OutputFormat::from_path(&args.out)?;
    let options = LoadOptions {
        force: args.force,
        symbol: args.symbol.clone(),
        timeframe: args.timeframe,
        spike_atr_multiple: args.spike_atr,
    };
    let loaded = match ingest::load_path(&args.file, &options, &NoProgress) {
        Ok(loaded) => loaded,
        Err(ingest::IngestError::Invalid { path, findings }) => {
            super::print_findings(&path, &findings, 20);
            let errors = findings.iter().filter(|f| f.is_error()).count();
            anyhow::bail!(
                "{errors} validation error(s) in {}; nothing was written (use --force to drop the bad rows)",
                path.display()
            );
        }
        Err(err) => return Err(err.into()),
    };
    super::print_findings(&args.file, &loaded.findings, 10);
    ingest::write_bars(&args.out, &loaded.bars)?;
    let (first, last) = loaded.bars.time_range_nanos().unwrap_or((0, 0));
    println!(
        "imported {} bars ({}, {} {}, {} … {}) → {}{}",
        loaded.bars.len(),
        loaded.format,
        loaded.symbol.as_deref().unwrap_or("unknown symbol"),
        loaded.timeframe.map(|t| t.to_string()).unwrap_or_else(|| "irregular".into()),
        format_ts_nanos(first),
        format_ts_nanos(last),
        args.out.display(),
        if loaded.dropped_rows > 0 { format!(" ({} bad rows dropped)", loaded.dropped_rows) } else { String::new() }
    );
    if !args.no_library {
        let id = super::register_dataset(library, &loaded, &args.file).context("registering the dataset")?;
        println!("registered as dataset #{} in the library", id.0);
    }
    Ok(ExitCode::SUCCESS)
}
