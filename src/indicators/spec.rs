//! Indicator specifications as users write them (`sma:20,macd:12:26:9,bb:20:2`) and their computation into named
//! columns, several indicators at once on worker threads.

use std::{
    fmt,
    sync::atomic::{AtomicUsize, Ordering},
};

use super::{IndicatorError, adx, atr, bollinger_bands, ema, macd, rsi, sma, stochastic, time_features, wma};
use crate::domain::Bars;

/// One indicator with its parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum IndicatorSpec {
    /// Simple moving average of closes.
    Sma {
        /// Bars averaged.
        period: usize,
    },
    /// Exponential moving average of closes.
    Ema {
        /// Bars of the smoothing constant 2 / (period + 1).
        period: usize,
    },
    /// Weighted moving average of closes.
    Wma {
        /// Bars averaged.
        period: usize,
    },
    /// Relative strength index of closes.
    Rsi {
        /// Wilder period.
        period: usize,
    },
    /// MACD line, signal and histogram of closes.
    Macd {
        /// Fast EMA period.
        fast: usize,
        /// Slow EMA period.
        slow: usize,
        /// Signal EMA period.
        signal: usize,
    },
    /// Bollinger Bands of closes.
    Bb {
        /// SMA and standard-deviation period.
        period: usize,
        /// Standard deviations above and below.
        deviations: f64,
    },
    /// Slow stochastic.
    Stoch {
        /// Fast %K look-back.
        fast_k: usize,
        /// Slow %K smoothing.
        slow_k: usize,
        /// %D smoothing.
        slow_d: usize,
    },
    /// Average true range.
    Atr {
        /// Wilder period.
        period: usize,
    },
    /// ADX with +DI and −DI.
    Adx {
        /// Wilder period.
        period: usize,
    },
    /// Calendar features: UTC hour, minute, weekday and the four sessions.
    Time,
}

/// A named output column; `NaN` marks warm-up values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name, e.g. `macd_signal_12_26_9`.
    pub name: String,
    /// One value per bar.
    pub values: Vec<f64>,
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sma { period } => write!(f, "sma:{period}"),
            Self::Ema { period } => write!(f, "ema:{period}"),
            Self::Wma { period } => write!(f, "wma:{period}"),
            Self::Rsi { period } => write!(f, "rsi:{period}"),
            Self::Macd { fast, slow, signal } => write!(f, "macd:{fast}:{slow}:{signal}"),
            Self::Bb { period, deviations } => write!(f, "bb:{period}:{deviations}"),
            Self::Stoch { fast_k, slow_k, slow_d } => write!(f, "stoch:{fast_k}:{slow_k}:{slow_d}"),
            Self::Atr { period } => write!(f, "atr:{period}"),
            Self::Adx { period } => write!(f, "adx:{period}"),
            Self::Time => write!(f, "time"),
        }
    }
}

impl std::str::FromStr for IndicatorSpec {
    type Err = IndicatorError;

    fn from_str(item: &str) -> Result<Self, IndicatorError> {
        let item = item.trim();
        let bad = |reason: String| IndicatorError::InvalidSpec { item: item.to_string(), reason };
        let mut parts = item.split(':');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        let args: Vec<&str> = parts.collect();
        let usage = |form: &str| bad(format!("expected `{form}`"));
        let int = |i: usize, what: &str| -> Result<usize, IndicatorError> {
            let text = args.get(i).copied().unwrap_or_default();
            text.parse::<usize>().map_err(|_| bad(format!("{what} must be a whole number, got `{text}`")))
        };
        let spec = match (name.as_str(), args.len()) {
            ("sma", 1) => Self::Sma { period: int(0, "period")? },
            ("ema", 1) => Self::Ema { period: int(0, "period")? },
            ("wma", 1) => Self::Wma { period: int(0, "period")? },
            ("rsi", 1) => Self::Rsi { period: int(0, "period")? },
            ("atr", 1) => Self::Atr { period: int(0, "period")? },
            ("adx", 1) => Self::Adx { period: int(0, "period")? },
            ("macd", 3) => Self::Macd { fast: int(0, "fast")?, slow: int(1, "slow")?, signal: int(2, "signal")? },
            ("stoch", 3) => {
                Self::Stoch { fast_k: int(0, "fast %K")?, slow_k: int(1, "slow %K")?, slow_d: int(2, "%D")? }
            }
            ("bb", 2) => {
                let deviations = args[1]
                    .parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .ok_or_else(|| bad(format!("deviations must be a number ≥ 0, got `{}`", args[1])))?;
                Self::Bb { period: int(0, "period")?, deviations }
            }
            ("time", 0) => Self::Time,
            ("sma" | "ema" | "wma" | "rsi" | "atr" | "adx", _) => return Err(usage(&format!("{name}:PERIOD"))),
            ("macd", _) => return Err(usage("macd:FAST:SLOW:SIGNAL")),
            ("stoch", _) => return Err(usage("stoch:FAST_K:SLOW_K:SLOW_D")),
            ("bb", _) => return Err(usage("bb:PERIOD:DEVIATIONS")),
            ("time", _) => return Err(usage("time")),
            _ => {
                return Err(bad(
                    "unknown indicator; known: sma, ema, wma, rsi, macd, bb, stoch, atr, adx, time".to_string()
                ));
            }
        };
        spec.validate().map_err(|e| bad(e.to_string()))?;
        Ok(spec)
    }
}

