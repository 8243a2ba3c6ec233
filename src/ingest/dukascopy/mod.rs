//! Dukascopy historical data: bi5 decoding, the datafeed source, a parallel downloader with a raw-file cache,
//! and the jobs that turn cached files into ticks or bars.
//!
//! Imports `domain` and the rest of `ingest`. Network access lives in [`fetch`] only; everything else works on
//! bytes and files, so cached data is usable offline.

pub mod bi5;
pub mod datafeed;
pub mod fetch;

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use chrono::{Datelike, Timelike};

pub use datafeed::Datafeed;
pub use fetch::{DataKind, FetchOptions, FetchReport, FetchRequest, FetchedBars, MissingFile, fetch_bars, fetch_ticks};

use crate::domain::{Bars, Instrument, InstrumentError, NANOS_PER_SEC, Ticks};

/// Nanoseconds in an hour.
pub const HOUR_NANOS: i64 = 3_600 * NANOS_PER_SEC;
/// Nanoseconds in a day.
pub const DAY_NANOS: i64 = 24 * HOUR_NANOS;

/// Errors of decoding, downloading and caching Dukascopy files. Paths and URLs come last.
#[derive(Debug, thiserror::Error)]
pub enum DukascopyError {
    /// The LZMA stream or the records end early.
    #[error("truncated file: {message} in {}", path.display())]
    Truncated {
        /// The file (or its URL as a path).
        path: PathBuf,
        /// What was found.
        message: String,
    },
    /// The bytes are not a valid bi5 file.
    #[error("corrupt file: {message} in {}", path.display())]
    Corrupt {
        /// The file (or its URL as a path).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Compressing test or benchmark data failed.
    #[error("cannot compress bi5 data: {0}")]
    Encode(String),
    /// The instrument is unknown.
    #[error(transparent)]
    Instrument(#[from] InstrumentError),
    /// The requested range or option is unusable.
    #[error("{0}")]
    Request(String),
    /// A path is not in the datafeed layout `SYMBOL/YYYY/MM/DD/HHh_ticks.bi5`.
    #[error("cannot tell the hour from {}: {message}", path.display())]
    Layout {
        /// The path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading or writing the cache failed.
    #[error("cache error: {message}: {source} ({})", path.display())]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        message: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
    /// Turning ticks into bars failed.
    #[error("cannot build bars: {0}")]
    Aggregate(String),
    /// The user cancelled the job.
    #[error("cancelled")]
    Cancelled,
}

impl DukascopyError {
    /// True for truncated or corrupt file contents (never cached, worth a re-download).
    pub fn is_damaged_file(&self) -> bool {
        matches!(self, Self::Truncated { .. } | Self::Corrupt { .. })
    }
}

/// Which quote a bar is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
pub enum PriceSide {
    /// The bid (what charts and TradingView's Dukascopy feed show).
    #[default]
    Bid,
    /// The ask.
    Ask,
    /// `(bid + ask) / 2`.
    Mid,
}

impl PriceSide {
    /// Every side, for pickers.
    pub const ALL: [Self; 3] = [Self::Bid, Self::Ask, Self::Mid];

    /// Lower-case name (`bid`), as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bid => "bid",
            Self::Ask => "ask",
            Self::Mid => "mid",
        }
    }
}

impl fmt::Display for PriceSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PriceSide {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bid" => Ok(Self::Bid),
            "ask" => Ok(Self::Ask),
            "mid" => Ok(Self::Mid),
            _ => Err(format!("invalid side '{s}': expected bid, ask or mid")),
        }
    }
}

/// One downloadable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The ticks of one hour.
    HourTicks {
        /// The hour's UTC start.
        hour_start_nanos: i64,
    },
    /// The minute candles of one UTC day, for one side (bid or ask).
    DayMinuteCandles {
        /// The day's UTC midnight.
        day_start_nanos: i64,
        /// `Bid` or `Ask` (the datafeed has no mid candles).
        side: PriceSide,
    },
}

impl Resource {
    /// Start of the period the file covers.
    pub fn start_nanos(&self) -> i64 {
        match *self {
            Self::HourTicks { hour_start_nanos } => hour_start_nanos,
            Self::DayMinuteCandles { day_start_nanos, .. } => day_start_nanos,
        }
    }

