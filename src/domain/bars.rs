//! Columnar OHLCV bars with nanosecond UTC timestamps.

use std::ops::Range;

/// Why a bar or a bar series was rejected by a checked constructor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BarError {
    /// A price or the volume is NaN or infinite.
    #[error("bar {index}: {field} is not a finite number")]
    NotFinite {
        /// Position of the bar in the series (0-based).
        index: usize,
        /// Column name.
        field: &'static str,
    },
    /// A price is zero or negative.
    #[error("bar {index}: {field} {value} is not positive")]
    NotPositive {
        /// Position of the bar in the series (0-based).
        index: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The volume is negative.
    #[error("bar {index}: volume {value} is negative")]
    NegativeVolume {
        /// Position of the bar in the series (0-based).
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// `low ≤ open, close ≤ high` does not hold.
    #[error("bar {index}: {field} {value} is outside [low {low}, high {high}]")]
    OutsideRange {
        /// Position of the bar in the series (0-based).
        index: usize,
        /// `open`, `close` or `low` (when low > high).
        field: &'static str,
        /// The offending value.
        value: f64,
        /// The bar's low.
        low: f64,
        /// The bar's high.
        high: f64,
    },
    /// Timestamps are not strictly increasing.
    #[error("bar {index}: time {ts_nanos} is not after the previous bar's {prev_ts_nanos}")]
    NotIncreasing {
        /// Position of the bar in the series (0-based).
        index: usize,
        /// This bar's timestamp.
        ts_nanos: i64,
        /// The previous bar's timestamp.
        prev_ts_nanos: i64,
    },
    /// The columns do not all have the same length.
    #[error("column {field} has {len} values, expected {expected}")]
    LengthMismatch {
        /// Column name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The length of the timestamp column.
        expected: usize,
    },
}

/// One OHLCV bar; `ts_nanos` is the bar's open time in UTC nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Open time, UTC nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// First traded/quoted price of the bar.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price.
    pub close: f64,
    /// Volume (units as the source reports them; 0 when unknown).
    pub volume: f64,
}

