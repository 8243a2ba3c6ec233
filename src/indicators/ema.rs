//! Exponential moving average (TA-Lib `EMA`, default compatibility: seeded with the SMA of the first values).

use super::{IndicatorError, Source, check_period, warm_up_column, with_fma};

/// Streaming exponential moving average with `k = 2 / (period + 1)`.
///
/// The first output, after `period` values, is their simple average (summed in order, as TA-Lib does); later
/// outputs are `(x - prev) * k + prev`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    source: Source,
    seen: usize,
    seed_total: f64,
    value: Option<f64>,
}

impl Ema {
    /// A new EMA on closes; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ema", "period", period, 1)?;
        Ok(Self::fresh(period))
    }

    /// The state before the first value, for a checked `period`.
    fn fresh(period: usize) -> Self {
        Self { period, k: 2.0 / (period + 1) as f64, source: Source::Close, seen: 0, seed_total: 0.0, value: None }
    }

    /// The smoothing constant `2 / (period + 1)`.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Feeds one value and returns the average once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        match self.value {
            Some(prev) => self.value = Some((x - prev).mul_add(self.k, prev)),
            None => {
                self.seed_total += x;
                self.seen += 1;
                if self.seen == self.period {
                    self.value = Some(self.seed_total / self.period as f64);
                }
            }
        }
        self.value
    }
}

single_input_indicator!(Ema, lookback = |period| period - 1);

/// EMA of `input` (TA-Lib `EMA(input, period)`); the first `period - 1` values are `NaN`.
pub fn ema(input: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let state = Ema::new(period)?;
    Ok(with_fma(|| ema_loop(input, period, state.k)))
}

/// The batch EMA as a tight loop with [`Ema::next`]'s arithmetic in the same order (bit-equal, tested).
#[inline(always)]
fn ema_loop(input: &[f64], period: usize, k: f64) -> Vec<f64> {
    let mut out = warm_up_column(input.len(), period - 1);
    if input.len() < period {
        return out;
    }
    let mut prev = input[..period].iter().fold(0.0, |t, &x| t + x) / period as f64;
    out.push(prev);
    for &x in &input[period..] {
        prev = (x - prev).mul_add(k, prev);
        out.push(prev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_seeded_with_the_simple_average() {
        let out = ema(&[2.0, 4.0, 6.0, 8.0], 3).unwrap();
        assert!(out[1].is_nan());
        assert_eq!(out[2], 4.0);
        assert_eq!(out[3], (8.0 - 4.0) * 0.5 + 4.0);
    }
}
