//! Signals: a strategy spec compiled against one bar series. Indicator columns come from a shared
//! [`SeriesCache`] (a sweep computes each distinct indicator once); each condition is evaluated once over the
//! traded bars into a [`BarSet`], column against column, with TradingView's rules (`NaN` compares false, crosses
//! need the previous bar), so that the engine reads one bit per bar and can skip ahead to the next bar where a
//! signal fires.

use std::{
    collections::HashMap,
    ops::Range,
    sync::{Arc, Mutex},
};

use super::{BacktestError, metrics::MarketStats};
use crate::{
    domain::Bars,
    indicators::{self as ind, Source},
    strategy::{Condition, IndicatorKind, Level, Operand, SeriesRef, StrategySpec},
};

/// One column of values per bar.
pub type Column = Arc<Vec<f64>>;

/// Price columns, computed indicator outputs and the statistics' market data of one bar series, shared by every
/// strategy run on it.
pub struct SeriesCache {
    bars: Arc<Bars>,
    prices: Mutex<HashMap<&'static str, Column>>,
    indicators: Mutex<HashMap<String, Arc<Vec<Column>>>>,
    /// Log returns of the closes, `ln(close[i] / close[i - 1])` at `i` (`NaN` at 0), once per series.
    close_log_returns: Mutex<Option<Column>>,
    /// [`MarketStats`] per traded range.
    market: Mutex<HashMap<(usize, usize), Arc<MarketStats>>>,
}

impl SeriesCache {
    /// An empty cache over `bars`.
    pub fn new(bars: Arc<Bars>) -> Self {
        Self {
            bars,
            prices: Mutex::new(HashMap::new()),
            indicators: Mutex::new(HashMap::new()),
            close_log_returns: Mutex::new(None),
            market: Mutex::new(HashMap::new()),
        }
    }

    /// The bars.
    pub fn bars(&self) -> &Arc<Bars> {
        &self.bars
    }

    /// A price field column (`close`, `hl2` …).
    pub fn price(&self, field: &'static str) -> Column {
        if let Some(c) = self.prices.lock().ok().and_then(|m| m.get(field).cloned()) {
            return c;
        }
        let b = &self.bars;
        let values: Vec<f64> = match raw_field(b, field) {
            Some(values) => values.to_vec(),
            None => {
                let source = Source::parse(field).unwrap_or_default();
                b.iter().map(|bar| source.of(&bar)).collect()
            }
        };
        let column = Arc::new(values);
        if let Ok(mut m) = self.prices.lock() {
            m.insert(field, column.clone());
        }
        column
    }

    /// Calls `f` with a source's values: the bars' own column for open, high, low and close (no copy), the cached
    /// computed column for the others.
    fn with_source<R>(&self, source: Source, f: impl FnOnce(&[f64]) -> R) -> R {
        match raw_field(&self.bars, source.name()) {
            Some(values) => f(values),
            None => f(&self.price(source.name())),
        }
    }

    fn cached(&self, kind: &IndicatorKind) -> Option<Arc<Vec<Column>>> {
        let key = serde_json::to_string(kind).unwrap_or_default();
        self.indicators.lock().ok().and_then(|m| m.get(&key).cloned())
    }

    fn store(&self, kind: &IndicatorKind, columns: Vec<Vec<f64>>) -> Arc<Vec<Column>> {
        let key = serde_json::to_string(kind).unwrap_or_default();
        let columns = Arc::new(columns.into_iter().map(Arc::new).collect::<Vec<_>>());
        if let Ok(mut m) = self.indicators.lock() {
            m.insert(key, columns.clone());
        }
        columns
    }

