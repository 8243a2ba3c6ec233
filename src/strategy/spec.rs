//! The strategy spec: one typed, versioned JSON document from which the backtester runs and the Pine generator
//! writes. Parsing reports the JSON line and column; [`StrategySpec::validate`] names the field
//! (`long_entry.all[1].crosses_above[0]`) of every semantic error.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::StrategyError;
use crate::indicators::Source;

/// The spec version this program writes and reads.
pub const SPEC_VERSION: u32 = 1;

/// A complete strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// Spec format version (1).
    pub version: u32,
    /// Display name.
    pub name: String,
    /// Instrument the strategy was designed for (`EURUSD`); empty when generic.
    #[serde(default)]
    pub symbol: String,
    /// Timeframe the strategy was designed for (`H1`); empty when generic.
    #[serde(default)]
    pub timeframe: String,
    /// Indicators the conditions refer to by id.
    #[serde(default)]
    pub indicators: Vec<IndicatorDef>,
    /// Condition that opens (or reverses into) a long position.
    #[serde(default)]
    pub long_entry: Option<Condition>,
    /// Condition that closes a long position.
    #[serde(default)]
    pub long_exit: Option<Condition>,
    /// Condition that opens (or reverses into) a short position.
    #[serde(default)]
    pub short_entry: Option<Condition>,
    /// Condition that closes a short position.
    #[serde(default)]
    pub short_exit: Option<Condition>,
    /// Protective stop, measured from the entry fill.
    #[serde(default)]
    pub stop_loss: Option<Level>,
    /// Profit target, measured from the entry fill.
    #[serde(default)]
    pub take_profit: Option<Level>,
    /// Position sizing.
    pub position: Sizing,
    /// Trading costs.
    #[serde(default)]
    pub costs: Costs,
    /// Starting account balance in the quote currency.
    pub initial_capital: f64,
    /// Fill market orders at the signal bar's close instead of the next bar's open (TradingView's option).
    #[serde(default)]
    pub process_orders_on_close: bool,
}

/// An indicator with the id conditions use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorDef {
    /// Identifier: a letter or `_`, then letters, digits or `_`.
    pub id: String,
    /// The indicator and its parameters.
    #[serde(flatten)]
    pub kind: IndicatorKind,
}

// Written by hand because serde's `flatten` cannot deny unknown fields: the id is taken out and the rest must be
// exactly one kind's parameters.
impl<'de> Deserialize<'de> for IndicatorDef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let id = match map.remove("id") {
            Some(serde_json::Value::String(id)) => id,
            Some(other) => return Err(D::Error::custom(format!("indicator `id` must be a string, got {other}"))),
            None => return Err(D::Error::missing_field("id")),
        };
        let kind = IndicatorKind::deserialize(serde_json::Value::Object(map))
            .map_err(|e| D::Error::custom(format!("indicator `{id}`: {e}")))?;
        Ok(Self { id, kind })
    }
}

/// Every indicator a strategy can use, with TradingView's parameter names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum IndicatorKind {
    /// Simple moving average.
    Sma {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// Bars averaged.
        length: usize,
    },
    /// Exponential moving average.
    Ema {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// Bars of the smoothing constant 2 / (length + 1).
        length: usize,
    },
    /// Weighted moving average.
    Wma {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// Bars averaged.
        length: usize,
    },
    /// Relative strength index (Wilder).
    Rsi {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// Wilder period.
        length: usize,
    },
    /// MACD: outputs `macd`, `signal`, `hist`.
    Macd {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// Fast EMA length.
        fast: usize,
        /// Slow EMA length.
        slow: usize,
        /// Signal EMA length.
        signal: usize,
    },
    /// Bollinger Bands: outputs `upper`, `middle`, `lower`.
    Bb {
        /// Price read.
        #[serde(default)]
        source: Source,
        /// SMA and standard-deviation length.
        length: usize,
        /// Standard deviations above and below.
        mult: f64,
    },
    /// Slow stochastic: outputs `k`, `d`.
    Stoch {
        /// Raw %K look-back.
        k: usize,
        /// %K smoothing.
        k_smooth: usize,
        /// %D smoothing.
        d: usize,
    },
    /// Average true range (Wilder).
    Atr {
        /// Wilder period.
        length: usize,
    },
    /// ADX with the directional indicators: outputs `adx`, `plus_di`, `minus_di`.
    Adx {
        /// Wilder period (DI length and ADX smoothing alike).
        length: usize,
    },
}

