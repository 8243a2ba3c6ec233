//! `aio patterns --input FILE --output OUT.csv [--chart-json OUT.json] [--reading OUT.json]`: TA-Lib candlestick
//! pattern columns, chart-pattern findings, and the rule-based chart reading (the document `aio vision` answers
//! with).

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

use super::write_json;
use crate::{
    ingest::{self, ExtraColumn, LoadOptions, NoProgress},
    patterns::{self, chart::ChartConfig},
};

/// Arguments of `aio patterns`.
#[derive(Debug, clap::Args)]
pub struct PatternsArgs {
    /// Input bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Candlestick output (.csv or .parquet): time, then one column per pattern with TA-Lib's values
    /// (-100, -80, 0, 80, 100).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Chart patterns as a JSON array of findings (the shape the vision model produces).
    #[arg(long, value_name = "OUT.json")]
    pub chart_json: Option<PathBuf>,
    /// The rule-based reading of the whole chart as one findings document (pattern, strength, volatility,
    /// support_resistance, trend, timeframe_hint, confidence, notes): the same schema `aio vision` answers with.
    #[arg(long, value_name = "OUT.json")]
    pub reading: Option<PathBuf>,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `aio patterns`.
pub fn run(args: PatternsArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.output.is_some() || args.chart_json.is_some() || args.reading.is_some(),
        "nothing to write: give --output OUT.csv, --chart-json OUT.json and/or --reading OUT.json"
    );
    if let Some(out) = &args.output {
        ingest::OutputFormat::from_path(out)?;
    }
    let loaded = ingest::load_path(&args.input, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?;
    let bars = &loaded.bars;
    if let Some(out) = &args.output {
        let columns = patterns::candle_columns(bars);
        let extra: Vec<ExtraColumn<'_>> = columns.iter().map(|(p, v)| ExtraColumn::I32(p.name(), v)).collect();
        ingest::write_table(out, bars, false, &extra)?;
        let fired: usize = columns.iter().map(|(_, v)| v.iter().filter(|&&x| x != 0).count()).sum();
        eprintln!("{} bars, {} candlestick signal(s) -> {}", bars.len(), fired, out.display());
    }
    // One analysis serves both JSON outputs.
    let analysis = if args.chart_json.is_some() || args.reading.is_some() {
        Some(
            patterns::analyze_chart(bars, &ChartConfig::default())
                .with_context(|| format!("analysing {}", args.input.display()))?,
        )
    } else {
        None
    };
    if let (Some(out), Some(analysis)) = (&args.chart_json, &analysis) {
        let findings = analysis.findings(bars.ts_nanos());
        write_json(out, &findings)?;
        eprintln!(
            "{} chart pattern(s); regime {}, volatility {} -> {}",
            findings.len(),
            analysis.regime.regime.name(),
            analysis.volatility.state.name(),
            out.display()
        );
    }
    if let (Some(out), Some(analysis)) = (&args.reading, &analysis) {
        let timeframe = loaded.timeframe.map(|t| t.to_string()).unwrap_or_default();
        let reading = analysis.reading(&timeframe, bars.len());
        write_json(out, &reading)?;
        eprintln!(
            "reading: {} (strength {:.2}), trend {}, confidence {:.2} -> {}",
            reading.pattern,
            reading.strength,
            reading.trend,
            reading.confidence,
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
