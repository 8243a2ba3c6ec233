//! True range and average true range (TA-Lib `TRANGE` and `ATR`, Wilder smoothing).

use super::{Indicator, IndicatorError, check_period, warm_up_column, with_fma};
use crate::domain::Bar;

/// Streaming true range: the largest of high − low, |high − previous close| and |low − previous close|.
#[derive(Debug, Clone, Default)]
pub struct TrueRange {
    previous_close: Option<f64>,
    value: Option<f64>,
}

impl TrueRange {
    /// A new true range; the first bar has none (TA-Lib's lookback is 1).
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one bar's high, low and close.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        if let Some(previous) = self.previous_close.replace(close) {
            self.value = Some(true_range_of(high, low, previous));
        }
        self.value
    }
}

/// TA-Lib's true-range expression, in its comparison order.
#[inline]
pub(crate) fn true_range_of(high: f64, low: f64, previous_close: f64) -> f64 {
    let mut greatest = high - low;
    let up = (previous_close - high).abs();
    if up > greatest {
        greatest = up;
    }
    let down = (previous_close - low).abs();
    if down > greatest {
        greatest = down;
    }
    greatest
}

impl Indicator for TrueRange {
    type Output = f64;

    fn update(&mut self, bar: &Bar) {
        self.next(bar.high, bar.low, bar.close);
    }

    fn value(&self) -> Option<f64> {
        self.value
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn lookback(&self) -> usize {
        1
    }
}

/// Streaming average true range.
///
/// The first output, on bar `period`, is the simple average of the first `period` true ranges; later outputs are
/// `atr * α + tr * (1 - α)` with `α = (period - 1) / period`, the product `atr * α` fused into the addition, which
/// is how TA-Lib 0.8's FMA build evaluates it (bit-identical on its golden files). A period of one gives the true
/// range itself, as in TA-Lib.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    alpha: f64,
    range: TrueRange,
    seen_ranges: usize,
    seed_total: f64,
    value: Option<f64>,
}

impl Atr {
    /// A new ATR; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("atr", "period", period, 1)?;
        Ok(Self {
            period,
            alpha: (period - 1) as f64 / period as f64,
            range: TrueRange::new(),
            seen_ranges: 0,
            seed_total: 0.0,
            value: None,
        })
    }

    /// Feeds one bar's high, low and close.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let tr = self.range.next(high, low, close)?;
        if self.period == 1 {
            self.value = Some(tr);
            return self.value;
        }
        match self.value {
            Some(atr) => self.value = Some(atr.mul_add(self.alpha, tr * (1.0 - self.alpha))),
            None => {
                self.seed_total += tr;
                self.seen_ranges += 1;
                if self.seen_ranges == self.period {
                    self.value = Some(self.seed_total / self.period as f64);
                }
            }
        }
        self.value
    }
}

impl Indicator for Atr {
    type Output = f64;

    fn update(&mut self, bar: &Bar) {
        self.next(bar.high, bar.low, bar.close);
    }

    fn value(&self) -> Option<f64> {
        self.value
    }

    fn reset(&mut self) {
        self.range.reset();
        self.seen_ranges = 0;
        self.seed_total = 0.0;
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.period
    }
}

/// Runs a high/low/close indicator over columns; `NaN` where it is not ready.
#[inline(always)]
pub(crate) fn run_hlc<I>(
    mut state: I,
    high: &[f64],
    low: &[f64],
    close: &[f64],
    mut next: impl FnMut(&mut I, f64, f64, f64) -> Option<f64>,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(high.len().min(low.len()).min(close.len()));
    out.extend(high.iter().zip(low).zip(close).map(|((&h, &l), &c)| next(&mut state, h, l, c).unwrap_or(f64::NAN)));
    out
}

/// True range columns (TA-Lib `TRANGE`); the first value is `NaN`.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    run_hlc(TrueRange::new(), high, low, close, TrueRange::next)
}

/// ATR of columns (TA-Lib `ATR(high, low, close, period)`); the first `period` values are `NaN`.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    let state = Atr::new(period)?;
    if period == 1 {
        return Ok(true_range(high, low, close));
    }
    let n = high.len().min(low.len()).min(close.len());
    let (high, low, close) = (&high[..n], &low[..n], &close[..n]);
    let mut out = warm_up_column(n, period);
    if n <= period {
        return Ok(out);
    }
    // The same arithmetic as `Atr::next`, in the same order (bit-equal, tested).
    with_fma(|| {
        let tr = |i: usize| true_range_of(high[i], low[i], close[i - 1]);
        let mut atr = (1..=period).fold(0.0, |t, i| t + tr(i)) / period as f64;
        out.push(atr);
        let beta = 1.0 - state.alpha;
        for i in period + 1..n {
            atr = atr.mul_add(state.alpha, tr(i) * beta);
            out.push(atr);
        }
    });
    Ok(out)
}
