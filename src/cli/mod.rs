//! The command line: `aio [FILE]` opens the workstation, subcommands run jobs headless.
//!
//! An edge module: it may import everything and is imported by `main.rs` only. Errors are `anyhow` here,
//! printed once with their context chain.

mod analyze;
mod backtest;
mod bench;
mod fetch;
mod import;
mod indicators;
mod library;
mod llm;
mod mine;
mod patterns;
mod pine;
mod render;
mod resample;
mod validate;
mod vision;

use std::{path::PathBuf, process::ExitCode, time::Instant};

use clap::{Parser, Subcommand};
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "aio", version, about = "AI-Indicator-Optimizer: trading workstation and headless jobs")]
pub struct Cli {
    /// Bar file (CSV or Parquet) to open in the workstation.
    pub file: Option<PathBuf>,
    /// Open the embedded EUR/USD H1 sample, not the last file.
    #[arg(long)]
    pub sample: bool,
    /// Library file (default: $AIO_LIBRARY, else the XDG data directory's aio/library.sqlite).
    #[arg(long, global = true, value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// Print the time to the first frame with data and exit (used by `aio bench startup`).
    #[arg(long, hide = true)]
    pub exit_after_first_frame: bool,
    /// Open without loading any data (the reference run of `aio bench startup`).
    #[arg(long, hide = true)]
    pub empty: bool,
    /// Start N analyses once the data is there, print frame times and exit (used by `aio bench analyze`).
    #[arg(long, hide = true, default_value_t = 0)]
    pub bench_analyses: usize,
    /// The job to run headless; none opens the workstation.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Headless jobs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download Dukascopy ticks or minute candles (cached), aggregate to bars, write and register them.
    Fetch(fetch::FetchArgs),
    /// Import a bar file (CSV dialects, Parquet, or a Dukascopy .bi5) and write it as Parquet or CSV.
    Import(import::ImportArgs),
    /// Aggregate bars to a higher timeframe.
    Resample(resample::ResampleArgs),
    /// Check a bar file and print one line per finding; exit 1 on errors.
    Validate(validate::ValidateArgs),
    /// Compute indicator columns (TA-Lib-identical) beside the bars.
    Indicators(indicators::IndicatorsArgs),
    /// Detect candlestick patterns (TA-Lib-identical) and chart patterns.
    Patterns(patterns::PatternsArgs),
    /// Mine a dataset for every pattern: forward returns, out-of-sample verdicts, stored in the library.
    Mine(mine::MineArgs),
    /// Inspect the SQLite library.
    Library(library::LibraryArgs),
    /// Backtest a strategy spec natively (TradingView fill rules) and write a report.
    Backtest(backtest::BacktestArgs),
    /// Backtest every combination of a parameter grid on all cores and rank the results.
    Sweep(backtest::SweepArgs),
    /// Walk-forward analysis: optimise in-sample, evaluate out-of-sample, window by window.
    Walkforward(backtest::WalkForwardArgs),
    /// Generate, check or fix Pine Script v5.
    Pine(pine::PineArgs),
    /// Draw a chart offscreen (no window; lavapipe without a GPU) and write it as PNG.
    Render(render::RenderArgs),
    /// Run benchmarks and print figures beside a reference run.
    Bench(bench::BenchArgs),
    /// Generate text with a local MiniCPM4 model (streams to stdout).
    Generate(llm::GenerateArgs),
    /// Inspect a local model: `info` (architecture, quantization, memory), `logits` (safetensors dump) or
    /// `vision-features` (a MiniCPM-V model's image features).
    Model(llm::ModelArgs),
    /// Read a chart image with a MiniCPM-V model and print its findings as JSON (constrained decoding).
    Vision(vision::VisionArgs),
    /// Analyse the latest bars: chart image, findings, a strategy with rationale, its Pine Script and backtests.
    Analyze(analyze::AnalyzeArgs),
}

