//! Simple moving average (TA-Lib `SMA`).

use super::{IndicatorError, Ring, Source, check_period, warm_up_column};

/// Streaming simple moving average over `period` values.
///
/// Like TA-Lib, the window total is a running sum: the newest value is added, the output is read, and the oldest
/// value is subtracted, so long series give TA-Lib's exact digits.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    source: Source,
    window: Ring,
    total: f64,
    value: Option<f64>,
}

impl Sma {
    /// A new SMA on closes; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("sma", "period", period, 1)?;
        Ok(Self::fresh(period))
    }

    /// The state before the first value, for a checked `period`.
    fn fresh(period: usize) -> Self {
        Self { period, source: Source::Close, window: Ring::new(period), total: 0.0, value: None }
    }

    /// Feeds one value and returns the average once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        self.total += x;
        self.window.push(x);
        if self.window.is_full() {
            let value = self.total / self.period as f64;
            self.total -= self.window.oldest();
            self.value = Some(value);
        }
        self.value
    }
}

single_input_indicator!(Sma, lookback = |period| period - 1);

/// SMA of `input` (TA-Lib `SMA(input, period)`); the first `period - 1` values are `NaN`.
///
/// A tight loop with the streaming struct's arithmetic, in the same order (the tests check bit equality).
pub fn sma(input: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    check_period("sma", "period", period, 1)?;
    let mut out = warm_up_column(input.len(), period - 1);
    if input.len() < period {
        return Ok(out);
    }
    let p = period as f64;
    let mut total = input[..period - 1].iter().fold(0.0, |t, &x| t + x);
    for (&x, &oldest) in input[period - 1..].iter().zip(input) {
        total += x;
        out.push(total / p);
        total -= oldest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_averages_the_last_period_values_after_warm_up() {
        let out = sma(&[1.0, 2.0, 3.0, 4.0, 5.0], 3).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[2.0, 3.0, 4.0]);
    }

    #[test]
    fn sma_rejects_period_zero() {
        assert!(matches!(Sma::new(0), Err(IndicatorError::InvalidParameter { parameter: "period", .. })));
    }
}