impl Bar {
    /// Creates a bar.
    ///
    /// # Panics
    /// When the invariants of [`Bar::new_checked`] do not hold.
    pub fn new(ts_nanos: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Self {
        match Self::new_checked(ts_nanos, open, high, low, close, volume) {
            Ok(bar) => bar,
            Err(err) => panic!("invalid bar: {err}"),
        }
    }

    /// Creates a bar, checking finite positive prices, non-negative volume and `low ≤ open, close ≤ high`.
    pub fn new_checked(
        ts_nanos: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<Self, BarError> {
        check_bar(0, open, high, low, close, volume)?;
        Ok(Self { ts_nanos, open, high, low, close, volume })
    }

    /// True when the close is at or above the open.
    pub fn is_up(&self) -> bool {
        self.close >= self.open
    }
}

fn check_bar(index: usize, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Result<(), BarError> {
    for (field, value) in [("open", open), ("high", high), ("low", low), ("close", close)] {
        if !value.is_finite() {
            return Err(BarError::NotFinite { index, field });
        }
        if value <= 0.0 {
            return Err(BarError::NotPositive { index, field, value });
        }
    }
    if !volume.is_finite() {
        return Err(BarError::NotFinite { index, field: "volume" });
    }
    if volume < 0.0 {
        return Err(BarError::NegativeVolume { index, value: volume });
    }
    if low > high {
        return Err(BarError::OutsideRange { index, field: "low", value: low, low, high });
    }
    for (field, value) in [("open", open), ("close", close)] {
        if value < low || value > high {
            return Err(BarError::OutsideRange { index, field, value, low, high });
        }
    }
    Ok(())
}

/// A series of bars in columnar form, sorted by strictly increasing time.
///
/// Invariants (enforced by [`Bars::new_checked`]): equal column lengths, strictly increasing timestamps,
/// finite positive prices, finite non-negative volume and `low ≤ open, close ≤ high` on every bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bars {
    ts_nanos: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Bars {
    /// Builds a series from columns.
    ///
    /// # Panics
    /// When the invariants of [`Bars::new_checked`] do not hold.
    pub fn new(
        ts_nanos: Vec<i64>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Vec<f64>,
    ) -> Self {
        match Self::new_checked(ts_nanos, open, high, low, close, volume) {
            Ok(bars) => bars,
            Err(err) => panic!("invalid bars: {err}"),
        }
    }

    /// Builds a series from columns, checking every invariant listed on [`Bars`].
    pub fn new_checked(
        ts_nanos: Vec<i64>,
        open: Vec<f64>,
        high: Vec<f64>,
        low: Vec<f64>,
        close: Vec<f64>,
        volume: Vec<f64>,
    ) -> Result<Self, BarError> {
        let expected = ts_nanos.len();
        for (field, len) in [
            ("open", open.len()),
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
        ] {
            if len != expected {
                return Err(BarError::LengthMismatch { field, len, expected });
            }
        }
        for i in 0..expected {
            check_bar(i, open[i], high[i], low[i], close[i], volume[i])?;
            if i > 0 && ts_nanos[i] <= ts_nanos[i - 1] {
                return Err(BarError::NotIncreasing {
                    index: i,
                    ts_nanos: ts_nanos[i],
                    prev_ts_nanos: ts_nanos[i - 1],
                });
            }
        }
        Ok(Self { ts_nanos, open, high, low, close, volume })
    }

    /// Builds a series from bars (checked like [`Bars::new_checked`]).
    pub fn from_bars(bars: &[Bar]) -> Result<Self, BarError> {
        Self::new_checked(
            bars.iter().map(|b| b.ts_nanos).collect(),
            bars.iter().map(|b| b.open).collect(),
            bars.iter().map(|b| b.high).collect(),
            bars.iter().map(|b| b.low).collect(),
            bars.iter().map(|b| b.close).collect(),
            bars.iter().map(|b| b.volume).collect(),
        )
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.ts_nanos.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.ts_nanos.is_empty()
    }

    /// Open times, UTC nanoseconds.
    pub fn ts_nanos(&self) -> &[i64] {
        &self.ts_nanos
    }

    /// Open prices.
    pub fn open(&self) -> &[f64] {
        &self.open
    }

    /// High prices.
    pub fn high(&self) -> &[f64] {
        &self.high
    }

    /// Low prices.
    pub fn low(&self) -> &[f64] {
        &self.low
    }

    /// Close prices.
    pub fn close(&self) -> &[f64] {
        &self.close
    }

    /// Volumes.
    pub fn volume(&self) -> &[f64] {
        &self.volume
    }

    /// The bar at `index`, if any.
    pub fn get(&self, index: usize) -> Option<Bar> {
        (index < self.len()).then(|| self.bar_at(index))
    }

    /// Iterates over the bars.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Bar> + '_ {
        (0..self.len()).map(|i| self.bar_at(i))
    }

    /// The bar at `index`; the caller checks the bound.
    fn bar_at(&self, i: usize) -> Bar {
        Bar {
            ts_nanos: self.ts_nanos[i],
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        }
    }

    /// A copy of the bars in `range` (clamped to the series).
    pub fn slice(&self, range: Range<usize>) -> Self {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Self {
            ts_nanos: self.ts_nanos[start..end].to_vec(),
            open: self.open[start..end].to_vec(),
            high: self.high[start..end].to_vec(),
            low: self.low[start..end].to_vec(),
            close: self.close[start..end].to_vec(),
            volume: self.volume[start..end].to_vec(),
        }
    }

    /// First and last open time, if any bar exists.
    pub fn time_range_nanos(&self) -> Option<(i64, i64)> {
        Some((*self.ts_nanos.first()?, *self.ts_nanos.last()?))
    }

    /// Index of the first bar whose time is at or after `ts_nanos`.
    pub fn index_at_or_after(&self, ts_nanos: i64) -> usize {
        self.ts_nanos.partition_point(|&t| t < ts_nanos)
    }

    /// Median spacing between consecutive bars, in nanoseconds (None for fewer than two bars).
    pub fn median_step_nanos(&self) -> Option<i64> {
        if self.len() < 2 {
            return None;
        }
        let mut diffs: Vec<i64> = self.ts_nanos.windows(2).map(|w| w[1] - w[0]).collect();
        let mid = diffs.len() / 2;
        let (_, median, _) = diffs.select_nth_unstable(mid);
        Some(*median)
    }

    /// Median spacing in seconds, 3600 when unknown (fewer than two bars).
    pub fn median_step_secs(&self) -> f64 {
        self.median_step_nanos().map_or(3_600.0, |n| n as f64 / super::NANOS_PER_SEC as f64)
    }

    /// Takes the columns apart: `(ts_nanos, open, high, low, close, volume)`.
    #[allow(clippy::type_complexity)]
    pub fn into_columns(self) -> (Vec<i64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        (self.ts_nanos, self.open, self.high, self.low, self.close, self.volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_bar_rejects_open_above_high() {
        let err = Bar::new_checked(0, 1.2, 1.1, 1.0, 1.05, 0.0).unwrap_err();
        assert!(matches!(err, BarError::OutsideRange { field: "open", .. }), "{err}");
    }

    #[test]
    fn checked_bar_rejects_low_above_high() {
        let err = Bar::new_checked(0, 1.0, 1.0, 1.1, 1.0, 0.0).unwrap_err();
        assert!(matches!(err, BarError::OutsideRange { field: "low", .. }), "{err}");
    }

    #[test]
    fn checked_bar_rejects_nan_and_non_positive() {
        assert!(matches!(
            Bar::new_checked(0, f64::NAN, 1.0, 1.0, 1.0, 0.0),
            Err(BarError::NotFinite { field: "open", .. })
        ));
        assert!(matches!(
            Bar::new_checked(0, 0.0, 1.0, 0.0, 1.0, 0.0),
            Err(BarError::NotPositive { field: "open", .. })
        ));
        assert!(matches!(Bar::new_checked(0, 1.0, 1.0, 1.0, 1.0, -1.0), Err(BarError::NegativeVolume { .. })));
    }

    #[test]
    fn checked_series_rejects_unsorted_times_and_ragged_columns() {
        let err = Bars::new_checked(vec![2, 1], vec![1.0; 2], vec![1.0; 2], vec![1.0; 2], vec![1.0; 2], vec![0.0; 2])
            .unwrap_err();
        assert_eq!(err, BarError::NotIncreasing { index: 1, ts_nanos: 1, prev_ts_nanos: 2 });
        let err = Bars::new_checked(vec![1, 2], vec![1.0; 2], vec![1.0; 1], vec![1.0; 2], vec![1.0; 2], vec![0.0; 2])
            .unwrap_err();
        assert!(matches!(err, BarError::LengthMismatch { field: "high", .. }));
    }

    #[test]
    fn median_step_and_slicing() {
        let bars = Bars::new(vec![0, 10, 20, 40], vec![1.0; 4], vec![2.0; 4], vec![0.5; 4], vec![1.5; 4], vec![1.0; 4]);
        assert_eq!(bars.median_step_nanos(), Some(10));
        assert_eq!(bars.slice(1..3).ts_nanos(), &[10, 20]);
        assert_eq!(bars.slice(3..10).len(), 1);
        assert_eq!(bars.index_at_or_after(15), 2);
        assert_eq!(bars.get(9), None);
    }
}
