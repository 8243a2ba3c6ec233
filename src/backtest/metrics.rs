//! Backtest statistics computed exactly as backtesting.py 0.6.6 computes them (`backtesting/_stats.py`,
//! `compute_stats`), so that a run of aio's engine can be compared number for number with the golden files in
//! tests/golden/backtest. The inputs are the per-bar equity curve (cash plus the open position marked at each
//! close, the first bars before the first fill equal to the initial capital), the closed trades (the trade still
//! open at the end is not one of them: backtesting.py with `finalize_trades=False` leaves it out of every trade
//! statistic and of Exposure Time), the closes and the bar times in UTC nanoseconds. Daily returns come from the
//! last equity of each UTC calendar day that has bars (pandas `resample('D').last().dropna().pct_change()`),
//! annualised with 252 trading days, or 365 when more than 0.6 × 2/7 of the bars fall on a weekend (52, 12 or 1
//! for weekly, monthly or yearly bars, resampled per week, month, year). Percentages are in percent; drawdowns
//! are positive here where backtesting.py reports them negative. NaN wherever backtesting.py gives NaN (no
//! trades, no losing trades, a zero standard deviation, …); serialised as JSON null.

/// One closed trade as the metrics need it (backtesting.py's `stats._trades` row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeStats {
    /// `EntryBar`: bar index of the entry fill.
    pub entry_bar: usize,
    /// `ExitBar`: bar index of the exit fill.
    pub exit_bar: usize,
    /// `EntryTime` in UTC nanoseconds.
    pub entry_time_nanos: i64,
    /// `ExitTime` in UTC nanoseconds.
    pub exit_time_nanos: i64,
    /// `Size`: units, negative for a short trade.
    pub units_signed: f64,
    /// `EntryPrice`.
    pub entry_price: f64,
    /// `ExitPrice`.
    pub exit_price: f64,
    /// `PnL` = size × (exit − entry) − commission (both fills).
    pub pnl: f64,
    /// `ReturnPct` = sign(size) × (exit / entry − 1) − commission / (|size| × entry), a fraction.
    pub return_fraction: f64,
    /// `Commission`: entry and exit commission of the trade together.
    pub commission: f64,
}

/// What `compute` needs: the bars, the equity curve and the closed trades.
#[derive(Debug, Clone, Copy)]
pub struct MetricsInput<'a> {
    /// Bar open times, UTC nanoseconds since the epoch, increasing (the DataFrame index).
    pub ts_nanos: &'a [i64],
    /// Close of each bar (`ohlc_data.Close`).
    pub close: &'a [f64],
    /// Equity at each bar's close (`_equity_curve.Equity`); bars before the first fill hold the initial capital.
    pub equity: &'a [f64],
    /// Closed trades in closing order (`broker.closed_trades`).
    pub trades: &'a [TradeStats],
    /// Entry bar of the trade still open at the end; enters no statistic (backtesting.py ignores open trades,
    /// Exposure Time included).
    pub open_trade_entry_bar: Option<usize>,
    /// Initial cash (`Backtest(cash=…)`); only `net_profit` uses it, the returns use `equity[0]` as backtesting.py.
    pub initial_capital: f64,
}

