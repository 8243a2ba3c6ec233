//! Parity of the native backtester with backtesting.py 0.6.6 (tests/golden/backtest, made by
//! make_backtest_golden.py): for every golden strategy spec, the engine on the EUR/USD sample must give the same
//! trades (bars, times, prices exactly; P&L and returns within 1e-9), the same equity after every bar and the same
//! statistics within 1e-9. The statistics alone are also checked on backtesting.py's own equity curves and on
//! synthetic edge cases (make_metrics_edge_cases.py).

use std::{path::Path, sync::Arc};

use aio::{
    backtest::{
        Bookkeeping, MarketSpec, SeriesCache, Side,
        metrics::{Metrics, MetricsInput, TradeStats, compute},
        run_range_with,
    },
    ingest::{self, LoadOptions, NoProgress},
    strategy::StrategySpec,
};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/backtest");
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/eurusd_h1_2017_2018.csv");

fn golden_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(GOLDEN).join("specs"))
        .expect("specs dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "golden specs: {names:?}");
    names
}

fn stats_of(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(Path::new(GOLDEN).join(format!("{name}_stats.json"))).expect("stats"))
        .expect("stats json")
}

fn close_enough(got: f64, want: f64) -> bool {
    got == want || (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2017-04-19T09:00:00Z" or "2017-04-19 09:00:00" to UTC ns.
fn parse_time(s: &str) -> i64 {
    let num = |a: usize, b: usize| s[a..b].parse::<i64>().expect("time digits");
    let days = days_from_civil(num(0, 4), num(5, 7), num(8, 10));
    ((days * 86_400) + num(11, 13) * 3_600 + num(14, 16) * 60 + num(17, 19)) * 1_000_000_000
}

fn read_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

fn close_column() -> (Vec<i64>, Vec<f64>) {
    read_rows(Path::new(SAMPLE)).iter().map(|r| (parse_time(&r[0]), r[4].parse::<f64>().expect("close"))).unzip()
}

fn golden(stats: &Value, key: &str) -> f64 {
    match stats.get(key) {
        Some(Value::Number(n)) => n.as_f64().expect("number"),
        Some(Value::Null) => f64::NAN,
        Some(Value::String(s)) if s == "inf" => f64::INFINITY,
        Some(Value::String(s)) if s == "-inf" => f64::NEG_INFINITY,
        None if key == "Commissions [$]" => 0.0, // backtesting.py leaves it out when 0
        other => panic!("{key}: {other:?}"),
    }
}

fn compare(name: &str, m: &Metrics, stats: &Value, initial_capital: f64) -> Vec<String> {
    let pairs: Vec<(&str, f64, f64)> = vec![
        ("Equity Final [$] - cash", m.net_profit, golden(stats, "Equity Final [$]") - initial_capital),
        ("Return [%]", m.return_pct, golden(stats, "Return [%]")),
        ("Buy & Hold Return [%]", m.buy_and_hold_return_pct, golden(stats, "Buy & Hold Return [%]")),
        ("Return (Ann.) [%]", m.return_ann_pct, golden(stats, "Return (Ann.) [%]")),
        ("Volatility (Ann.) [%]", m.volatility_ann_pct, golden(stats, "Volatility (Ann.) [%]")),
        ("CAGR [%]", m.cagr_pct, golden(stats, "CAGR [%]")),
        ("Max. Drawdown [%]", -m.max_drawdown_pct, golden(stats, "Max. Drawdown [%]")),
        ("Avg. Drawdown [%]", -m.avg_drawdown_pct, golden(stats, "Avg. Drawdown [%]")),
        ("Max. Drawdown Duration", m.max_drawdown_duration_secs, golden(stats, "Max. Drawdown Duration")),
        ("Avg. Drawdown Duration", m.avg_drawdown_duration_secs, golden(stats, "Avg. Drawdown Duration")),
        ("Sharpe Ratio", m.sharpe, golden(stats, "Sharpe Ratio")),
        ("Sortino Ratio", m.sortino, golden(stats, "Sortino Ratio")),
        ("Calmar Ratio", m.calmar, golden(stats, "Calmar Ratio")),
        ("Profit Factor", m.profit_factor, golden(stats, "Profit Factor")),
        ("Win Rate [%]", m.win_rate_pct, golden(stats, "Win Rate [%]")),
        ("Best Trade [%]", m.best_trade_pct, golden(stats, "Best Trade [%]")),
        ("Worst Trade [%]", m.worst_trade_pct, golden(stats, "Worst Trade [%]")),
        ("Avg. Trade [%]", m.avg_trade_pct, golden(stats, "Avg. Trade [%]")),
        ("Expectancy [%]", m.expectancy, golden(stats, "Expectancy [%]")),
        ("SQN", m.sqn, golden(stats, "SQN")),
        ("Kelly Criterion", m.kelly, golden(stats, "Kelly Criterion")),
        ("Exposure Time [%]", m.exposure_pct, golden(stats, "Exposure Time [%]")),
        ("# Trades", m.trades as f64, golden(stats, "# Trades")),
        ("Equity Final [$]", m.final_equity, golden(stats, "Equity Final [$]")),
        ("Equity Peak [$]", m.equity_peak, golden(stats, "Equity Peak [$]")),
        ("Commissions [$]", m.commissions, golden(stats, "Commissions [$]")),
        ("Alpha [%]", m.alpha_pct, golden(stats, "Alpha [%]")),
        ("Beta", m.beta, golden(stats, "Beta")),
        ("Max. Trade Duration", m.max_trade_duration_secs, golden(stats, "Max. Trade Duration")),
        ("Avg. Trade Duration", m.avg_trade_duration_secs, golden(stats, "Avg. Trade Duration")),
        (
            "max_drawdown_duration_bars",
            m.max_drawdown_duration_bars as f64,
            golden(stats, "max_drawdown_duration_bars"),
        ),
    ];
    let mut failures = Vec::new();
    for (key, got, want) in pairs {
        if key.ends_with("Drawdown Duration") && want.is_finite() && want < 1.0 {
            // backtesting.py's fallback when no drawdown ends before the last bar: a dd fraction, not a duration.
            if got.is_nan() {
                continue;
            }
        }
        let same = (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= 1e-9 * want.abs().max(1.0);
        if !same {
            failures.push(format!("{name} {key}: got {got:?}, backtesting.py {want:?} (diff {:e})", got - want));
        }
    }
    failures
}

/// Runs one golden spec through the engine and lists every difference from backtesting.py.
fn engine_differences(name: &str, cache: &SeriesCache) -> Vec<String> {
    let dir = Path::new(GOLDEN);
    let text = std::fs::read_to_string(dir.join("specs").join(format!("{name}.json"))).expect("spec");
    let spec = StrategySpec::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let n = cache.bars().len();
    let report = run_range_with(&spec, cache, MarketSpec::for_symbol("EURUSD"), 0..n, Bookkeeping::BacktestingPy)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut failures = Vec::new();
    let golden_trades = read_rows(&dir.join(format!("{name}_trades.csv")));
    if golden_trades.len() != report.trades.len() {
        failures.push(format!("{name}: {} trades, backtesting.py {}", report.trades.len(), golden_trades.len()));
    }
    for (k, (t, r)) in report.trades.iter().zip(&golden_trades).enumerate() {
        let f = |i: usize| r[i].parse::<f64>().expect("float");
        let side = if t.side == Side::Long { "long" } else { "short" };
        let same = t.entry_bar.to_string() == r[0]
            && t.exit_bar.to_string() == r[1]
            && t.entry_time_nanos == parse_time(&r[2])
            && t.exit_time_nanos == parse_time(&r[3])
            && side == r[4]
            && t.units == f(5)
            && t.entry_price == f(6)
            && t.exit_price == f(7)
            && close_enough(t.pnl, f(8))
            && close_enough(t.return_pct, f(9))
            && close_enough(t.commission, f(10));
        if !same {
            failures.push(format!("{name}: trade {k} differs:\n  ours {t:?}\n  theirs {r:?}"));
            break;
        }
    }
    let golden_equity: Vec<f64> =
        read_rows(&dir.join(format!("{name}_equity.csv"))).iter().map(|r| r[2].parse().expect("equity")).collect();
    assert_eq!(golden_equity.len(), report.equity.len(), "{name}: equity length");
    if let Some(i) = (0..golden_equity.len()).find(|&i| !close_enough(report.equity[i], golden_equity[i])) {
        failures.push(format!(
            "{name}: equity after bar {i}: ours {}, backtesting.py {}",
            report.equity[i], golden_equity[i]
        ));
    }
    let stats = stats_of(name);
    let open_entry = stats["open_trade_entry_bar"].as_u64().map(|b| b as usize);
    if report.open_trade.as_ref().map(|t| t.entry_bar) != open_entry {
        failures.push(format!("{name}: open trade {:?}, backtesting.py entry bar {open_entry:?}", report.open_trade));
    }
    failures.extend(compare(name, &report.metrics, &stats, spec.initial_capital));
    failures
}

#[test]
fn engine_matches_backtesting_py_on_every_golden_strategy() {
    let loaded = ingest::load_path(Path::new(SAMPLE), &LoadOptions::default(), &NoProgress).expect("sample");
    let cache = SeriesCache::new(Arc::new(loaded.bars));
    let failures: Vec<String> = golden_names().iter().flat_map(|n| engine_differences(n, &cache)).collect();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The statistics alone, on backtesting.py's own equity curves and trade lists.
fn metrics_differences(name: &str) -> Vec<String> {
    let dir = Path::new(GOLDEN);
    let (ts, close) = close_column();
    let eq_rows = read_rows(&dir.join(format!("{name}_equity.csv")));
    let equity: Vec<f64> = eq_rows.iter().map(|r| r[2].parse().expect("equity")).collect();
    let trades: Vec<TradeStats> = read_rows(&dir.join(format!("{name}_trades.csv")))
        .iter()
        .map(|r| {
            let sign = if r[4] == "long" { 1.0 } else { -1.0 };
            let f = |i: usize| r[i].parse::<f64>().expect("float");
            TradeStats {
                entry_bar: r[0].parse().expect("bar"),
                exit_bar: r[1].parse().expect("bar"),
                entry_time_nanos: parse_time(&r[2]),
                exit_time_nanos: parse_time(&r[3]),
                units_signed: sign * f(5),
                entry_price: f(6),
                exit_price: f(7),
                pnl: f(8),
                return_fraction: f(9) / 100.0,
                commission: f(10),
            }
        })
        .collect();
    let stats = stats_of(name);
    let m = compute(&MetricsInput {
        ts_nanos: &ts,
        close: &close,
        equity: &equity,
        trades: &trades,
        open_trade_entry_bar: stats["open_trade_entry_bar"].as_u64().map(|b| b as usize),
        initial_capital: 100_000.0,
    });
    let mut failures = compare(name, &m, &stats, 100_000.0);
    // The JSON form: NaN as null, read back as NaN.
    let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).expect("serialize")).expect("deserialize");
    let (a, b) = (serde_json::to_value(&m).expect("value"), serde_json::to_value(&back).expect("value"));
    for (key, va) in a.as_object().expect("object") {
        let same = match (va.as_f64(), b[key].as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-14 * x.abs().max(1.0),
            _ => va.is_null() && b[key].is_null(),
        };
        if !same {
            failures.push(format!("{name}: JSON round trip of {key}: {va} vs {}", b[key]));
        }
    }
    failures
}

#[test]
fn metrics_match_backtesting_py_on_its_own_equity_curves() {
    let failures: Vec<String> = golden_names().iter().flat_map(|n| metrics_differences(n)).collect();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Synthetic curves through backtesting.py's compute_stats (tests/make_edge.py): NaN paths, weekly/monthly bars.
#[test]
fn metrics_match_backtesting_py_edge_cases() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/backtest/metrics_edge_cases.json"))
            .expect("edge");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("edge json");
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().expect("name");
        let ints = |k: &str| -> Vec<i64> { c[k].as_array().expect(k).iter().map(|v| v.as_i64().expect(k)).collect() };
        let floats = |k: &str| -> Vec<f64> { c[k].as_array().expect(k).iter().map(|v| v.as_f64().expect(k)).collect() };
        let ts = ints("ts_nanos");
        let trades: Vec<TradeStats> = c["trades"]
            .as_array()
            .expect("trades")
            .iter()
            .map(|t| {
                let bar = |k: &str| t[k].as_u64().expect(k) as usize;
                TradeStats {
                    entry_bar: bar("entry_bar"),
                    exit_bar: bar("exit_bar"),
                    entry_time_nanos: ts[bar("entry_bar")],
                    exit_time_nanos: ts[bar("exit_bar")],
                    units_signed: 1.0,
                    entry_price: 1.0,
                    exit_price: 1.0,
                    pnl: t["pnl"].as_f64().expect("pnl"),
                    return_fraction: t["return_fraction"].as_f64().expect("ret"),
                    commission: t["commission"].as_f64().expect("commission"),
                }
            })
            .collect();
        let equity = floats("equity");
        let close = floats("close");
        let initial_capital = equity[0];
        let m = compute(&MetricsInput {
            ts_nanos: &ts,
            close: &close,
            equity: &equity,
            trades: &trades,
            open_trade_entry_bar: None,
            initial_capital,
        });
        let mut stats = c["stats"].clone();
        let longest = {
            let (mut peak, mut run, mut best) = (f64::NEG_INFINITY, 0u64, 0u64);
            for &e in &equity {
                peak = peak.max(e);
                run = if e < peak { run + 1 } else { 0 };
                best = best.max(run);
            }
            best
        };
        stats["max_drawdown_duration_bars"] = Value::from(longest);
        failures.extend(compare(name, &m, &stats, initial_capital));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn empty_input_gives_nan_not_a_panic() {
    let m = compute(&MetricsInput {
        ts_nanos: &[],
        close: &[],
        equity: &[],
        trades: &[],
        open_trade_entry_bar: None,
        initial_capital: 1.0,
    });
    assert_eq!(m.trades, 0);
    assert!(m.return_pct.is_nan() && m.sharpe.is_nan() && m.final_equity.is_nan());
    let one = compute(&MetricsInput {
        ts_nanos: &[0],
        close: &[1.0],
        equity: &[5.0],
        trades: &[],
        open_trade_entry_bar: None,
        initial_capital: 5.0,
    });
    assert_eq!(one.return_pct, 0.0);
    assert!(serde_json::to_string(&one).expect("json").contains("\"sharpe\":null"));
}
