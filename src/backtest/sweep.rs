//! Parameter sweeps: a grid over spec fields (`fast.length=5:50:5`, `stop_loss.pips=10,20,30`), every combination
//! backtested on all cores over one shared [`SeriesCache`] (each distinct indicator is computed once), the results
//! ranked by a chosen metric.

use std::{
    ops::Range,
    str::FromStr,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use serde_json::Value;

use super::{BacktestError, Bookkeeping, MarketSpec, Metrics, SeriesCache, engine::metrics_of_range};
use crate::strategy::StrategySpec;

/// Most combinations one sweep may have.
pub const MAX_COMBINATIONS: usize = 5_000_000;

/// One swept parameter and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamAxis {
    /// `indicator_id.field` or a spec path (`stop_loss.pips`, `take_profit.atr.mult`, `position.units`).
    pub path: String,
    /// Values tried, in order.
    pub values: Vec<f64>,
}

impl FromStr for ParamAxis {
    type Err = BacktestError;

    /// Parses `path=start:end:step` (end included) or `path=v1,v2,…`.
    fn from_str(text: &str) -> Result<Self, BacktestError> {
        let bad = |why: &str| BacktestError::Setup(format!("parameter `{text}`: {why}"));
        let (path, spec) = text.split_once('=').ok_or_else(|| bad("expected PATH=START:END:STEP or PATH=V1,V2"))?;
        let number = |s: &str| {
            s.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad(&format!("`{s}` is not a number")))
        };
        let values = if spec.contains(':') {
            let parts: Vec<&str> = spec.split(':').collect();
            let [start, end, step] = parts.as_slice() else { return Err(bad("a range is START:END:STEP")) };
            let (start, end, step) = (number(start)?, number(end)?, number(step)?);
            if step <= 0.0 || end < start {
                return Err(bad("a range needs START ≤ END and STEP > 0"));
            }
            let count = ((end - start) / step + 1e-9).floor() as usize + 1;
            if count > MAX_COMBINATIONS {
                return Err(bad("too many values"));
            }
            (0..count).map(|k| start + step * k as f64).map(|x| (x * 1e9).round() / 1e9).collect()
        } else {
            spec.split(',').map(number).collect::<Result<Vec<_>, _>>()?
        };
        if values.is_empty() {
            return Err(bad("no values"));
        }
        Ok(Self { path: path.trim().to_string(), values })
    }
}

/// Parses a `;`-separated grid (`fast.length=5:50:5;slow.length=20:200:10`).
pub fn parse_grid(text: &str) -> Result<Vec<ParamAxis>, BacktestError> {
    text.split(';').filter(|s| !s.trim().is_empty()).map(str::parse).collect()
}

/// Sets `path` to `value` in the spec's JSON form; integer fields must get whole numbers.
fn set_param(spec: &mut Value, path: &str, value: f64) -> Result<(), BacktestError> {
    let bad = |why: String| BacktestError::Setup(format!("parameter `{path}`: {why}"));
    let mut parts = path.split('.');
    let first = parts.next().unwrap_or_default();
    let indicator = spec
        .get_mut("indicators")
        .and_then(Value::as_array_mut)
        .and_then(|list| list.iter_mut().find(|i| i.get("id").and_then(Value::as_str) == Some(first)));
    let mut target = match indicator {
        Some(ind) => ind,
        None => spec
            .get_mut(first)
            .filter(|v| v.is_object())
            .ok_or_else(|| bad(format!("`{first}` is neither an indicator id nor an object field of the spec")))?,
    };
    let rest: Vec<&str> = parts.collect();
    let Some((last, middle)) = rest.split_last() else {
        return Err(bad("name a field, e.g. `fast.length` or `stop_loss.pips`".into()));
    };
    for key in middle {
        target = target.get_mut(*key).ok_or_else(|| bad(format!("no field `{key}`")))?;
    }
    let slot = target.get_mut(*last).ok_or_else(|| bad(format!("no field `{last}`")))?;
    *slot = if slot.is_u64() || slot.is_i64() {
        if value.fract() != 0.0 || value < 0.0 {
            return Err(bad(format!("needs a whole number, got {value}")));
        }
        Value::from(value as u64)
    } else if slot.is_number() {
        Value::from(value)
    } else {
        return Err(bad(format!("`{last}` is not a number")));
    };
    Ok(())
}