    /// The outputs of one indicator, in [`IndicatorKind::outputs`] order, computed at most once.
    pub fn indicator(&self, kind: &IndicatorKind) -> Result<Arc<Vec<Column>>, BacktestError> {
        if let Some(c) = self.cached(kind) {
            return Ok(c);
        }
        let (high, low, close) = (self.bars.high(), self.bars.low(), self.bars.close());
        let columns: Vec<Vec<f64>> = match *kind {
            IndicatorKind::Sma { source, length } => vec![self.with_source(source, |s| ind::sma(s, length))?],
            IndicatorKind::Ema { source, length } => vec![self.with_source(source, |s| ind::ema(s, length))?],
            IndicatorKind::Wma { source, length } => vec![self.with_source(source, |s| ind::wma(s, length))?],
            IndicatorKind::Rsi { source, length } => vec![self.with_source(source, |s| ind::rsi(s, length))?],
            IndicatorKind::Macd { source, fast, slow, signal } => {
                self.with_source(source, |s| ind::macd(s, fast, slow, signal))?.into()
            }
            IndicatorKind::Bb { source, length, mult } => {
                let [upper, middle, lower] = self.with_source(source, |s| ind::bollinger_bands(s, length, mult))?;
                vec![middle, upper, lower]
            }
            IndicatorKind::Stoch { k, k_smooth, d } => ind::stochastic(high, low, close, k, k_smooth, d)?.into(),
            IndicatorKind::Atr { length } => vec![ind::atr(high, low, close, length)?],
            IndicatorKind::Adx { length } => ind::adx(high, low, close, length)?.into(),
        };
        Ok(self.store(kind, columns))
    }

    /// Computes the indicators of `kinds` not cached yet, two SMAs of one source at a time in one pass
    /// ([`ind::sma_pair`]); the rest one by one as [`Self::indicator`] would.
    pub fn prefetch(&self, kinds: &[IndicatorKind]) -> Result<(), BacktestError> {
        let mut missing: Vec<&IndicatorKind> = Vec::new();
        for kind in kinds {
            if !missing.contains(&kind) && self.cached(kind).is_none() {
                missing.push(kind);
            }
        }
        let mut smas: Vec<(Source, usize)> = Vec::new();
        for kind in missing {
            match *kind {
                IndicatorKind::Sma { source, length } => smas.push((source, length)),
                _ => {
                    self.indicator(kind)?;
                }
            }
        }
        while let Some((source, length)) = smas.pop() {
            let kind = IndicatorKind::Sma { source, length };
            match smas.iter().position(|&(s, _)| s == source) {
                Some(k) => {
                    let (_, other) = smas.swap_remove(k);
                    let [a, b] = self.with_source(source, |s| ind::sma_pair(s, length, other))?;
                    self.store(&kind, vec![a]);
                    self.store(&IndicatorKind::Sma { source, length: other }, vec![b]);
                }
                None => {
                    self.indicator(&kind)?;
                }
            }
        }
        Ok(())
    }

    /// `ln(close[i] / close[i - 1])` for every bar `i` (`NaN` at 0), computed once.
    pub fn close_log_returns(&self) -> Column {
        let mut slot = match self.close_log_returns.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        slot.get_or_insert_with(|| {
            let close = self.bars.close();
            let mut values = ind::column_with_capacity(close.len());
            values.extend(close.first().map(|_| f64::NAN));
            values.extend(close.windows(2).map(|w| super::metrics::ln_ratio(w[1] / w[0])));
            Arc::new(values)
        })
        .clone()
    }

    /// Whether [`Self::market_stats`] of `range` is computed.
    pub fn has_market_stats(&self, range: &Range<usize>) -> bool {
        self.market.lock().is_ok_and(|map| map.contains_key(&(range.start, range.end)))
    }

    /// The statistics' market data of the bars in `range` (see [`MarketStats`]), computed once per range. The
    /// lock is held while computing, so that concurrent runs on one range wait for one computation.
    pub fn market_stats(&self, range: Range<usize>) -> Arc<MarketStats> {
        let range = range.start.min(self.bars.len())..range.end.min(self.bars.len());
        let key = (range.start, range.end.max(range.start));
        let mut map = match self.market.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key)
            .or_insert_with(|| {
                let (ts, close) = (&self.bars.ts_nanos()[key.0..key.1], &self.bars.close()[key.0..key.1]);
                let log_returns = self.close_log_returns();
                // Bars' times are strictly increasing.
                Arc::new(MarketStats::with_log_returns(ts, close, log_returns, key.0 + 1, true))
            })
            .clone()
    }
}

