//! Average directional index with +DI and −DI (TA-Lib `ADX`, `PLUS_DI`, `MINUS_DI`).

use super::{Indicator, IndicatorError, atr::true_range_of, check_period, nan_column, talib_is_zero};
use crate::domain::Bar;

/// One directional-movement output. `adx` is `None` until its longer warm-up is over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdxValue {
    /// +DI, ready after `period` bars.
    pub plus_di: f64,
    /// −DI, ready after `period` bars.
    pub minus_di: f64,
    /// ADX, ready after `2 × period - 1` bars.
    pub adx: Option<f64>,
}

/// Streaming ADX, +DI and −DI (Wilder).
///
/// +DM/−DM and the true range are summed over bars 1‥period−1, then smoothed as `s - s / period + x` from bar
/// `period` on; DI = 100 × DM / TR (0 when TR is below 1e-8). DX = 100 × |−DI − +DI| / (−DI + +DI); ADX starts as
/// the mean of the first `period` DX values and is then smoothed as `(adx * (period - 1) + dx) / period`. A bar
/// whose TR or DI sum is below 1e-8 leaves ADX unchanged, as in TA-Lib.
#[derive(Debug, Clone)]
pub struct Adx {
    period: usize,
    previous: Option<(f64, f64, f64)>,
    seen: usize,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    dx_total: f64,
    dx_seen: usize,
    adx: Option<f64>,
    value: Option<AdxValue>,
}

impl Adx {
    /// A new ADX; `period` ≥ 2.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("adx", "period", period, 2)?;
        Ok(Self::fresh(period))
    }

    fn fresh(period: usize) -> Self {
        Self {
            period,
            previous: None,
            seen: 0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            dx_total: 0.0,
            dx_seen: 0,
            adx: None,
            value: None,
        }
    }

    /// Feeds one bar's high, low and close.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<AdxValue> {
        let (prev_high, prev_low, prev_close) = self.previous.replace((high, low, close))?;
        self.seen += 1;
        let period = self.period as f64;
        let diff_plus = high - prev_high;
        let diff_minus = prev_low - low;
        let tr = true_range_of(high, low, prev_close);
        if self.seen < self.period {
            if diff_minus > 0.0 && diff_plus < diff_minus {
                self.minus_dm += diff_minus;
            } else if diff_plus > 0.0 && diff_plus > diff_minus {
                self.plus_dm += diff_plus;
            }
            self.tr += tr;
            return None;
        }
        self.minus_dm -= self.minus_dm / period;
        self.plus_dm -= self.plus_dm / period;
        if diff_minus > 0.0 && diff_plus < diff_minus {
            self.minus_dm += diff_minus;
        } else if diff_plus > 0.0 && diff_plus > diff_minus {
            self.plus_dm += diff_plus;
        }
        self.tr = self.tr - (self.tr / period) + tr;
        let (plus_di, minus_di) = if talib_is_zero(self.tr) {
            (0.0, 0.0)
        } else {
            (100.0 * (self.plus_dm / self.tr), 100.0 * (self.minus_dm / self.tr))
        };
        let dx = if talib_is_zero(self.tr) {
            None
        } else {
            let sum = minus_di + plus_di;
            (!talib_is_zero(sum)).then(|| 100.0 * ((minus_di - plus_di).abs() / sum))
        };
        match self.adx {
            Some(adx) => {
                if let Some(dx) = dx {
                    self.adx = Some(((adx * (self.period - 1) as f64) + dx) / period);
                }
            }
            None => {
                self.dx_total += dx.unwrap_or(0.0);
                self.dx_seen += 1;
                if self.dx_seen == self.period {
                    self.adx = Some(self.dx_total / period);
                }
            }
        }
        self.value = Some(AdxValue { plus_di, minus_di, adx: self.adx });
        self.value
    }
}

impl Indicator for Adx {
    type Output = AdxValue;

    fn update(&mut self, bar: &Bar) {
        self.next(bar.high, bar.low, bar.close);
    }

    fn value(&self) -> Option<AdxValue> {
        self.value
    }

    fn reset(&mut self) {
        *self = Self::fresh(self.period);
    }

    /// Bars before the first output (the DIs); the ADX line needs `period - 1` more.
    fn lookback(&self) -> usize {
        self.period
    }
}

/// ADX, +DI and −DI columns (TA-Lib `ADX`, `PLUS_DI`, `MINUS_DI` with one period): ADX is `NaN` for the first
/// `2 × period - 1` values, the DIs for the first `period`.
pub fn adx(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Result<[Vec<f64>; 3], IndicatorError> {
    let mut state = Adx::new(period)?;
    let n = high.len().min(low.len()).min(close.len());
    let mut out = [nan_column(n), nan_column(n), nan_column(n)];
    let [adx, plus, minus] = &mut out;
    for i in 0..n {
        if let Some(v) = state.next(high[i], low[i], close[i]) {
            adx[i] = v.adx.unwrap_or(f64::NAN);
            plus[i] = v.plus_di;
            minus[i] = v.minus_di;
        }
    }
    Ok(out)
}
