//! `aio import FILE --out OUT.{parquet,csv} [--symbol S] [--timeframe TF] [--force]`; a Dukascopy `.bi5` file
//! (`13h_ticks.bi5`, `BID_candles_min_1.bi5`) is decoded with `--symbol` and `--hour` (or both read from a path
//! in the datafeed layout).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

use crate::{
    domain::{InstrumentRegistry, Timeframe, format_ts_nanos},
    ingest::{
        self, ExtraColumn, LoadOptions, NoProgress, TickBars,
        dukascopy::{self, PriceSide, bi5},
    },
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
    /// bi5 files: the hour (tick files, `2024-01-15T13`) or day (candle files, `2024-01-15`) the file holds, UTC;
    /// default: read from a datafeed path such as `EURUSD/2024/00/15/13h_ticks.bi5` (month zero-based).
    #[arg(long, value_name = "YYYY-MM-DDTHH")]
    pub hour: Option<String>,
    /// bi5 tick files with --timeframe: the price bars are built from (bid, ask, mid).
    #[arg(long, default_value = "bid", value_parser = |s: &str| s.parse::<PriceSide>())]
    pub side: PriceSide,
}

/// Runs `aio import`.
pub fn run(args: ImportArgs, library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    ingest::OutputFormat::from_path(&args.out)?;
    if args.file.extension().is_some_and(|e| e.eq_ignore_ascii_case("bi5")) {
        return import_bi5(&args);
    }
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

/// Decodes one bi5 file to ticks (or, with `--timeframe`, bars) or minute candles.
fn import_bi5(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let from_path = dukascopy::hour_from_datafeed_path(&args.file);
    let start_nanos = match (&args.hour, &from_path) {
        (Some(hour), _) => dukascopy::parse_bound(hour, false)?,
        (None, Ok((_, hour))) => *hour,
        (None, Err(e)) => anyhow::bail!("{e}; give the hour with --hour 2024-01-15T13"),
    };
    let symbol = match (&args.symbol, &from_path) {
        (Some(symbol), _) => symbol.clone(),
        (None, Ok((Some(symbol), _))) => symbol.clone(),
        _ => anyhow::bail!("which instrument is {}? give --symbol (e.g. EURUSD)", args.file.display()),
    };
    let instrument = InstrumentRegistry::builtin().get(&symbol)?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let name = args.file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    if name.contains("candles_min_1") {
        let day = start_nanos.div_euclid(dukascopy::DAY_NANOS) * dukascopy::DAY_NANOS;
        let bars = bi5::read_candles(&args.file, &bytes, day, instrument.decimal_factor)?;
        let bars = match args.timeframe {
            Some(tf) if tf != Timeframe::M1 => ingest::resample(&bars, Some(Timeframe::M1), tf, 0)?,
            _ => bars,
        };
        ingest::write_bars(&args.out, &bars)?;
        println!("decoded {} candles of {} → {}", bars.len(), instrument.symbol, args.out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let ticks = bi5::read_ticks(&args.file, &bytes, start_nanos, instrument.decimal_factor)?;
    match args.timeframe {
        None => {
            ingest::write_ticks(&args.out, &ticks)?;
            println!(
                "decoded {} ticks of {} ({}) → {}",
                ticks.len(),
                instrument.symbol,
                format_ts_nanos(start_nanos),
                args.out.display()
            );
        }
        Some(tf) => {
            let (bars, counts) = TickBars::from_ticks(&ticks, tf, args.side, 0).into_bars()?;
            ingest::write_table(&args.out, &bars, true, &[ExtraColumn::U64("tick_count", &counts)])?;
            println!(
                "decoded {} ticks of {} into {} {tf} {} bars → {}",
                ticks.len(),
                instrument.symbol,
                bars.len(),
                args.side,
                args.out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
