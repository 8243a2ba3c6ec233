#!/usr/bin/env python3
"""Reference side of `aio bench indicators`: times TA-Lib (through numpy, one call per output family) on the bars
that `aio` generated, and prints JSON with the best time of each call and sampled values for the equality check (as the IEEE-754 bit
patterns of the doubles, so that no decimal round trip can blur a last-digit difference).

Usage (normally run by `aio bench indicators`): talib_indicators.py BARS.f64 N REPEAT
BARS.f64 holds N little-endian f64 opens, then N highs, N lows and N closes.
"""
import json
import sys
import time

import numpy as np
import talib


def main():
    path, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = np.fromfile(path, dtype="<f8")
    o, h, l, c = (data[i * n:(i + 1) * n] for i in range(4))
    calls = {
        "sma:20": lambda: {"sma_20": talib.SMA(c, 20)},
        "ema:20": lambda: {"ema_20": talib.EMA(c, 20)},
        "rsi:14": lambda: {"rsi_14": talib.RSI(c, 14)},
        "macd:12:26:9": lambda: dict(zip(["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"],
                                         talib.MACD(c, 12, 26, 9))),
        "bb:20:2": lambda: dict(zip(["bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2"],
                                    talib.BBANDS(c, 20, 2.0, 2.0, talib.MA_Type.SMA))),
        "stoch:14:3:3": lambda: dict(zip(["stoch_k_14_3_3", "stoch_d_14_3_3"],
                                         talib.STOCH(h, l, c, 14, 3, talib.MA_Type.SMA, 3, talib.MA_Type.SMA))),
        "atr:14": lambda: {"atr_14": talib.ATR(h, l, c, 14)},
        "adx:14": lambda: {"adx_14": talib.ADX(h, l, c, 14), "plus_di_14": talib.PLUS_DI(h, l, c, 14),
                           "minus_di_14": talib.MINUS_DI(h, l, c, 14)},
    }
    sample_at = np.unique(np.linspace(0, n - 1, 2001).astype(np.int64))
    out = {"talib": talib.__ta_version__.decode(), "seconds": {}, "samples": {}, "sample_at": sample_at.tolist()}
    for spec, call in calls.items():
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            columns = call()
            best = min(best, time.perf_counter() - t)
        out["seconds"][spec] = best
        for name, values in columns.items():
            out["samples"][name] = [int(b) for b in values[sample_at].view(np.uint64)]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