    /// End of the period the file covers (exclusive).
    pub fn end_nanos(&self) -> i64 {
        match *self {
            Self::HourTicks { hour_start_nanos } => hour_start_nanos + HOUR_NANOS,
            Self::DayMinuteCandles { day_start_nanos, .. } => day_start_nanos + DAY_NANOS,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::HourTicks { hour_start_nanos } => {
                let t = chrono::DateTime::from_timestamp_nanos(hour_start_nanos);
                write!(f, "ticks {}", t.format("%Y-%m-%d %H:00"))
            }
            Self::DayMinuteCandles { day_start_nanos, side } => {
                let t = chrono::DateTime::from_timestamp_nanos(day_start_nanos);
                write!(f, "{side} minute candles {}", t.format("%Y-%m-%d"))
            }
        }
    }
}

/// What a decoded file holds.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// Ticks of an hour file.
    Ticks(Ticks),
    /// Candles of a candle file (filler candles dropped).
    Candles(Bars),
}

impl Decoded {
    /// Ticks or candles in the file.
    pub fn len(&self) -> usize {
        match self {
            Self::Ticks(t) => t.len(),
            Self::Candles(b) => b.len(),
        }
    }

    /// True for a closed-market file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ticks, or an error when the file held candles.
    pub fn into_ticks(self) -> Result<Ticks, DukascopyError> {
        match self {
            Self::Ticks(t) => Ok(t),
            Self::Candles(_) => Err(DukascopyError::Request("a candle file where ticks were expected".into())),
        }
    }

    /// The candles, or an error when the file held ticks.
    pub fn into_candles(self) -> Result<Bars, DukascopyError> {
        match self {
            Self::Candles(b) => Ok(b),
            Self::Ticks(_) => Err(DukascopyError::Request("a tick file where candles were expected".into())),
        }
    }
}

/// A provider of historical files. The datafeed of `.bi5` files is one; Dukascopy's newer JSON API (1-based
/// months, delta-encoded columns) would be a second with its own URLs, cache names and decoder, and the
/// downloader, cache and aggregation would serve it unchanged.
pub trait Source: Send + Sync {
    /// Short name; also the cache sub-directory, so sources never read each other's files.
    fn name(&self) -> &str;
    /// The URL of a file.
    fn url(&self, symbol: &str, resource: Resource) -> String;
    /// Where the raw file lives under the cache directory.
    fn cache_path(&self, symbol: &str, resource: Resource) -> PathBuf;
    /// Decodes a raw file; `path` names it in errors.
    fn decode(
        &self,
        path: &Path,
        bytes: &[u8],
        instrument: &Instrument,
        resource: Resource,
    ) -> Result<Decoded, DukascopyError>;
}

/// `SYMBOL/YYYY/MM/DD/HHh_ticks.bi5` with the month zero-based, as in the datafeed's URLs.
pub fn hour_ticks_path(symbol: &str, hour_start_nanos: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(hour_start_nanos);
    format!("{symbol}/{:04}/{:02}/{:02}/{:02}h_ticks.bi5", t.year(), t.month0(), t.day(), t.hour())
}

/// `SYMBOL/YYYY/MM/DD/BID_candles_min_1.bi5` with the month zero-based.
pub fn day_candles_path(symbol: &str, day_start_nanos: i64, side: PriceSide) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(day_start_nanos);
    let side = if side == PriceSide::Ask { "ASK" } else { "BID" };
    format!("{symbol}/{:04}/{:02}/{:02}/{side}_candles_min_1.bi5", t.year(), t.month0(), t.day())
}

/// Reads the symbol (when present) and the period start from a path in the datafeed layout:
/// `…/EURUSD/2024/00/15/13h_ticks.bi5` → (`Some("EURUSD")`, 2024-01-15T13:00Z); a day's candle file
/// `…/2024/00/15/BID_candles_min_1.bi5` gives the day's midnight. The month is zero-based.
pub fn hour_from_datafeed_path(path: &Path) -> Result<(Option<String>, i64), DukascopyError> {
    let layout = |message: &str| DukascopyError::Layout { path: path.to_path_buf(), message: message.into() };
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let [.., year, month0, day, file] = parts.as_slice() else {
        return Err(layout("expected …/YYYY/MM/DD/HHh_ticks.bi5"));
    };
    let hour = if file.ends_with("_candles_min_1.bi5") {
        0
    } else {
        file.strip_suffix("h_ticks.bi5")
            .and_then(|h| h.parse::<u32>().ok())
            .ok_or_else(|| layout("the file name is not HHh_ticks.bi5 or BID|ASK_candles_min_1.bi5"))?
    };
    let (Ok(year), Ok(month0), Ok(day)) = (year.parse::<i32>(), month0.parse::<u32>(), day.parse::<u32>()) else {
        return Err(layout("year, month or day is not a number"));
    };
    let start = month0
        .checked_add(1)
        .and_then(|month| chrono::NaiveDate::from_ymd_opt(year, month, day))
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
        .ok_or_else(|| layout("no such date (the month is zero-based: 00 = January)"))?;
    let symbol = (parts.len() >= 5).then(|| parts[parts.len() - 5].to_ascii_uppercase());
    Ok((symbol, start))
}