impl IndicatorSpec {
    /// Checks the parameters without computing anything.
    pub fn validate(&self) -> Result<(), IndicatorError> {
        match *self {
            Self::Sma { period } => super::Sma::new(period).map(drop),
            Self::Ema { period } => super::Ema::new(period).map(drop),
            Self::Wma { period } => super::Wma::new(period).map(drop),
            Self::Rsi { period } => super::Rsi::new(period).map(drop),
            Self::Macd { fast, slow, signal } => super::Macd::new(fast, slow, signal).map(drop),
            Self::Bb { period, deviations } => super::BollingerBands::new(period, deviations).map(drop),
            Self::Stoch { fast_k, slow_k, slow_d } => super::Stoch::new(fast_k, slow_k, slow_d).map(drop),
            Self::Atr { period } => super::Atr::new(period).map(drop),
            Self::Adx { period } => super::Adx::new(period).map(drop),
            Self::Time => Ok(()),
        }
    }

    /// The names of the columns this spec produces, in output order.
    pub fn column_names(&self) -> Vec<String> {
        let suffix = self.to_string().split(':').skip(1).collect::<Vec<_>>().join("_");
        let names: &[&str] = match self {
            Self::Sma { .. } => &["sma"],
            Self::Ema { .. } => &["ema"],
            Self::Wma { .. } => &["wma"],
            Self::Rsi { .. } => &["rsi"],
            Self::Atr { .. } => &["atr"],
            Self::Macd { .. } => &["macd", "macd_signal", "macd_hist"],
            Self::Bb { .. } => &["bb_upper", "bb_middle", "bb_lower"],
            Self::Stoch { .. } => &["stoch_k", "stoch_d"],
            Self::Adx { .. } => &["adx", "plus_di", "minus_di"],
            Self::Time => {
                let mut names = vec!["hour".to_string(), "minute".to_string(), "day_of_week".to_string()];
                names.extend(time_features::Session::ALL.iter().map(|s| format!("session_{}", s.name())));
                return names;
            }
        };
        names.iter().map(|n| format!("{n}_{suffix}")).collect()
    }

    /// Computes this spec's columns over `bars`.
    pub fn compute(&self, bars: &Bars) -> Result<Vec<Column>, IndicatorError> {
        let (high, low, close) = (bars.high(), bars.low(), bars.close());
        let values: Vec<Vec<f64>> = match *self {
            Self::Sma { period } => vec![sma(close, period)?],
            Self::Ema { period } => vec![ema(close, period)?],
            Self::Wma { period } => vec![wma(close, period)?],
            Self::Rsi { period } => vec![rsi(close, period)?],
            Self::Atr { period } => vec![atr(high, low, close, period)?],
            Self::Macd { fast, slow, signal } => macd(close, fast, slow, signal)?.into(),
            Self::Bb { period, deviations } => bollinger_bands(close, period, deviations)?.into(),
            Self::Stoch { fast_k, slow_k, slow_d } => stochastic(high, low, close, fast_k, slow_k, slow_d)?.into(),
            Self::Adx { period } => adx(high, low, close, period)?.into(),
            Self::Time => {
                let features = time_features::time_features(bars.ts_nanos());
                let mut columns = vec![
                    features.iter().map(|f| f64::from(f.hour)).collect(),
                    features.iter().map(|f| f64::from(f.minute)).collect(),
                    features.iter().map(|f| f64::from(f.day_of_week)).collect(),
                ];
                for s in 0..time_features::Session::ALL.len() {
                    columns.push(features.iter().map(|f| if f.sessions[s] { 1.0 } else { 0.0 }).collect());
                }
                columns
            }
        };
        Ok(self.column_names().into_iter().zip(values).map(|(name, values)| Column { name, values }).collect())
    }
}

