//! The bar-by-bar engine. Signals are evaluated on each bar's close against the position held then; market orders
//! fill at the next bar's open (or at the same close with `process_orders_on_close`); stops and targets resolve
//! inside bars by TradingView's path rule ([`super::fills`]); an opposite entry reverses the position in one fill
//! price. Commission is charged per fill from cash; equity is cash plus the open position marked at the close.

use std::{ops::Range, sync::Arc};

use super::{
    BacktestError,
    fills::{BarPath, LevelHit, resolve_levels},
    metrics::{self, CURVE_CHUNK, EquityStats, MarketStats, Metrics, TradeStats},
    signals::{SeriesCache, Signal, Signals},
};
use crate::{
    domain::{Bars, InstrumentRegistry},
    strategy::{Sizing, StrategySpec},
};

/// Instrument numbers the engine needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketSpec {
    /// Smallest price step (slippage is counted in these): 0.00001 for EURUSD.
    pub tick_size: f64,
    /// Pip size: 0.0001 for EURUSD.
    pub pip_size: f64,
}

impl MarketSpec {
    /// The instrument's numbers from the built-in Dukascopy list, or five-digit forex defaults.
    pub fn for_symbol(symbol: &str) -> Self {
        match InstrumentRegistry::builtin().get(symbol) {
            Ok(i) => Self { tick_size: i.point, pip_size: i.pip_size },
            Err(_) => Self::default(),
        }
    }
}

impl Default for MarketSpec {
    fn default() -> Self {
        Self { tick_size: 0.00001, pip_size: 0.0001 }
    }
}

/// Whose bookkeeping the engine follows where TradingView and backtesting.py differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bookkeeping {
    /// TradingView's broker emulator: signals from the first bar, a close-fill's commission in that bar's equity,
    /// a signal on the last bar filled at its close with `process_orders_on_close`.
    #[default]
    TradingView,
    /// backtesting.py 0.6.6, for the parity tests: signals from the second bar (its first `next()`), a close-fill's
    /// commission shown from the next bar's equity on, orders decided on the last bar never filled.
    BacktestingPy,
}

/// Long or short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Bought first.
    Long,
    /// Sold first.
    Short,
}

impl Side {
    /// +1 for long, −1 for short.
    pub fn sign(self) -> f64 {
        match self {
            Self::Long => 1.0,
            Self::Short => -1.0,
        }
    }
}

/// Why a trade closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The exit condition fired.
    Signal,
    /// An opposite entry reversed the position.
    Reverse,
    /// The stop loss filled.
    StopLoss,
    /// The take profit filled.
    TakeProfit,
    /// Still open at the end; marked at the last close.
    Open,
}

/// One round trip.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trade {
    /// Bar of the entry fill.
    pub entry_bar: usize,
    /// Bar of the exit fill (the last bar for an open trade).
    pub exit_bar: usize,
    /// Entry fill time, UTC nanoseconds (the bar's open time).
    pub entry_time_nanos: i64,
    /// Exit fill time, UTC nanoseconds.
    pub exit_time_nanos: i64,
    /// Long or short.
    pub side: Side,
    /// Units traded (positive).
    pub units: f64,
    /// Entry fill price.
    pub entry_price: f64,
    /// Exit fill price (the last close for an open trade).
    pub exit_price: f64,
    /// Profit after both commissions, quote currency.
    pub pnl: f64,
    /// Return in the trade's direction after both commissions, percent:
    /// `(±(exit / entry − 1) − commissions / (units × entry)) × 100` (backtesting.py's `ReturnPct`).
    pub return_pct: f64,
    /// Both commissions, quote currency.
    pub commission: f64,
    /// Maximum adverse excursion: the worst open profit during the trade (≤ 0), quote currency.
    pub mae: f64,
    /// Maximum favourable excursion: the best open profit during the trade (≥ 0), quote currency.
    pub mfe: f64,
    /// Why it closed.
    pub exit_reason: ExitReason,
}

/// Everything a run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestReport {
    /// Closed trades in exit order.
    pub trades: Vec<Trade>,
    /// The position still open after the last bar, marked at the last close.
    pub open_trade: Option<Trade>,
    /// Equity after each bar's close.
    pub equity: Vec<f64>,
    /// The bars it ran on (all of them; `range` says which were traded).
    pub bars: Arc<Bars>,
    /// The bars traded; `equity[k]` belongs to bar `range.start + k`.
    pub range: Range<usize>,
    /// Statistics (backtesting.py's definitions).
    pub metrics: Metrics,
}

