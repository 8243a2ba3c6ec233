//! Getting bars into the program: CSV dialects and Parquet in, CSV and Parquet out, validation with row-level
//! findings, resampling to higher timeframes, and Dukascopy's tick and candle data (bi5 files, downloads, cache).
//!
//! Imports `domain` only. Every write goes to a temporary file in the target directory and is renamed into
//! place, so a failed or interrupted write never leaves a partial file.

pub mod aggregate;
pub mod csv;
pub mod dukascopy;
pub mod parquet;
pub mod synthetic;
pub mod time_parse;
pub mod validate;
mod write;

use std::path::{Path, PathBuf};

pub use aggregate::{TickBars, resample, resample_with_counts};
pub use csv::Dialect;
pub use validate::{Finding, FindingKind, MarketHours, Severity, ValidateOptions};
pub use write::{
    ExtraColumn, OutputFormat, write_atomically, write_bars, write_csv, write_parquet, write_table, write_ticks,
};

use crate::domain::{Bars, InstrumentRegistry, Timeframe};

/// The embedded sample: 5,000 real EUR/USD hourly bars (2017-04-19 … 2018-02-07), backtesting.py layout.
pub const SAMPLE_CSV: &[u8] = include_bytes!("../../assets/eurusd_h1_2017_2018.csv");
/// The name the sample is shown under.
pub const SAMPLE_NAME: &str = "eurusd_h1_2017_2018.csv (embedded sample)";

/// Errors of reading, validating and writing bar files. Paths come last in messages.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file's structure is not understood (header, encoding, not CSV/Parquet).
    #[error("{message} in {}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// One cell could not be parsed.
    #[error("invalid value '{value}' in field '{field}' at row {row} of {}: {reason}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based data row (header excluded).
        row: usize,
        /// Column name as written in the header.
        field: String,
        /// The cell's text.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Validation found errors and `force` was not set.
    #[error("{} validation error(s), first: {} in {} (use --force to drop the bad rows)",
        findings.iter().filter(|f| f.is_error()).count(),
        findings.iter().find(|f| f.is_error()).map(|f| f.to_string()).unwrap_or_default(),
        path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// All findings (errors and warnings).
        findings: Vec<Finding>,
    },
    /// Writing an output file failed; nothing was left at the target path.
    #[error("cannot write {}: {message}", path.display())]
    Write {
        /// The target file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Resampling was asked for an impossible target.
    #[error("cannot resample: {0}")]
    Resample(String),
    /// A Dukascopy download or decode failed.
    #[error(transparent)]
    Download(dukascopy::DukascopyError),
    /// The user cancelled the job.
    #[error("cancelled")]
    Cancelled,
}

impl From<dukascopy::DukascopyError> for IngestError {
    fn from(err: dukascopy::DukascopyError) -> Self {
        match err {
            dukascopy::DukascopyError::Cancelled => Self::Cancelled,
            other => Self::Download(other),
        }
    }
}

/// Receives progress of a long job and tells it whether to stop.
pub trait Progress: Sync {
    /// Reports the current stage and the overall fraction done (0–1).
    fn report(&self, _stage: &str, _fraction: f32) {}
    /// True when the job should stop as soon as possible.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores reports and never cancels.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Bar columns in file order, before validation (may be unsorted, contain NaN, etc.).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawBars {
    /// Open times, UTC nanoseconds.
    pub ts_nanos: Vec<i64>,
    /// Opens.
    pub open: Vec<f64>,
    /// Highs.
    pub high: Vec<f64>,
    /// Lows.
    pub low: Vec<f64>,
    /// Closes.
    pub close: Vec<f64>,
    /// Volumes.
    pub volume: Vec<f64>,
}

impl RawBars {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts_nanos.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts_nanos.is_empty()
    }
}

impl From<Bars> for RawBars {
    fn from(bars: Bars) -> Self {
        let (ts_nanos, open, high, low, close, volume) = bars.into_columns();
        Self { ts_nanos, open, high, low, close, volume }
    }
}