/// Writes `value` as pretty JSON with a final newline, through a temporary file renamed into place.
pub(crate) fn write_json(out: &std::path::Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(value)?;
    json.push('\n');
    crate::ingest::write_atomically(out, |file| {
        std::io::Write::write_all(file, json.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(())
}

fn init_logging(gui_layer: Option<crate::gui::LogLayer>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,wgpu=warn,naga=warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    // A second initialisation (tests) is harmless; keep the first.
    let _ = tracing_subscriber::registry().with(filter).with(fmt).with(gui_layer).try_init();
}

/// Runs the parsed command line; `started` is the process start for start-up measurements.
pub fn run(cli: Cli, started: Instant) -> ExitCode {
    let result = match cli.command {
        None => {
            let (layer, log) = crate::gui::LogLayer::new();
            init_logging(Some(layer));
            let options = crate::gui::LaunchOptions {
                file: cli.file,
                sample: cli.sample,
                library: cli.library,
                exit_after_first_frame: cli.exit_after_first_frame,
                empty: cli.empty,
                bench_analyses: cli.bench_analyses,
                started,
            };
            crate::gui::run(options, log).map(|()| ExitCode::SUCCESS)
        }
        Some(command) => {
            init_logging(None);
            match command {
                Command::Fetch(args) => fetch::run(args, cli.library.as_deref()),
                Command::Import(args) => import::run(args, cli.library.as_deref()),
                Command::Resample(args) => resample::run(args, cli.library.as_deref()),
                Command::Validate(args) => validate::run(args),
                Command::Indicators(args) => indicators::run(args),
                Command::Patterns(args) => patterns::run(args),
                Command::Mine(args) => mine::run(args, cli.library.as_deref()),
                Command::Library(args) => library::run(args, cli.library.as_deref()),
                Command::Backtest(args) => backtest::run(args, cli.library.as_deref()),
                Command::Sweep(args) => backtest::run_sweep_command(args, cli.library.as_deref()),
                Command::Walkforward(args) => backtest::run_walkforward_command(args, cli.library.as_deref()),
                Command::Pine(args) => pine::run(args),
                Command::Render(args) => render::run(args),
                Command::Bench(args) => bench::run(args),
                Command::Generate(args) => llm::run_generate(args),
                Command::Model(args) => llm::run_model(args),
                Command::Vision(args) => vision::run(args),
                Command::Analyze(args) => analyze::run(args, cli.library.as_deref()),
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `HH:MM` into seconds after midnight.
pub(crate) fn parse_day_start(text: &str) -> anyhow::Result<i64> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("invalid --day-start '{text}': expected HH:MM such as 22:00"))?;
    let (h, m): (i64, i64) = (
        h.parse().map_err(|_| anyhow::anyhow!("invalid hour in --day-start '{text}'"))?,
        m.parse().map_err(|_| anyhow::anyhow!("invalid minute in --day-start '{text}'"))?,
    );
    anyhow::ensure!((0..24).contains(&h) && (0..60).contains(&m), "--day-start '{text}' is not a time of day");
    Ok(h * 3600 + m * 60)
}

/// Registers loaded bars as a dataset in the library; returns its id.
pub(crate) fn register_dataset(
    library: Option<&std::path::Path>,
    loaded: &crate::ingest::LoadedBars,
    source: &std::path::Path,
) -> anyhow::Result<crate::store::DatasetId> {
    use anyhow::Context;
    let path = crate::store::Library::resolve_path(library)?;
    let mut lib = crate::store::Library::open(&path).with_context(|| "opening the library")?;
    Ok(lib.add_dataset(&crate::store::NewDataset::from_loaded(loaded, source))?)
}

/// Prints warnings (at most `limit`, then a count) to stderr.
pub(crate) fn print_findings(path: &std::path::Path, findings: &[crate::ingest::Finding], limit: usize) {
    for f in findings.iter().take(limit) {
        eprintln!("{}: {f}", path.display());
    }
    if findings.len() > limit {
        eprintln!("{}: … and {} more finding(s); run `aio validate` for all", path.display(), findings.len() - limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_start_parses_and_rejects() {
        assert_eq!(parse_day_start("22:00").unwrap(), 79_200);
        assert_eq!(parse_day_start("00:30").unwrap(), 1_800);
        for bad in ["24:00", "22", "ab:cd", "10:60"] {
            assert!(parse_day_start(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_shapes() {
        let cli = Cli::try_parse_from(["aio", "bars.csv"]).unwrap();
        assert_eq!(cli.file, Some(PathBuf::from("bars.csv")));
        let cli = Cli::try_parse_from(["aio", "import", "a.csv", "--out", "b.parquet", "--timeframe", "1h"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Import(_))));
        assert!(Cli::try_parse_from(["aio", "import", "a.csv", "--out", "b.parquet", "--timeframe", "9x"]).is_err());
    }
}