/// The bars' own column for `open`, `high`, `low`, `close` and `volume`.
fn raw_field<'a>(bars: &'a Bars, field: &str) -> Option<&'a [f64]> {
    Some(match field {
        "open" => bars.open(),
        "high" => bars.high(),
        "low" => bars.low(),
        "close" => bars.close(),
        "volume" => bars.volume(),
        _ => return None,
    })
}

/// A set of bars of one range, one bit per bar (bit `k` of the set is bar `range.start + k`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarSet {
    start: usize,
    len: usize,
    words: Vec<u64>,
}

impl BarSet {
    /// No bar of `range`.
    fn empty(range: &Range<usize>) -> Self {
        let len = range.end.saturating_sub(range.start);
        Self { start: range.start, len, words: vec![0; len.div_ceil(64)] }
    }

    /// Every bar of `range`.
    fn full(range: &Range<usize>) -> Self {
        let mut set = Self::empty(range);
        set.words.iter_mut().for_each(|w| *w = u64::MAX);
        set.clear_tail();
        set
    }

    /// Zeroes the bits past the last bar of the last word.
    fn clear_tail(&mut self) {
        let used = self.len % 64;
        if used != 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= (1u64 << used) - 1;
        }
    }

    /// Whether bar `i` is in the set.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        match i.checked_sub(self.start) {
            Some(k) if k < self.len => self.words[k / 64] >> (k % 64) & 1 == 1,
            _ => false,
        }
    }

    /// The first bar at or after `from` in any of `sets` (all over the same range).
    pub fn first_at_or_after(sets: &[&BarSet], from: usize) -> Option<usize> {
        let first = sets.first()?;
        let k = from.saturating_sub(first.start);
        if k >= first.len {
            return None;
        }
        let word_of = |w: usize| sets.iter().fold(0u64, |acc, s| acc | s.words.get(w).copied().unwrap_or(0));
        let mut w = k / 64;
        let mut bits = word_of(w) & (u64::MAX << (k % 64));
        loop {
            if bits != 0 {
                let bar = first.start + w * 64 + bits.trailing_zeros() as usize;
                return (bar < first.start + first.len).then_some(bar);
            }
            w += 1;
            if w >= first.words.len() {
                return None;
            }
            bits = word_of(w);
        }
    }

    fn and(mut self, other: &BarSet) -> Self {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
        self
    }

    fn or(mut self, other: &BarSet) -> Self {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a |= b);
        self
    }

    fn not(mut self) -> Self {
        self.words.iter_mut().for_each(|w| *w = !*w);
        self.clear_tail();
        self
    }
}

/// An operand resolved to a column (shifted back some bars) or a constant.
#[derive(Debug, Clone, Copy)]
enum Value {
    Const(f64),
    Column { index: usize, shift: usize },
}