/// What kind of file the bars came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SourceFormat {
    /// A CSV file of the given dialect.
    Csv(Dialect),
    /// A Parquet file.
    Parquet,
    /// Downloaded from Dukascopy (written to a Parquet file).
    Dukascopy,
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Csv(d) => f.write_str(d.name()),
            Self::Parquet => f.write_str("Parquet"),
            Self::Dukascopy => f.write_str("Dukascopy download"),
        }
    }
}

/// Options for [`load_path`] and [`load_bytes`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Drop rows with errors (and sort, de-duplicate) instead of refusing the file.
    pub force: bool,
    /// Symbol, when the caller knows it; otherwise guessed from the file name.
    pub symbol: Option<String>,
    /// Timeframe, when the caller knows it; otherwise inferred from the bar spacing.
    pub timeframe: Option<Timeframe>,
    /// Spike threshold in ATR multiples (default 10).
    pub spike_atr_multiple: Option<f64>,
}

/// Bars loaded from a file, with what was learnt on the way.
#[derive(Debug, Clone)]
pub struct LoadedBars {
    /// The validated bars.
    pub bars: Bars,
    /// Where they came from.
    pub source: PathBuf,
    /// File kind and dialect.
    pub format: SourceFormat,
    /// Symbol given or guessed from the file name.
    pub symbol: Option<String>,
    /// Timeframe given or inferred.
    pub timeframe: Option<Timeframe>,
    /// Warnings (and, when forced, the errors whose rows were dropped).
    pub findings: Vec<Finding>,
    /// Rows dropped by a forced import.
    pub dropped_rows: usize,
    /// BLAKE3 hash of the file's bytes, hex.
    pub checksum: String,
}

/// Reads, validates and returns the bars of a CSV or Parquet file.
pub fn load_path(path: &Path, options: &LoadOptions, progress: &dyn Progress) -> Result<LoadedBars, IngestError> {
    progress.report("opening file", 0.0);
    let bytes = std::fs::read(path).map_err(|source| IngestError::Read { path: path.to_path_buf(), source })?;
    load_bytes(path, bytes, options, progress)
}

/// Parses a CSV or Parquet file's bytes into raw columns without validating them.
pub fn read_raw(path: &Path, bytes: Vec<u8>, progress: &dyn Progress) -> Result<(RawBars, SourceFormat), IngestError> {
    if bytes.starts_with(b"PAR1") {
        Ok((parquet::read_parquet_bytes(path, bytes)?, SourceFormat::Parquet))
    } else {
        let (raw, layout, _) = csv::read_csv_bytes(path, bytes, progress)?;
        Ok((raw, SourceFormat::Csv(layout.dialect)))
    }
}

/// Validation settings for a file: market hours from the symbol, spike threshold from the options.
pub fn validate_options_for(raw: &RawBars, symbol: Option<&str>, options: &LoadOptions) -> ValidateOptions {
    ValidateOptions {
        timeframe: options.timeframe,
        market: MarketHours::for_symbol(symbol, raw),
        spike_atr_multiple: options.spike_atr_multiple.unwrap_or(ValidateOptions::DEFAULT_SPIKE_ATR_MULTIPLE),
        ..ValidateOptions::default()
    }
}

/// Like [`load_path`] for bytes already in memory; `path` names them in messages.
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    options: &LoadOptions,
    progress: &dyn Progress,
) -> Result<LoadedBars, IngestError> {
    let checksum = blake3::hash(&bytes).to_hex().to_string();
    let (raw, format) = read_raw(path, bytes, progress)?;
    if progress.is_cancelled() {
        return Err(IngestError::Cancelled);
    }
    progress.report("validating", 0.85);
    let symbol = options.symbol.clone().or_else(|| guess_symbol(path));
    let findings = validate::validate(&raw, &validate_options_for(&raw, symbol.as_deref(), options));
    if findings.iter().any(Finding::is_error) && !options.force {
        return Err(IngestError::Invalid { path: path.to_path_buf(), findings });
    }
    let rows = raw.len();
    let bars = validate::repair(raw);
    let dropped_rows = rows - bars.len();
    if bars.is_empty() {
        return Err(IngestError::Format { path: path.to_path_buf(), message: "no valid bars".to_string() });
    }
    let timeframe = options.timeframe.or_else(|| infer_timeframe(&bars));
    progress.report("done", 1.0);
    Ok(LoadedBars { bars, source: path.to_path_buf(), format, symbol, timeframe, findings, dropped_rows, checksum })
}