/// The statistics of backtesting.py's `stats` Series, NaN where it gives NaN.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Metrics {
    /// `Equity Final [$]` − initial capital (not a backtesting.py entry).
    #[serde(with = "nan_as_null")]
    pub net_profit: f64,
    /// `Return [%]` = (equity[-1] − equity[0]) / equity[0] × 100.
    #[serde(with = "nan_as_null")]
    pub return_pct: f64,
    /// `Buy & Hold Return [%]` = (close[-1] − close[0]) / close[0] × 100 (first trading bar 0: no `Strategy.I`).
    #[serde(with = "nan_as_null")]
    pub buy_and_hold_return_pct: f64,
    /// `Return (Ann.) [%]` = ((1 + gmean(day returns))^days_per_year − 1) × 100.
    #[serde(with = "nan_as_null")]
    pub return_ann_pct: f64,
    /// `Volatility (Ann.) [%]` = sqrt((var₁(r) + (1 + g)²)^N − (1 + g)^(2N)) × 100, var with ddof 1.
    #[serde(with = "nan_as_null")]
    pub volatility_ann_pct: f64,
    /// `CAGR [%]` = ((equity[-1] / equity[0])^(1 / years) − 1) × 100, years = (End − Start) / 365.25 days.
    #[serde(with = "nan_as_null")]
    pub cagr_pct: f64,
    /// −`Max. Drawdown [%]` = max(1 − equity / running max) × 100, positive.
    #[serde(with = "nan_as_null")]
    pub max_drawdown_pct: f64,
    /// −`Avg. Drawdown [%]` = mean of the drawdown peaks × 100, positive.
    #[serde(with = "nan_as_null")]
    pub avg_drawdown_pct: f64,
    /// Longest run of consecutive bars with equity strictly below its running maximum (not a backtesting.py entry).
    pub max_drawdown_duration_bars: usize,
    /// `Max. Drawdown Duration` in seconds: max over drawdowns of time(recovery or last bar) − time(peak), ceiled; NaN without one.
    #[serde(with = "nan_as_null")]
    pub max_drawdown_duration_secs: f64,
    /// `Avg. Drawdown Duration` in seconds: mean of the same durations, ceiled to the data resolution.
    #[serde(with = "nan_as_null")]
    pub avg_drawdown_duration_secs: f64,
    /// `Sharpe Ratio` = `Return (Ann.) [%]` / `Volatility (Ann.) [%]` (risk-free rate 0).
    #[serde(with = "nan_as_null")]
    pub sharpe: f64,
    /// `Sortino Ratio` = annualised return / (sqrt(mean(min(r, 0)²)) × sqrt(N)).
    #[serde(with = "nan_as_null")]
    pub sortino: f64,
    /// `Calmar Ratio` = annualised return / max drawdown (fractions), NaN without drawdown.
    #[serde(with = "nan_as_null")]
    pub calmar: f64,
    /// `Profit Factor` = Σ positive ReturnPct / |Σ negative ReturnPct| (returns, not PnL).
    #[serde(with = "nan_as_null")]
    pub profit_factor: f64,
    /// `Win Rate [%]` = share of trades with PnL > 0 × 100.
    #[serde(with = "nan_as_null")]
    pub win_rate_pct: f64,
    /// `Best Trade [%]` = max ReturnPct × 100.
    #[serde(with = "nan_as_null")]
    pub best_trade_pct: f64,
    /// `Worst Trade [%]` = min ReturnPct × 100.
    #[serde(with = "nan_as_null")]
    pub worst_trade_pct: f64,
    /// `Avg. Trade [%]` = geometric mean of ReturnPct × 100 (0 if any return ≤ −100 %).
    #[serde(with = "nan_as_null")]
    pub avg_trade_pct: f64,
    /// `Expectancy [%]` = arithmetic mean of ReturnPct × 100.
    #[serde(with = "nan_as_null")]
    pub expectancy: f64,
    /// `SQN` = sqrt(#trades) × mean(PnL) / std₁(PnL).
    #[serde(with = "nan_as_null")]
    pub sqn: f64,
    /// `Kelly Criterion` = W − (1 − W) / (mean winning PnL / mean losing |PnL|).
    #[serde(with = "nan_as_null")]
    pub kelly: f64,
    /// `Exposure Time [%]` = share of bars from a closed trade's entry bar to its exit bar (inclusive) × 100.
    #[serde(with = "nan_as_null")]
    pub exposure_pct: f64,
    /// `# Trades` = number of closed trades.
    pub trades: usize,
    /// `Equity Final [$]` = equity[-1].
    #[serde(with = "nan_as_null")]
    pub final_equity: f64,
    /// `Equity Peak [$]` = max(equity).
    #[serde(with = "nan_as_null")]
    pub equity_peak: f64,
    /// `Commissions [$]` = Σ trade commissions (backtesting.py omits the entry when it is 0).
    #[serde(with = "nan_as_null")]
    pub commissions: f64,
    /// `Alpha [%]` = `Return [%]` − β × `Buy & Hold Return [%]`.
    #[serde(with = "nan_as_null")]
    pub alpha_pct: f64,
    /// `Beta` = cov(equity log returns, close log returns) / var(close log returns), per bar.
    #[serde(with = "nan_as_null")]
    pub beta: f64,
    /// `Max. Trade Duration` in seconds = max(ExitTime − EntryTime), ceiled to the data resolution.
    #[serde(with = "nan_as_null")]
    pub max_trade_duration_secs: f64,
    /// `Avg. Trade Duration` in seconds = mean(ExitTime − EntryTime), ceiled to the data resolution.
    #[serde(with = "nan_as_null")]
    pub avg_trade_duration_secs: f64,
}

/// Serde helper for `f64` fields: NaN and ±inf are written as JSON null (serde_json cannot write them), null
/// reads back as NaN.
pub mod nan_as_null {
    /// Writes a non-finite value as null.
    pub fn serialize<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() { serializer.serialize_some(value) } else { serializer.serialize_none() }
    }

    /// Reads null as NaN.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        let value: Option<f64> = serde::Deserialize::deserialize(deserializer)?;
        Ok(value.unwrap_or(f64::NAN))
    }
}

mod stream;

pub(crate) use stream::{EquityFigures, EquityStats};

/// Independent partial sums of the covariance, so that the divisions and series of neighbouring bars overlap.
const LANES: usize = 8;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

/// What the statistics need from the bars alone (bar times and closes): the data period, the annualisation,
/// the calendar periods of the period returns, buy & hold, and the closes' log returns with their mean and
/// variance for Beta. The same for every run on one bar range, so a sweep computes it once
/// ([`crate::backtest::SeriesCache::market_stats`]).
#[derive(Debug, Clone)]
pub struct MarketStats {
    bars: usize,
    resolution_nanos: i64,
    /// Periods per year (`annual_trading_days`, or 52, 12, 1 for weekly, monthly, yearly bars).
    periods_per_year: f64,
    /// End (exclusive) of each run of bars in one calendar period (day, week, month or year).
    period_ends: Vec<usize>,
    buy_and_hold_return_pct: f64,
    duration_years: f64,
    /// `ln(close[k + 1] / close[k])` is `log_returns[log_offset + k]`.
    log_returns: std::sync::Arc<Vec<f64>>,
    log_offset: usize,
    log_return_mean: f64,
    log_return_variance: f64,
    /// `Σ (y − ȳ)` of the log returns (rounding noise around 0, kept for [`equity_market_covariance`]).
    log_return_centered_sum: f64,
}

