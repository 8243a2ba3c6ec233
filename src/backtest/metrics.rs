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

const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

/// Computes every statistic as `backtesting._stats.compute_stats` with `risk_free_rate = 0` does. Slices of
/// different lengths are cut to the shortest.
pub fn compute(input: &MetricsInput) -> Metrics {
    let n = input.ts_nanos.len().min(input.close.len()).min(input.equity.len());
    let ts = &input.ts_nanos[..n];
    let close = &input.close[..n];
    let equity = &input.equity[..n];
    let trades = input.trades;
    let nan = f64::NAN;

    let first_equity = equity.first().copied().unwrap_or(nan);
    let final_equity = equity.last().copied().unwrap_or(nan);
    let equity_peak = if n == 0 { nan } else { equity.iter().copied().fold(f64::NEG_INFINITY, nan_max) };

    // Drawdown: dd = 1 - equity / np.maximum.accumulate(equity)
    let mut running_max = f64::NEG_INFINITY;
    let dd: Vec<f64> = equity
        .iter()
        .map(|&e| {
            running_max = if running_max.is_nan() || e.is_nan() { nan } else { running_max.max(e) };
            1.0 - e / running_max
        })
        .collect();
    let period = data_period_nanos(ts);
    let resolution = resolution_nanos(period);
    let (dd_durations, dd_peaks) = drawdown_durations_and_peaks(&dd, ts);
    let dd_max = dd.iter().copied().fold(nan, nan_max);
    let max_dd = if dd_max.is_nan() { 0.0 } else { dd_max }; // np.nan_to_num(dd.max())
    let (max_drawdown_duration_secs, avg_drawdown_duration_secs) = match &dd_durations {
        Some(durations) => (
            durations.iter().copied().max().map_or(nan, |d| ceil_secs(d as f64, resolution)),
            ceil_secs(mean_i64(durations), resolution),
        ),
        None => (nan, nan),
    };

    // Exposure Time: bars covered by closed trades, entry bar to exit bar inclusive.
    let mut have_position = vec![false; n];
    for t in trades {
        let end = t.exit_bar.saturating_add(1).min(n);
        if t.entry_bar < end {
            have_position[t.entry_bar..end].iter_mut().for_each(|b| *b = true);
        }
    }
    let exposure_pct =
        if n == 0 { nan } else { have_position.iter().filter(|&&b| b).count() as f64 / n as f64 * 100.0 };

    let return_pct = (final_equity - first_equity) / first_equity * 100.0;
    let first_close = close.first().copied().unwrap_or(nan);
    let last_close = close.last().copied().unwrap_or(nan);
    let buy_and_hold_return_pct = (last_close - first_close) / first_close * 100.0;

    // Period returns, annualisation.
    let freq_days = if period.is_nan() { None } else { Some((period / NANOS_PER_DAY as f64).floor() as i64) };
    let weekend_bars = ts.iter().filter(|&&t| weekday(t) >= 5).count();
    let have_weekends = n > 0 && weekend_bars as f64 / n as f64 > 2.0 / 7.0 * 0.6;
    let annual_days = match freq_days {
        None => nan,
        Some(7) => 52.0,
        Some(31) => 12.0,
        Some(365) => 1.0,
        Some(_) if have_weekends => 365.0,
        Some(_) => 252.0,
    };
    let day_returns = period_returns(ts, equity, freq_days.unwrap_or(1));
    let g = geometric_mean(&day_returns);
    let annualized_return = (1.0 + g).powf(annual_days) - 1.0;
    let return_ann_pct = annualized_return * 100.0;
    let var = variance_ddof1(&day_returns);
    let volatility_ann_pct =
        ((var + (1.0 + g).powi(2)).powf(annual_days) - (1.0 + g).powf(2.0 * annual_days)).sqrt() * 100.0;
    let duration_nanos = if n == 0 { 0 } else { ts[n - 1].saturating_sub(ts[0]) };
    let (dur_days, dur_rem) = (duration_nanos.div_euclid(NANOS_PER_DAY), duration_nanos.rem_euclid(NANOS_PER_DAY));
    let time_in_years = (dur_days as f64 + (dur_rem / NANOS_PER_SEC) as f64 / 86_400.0) / 365.25;
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
    let equity_log: Vec<f64> = equity.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let market_log: Vec<f64> = close.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let beta =
        if equity_log.len() > 1 { covariance(&equity_log, &market_log) / variance_ddof1(&market_log) } else { nan };
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

    Metrics {
        net_profit: final_equity - input.initial_capital,
        return_pct,
        buy_and_hold_return_pct,
        return_ann_pct,
        volatility_ann_pct,
        cagr_pct,
        max_drawdown_pct: max_dd * 100.0,
        avg_drawdown_pct: mean(&dd_peaks) * 100.0,
        max_drawdown_duration_bars: longest_underwater_run(&dd),
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
    }
}

