//! `aio fetch --symbol EURUSD --from 2024-01-15 --to 2024-01-19 [--timeframe M1|ticks] [--side bid|ask|mid]
//! [--out FILE] [--cache DIR] [--base-url URL] [--jobs N]`: Dukascopy history to a bar or tick file, registered
//! in the library.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::{
    domain::{InstrumentRegistry, Timeframe, format_ts_nanos},
    ingest::{
        self, ExtraColumn, Progress,
        dukascopy::{self, DataKind, Datafeed, FetchOptions, FetchRequest, PriceSide},
    },
    store::{Library, NewDataset},
};

/// Arguments of `aio fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Dukascopy instrument (EURUSD, USDJPY, XAUUSD, DEUIDXEUR, BTCUSD …).
    #[arg(long)]
    pub symbol: String,
    /// First day (YYYY-MM-DD, UTC midnight) or hour (YYYY-MM-DDTHH).
    #[arg(long)]
    pub from: String,
    /// Last day, included (YYYY-MM-DD), or the hour to stop before (YYYY-MM-DDTHH is included too).
    #[arg(long)]
    pub to: String,
    /// Bar timeframe (S1, M1, M5, H1, D1 …) or `ticks` for the raw ticks.
    #[arg(long, default_value = "M1")]
    pub timeframe: String,
    /// Price the bars are built from.
    #[arg(long, default_value = "bid", value_parser = parse_side)]
    pub side: PriceSide,
    /// Build bars from the daily minute-candle files (M1 and up, 24× fewer requests) instead of hourly ticks.
    #[arg(long)]
    pub candles: bool,
    /// Output file (.parquet or .csv); default `SYMBOL_TF_FROM_TO.parquet` in the current directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Cache directory of raw bi5 files (default: the platform cache dir's aio/dukascopy).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Datafeed base URL (default: $AIO_DUKASCOPY_BASE_URL, else https://datafeed.dukascopy.com/datafeed).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Parallel requests and decoding threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Requests per second at most (token bucket; 0 = unlimited).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Retries per file after timeouts, HTTP 429/5xx or damaged responses.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// Timeout of one request, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Use the cache only; make no requests.
    #[arg(long)]
    pub offline: bool,
    /// When day, week and month bars begin, UTC (22:00 for the forex trading day).
    #[arg(long, value_name = "HH:MM", default_value = "00:00")]
    pub day_start: String,
    /// Fail (exit 1) when any file stayed missing, instead of writing what there is with a warning.
    #[arg(long)]
    pub strict: bool,
    /// Do not register the result in the library.
    #[arg(long)]
    pub no_library: bool,
}

fn parse_side(text: &str) -> Result<PriceSide, String> {
    text.parse()
}

/// Prints progress to stderr: one rewritten line on a terminal, a line every few seconds otherwise.
pub(crate) struct CliProgress {
    last: Mutex<Option<Instant>>,
    tty: bool,
}

impl CliProgress {
    /// A reporter for this process's stderr.
    pub(crate) fn new() -> Self {
        Self { last: Mutex::new(None), tty: std::io::stderr().is_terminal() }
    }

    /// Ends the progress line.
    pub(crate) fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

impl Progress for CliProgress {
    fn report(&self, stage: &str, fraction: f32) {
        let every = if self.tty { Duration::from_millis(100) } else { Duration::from_secs(3) };
        let Ok(mut last) = self.last.lock() else { return };
        if last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        *last = Some(Instant::now());
        let line = format!("{:>5.1}% {stage}", 100.0 * fraction.clamp(0.0, 1.0));
        let mut err = std::io::stderr().lock();
        let _ = if self.tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }
}

/// Runs `aio fetch`.
pub fn run(args: FetchArgs, library: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let instrument = InstrumentRegistry::builtin().get(&args.symbol)?.clone();
    let ticks_only = args.timeframe.eq_ignore_ascii_case("ticks") || args.timeframe.eq_ignore_ascii_case("tick");
    let timeframe: Option<Timeframe> = if ticks_only {
        None
    } else {
        Some(args.timeframe.parse().map_err(|e| anyhow::anyhow!("invalid --timeframe: {e} (or `ticks`)"))?)
    };
    anyhow::ensure!(!(ticks_only && args.candles), "--candles cannot give ticks; drop --candles or pick a timeframe");
    anyhow::ensure!(args.timeout > 0.0 && args.timeout.is_finite(), "--timeout must be a positive number of seconds");
    anyhow::ensure!(args.rate >= 0.0 && args.rate.is_finite(), "--rate must be zero or positive");
    let day_start_secs = super::parse_day_start(&args.day_start)?;
    let from_nanos = dukascopy::parse_bound(&args.from, false).context("invalid --from")?;
    let to_nanos = dukascopy::parse_bound(&args.to, true).context("invalid --to")?;
    let request = FetchRequest {
        symbol: instrument.symbol.clone(),
        from_nanos,
        to_nanos,
        kind: if args.candles { DataKind::MinuteCandles } else { DataKind::Ticks },
        side: args.side,
    };
    let mut options = FetchOptions::with_cache_dir(args.cache.clone().unwrap_or_else(FetchOptions::default_cache_dir));
    if let Some(jobs) = args.jobs {
        anyhow::ensure!(jobs > 0, "--jobs must be at least 1");
        options.jobs = jobs;
    }
    options.requests_per_sec = args.rate;
    options.max_retries = args.retries;
    options.timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| *t <= Duration::from_secs(3_600))
        .ok_or_else(|| anyhow::anyhow!("--timeout {} is out of range (at most 3600 s)", args.timeout))?;
    options.offline = args.offline;
    let out = args.out.clone().unwrap_or_else(|| {
        let tf = timeframe.map(|t| t.to_string()).unwrap_or_else(|| "ticks".into());
        PathBuf::from(format!("{}.parquet", request.file_stem(&tf)))
    });
    ingest::OutputFormat::from_path(&out)?;
    let source: Arc<dyn dukascopy::Source> = Arc::new(Datafeed::from_config(args.base_url.as_deref()));
    let progress = CliProgress::new();
    let started = Instant::now();