impl MarketStats {
    /// The market data of bars with these times and closes (equally long; the shorter is cut).
    pub fn new(ts_nanos: &[i64], close: &[f64]) -> Self {
        let n = ts_nanos.len().min(close.len());
        let log_returns: Vec<f64> = close[..n].windows(2).map(|w| ln_ratio(w[1] / w[0])).collect();
        let sorted = ts_nanos[..n].is_sorted();
        Self::with_log_returns(&ts_nanos[..n], &close[..n], std::sync::Arc::new(log_returns), 0, sorted)
    }

    /// As [`Self::new`], with the closes' log returns already computed: `ln(close[k + 1] / close[k])` must be
    /// `log_returns[log_offset + k]` for every `k < n - 1`; `sorted` tells whether the times never decrease.
    pub(crate) fn with_log_returns(
        ts_nanos: &[i64],
        close: &[f64],
        log_returns: std::sync::Arc<Vec<f64>>,
        log_offset: usize,
        sorted: bool,
    ) -> Self {
        let n = ts_nanos.len().min(close.len());
        let (ts, close) = (&ts_nanos[..n], &close[..n]);
        let nan = f64::NAN;
        let period_nanos = data_period_nanos(ts);
        let first_close = close.first().copied().unwrap_or(nan);
        let last_close = close.last().copied().unwrap_or(nan);
        let freq_days =
            if period_nanos.is_nan() { None } else { Some((period_nanos / NANOS_PER_DAY as f64).floor() as i64) };
        let calendar = Calendar::new(ts, freq_days.unwrap_or(1), sorted);
        let weekend_bars = calendar.weekend_bars;
        let have_weekends = n > 0 && weekend_bars as f64 / n as f64 > 2.0 / 7.0 * 0.6;
        let periods_per_year = match freq_days {
            None => nan,
            Some(7) => 52.0,
            Some(31) => 12.0,
            Some(365) => 1.0,
            Some(_) if have_weekends => 365.0,
            Some(_) => 252.0,
        };
        let duration_nanos = if n == 0 { 0 } else { ts[n - 1].saturating_sub(ts[0]) };
        let (days, rest) = (duration_nanos.div_euclid(NANOS_PER_DAY), duration_nanos.rem_euclid(NANOS_PER_DAY));
        let market_log = log_returns.get(log_offset..log_offset + n.saturating_sub(1)).unwrap_or_default();
        let log_return_mean = mean(market_log);
        Self {
            bars: n,
            resolution_nanos: resolution_nanos(period_nanos),
            periods_per_year,
            period_ends: calendar.period_ends,
            buy_and_hold_return_pct: (last_close - first_close) / first_close * 100.0,
            duration_years: (days as f64 + (rest / NANOS_PER_SEC) as f64 / 86_400.0) / 365.25,
            log_return_mean,
            log_return_variance: variance_ddof1_around(market_log, log_return_mean),
            log_return_centered_sum: market_log.iter().map(|y| y - log_return_mean).sum(),
            log_returns,
            log_offset,
        }
    }

    /// Bars covered.
    pub fn len(&self) -> usize {
        self.bars
    }

    /// Whether no bar is covered.
    pub fn is_empty(&self) -> bool {
        self.bars == 0
    }

    /// The closes' log returns, `n - 1` of them.
    fn market_log(&self) -> &[f64] {
        self.log_returns.get(self.log_offset..self.log_offset + self.bars.saturating_sub(1)).unwrap_or_default()
    }

    /// `equity.resample(freq).last().dropna()`: the last equity of each calendar period that is not NaN (a period
    /// of NaNs only is dropped).
    fn period_closes(&self, equity: &[f64]) -> Vec<f64> {
        let mut last = Vec::with_capacity(self.period_ends.len());
        let mut start = 0;
        for &end in &self.period_ends {
            if let Some(&e) = equity.get(start..end).and_then(|run| run.iter().rev().find(|e| !e.is_nan())) {
                last.push(e);
            }
            start = end;
        }
        last
    }
}

/// Computes every statistic as `backtesting._stats.compute_stats` with `risk_free_rate = 0` does. Slices of
/// different lengths are cut to the shortest.
pub fn compute(input: &MetricsInput) -> Metrics {
    let n = input.ts_nanos.len().min(input.close.len()).min(input.equity.len());
    compute_with(input, &MarketStats::new(&input.ts_nanos[..n], &input.close[..n]))
}

/// [`compute`] with the market data of `input`'s bars already at hand (computed anew when `market` covers a
/// different number of bars).
pub fn compute_with(input: &MetricsInput, market: &MarketStats) -> Metrics {
    let n = input.ts_nanos.len().min(input.close.len()).min(input.equity.len());
    let ts = &input.ts_nanos[..n];
    let fresh;
    let market = if market.len() == n {
        market
    } else {
        fresh = MarketStats::new(ts, &input.close[..n]);
        &fresh
    };
    let figures = curve_figures(&input.equity[..n], ts, market);
    // Given the whole curve, the figures always have their drawdowns.
    compute_from(figures, input.trades, market, input.initial_capital).unwrap_or_default()
}

