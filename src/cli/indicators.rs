//! `aio indicators --input FILE --output OUT.csv --set SPEC`: indicator columns beside the bars.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;

use crate::{
    indicators,
    ingest::{self, ExtraColumn, LoadOptions, NoProgress},
};

/// Arguments of `aio indicators`.
#[derive(Debug, clap::Args)]
pub struct IndicatorsArgs {
    /// Input bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Output file (.csv or .parquet): time,open,high,low,close,volume, then one column per indicator value.
    #[arg(long)]
    pub output: PathBuf,
    /// Comma list of indicators: sma:N, ema:N, wma:N, rsi:N, macd:FAST:SLOW:SIGNAL, bb:N:DEV,
    /// stoch:K:SLOW_K:SLOW_D, atr:N, adx:N, time.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "sma:20,ema:20,rsi:14,macd:12:26:9,bb:20:2,stoch:14:3:3,atr:14,adx:14"
    )]
    pub set: String,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `aio indicators`.
pub fn run(args: IndicatorsArgs) -> anyhow::Result<ExitCode> {
    let specs = indicators::parse_spec_list(&args.set).context("invalid --set")?;
    ingest::OutputFormat::from_path(&args.output)?;
    let loaded = ingest::load_path(&args.input, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?;
    let started = Instant::now();
    let columns = indicators::compute_columns(&loaded.bars, &specs)?;
    let compute = started.elapsed();
    let extra: Vec<ExtraColumn<'_>> = columns.iter().map(|c| ExtraColumn::F64(&c.name, &c.values)).collect();
    ingest::write_table(&args.output, &loaded.bars, true, &extra)?;
    eprintln!(
        "{} bars, {} column(s) ({}) in {:.1} ms -> {}",
        loaded.bars.len(),
        columns.len(),
        specs.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        compute.as_secs_f64() * 1e3,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
