#!/usr/bin/env python3
"""Golden files for the indicator tests: TA-Lib (the C library, through the PyPI `ta-lib` package) on the EUR/USD
sample and on generated series with flat stretches, gaps, extreme moves and very small and very large prices.

Run from the repository root:
    python3 -m venv /tmp/talib-venv && /tmp/talib-venv/bin/pip install ta-lib numpy
    /tmp/talib-venv/bin/python tests/golden/make_indicators_golden.py

Writes tests/golden/indicators_<series>.csv: `time,open,high,low,close,volume` (inputs, repr floats) followed by one
column per TA-Lib output, named as `aio indicators` names them; empty cells where TA-Lib gives NaN. The spec list
of each file is in tests/golden/indicators_specs.txt, one line, in `aio indicators --set` syntax.
"""
import csv
import datetime as dt
import os

import numpy as np
import talib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SPECS = [
    "sma:20", "sma:1", "sma:7", "ema:20", "ema:1", "ema:50", "wma:10", "wma:1", "wma:33",
    "rsi:14", "rsi:2", "rsi:30", "macd:12:26:9", "macd:5:35:5", "macd:26:12:9", "macd:3:4:1",
    "bb:20:2", "bb:20:1", "bb:10:1.5", "bb:5:3", "stoch:14:3:3", "stoch:5:1:1", "stoch:21:5:4",
    "atr:14", "atr:1", "atr:7", "adx:14", "adx:2", "adx:7",
]


def columns_for(spec, o, h, l, c):
    name, *args = spec.split(":")
    suffix = "_".join(args)
    a = [float(x) if "." in x else int(x) for x in args]
    if name == "sma":
        return {f"sma_{suffix}": talib.SMA(c, a[0])}
    if name == "ema":
        return {f"ema_{suffix}": talib.EMA(c, a[0])}
    if name == "wma":
        return {f"wma_{suffix}": talib.WMA(c, a[0])}
    if name == "rsi":
        return {f"rsi_{suffix}": talib.RSI(c, a[0])}
    if name == "macd":
        m, s, hist = talib.MACD(c, fastperiod=a[0], slowperiod=a[1], signalperiod=a[2])
        return {f"macd_{suffix}": m, f"macd_signal_{suffix}": s, f"macd_hist_{suffix}": hist}
    if name == "bb":
        u, m, lo = talib.BBANDS(c, timeperiod=a[0], nbdevup=float(a[1]), nbdevdn=float(a[1]), matype=talib.MA_Type.SMA)
        return {f"bb_upper_{suffix}": u, f"bb_middle_{suffix}": m, f"bb_lower_{suffix}": lo}
    if name == "stoch":
        k, d = talib.STOCH(h, l, c, fastk_period=a[0], slowk_period=a[1], slowk_matype=talib.MA_Type.SMA,
                           slowd_period=a[2], slowd_matype=talib.MA_Type.SMA)
        return {f"stoch_k_{suffix}": k, f"stoch_d_{suffix}": d}
    if name == "atr":
        return {f"atr_{suffix}": talib.ATR(h, l, c, a[0])}
    if name == "adx":
        return {f"adx_{suffix}": talib.ADX(h, l, c, a[0]), f"plus_di_{suffix}": talib.PLUS_DI(h, l, c, a[0]),
                f"minus_di_{suffix}": talib.MINUS_DI(h, l, c, a[0])}
    raise ValueError(spec)


def read_sample():
    times, rows = [], []
    with open(os.path.join(ROOT, "assets", "eurusd_h1_2017_2018.csv")) as f:
        reader = csv.reader(f)
        next(reader)
        for r in reader:
            times.append(r[0].replace(" ", "T") + "Z")
            rows.append([float(x) for x in r[1:6]])
    a = np.array(rows)
    return times, a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4]


def generated(seed, n, scale, flat_every=700, gap_every=450, spike_every=333):
    """Random walk in units of `scale` with flat stretches (o=h=l=c), gaps between bars and extreme bars."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    times, o, h, l, c = [], [], [], [], []
    price = 1000.0
    i = 0
    while i < n:
        times.append((start + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if i % flat_every < 40 and i >= flat_every:
            op = cl = hi = lo = price  # flat stretch: a closed market repeating the last price
        else:
            if i % gap_every == 0 and i > 0:
                price *= 1.0 + rng.choice([-1, 1]) * rng.uniform(0.02, 0.08)  # gap
            op = price
            move = rng.normal(0, 1.0)
            if i % spike_every == 0 and i > 0:
                move *= 40.0  # extreme bar
            cl = max(op + move, 1.0)
            hi = max(op, cl) + abs(rng.normal(0, 0.7))
            lo = max(min(op, cl) - abs(rng.normal(0, 0.7)), 0.5)
            if rng.random() < 0.05:
                cl = op  # exact doji
            if rng.random() < 0.03:
                hi = max(op, cl)  # no upper shadow
            price = cl
        o.append(op); h.append(hi); l.append(lo); c.append(cl)
        i += 1
    to = lambda v: np.round(np.array(v) * scale, 12) if scale < 1 else np.array(v) * scale
    vol = np.round(rng.uniform(0, 1000, n), 2)
    return times, to(o), to(h), to(l), to(c), vol


def write(name, times, o, h, l, c, v):
    cols = {}
    for spec in SPECS:
        cols.update(columns_for(spec, o, h, l, c))
    path = os.path.join(HERE, f"indicators_{name}.csv")
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", "open", "high", "low", "close", "volume"] + list(cols))
        for i, t in enumerate(times):
            out = [t, repr(float(o[i])), repr(float(h[i])), repr(float(l[i])), repr(float(c[i])), repr(float(v[i]))]
            out += ["" if np.isnan(col[i]) else repr(float(col[i])) for col in cols.values()]
            w.writerow(out)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {len(times)} rows, {len(cols)} indicator columns")


def main():
    print("TA-Lib", talib.__ta_version__.decode())
    with open(os.path.join(HERE, "indicators_specs.txt"), "w") as f:
        f.write(",".join(SPECS) + "\n")
    write("eurusd_h1", *read_sample())
    # Forex-like prices (around 1.1): flat stretches, gaps and spikes in pip-sized steps.
    write("synthetic_fx", *generated(7, 2500, 0.0011))
    # Prices around 0.00001 (a meme coin): every variance and range falls under TA-Lib's 1e-8 zero tests.
    write("synthetic_tiny", *generated(11, 2000, 0.00000001))
    # Prices around 50,000 (bitcoin).
    write("synthetic_large", *generated(13, 2000, 50.0))


if __name__ == "__main__":
    main()