impl BacktestReport {
    /// Drawdown below the running equity peak after each bar, percent (positive).
    pub fn drawdown_pct(&self) -> Vec<f64> {
        let mut peak = f64::MIN;
        self.equity
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                if peak > 0.0 { (1.0 - e / peak) * 100.0 } else { 0.0 }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Position {
    side: Side,
    units: f64,
    entry_price: f64,
    entry_bar: usize,
    entry_commission: f64,
    stop: Option<f64>,
    target: Option<f64>,
    /// Worst and best price seen while open.
    worst: f64,
    best: f64,
}

impl Position {
    fn see(&mut self, low: f64, high: f64) {
        match self.side {
            Side::Long => {
                self.worst = self.worst.min(low);
                self.best = self.best.max(high);
            }
            Side::Short => {
                self.worst = self.worst.max(high);
                self.best = self.best.min(low);
            }
        }
    }

    fn open_pnl(&self, price: f64) -> f64 {
        self.side.sign() * self.units * (price - self.entry_price)
    }

    /// The round trip ending at `exit_price` on `exit_bar` (the last close for a trade still open).
    fn to_trade(
        &self,
        ts: &[i64],
        exit_bar: usize,
        exit_price: f64,
        exit_commission: f64,
        reason: ExitReason,
    ) -> Trade {
        let (worst, best) = match self.side {
            Side::Long => (self.worst.min(exit_price), self.best.max(exit_price)),
            Side::Short => (self.worst.max(exit_price), self.best.min(exit_price)),
        };
        let commission = self.entry_commission + exit_commission;
        Trade {
            entry_bar: self.entry_bar,
            exit_bar,
            entry_time_nanos: ts[self.entry_bar],
            exit_time_nanos: ts[exit_bar],
            side: self.side,
            units: self.units,
            entry_price: self.entry_price,
            exit_price,
            pnl: self.open_pnl(exit_price) - self.entry_commission - exit_commission,
            return_pct: (self.side.sign() * (exit_price / self.entry_price - 1.0)
                - commission / (self.units * self.entry_price))
                * 100.0,
            commission,
            mae: self.open_pnl(worst).min(0.0),
            mfe: self.open_pnl(best).max(0.0),
            exit_reason: reason,
        }
    }
}

/// An order decided on a bar's close.
#[derive(Debug, Clone, Copy)]
struct Pending {
    close: bool,
    entry: Option<PendingEntry>,
}

#[derive(Debug, Clone, Copy)]
struct PendingEntry {
    side: Side,
    units: f64,
    stop_distance: Option<f64>,
    target_distance: Option<f64>,
}

/// Runs `spec` over `bars`.
pub fn run_backtest(spec: &StrategySpec, bars: Arc<Bars>, market: MarketSpec) -> Result<BacktestReport, BacktestError> {
    let cache = SeriesCache::new(bars);
    run_with_cache(spec, &cache, market)
}

/// Runs `spec` over the cache's bars, reusing its indicator columns.
pub fn run_with_cache(
    spec: &StrategySpec,
    cache: &SeriesCache,
    market: MarketSpec,
) -> Result<BacktestReport, BacktestError> {
    run_range(spec, cache, market, 0..cache.bars().len())
}

/// Runs `spec` on the bars in `range` only (trading starts flat at `range.start`), with indicators computed over
/// the whole series so that a window needs no warm-up of its own; bar indices in the report stay absolute.
pub fn run_range(
    spec: &StrategySpec,
    cache: &SeriesCache,
    market: MarketSpec,
    range: Range<usize>,
) -> Result<BacktestReport, BacktestError> {
    run_range_with(spec, cache, market, range, Bookkeeping::TradingView)
}

/// [`run_range`] with a choice of [`Bookkeeping`].
pub fn run_range_with(
    spec: &StrategySpec,
    cache: &SeriesCache,
    market: MarketSpec,
    range: Range<usize>,
    bookkeeping: Bookkeeping,
) -> Result<BacktestReport, BacktestError> {
    let bars = cache.bars().clone();
    std::thread::scope(|scope| {
        // The statistics' market data (a logarithm per bar) is the same for every run on this range: when it is
        // not cached yet, a second thread computes it while the indicators, the signals and the engine run.
        if fits(&range, bars.len()) && !cache.has_market_stats(&range) {
            // Without the thread, the `market_stats` call below computes it.
            let _ = std::thread::Builder::new()
                .name("aio-market-stats".into())
                .spawn_scoped(scope, || cache.market_stats(range.clone()));
        }
        let signals = compile_on(spec, cache, market, &range)?;
        // Waits for the second thread's market data, if it is still at work.
        let market_stats = cache.market_stats(range.clone());
        let engine = run_engine(spec, &bars, market, range.clone(), bookkeeping, &market_stats, &signals, true);
        Ok(engine.finish(&market_stats))
    })
}

/// The statistics of a run, without its equity curve or trade list (a sweep's run): the curve is folded into the
/// statistics as the engine produces it ([`EquityStats`]) and never stored, and the trades' excursions (MAE,
/// MFE) are not tracked. The same [`Metrics`] as [`run_range_with`]'s, bit for bit.
pub(crate) fn metrics_of_range(
    spec: &StrategySpec,
    cache: &SeriesCache,
    market: MarketSpec,
    range: Range<usize>,
    bookkeeping: Bookkeeping,
) -> Result<Metrics, BacktestError> {
    let bars = cache.bars().clone();
    let signals = compile_on(spec, cache, market, &range)?;
    let market_stats = cache.market_stats(range.clone());
    let run = |keep| run_engine(spec, &bars, market, range.clone(), bookkeeping, &market_stats, &signals, keep);
    if let Some(metrics) = run(false).finish_folded(&market_stats) {
        return Ok(metrics);
    }
    // The equity left the positive numbers (a blown account): its drawdowns need the whole curve.
    Ok(run(true).finish(&market_stats).metrics)
}

/// Whether `range` is a nonempty range of the `bars` bars.
fn fits(range: &Range<usize>, bars: usize) -> bool {
    range.start < range.end && range.end <= bars
}

/// The signals of `spec` on `range`, compiled (and their errors reported) before an empty or out-of-bounds range
/// is ([`BacktestError::NoBars`]).
fn compile_on(
    spec: &StrategySpec,
    cache: &SeriesCache,
    market: MarketSpec,
    range: &Range<usize>,
) -> Result<Signals, BacktestError> {
    let valid = fits(range, cache.bars().len());
    let signals = Signals::compile(spec, cache, market.pip_size, if valid { range.clone() } else { 0..0 })?;
    if valid { Ok(signals) } else { Err(BacktestError::NoBars) }
}

/// The engine after running `signals` over `range`, its equity folded into statistics over `market_stats` and
/// kept when `keep`.
#[allow(clippy::too_many_arguments)]
fn run_engine<'a>(
    spec: &'a StrategySpec,
    bars: &'a Arc<Bars>,
    market: MarketSpec,
    range: Range<usize>,
    bookkeeping: Bookkeeping,
    market_stats: &'a MarketStats,
    signals: &Signals,
    keep: bool,
) -> Engine<'a> {
    let stats = EquityStats::new(market_stats, &bars.ts_nanos()[range.clone()]);
    let mut engine = Engine::new(spec, bars, market, range, bookkeeping, Curve::new(stats, keep));
    engine.run(signals);
    engine
}

