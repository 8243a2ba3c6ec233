//! The equity curve's statistics in one pass, fed as the engine produces the curve: runs of values and flat
//! stretches (a flat position: the same equity bar after bar). A sweep never stores its 1M-bar curves: each run
//! of values is folded into the drawdowns, the covariance with the market and the period closes while it is
//! still in the cache, and a flat stretch costs the same whatever its length. Feeding a curve in any split gives
//! bit for bit the figures of feeding it whole, so the engine's runs with and without a stored curve agree.

use super::{Drawdowns, LANES, MarketStats, atanh_series_doubled, ln_ratio};

/// The drawdown walk over a curve whose values are all positive and finite: dd is then never NaN, 0 exactly where
/// the equity is at its running peak (a new or equal high), and while the equity is unchanged the same as on the
/// bar before, without a division. Bit for bit [`super::any_drawdowns`] on such curves.
#[derive(Debug, Clone)]
struct DrawdownWalk {
    peak: f64,
    max: f64,
    longest: usize,
    last_zero: usize,
    peak_since_zero: f64,
    durations: Vec<i64>,
    peaks: Vec<f64>,
    previous: f64,
    dd: f64,
}

impl DrawdownWalk {
    fn new() -> Self {
        Self {
            peak: f64::NEG_INFINITY,
            max: 0.0,
            longest: 0,
            last_zero: 0,
            peak_since_zero: 0.0,
            durations: Vec::new(),
            peaks: Vec::new(),
            previous: f64::NAN,
            dd: 0.0,
        }
    }

    /// Bar `i` with equity `e`; false (nothing changed) when `e` is not positive and finite.
    #[inline]
    fn step(&mut self, i: usize, e: f64, ts: &[i64]) -> bool {
        if !(e > 0.0 && e < f64::INFINITY) {
            return false;
        }
        if e >= self.peak {
            // dd = 1 - e / e = 0 ends the bars under water since the last zero.
            self.peak = e;
            self.dd = 0.0;
            if i > self.last_zero + 1 {
                self.durations.push(ts[i].saturating_sub(ts[self.last_zero]));
                self.peaks.push(self.peak_since_zero);
                self.longest = self.longest.max(i - self.last_zero - 1);
            }
            self.last_zero = i;
            self.peak_since_zero = 0.0;
        } else if e != self.previous {
            // Under water: 0 < dd < 1.
            self.dd = 1.0 - e / self.peak;
            if self.dd > self.max {
                self.max = self.dd;
            }
            if self.dd > self.peak_since_zero {
                self.peak_since_zero = self.dd;
            }
        }
        self.previous = e;
        true
    }

    /// The figures after `bars` bars.
    fn finish(mut self, bars: usize, ts: &[i64]) -> Drawdowns {
        let Some(last) = bars.checked_sub(1) else {
            return Drawdowns {
                equity_peak: f64::NEG_INFINITY,
                max: f64::NAN,
                durations: None,
                peaks: Vec::new(),
                longest_underwater_bars: 0,
            };
        };
        if self.dd != 0.0 {
            // Under water at the end: the last bar closes the drawdown.
            self.longest = self.longest.max(last - self.last_zero);
            if last > self.last_zero + 1 {
                self.durations.push(ts[last].saturating_sub(ts[self.last_zero]));
                self.peaks.push(self.peak_since_zero);
            }
        }
        let durations = (!self.durations.is_empty()).then_some(self.durations);
        // Without a drawdown that ends, backtesting.py's peaks are the nonzero dd values: on a positive curve
        // at most the last bar's (every earlier bar under water would have closed a drawdown).
        let peaks = match &durations {
            Some(_) => self.peaks,
            None if self.dd != 0.0 => vec![self.dd],
            None => Vec::new(),
        };
        Drawdowns { equity_peak: self.peak, max: self.max, durations, peaks, longest_underwater_bars: self.longest }
    }
}

/// What the statistics take from an equity curve (see [`EquityStats`]).
#[derive(Debug, Clone)]
pub(crate) struct EquityFigures {
    /// Bars fed.
    pub(super) bars: usize,
    /// First and last equity (NaN without bars).
    pub(super) first: f64,
    /// Last equity.
    pub(super) last: f64,
    /// `np.cov(equity_log_returns, market_log_returns)[0, 1]`, NaN for fewer than 3 bars.
    pub(super) covariance: f64,
    /// The drawdowns; `None` when a value was not positive and finite (then they need the whole curve).
    pub(super) drawdowns: Option<Drawdowns>,
    /// The last equity of each calendar period of the market data, `None` as `drawdowns`.
    pub(super) period_last: Option<Vec<f64>>,
}

/// The streaming fold of an equity curve: drawdowns, the covariance of its per-bar log returns with the market's
/// (`Σ (x − x̄)(y − ȳ) = Σ_{x≠0} x (y − ȳ) − x̄ Σ (y − ȳ)`, eight partial sums by bar index mod 8, so a flat
/// stretch, whose returns are exactly 0, adds nothing and may be skipped), and the period closes.
pub(crate) struct EquityStats<'a> {
    market: &'a MarketStats,
    market_log: &'a [f64],
    ts: &'a [i64],
    bars: usize,
    first: f64,
    last: f64,
    total: [f64; LANES],
    products: [f64; LANES],
    walk: Option<DrawdownWalk>,
    period_last: Vec<f64>,
}

impl<'a> EquityStats<'a> {
    /// An empty fold over the bars of `market`, whose times are `ts`.
    pub fn new(market: &'a MarketStats, ts: &'a [i64]) -> Self {
        Self {
            market,
            market_log: market.market_log(),
            ts,
            bars: 0,
            first: f64::NAN,
            last: f64::NAN,
            total: [0.0; LANES],
            products: [0.0; LANES],
            walk: Some(DrawdownWalk::new()),
            period_last: Vec::with_capacity(market.period_ends.len()),
        }
    }