    let (rows, first_last, report, timeframe_name) = match timeframe {
        None => {
            let (_, ticks, report) = dukascopy::fetch_ticks(source, &request, &options, &progress)?;
            progress.finish();
            check_strict(&report, args.strict)?;
            ingest::write_ticks(&out, &ticks)?;
            let range = ticks.ts_nanos().first().zip(ticks.ts_nanos().last()).map(|(a, b)| (*a, *b));
            (ticks.len(), range, report, "ticks".to_string())
        }
        Some(tf) => {
            let fetched = dukascopy::fetch_bars(source, &request, tf, day_start_secs, &options, &progress)?;
            progress.finish();
            check_strict(&fetched.report, args.strict)?;
            match &fetched.tick_counts {
                Some(counts) => {
                    ingest::write_table(&out, &fetched.bars, true, &[ExtraColumn::U64("tick_count", counts)])?
                }
                None => ingest::write_bars(&out, &fetched.bars)?,
            }
            (fetched.bars.len(), fetched.bars.time_range_nanos(), fetched.report, tf.to_string())
        }
    };
    eprintln!("{}", report.summary(20));
    let (first, last) = first_last.unwrap_or((from_nanos, from_nanos));
    println!(
        "fetched {rows} {} ({} {}, {} … {}) in {:.2} s → {}",
        if timeframe_name == "ticks" { "ticks".to_string() } else { format!("{timeframe_name} bars") },
        instrument.symbol,
        args.side,
        format_ts_nanos(first),
        format_ts_nanos(last),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    if !args.no_library && rows > 0 {
        let path = Library::resolve_path(library)?;
        let mut lib = Library::open(&path).context("opening the library")?;
        let bytes = std::fs::read(&out).with_context(|| format!("reading back {}", out.display()))?;
        let source_path = std::fs::canonicalize(&out).unwrap_or_else(|_| out.clone());
        let id = lib.add_dataset(&NewDataset {
            source_path: source_path.display().to_string(),
            symbol: Some(instrument.symbol.clone()),
            timeframe: Some(timeframe_name),
            first_ts_nanos: first,
            last_ts_nanos: last,
            rows: rows as u64,
            checksum: blake3::hash(&bytes).to_hex().to_string(),
            format: format!("Dukascopy {} ({})", if args.candles { "minute candles" } else { "ticks" }, args.side),
        })?;
        println!("registered as dataset #{} in the library", id.0);
    }
    if !report.missing.is_empty() {
        eprintln!(
            "warning: {} of {} files stayed missing; the output has gaps there (run again to retry: cached files are kept)",
            report.missing.len(),
            report.files_total
        );
    }
    if rows == 0 {
        eprintln!("warning: no data in the range (closed market, or not yet published)");
    }
    Ok(ExitCode::SUCCESS)
}

/// With `--strict`, refuses to write anything when files stayed missing.
fn check_strict(report: &dukascopy::FetchReport, strict: bool) -> anyhow::Result<()> {
    if strict && !report.missing.is_empty() {
        eprintln!("{}", report.summary(20));
        anyhow::bail!(
            "{} of {} files stayed missing; nothing was written (--strict)",
            report.missing.len(),
            report.files_total
        );
    }
    Ok(())
}
