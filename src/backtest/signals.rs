//! Signals: a strategy spec compiled against one bar series. Indicator columns come from a shared
//! [`SeriesCache`] (a sweep computes each distinct indicator once), conditions become a small tree over column
//! indices evaluated bar by bar with TradingView's rules (`NaN` compares false, crosses need the previous bar).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use super::BacktestError;
use crate::{
    domain::Bars,
    indicators::{self as ind, Source},
    strategy::{Condition, IndicatorKind, Level, Operand, SeriesRef, StrategySpec},
};

/// One column of values per bar.
pub type Column = Arc<Vec<f64>>;

/// Price columns and computed indicator outputs of one bar series, shared by every strategy run on it.
pub struct SeriesCache {
    bars: Arc<Bars>,
    prices: Mutex<HashMap<&'static str, Column>>,
    indicators: Mutex<HashMap<String, Arc<Vec<Column>>>>,
}

impl SeriesCache {
    /// An empty cache over `bars`.
    pub fn new(bars: Arc<Bars>) -> Self {
        Self { bars, prices: Mutex::new(HashMap::new()), indicators: Mutex::new(HashMap::new()) }
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
        let values: Vec<f64> = match field {
            "open" => b.open().to_vec(),
            "high" => b.high().to_vec(),
            "low" => b.low().to_vec(),
            "volume" => b.volume().to_vec(),
            "close" => b.close().to_vec(),
            other => {
                let source = Source::parse(other).unwrap_or_default();
                b.iter().map(|bar| source.of(&bar)).collect()
            }
        };
        let column = Arc::new(values);
        if let Ok(mut m) = self.prices.lock() {
            m.insert(field, column.clone());
        }
        column
    }

    fn source(&self, source: Source) -> Column {
        self.price(source.name())
    }

    /// The outputs of one indicator, in [`IndicatorKind::outputs`] order, computed at most once.
    pub fn indicator(&self, kind: &IndicatorKind) -> Result<Arc<Vec<Column>>, BacktestError> {
        let key = serde_json::to_string(kind).unwrap_or_default();
        if let Some(c) = self.indicators.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(c);
        }
        let (high, low, close) = (self.bars.high(), self.bars.low(), self.bars.close());
        let columns: Vec<Vec<f64>> = match *kind {
            IndicatorKind::Sma { source, length } => vec![ind::sma(&self.source(source), length)?],
            IndicatorKind::Ema { source, length } => vec![ind::ema(&self.source(source), length)?],
            IndicatorKind::Wma { source, length } => vec![ind::wma(&self.source(source), length)?],
            IndicatorKind::Rsi { source, length } => vec![ind::rsi(&self.source(source), length)?],
            IndicatorKind::Macd { source, fast, slow, signal } => {
                ind::macd(&self.source(source), fast, slow, signal)?.into()
            }
            IndicatorKind::Bb { source, length, mult } => {
                let [upper, middle, lower] = ind::bollinger_bands(&self.source(source), length, mult)?;
                vec![middle, upper, lower]
            }
            IndicatorKind::Stoch { k, k_smooth, d } => ind::stochastic(high, low, close, k, k_smooth, d)?.into(),
            IndicatorKind::Atr { length } => vec![ind::atr(high, low, close, length)?],
            IndicatorKind::Adx { length } => ind::adx(high, low, close, length)?.into(),
        };
        let columns = Arc::new(columns.into_iter().map(Arc::new).collect::<Vec<_>>());
        if let Ok(mut m) = self.indicators.lock() {
            m.insert(key, columns.clone());
        }
        Ok(columns)
    }
}

/// An operand resolved to a column (shifted back some bars) or a constant.
#[derive(Debug, Clone, Copy)]
enum Value {
    Const(f64),
    Column { index: usize, shift: usize },
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

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Gt,
    Lt,
    Ge,
    Le,
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

/// A spec compiled against one bar series: evaluate entries and exits on any bar.
pub struct Signals {
    columns: Vec<Column>,
    conditions: [Option<Node>; 4],
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
    /// Compiles `spec` with columns from `cache`; `pip_size` converts pip distances.
    pub fn compile(spec: &StrategySpec, cache: &SeriesCache, pip_size: f64) -> Result<Self, BacktestError> {
        let mut compiler = Compiler { spec, cache, columns: Vec::new(), keys: HashMap::new() };
        let mut conditions: [Option<Node>; 4] = Default::default();
        for (slot, (_, condition)) in conditions.iter_mut().zip(spec.signals()) {
            if let Some(c) = condition {
                *slot = Some(compiler.condition(c)?);
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
        Ok(Self { columns: compiler.columns, conditions, stop, target })
    }

    /// Whether the spec has this signal at all.
    pub fn has(&self, signal: Signal) -> bool {
        self.conditions[signal as usize].is_some()
    }

    /// The signal's value on bar `i` (false when the spec has no such signal).
    #[inline]
    pub fn fires(&self, signal: Signal, i: usize) -> bool {
        match &self.conditions[signal as usize] {
            Some(node) => self.eval(node, i),
            None => false,
        }
    }

    #[inline]
    fn value(&self, v: Value, i: usize) -> f64 {
        match v {
            Value::Const(x) => x,
            Value::Column { index, shift } => match i.checked_sub(shift) {
                Some(j) => self.columns[index].get(j).copied().unwrap_or(f64::NAN),
                None => f64::NAN,
            },
        }
    }

    fn eval(&self, node: &Node, i: usize) -> bool {
        match node {
            Node::All(list) => list.iter().all(|n| self.eval(n, i)),
            Node::Any(list) => list.iter().any(|n| self.eval(n, i)),
            Node::Not(inner) => !self.eval(inner, i),
            Node::Cmp { op, a, b } => {
                let (a, b) = (self.value(*a, i), self.value(*b, i));
                match op {
                    Cmp::Gt => a > b,
                    Cmp::Lt => a < b,
                    Cmp::Ge => a >= b,
                    Cmp::Le => a <= b,
                }
            }
            Node::Cross { above, a, b } => {
                if i == 0 {
                    return false;
                }
                let (a0, b0) = (self.value(*a, i), self.value(*b, i));
                let (a1, b1) = (self.value(*a, i - 1), self.value(*b, i - 1));
                if *above { a0 > b0 && a1 <= b1 } else { a0 < b0 && a1 >= b1 }
            }
        }
    }
}

struct Compiler<'a> {
    spec: &'a StrategySpec,
    cache: &'a SeriesCache,
    columns: Vec<Column>,
    keys: HashMap<String, usize>,
}

impl Compiler<'_> {
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
                            SeriesRef::Price(field) => self.cache.price(field),
                            SeriesRef::Indicator { index, output } => {
                                let outputs = self.cache.indicator(&self.spec.indicators[index].kind)?;
                                outputs.get(output).cloned().ok_or_else(|| {
                                    BacktestError::Spec(format!("indicator output {output} of `{name}` missing"))
                                })?
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
}
