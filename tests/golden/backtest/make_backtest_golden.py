#!/usr/bin/env python3
"""Golden files for the backtester parity tests: backtesting.py 0.6.6 running the strategy specs in
tests/golden/backtest/specs/*.json on the EUR/USD H1 sample (assets/eurusd_h1_2017_2018.csv).

Run from the repository root:
    python3 -m venv /tmp/bt-venv && /tmp/bt-venv/bin/pip install backtesting==0.6.6 ta-lib numpy pandas
    /tmp/bt-venv/bin/python tests/golden/backtest/make_backtest_golden.py
(generated with backtesting 0.6.6, TA-Lib 0.8.2, numpy 2.4.6, pandas 3.1.1).

For each spec NAME.json it writes, next to this script:
  NAME_trades.csv  entry_bar,exit_bar,entry_time,exit_time,side,units,entry_price,exit_price,pnl,return_pct,
                   commission — backtesting.py's closed trades (stats._trades) in closing order; times ISO-8601 UTC,
                   units positive, pnl = Trade.pl (net of both commissions), return_pct = ReturnPct * 100 (net of
                   commissions), commission = both fills' commission; floats written with repr().
  NAME_equity.csv  bar,time,equity,drawdown_pct — stats._equity_curve; drawdown_pct = DrawdownPct * 100 (positive).
  NAME_stats.json  every scalar entry of the stats Series as a float (NaN as null, Timedelta as seconds, Timestamp
                   as ISO string, "# Trades" as int, ±inf as "inf"/"-inf") plus
                   max_drawdown_duration_bars: the longest run of consecutive bars whose equity is strictly below
                       the running maximum of the equity curve (i.e. DrawdownPct > 0), 0 if none;
                   first_next_bar: bar index of the first Strategy.next() call (1: indicators are computed outside
                       Strategy.I, so backtesting.py does not delay the start for warm-up);
                   open_trade_entry_bar: entry bar of the trade still open at the end (not in the trade list), or
                       null; signals_on_last_bar_dropped: whether orders placed on the last bar were never filled.

Semantics (the same as aio's engine and the Pine it generates): conditions are evaluated on each bar's close
against the position held at that moment. (1) long and long_exit -> close; short and short_exit -> close.
(2) long_entry and not long -> buy `units` (reverses a short); elif short_entry and not short -> sell `units`.
Market orders fill at the next bar's open (process_orders_on_close -> trade_on_close=True: at this bar's close).
Crosses are TradingView's ta.crossover/crossunder; any comparison with NaN is false. Strategy.next() is first
called on bar 1, so conditions are never evaluated on bar 0.
"""
import glob
import json
import math
import os
import warnings

import numpy as np
import pandas as pd
import talib
from backtesting import Backtest, Strategy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DATA = os.path.join(ROOT, "assets", "eurusd_h1_2017_2018.csv")

PRIMARY = {"macd": "macd", "bb": "middle", "stoch": "k", "adx": "adx"}
PRICE_FIELDS = ("open", "high", "low", "close", "volume")


def load_data():
    df = pd.read_csv(DATA)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("time"), format="%Y-%m-%d %H:%M:%S"))
    df.index.name = None
    return df.astype(float)


def source(df, name):
    o, h, l, c = (df[k].to_numpy(dtype=float) for k in ("Open", "High", "Low", "Close"))
    return {"open": o, "high": h, "low": l, "close": c, "hl2": (h + l) / 2, "hlc3": (h + l + c) / 3,
            "ohlc4": (o + h + l + c) / 4}[name]


