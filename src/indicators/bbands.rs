//! Bollinger Bands (TA-Lib `BBANDS` with a simple moving average and population standard deviation).

use super::{Indicator, IndicatorError, Ring, Sma, Source, check_period, warm_up_column};
use crate::domain::Bar;

/// One Bollinger Bands output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    /// Middle + deviations × σ.
    pub upper: f64,
    /// The simple moving average.
    pub middle: f64,
    /// Middle − deviations × σ.
    pub lower: f64,
}

/// Streaming Bollinger Bands.
///
/// σ is the population standard deviation of the window ([`RollingVariance`]). TA-Lib 0.6+ computes it accurately
/// (a flat window gives exactly zero and a constant offset of 1e6 changes nothing), unlike the cancellation-prone
/// `mean(x²) - mean²` of TA-Lib 0.4; ours agrees with TA-Lib within 2e-11 relative on real data and gives the
/// same exact zeros.
#[derive(Debug, Clone)]
pub struct BollingerBands {
    period: usize,
    deviations_up: f64,
    deviations_down: f64,
    source: Source,
    middle: Sma,
    variance: RollingVariance,
    value: Option<BollingerValue>,
}

impl BollingerBands {
    /// New bands on closes with `deviations` σ on both sides; `period` ≥ 2.
    pub fn new(period: usize, deviations: f64) -> Result<Self, IndicatorError> {
        Self::asymmetric(period, deviations, deviations)
    }

    /// New bands with different multipliers above and below.
    pub fn asymmetric(period: usize, deviations_up: f64, deviations_down: f64) -> Result<Self, IndicatorError> {
        check_period("bb", "period", period, 2)?;
        for (name, d) in [("deviations up", deviations_up), ("deviations down", deviations_down)] {
            if !d.is_finite() {
                return Err(IndicatorError::InvalidParameter {
                    indicator: "bb",
                    parameter: name,
                    expected: "a finite number",
                    value: d.to_string(),
                });
            }
        }
        Ok(Self {
            period,
            deviations_up,
            deviations_down,
            source: Source::Close,
            middle: Sma::new(period)?,
            variance: RollingVariance::new(period),
            value: None,
        })
    }

    /// The same bands reading another price.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Feeds one value and returns the bands once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<BollingerValue> {
        let middle = self.middle.next(x);
        let variance = self.variance.next(x);
        let middle = middle?;
        let sigma = variance.map_or(0.0, f64::sqrt);
        self.value = Some(bands(middle, sigma, self.deviations_up, self.deviations_down));
        self.value
    }
}

impl Indicator for BollingerBands {
    type Output = BollingerValue;

    fn update(&mut self, bar: &Bar) {
        self.next(self.source.of(bar));
    }

    fn value(&self) -> Option<BollingerValue> {
        self.value
    }

    fn reset(&mut self) {
        self.middle.reset();
        self.variance.reset();
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}

/// The bands around `middle` for standard deviation `sigma`, in TA-Lib's order of operations.
#[inline(always)]
fn bands(middle: f64, sigma: f64, up: f64, down: f64) -> BollingerValue {
    let (upper, lower) = if up == down {
        if up == 1.0 {
            (middle + sigma, middle - sigma)
        } else {
            let width = sigma * up;
            (middle + width, middle - width)
        }
    } else {
        (middle + sigma * up, middle - sigma * down)
    };
    BollingerValue { upper, middle, lower }
}

/// Rolling population variance of the last `period` values, computed as TA-Lib 0.8 computes `VAR` (and the
/// deviation of `BBANDS`), bit for bit.
///
/// The sums Σ(x − K) and Σ(x − K)² are kept for a shift K (first the window's first value), so they hold
/// deviations rather than prices and `Σd²/n − (Σd/n)²` does not cancel. K becomes the window mean and both sums
/// are recomputed from the window when the variance falls below 1e-6 of the mean squared deviation, when the
/// value leaving the window dominates the sum (its square above 1e6 × Σd²), and every `32 × period` values; after
/// a recomputation a variance below 1e-12 of the mean squared deviation is zero.
#[derive(Debug, Clone)]
pub struct RollingVariance {
    period: usize,
    window: Ring,
    sums: VarianceSums,
}

impl RollingVariance {
    /// A new rolling variance over `period` ≥ 1 values.
    pub fn new(period: usize) -> Self {
        let period = period.max(1);
        Self { period, window: Ring::new(period), sums: VarianceSums::new(period) }
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        *self = Self::new(self.period);
    }