/// Parses a comma list such as `sma:20,ema:20,macd:12:26:9,bb:20:2`.
pub fn parse_spec_list(list: &str) -> Result<Vec<IndicatorSpec>, IndicatorError> {
    let specs = list.split(',').filter(|s| !s.trim().is_empty()).map(str::parse).collect::<Result<Vec<_>, _>>()?;
    if specs.is_empty() {
        return Err(IndicatorError::InvalidSpec { item: list.to_string(), reason: "no indicator given".into() });
    }
    Ok(specs)
}

/// Computes every spec over `bars`, spreading the specs over the machine's cores; columns keep the spec order.
pub fn compute_columns(bars: &Bars, specs: &[IndicatorSpec]) -> Result<Vec<Column>, IndicatorError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(specs.len()).max(1);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Vec<Column>, IndicatorError>>> = vec![None; specs.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let next = &next;
                std::thread::Builder::new().name(format!("aio-indicators-{w}")).spawn_scoped(scope, move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(spec) = specs.get(i) else { break done };
                        done.push((i, spec.compute(bars)));
                    }
                })
            })
            .collect();
        for handle in handles.into_iter().flatten() {
            for (i, result) in handle.join().unwrap_or_default() {
                results[i] = Some(result);
            }
        }
    });
    let mut columns = Vec::new();
    for (spec, result) in specs.iter().zip(results) {
        // A spec left without a result (a worker could not start) is computed here.
        columns.extend(result.unwrap_or_else(|| spec.compute(bars))?);
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_list_round_trips_and_names_columns_as_documented() {
        let specs =
            parse_spec_list("sma:20,ema:20,wma:10,rsi:14,macd:12:26:9,bb:20:2,stoch:14:3:3,atr:14,adx:14").unwrap();
        let names: Vec<String> = specs.iter().flat_map(IndicatorSpec::column_names).collect();
        assert_eq!(
            names.join(","),
            "sma_20,ema_20,wma_10,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9,bb_upper_20_2,\
             bb_middle_20_2,bb_lower_20_2,stoch_k_14_3_3,stoch_d_14_3_3,atr_14,adx_14,plus_di_14,minus_di_14"
        );
        assert_eq!(specs[5].to_string(), "bb:20:2");
        assert_eq!("bb:20:2.5".parse::<IndicatorSpec>().unwrap().column_names()[0], "bb_upper_20_2.5");
    }

    #[test]
    fn short_series_give_warm_up_only_and_never_panic() {
        let specs = parse_spec_list("sma:5,ema:5,wma:5,rsi:5,macd:3:6:4,bb:5:2,stoch:5:3:3,atr:5,adx:5,time").unwrap();
        for n in 0..40usize {
            let close: Vec<f64> = (0..n).map(|i| 1.0 + (i % 7) as f64 * 0.01).collect();
            let high: Vec<f64> = close.iter().map(|c| c + 0.005).collect();
            let low: Vec<f64> = close.iter().map(|c| c - 0.005).collect();
            let ts: Vec<i64> = (0..n as i64).map(|i| i * 3_600_000_000_000).collect();
            let bars = Bars::new(ts, close.clone(), high, low, close, vec![1.0; n]);
            for column in compute_columns(&bars, &specs).unwrap() {
                assert_eq!(column.values.len(), n, "{} at n = {n}", column.name);
                let ready = column.values.iter().position(|v| !v.is_nan());
                // Once a value appears, every later one is a number.
                if let Some(first) = ready {
                    assert!(column.values[first..].iter().all(|v| v.is_finite()), "{} at n = {n}", column.name);
                }
            }
        }
    }

    #[test]
    fn bad_spec_items_name_the_item_and_the_problem() {
        let err = parse_spec_list("sma:20,rsi:x").unwrap_err().to_string();
        assert!(err.contains("`rsi:x`") && err.contains("whole number"), "{err}");
        let err = parse_spec_list("macd:12:26").unwrap_err().to_string();
        assert!(err.contains("macd:FAST:SLOW:SIGNAL"), "{err}");
        let err = parse_spec_list("rsi:1").unwrap_err().to_string();
        assert!(err.contains("between 2 and 100000"), "{err}");
        assert!(parse_spec_list("vwap:3").unwrap_err().to_string().contains("unknown indicator"));
        assert!(parse_spec_list(" , ").is_err());
    }
}
