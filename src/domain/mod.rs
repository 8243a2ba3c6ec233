//! Domain types shared by every other module: bars, ticks, timeframes and instruments.
//!
//! This module imports nothing of ours; everything else may import it.

mod bars;
mod instrument;
mod tick;
mod timeframe;

pub use bars::{Bar, BarError, Bars};
pub use instrument::{AssetClass, Instrument, InstrumentError, InstrumentRegistry};
pub use tick::{Tick, TickError, Ticks};
pub use timeframe::{Timeframe, TimeframeError, TimeframeUnit};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Formats UTC nanoseconds as ISO-8601 (`2024-01-15T13:00:00Z`, with milliseconds or finer only when non-zero).
pub fn format_ts_nanos(ts_nanos: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_nanos(ts_nanos);
    let sub_nanos = ts_nanos.rem_euclid(NANOS_PER_SEC);
    if sub_nanos == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else if sub_nanos % 1_000_000 == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
    }
}
