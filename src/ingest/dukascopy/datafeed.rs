//! The classic datafeed: `{base}/{SYMBOL}/{YYYY}/{MM}/{DD}/{HH}h_ticks.bi5` (month zero-based) and
//! `…/{DD}/{BID|ASK}_candles_min_1.bi5`.

use std::path::{Path, PathBuf};

use super::{Decoded, DukascopyError, PriceSide, Resource, Source, bi5, day_candles_path, hour_ticks_path};
use crate::domain::Instrument;

/// Dukascopy's datafeed of bi5 files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datafeed {
    base_url: String,
}

impl Datafeed {
    /// The public datafeed.
    pub const DEFAULT_BASE_URL: &'static str = "https://datafeed.dukascopy.com/datafeed";
    /// Environment variable that overrides the base URL (the `--base-url` option and the GUI setting win).
    pub const BASE_URL_ENV: &'static str = "AIO_DUKASCOPY_BASE_URL";

    /// A datafeed at `base_url` (trailing slashes are ignored).
    pub fn new(base_url: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// The base URL from `explicit`, else `$AIO_DUKASCOPY_BASE_URL`, else the public datafeed.
    pub fn from_config(explicit: Option<&str>) -> Self {
        let env = std::env::var(Self::BASE_URL_ENV).ok().filter(|s| !s.trim().is_empty());
        Self::new(explicit.map(str::to_string).or(env).as_deref().unwrap_or(Self::DEFAULT_BASE_URL))
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn relative(symbol: &str, resource: Resource) -> String {
        match resource {
            Resource::HourTicks { hour_start_nanos } => hour_ticks_path(symbol, hour_start_nanos),
            Resource::DayMinuteCandles { day_start_nanos, side } => day_candles_path(symbol, day_start_nanos, side),
        }
    }
}

impl Default for Datafeed {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BASE_URL)
    }
}

impl Source for Datafeed {
    fn name(&self) -> &str {
        "datafeed"
    }

    fn url(&self, symbol: &str, resource: Resource) -> String {
        format!("{}/{}", self.base_url, Self::relative(symbol, resource))
    }

    fn cache_path(&self, symbol: &str, resource: Resource) -> PathBuf {
        PathBuf::from(self.name()).join(Self::relative(symbol, resource))
    }

    fn decode(
        &self,
        path: &Path,
        bytes: &[u8],
        instrument: &Instrument,
        resource: Resource,
    ) -> Result<Decoded, DukascopyError> {
        match resource {
            Resource::HourTicks { hour_start_nanos } => {
                bi5::read_ticks(path, bytes, hour_start_nanos, instrument.decimal_factor).map(Decoded::Ticks)
            }
            Resource::DayMinuteCandles { day_start_nanos, side } => {
                debug_assert_ne!(side, PriceSide::Mid, "the datafeed has bid and ask candles only");
                bi5::read_candles(path, bytes, day_start_nanos, instrument.decimal_factor).map(Decoded::Candles)
            }
        }
    }
}