    /// Feeds one value; the variance once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        let first = !self.window.is_full() && self.window.time_ordered().0.is_empty();
        self.window.push(x);
        if !self.window.is_full() {
            self.sums.warm_up(x, first);
            return None;
        }
        if self.period == 1 {
            return Some(0.0);
        }
        Some(self.sums.output(x, self.window.time_ordered()))
    }
}

/// The state of [`RollingVariance`], shared with the batch loop so both do the same arithmetic.
#[derive(Debug, Clone)]
struct VarianceSums {
    inverse: f64,
    resync_every: usize,
    shift: f64,
    sum: f64,
    sum_sq: f64,
    countdown: usize,
}

impl VarianceSums {
    fn new(period: usize) -> Self {
        Self {
            inverse: 1.0 / period as f64,
            resync_every: 32 * period,
            shift: 0.0,
            sum: 0.0,
            sum_sq: 0.0,
            countdown: 32 * period,
        }
    }

    /// Adds one of the first `period - 1` values; the very first sets the shift.
    #[inline(always)]
    fn warm_up(&mut self, x: f64, first: bool) {
        if first {
            self.shift = x;
        }
        let d = x - self.shift;
        self.sum += d;
        self.sum_sq += d * d;
    }

    /// Adds `x`, whose full window is `window` (time order, two slices), and returns the window's variance;
    /// the window's oldest value is then removed from the sums.
    #[inline(always)]
    fn output(&mut self, x: f64, window: (&[f64], &[f64])) -> f64 {
        let d = x - self.shift;
        self.sum += d;
        self.sum_sq += d * d;
        let mean = self.inverse * self.sum;
        let mut variance = self.inverse * self.sum_sq - mean * mean;
        let oldest = window.0.first().or(window.1.first()).copied().unwrap_or(x);
        let leaving = oldest - self.shift;
        self.sum_sq -= leaving * leaving;
        let resync = if self.inverse * self.sum_sq * 1e-6 > variance || leaving * leaving > self.sum_sq * 1e6 {
            true
        } else {
            self.countdown -= 1;
            self.countdown == 0
        };
        if resync {
            let values = || window.0.iter().chain(window.1);
            self.shift = values().fold(0.0, |t, &v| t + v) * self.inverse;
            let (mut sum, mut sum_sq) = (0.0, 0.0);
            for &v in values() {
                let d = v - self.shift;
                sum += d;
                sum_sq += d * d;
            }
            let mean = self.inverse * sum;
            variance = self.inverse * sum_sq - mean * mean;
            if variance < self.inverse * sum_sq * 1e-12 {
                variance = 0.0;
            }
            self.countdown = self.resync_every;
            let leaving = oldest - self.shift;
            self.sum = sum - leaving;
            self.sum_sq = sum_sq - leaving * leaving;
        } else {
            self.sum -= leaving;
        }
        variance
    }
}

/// Bollinger Bands of `input` (TA-Lib `BBANDS(input, period, dev, dev, SMA)`): upper, middle and lower columns,
/// `NaN` for the first `period - 1` values.
pub fn bollinger_bands(input: &[f64], period: usize, deviations: f64) -> Result<[Vec<f64>; 3], IndicatorError> {
    BollingerBands::new(period, deviations)?;
    let n = input.len();
    let mut out = [warm_up_column(n, period - 1), warm_up_column(n, period - 1), warm_up_column(n, period - 1)];
    if n < period {
        return Ok(out);
    }
    // `BollingerBands::next` as a tight loop over the column: the SMA's running total and `VarianceSums` with the
    // window read from the input (bit-equal, tested).
    let p = period as f64;
    let mut total = 0.0;
    let mut sums = VarianceSums::new(period);
    for (i, &x) in input.iter().enumerate() {
        total += x;
        if i + 1 < period {
            sums.warm_up(x, i == 0);
            continue;
        }
        let middle = total / p;
        total -= input[i + 1 - period];
        let sigma = sums.output(x, (&input[i + 1 - period..=i], &[])).sqrt();
        let v = bands(middle, sigma, deviations, deviations);
        out[0].push(v.upper);
        out[1].push(v.middle);
        out[2].push(v.lower);
    }
    Ok(out)
}
