//! The native backtester: a strategy spec compiled into signals over bars ([`signals`]), run bar by bar with
//! TradingView's fill rules ([`engine`], [`fills`]), measured with backtesting.py's statistics ([`metrics`]),
//! swept over parameter grids on all cores ([`sweep`]) and walked forward ([`walkforward`]). Imports `domain`,
//! `indicators` and `strategy`.

pub mod engine;
pub mod fills;
pub mod metrics;
pub mod report;
pub mod signals;
pub mod sweep;
pub mod walkforward;

pub use engine::{
    BacktestReport, Bookkeeping, ExitReason, MarketSpec, Side, Trade, run_backtest, run_range, run_range_with,
    run_with_cache,
};
pub use metrics::Metrics;
pub use signals::SeriesCache;

/// Errors of backtests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    /// An indicator parameter is out of range.
    #[error(transparent)]
    Indicator(#[from] crate::indicators::IndicatorError),
    /// The spec does not fit the engine (an unresolved series).
    #[error("strategy: {0}")]
    Spec(String),
    /// Nothing to run on.
    #[error("no bars to backtest")]
    NoBars,
    /// A sweep or walk-forward setting is invalid.
    #[error("{0}")]
    Setup(String),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}