impl IndicatorKind {
    /// Every kind's name as written in `"kind"`.
    pub const NAMES: [&'static str; 9] = ["sma", "ema", "wma", "rsi", "macd", "bb", "stoch", "atr", "adx"];

    /// The kind's name as written in `"kind"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sma { .. } => "sma",
            Self::Ema { .. } => "ema",
            Self::Wma { .. } => "wma",
            Self::Rsi { .. } => "rsi",
            Self::Macd { .. } => "macd",
            Self::Bb { .. } => "bb",
            Self::Stoch { .. } => "stoch",
            Self::Atr { .. } => "atr",
            Self::Adx { .. } => "adx",
        }
    }

    /// Output names; the first is what a bare id refers to.
    pub fn outputs(&self) -> &'static [&'static str] {
        match self {
            Self::Sma { .. } => &["sma"],
            Self::Ema { .. } => &["ema"],
            Self::Wma { .. } => &["wma"],
            Self::Rsi { .. } => &["rsi"],
            Self::Atr { .. } => &["atr"],
            Self::Macd { .. } => &["macd", "signal", "hist"],
            Self::Bb { .. } => &["middle", "upper", "lower"],
            Self::Stoch { .. } => &["k", "d"],
            Self::Adx { .. } => &["adx", "plus_di", "minus_di"],
        }
    }

    /// Checks the parameters with the indicator's own constructor.
    pub fn validate(&self) -> Result<(), crate::indicators::IndicatorError> {
        use crate::indicators as ind;
        match *self {
            Self::Sma { length, .. } => ind::Sma::new(length).map(drop),
            Self::Ema { length, .. } => ind::Ema::new(length).map(drop),
            Self::Wma { length, .. } => ind::Wma::new(length).map(drop),
            Self::Rsi { length, .. } => ind::Rsi::new(length).map(drop),
            Self::Macd { fast, slow, signal, .. } => ind::Macd::new(fast, slow, signal).map(drop),
            Self::Bb { length, mult, .. } => ind::BollingerBands::new(length, mult).map(drop),
            Self::Stoch { k, k_smooth, d } => ind::Stoch::new(k, k_smooth, d).map(drop),
            Self::Atr { length } => ind::Atr::new(length).map(drop),
            Self::Adx { length } => ind::Adx::new(length).map(drop),
        }
    }
}

/// A boolean rule evaluated on each bar's close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// `a > b` now and `a <= b` on the previous bar (`ta.crossover`).
    CrossesAbove([Operand; 2]),
    /// `a < b` now and `a >= b` on the previous bar (`ta.crossunder`).
    CrossesBelow([Operand; 2]),
    /// `a > b`.
    Gt([Operand; 2]),
    /// `a < b`.
    Lt([Operand; 2]),
    /// `a >= b`.
    Ge([Operand; 2]),
    /// `a <= b`.
    Le([Operand; 2]),
}

impl Condition {
    /// The JSON key of this condition (`crosses_above`).
    pub fn key(&self) -> &'static str {
        match self {
            Self::All(_) => "all",
            Self::Any(_) => "any",
            Self::Not(_) => "not",
            Self::CrossesAbove(_) => "crosses_above",
            Self::CrossesBelow(_) => "crosses_below",
            Self::Gt(_) => "gt",
            Self::Lt(_) => "lt",
            Self::Ge(_) => "ge",
            Self::Le(_) => "le",
        }
    }
}

/// A value a condition compares: a number, a series name, or a series some bars back.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A constant.
    Number(f64),
    /// An indicator id (`fast`), an indicator output (`m.signal`) or a price field (`close`).
    Series(String),
    /// The operand's value `bars` bars ago.
    Prev(Box<Operand>, usize),
}