impl Value {
    /// The same operand (constants bit for bit).
    fn same(self, other: Value) -> bool {
        match (self, other) {
            (Self::Const(x), Self::Const(y)) => x.to_bits() == y.to_bits(),
            (Self::Column { index: i, shift: s }, Self::Column { index: j, shift: t }) => i == j && s == t,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Gt,
    Lt,
    Ge,
    Le,
}

impl Cmp {
    /// The operator with its operands swapped: `a > b` is `b < a`.
    fn mirrored(self) -> Self {
        match self {
            Self::Gt => Self::Lt,
            Self::Lt => Self::Gt,
            Self::Ge => Self::Le,
            Self::Le => Self::Ge,
        }
    }
}

/// A stop or target distance in price units, per signal bar.
#[derive(Debug, Clone)]
pub enum Distance {
    /// A fixed distance.
    Fixed(f64),
    /// A fraction of the signal bar's close.
    FractionOfClose(f64),
    /// A multiple of a column (the ATR).
    Column(Column, f64),
}

impl Distance {
    /// The distance for a signal on bar `i`; `None` when the column is still warming up.
    pub fn at(&self, i: usize, close: f64) -> Option<f64> {
        let d = match self {
            Self::Fixed(d) => *d,
            Self::FractionOfClose(f) => close * f,
            Self::Column(c, mult) => c.get(i).copied()? * mult,
        };
        (d.is_finite() && d > 0.0).then_some(d)
    }
}

/// A spec compiled against the bars of one range: where each signal fires, and the stop and target distances.
pub struct Signals {
    fired: [Option<BarSet>; 4],
    /// Stop distance, if the spec has a stop.
    pub stop: Option<Distance>,
    /// Target distance, if the spec has a target.
    pub target: Option<Distance>,
}

/// Which signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Open or reverse into a long.
    LongEntry = 0,
    /// Close a long.
    LongExit = 1,
    /// Open or reverse into a short.
    ShortEntry = 2,
    /// Close a short.
    ShortExit = 3,
}

impl Signals {
    /// Compiles `spec` with columns from `cache` and evaluates its conditions on the bars in `range`; `pip_size`
    /// converts pip distances.
    pub fn compile(
        spec: &StrategySpec,
        cache: &SeriesCache,
        pip_size: f64,
        range: Range<usize>,
    ) -> Result<Self, BacktestError> {
        let bars = cache.bars().len();
        let start = range.start.min(bars);
        let range = start..range.end.min(bars).max(start);
        let mut compiler = Compiler { spec, cache, columns: Vec::new(), keys: HashMap::new() };
        compiler.prefetch()?;
        let mut fired: [Option<BarSet>; 4] = Default::default();
        let mut pairs = Vec::new();
        for (slot, (_, condition)) in fired.iter_mut().zip(spec.signals()) {
            if let Some(c) = condition {
                let node = compiler.condition(c)?;
                *slot = Some(compiler.evaluate(&node, &range, &mut pairs));
            }
        }
        let distance = |level: &Option<Level>| -> Result<Option<Distance>, BacktestError> {
            Ok(match level {
                None => None,
                Some(Level::Pips(p)) => Some(Distance::Fixed(p * pip_size)),
                Some(Level::Percent(p)) => Some(Distance::FractionOfClose(p / 100.0)),
                Some(Level::Atr(a)) => {
                    let atr = cache.indicator(&IndicatorKind::Atr { length: a.length })?;
                    Some(Distance::Column(atr[0].clone(), a.mult))
                }
            })
        };
        let stop = distance(&spec.stop_loss)?;
        let target = distance(&spec.take_profit)?;
        Ok(Self { fired, stop, target })
    }

    /// Whether the spec has this signal at all.
    pub fn has(&self, signal: Signal) -> bool {
        self.fired[signal as usize].is_some()
    }

    /// The signal's value on bar `i` (false when the spec has no such signal or `i` is outside the range).
    #[inline]
    pub fn fires(&self, signal: Signal, i: usize) -> bool {
        self.fired[signal as usize].as_ref().is_some_and(|set| set.contains(i))
    }

    /// The first bar at or after `from` where any of `signals` fires.
    pub fn next_firing(&self, signals: &[Signal], from: usize) -> Option<usize> {
        let mut sets: [&BarSet; 4] = [EMPTY_SET; 4];
        let mut count = 0;
        for s in signals {
            if let Some(set) = &self.fired[*s as usize] {
                sets[count] = set;
                count += 1;
            }
        }
        BarSet::first_at_or_after(&sets[..count], from)
    }
}

/// A placeholder for [`Signals::next_firing`]'s fixed array.
const EMPTY_SET: &BarSet = &BarSet { start: 0, len: 0, words: Vec::new() };

/// A column as the compiler reads it: the bars' own prices or a shared computed column.
enum ColumnRef {
    Bars(&'static str),
    Shared(Column),
}

struct Compiler<'a> {
    spec: &'a StrategySpec,
    cache: &'a SeriesCache,
    columns: Vec<ColumnRef>,
    keys: HashMap<String, usize>,
}

/// An operand as read at bar `i`: a constant, or `data[i - lag]` (`NaN` before the data starts).
#[derive(Clone, Copy)]
enum Reader<'a> {
    Const(f64),
    Lagged { data: &'a [f64], lag: usize },
}

impl Reader<'_> {
    #[inline]
    fn at(&self, i: usize) -> f64 {
        match *self {
            Self::Const(x) => x,
            Self::Lagged { data, lag } => i.checked_sub(lag).and_then(|j| data.get(j)).copied().unwrap_or(f64::NAN),
        }
    }