/// Bars an [`EquityStats`] takes at a time from a stored curve: the pieces stay in the cache between the
/// drawdown walk and the covariance.
pub(crate) const CURVE_CHUNK: usize = 4096;

/// The [`EquityFigures`] of a whole curve (its drawdowns always present).
pub(crate) fn curve_figures(equity: &[f64], ts: &[i64], market: &MarketStats) -> EquityFigures {
    let mut stats = EquityStats::new(market, ts);
    for piece in equity.chunks(CURVE_CHUNK) {
        stats.push_run(piece);
    }
    stats.finish(Some(equity))
}

/// The statistics from an equity curve's figures, the closed trades and the market data of the same bars;
/// `None` when the figures lack the drawdowns (a streamed curve that was not positive throughout).
pub(crate) fn compute_from(
    figures: EquityFigures,
    trades: &[TradeStats],
    market: &MarketStats,
    initial_capital: f64,
) -> Option<Metrics> {
    let n = figures.bars;
    let nan = f64::NAN;
    let first_equity = figures.first;
    let final_equity = figures.last;
    let equity_market_cov = figures.covariance;
    let dd = figures.drawdowns?;
    let period_closes = figures.period_last?;
    let equity_peak = if n == 0 { nan } else { dd.equity_peak };
    let max_dd = if dd.max.is_nan() { 0.0 } else { dd.max }; // np.nan_to_num(dd.max())
    let resolution = market.resolution_nanos;
    let (max_drawdown_duration_secs, avg_drawdown_duration_secs) = match &dd.durations {
        Some(durations) => (
            durations.iter().copied().max().map_or(nan, |d| ceil_secs(d as f64, resolution)),
            ceil_secs(mean_i64(durations), resolution),
        ),
        None => (nan, nan),
    };

    // Exposure Time: bars covered by closed trades, entry bar to exit bar inclusive.
    let exposure_pct = if n == 0 { nan } else { bars_in_trades(trades, n) as f64 / n as f64 * 100.0 };

    let return_pct = (final_equity - first_equity) / first_equity * 100.0;
    let buy_and_hold_return_pct = market.buy_and_hold_return_pct;

    // Period returns, annualisation.
    let annual_days = market.periods_per_year;
    let day_returns: Vec<f64> = period_closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let g = geometric_mean(&day_returns);
    let annualized_return = (1.0 + g).powf(annual_days) - 1.0;
    let return_ann_pct = annualized_return * 100.0;
    let var = variance_ddof1(&day_returns);
    let volatility_ann_pct =
        ((var + (1.0 + g).powi(2)).powf(annual_days) - (1.0 + g).powf(2.0 * annual_days)).sqrt() * 100.0;
    let time_in_years = market.duration_years;
    let cagr_pct = if time_in_years != 0.0 {
        ((final_equity / first_equity).powf(1.0 / time_in_years) - 1.0) * 100.0
    } else {
        nan
    };
    let sharpe = return_ann_pct / or_nan(volatility_ann_pct);
    let downside: Vec<f64> = day_returns.iter().map(|&r| r.min(0.0).powi(2)).collect();
    let sortino = annualized_return / (mean(&downside).sqrt() * annual_days.sqrt());
    let calmar = annualized_return / or_nan(max_dd);

    // Alpha / Beta from per-bar log returns.
    let beta = if n > 2 { equity_market_cov / market.log_return_variance } else { nan };
    let alpha_pct = return_pct - beta * buy_and_hold_return_pct;

    // Trade statistics.
    let n_trades = trades.len();
    let pl: Vec<f64> = trades.iter().map(|t| t.pnl).collect();
    let returns: Vec<f64> = trades.iter().map(|t| t.return_fraction).collect();
    let win_rate = if n_trades == 0 { nan } else { pl.iter().filter(|&&p| p > 0.0).count() as f64 / n_trades as f64 };
    let best_trade_pct = returns.iter().copied().fold(nan, nan_max) * 100.0;
    let worst_trade_pct = returns.iter().copied().fold(nan, nan_min) * 100.0;
    let avg_trade_pct = geometric_mean(&returns) * 100.0;
    let durations: Vec<i64> = trades.iter().map(|t| t.exit_time_nanos.saturating_sub(t.entry_time_nanos)).collect();
    let max_trade_duration_secs = durations.iter().copied().max().map_or(nan, |d| ceil_secs(d as f64, resolution));
    let avg_trade_duration_secs = ceil_secs(mean_i64(&durations), resolution);
    let gains: f64 = returns.iter().filter(|&&r| r > 0.0).sum();
    let losses: f64 = returns.iter().filter(|&&r| r < 0.0).sum();
    let profit_factor = gains / or_nan(losses.abs());
    let expectancy = mean(&returns) * 100.0;
    let sqn = (n_trades as f64).sqrt() * mean(&pl) / or_nan(variance_ddof1(&pl).sqrt());
    let winners: Vec<f64> = pl.iter().copied().filter(|&p| p > 0.0).collect();
    let losers: Vec<f64> = pl.iter().copied().filter(|&p| p < 0.0).collect();
    let kelly = win_rate - (1.0 - win_rate) / (mean(&winners) / -mean(&losers));

    Some(Metrics {
        net_profit: final_equity - initial_capital,
        return_pct,
        buy_and_hold_return_pct,
        return_ann_pct,
        volatility_ann_pct,
        cagr_pct,
        max_drawdown_pct: max_dd * 100.0,
        avg_drawdown_pct: mean(&dd.peaks) * 100.0,
        max_drawdown_duration_bars: dd.longest_underwater_bars,
        max_drawdown_duration_secs,
        avg_drawdown_duration_secs,
        sharpe,
        sortino,
        calmar,
        profit_factor,
        win_rate_pct: win_rate * 100.0,
        best_trade_pct,
        worst_trade_pct,
        avg_trade_pct,
        expectancy,
        sqn,
        kelly,
        exposure_pct,
        trades: n_trades,
        final_equity,
        equity_peak,
        commissions: trades.iter().map(|t| t.commission).sum(),
        alpha_pct,
        beta,
        max_trade_duration_secs,
        avg_trade_duration_secs,
    })
}