impl Serialize for Operand {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(x) => serializer.serialize_f64(*x),
            Self::Series(name) => serializer.serialize_str(name),
            Self::Prev(inner, bars) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("prev", &(inner.as_ref(), bars))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Operand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Operand::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl Operand {
    fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        use serde_json::Value;
        match value {
            Value::Number(n) => n.as_f64().map(Operand::Number).ok_or_else(|| format!("number {n} out of range")),
            Value::String(s) => Ok(Operand::Series(s.clone())),
            Value::Object(map) if map.len() == 1 && map.contains_key("prev") => {
                let pair = map.get("prev").and_then(Value::as_array).filter(|a| a.len() == 2);
                let Some(pair) = pair else {
                    return Err("`prev` takes [operand, bars], e.g. {\"prev\": [\"close\", 1]}".into());
                };
                let bars = pair[1]
                    .as_u64()
                    .and_then(|b| usize::try_from(b).ok())
                    .ok_or_else(|| format!("`prev` bars must be a whole number ≥ 0, got {}", pair[1]))?;
                Ok(Operand::Prev(Box::new(Operand::from_value(&pair[0])?), bars))
            }
            other => Err(format!(
                "an operand is a number, a name (`fast`, `m.signal`, `close`) or {{\"prev\": [operand, bars]}}, got {other}"
            )),
        }
    }
}

/// A stop or target distance from the entry fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Pips (the instrument's pip size: 0.0001 for EURUSD).
    Pips(f64),
    /// Percent of the signal bar's close.
    Percent(f64),
    /// A multiple of the ATR on the signal bar.
    Atr(AtrLevel),
}

/// An ATR-multiple distance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtrLevel {
    /// ATR period.
    pub length: usize,
    /// Distance in ATRs.
    pub mult: f64,
}

/// How many units each entry trades.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// A fixed number of units (10,000 = a mini lot of EURUSD).
    Units(f64),
    /// Percent of the current equity, converted to units at the signal bar's close.
    PercentOfEquity(f64),
    /// Units such that hitting the stop loses this percent of the current equity (needs a stop).
    RiskPercent(f64),
}

/// Trading costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    /// Commission per fill, percent of the traded value.
    #[serde(default)]
    pub commission_percent: f64,
    /// Ticks (points) by which market and stop fills are worse.
    #[serde(default)]
    pub slippage_ticks: u32,
    /// Bid/ask spread in pips; buys fill half of it above the bar price and sells half below.
    #[serde(default)]
    pub spread_pips: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Self { commission_percent: 0.0, slippage_ticks: 0, spread_pips: 0.0 }
    }
}

/// Price fields an operand may name.
pub const PRICE_FIELDS: [&str; 8] = ["open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4"];