/// `compute_drawdown_duration_peaks`: the drawdowns between consecutive bars with dd == 0 (and the last bar),
/// as (durations in ns, peak dd). `None` durations (and the nonzero dd values as peaks) when there is no such
/// drawdown, as backtesting.py's `dd.replace(0, np.nan)` fallback.
fn drawdown_durations_and_peaks(dd: &[f64], ts: &[i64]) -> (Option<Vec<i64>>, Vec<f64>) {
    let Some(last) = dd.len().checked_sub(1) else { return (None, Vec::new()) };
    let mut ilocs: Vec<usize> = (0..dd.len()).filter(|&i| dd[i] == 0.0).collect();
    if ilocs.last() != Some(&last) {
        ilocs.push(last);
    }
    let mut durations = Vec::new();
    let mut peaks = Vec::new();
    for w in ilocs.windows(2) {
        let (prev, cur) = (w[0], w[1]);
        if cur > prev + 1 {
            durations.push(ts[cur].saturating_sub(ts[prev]));
            peaks.push(dd[prev..=cur].iter().copied().fold(f64::NAN, nan_max));
        }
    }
    if durations.is_empty() {
        // Fallback of backtesting.py; its duration statistic is then a dd fraction, reported here as NaN.
        return (None, dd.iter().copied().filter(|&d| d != 0.0 && !d.is_nan()).collect());
    }
    (Some(durations), peaks)
}

/// Longest run of bars with dd > 0.
fn longest_underwater_run(dd: &[f64]) -> usize {
    let (mut best, mut run) = (0, 0);
    for &d in dd {
        run = if d > 0.0 { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
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

/// Day of the week, Monday = 0 (`DatetimeIndex.dayofweek`).
fn weekday(nanos: i64) -> i64 {
    (nanos.div_euclid(NANOS_PER_DAY) + 3).rem_euclid(7)
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

/// `equity.resample(freq).last().dropna().pct_change().dropna()`: returns between the last equities of
/// consecutive calendar days with bars ('D'), or weeks Monday–Sunday ('W'), months ('ME'), years ('YE').
fn period_returns(ts: &[i64], equity: &[f64], freq_days: i64) -> Vec<f64> {
    let key = |t: i64| {
        let day = t.div_euclid(NANOS_PER_DAY);
        match freq_days {
            7 => (day + 3).div_euclid(7),
            31 => {
                let (y, m) = year_month(day);
                y * 12 + m
            }
            365 => year_month(day).0,
            _ => day,
        }
    };
    let mut last: Vec<f64> = Vec::new();
    let mut current_key = None;
    for (&t, &e) in ts.iter().zip(equity) {
        let k = key(t);
        if current_key == Some(k) {
            if !e.is_nan()
                && let Some(slot) = last.last_mut()
            {
                *slot = e;
            }
        } else {
            current_key = Some(k);
            last.push(e);
        }
    }
    last.retain(|e| !e.is_nan());
    last.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
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
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// Sample covariance (ddof 1) of two equally long series, NaN with fewer than 2 values.
fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let k = a.len().min(b.len());
    if k < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (mean(&a[..k]), mean(&b[..k]));
    a[..k].iter().zip(&b[..k]).map(|(x, y)| (x - ma) * (y - mb)).sum::<f64>() / (k - 1) as f64
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
