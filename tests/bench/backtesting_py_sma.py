#!/usr/bin/env python3
"""Reference side of `aio bench backtest`: backtesting.py 0.6.6 running an SMA cross (long on fast crossing above
slow, long exit on crossing below, TradingView crossover rules, SMAs from TA-Lib computed outside Strategy.I) on
the bars `aio` generated; prints JSON with the best wall time of Backtest.run and the closed trades (prices as
IEEE-754 bit patterns).

Usage (normally run by `aio bench backtest`): backtesting_py_sma.py BARS.f64 N FAST SLOW UNITS REPEAT
BARS.f64 holds N little-endian f64 opens, then N highs, N lows and N closes; bar k is minute k from 2001-09-09.
"""
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
import talib
from backtesting import Backtest, Strategy

warnings.simplefilter("ignore")


def main():
    path, n, fast, slow, units, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5]), int(sys.argv[6])
    data = np.fromfile(path, dtype="<f8")
    o, h, l, c = (data[i * n:(i + 1) * n] for i in range(4))
    index = pd.to_datetime(1_000_000_000_000_000_000 + np.arange(n, dtype=np.int64) * 60_000_000_000, utc=True)
    df = pd.DataFrame({"Open": o, "High": h, "Low": l, "Close": c, "Volume": np.ones(n)}, index=index.tz_localize(None))
    f, s = talib.SMA(c, fast), talib.SMA(c, slow)

    class SmaCross(Strategy):
        def init(self):
            pass

        def next(self):
            i = len(self.data) - 1
            above = f[i] > s[i] and f[i - 1] <= s[i - 1]
            below = f[i] < s[i] and f[i - 1] >= s[i - 1]
            if self.position.is_long and below:
                self.position.close()
            if above and not self.position.is_long:
                self.buy(size=units)

    best, stats = float("inf"), None
    for _ in range(repeat):
        bt = Backtest(df, SmaCross, cash=1e9, commission=0.0, margin=1.0, trade_on_close=False, hedging=False,
                      exclusive_orders=False, finalize_trades=False)
        t = time.perf_counter()
        stats = bt.run()
        best = min(best, time.perf_counter() - t)
    trades = stats._trades
    out = {
        "seconds": best,
        "entry_bar": trades["EntryBar"].astype(int).tolist(),
        "exit_bar": trades["ExitBar"].astype(int).tolist(),
        # Prices as the bit patterns of the doubles, so no decimal round trip can blur a last digit.
        "entry_price_bits": trades["EntryPrice"].to_numpy(dtype=np.float64).view(np.uint64).tolist(),
        "exit_price_bits": trades["ExitPrice"].to_numpy(dtype=np.float64).view(np.uint64).tolist(),
        "final_equity": float(stats["Equity Final [$]"]),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