/// Bars from some closed trade's entry bar to its exit bar (inclusive), each counted once, below `n`.
fn bars_in_trades(trades: &[TradeStats], n: usize) -> usize {
    let mut spans: Vec<(usize, usize)> = trades
        .iter()
        .map(|t| (t.entry_bar, t.exit_bar.saturating_add(1).min(n)))
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort_unstable();
    let (mut covered, mut until) = (0, 0);
    for (start, end) in spans {
        let start = start.max(until);
        if end > start {
            covered += end - start;
            until = end;
        }
    }
    covered
}

/// The drawdown statistics of an equity curve, from `dd = 1 - equity / np.maximum.accumulate(equity)`: a
/// drawdown spans consecutive bars with dd == 0 (the last bar closes one still open); its duration is the time
/// between them, its peak the largest dd between them (`compute_drawdown_duration_peaks`).
#[derive(Debug, Clone)]
struct Drawdowns {
    /// `max(equity)`, skipping NaN (−inf when empty).
    equity_peak: f64,
    /// `dd.max()`, NaN when every dd is NaN.
    max: f64,
    /// Durations of the drawdowns in ns, `None` when backtesting.py falls back (see [`finish_drawdowns`]).
    durations: Option<Vec<i64>>,
    /// The drawdowns' peak dd values.
    peaks: Vec<f64>,
    /// Longest run of bars with dd > 0.
    longest_underwater_bars: usize,
}

/// [`Drawdowns`] of any equity curve (NaN, zero, negative or infinite values included).
fn any_drawdowns(equity: &[f64], ts: &[i64]) -> Drawdowns {
    let nan = f64::NAN;
    let mut equity_peak = f64::NEG_INFINITY;
    let mut running_max = f64::NEG_INFINITY;
    let mut max = nan;
    let (mut run, mut longest) = (0usize, 0usize);
    let mut last_zero: Option<usize> = None;
    // Largest dd since the last zero, that zero included.
    let mut peak_since_zero = nan;
    let mut durations = Vec::new();
    let mut peaks = Vec::new();
    let mut last_dd = nan;
    for (i, &e) in equity.iter().enumerate() {
        equity_peak = nan_max(equity_peak, e);
        running_max = if running_max.is_nan() || e.is_nan() { nan } else { running_max.max(e) };
        let dd = 1.0 - e / running_max;
        max = nan_max(max, dd);
        run = if dd > 0.0 { run + 1 } else { 0 };
        longest = longest.max(run);
        peak_since_zero = nan_max(peak_since_zero, dd);
        if dd == 0.0 {
            if let Some(prev) = last_zero
                && i > prev + 1
            {
                durations.push(ts[i].saturating_sub(ts[prev]));
                peaks.push(peak_since_zero);
            }
            last_zero = Some(i);
            peak_since_zero = dd;
        }
        last_dd = dd;
    }
    // The last bar ends a drawdown still open.
    if let (Some(prev), Some(last)) = (last_zero, equity.len().checked_sub(1))
        && last_dd != 0.0
        && last > prev + 1
    {
        durations.push(ts[last].saturating_sub(ts[prev]));
        peaks.push(peak_since_zero);
    }
    finish_drawdowns(
        equity,
        Drawdowns { equity_peak, max, durations: Some(durations), peaks, longest_underwater_bars: longest },
    )
}

/// Without any drawdown that ends, backtesting.py falls back to the nonzero dd values as peaks; its duration
/// statistic is then a dd fraction, reported here as NaN.
fn finish_drawdowns(equity: &[f64], found: Drawdowns) -> Drawdowns {
    if found.durations.as_ref().is_some_and(|d| !d.is_empty()) {
        return found;
    }
    let mut running_max = f64::NEG_INFINITY;
    let nonzero = equity.iter().filter_map(|&e| {
        running_max = if running_max.is_nan() || e.is_nan() { f64::NAN } else { running_max.max(e) };
        let dd = 1.0 - e / running_max;
        (dd != 0.0 && !dd.is_nan()).then_some(dd)
    });
    Drawdowns { durations: None, peaks: nonzero.collect(), ..found }
}

