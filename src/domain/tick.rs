//! Quote ticks (bid/ask with their volumes) in columnar form.

/// Why a tick was rejected by a checked constructor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TickError {
    /// A price or volume is NaN, infinite, or a price is not positive.
    #[error("tick {index}: {field} {value} is invalid")]
    InvalidValue {
        /// Position in the series (0-based).
        index: usize,
        /// Field name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// Timestamps go backwards.
    #[error("tick {index}: time {ts_nanos} is before the previous tick's {prev_ts_nanos}")]
    NotSorted {
        /// Position in the series (0-based).
        index: usize,
        /// This tick's time.
        ts_nanos: i64,
        /// Previous tick's time.
        prev_ts_nanos: i64,
    },
    /// Columns given to [`Ticks::from_columns`] differ in length.
    #[error("tick columns differ in length")]
    ColumnLengths,
}

/// One quote tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Quote time, UTC nanoseconds.
    pub ts_nanos: i64,
    /// Best bid.
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Volume available at the bid (Dukascopy: millions of units).
    pub bid_volume: f64,
    /// Volume available at the ask (Dukascopy: millions of units).
    pub ask_volume: f64,
}

impl Tick {
    /// Creates a tick, checking finite positive prices and finite non-negative volumes.
    pub fn new_checked(ts_nanos: i64, bid: f64, ask: f64, bid_volume: f64, ask_volume: f64) -> Result<Self, TickError> {
        check_tick(0, bid, ask, bid_volume, ask_volume)?;
        Ok(Self { ts_nanos, bid, ask, bid_volume, ask_volume })
    }

    /// Mid price `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        0.5 * (self.bid + self.ask)
    }

    /// Spread `ask − bid`.
    pub fn spread(&self) -> f64 {
        self.ask - self.bid
    }
}

fn check_tick(index: usize, bid: f64, ask: f64, bid_volume: f64, ask_volume: f64) -> Result<(), TickError> {
    for (field, value) in [("bid", bid), ("ask", ask)] {
        if !value.is_finite() || value <= 0.0 {
            return Err(TickError::InvalidValue { index, field, value });
        }
    }
    for (field, value) in [("bid_volume", bid_volume), ("ask_volume", ask_volume)] {
        if !value.is_finite() || value < 0.0 {
            return Err(TickError::InvalidValue { index, field, value });
        }
    }
    Ok(())
}

/// A series of ticks in columnar form, sorted by non-decreasing time (several ticks may share a millisecond).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ticks {
    ts_nanos: Vec<i64>,
    bid: Vec<f64>,
    ask: Vec<f64>,
    bid_volume: Vec<f64>,
    ask_volume: Vec<f64>,
}

impl Ticks {
    /// Builds a series from ticks, checking each tick and the time order.
    pub fn from_ticks(ticks: &[Tick]) -> Result<Self, TickError> {
        let mut out = Self::default();
        for tick in ticks {
            out.push_checked(*tick)?;
        }
        Ok(out)
    }

    /// Builds a series from columns of equal length, checking every tick and the time order.
    pub fn from_columns(
        ts_nanos: Vec<i64>,
        bid: Vec<f64>,
        ask: Vec<f64>,
        bid_volume: Vec<f64>,
        ask_volume: Vec<f64>,
    ) -> Result<Self, TickError> {
        let n = ts_nanos.len();
        if [bid.len(), ask.len(), bid_volume.len(), ask_volume.len()].iter().any(|&len| len != n) {
            return Err(TickError::ColumnLengths);
        }
        for i in 0..n {
            check_tick(i, bid[i], ask[i], bid_volume[i], ask_volume[i])?;
            if i > 0 && ts_nanos[i] < ts_nanos[i - 1] {
                return Err(TickError::NotSorted { index: i, ts_nanos: ts_nanos[i], prev_ts_nanos: ts_nanos[i - 1] });
            }
        }
        Ok(Self { ts_nanos, bid, ask, bid_volume, ask_volume })
    }

    /// Appends another series that starts no earlier than this one ends.
    pub fn append(&mut self, mut other: Ticks) -> Result<(), TickError> {
        if let (Some(&prev_ts_nanos), Some(&first)) = (self.ts_nanos.last(), other.ts_nanos.first())
            && first < prev_ts_nanos
        {
            return Err(TickError::NotSorted { index: self.len(), ts_nanos: first, prev_ts_nanos });
        }
        self.ts_nanos.append(&mut other.ts_nanos);
        self.bid.append(&mut other.bid);
        self.ask.append(&mut other.ask);
        self.bid_volume.append(&mut other.bid_volume);
        self.ask_volume.append(&mut other.ask_volume);
        Ok(())
    }

    /// Appends one tick, checking it and that time does not go backwards.
    pub fn push_checked(&mut self, tick: Tick) -> Result<(), TickError> {
        let index = self.len();
        check_tick(index, tick.bid, tick.ask, tick.bid_volume, tick.ask_volume)?;
        if let Some(&prev_ts_nanos) = self.ts_nanos.last()
            && tick.ts_nanos < prev_ts_nanos
        {
            return Err(TickError::NotSorted { index, ts_nanos: tick.ts_nanos, prev_ts_nanos });
        }
        self.ts_nanos.push(tick.ts_nanos);
        self.bid.push(tick.bid);
        self.ask.push(tick.ask);
        self.bid_volume.push(tick.bid_volume);
        self.ask_volume.push(tick.ask_volume);
        Ok(())
    }

    /// Number of ticks.
    pub fn len(&self) -> usize {
        self.ts_nanos.len()
    }

    /// True when there are no ticks.
    pub fn is_empty(&self) -> bool {
        self.ts_nanos.is_empty()
    }

    /// Quote times, UTC nanoseconds.
    pub fn ts_nanos(&self) -> &[i64] {
        &self.ts_nanos
    }

    /// Bids.
    pub fn bid(&self) -> &[f64] {
        &self.bid
    }

    /// Asks.
    pub fn ask(&self) -> &[f64] {
        &self.ask
    }

    /// Bid volumes.
    pub fn bid_volume(&self) -> &[f64] {
        &self.bid_volume
    }

    /// Ask volumes.
    pub fn ask_volume(&self) -> &[f64] {
        &self.ask_volume
    }

    /// The tick at `index`, if any.
    pub fn get(&self, index: usize) -> Option<Tick> {
        (index < self.len()).then(|| Tick {
            ts_nanos: self.ts_nanos[index],
            bid: self.bid[index],
            ask: self.ask[index],
            bid_volume: self.bid_volume[index],
            ask_volume: self.ask_volume[index],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_reject_backwards_time_and_bad_prices() {
        let a = Tick::new_checked(10, 1.1, 1.2, 1.0, 1.0).unwrap();
        let b = Tick { ts_nanos: 5, ..a };
        assert!(matches!(Ticks::from_ticks(&[a, b]), Err(TickError::NotSorted { index: 1, .. })));
        assert!(Tick::new_checked(0, -1.0, 1.0, 0.0, 0.0).is_err());
        assert!(Tick::new_checked(0, 1.0, 1.0, f64::NAN, 0.0).is_err());
        let same_ms = Ticks::from_ticks(&[a, a]).unwrap();
        assert_eq!(same_ms.len(), 2);
        assert!((a.mid() - 1.15).abs() < 1e-12);
    }
}