/// The spec with each `(path, value)` applied, validated.
pub fn apply_params(base: &StrategySpec, params: &[(String, f64)]) -> Result<StrategySpec, BacktestError> {
    let mut value = serde_json::to_value(base).map_err(|e| BacktestError::Setup(e.to_string()))?;
    for (path, x) in params {
        set_param(&mut value, path, *x)?;
    }
    let spec: StrategySpec = serde_json::from_value(value).map_err(|e| BacktestError::Setup(e.to_string()))?;
    spec.validate().map_err(|e| BacktestError::Setup(e.to_string()))?;
    Ok(spec)
}

/// Every combination of the grid, first axis slowest.
pub fn combinations(grid: &[ParamAxis]) -> Result<Vec<Vec<(String, f64)>>, BacktestError> {
    let total = grid.iter().try_fold(1usize, |n, axis| n.checked_mul(axis.values.len()));
    match total {
        Some(n) if n <= MAX_COMBINATIONS => {}
        _ => return Err(BacktestError::Setup(format!("the grid has more than {MAX_COMBINATIONS} combinations"))),
    }
    let mut combos = vec![Vec::new()];
    for axis in grid {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((axis.path.clone(), *v));
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}

/// A metric a sweep ranks by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankBy {
    /// A field of [`Metrics`] (`sharpe`, `net_profit`, `max_drawdown_pct` …).
    pub metric: String,
}

impl RankBy {
    /// Checks that `metric` names a numeric field of [`Metrics`].
    pub fn new(metric: &str) -> Result<Self, BacktestError> {
        let probe = serde_json::to_value(Metrics::default()).unwrap_or_default();
        match probe.get(metric) {
            Some(Value::Number(_) | Value::Null) => Ok(Self { metric: metric.to_string() }),
            _ => {
                let names: Vec<&str> =
                    probe.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
                Err(BacktestError::Setup(format!("unknown metric `{metric}`; one of: {}", names.join(", "))))
            }
        }
    }

    /// Drawdowns rank ascending, everything else descending.
    pub fn lower_is_better(&self) -> bool {
        self.metric.contains("drawdown")
    }

    /// The metric's value (NaN when undefined).
    pub fn value(&self, m: &Metrics) -> f64 {
        m.get(&self.metric).unwrap_or(f64::NAN)
    }
}

/// One combination's outcome.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepRow {
    /// The parameters of this run.
    pub params: Vec<(String, f64)>,
    /// Its statistics.
    pub metrics: Metrics,
}

/// A sweep's outcome, best first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepResult {
    /// Ranked rows (invalid combinations left out).
    pub rows: Vec<SweepRow>,
    /// Combinations tried.
    pub combinations: usize,
    /// Combinations skipped as invalid, with the first reason.
    pub skipped: usize,
    /// Why the first skipped combination was invalid.
    pub first_skip_reason: Option<String>,
    /// The ranking metric.
    pub rank_by: String,
}

/// Sweep settings.
pub struct SweepOptions<'a> {
    /// Ranking metric.
    pub rank_by: RankBy,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Bars traded.
    pub range: Range<usize>,
    /// Set to stop early with [`BacktestError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Called with (done, total) from the workers.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