impl StrategySpec {
    /// Parses JSON text and validates it; errors carry the JSON position or the field path.
    pub fn from_json(text: &str) -> Result<Self, StrategyError> {
        let spec: Self = serde_json::from_str(text).map_err(|e| StrategyError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The indicator with this id.
    pub fn indicator(&self, id: &str) -> Option<&IndicatorDef> {
        self.indicators.iter().find(|i| i.id == id)
    }

    /// The four signal conditions with their field names.
    pub fn signals(&self) -> [(&'static str, Option<&Condition>); 4] {
        [
            ("long_entry", self.long_entry.as_ref()),
            ("long_exit", self.long_exit.as_ref()),
            ("short_entry", self.short_entry.as_ref()),
            ("short_exit", self.short_exit.as_ref()),
        ]
    }

    /// Checks everything JSON typing cannot: version, ids, references, parameter ranges, sizes and costs.
    pub fn validate(&self) -> Result<(), StrategyError> {
        let invalid = |field: String, message: String| Err(StrategyError::Invalid { field, message });
        if self.version != SPEC_VERSION {
            return invalid(
                "version".into(),
                format!("unsupported version {}, this program reads {SPEC_VERSION}", self.version),
            );
        }
        if self.name.trim().is_empty() {
            return invalid("name".into(), "must not be empty".into());
        }
        let mut seen = HashMap::new();
        for (i, ind) in self.indicators.iter().enumerate() {
            let field = format!("indicators[{i}]");
            if !is_identifier(&ind.id) {
                return invalid(
                    format!("{field}.id"),
                    format!("`{}` is not an identifier (a letter or _, then letters, digits or _)", ind.id),
                );
            }
            if PRICE_FIELDS.contains(&ind.id.as_str()) {
                return invalid(format!("{field}.id"), format!("`{}` is a price field name", ind.id));
            }
            if let Some(first) = seen.insert(ind.id.clone(), i) {
                return invalid(
                    format!("{field}.id"),
                    format!("`{}` is already the id of indicators[{first}]", ind.id),
                );
            }
            if let Err(e) = ind.kind.validate() {
                return invalid(field, e.to_string());
            }
        }
        if self.long_entry.is_none() && self.short_entry.is_none() {
            return invalid("long_entry".into(), "a strategy needs long_entry, short_entry or both".into());
        }
        for (field, condition) in self.signals() {
            if let Some(c) = condition {
                self.check_condition(c, field.to_string())?;
            }
        }
        for (field, level) in [("stop_loss", &self.stop_loss), ("take_profit", &self.take_profit)] {
            let Some(level) = level else { continue };
            let (name, value) = match level {
                Level::Pips(v) => ("pips", *v),
                Level::Percent(v) => ("percent", *v),
                Level::Atr(a) => {
                    if let Err(e) = crate::indicators::Atr::new(a.length) {
                        return invalid(format!("{field}.atr.length"), e.to_string());
                    }
                    ("atr.mult", a.mult)
                }
            };
            if !(value.is_finite() && value > 0.0) {
                return invalid(format!("{field}.{name}"), format!("must be a number > 0, got {value}"));
            }
        }
        let (name, value) = match self.position {
            Sizing::Units(v) => ("units", v),
            Sizing::PercentOfEquity(v) => ("percent_of_equity", v),
            Sizing::RiskPercent(v) => ("risk_percent", v),
        };
        if !(value.is_finite() && value > 0.0) {
            return invalid(format!("position.{name}"), format!("must be a number > 0, got {value}"));
        }
        if matches!(self.position, Sizing::RiskPercent(_)) && self.stop_loss.is_none() {
            return invalid("position.risk_percent".into(), "risk sizing needs a stop_loss".into());
        }
        let c = &self.costs;
        for (name, v) in [("commission_percent", c.commission_percent), ("spread_pips", c.spread_pips)] {
            if !(v.is_finite() && v >= 0.0) {
                return invalid(format!("costs.{name}"), format!("must be a number ≥ 0, got {v}"));
            }
        }
        if c.commission_percent >= 100.0 {
            return invalid(
                "costs.commission_percent".into(),
                format!("must be below 100, got {}", c.commission_percent),
            );
        }
        if !(self.initial_capital.is_finite() && self.initial_capital > 0.0) {
            return invalid("initial_capital".into(), format!("must be a number > 0, got {}", self.initial_capital));
        }
        Ok(())
    }

    fn check_condition(&self, c: &Condition, field: String) -> Result<(), StrategyError> {
        match c {
            Condition::All(list) | Condition::Any(list) => {
                if list.is_empty() {
                    return Err(StrategyError::Invalid { field, message: "needs at least one condition".into() });
                }
                for (i, inner) in list.iter().enumerate() {
                    self.check_condition(inner, format!("{field}.{}[{i}]", c.key()))?;
                }
                Ok(())
            }
            Condition::Not(inner) => self.check_condition(inner, format!("{field}.not")),
            Condition::CrossesAbove(pair)
            | Condition::CrossesBelow(pair)
            | Condition::Gt(pair)
            | Condition::Lt(pair)
            | Condition::Ge(pair)
            | Condition::Le(pair) => {
                for (i, operand) in pair.iter().enumerate() {
                    self.check_operand(operand, format!("{field}.{}[{i}]", c.key()))?;
                }
                if pair.iter().all(|o| matches!(o, Operand::Number(_))) {
                    return Err(StrategyError::Invalid {
                        field: format!("{field}.{}", c.key()),
                        message: "compares two numbers; one side must be a series".into(),
                    });
                }
                Ok(())
            }
        }
    }

    fn check_operand(&self, operand: &Operand, field: String) -> Result<(), StrategyError> {
        match operand {
            Operand::Number(x) if x.is_finite() => Ok(()),
            Operand::Number(x) => Err(StrategyError::Invalid { field, message: format!("{x} is not a finite number") }),
            Operand::Prev(inner, _) => self.check_operand(inner, format!("{field}.prev[0]")),
            Operand::Series(name) => {
                self.resolve(name).map(drop).map_err(|message| StrategyError::Invalid { field, message })
            }
        }
    }

    /// Resolves a series name to a price field or (indicator index, output index).
    pub fn resolve(&self, name: &str) -> Result<SeriesRef, String> {
        if let Some(i) = PRICE_FIELDS.iter().position(|f| *f == name) {
            return Ok(SeriesRef::Price(PRICE_FIELDS[i]));
        }
        let (id, output) = match name.split_once('.') {
            Some((id, output)) => (id, Some(output)),
            None => (name, None),
        };
        let Some(index) = self.indicators.iter().position(|i| i.id == id) else {
            let known: Vec<&str> = self.indicators.iter().map(|i| i.id.as_str()).collect();
            return Err(format!(
                "unknown series `{name}`; indicators: {}; price fields: {}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") },
                PRICE_FIELDS.join(", ")
            ));
        };
        let outputs = self.indicators[index].kind.outputs();
        let output_index = match output {
            None => 0,
            Some(o) => outputs.iter().position(|x| *x == o).ok_or_else(|| {
                format!(
                    "`{id}` ({}) has no output `{o}`; outputs: {}",
                    self.indicators[index].kind.name(),
                    outputs.join(", ")
                )
            })?,
        };
        Ok(SeriesRef::Indicator { index, output: output_index })
    }
}

/// Where a series name points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesRef {
    /// A price field (`close`).
    Price(&'static str),
    /// Output `output` of indicator number `index`.
    Indicator {
        /// Position in `indicators`.
        index: usize,
        /// Position in the kind's outputs.
        output: usize,
    },
}

/// Whether `s` is an identifier usable in conditions and in Pine (`fast`, `m_1`).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 40
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"version": 1, "name": "SMA cross", "symbol": "EURUSD", "timeframe": "H1",
        "indicators": [{"id": "fast", "kind": "sma", "source": "close", "length": 10},
                       {"id": "slow", "kind": "sma", "source": "close", "length": 20},
                       {"id": "m", "kind": "macd", "fast": 12, "slow": 26, "signal": 9}],
        "long_entry":  {"crosses_above": ["fast", "slow"]},
        "long_exit":   {"any": [{"crosses_below": ["fast", "slow"]}, {"lt": ["m.signal", {"prev": ["m.signal", 2]}]}]},
        "short_entry": null, "short_exit": null,
        "stop_loss":   {"pips": 30}, "take_profit": {"atr": {"length": 14, "mult": 3.0}},
        "position":    {"units": 10000},
        "costs":       {"commission_percent": 0.0, "slippage_ticks": 0, "spread_pips": 0.0},
        "initial_capital": 100000}"#;

    #[test]
    fn issue_example_parses_and_round_trips() {
        let spec = StrategySpec::from_json(EXAMPLE).expect("valid");
        assert_eq!(spec.indicators.len(), 3);
        assert_eq!(spec.take_profit, Some(Level::Atr(AtrLevel { length: 14, mult: 3.0 })));
        let again = StrategySpec::from_json(&spec.to_json_pretty()).expect("round trip");
        assert_eq!(again, spec);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = EXAMPLE.replace("\"m.signal\", 2", "\"m.sig\", 2");
        let err = StrategySpec::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("long_exit.any[1].lt[1].prev[0]"), "{err}");
        assert!(err.contains("has no output `sig`"), "{err}");
        let bad = EXAMPLE.replace("\"slow\"]}", "\"slw\"]}");
        let err = StrategySpec::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("long_entry.crosses_above[1]") && err.contains("unknown series `slw`"), "{err}");
        let bad = EXAMPLE.replace("\"length\": 10", "\"length\": 0");
        let err = StrategySpec::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("indicators[0]") && err.contains("period"), "{err}");
        let bad = EXAMPLE.replace("{\"pips\": 30}", "{\"pips\": -3}");
        assert!(StrategySpec::from_json(&bad).unwrap_err().to_string().contains("stop_loss.pips"));
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let bad = EXAMPLE.replace("\"crosses_above\"", "\"crosses_abov\"");
        match StrategySpec::from_json(&bad) {
            Err(StrategyError::Json { line, message, .. }) => {
                assert_eq!(line, 5);
                assert!(message.contains("crosses_abov"), "{message}");
            }
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn duplicate_ids_and_price_names_are_rejected() {
        let bad = EXAMPLE.replace("\"id\": \"slow\"", "\"id\": \"fast\"");
        assert!(StrategySpec::from_json(&bad).unwrap_err().to_string().contains("already the id"));
        let bad = EXAMPLE.replace("\"id\": \"slow\"", "\"id\": \"close\"");
        assert!(StrategySpec::from_json(&bad).unwrap_err().to_string().contains("price field"));
    }
}