/// Parses `YYYY-MM-DDTHH` (or a full `…:MM:SS`) as the start of a UTC hour.
pub fn parse_hour(text: &str) -> Result<i64, DukascopyError> {
    let bad = || DukascopyError::Request(format!("invalid hour '{text}': expected e.g. 2024-01-15T13"));
    let t = text.trim().trim_end_matches('Z');
    let (date, hour) = t.split_once(['T', ' ']).ok_or_else(bad)?;
    let hour: u32 = hour.split(':').next().and_then(|h| h.parse().ok()).ok_or_else(bad)?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
        .ok_or_else(bad)
}

/// Parses a `--from`/`--to` bound: a date (`2024-01-15`, the day's midnight) or a date and hour
/// (`2024-01-15T13`). With `end_of_day`, a plain date means the end of that day, so `--to 2024-01-19` includes
/// the 19th.
pub fn parse_bound(text: &str, end_of_day: bool) -> Result<i64, DukascopyError> {
    let out_of_range = || DukascopyError::Request(format!("date '{text}' is out of range"));
    if text.trim().contains(['T', ' ']) {
        let start = parse_hour(text)?;
        return if end_of_day { start.checked_add(HOUR_NANOS).ok_or_else(out_of_range) } else { Ok(start) };
    }
    let day = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
        .ok_or_else(|| DukascopyError::Request(format!("invalid date '{text}': expected YYYY-MM-DD")))?;
    if end_of_day { day.checked_add(DAY_NANOS).ok_or_else(out_of_range) } else { Ok(day) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafeed_paths_use_zero_based_months() {
        let hour = parse_hour("2024-01-15T13").unwrap();
        assert_eq!(hour_ticks_path("EURUSD", hour), "EURUSD/2024/00/15/13h_ticks.bi5");
        let dec = parse_hour("2023-12-31T00").unwrap();
        assert_eq!(hour_ticks_path("XAUUSD", dec), "XAUUSD/2023/11/31/00h_ticks.bi5");
        assert_eq!(
            day_candles_path("USDJPY", parse_bound("2024-02-29", false).unwrap(), PriceSide::Ask),
            "USDJPY/2024/01/29/ASK_candles_min_1.bi5"
        );
        let (symbol, parsed) = hour_from_datafeed_path(Path::new("/cache/EURUSD/2024/00/15/13h_ticks.bi5")).unwrap();
        assert_eq!((symbol.as_deref(), parsed), (Some("EURUSD"), hour));
        assert!(hour_from_datafeed_path(Path::new("2024/12/01/13h_ticks.bi5")).is_err(), "month 12 does not exist");
        assert!(hour_from_datafeed_path(Path::new("13h_ticks.bi5")).is_err());
        let (_, day) = hour_from_datafeed_path(Path::new("USDJPY/2024/01/29/ASK_candles_min_1.bi5")).unwrap();
        assert_eq!(day, parse_bound("2024-02-29", false).unwrap());
        assert!(hour_from_datafeed_path(Path::new("X/2024/4294967295/01/00h_ticks.bi5")).is_err());
        assert!(parse_bound("2262-04-11", true).is_err() || parse_bound("2262-04-11", false).is_err());
    }

    #[test]
    fn bounds_include_the_last_day() {
        let from = parse_bound("2024-01-15", false).unwrap();
        let to = parse_bound("2024-01-19", true).unwrap();
        assert_eq!((to - from) / HOUR_NANOS, 5 * 24);
        assert_eq!(parse_bound("2024-01-15T13", true).unwrap(), parse_hour("2024-01-15T14").unwrap());
        assert!(parse_bound("2024-13-01", false).is_err());
        assert!("bid".parse::<PriceSide>().is_ok() && "x".parse::<PriceSide>().is_err());
    }
}
