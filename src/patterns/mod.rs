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

/// Chart patterns, levels, regime and volatility of `bars` with `cfg`.
pub fn analyze_chart(bars: &Bars, cfg: &chart::ChartConfig) -> Result<chart::ChartAnalysis, chart::ChartError> {
    let atr = atr(bars);
    chart::analyze(
        chart::ChartInput {
            time_ns: bars.ts_nanos(),
            open: bars.open(),
            high: bars.high(),
            low: bars.low(),
            close: bars.close(),
            atr: &atr,
        },
        cfg,
    )
}

/// Mines `bars` for every candlestick and chart pattern with `cfg` (see [`miner::mine`]).
pub fn mine_bars(bars: &Bars, cfg: &miner::MinerConfig) -> Result<miner::MiningReport, miner::MinerError> {
    let atr = atr(bars);
    miner::mine(
        miner::MinerInput {
            time_ns: bars.ts_nanos(),
            open: bars.open(),
            high: bars.high(),
            low: bars.low(),
            close: bars.close(),
            atr: &atr,
        },
        cfg,
    )
}
