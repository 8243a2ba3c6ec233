//! Weighted moving average (TA-Lib `WMA`): weights 1‥n, the newest value weighted n.

use super::{Indicator, IndicatorError, Ring, Source, check_period, run_single};
use crate::domain::Bar;

/// Streaming weighted moving average.
///
/// TA-Lib keeps the weighted sum and the plain sum of the window and moves both by one step per value
/// (`sum += x * n; out = sum / (n(n+1)/2); sum -= plain`), which this struct reproduces operation by operation.
#[derive(Debug, Clone)]
pub struct Wma {
    period: usize,
    divider: f64,
    source: Source,
    window: Ring,
    seen: usize,
    weighted_sum: f64,
    plain_sum: f64,
    trailing: f64,
    value: Option<f64>,
}

impl Wma {
    /// A new WMA on closes; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("wma", "period", period, 1)?;
        Ok(Self {
            period,
            divider: ((period * (period + 1)) >> 1) as f64,
            source: Source::Close,
            window: Ring::new(period),
            seen: 0,
            weighted_sum: 0.0,
            plain_sum: 0.0,
            trailing: 0.0,
            value: None,
        })
    }

    /// The same WMA reading another price.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Feeds one value and returns the average once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        if self.period == 1 {
            // TA-Lib copies the input for a period of one.
            self.value = Some(x);
            return self.value;
        }
        self.seen += 1;
        self.window.push(x);
        if self.seen < self.period {
            self.plain_sum += x;
            self.weighted_sum += x * self.seen as f64;
            return None;
        }
        self.plain_sum += x;
        self.plain_sum -= self.trailing;
        self.weighted_sum += x * self.period as f64;
        self.trailing = self.window.oldest();
        let value = self.weighted_sum / self.divider;
        self.weighted_sum -= self.plain_sum;
        self.value = Some(value);
        self.value
    }
}

impl Indicator for Wma {
    type Output = f64;

    fn update(&mut self, bar: &Bar) {
        self.next(self.source.of(bar));
    }

    fn value(&self) -> Option<f64> {
        self.value
    }

    fn reset(&mut self) {
        self.window.clear();
        self.seen = 0;
        self.weighted_sum = 0.0;
        self.plain_sum = 0.0;
        self.trailing = 0.0;
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}

/// WMA of `input` (TA-Lib `WMA(input, period)`); the first `period - 1` values are `NaN`.
pub fn wma(input: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    Ok(run_single(Wma::new(period)?, input, Wma::next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wma_weights_the_newest_value_most() {
        let out = wma(&[1.0, 2.0, 3.0, 4.0], 3).unwrap();
        assert!(out[1].is_nan());
        assert_eq!(out[2], (1.0 + 4.0 + 9.0) / 6.0);
        assert_eq!(out[3], (2.0 + 6.0 + 12.0) / 6.0);
    }
}