/// Where the engine's equity goes: folded into the statistics ([`EquityStats`]) [`CURVE_CHUNK`] bars at a time,
/// while the values are still in the cache, and kept for the report or dropped after folding.
struct Curve<'a> {
    values: Vec<f64>,
    /// Values before this index are folded.
    folded: usize,
    keep: bool,
    stats: EquityStats<'a>,
}

impl<'a> Curve<'a> {
    fn new(stats: EquityStats<'a>, keep: bool) -> Self {
        let capacity = if keep { stats.market_bars() } else { CURVE_CHUNK };
        Self { values: Vec::with_capacity(capacity), folded: 0, keep, stats }
    }

    #[inline]
    fn push(&mut self, equity: f64) {
        self.values.push(equity);
        if self.values.len() - self.folded >= CURVE_CHUNK {
            self.fold();
        }
    }

    /// `count` bars at `equity`.
    fn push_flat(&mut self, equity: f64, count: usize) {
        self.fold();
        self.stats.push_flat(equity, count);
        if self.keep {
            self.values.extend(std::iter::repeat_n(equity, count));
            self.folded = self.values.len();
        }
    }

    fn fold(&mut self) {
        self.stats.push_run(&self.values[self.folded..]);
        if self.keep {
            self.folded = self.values.len();
        } else {
            self.values.clear();
            self.folded = 0;
        }
    }

    /// The figures, and the curve when kept (empty otherwise).
    fn finish(mut self) -> (Vec<f64>, metrics::EquityFigures) {
        self.fold();
        let figures = self.stats.finish(self.keep.then_some(&self.values[..]));
        (if self.keep { self.values } else { Vec::new() }, figures)
    }
}