/// `_data_period`: median of the differences of the last 100 bar times, ns (NaN with fewer than 2 bars).
fn data_period_nanos(ts: &[i64]) -> f64 {
    let tail = &ts[ts.len().saturating_sub(100)..];
    let mut diffs: Vec<i64> = tail.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    diffs.sort_unstable();
    match diffs.len() {
        0 => f64::NAN,
        k if k % 2 == 1 => diffs[k / 2] as f64,
        k => (diffs[k / 2 - 1] as f64 + diffs[k / 2] as f64) / 2.0,
    }
}

/// The unit `Timedelta.ceil(period.resolution_string)` rounds to: the smallest nonzero component of the period.
fn resolution_nanos(period: f64) -> i64 {
    if period.is_nan() {
        return 1;
    }
    let p = period.round() as i64;
    [NANOS_PER_DAY, 3_600 * NANOS_PER_SEC, 60 * NANOS_PER_SEC, NANOS_PER_SEC, 1_000_000, 1_000]
        .into_iter()
        .find(|&unit| p % unit == 0)
        .unwrap_or(1)
}

/// A duration in ns ceiled to a multiple of `unit` ns, in seconds (`_round_timedelta`).
fn ceil_secs(nanos: f64, unit: i64) -> f64 {
    if nanos.is_nan() {
        return f64::NAN;
    }
    let (nanos, unit) = (i128::from(nanos.trunc() as i64), i128::from(unit));
    let ceiled = nanos.div_euclid(unit) * unit + if nanos.rem_euclid(unit) == 0 { 0 } else { unit };
    ceiled as f64 / NANOS_PER_SEC as f64
}

/// Civil (year, month) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month)
}

/// The calendar of the bars: how many fall on a weekend, and where each run of consecutive bars in one
/// calendar period ends (the `resample(freq)` groups): a day, or a week Monday–Sunday (`freq_days` 7, pandas
/// 'W'), a month (31, 'ME'), a year (365, 'YE').
struct Calendar {
    weekend_bars: usize,
    /// End (exclusive) of each run.
    period_ends: Vec<usize>,
}

impl Calendar {
    /// `sorted`: whether the times never decrease (bars in time order are taken a day at a time, each day's end
    /// found by binary search; others bar by bar).
    fn new(ts: &[i64], freq_days: i64, sorted: bool) -> Self {
        let days: Vec<(i64, usize)> = if sorted {
            let mut days = Vec::new();
            let mut start = 0;
            while start < ts.len() {
                let day = ts[start].div_euclid(NANOS_PER_DAY);
                let end = match (day + 1).checked_mul(NANOS_PER_DAY) {
                    Some(next) => start + ts[start..].partition_point(|&t| t < next),
                    None => ts.len(),
                };
                days.push((day, end));
                start = end;
            }
            days
        } else {
            ts.iter().enumerate().map(|(i, &t)| (t.div_euclid(NANOS_PER_DAY), i + 1)).collect()
        };
        let mut weekend_bars = 0;
        let mut period_ends: Vec<usize> = Vec::new();
        let (mut start, mut current) = (0, None);
        for &(day, end) in &days {
            // `DatetimeIndex.dayofweek`, Monday = 0.
            if (day + 3).rem_euclid(7) >= 5 {
                weekend_bars += end - start;
            }
            let key = period_key(day, freq_days);
            match period_ends.last_mut() {
                Some(last) if current == Some(key) => *last = end,
                _ => period_ends.push(end),
            }
            current = Some(key);
            start = end;
        }
        Self { weekend_bars, period_ends }
    }
}

/// The calendar period of a day: the day itself, its week Monday–Sunday (`freq_days` 7), month (31), year (365).
fn period_key(day: i64, freq_days: i64) -> i64 {
    match freq_days {
        7 => (day + 3).div_euclid(7),
        31 => {
            let (y, m) = year_month(day);
            y * 12 + m
        }
        365 => year_month(day).0,
        _ => day,
    }
}

/// `geometric_mean`: exp(mean(ln(1 + r))) − 1, 0 if any 1 + r ≤ 0, NaN when empty.
fn geometric_mean(returns: &[f64]) -> f64 {
    let growth: Vec<f64> = returns.iter().map(|&r| if r.is_nan() { 1.0 } else { r + 1.0 }).collect();
    if growth.iter().any(|&x| x <= 0.0) {
        return 0.0;
    }
    if growth.is_empty() {
        return f64::NAN;
    }
    (growth.iter().map(|x| x.ln()).sum::<f64>() / growth.len() as f64).exp() - 1.0
}

/// Mean, NaN when empty.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Mean of ns durations, NaN when empty.
fn mean_i64(values: &[i64]) -> f64 {
    values.iter().map(|&v| i128::from(v)).sum::<i128>() as f64 / values.len() as f64
}

/// Sample variance (ddof 1, two-pass as pandas), NaN with fewer than 2 values.
fn variance_ddof1(values: &[f64]) -> f64 {
    variance_ddof1_around(values, mean(values))
}