def indicator_outputs(df, ind):
    """{output name: np.ndarray} for one indicator of the spec, computed with TA-Lib on the whole series."""
    h, l, c = (df[k].to_numpy(dtype=float) for k in ("High", "Low", "Close"))
    kind = ind["kind"]
    if kind in ("sma", "ema", "wma", "rsi"):
        fn = {"sma": talib.SMA, "ema": talib.EMA, "wma": talib.WMA, "rsi": talib.RSI}[kind]
        return {kind: fn(source(df, ind.get("source", "close")), timeperiod=ind["length"])}
    if kind == "macd":
        m, s, hist = talib.MACD(c, fastperiod=ind["fast"], slowperiod=ind["slow"], signalperiod=ind["signal"])
        return {"macd": m, "signal": s, "hist": hist}
    if kind == "bb":
        u, m, lo = talib.BBANDS(source(df, ind.get("source", "close")), timeperiod=ind["length"],
                                nbdevup=ind["mult"], nbdevdn=ind["mult"], matype=0)
        return {"upper": u, "middle": m, "lower": lo}
    if kind == "stoch":
        k, d = talib.STOCH(h, l, c, fastk_period=ind["k"], slowk_period=ind["k_smooth"], slowk_matype=0,
                           slowd_period=ind["d"], slowd_matype=0)
        return {"k": k, "d": d}
    if kind == "atr":
        return {"atr": talib.ATR(h, l, c, timeperiod=ind["length"])}
    if kind == "adx":
        n = ind["length"]
        return {"adx": talib.ADX(h, l, c, timeperiod=n), "plus_di": talib.PLUS_DI(h, l, c, timeperiod=n),
                "minus_di": talib.MINUS_DI(h, l, c, timeperiod=n)}
    raise ValueError(f"unknown indicator kind {kind!r}")


class Evaluator:
    """Turns operands and conditions of a spec into whole-series arrays (float, resp. bool)."""

    def __init__(self, df, spec):
        self.df = df
        self.n = len(df)
        self.series = {}
        for ind in spec["indicators"]:
            outs = indicator_outputs(df, ind)
            for out, arr in outs.items():
                self.series[f"{ind['id']}.{out}"] = arr
            primary = PRIMARY.get(ind["kind"], next(iter(outs)))
            self.series[ind["id"]] = outs[primary]

    def operand(self, op):
        if isinstance(op, bool):
            raise ValueError("booleans are not operands")
        if isinstance(op, (int, float)):
            return np.full(self.n, float(op))
        if isinstance(op, dict) and set(op) == {"prev"}:
            inner, k = op["prev"]
            base = self.operand(inner)
            out = np.full(self.n, np.nan)
            if k < self.n:
                out[k:] = base[:self.n - k]
            return out
        if isinstance(op, str):
            if op in self.series:
                return self.series[op]
            if op in PRICE_FIELDS:
                return self.df[op.capitalize()].to_numpy(dtype=float)
        raise ValueError(f"bad operand {op!r}")

    def condition(self, cond):
        if cond is None:
            return np.zeros(self.n, dtype=bool)
        (key, arg), = cond.items()
        if key == "all":
            return np.logical_and.reduce([self.condition(c) for c in arg] + [np.ones(self.n, dtype=bool)])
        if key == "any":
            return np.logical_or.reduce([self.condition(c) for c in arg] + [np.zeros(self.n, dtype=bool)])
        if key == "not":
            return ~self.condition(arg)
        a, b = (self.operand(x) for x in arg)
        with np.errstate(invalid="ignore"):  # NaN compares false
            if key in ("gt", "lt", "ge", "le"):
                return {"gt": np.greater, "lt": np.less, "ge": np.greater_equal, "le": np.less_equal}[key](a, b)
            a1, b1 = np.r_[np.nan, a[:-1]], np.r_[np.nan, b[:-1]]
            if key == "crosses_above":
                return (a > b) & (a1 <= b1)
            if key == "crosses_below":
                return (a < b) & (a1 >= b1)
        raise ValueError(f"unknown condition {key!r}")


def make_strategy(signals, units):
    class SpecStrategy(Strategy):
        first_next_bar = None

        def init(self):
            pass  # indicators are precomputed outside Strategy.I: Strategy.I would delay the first next()

        def next(self):
            i = len(self.data) - 1
            if SpecStrategy.first_next_bar is None:
                SpecStrategy.first_next_bar = i
            pos = self.position
            is_long, is_short = pos.is_long, pos.is_short  # the position before this bar's orders fill
            # 1. exits
            closing = (is_long and signals["long_exit"][i]) or (is_short and signals["short_exit"][i])
            # 2. entries; a reversal closes the opposite position and opens the new one
            entry = 0
            if signals["long_entry"][i] and not is_long:
                closing = closing or is_short
                entry = 1
            elif signals["short_entry"][i] and not is_short:
                closing = closing or is_long
                entry = -1
            # Trade.close() (via Position.close()) inserts its order at the FRONT of the broker's queue and a
            # trade.close() order is not contingent, so on the next bar the exit is filled first, then the entry,
            # both at the same price (next open, or with trade_on_close this bar's close): one exit + one entry.
            if closing:
                pos.close()
            if entry > 0:
                self.buy(size=units)
            elif entry < 0:
                self.sell(size=units)

    return SpecStrategy


