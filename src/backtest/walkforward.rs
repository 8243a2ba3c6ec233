//! Walk-forward analysis: the bars split into consecutive in-sample/out-of-sample windows (rolling: the training
//! window slides; anchored: it always starts at the first bar); on each, the grid is swept in-sample, the best
//! combination is kept and run on the following out-of-sample bars, with indicators computed over the whole
//! series so no window loses bars to warm-up.

use std::ops::Range;

use super::{
    BacktestError, MarketSpec, Metrics, SeriesCache, run_range,
    sweep::{ParamAxis, RankBy, SweepOptions, apply_params, run_sweep},
};
use crate::strategy::StrategySpec;

/// Window settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForwardOptions {
    /// Bars in each in-sample window (the first one, when anchored).
    pub train_bars: usize,
    /// Bars in each out-of-sample window; windows advance by this much.
    pub test_bars: usize,
    /// Keep the in-sample start at the first bar.
    pub anchored: bool,
    /// Ranking metric for choosing the in-sample winner.
    pub rank_by: RankBy,
    /// Worker threads (0 = all cores).
    pub threads: usize,
}

/// One window's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowResult {
    /// In-sample bars.
    pub train: Range<usize>,
    /// Out-of-sample bars.
    pub test: Range<usize>,
    /// The in-sample winner's parameters.
    pub params: Vec<(String, f64)>,
    /// Its in-sample statistics.
    pub in_sample: Metrics,
    /// Its out-of-sample statistics.
    pub out_of_sample: Metrics,
}

/// A whole walk-forward run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WalkForwardResult {
    /// Windows in time order.
    pub windows: Vec<WindowResult>,
    /// Sum of out-of-sample net profits.
    pub oos_net_profit: f64,
    /// Mean out-of-sample return per window, percent.
    pub oos_mean_return_pct: f64,
    /// Out-of-sample windows that made money, percent.
    pub oos_profitable_windows_pct: f64,
    /// Walk-forward efficiency: mean out-of-sample return per bar ÷ mean in-sample return per bar.
    pub efficiency: f64,
}

/// An in-sample and the following out-of-sample bar range.
pub type WindowPair = (Range<usize>, Range<usize>);

/// The (train, test) windows over `n` bars.
pub fn windows(n: usize, options: &WalkForwardOptions) -> Result<Vec<WindowPair>, BacktestError> {
    if options.train_bars < 2 || options.test_bars < 2 {
        return Err(BacktestError::Setup("walk-forward windows need at least 2 bars each".into()));
    }
    let mut out = Vec::new();
    let mut test_start = options.train_bars;
    while test_start + options.test_bars <= n {
        let train_start = if options.anchored { 0 } else { test_start - options.train_bars };
        out.push((train_start..test_start, test_start..test_start + options.test_bars));
        test_start += options.test_bars;
    }
    if out.is_empty() {
        return Err(BacktestError::Setup(format!(
            "{n} bars are too few for a {}-bar in-sample and a {}-bar out-of-sample window",
            options.train_bars, options.test_bars
        )));
    }
    Ok(out)
}

/// Runs the walk-forward analysis.
pub fn walk_forward(
    base: &StrategySpec,
    grid: &[ParamAxis],
    cache: &SeriesCache,
    market: MarketSpec,
    options: &WalkForwardOptions,
) -> Result<WalkForwardResult, BacktestError> {
    let mut results = Vec::new();
    for (train, test) in windows(cache.bars().len(), options)? {
        let sweep = run_sweep(
            base,
            grid,
            cache,
            market,
            &SweepOptions {
                rank_by: options.rank_by.clone(),
                threads: options.threads,
                range: train.clone(),
                cancel: None,
                progress: None,
            },
        )?;
        let Some(best) = sweep.rows.into_iter().next() else {
            return Err(BacktestError::Setup(format!(
                "no valid combination in window {train:?}: {}",
                sweep.first_skip_reason.unwrap_or_default()
            )));
        };
        let spec = apply_params(base, &best.params)?;
        let oos = run_range(&spec, cache, market, test.clone())?;
        results.push(WindowResult {
            train,
            test,
            params: best.params,
            in_sample: best.metrics,
            out_of_sample: oos.metrics,
        });
    }
    let n = results.len() as f64;
    let oos_net_profit = results.iter().map(|w| w.out_of_sample.net_profit).sum();
    let oos_mean_return_pct = results.iter().map(|w| w.out_of_sample.return_pct).sum::<f64>() / n;
    let oos_profitable_windows_pct =
        results.iter().filter(|w| w.out_of_sample.net_profit > 0.0).count() as f64 / n * 100.0;
    let per_bar = |m: &Metrics, r: &Range<usize>| m.return_pct / r.len() as f64;
    let is_rate = results.iter().map(|w| per_bar(&w.in_sample, &w.train)).sum::<f64>() / n;
    let oos_rate = results.iter().map(|w| per_bar(&w.out_of_sample, &w.test)).sum::<f64>() / n;
    let efficiency = if is_rate != 0.0 { oos_rate / is_rate } else { f64::NAN };
    Ok(WalkForwardResult {
        windows: results,
        oos_net_profit,
        oos_mean_return_pct,
        oos_profitable_windows_pct,
        efficiency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(anchored: bool) -> WalkForwardOptions {
        WalkForwardOptions {
            train_bars: 100,
            test_bars: 50,
            anchored,
            rank_by: RankBy { metric: "net_profit".into() },
            threads: 1,
        }
    }

    #[test]
    fn rolling_and_anchored_windows_tile_the_bars() {
        let rolling = windows(260, &options(false)).expect("windows");
        assert_eq!(rolling, vec![(0..100, 100..150), (50..150, 150..200), (100..200, 200..250)]);
        let anchored = windows(260, &options(true)).expect("windows");
        assert_eq!(anchored, vec![(0..100, 100..150), (0..150, 150..200), (0..200, 200..250)]);
        assert!(windows(120, &options(false)).is_err());
    }
}