/// [`variance_ddof1`] with the mean of `values` at hand.
fn variance_ddof1_around(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// `ln(x)` of a ratio between consecutive prices or equities. Near 1, where nearly every bar's ratio lies, it
/// is `2·atanh(s)` with `s = (x − 1)/(x + 1)` as a short odd series (|s| ≤ 0.0101, so the first term left out is
/// below 1e-25 of the result): a division and six multiply-adds instead of libm's `log`, within a few ULP of it.
/// Elsewhere it is `f64::ln`.
#[inline]
pub(crate) fn ln_ratio(x: f64) -> f64 {
    if (0.98..=1.02).contains(&x) { atanh_series_doubled((x - 1.0) / (x + 1.0)) } else { x.ln() }
}

/// `2 atanh(s) = ln((1 + s) / (1 − s))` by its series up to `s¹¹`, within a few ULP for `|s| ≤ 0.0101`.
#[inline]
fn atanh_series_doubled(s: f64) -> f64 {
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 / 11.0))));
    2.0 * s * series
}

/// Python's `x or np.nan`: NaN for 0.
fn or_nan(x: f64) -> f64 {
    if x == 0.0 { f64::NAN } else { x }
}

/// Maximum skipping NaN (pandas `max`), NaN when all are NaN.
fn nan_max(acc: f64, x: f64) -> f64 {
    if acc.is_nan() || x > acc { x } else { acc }
}

/// Minimum skipping NaN (pandas `min`), NaN when all are NaN.
fn nan_min(acc: f64, x: f64) -> f64 {
    if acc.is_nan() || x < acc { x } else { acc }
}

impl Default for Metrics {
    /// The statistics of a run without bars: every ratio undefined (NaN), counts zero.
    fn default() -> Self {
        compute(&MetricsInput {
            ts_nanos: &[],
            close: &[],
            equity: &[],
            trades: &[],
            open_trade_entry_bar: None,
            initial_capital: 1.0,
        })
    }
}