def iso(ts):
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json_value(v):
    if isinstance(v, pd.Timedelta):
        return None if pd.isna(v) else v.total_seconds()
    if isinstance(v, pd.Timestamp):
        return iso(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    f = float(v)
    if math.isnan(f):
        return None
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f


def longest_underwater_run(equity):
    peak = np.maximum.accumulate(equity)
    best = run = 0
    for under in equity < peak:
        run = run + 1 if under else 0
        best = max(best, run)
    return best


def run_spec(path, df):
    spec = json.load(open(path))
    name = os.path.splitext(os.path.basename(path))[0]
    costs = spec.get("costs", {})
    assert costs.get("slippage_ticks", 0) == 0 and costs.get("spread_pips", 0.0) == 0.0, \
        "backtesting.py has no tick slippage / pip spread; the golden specs keep them at zero"
    assert spec.get("stop_loss") is None and spec.get("take_profit") is None, "market orders only"
    ev = Evaluator(df, spec)
    signals = {k: ev.condition(spec.get(k)) for k in ("long_entry", "long_exit", "short_entry", "short_exit")}
    units = int(spec["position"]["units"])
    strat = make_strategy(signals, units)

    bt = Backtest(df, strat, cash=spec["initial_capital"], spread=0.0,
                  commission=costs.get("commission_percent", 0.0) / 100, margin=1.0,
                  trade_on_close=bool(spec.get("process_orders_on_close", False)), hedging=False,
                  exclusive_orders=False, finalize_trades=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = bt.run()
    strategy = stats["_strategy"]
    trades = stats["_trades"]
    eq = stats["_equity_curve"]
    n = len(df)
    last = n - 1

    with open(os.path.join(HERE, f"{name}_trades.csv"), "w") as f:
        f.write("entry_bar,exit_bar,entry_time,exit_time,side,units,entry_price,exit_price,pnl,return_pct,"
                "commission\n")
        for t in trades.itertuples(index=False):
            f.write(",".join([str(int(t.EntryBar)), str(int(t.ExitBar)), iso(t.EntryTime), iso(t.ExitTime),
                              "long" if t.Size > 0 else "short", str(abs(int(t.Size))), repr(float(t.EntryPrice)),
                              repr(float(t.ExitPrice)), repr(float(t.PnL)), repr(float(t.ReturnPct) * 100),
                              repr(float(t.Commission))]) + "\n")
    with open(os.path.join(HERE, f"{name}_equity.csv"), "w") as f:
        f.write("bar,time,equity,drawdown_pct\n")
        for i, (ts, e, d) in enumerate(zip(eq.index, eq["Equity"], eq["DrawdownPct"])):
            f.write(f"{i},{iso(ts)},{float(e)!r},{float(d) * 100!r}\n")

    out = {}
    for k, v in stats.items():
        if k.startswith("_"):
            continue
        out[k] = to_json_value(v)
    open_trades = strategy.trades
    out["max_drawdown_duration_bars"] = longest_underwater_run(eq["Equity"].to_numpy(dtype=float))
    out["first_next_bar"] = strat.first_next_bar
    out["open_trade_entry_bar"] = int(open_trades[0].entry_bar) if open_trades else None
    out["signals_on_last_bar_dropped"] = bool(len(strategy.orders))
    with open(os.path.join(HERE, f"{name}_stats.json"), "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")

    sides = trades["Size"].to_numpy()
    reversals = int(np.sum((trades["ExitBar"].to_numpy()[:-1] == trades["EntryBar"].to_numpy()[1:]) &
                           (np.sign(sides[:-1]) != np.sign(sides[1:])))) if len(trades) > 1 else 0
    bar0 = {k: bool(v[0]) for k, v in signals.items() if v[0]}
    print(f"{name}: {len(trades)} closed trades ({int((sides > 0).sum())} long, {int((sides < 0).sum())} short, "
          f"{reversals} reversals), open at end: {bool(open_trades)}, first next(): bar {strat.first_next_bar}, "
          f"return {stats['Return [%]']:.4f} %" + (f", WARNING signals true on bar 0: {bar0}" if bar0 else ""))


def main():
    df = load_data()
    for path in sorted(glob.glob(os.path.join(HERE, "specs", "*.json"))):
        run_spec(path, df)


if __name__ == "__main__":
    main()
