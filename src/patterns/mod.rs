//! The pattern engine: TA-Lib-identical candlestick patterns ([`candles`]), chart patterns and market state
//! ([`chart`]), and the historical miner that measures what they were worth ([`miner`]). The submodules work on
//! plain columns; this module adds the glue for [`Bars`](crate::domain::Bars). Imports `domain` and
//! `indicators` only.

pub mod candles;
pub mod chart;
pub mod miner;

use crate::{domain::Bars, indicators};

/// The Wilder ATR period chart patterns and the miner measure distances with.
pub const ATR_PERIOD: usize = 14;

/// Candlestick columns for `bars`, one per pattern in [`candles::CandlePattern::ALL`] order.
pub fn candle_columns(bars: &Bars) -> Vec<(candles::CandlePattern, Vec<i32>)> {
    candles::detect_all(ohlc(bars))
}

/// Borrowed OHLC columns of `bars`.
pub fn ohlc(bars: &Bars) -> candles::Ohlc<'_> {
    candles::Ohlc { open: bars.open(), high: bars.high(), low: bars.low(), close: bars.close() }
}

/// The 14-bar Wilder ATR of `bars` (`NaN` during the warm-up).
pub fn atr(bars: &Bars) -> Vec<f64> {
    indicators::atr(bars.high(), bars.low(), bars.close(), ATR_PERIOD).unwrap_or_else(|_| vec![f64::NAN; bars.len()])
}

/// The columns the chart and miner read: times, OHLC and `atr`.
fn chart_input<'a>(bars: &'a Bars, atr: &'a [f64]) -> chart::ChartInput<'a> {
    chart::ChartInput {
        time_ns: bars.ts_nanos(),
        open: bars.open(),
        high: bars.high(),
        low: bars.low(),
        close: bars.close(),
        atr,
    }
}

/// Chart patterns, levels, regime and volatility of `bars` with `cfg`.
pub fn analyze_chart(bars: &Bars, cfg: &chart::ChartConfig) -> Result<chart::ChartAnalysis, chart::ChartError> {
    chart::analyze(chart_input(bars, &atr(bars)), cfg)
}

/// Mines `bars` for every candlestick and chart pattern with `cfg` (see [`miner::mine`]).
pub fn mine_bars(bars: &Bars, cfg: &miner::MinerConfig) -> Result<miner::MiningReport, miner::MinerError> {
    miner::mine(chart_input(bars, &atr(bars)), cfg)
}

/// Everything the pattern engine says about `bars`, each detector run once: the candlestick columns, the chart
/// analysis (with `cfg.chart`) and the miner's report on both.
pub struct Study {
    /// Candlestick columns in [`candles::CandlePattern::ALL`] order.
    pub candles: Vec<(candles::CandlePattern, Vec<i32>)>,
    /// Chart patterns, levels, regime and volatility.
    pub chart: Result<chart::ChartAnalysis, chart::ChartError>,
    /// The miner's statistics.
    pub mining: Result<miner::MiningReport, miner::MinerError>,
}

/// Detects and mines every pattern of `bars` (see [`Study`]).
pub fn study(bars: &Bars, cfg: &miner::MinerConfig) -> Study {
    let atr = atr(bars);
    let input = chart_input(bars, &atr);
    let candles = candle_columns(bars);
    let chart = chart::analyze(input, &cfg.chart);
    let patterns = chart.as_ref().map(|a| a.patterns.as_slice()).unwrap_or_default();
    let mining = miner::mine_detected(input, &candles, patterns, cfg);
    Study { candles, chart, mining }
}