    /// The bars `i` for which `at(i)` reads `data` directly.
    fn direct(&self) -> Range<usize> {
        match *self {
            Self::Const(_) => 0..usize::MAX,
            Self::Lagged { data, lag } => lag..data.len().saturating_add(lag),
        }
    }
}

/// A value per bar for the comparison loop: a slice, or a constant.
trait Lane: Copy {
    fn lane(&self, k: usize) -> f64;
}

impl Lane for &[f64] {
    #[inline(always)]
    fn lane(&self, k: usize) -> f64 {
        self[k]
    }
}

impl Lane for f64 {
    #[inline(always)]
    fn lane(&self, _: usize) -> f64 {
        *self
    }
}

/// Bits `k < count` of `x > y`, `x < y` and `x or y is NaN`.
#[inline(always)]
fn pack(x: impl Lane, y: impl Lane, count: usize) -> [u64; 3] {
    let (mut gt, mut lt, mut unordered) = (0u64, 0u64, 0u64);
    for k in 0..count {
        let (a, b) = (x.lane(k), y.lane(k));
        gt |= u64::from(a > b) << k;
        lt |= u64::from(a < b) << k;
        unordered |= u64::from(a.is_nan() || b.is_nan()) << k;
    }
    [gt, lt, unordered]
}

/// How one operand pair compares on a run of bars: `a > b`, `a < b` and either `NaN`, one bit per bar (bit `k` is
/// bar `bars.start + k`); every comparison operator follows from these three. One pass over both columns serves
/// every condition on the pair, crosses included (they read the bar before, so `bars` starts one bar before the
/// traded range when there is one).
struct PairBits {
    bars: Range<usize>,
    gt: Vec<u64>,
    lt: Vec<u64>,
    unordered: Vec<u64>,
}

impl PairBits {
    fn new(a: Reader, b: Reader, bars: Range<usize>) -> Self {
        let words = bars.len().div_ceil(64);
        let (mut gt, mut lt, mut unordered) = (vec![0; words], vec![0; words], vec![0; words]);
        let (da, db) = (a.direct(), b.direct());
        let direct = da.start.max(db.start)..da.end.min(db.end);
        for w in 0..words {
            let first = bars.start + w * 64;
            let last = (first + 64).min(bars.end);
            let count = last - first;
            let [g, l, u] = if first >= direct.start && last <= direct.end {
                // The whole word reads the columns directly: a branch-free loop over slices.
                match (a, b) {
                    (Reader::Lagged { data: x, lag: lx }, Reader::Lagged { data: y, lag: ly }) => {
                        pack(&x[first - lx..last - lx], &y[first - ly..last - ly], count)
                    }
                    (Reader::Lagged { data: x, lag: lx }, Reader::Const(c)) => {
                        pack(&x[first - lx..last - lx], c, count)
                    }
                    (Reader::Const(c), Reader::Lagged { data: y, lag: ly }) => {
                        pack(c, &y[first - ly..last - ly], count)
                    }
                    (Reader::Const(x), Reader::Const(y)) => pack(x, y, count),
                }
            } else {
                let mut bits = [0u64; 3];
                for (k, i) in (first..last).enumerate() {
                    let (x, y) = (a.at(i), b.at(i));
                    bits[0] |= u64::from(x > y) << k;
                    bits[1] |= u64::from(x < y) << k;
                    bits[2] |= u64::from(x.is_nan() || y.is_nan()) << k;
                }
                bits
            };
            (gt[w], lt[w], unordered[w]) = (g, l, u);
        }
        Self { bars, gt, lt, unordered }
    }

