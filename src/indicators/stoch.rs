//! Stochastic oscillator (TA-Lib `STOCH` with simple-average smoothing: slow %K and %D).

use super::{Indicator, IndicatorError, Ring, Sma, check_period, column_with_capacity, nan_column, warm_up_column};
use crate::domain::Bar;

/// One stochastic output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochValue {
    /// Slow %K: the SMA of the fast %K.
    pub k: f64,
    /// %D: the SMA of the slow %K.
    pub d: f64,
}

/// Streaming slow stochastic.
///
/// Fast %K is `((close - lowest low) / (highest high - lowest low)) * 100` over `fast_k` bars (in that order of
/// operations, as TA-Lib 0.6+ computes it, for identical digits), 0 when the range is zero; slow %K is its `slow_k` SMA and %D the `slow_d` SMA
/// of slow %K. The window's extremes are kept with their age and rescanned only when they leave the window, as
/// TA-Lib does.
#[derive(Debug, Clone)]
pub struct Stoch {
    fast_k: usize,
    slow_k_period: usize,
    slow_d_period: usize,
    seen: usize,
    highs: Ring,
    lows: Ring,
    highest: (f64, usize),
    lowest: (f64, usize),
    slow_k: Sma,
    slow_d: Sma,
    value: Option<StochValue>,
}

impl Stoch {
    /// A new stochastic; `fast_k` ≥ 1, `slow_k` ≥ 1, `slow_d` ≥ 1.
    pub fn new(fast_k: usize, slow_k: usize, slow_d: usize) -> Result<Self, IndicatorError> {
        check_period("stoch", "fast %K period", fast_k, 1)?;
        check_period("stoch", "slow %K period", slow_k, 1)?;
        check_period("stoch", "slow %D period", slow_d, 1)?;
        Ok(Self {
            fast_k,
            slow_k_period: slow_k,
            slow_d_period: slow_d,
            seen: 0,
            highs: Ring::new(fast_k),
            lows: Ring::new(fast_k),
            highest: (f64::NEG_INFINITY, 0),
            lowest: (f64::INFINITY, 0),
            slow_k: Sma::new(slow_k)?,
            slow_d: Sma::new(slow_d)?,
            value: None,
        })
    }

    /// Feeds one bar's high, low and close; returns the output once the warm-up is over.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<StochValue> {
        self.seen += 1;
        self.highs.push(high);
        self.lows.push(low);
        // Ages count bars since the extreme; it leaves the window at age `fast_k`.
        self.highest.1 += 1;
        self.lowest.1 += 1;
        if high >= self.highest.0 {
            self.highest = (high, 0);
        } else if self.highest.1 >= self.fast_k {
            self.highest = self.highs.extreme_with_age(|a, b| a > b);
        }
        if low <= self.lowest.0 {
            self.lowest = (low, 0);
        } else if self.lowest.1 >= self.fast_k {
            self.lowest = self.lows.extreme_with_age(|a, b| a < b);
        }
        if self.seen < self.fast_k {
            return None;
        }
        let (highest, lowest) = (self.highest.0, self.lowest.0);
        let range = highest - lowest;
        let fast_k = if range != 0.0 { ((close - lowest) / range) * 100.0 } else { 0.0 };
        let k = self.slow_k.next(fast_k)?;
        let d = self.slow_d.next(k)?;
        self.value = Some(StochValue { k, d });
        self.value
    }
}

impl Indicator for Stoch {
    type Output = StochValue;

    fn update(&mut self, bar: &Bar) {
        self.next(bar.high, bar.low, bar.close);
    }

    fn value(&self) -> Option<StochValue> {
        self.value
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.highs.clear();
        self.lows.clear();
        self.highest = (f64::NEG_INFINITY, 0);
        self.lowest = (f64::INFINITY, 0);
        self.slow_k.reset();
        self.slow_d.reset();
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.fast_k - 1 + self.slow_k_period - 1 + self.slow_d_period - 1
    }
}

/// The extreme of `values` that `better` prefers (the latest among equals) and its absolute index.
fn extreme(values: &[f64], offset: usize, better: impl Fn(f64, f64) -> bool) -> (f64, usize) {
    let mut best = (values[values.len() - 1], offset + values.len() - 1);
    for (j, &x) in values.iter().enumerate().rev() {
        if better(x, best.0) {
            best = (x, offset + j);
        }
    }
    best
}

/// Slow stochastic (TA-Lib `STOCH(high, low, close, fast_k, slow_k, SMA, slow_d, SMA)`): slow %K and %D columns,
/// `NaN` for the first `fast_k + slow_k + slow_d - 3` values.
pub fn stochastic(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    fast_k: usize,
    slow_k: usize,
    slow_d: usize,
) -> Result<[Vec<f64>; 2], IndicatorError> {
    let state = Stoch::new(fast_k, slow_k, slow_d)?;
    let n = high.len().min(low.len()).min(close.len());
    let lookback = state.lookback();
    if n <= lookback {
        return Ok([nan_column(n), nan_column(n)]);
    }
    // `Stoch::next` as tight loops: fast %K from the window extremes (rescanned only when one leaves the window),
    // then the two SMAs with `sma`'s arithmetic, which is `Sma::next`'s (bit-equal, tested).
    let mut fast = column_with_capacity(n + 1 - fast_k);
    let (mut highest, mut lowest) = ((f64::NEG_INFINITY, 0usize), (f64::INFINITY, 0usize));
    for i in 0..n {
        let first = (i + 1).saturating_sub(fast_k);
        if high[i] >= highest.0 {
            highest = (high[i], i);
        } else if highest.1 < first {
            highest = extreme(&high[first..=i], first, |a, b| a > b);
        }
        if low[i] <= lowest.0 {
            lowest = (low[i], i);
        } else if lowest.1 < first {
            lowest = extreme(&low[first..=i], first, |a, b| a < b);
        }
        if i + 1 >= fast_k {
            let range = highest.0 - lowest.0;
            fast.push(if range != 0.0 { ((close[i] - lowest.0) / range) * 100.0 } else { 0.0 });
        }
    }
    let k = super::sma(&fast, slow_k)?;
    let d = super::sma(&k[slow_k - 1..], slow_d)?;
    let mut out = [warm_up_column(n, lookback), warm_up_column(n, lookback)];
    out[0].extend_from_slice(&k[slow_k - 1 + slow_d - 1..]);
    out[1].extend_from_slice(&d[slow_d - 1..]);
    Ok(out)
}