struct Engine<'a> {
    spec: &'a StrategySpec,
    bars: &'a Arc<Bars>,
    market: MarketSpec,
    commission_rate: f64,
    cash: f64,
    position: Option<Position>,
    pending: Option<Pending>,
    trades: Vec<Trade>,
    /// The equity; positions track their worst and best prices (the trades' MAE and MFE) only when it is kept.
    curve: Curve<'a>,
    range: Range<usize>,
    bookkeeping: Bookkeeping,
    /// Every commission paid so far.
    commission_paid: f64,
    /// Commission paid in this bar's close fills that backtesting.py books one bar late.
    deferred_commission: f64,
}

impl<'a> Engine<'a> {
    fn new(
        spec: &'a StrategySpec,
        bars: &'a Arc<Bars>,
        market: MarketSpec,
        range: Range<usize>,
        bookkeeping: Bookkeeping,
        curve: Curve<'a>,
    ) -> Self {
        Self {
            curve,
            range,
            bookkeeping,
            commission_paid: 0.0,
            deferred_commission: 0.0,
            spec,
            bars,
            market,
            commission_rate: spec.costs.commission_percent / 100.0,
            cash: spec.initial_capital,
            position: None,
            pending: None,
            trades: Vec::new(),
        }
    }

    /// Price after slippage and half the spread, for a buy (`buy`) or a sell.
    fn adverse(&self, price: f64, buy: bool, slip: bool) -> f64 {
        let costs = &self.spec.costs;
        let mut shift = costs.spread_pips * self.market.pip_size / 2.0;
        if slip {
            shift += f64::from(costs.slippage_ticks) * self.market.tick_size;
        }
        if buy { price + shift } else { price - shift }
    }

    fn close_position(&mut self, bar: usize, raw_price: f64, reason: ExitReason, slip: bool) {
        let Some(p) = self.position.take() else { return };
        let price = self.adverse(raw_price, p.side == Side::Short, slip);
        let gross = p.open_pnl(price);
        let commission = p.units * price * self.commission_rate;
        self.cash += gross - commission;
        self.commission_paid += commission;
        let trade = p.to_trade(self.bars.ts_nanos(), bar, price, commission, reason);
        self.trades.push(trade);
    }

    fn open_position(&mut self, bar: usize, raw_price: f64, entry: PendingEntry) {
        let price = self.adverse(raw_price, entry.side == Side::Long, true);
        let commission = entry.units * price * self.commission_rate;
        self.cash -= commission;
        self.commission_paid += commission;
        let sign = entry.side.sign();
        let tick = self.market.tick_size;
        let round = |p: f64| if tick > 0.0 { (p / tick).round() * tick } else { p };
        self.position = Some(Position {
            side: entry.side,
            units: entry.units,
            entry_price: price,
            entry_bar: bar,
            entry_commission: commission,
            stop: entry.stop_distance.map(|d| round(price - sign * d)),
            target: entry.target_distance.map(|d| round(price + sign * d)),
            worst: price,
            best: price,
        });
    }

    /// Fills a decided order at `price` on `bar`.
    fn execute(&mut self, bar: usize, price: f64, order: Pending) {
        if order.close {
            self.close_position(bar, price, ExitReason::Signal, true);
        }
        if let Some(entry) = order.entry {
            if self.position.is_some() {
                self.close_position(bar, price, ExitReason::Reverse, true);
            }
            self.open_position(bar, price, entry);
        }
    }

    fn equity_at(&self, price: f64) -> f64 {
        self.cash + self.position.as_ref().map_or(0.0, |p| p.open_pnl(price))
    }

    /// Steps through the range, skipping ahead over quiet bars ([`Self::skip_quiet`]).
    fn run(&mut self, signals: &Signals) {
        let end = self.range.end;
        let mut i = self.range.start;
        while i < end {
            self.step(i, signals);
            i += 1;
            if i < end && self.pending.is_none() {
                i = self.skip_quiet(i, signals);
            }
        }
    }

