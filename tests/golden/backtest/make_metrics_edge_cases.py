"""Edge cases for metrics.rs: backtesting.py 0.6.6's compute_stats on synthetic equity curves and trade lists.
Run from the repository root:
    python3 -m venv /tmp/bt-venv && /tmp/bt-venv/bin/pip install backtesting==0.6.6 ta-lib numpy pandas
    /tmp/bt-venv/bin/python tests/golden/backtest/make_metrics_edge_cases.py
Writes tests/golden/backtest/metrics_edge_cases.json."""
import json, math, os, warnings
import numpy as np, pandas as pd
from backtesting._stats import compute_stats

warnings.simplefilter("ignore")
rng = np.random.default_rng(7)
cases = []

def val(v):
    if isinstance(v, pd.Timedelta): return None if pd.isna(v) else v.total_seconds()
    if isinstance(v, pd.Timestamp): return None
    try: f = float(v)
    except (TypeError, ValueError): return None
    if math.isnan(f): return None
    if math.isinf(f): return "inf" if f > 0 else "-inf"
    return f

def case(name, index, close, equity, trades):
    """trades: list of (entry_bar, exit_bar, pnl, return_fraction, commission)."""
    index = pd.DatetimeIndex(index)
    df = pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close, "Volume": 0.0}, index=index)
    tdf = pd.DataFrame({"EntryBar": [t[0] for t in trades], "ExitBar": [t[1] for t in trades],
                        "PnL": [t[2] for t in trades], "ReturnPct": [t[3] for t in trades]})
    tdf["EntryTime"] = index[tdf["EntryBar"].to_numpy(dtype=int)]
    tdf["ExitTime"] = index[tdf["ExitBar"].to_numpy(dtype=int)]
    tdf["Duration"] = tdf["ExitTime"] - tdf["EntryTime"]
    s = compute_stats(tdf, np.asarray(equity, dtype=float), df, None, 0)
    stats = {k: val(v) for k, v in s.items() if not k.startswith("_")}
    stats["Commissions [$]"] = float(sum(t[4] for t in trades))
    cases.append({"name": name, "ts_nanos": [int(t.value) for t in index], "close": list(map(float, close)),
                  "equity": list(map(float, equity)),
                  "trades": [{"entry_bar": t[0], "exit_bar": t[1], "pnl": t[2], "return_fraction": t[3],
                              "commission": t[4]} for t in trades], "stats": stats})

h1 = pd.date_range("2021-03-01 00:00", periods=400, freq="h")
h1 = h1[h1.dayofweek < 5]
n = len(h1)
close = 1.2 + np.cumsum(rng.normal(0, 1e-3, n))
case("no_trades_flat", h1, close, np.full(n, 10_000.0), [])
eq = 10_000 + np.r_[np.zeros(50), np.linspace(0, 300, n - 50)]
case("one_winner_no_drawdown", h1, close, eq, [(50, 120, 300.0, 0.03, 0.0)])
eq2 = eq.copy(); eq2[-1] = eq2[-2] - 5
case("drawdown_only_last_bar", h1, close, eq2, [(50, 100, 100.0, 0.01, 1.0), (110, 200, 150.0, 0.02, 1.0)])
eq3 = 10_000 + np.cumsum(rng.normal(0, 5, n)); eq3[:10] = 10_000
tr3 = [(20, 40, 30.0, 0.003, 0.5), (41, 80, -12.0, -0.0012, 0.5), (90, 130, -7.5, -0.00075, 0.5),
       (131, 131, 0.0, 0.0, 0.0)]
case("losers_only_pct_zero", h1, close, eq3, tr3[1:3])
case("mixed_h1", h1, close, eq3, tr3)
case("single_trade", h1, close, eq3, tr3[:1])
d1 = pd.date_range("2020-01-01", periods=500, freq="D")
c1 = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
e1 = 1e5 * np.exp(np.cumsum(rng.normal(2e-4, 0.005, 500)))
case("daily_with_weekends", d1, c1, e1, [(3, 40, 500.0, 0.05, 2.0), (50, 90, -200.0, -0.02, 2.0),
                                         (100, 300, 900.0, 0.09, 2.0)])
b1 = pd.bdate_range("2020-01-01", periods=500)
case("business_days", b1, c1, e1, [(3, 40, 500.0, 0.05, 2.0), (50, 90, -200.0, -0.02, 2.0)])
w1 = pd.date_range("2015-01-04", periods=300, freq="W")
case("weekly", w1, c1[:300], e1[:300], [(3, 40, 500.0, 0.05, 2.0), (50, 90, -200.0, -0.02, 2.0)])
m1 = pd.date_range("2000-01-31", periods=150, freq="ME")
case("monthly", m1, c1[:150], e1[:150], [(3, 40, 500.0, 0.05, 2.0), (50, 90, -200.0, -0.02, 2.0)])
m15 = pd.date_range("2022-01-03 00:00", periods=700, freq="15min")
case("m15_ruined_trade", m15, 1 + np.cumsum(rng.normal(0, 1e-4, 700)), 1e4 + np.cumsum(rng.normal(0, 3, 700)),
     [(5, 70, -1000.0, -1.2, 0.0), (80, 95, 10.0, 0.001, 0.0)])
json.dump(cases, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_edge_cases.json"), "w"))
for c in cases:
    print(c["name"], {k: c["stats"][k] for k in ("Return (Ann.) [%]", "Max. Drawdown Duration", "Avg. Drawdown [%]", "SQN", "Kelly Criterion", "Profit Factor")})