/// Loads the embedded EUR/USD H1 sample.
pub fn load_sample() -> Result<LoadedBars, IngestError> {
    let options = LoadOptions { symbol: Some("EURUSD".into()), timeframe: Some(Timeframe::H1), ..Default::default() };
    load_bytes(Path::new(SAMPLE_NAME), SAMPLE_CSV.to_vec(), &options, &NoProgress)
}

impl LoadedBars {
    /// Decimal places for prices: the instrument's digits when the symbol is known, else 5.
    pub fn price_digits(&self) -> usize {
        self.symbol
            .as_deref()
            .and_then(|s| InstrumentRegistry::builtin().get(s).ok())
            .map(|i| i.digits as usize)
            .unwrap_or(5)
    }
}

/// Timeframe from the median bar spacing (28–31 days reads as MN1).
pub fn infer_timeframe(bars: &Bars) -> Option<Timeframe> {
    let step = bars.median_step_nanos()?;
    let day = 86_400 * crate::domain::NANOS_PER_SEC;
    if (28 * day..=31 * day).contains(&step) {
        return Some(Timeframe::MN1);
    }
    Timeframe::from_duration_nanos(step)
}

/// A known instrument symbol found in the file name (`eurusd_h1_2017.csv` → `EURUSD`, `EUR_USD-M15.csv` → `EURUSD`).
pub fn guess_symbol(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?;
    let stem = stem.split('.').next()?;
    let tokens: Vec<&str> = stem.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).collect();
    let registry = InstrumentRegistry::builtin();
    for (i, token) in tokens.iter().enumerate() {
        if token.len() >= 6
            && let Ok(inst) = registry.get(token)
        {
            return Some(inst.symbol.clone());
        }
        if let Some(next) = tokens.get(i + 1)
            && token.len() == 3
            && next.len() == 3
            && let Ok(inst) = registry.get(&format!("{token}{next}"))
        {
            return Some(inst.symbol.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_loads_as_5000_clean_eurusd_h1_bars() {
        let loaded = load_sample().unwrap();
        assert_eq!(loaded.bars.len(), 5000);
        assert_eq!(loaded.format, SourceFormat::Csv(Dialect::BacktestingPy));
        assert_eq!(loaded.timeframe, Some(Timeframe::H1));
        assert!(loaded.findings.iter().all(|f| !f.is_error()), "{:?}", loaded.findings);
        assert_eq!(crate::domain::format_ts_nanos(loaded.bars.ts_nanos()[0]), "2017-04-19T09:00:00Z");
        assert_eq!(loaded.bars.open()[0], 1.0716);
    }

    struct CancelAtOnce(std::sync::atomic::AtomicUsize);

    impl Progress for CancelAtOnce {
        fn report(&self, _stage: &str, _fraction: f32) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }

        fn is_cancelled(&self) -> bool {
            true
        }
    }

    #[test]
    fn cancelled_loads_stop_with_cancelled() {
        let progress = CancelAtOnce(Default::default());
        let err =
            load_bytes(Path::new("sample.csv"), SAMPLE_CSV.to_vec(), &LoadOptions::default(), &progress).unwrap_err();
        assert!(matches!(err, IngestError::Cancelled), "{err}");
        assert!(progress.0.load(std::sync::atomic::Ordering::Relaxed) >= 1, "progress was reported");
    }

    #[test]
    fn guesses_symbols_from_file_names() {
        assert_eq!(guess_symbol(Path::new("/x/eurusd_h1_2017_2018.csv")).as_deref(), Some("EURUSD"));
        assert_eq!(guess_symbol(Path::new("EUR_USD-M15.csv")).as_deref(), Some("EURUSD"));
        assert_eq!(guess_symbol(Path::new("XAUUSD.parquet")).as_deref(), Some("XAUUSD"));
        assert_eq!(guess_symbol(Path::new("prices.csv")), None);
    }
}