impl Metrics {
    /// A statistic by its JSON name (`sharpe`, `max_drawdown_pct`, `trades` …); `None` for unknown names.
    pub fn get(&self, name: &str) -> Option<f64> {
        let value = serde_json::to_value(self).ok()?;
        match value.get(name)? {
            serde_json::Value::Null => Some(f64::NAN),
            v => v.as_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random number in [0, 1).
    fn unit(state: &mut u64) -> f64 {
        *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn bits(d: &Drawdowns) -> (u64, u64, Option<Vec<i64>>, Vec<u64>, usize) {
        (
            d.equity_peak.to_bits(),
            d.max.to_bits(),
            d.durations.clone(),
            d.peaks.iter().map(|p| p.to_bits()).collect(),
            d.longest_underwater_bars,
        )
    }

    #[test]
    fn ln_ratio_is_within_a_few_ulp_of_ln() {
        let mut state = 5;
        for k in 0..200_000 {
            let x = match k % 4 {
                0 => 0.98 + 0.04 * unit(&mut state),
                1 => 1.0 + (unit(&mut state) - 0.5) * 1e-6,
                2 => 1.0 + (unit(&mut state) - 0.5) * 1e-12,
                _ => 0.1 + 10.0 * unit(&mut state),
            };
            let (got, want) = (ln_ratio(x), x.ln());
            assert!((got - want).abs() <= 4.0 * f64::EPSILON * want.abs(), "ln({x:e}): {got:e} vs {want:e}");
        }
        assert_eq!(ln_ratio(1.0), 0.0);
        assert!(ln_ratio(f64::NAN).is_nan());
        assert_eq!(ln_ratio(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn sparse_covariance_equals_the_dense_sum() {
        let mut state = 11;
        for case in 0..20 {
            let n = 50 + case * 37;
            let close: Vec<f64> = (0..n).map(|_| 1.0 + unit(&mut state)).collect();
            let ts: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000_000).collect();
            // Flat runs (no position) between moving runs, as a backtest's equity looks.
            let mut e = 10_000.0;
            let equity: Vec<f64> = (0..n)
                .map(|i| {
                    if (i / (3 + case)) % 2 == 1 {
                        e *= 1.0 + (unit(&mut state) - 0.5) * 0.01;
                    }
                    e
                })
                .collect();
            let market = MarketStats::new(&ts, &close);
            let sparse = curve_figures(&equity, &ts, &market).covariance;
            let x: Vec<f64> = equity.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
            let y = market.market_log();
            let (mx, my) = (x.iter().sum::<f64>() / x.len() as f64, market.log_return_mean);
            let dense = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum::<f64>() / (x.len() - 1) as f64;
            // Rounding only: the sum of signed products cancels to ~1e-7 from terms ~1e-9 each, and the two
            // sides add them in different orders (eight partial sums against one), so a few 1e-12 apart.
            assert!((sparse - dense).abs() <= 1e-10 * dense.abs().max(1e-12), "case {case}: {sparse} vs {dense}");
        }
        // Too short, and a NaN in the curve.
        let market = MarketStats::new(&[0, 1], &[1.0, 2.0]);
        assert!(curve_figures(&[1.0, 2.0], &[0, 1], &market).covariance.is_nan());
        let ts: Vec<i64> = (0..5).collect();
        let market = MarketStats::new(&ts, &[1.0, 1.1, 1.2, 1.1, 1.3]);
        assert!(curve_figures(&[1.0, f64::NAN, 1.0, 1.0, 2.0], &ts, &market).covariance.is_nan());
    }

    /// The figures of `equity` fed in random pieces, flat pieces as flat stretches.
    fn fed_in_pieces(equity: &[f64], ts: &[i64], market: &MarketStats, state: &mut u64) -> EquityFigures {
        let mut stats = EquityStats::new(market, ts);
        let mut at = 0;
        while at < equity.len() {
            let len = 1 + (unit(state).powi(2) * 40.0) as usize;
            let piece = &equity[at..(at + len).min(equity.len())];
            if piece.iter().all(|&e| e.to_bits() == piece[0].to_bits()) && unit(state) < 0.8 {
                stats.push_flat(piece[0], piece.len());
            } else {
                stats.push_run(piece);
            }
            at += piece.len();
        }
        stats.finish(None)
    }

    #[test]
    fn a_curve_fed_in_any_pieces_gives_the_figures_of_the_whole_curve_bit_for_bit() {
        let mut state = 3;
        for case in 0..300 {
            let n = 1 + case * 7 % 400;
            let mut equity = Vec::with_capacity(n);
            let mut e = 1000.0;
            for _ in 0..n {
                // Flat stretches, ties with the peak, rises and falls, now and then a jump past the series' range.
                match (unit(&mut state) * 5.0) as u32 {
                    0 | 1 => {}
                    2 => e = equity.iter().copied().fold(e, f64::max),
                    3 if unit(&mut state) < 0.1 => e *= 1.5,
                    _ => e *= 1.0 + (unit(&mut state) - 0.5) * 0.01,
                }
                equity.push(e);
            }
            // Hourly bars with a few odd gaps: periods (days) end inside pieces and flat stretches.
            let ts: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000_000 + (i % 3) * 7).collect();
            let close: Vec<f64> = (0..n).map(|_| 1.0 + unit(&mut state) * 0.01).collect();
            let market = MarketStats::new(&ts, &close);
            let whole = curve_figures(&equity, &ts, &market);
            let pieces = fed_in_pieces(&equity, &ts, &market, &mut state);
            let dd = pieces.drawdowns.as_ref().expect("a positive curve has its drawdowns");
            assert_eq!(bits(dd), bits(&any_drawdowns(&equity, &ts)), "case {case}");
            assert_eq!(bits(dd), bits(whole.drawdowns.as_ref().expect("whole")), "case {case}");
            assert_eq!(pieces.covariance.to_bits(), whole.covariance.to_bits(), "case {case}");
            assert_eq!(pieces.period_last, Some(market.period_closes(&equity)), "case {case}");
            assert_eq!((pieces.first, pieces.last, pieces.bars), (equity[0], equity[n - 1], n));
        }
        let market = MarketStats::new(&[], &[]);
        let empty = EquityStats::new(&market, &[]).finish(None);
        assert_eq!(bits(empty.drawdowns.as_ref().expect("empty")), bits(&any_drawdowns(&[], &[])));
        let ts: Vec<i64> = (0..10).collect();
        let market = MarketStats::new(&ts, &[1.0; 10]);
        let flat = fed_in_pieces(&[5.0; 10], &ts, &market, &mut state);
        assert_eq!(bits(flat.drawdowns.as_ref().expect("flat")), bits(&any_drawdowns(&[5.0; 10], &ts)));
        // A curve that leaves the positive numbers: streamed, its drawdowns need the whole curve.
        for bad in [[1.0, f64::NAN, 2.0], [1.0, 0.0, 2.0], [1.0, -1.0, 2.0]] {
            let market = MarketStats::new(&ts[..3], &[1.0, 1.1, 1.2]);
            let mut stats = EquityStats::new(&market, &ts[..3]);
            stats.push_run(&bad);
            assert!(stats.finish(None).drawdowns.is_none(), "{bad:?}");
            let whole = curve_figures(&bad, &ts[..3], &market);
            assert_eq!(bits(whole.drawdowns.as_ref().expect("whole")), bits(&any_drawdowns(&bad, &ts[..3])));
        }
    }

    #[test]
    fn the_calendar_of_sorted_bars_is_the_calendar_bar_by_bar() {
        let mut state = 11;
        for freq_days in [1, 7, 31, 365] {
            let mut ts = Vec::new();
            let mut t = -40 * NANOS_PER_DAY + 12_345;
            for _ in 0..5000 {
                t += (unit(&mut state).powi(6) * 30.0 * NANOS_PER_DAY as f64) as i64 + 1;
                ts.push(t);
            }
            let calendar = Calendar::new(&ts, freq_days, true);
            let weekend = ts.iter().filter(|&&t| (t.div_euclid(NANOS_PER_DAY) + 3).rem_euclid(7) >= 5).count();
            let mut ends = Vec::new();
            for i in 1..=ts.len() {
                let key = |t: i64| period_key(t.div_euclid(NANOS_PER_DAY), freq_days);
                if i == ts.len() || key(ts[i]) != key(ts[i - 1]) {
                    ends.push(i);
                }
            }
            assert_eq!((calendar.weekend_bars, &calendar.period_ends), (weekend, &ends), "freq {freq_days}");
            // Out of order: bar by bar, runs of one period as they come.
            let mut shuffled = ts.clone();
            shuffled.swap(10, 4000);
            let c = Calendar::new(&shuffled, freq_days, false);
            assert_eq!(c.weekend_bars, weekend);
            assert_eq!(c.period_ends.last(), Some(&ts.len()));
        }
    }
}