    /// Books the bars from `from` on where nothing happens, as [`Self::step`] would, and returns the first bar
    /// where something may: a signal that counts for the position held fires, or a stop or target is touched.
    /// Needs no pending order at `from`; the first bar of the range is always stepped.
    fn skip_quiet(&mut self, from: usize, signals: &Signals) -> usize {
        let end = self.range.end;
        let relevant: &[Signal] = match self.position.as_ref().map(|p| p.side) {
            None => &[Signal::LongEntry, Signal::ShortEntry],
            Some(Side::Long) => &[Signal::LongExit, Signal::ShortEntry],
            Some(Side::Short) => &[Signal::ShortExit, Signal::LongEntry],
        };
        let next_signal = signals.next_firing(relevant, from).unwrap_or(end);
        if next_signal <= from {
            return from;
        }
        let b: &Bars = self.bars;
        let (open, high, low, close) = (b.open(), b.high(), b.low(), b.close());
        // As in `step`: no fill, no level, no decision, so no deferred commission either.
        self.deferred_commission = 0.0;
        let deferred = self.deferred_commission;
        let cash = self.cash;
        let Some(p) = self.position.as_mut() else {
            let equity = (cash + 0.0) + deferred;
            self.curve.push_flat(equity, next_signal - from);
            return next_signal;
        };
        let long = p.side == Side::Long;
        let curve = &mut self.curve;
        if p.stop.is_none() && p.target.is_none() {
            let bars = from..next_signal;
            if curve.keep {
                for ((&low, &high), &close) in low[bars.clone()].iter().zip(&high[bars.clone()]).zip(&close[bars]) {
                    p.see(low, high);
                    curve.push((cash + p.open_pnl(close)) + deferred);
                }
            } else {
                for &close in &close[bars] {
                    curve.push((cash + p.open_pnl(close)) + deferred);
                }
            }
            return next_signal;
        }
        for i in from..next_signal {
            let path = BarPath { open: open[i], high: high[i], low: low[i] };
            if resolve_levels(long, path, p.stop, p.target).is_some() {
                return i;
            }
            p.see(low[i], high[i]);
            curve.push((cash + p.open_pnl(close[i])) + deferred);
        }
        next_signal
    }

    fn step(&mut self, i: usize, signals: &Signals) {
        let b: &Bars = self.bars;
        let (open, high, low, close) = (b.open()[i], b.high()[i], b.low()[i], b.close()[i]);
        // 1. Orders decided on the previous close fill at this open.
        if let Some(order) = self.pending.take() {
            self.execute(i, open, order);
        }
        // 2. Protective orders inside the bar.
        if let Some(p) = self.position.as_mut() {
            let path = BarPath { open, high, low };
            match resolve_levels(p.side == Side::Long, path, p.stop, p.target) {
                Some((hit, price)) => {
                    // The bar's path up to the fill.
                    let (seen_low, seen_high) = match (path.high_first(), p.side, hit) {
                        (true, Side::Long, LevelHit::Target) | (true, Side::Short, LevelHit::Stop) => (open, price),
                        (false, Side::Long, LevelHit::Stop) | (false, Side::Short, LevelHit::Target) => (price, open),
                        (true, _, _) => (price.min(open), high),
                        (false, _, _) => (low, price.max(open)),
                    };
                    p.see(seen_low, seen_high);
                    let reason = if hit == LevelHit::Stop { ExitReason::StopLoss } else { ExitReason::TakeProfit };
                    // Limit orders fill without slippage; stops slip like market orders.
                    self.close_position(i, price, reason, hit == LevelHit::Stop);
                }
                None => p.see(low, high),
            }
        }
        // 3. Signals on this close, against the position held now.
        let py = self.bookkeeping == Bookkeeping::BacktestingPy;
        let evaluate = !(py && i == self.range.start);
        let decided = if evaluate { self.decide(i, close, signals) } else { None };
        let is_last = i + 1 >= self.range.end;
        self.deferred_commission = 0.0;
        if let Some(order) = decided {
            if self.spec.process_orders_on_close && !(py && is_last) {
                let paid_before = self.commission_paid;
                self.execute(i, close, order);
                if py {
                    self.deferred_commission = self.commission_paid - paid_before;
                }
            } else if !is_last {
                self.pending = Some(order);
            }
        }
        let equity = self.equity_at(close) + self.deferred_commission;
        self.curve.push(equity);
    }