/// Runs every combination of `grid` on `base` and ranks the results.
pub fn run_sweep(
    base: &StrategySpec,
    grid: &[ParamAxis],
    cache: &SeriesCache,
    market: MarketSpec,
    options: &SweepOptions<'_>,
) -> Result<SweepResult, BacktestError> {
    let combos = combinations(grid)?;
    // Every path must exist: try the first combination's paths on the base spec.
    if let Some(first) = combos.first() {
        let mut probe = serde_json::to_value(base).map_err(|e| BacktestError::Setup(e.to_string()))?;
        for (path, x) in first {
            set_param(&mut probe, path, *x)?;
        }
    }
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(combos.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::with_capacity(combos.len()));
    let skips = Mutex::new((0usize, None::<String>));
    let failure = Mutex::new(None::<BacktestError>);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (combos, next, done, rows, skips, failure) = (&combos, &next, &done, &rows, &skips, &failure);
            let spawned = std::thread::Builder::new().name(format!("aio-sweep-{t}")).spawn_scoped(scope, move || {
                let mut local = Vec::new();
                loop {
                    if options.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(params) = combos.get(i) else { break };
                    match apply_params(base, params).and_then(|spec| {
                        // One thread per run: the sweep's threads keep every core busy.
                        let range = options.range.clone();
                        metrics_of_range(&spec, cache, market, range, Bookkeeping::TradingView)
                    }) {
                        Ok(metrics) => local.push(SweepRow { params: params.clone(), metrics }),
                        Err(BacktestError::Setup(reason) | BacktestError::Spec(reason)) => {
                            if let Ok(mut s) = skips.lock() {
                                s.0 += 1;
                                s.1.get_or_insert(reason);
                            }
                        }
                        Err(BacktestError::Indicator(e)) => {
                            if let Ok(mut s) = skips.lock() {
                                s.0 += 1;
                                s.1.get_or_insert(e.to_string());
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            break;
                        }
                    }
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(progress) = options.progress {
                        progress(finished, combos.len());
                    }
                }
                if let Ok(mut rows) = rows.lock() {
                    rows.append(&mut local);
                }
            });
            if let Err(e) = spawned
                && let Ok(mut f) = failure.lock()
            {
                f.get_or_insert(BacktestError::Setup(format!("cannot start a sweep thread: {e}")));
            }
        }
    });
    if options.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(BacktestError::Cancelled);
    }
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let rows = rows.into_inner().unwrap_or_default();
    let rank = &options.rank_by;
    // The ranking value of each row, read once ([`Metrics::get`] goes through JSON).
    let mut keyed: Vec<(f64, SweepRow)> = rows.into_iter().map(|row| (rank.value(&row.metrics), row)).collect();
    keyed.sort_by(|(x, a), (y, b)| {
        let order = if rank.lower_is_better() { x.total_cmp(y) } else { y.total_cmp(x) };
        // NaN (undefined) ranks last either way.
        match (x.is_nan(), y.is_nan()) {
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => order,
        }
        .then_with(|| {
            a.params.iter().map(|p| p.1).partial_cmp(b.params.iter().map(|p| p.1)).unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let rows: Vec<SweepRow> = keyed.into_iter().map(|(_, row)| row).collect();
    let (skipped, first_skip_reason) = skips.into_inner().unwrap_or_default();
    Ok(SweepResult { rows, combinations: combos.len(), skipped, first_skip_reason, rank_by: rank.metric.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_ranges_and_lists() {
        let a: ParamAxis = "fast.length=5:20:5".parse().expect("range");
        assert_eq!(a.values, vec![5.0, 10.0, 15.0, 20.0]);
        let b: ParamAxis = "take_profit.atr.mult=1.5,2,2.5".parse().expect("list");
        assert_eq!(b.values, vec![1.5, 2.0, 2.5]);
        let c: ParamAxis = "x=0.1:0.3:0.1".parse().expect("float range");
        assert_eq!(c.values, vec![0.1, 0.2, 0.3]);
        assert!("fast.length".parse::<ParamAxis>().is_err());
        assert!("fast.length=5:1:1".parse::<ParamAxis>().is_err());
        assert_eq!(combinations(&[a, b]).expect("grid").len(), 12);
    }

    #[test]
    fn params_apply_to_indicators_and_levels() {
        let spec = StrategySpec::from_json(
            r#"{"version": 1, "name": "x", "indicators": [{"id": "fast", "kind": "sma", "length": 10},
                {"id": "slow", "kind": "sma", "length": 20}],
                "long_entry": {"crosses_above": ["fast", "slow"]}, "stop_loss": {"pips": 30},
                "position": {"units": 1000}, "initial_capital": 10000}"#,
        )
        .expect("spec");
        let applied =
            apply_params(&spec, &[("fast.length".into(), 7.0), ("stop_loss.pips".into(), 12.5)]).expect("apply");
        assert_eq!(
            applied.indicators[0].kind,
            crate::strategy::IndicatorKind::Sma { source: Default::default(), length: 7 }
        );
        assert_eq!(applied.stop_loss, Some(crate::strategy::Level::Pips(12.5)));
        let err = apply_params(&spec, &[("fast.length".into(), 7.5)]).unwrap_err().to_string();
        assert!(err.contains("whole number"), "{err}");
        let err = apply_params(&spec, &[("fastt.length".into(), 7.0)]).unwrap_err().to_string();
        assert!(err.contains("neither an indicator id"), "{err}");
        let err = apply_params(&spec, &[("fast.length".into(), 0.0)]).unwrap_err().to_string();
        assert!(err.contains("period"), "{err}");
    }
}