    /// `a op b` on the bars of `range` (within `bars`), each bar reading the pair `lag` bars back (0 or 1; false
    /// where that bar is not in `bars`).
    fn holds(&self, op: Cmp, lag: usize, range: &Range<usize>) -> BarSet {
        let not_either = |x: &[u64]| -> Vec<u64> { x.iter().zip(&self.unordered).map(|(x, u)| !(x | u)).collect() };
        let source = match op {
            Cmp::Gt => self.gt.clone(),
            Cmp::Lt => self.lt.clone(),
            Cmp::Ge => not_either(&self.lt),
            Cmp::Le => not_either(&self.gt),
        };
        // Bar i reads source bit (i - lag - bars.start); bit k of the result is bar range.start + k.
        let offset = range.start as isize - lag as isize - self.bars.start as isize;
        let len = range.end.saturating_sub(range.start);
        let source_len = self.bars.len();
        let bit = |k: isize| -> u64 {
            if k < 0 || k as usize >= source_len { 0 } else { source[k as usize / 64] >> (k as usize % 64) & 1 }
        };
        let mut set = BarSet::empty(range);
        for (w, word) in set.words.iter_mut().enumerate() {
            let start = (w * 64) as isize + offset;
            *word = if start >= 0 && (start as usize + 64) <= source.len() * 64 {
                let (q, r) = (start as usize / 64, start as usize % 64);
                let high = if r == 0 { 0 } else { source.get(q + 1).copied().unwrap_or(0) << (64 - r) };
                (source[q] >> r) | high
            } else {
                (0..64).fold(0u64, |acc, k| acc | bit(start + k) << k)
            };
        }
        // `bars` reaches the range's last bar, so only bits past the range's end (set by the negations above) can
        // be wrong.
        debug_assert!(source_len as isize - offset >= len as isize);
        set.clear_tail();
        set
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Cross { above: bool, a: Value, b: Value },
    Cmp { op: Cmp, a: Value, b: Value },
}

impl Compiler<'_> {
    /// Computes every indicator the conditions read, SMAs of one source in pairs.
    fn prefetch(&self) -> Result<(), BacktestError> {
        fn names<'c>(c: &'c Condition, out: &mut Vec<&'c Operand>) {
            match c {
                Condition::All(list) | Condition::Any(list) => list.iter().for_each(|c| names(c, out)),
                Condition::Not(inner) => names(inner, out),
                Condition::CrossesAbove(pair)
                | Condition::CrossesBelow(pair)
                | Condition::Gt(pair)
                | Condition::Lt(pair)
                | Condition::Ge(pair)
                | Condition::Le(pair) => out.extend(pair.iter()),
            }
        }
        let mut operands = Vec::new();
        for (_, c) in self.spec.signals() {
            if let Some(c) = c {
                names(c, &mut operands);
            }
        }
        let mut kinds = Vec::new();
        while let Some(o) = operands.pop() {
            match o {
                Operand::Number(_) => {}
                Operand::Prev(inner, _) => operands.push(inner),
                Operand::Series(name) => {
                    // Unknown names are reported by `operand` with the spec's message.
                    if let Ok(SeriesRef::Indicator { index, .. }) = self.spec.resolve(name)
                        && let Some(def) = self.spec.indicators.get(index)
                    {
                        kinds.push(def.kind.clone());
                    }
                }
            }
        }
        self.cache.prefetch(&kinds)
    }

    fn condition(&mut self, c: &Condition) -> Result<Node, BacktestError> {
        Ok(match c {
            Condition::All(list) => Node::All(list.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?),
            Condition::Any(list) => Node::Any(list.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?),
            Condition::Not(inner) => Node::Not(Box::new(self.condition(inner)?)),
            Condition::CrossesAbove([a, b]) => {
                Node::Cross { above: true, a: self.operand(a, 0)?, b: self.operand(b, 0)? }
            }
            Condition::CrossesBelow([a, b]) => {
                Node::Cross { above: false, a: self.operand(a, 0)?, b: self.operand(b, 0)? }
            }
            Condition::Gt([a, b]) => Node::Cmp { op: Cmp::Gt, a: self.operand(a, 0)?, b: self.operand(b, 0)? },
            Condition::Lt([a, b]) => Node::Cmp { op: Cmp::Lt, a: self.operand(a, 0)?, b: self.operand(b, 0)? },
            Condition::Ge([a, b]) => Node::Cmp { op: Cmp::Ge, a: self.operand(a, 0)?, b: self.operand(b, 0)? },
            Condition::Le([a, b]) => Node::Cmp { op: Cmp::Le, a: self.operand(a, 0)?, b: self.operand(b, 0)? },
        })
    }

    fn operand(&mut self, o: &Operand, shift: usize) -> Result<Value, BacktestError> {
        match o {
            Operand::Number(x) => Ok(Value::Const(*x)),
            Operand::Prev(inner, bars) => self.operand(inner, shift.saturating_add(*bars)),
            Operand::Series(name) => {
                let index = match self.keys.get(name) {
                    Some(&index) => index,
                    None => {
                        let column = match self.spec.resolve(name).map_err(BacktestError::Spec)? {
                            SeriesRef::Price(field) if raw_field(self.cache.bars(), field).is_some() => {
                                ColumnRef::Bars(field)
                            }
                            SeriesRef::Price(field) => ColumnRef::Shared(self.cache.price(field)),
                            SeriesRef::Indicator { index, output } => {
                                let outputs = self.cache.indicator(&self.spec.indicators[index].kind)?;
                                ColumnRef::Shared(outputs.get(output).cloned().ok_or_else(|| {
                                    BacktestError::Spec(format!("indicator output {output} of `{name}` missing"))
                                })?)
                            }
                        };
                        self.columns.push(column);
                        self.keys.insert(name.clone(), self.columns.len() - 1);
                        self.columns.len() - 1
                    }
                };
                Ok(Value::Column { index, shift })
            }
        }
    }

    /// `v` read `lag` more bars back.
    fn read(&self, v: Value, lag: usize) -> Reader<'_> {
        match v {
            Value::Const(x) => Reader::Const(x),
            Value::Column { index, shift } => {
                let data: &[f64] = match &self.columns[index] {
                    ColumnRef::Bars(field) => raw_field(self.cache.bars(), field).unwrap_or_default(),
                    ColumnRef::Shared(column) => column,
                };
                Reader::Lagged { data, lag: shift.saturating_add(lag) }
            }
        }
    }

    /// The bars of `range` where `node` holds; `pairs` keeps each operand pair's comparisons (see [`PairBits`]).
    fn evaluate(&self, node: &Node, range: &Range<usize>, pairs: &mut Vec<(Value, Value, PairBits)>) -> BarSet {
        match node {
            Node::All(list) => list.iter().fold(BarSet::full(range), |acc, n| acc.and(&self.evaluate(n, range, pairs))),
            Node::Any(list) => list.iter().fold(BarSet::empty(range), |acc, n| acc.or(&self.evaluate(n, range, pairs))),
            Node::Not(inner) => self.evaluate(inner, range, pairs).not(),
            Node::Cmp { op, a, b } => self.pair(*a, *b, *op, range, pairs, |bits, op| bits.holds(op, 0, range)),
            Node::Cross { above, a, b } => {
                // Above: a > b now and a <= b on the bar before (none before the first bar of the series).
                let (now, before) = if *above { (Cmp::Gt, Cmp::Le) } else { (Cmp::Lt, Cmp::Ge) };
                let now = self.pair(*a, *b, now, range, pairs, |bits, op| bits.holds(op, 0, range));
                now.and(&self.pair(*a, *b, before, range, pairs, |bits, op| bits.holds(op, 1, range)))
            }
        }
    }

    /// Calls `f` with the comparisons of `a` and `b` (computed once per pair, either way round) and `op` as it
    /// applies to them.
    fn pair(
        &self,
        a: Value,
        b: Value,
        op: Cmp,
        range: &Range<usize>,
        pairs: &mut Vec<(Value, Value, PairBits)>,
        f: impl FnOnce(&PairBits, Cmp) -> BarSet,
    ) -> BarSet {
        if let Some((_, _, bits)) = pairs.iter().find(|(x, y, _)| x.same(a) && y.same(b)) {
            return f(bits, op);
        }
        if let Some((_, _, bits)) = pairs.iter().find(|(x, y, _)| x.same(b) && y.same(a)) {
            return f(bits, op.mirrored());
        }
        let bars = range.start.saturating_sub(1)..range.end;
        let bits = PairBits::new(self.read(a, 0), self.read(b, 0), bars);
        let set = f(&bits, op);
        pairs.push((a, b, bits));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Bar;

    fn cache(closes: &[f64]) -> SeriesCache {
        let list: Vec<Bar> = closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Bar::new(i as i64 * 60_000_000_000, c, c + 0.5, c - 0.5, c, 1.0))
            .collect();
        SeriesCache::new(Arc::new(Bars::from_bars(&list).expect("bars")))
    }

    /// The conditions bar by bar, as TradingView evaluates them: the reference for the column-wise evaluation.
    fn reference(c: &Condition, spec: &StrategySpec, cache: &SeriesCache, i: usize) -> bool {
        let value = |o: &Operand, i: usize| -> f64 {
            let mut o = o;
            let mut shift = 0;
            while let Operand::Prev(inner, k) = o {
                shift += k;
                o = inner;
            }
            match o {
                Operand::Number(x) => *x,
                Operand::Series(name) => {
                    let column: Column = match spec.resolve(name).expect("name") {
                        SeriesRef::Price(f) => cache.price(f),
                        SeriesRef::Indicator { index, output } => {
                            cache.indicator(&spec.indicators[index].kind).expect("indicator")[output].clone()
                        }
                    };
                    i.checked_sub(shift).and_then(|j| column.get(j)).copied().unwrap_or(f64::NAN)
                }
                Operand::Prev(..) => unreachable!(),
            }
        };
        match c {
            Condition::All(l) => l.iter().all(|c| reference(c, spec, cache, i)),
            Condition::Any(l) => l.iter().any(|c| reference(c, spec, cache, i)),
            Condition::Not(c) => !reference(c, spec, cache, i),
            Condition::Gt([a, b]) => value(a, i) > value(b, i),
            Condition::Lt([a, b]) => value(a, i) < value(b, i),
            Condition::Ge([a, b]) => value(a, i) >= value(b, i),
            Condition::Le([a, b]) => value(a, i) <= value(b, i),
            Condition::CrossesAbove([a, b]) => i > 0 && value(a, i) > value(b, i) && value(a, i - 1) <= value(b, i - 1),
            Condition::CrossesBelow([a, b]) => i > 0 && value(a, i) < value(b, i) && value(a, i - 1) >= value(b, i - 1),
        }
    }

    #[test]
    fn column_wise_signals_match_the_bar_by_bar_rules_on_every_range() {
        let closes: Vec<f64> = (0..300).map(|i| 100.0 + (i as f64 * 0.37).sin() * 3.0 + (i % 7) as f64 * 0.1).collect();
        let cache = cache(&closes);
        let spec = StrategySpec::from_json(
            r#"{"version": 1, "name": "t", "indicators": [{"id": "fast", "kind": "sma", "length": 3},
                {"id": "slow", "kind": "sma", "length": 9}, {"id": "r", "kind": "rsi", "length": 5}],
                "long_entry": {"all": [{"crosses_above": ["fast", "slow"]}, {"not": {"gt": ["r", 70]}}]},
                "long_exit": {"any": [{"crosses_below": [{"prev": ["close", 2]}, "slow"]}, {"le": [101, "close"]}]},
                "short_entry": {"crosses_below": ["r", 40]},
                "short_exit": {"ge": [{"prev": ["fast", 70]}, "hl2"]},
                "position": {"units": 1}, "initial_capital": 1000}"#,
        )
        .expect("spec");
        for range in [0..300, 1..300, 0..1, 5..6, 63..200, 64..129, 250..300, 71..72] {
            let signals = Signals::compile(&spec, &cache, 0.0001, range.clone()).expect("compile");
            for (k, (_, condition)) in spec.signals().into_iter().enumerate() {
                let signal = [Signal::LongEntry, Signal::LongExit, Signal::ShortEntry, Signal::ShortExit][k];
                let condition = condition.expect("condition");
                for i in range.clone() {
                    assert_eq!(
                        signals.fires(signal, i),
                        reference(condition, &spec, &cache, i),
                        "{signal:?} on bar {i} of {range:?}"
                    );
                }
                assert!(!signals.fires(signal, range.end));
                let firing: Vec<usize> = range.clone().filter(|&i| signals.fires(signal, i)).collect();
                let mut walked = Vec::new();
                let mut from = range.start;
                while let Some(i) = signals.next_firing(&[signal], from) {
                    walked.push(i);
                    from = i + 1;
                }
                assert_eq!(walked, firing, "{signal:?} on {range:?}");
            }
        }
    }
}