    fn decide(&self, i: usize, close: f64, signals: &Signals) -> Option<Pending> {
        let side = self.position.as_ref().map(|p| p.side);
        let close_now = match side {
            Some(Side::Long) => signals.fires(Signal::LongExit, i),
            Some(Side::Short) => signals.fires(Signal::ShortExit, i),
            None => false,
        };
        let entry_side = if side != Some(Side::Long) && signals.fires(Signal::LongEntry, i) {
            Some(Side::Long)
        } else if side != Some(Side::Short) && signals.fires(Signal::ShortEntry, i) {
            Some(Side::Short)
        } else {
            None
        };
        let entry = entry_side.and_then(|side| {
            let stop_distance = signals.stop.as_ref().and_then(|d| d.at(i, close));
            let target_distance = signals.target.as_ref().and_then(|d| d.at(i, close));
            let equity = self.equity_at(close);
            let units = match self.spec.position {
                Sizing::Units(u) => u,
                Sizing::PercentOfEquity(p) => equity * p / 100.0 / close,
                Sizing::RiskPercent(r) => equity * r / 100.0 / stop_distance?,
            };
            (units.is_finite() && units > 0.0).then_some(PendingEntry { side, units, stop_distance, target_distance })
        });
        (close_now || entry.is_some()).then_some(Pending { close: close_now, entry })
    }

    /// The report of a run whose curve is kept.
    fn finish(self, market: &MarketStats) -> BacktestReport {
        let bars = self.bars.clone();
        let range = self.range.clone();
        let last = range.end - 1;
        let ts = bars.ts_nanos();
        let close = bars.close()[last];
        let open_trade = self.position.as_ref().map(|p| p.to_trade(ts, last, close, 0.0, ExitReason::Open));
        let stats: Vec<TradeStats> = self.trades.iter().map(|t| trade_stats(t, range.start)).collect();
        let (equity, figures) = self.curve.finish();
        // A kept curve's figures always have their drawdowns.
        let metrics = metrics::compute_from(figures, &stats, market, self.spec.initial_capital).unwrap_or_default();
        BacktestReport { trades: self.trades, open_trade, equity, bars, range, metrics }
    }

    /// The metrics of a run; `None` when the curve, not kept, left the positive numbers (its drawdowns then need
    /// the whole curve).
    fn finish_folded(self, market: &MarketStats) -> Option<Metrics> {
        let (_, figures) = self.curve.finish();
        let trades: Vec<TradeStats> = self.trades.iter().map(|t| trade_stats(t, self.range.start)).collect();
        metrics::compute_from(figures, &trades, market, self.spec.initial_capital)
    }
}