    /// Bars of the market data: the curve's full length.
    pub fn market_bars(&self) -> usize {
        self.market.len()
    }

    /// The log return of pair `j` (bar `j` → `j + 1`, equities `b` → `a`) into lane `j % 8`.
    #[inline]
    fn add_pair(&mut self, j: usize, b: f64, a: f64) {
        let x = pair_log(b, a);
        if x != 0.0 {
            let lane = j % LANES;
            self.total[lane] += x;
            let y = self.market_log.get(j).map_or(0.0, |y| y - self.market.log_return_mean);
            self.products[lane] += x * y;
        }
    }

    /// The next bars' equities.
    pub fn push_run(&mut self, values: &[f64]) {
        let Some(&last) = values.last() else { return };
        let start = self.bars;
        if start == 0 {
            self.first = values[0];
        } else {
            self.add_pair(start - 1, self.last, values[0]);
        }
        self.add_pairs(start, values);
        if let Some(walk) = &mut self.walk {
            for (k, &e) in values.iter().enumerate() {
                if !walk.step(start + k, e, self.ts) {
                    self.walk = None;
                    break;
                }
            }
        }
        let end = start + values.len();
        let ends = &self.market.period_ends;
        while let Some(&period_end) = ends.get(self.period_last.len()).filter(|&&e| e <= end) {
            self.period_last.push(values[period_end - 1 - start]);
        }
        self.bars = end;
        self.last = last;
    }

    /// The pairs inside `values` (bars `start …`): eight at a time where all eight ratios are near 1 (one
    /// division and a short series each), the others one by one; the same value either way.
    fn add_pairs(&mut self, start: usize, values: &[f64]) {
        let pairs = values.len().saturating_sub(1);
        let mean = self.market.log_return_mean;
        let mut k = 0;
        while k < pairs {
            let j = start + k;
            if j.is_multiple_of(LANES) && k + LANES <= pairs && j + LANES <= self.market_log.len() {
                let s: [f64; LANES] = std::array::from_fn(|l| {
                    let (b, a) = (values[k + l], values[k + l + 1]);
                    (a - b) / (a + b)
                });
                if s.iter().all(|v| v.abs() <= SERIES_LIMIT) {
                    let y = &self.market_log[j..j + LANES];
                    for l in 0..LANES {
                        let x = atanh_series_doubled(s[l]);
                        self.total[l] += x;
                        self.products[l] += x * (y[l] - mean);
                    }
                    k += LANES;
                    continue;
                }
            }
            self.add_pair(j, values[k], values[k + 1]);
            k += 1;
        }
    }

    /// `count` bars more at `value`: the same as that many copies through [`Self::push_run`], in constant time
    /// for a positive, finite value.
    pub fn push_flat(&mut self, value: f64, count: usize) {
        if count == 0 {
            return;
        }
        if !(value > 0.0 && value < f64::INFINITY) {
            // NaN pairs are not 0: the general way.
            let chunk = [value; 256];
            let mut left = count;
            while left > 0 {
                let n = left.min(chunk.len());
                self.push_run(&chunk[..n]);
                left -= n;
            }
            return;
        }
        let start = self.bars;
        self.push_run(&[value]);
        if let Some(walk) = &mut self.walk
            && count > 1
            && walk.dd == 0.0
        {
            // Every further bar equals the peak: a zero right after the last one.
            walk.last_zero = start + count - 1;
        }
        let end = start + count;
        let ends = &self.market.period_ends;
        while ends.get(self.period_last.len()).is_some_and(|&e| e <= end) {
            self.period_last.push(value);
        }
        self.bars = end;
    }

    /// The figures of the curve fed; `curve`, when given, is that curve, for the drawdowns and period closes of a
    /// curve that is not positive and finite throughout.
    pub fn finish(self, curve: Option<&[f64]>) -> EquityFigures {
        let covariance = self.covariance();
        let (drawdowns, period_last) = match (self.walk, curve) {
            (Some(walk), _) => (Some(walk.finish(self.bars, self.ts)), Some(self.period_last)),
            (None, Some(curve)) if curve.len() == self.bars => (
                Some(super::any_drawdowns(curve, &self.ts[..self.bars.min(self.ts.len())])),
                Some(self.market.period_closes(curve)),
            ),
            (None, _) => (None, None),
        };
        EquityFigures { bars: self.bars, first: self.first, last: self.last, covariance, drawdowns, period_last }
    }

    fn covariance(&self) -> f64 {
        let len = self.bars.saturating_sub(1);
        let k = len.min(self.market_log.len());
        if self.bars < 3 || k < 2 {
            return f64::NAN;
        }
        let mean = self.total.iter().sum::<f64>() / len as f64;
        let centered_sum = if k == self.market_log.len() {
            self.market.log_return_centered_sum
        } else {
            self.market_log[..k].iter().map(|y| y - self.market.log_return_mean).sum()
        };
        (self.products.iter().sum::<f64>() - mean * centered_sum) / (k - 1) as f64
    }
}

/// `|s|` up to which [`atanh_series_doubled`] holds: ratios 0.9804 … 1.02.
const SERIES_LIMIT: f64 = 0.0099;

/// `ln(a / b)`: `2 atanh(s)` with `s = (a − b) / (a + b)` (one division, and `a − b` is exact for close values)
/// near 1, [`ln_ratio`] elsewhere (NaN for NaN).
#[inline]
fn pair_log(b: f64, a: f64) -> f64 {
    let s = (a - b) / (a + b);
    if s.abs() <= SERIES_LIMIT { atanh_series_doubled(s) } else { ln_ratio(a / b) }
}
