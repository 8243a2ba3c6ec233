//! Relative strength index (TA-Lib `RSI`, Wilder smoothing, default compatibility).

use super::{IndicatorError, Source, check_period, warm_up_column};

/// Streaming RSI.
///
/// The first output, after `period + 1` values, uses the plain averages of the first `period` gains and losses;
/// later averages are smoothed as `(avg * (period - 1) + x) * (1 / period)` — multiplied by the reciprocal, as
/// TA-Lib 0.8 does. When both averages are zero (a flat market) the output is 0, as in TA-Lib.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    inverse_period: f64,
    source: Source,
    previous: Option<f64>,
    seen_changes: usize,
    avg_gain: f64,
    avg_loss: f64,
    value: Option<f64>,
}

impl Rsi {
    /// A new RSI on closes; `period` ≥ 2.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("rsi", "period", period, 2)?;
        Ok(Self::fresh(period))
    }

    /// The state before the first value, for a checked `period`.
    fn fresh(period: usize) -> Self {
        Self {
            period,
            inverse_period: 1.0 / period as f64,
            source: Source::Close,
            previous: None,
            seen_changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
            value: None,
        }
    }

    /// Feeds one value and returns the RSI once `period + 1` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        let previous = self.previous.replace(x)?;
        let change = x - previous;
        let gain = if 0.0 < change { change } else { 0.0 };
        let loss = gain - change;
        self.seen_changes += 1;
        if self.seen_changes <= self.period {
            self.avg_gain += gain;
            self.avg_loss += loss;
            if self.seen_changes < self.period {
                return None;
            }
            self.avg_gain *= self.inverse_period;
            self.avg_loss *= self.inverse_period;
        } else {
            let keep = (self.period - 1) as f64;
            self.avg_gain = (self.avg_gain * keep + gain) * self.inverse_period;
            self.avg_loss = (self.avg_loss * keep + loss) * self.inverse_period;
        }
        let total = self.avg_gain + self.avg_loss;
        self.value = Some(if total > 0.0 { (self.avg_gain / total) * 100.0 } else { 0.0 });
        self.value
    }
}

single_input_indicator!(Rsi, lookback = |period| period);

/// RSI of `input` (TA-Lib `RSI(input, period)`); the first `period` values are `NaN`.
///
/// A tight loop with [`Rsi::next`]'s arithmetic in the same order (the tests check bit equality).
pub fn rsi(input: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let state = Rsi::new(period)?;
    let mut out = warm_up_column(input.len(), period);
    if input.len() <= period {
        return Ok(out);
    }
    let split = |change: f64| {
        let gain = if 0.0 < change { change } else { 0.0 };
        (gain, gain - change)
    };
    let (mut avg_gain, mut avg_loss) = (0.0, 0.0);
    for w in input[..=period].windows(2) {
        let (gain, loss) = split(w[1] - w[0]);
        avg_gain += gain;
        avg_loss += loss;
    }
    avg_gain *= state.inverse_period;
    avg_loss *= state.inverse_period;
    let value = |g: f64, l: f64| {
        let total = g + l;
        if total > 0.0 { (g / total) * 100.0 } else { 0.0 }
    };
    out.push(value(avg_gain, avg_loss));
    let keep = (period - 1) as f64;
    for w in input[period..].windows(2) {
        let (gain, loss) = split(w[1] - w[0]);
        avg_gain = (avg_gain * keep + gain) * state.inverse_period;
        avg_loss = (avg_loss * keep + loss) * state.inverse_period;
        out.push(value(avg_gain, avg_loss));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_is_100_when_prices_only_rise_and_0_when_flat() {
        let rising: Vec<f64> = (0..10).map(f64::from).collect();
        let out = rsi(&rising, 3).unwrap();
        assert!(out[2].is_nan());
        assert_eq!(out[3], 100.0);
        assert_eq!(rsi(&[1.0; 6], 3).unwrap()[5], 0.0);
    }
}