/// The metrics' view of a trade, with bars counted from `first_bar`.
pub(crate) fn trade_stats(t: &Trade, first_bar: usize) -> TradeStats {
    TradeStats {
        entry_bar: t.entry_bar - first_bar,
        exit_bar: t.exit_bar - first_bar,
        entry_time_nanos: t.entry_time_nanos,
        exit_time_nanos: t.exit_time_nanos,
        units_signed: t.side.sign() * t.units,
        entry_price: t.entry_price,
        exit_price: t.exit_price,
        pnl: t.pnl,
        return_fraction: t.return_pct / 100.0,
        commission: t.commission,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Bar;

    const MARKET: MarketSpec = MarketSpec { tick_size: 0.01, pip_size: 0.1 };
    const MARKET_EURUSD: MarketSpec = MarketSpec { tick_size: 0.00001, pip_size: 0.0001 };
    const HOUR: i64 = 3_600_000_000_000;

    /// Bars from (open, high, low, close) rows, one hour apart.
    fn bars(rows: &[(f64, f64, f64, f64)]) -> Arc<Bars> {
        let list: Vec<Bar> =
            rows.iter().enumerate().map(|(i, &(o, h, l, c))| Bar::new(i as i64 * HOUR, o, h, l, c, 1.0)).collect();
        Arc::new(Bars::from_bars(&list).expect("valid bars"))
    }

    /// Long when the close is above 100, with a 5-pip stop and a 10-pip target (pip = 0.1).
    fn spec(extra: &str) -> StrategySpec {
        StrategySpec::from_json(&format!(
            r#"{{"version": 1, "name": "t", "long_entry": {{"gt": ["close", 100]}},
                "stop_loss": {{"pips": 5}}, "take_profit": {{"pips": 10}},
                "position": {{"units": 1000}}, "initial_capital": 10000 {extra}}}"#
        ))
        .expect("spec")
    }

    /// Entry signal on bar 1, filled at bar 2's open (100.3): stop 99.8, target 101.3.
    fn with_bar3(bar3: (f64, f64, f64, f64)) -> Vec<(f64, f64, f64, f64)> {
        vec![
            (99.0, 99.5, 98.5, 99.0),
            (99.0, 100.5, 98.9, 100.2),
            (100.3, 100.4, 100.1, 100.3),
            bar3,
            (99.0, 99.1, 98.9, 99.0),
        ]
    }

    fn only_trade(spec: &StrategySpec, rows: &[(f64, f64, f64, f64)]) -> Trade {
        let report = run_backtest(spec, bars(rows), MARKET).expect("runs");
        assert_eq!(report.trades.len(), 1, "{:?}", report.trades);
        report.trades[0].clone()
    }

    #[test]
    fn market_entry_fills_at_the_next_open_and_a_stop_inside_the_bar_at_its_level() {
        // Bar 3: the high (0.1 away) is nearer the open than the low (0.7 away): up first, then down through the stop.
        let t = only_trade(&spec(""), &with_bar3((100.2, 100.3, 99.5, 99.6)));
        assert_eq!((t.entry_bar, t.entry_price), (2, 100.3));
        assert_eq!((t.exit_bar, t.exit_reason), (3, ExitReason::StopLoss));
        assert!((t.exit_price - 99.8).abs() < 1e-9, "{t:?}");
        assert!((t.pnl - -500.0).abs() < 1e-6);
        assert!(t.mae <= -500.0 + 1e-6 && t.mfe >= 100.0 - 1e-6, "{t:?}");
    }

    #[test]
    fn the_path_rule_decides_between_stop_and_target_in_one_bar() {
        // High nearer the open: the target (101.3) comes first.
        let t = only_trade(&spec(""), &with_bar3((100.4, 101.4, 99.0, 99.5)));
        assert_eq!(t.exit_reason, ExitReason::TakeProfit);
        assert!((t.exit_price - 101.3).abs() < 1e-9);
        // Low nearer the open: the stop (99.8) comes first.
        let t = only_trade(&spec(""), &with_bar3((100.4, 101.4, 99.7, 99.9)));
        assert_eq!(t.exit_reason, ExitReason::StopLoss);
        assert!((t.exit_price - 99.8).abs() < 1e-9);
    }

    #[test]
    fn a_gap_through_the_stop_fills_at_the_open_with_slippage() {
        let s = spec(r#", "costs": {"slippage_ticks": 2}"#);
        let t = only_trade(&s, &with_bar3((99.0, 99.2, 98.8, 99.0)));
        // Entry 100.3 + 2 ticks; stop 99.82 gapped through: open 99.0 − 2 ticks.
        assert!((t.entry_price - 100.32).abs() < 1e-9 && (t.exit_price - 98.98).abs() < 1e-9, "{t:?}");
        assert_eq!(t.exit_reason, ExitReason::StopLoss);
    }

    #[test]
    fn spread_and_commission_cost_both_fills() {
        let s = spec(r#", "costs": {"spread_pips": 2, "commission_percent": 0.1}"#);
        let t = only_trade(&s, &with_bar3((100.4, 101.6, 100.35, 101.5)));
        // Buy at 100.3 + 0.1 (half of 2 pips); target 101.4, sold at 101.4 − 0.1.
        assert!((t.entry_price - 100.4).abs() < 1e-9 && (t.exit_price - 101.3).abs() < 1e-9, "{t:?}");
        let commission = 1000.0 * (100.4 + 101.3) * 0.001;
        assert!((t.commission - commission).abs() < 1e-9);
        assert!((t.pnl - (900.0 - commission)).abs() < 1e-6);
    }

    #[test]
    fn orders_on_close_fill_at_the_signal_close() {
        let s = spec(r#", "process_orders_on_close": true"#);
        let t = only_trade(&s, &with_bar3((100.2, 100.3, 99.5, 99.6)));
        assert_eq!((t.entry_bar, t.entry_price), (1, 100.2));
        // The 99.7 stop is active from bar 2 on; bar 2's low (100.1) stays above it, bar 3 goes through it.
        assert_eq!(t.exit_bar, 3);
        assert!((t.exit_price - 99.7).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn an_opposite_entry_reverses_in_one_price() {
        let s = StrategySpec::from_json(
            r#"{"version": 1, "name": "r", "long_entry": {"gt": ["close", 100]}, "short_entry": {"lt": ["close", 100]},
                "position": {"units": 10}, "initial_capital": 10000}"#,
        )
        .expect("spec");
        let rows = [
            (99.0, 101.0, 98.0, 100.5),
            (100.6, 101.0, 99.0, 99.5),
            (99.4, 100.0, 99.0, 99.8),
            (99.8, 100.9, 99.7, 100.8),
        ];
        let report = run_backtest(&s, bars(&rows), MARKET).expect("runs");
        assert_eq!(report.trades.len(), 1);
        let t = &report.trades[0];
        assert_eq!(
            (t.side, t.entry_price, t.exit_price, t.exit_reason),
            (Side::Long, 100.6, 99.4, ExitReason::Reverse)
        );
        let open = report.open_trade.as_ref().expect("short still open");
        assert_eq!((open.side, open.entry_bar, open.entry_price), (Side::Short, 2, 99.4));
        // Signal on the last bar is never filled: no next open.
        assert!((report.equity[3] - (10000.0 + 10.0 * (99.4 - 100.6) + 10.0 * (99.4 - 100.8))).abs() < 1e-9);
    }

    /// `n` M1 bars of a random walk around 1.1 (a pseudo-random generator seeded with `seed`).
    fn walk(n: usize, seed: u64) -> Arc<Bars> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut price = 1.1;
        let list: Vec<Bar> = (0..n)
            .map(|i| {
                let open = price;
                let close = open + next() * 0.002;
                price = close;
                let (high, low) =
                    (open.max(close) + (next() + 0.5) * 0.0008, open.min(close) - (next() + 0.5) * 0.0008);
                Bar::new(i as i64 * 60_000_000_000, open, high, low, close, 1.0)
            })
            .collect();
        Arc::new(Bars::from_bars(&list).expect("valid bars"))
    }

    #[test]
    fn a_folded_curve_gives_the_metrics_of_the_stored_curve_bit_for_bit() {
        let bars = walk(30_000, 17);
        let cache = SeriesCache::new(bars);
        let cross = r#""indicators": [{"id": "f", "kind": "sma", "length": 7}, {"id": "s", "kind": "ema", "length": 30}],
            "long_entry": {"crosses_above": ["f", "s"]}, "long_exit": {"crosses_below": ["f", "s"]}"#;
        let specs = [
            // Long only, flat half the time.
            format!(
                r#"{{"version": 1, "name": "a", {cross}, "position": {{"units": 10000}}, "initial_capital": 100000}}"#
            ),
            // Always in the market, stops and targets, costs, orders on close.
            format!(
                r#"{{"version": 1, "name": "b", {cross}, "short_entry": {{"crosses_below": ["f", "s"]}},
                "stop_loss": {{"pips": 12}}, "take_profit": {{"pips": 20}}, "position": {{"percent_of_equity": 50}},
                "costs": {{"commission_percent": 0.01, "spread_pips": 0.5, "slippage_ticks": 1}},
                "process_orders_on_close": true, "initial_capital": 100000}}"#
            ),
            // Leverage that blows the account: the equity goes below zero, the folded run falls back.
            format!(
                r#"{{"version": 1, "name": "c", {cross}, "short_entry": {{"crosses_below": ["f", "s"]}},
                "position": {{"units": 50000000}}, "initial_capital": 1000}}"#
            ),
        ];
        for (k, text) in specs.iter().enumerate() {
            let spec = StrategySpec::from_json(text).expect("spec");
            for range in [0..30_000, 1_000..17_001, 29_990..30_000] {
                for bookkeeping in [Bookkeeping::TradingView, Bookkeeping::BacktestingPy] {
                    let stored = run_range_with(&spec, &cache, MARKET_EURUSD, range.clone(), bookkeeping).expect("run");
                    let folded =
                        metrics_of_range(&spec, &cache, MARKET_EURUSD, range.clone(), bookkeeping).expect("metrics");
                    let json = |m: &Metrics| serde_json::to_string(m).expect("json");
                    assert_eq!(json(&folded), json(&stored.metrics), "spec {k}, bars {range:?}, {bookkeeping:?}");
                    if k == 2 && range.len() == 30_000 {
                        assert!(stored.equity.iter().any(|&e| e <= 0.0), "spec c blows the account");
                    }
                }
            }
        }
    }

    #[test]
    fn risk_sizing_loses_the_risk_percent_at_the_stop() {
        let s = StrategySpec::from_json(
            r#"{"version": 1, "name": "risk", "long_entry": {"gt": ["close", 100]}, "stop_loss": {"pips": 5},
                "position": {"risk_percent": 1}, "initial_capital": 10000}"#,
        )
        .expect("spec");
        let t = only_trade(&s, &with_bar3((100.2, 100.3, 99.5, 99.6)));
        // 1 % of 10,000 over a 0.5 stop distance = 200 units; the loss at the stop is 100.
        assert!((t.units - 200.0).abs() < 1e-9 && (t.pnl + 100.0).abs() < 1e-6, "{t:?}");
    }
}
