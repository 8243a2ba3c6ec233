//! Weighted moving average (TA-Lib `WMA`): weights 1‥n, the newest value weighted n.

use super::{IndicatorError, Ring, Source, check_period, run_single};

/// Streaming weighted moving average.
///
/// TA-Lib keeps the weighted sum and the plain sum of the window and moves both by one step per value
/// (`sum += x * n; out = sum / (n(n+1)/2); sum -= plain`), and every `8 × period` outputs recomputes both from
/// the window to stop rounding drift (TA-Lib 0.8); this struct reproduces both operation by operation.
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
    outputs: usize,
    value: Option<f64>,
}

impl Wma {
    /// A new WMA on closes; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("wma", "period", period, 1)?;
        Ok(Self::fresh(period))
    }

    /// The state before the first value, for a checked `period`.
    fn fresh(period: usize) -> Self {
        Self {
            period,
            divider: ((period * (period + 1)) >> 1) as f64,
            source: Source::Close,
            window: Ring::new(period),
            seen: 0,
            weighted_sum: 0.0,
            plain_sum: 0.0,
            trailing: 0.0,
            outputs: 0,
            value: None,
        }
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
        self.outputs += 1;
        let weighted = if self.outputs.is_multiple_of(8 * self.period) {
            // Resynchronise: both sums afresh from the window, oldest value weighted 1.
            let (older, newer) = self.window.time_ordered();
            let (mut plain, mut weighted) = (0.0, 0.0);
            for (j, &v) in older.iter().chain(newer).enumerate() {
                plain += v;
                weighted += (j + 1) as f64 * v;
            }
            self.plain_sum = plain;
            weighted
        } else {
            self.plain_sum += x;
            self.plain_sum -= self.trailing;
            x * self.period as f64 + self.weighted_sum
        };
        self.trailing = self.window.oldest();
        self.weighted_sum = weighted - self.plain_sum;
        self.value = Some(weighted / self.divider);
        self.value
    }
}

single_input_indicator!(Wma, lookback = |period| period - 1);

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
