#!/usr/bin/env python3
"""Writes the golden CSV files that `tests/candles_talib.rs` compares `aio::patterns::candles` against.

How to run (from the repository root):

    python3 -m venv /tmp/talib-venv
    /tmp/talib-venv/bin/pip install numpy ta-lib        # PyPI `ta-lib` wheel (bundles the TA-Lib C library)
    /tmp/talib-venv/bin/python tests/golden/make_candles_golden.py

The files were produced with the PyPI wheel ta-lib 0.8.2 (TA-Lib C 0.8.1) on an x86-64 CPU with FMA. That wheel
builds CDLMORNINGSTAR (and CDLPIERCING) twice and picks the FMA build at load time on CPUs that have FMA, so the
morning-star "closes well within the first body" threshold `close[i-2] + body[i-2] * penetration` is a fused
multiply-add there. The Rust port always fuses it (`f64::mul_add`); the script refuses to run where TA-Lib does
not, because the golden morning-star column would then disagree on the rows built to tell the two apart.

Output, all in this folder (the script's own directory):

* `candles_eurusd_h1.csv`  - the 5000 real bars of `assets/eurusd_h1_2017_2018.csv`;
* `candles_synthetic.csv`  - 5000 generated bars (fixed seed) that exercise every pattern and its edge cases:
  dojis with open == close exactly, four-price bars (o = h = l = c), flat stretches, gaps, extreme moves,
  shaved candles, runs of same-coloured candles, textbook hammers / stars / engulfings / haramis, equal-edge
  engulfings and haramis (TA-Lib answers +-80 there), bars on a binary grid whose averages tie exactly with
  bodies, morning / evening stars whose third close sits exactly on the penetration threshold, and bad ticks
  followed by bars whose body lies between TA-Lib's running-sum doji threshold and a re-summed one;
* `candles_edge.csv`       - 300 generated bars behind four rows holding NaN: the Python wrapper starts TA-Lib at
  the first row where open, high, low and close are all numbers and reports 0 before it.

Format: header `bar,open,high,low,close,<columns>`; one column per pattern named like the TA-Lib function
(`CDLDOJI` ...), plus `CDLMORNINGSTAR@0.1`-style columns computed with a non-default penetration. Floats are
written with `repr()` so they read back bit-exact; pattern values are TA-Lib's integers (0, +-80, +-100).
"""

import csv
import math
import os
import random
import sys
from fractions import Fraction

import numpy as np
import talib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EURUSD = os.path.join(REPO, "assets", "eurusd_h1_2017_2018.csv")

# The patterns of `aio::patterns::candles::CandlePattern::ALL`, in that order.
PATTERNS = [
    "CDLDOJI",
    "CDLDRAGONFLYDOJI",
    "CDLGRAVESTONEDOJI",
    "CDLHAMMER",
    "CDLHANGINGMAN",
    "CDLINVERTEDHAMMER",
    "CDLSHOOTINGSTAR",
    "CDLENGULFING",
    "CDLHARAMI",
    "CDLPIERCING",
    "CDLDARKCLOUDCOVER",
    "CDLMORNINGSTAR",
    "CDLEVENINGSTAR",
    "CDL3WHITESOLDIERS",
    "CDL3BLACKCROWS",
    "CDLMARUBOZU",
    "CDLSPINNINGTOP",
]
# Extra columns with a non-default penetration (pattern, penetration).
PENETRATION_COLUMNS = [
    ("CDLMORNINGSTAR", 0.1),
    ("CDLMORNINGSTAR", 0.5),
    ("CDLEVENINGSTAR", 0.1),
    ("CDLEVENINGSTAR", 0.5),
    ("CDLDARKCLOUDCOVER", 0.3),
]

SEED = 20240607
N_SYNTHETIC = 5000


def fused(a, b, c):
    """a * b + c rounded once (what an FMA instruction computes)."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def compute_columns(o, h, l, c):
    arrays = [np.asarray(x, dtype=np.float64) for x in (o, h, l, c)]
    cols = {}
    for name in PATTERNS:
        cols[name] = getattr(talib, name)(*arrays)
    for name, pen in PENETRATION_COLUMNS:
        cols[f"{name}@{pen!r}"] = getattr(talib, name)(*arrays, penetration=pen)
    return cols


def write_golden(path, o, h, l, c):
    cols = compute_columns(o, h, l, c)
    names = list(cols)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["bar", "open", "high", "low", "close"] + names)
        for i in range(len(o)):
            w.writerow([i, repr(o[i]), repr(h[i]), repr(l[i]), repr(c[i])] + [int(cols[n][i]) for n in names])
    fires = {n: int(np.count_nonzero(cols[n])) for n in names}
    print(f"wrote {os.path.relpath(path, REPO)}: {len(o)} bars")
    for n in names:
        values = sorted({int(v) for v in cols[n] if v != 0})
        print(f"    {n:24s} fires {fires[n]:5d}  values {values}")


# --------------------------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------------------------


def load_eurusd():
    o, h, l, c = [], [], [], []
    with open(EURUSD, newline="") as f:
        rows = csv.DictReader(f)
        for row in rows:
            o.append(float(row["Open"]))
            h.append(float(row["High"]))
            l.append(float(row["Low"]))
            c.append(float(row["Close"]))
    return o, h, l, c


# --------------------------------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------------------------------


class Gen:
    """Appends bars segment by segment; `price` is the last close, `vol` a typical body size."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.bars = []
        self.price = 1.2
        self.vol = 0.002

    # -- helpers -------------------------------------------------------------------------------------------------
    def r5(self, x):
        return round(x, 5)

    def g(self, sigma=1.0):
        return self.rng.gauss(0.0, sigma)

    def u(self, a, b):
        return self.rng.uniform(a, b)

    def add(self, o, h, l, c, rounding=True):
        if rounding:
            o, h, l, c = self.r5(o), self.r5(h), self.r5(l), self.r5(c)
        h = max(h, o, c)
        l = min(l, o, c)
        self.bars.append((o, h, l, c))
        self.price = c

    def candle(self, o, body, up, down, rounding=True):
        """A candle from open, signed body and the two shadow lengths."""
        c = o + body
        self.add(o, max(o, c) + up, min(o, c) - down, c, rounding)

    def drift(self):
        # keep prices in a sane band by nudging back towards 1.2
        return (1.2 - self.price) * 0.02

    # -- segments ------------------------------------------------------------------------------------------------
    def normal(self, n, rounding=True):
        v = self.vol
        for _ in range(n):
            o = self.price + (self.g(0.15 * v) if self.rng.random() < 0.3 else 0.0)
            body = self.g(v) + self.drift()
            self.candle(o, body, abs(self.g(0.6 * v)), abs(self.g(0.6 * v)), rounding)

    def trend(self, n, direction):
        v = self.vol
        for _ in range(n):
            body = direction * abs(self.g(v)) + 0.3 * direction * v
            if self.rng.random() < 0.25:
                body = -body * 0.4
            self.candle(self.price, body, abs(self.g(0.5 * v)), abs(self.g(0.5 * v)))

    def white_soldiers(self, n):
        v = self.vol
        self.trend(self.rng.randint(2, 5), -1)
        prev_o, prev_c = None, None
        for k in range(n):
            body = v * self.u(0.9, 2.2)
            if prev_o is None:
                o = self.price - v * self.u(0.0, 0.3)
            else:
                # open within (or at the top of) the previous real body
                pick = self.rng.random()
                if pick < 0.15:
                    o = prev_c
                elif pick < 0.25:
                    o = prev_c + v * self.u(0.0, 0.15)  # slightly above: "near"
                else:
                    o = prev_o + (prev_c - prev_o) * self.u(0.2, 0.9)
            up = 0.0 if self.rng.random() < 0.5 else v * self.u(0.0, 0.12)
            self.candle(o, body, up, v * self.u(0.0, 0.5))
            prev_o, prev_c = self.bars[-1][0], self.bars[-1][3]

    def black_crows(self, n):
        v = self.vol
        self.trend(self.rng.randint(2, 5), 1)
        # a white candle, then black candles opening within the prior body, each closing lower
        self.candle(self.price, v * self.u(0.8, 1.6), v * self.u(0.1, 0.5), v * self.u(0.0, 0.3))
        prev_o, prev_c = None, None
        for k in range(n):
            body = -v * self.u(0.9, 2.2)
            if prev_o is None:
                o = self.price - v * self.u(0.0, 0.2)
            else:
                pick = self.rng.random()
                if pick < 0.1:
                    o = prev_c  # opens exactly at the prior close: not "within"
                else:
                    o = prev_c + (prev_o - prev_c) * self.u(0.1, 0.9)
            down = 0.0 if self.rng.random() < 0.5 else v * self.u(0.0, 0.12)
            self.candle(o, body, v * self.u(0.0, 0.5), down)
            prev_o, prev_c = self.bars[-1][0], self.bars[-1][3]

    def dojis(self, n):
        v = self.vol
        for _ in range(n):
            o = self.price + self.g(0.2 * v)
            kind = self.rng.random()
            if kind < 0.25:  # dragonfly: open = close = high
                self.add(o, o, o - v * self.u(0.5, 2.5), o)
            elif kind < 0.5:  # gravestone: open = close = low
                self.add(o, o + v * self.u(0.5, 2.5), o, o)
            elif kind < 0.6:  # four-price doji
                self.add(o, o, o, o)
            elif kind < 0.8:  # long-legged
                self.add(o, o + v * self.u(0.3, 2.0), o - v * self.u(0.3, 2.0), o)
            else:  # near-doji, tiny body
                self.candle(o, self.g(0.05 * v), v * self.u(0.1, 1.5), v * self.u(0.1, 1.5))

    def flat(self, n):
        p = self.price
        for _ in range(n):
            self.add(p, p, p, p)

    def gap(self):
        v = self.vol
        self.price += self.rng.choice([-1, 1]) * v * self.u(3.0, 20.0)
        self.normal(self.rng.randint(2, 6))

    def extreme(self, n):
        v = self.vol
        for _ in range(n):
            body = self.rng.choice([-1, 1]) * v * self.u(8.0, 40.0)
            body += (1.2 - self.price - body) * 0.3 if abs(self.price - 1.2) > 0.3 else 0.0
            self.candle(self.price, body, v * self.u(0.0, 10.0), v * self.u(0.0, 10.0))

    def hammer_like(self):
        """Downtrend then hammer, or uptrend then hanging man (same candle shape, different place)."""
        v = self.vol
        up = self.rng.random() < 0.5
        self.trend(self.rng.randint(3, 7), 1 if up else -1)
        prev_h, prev_l = self.bars[-1][1], self.bars[-1][2]
        body = v * self.u(0.05, 0.5) * self.rng.choice([-1, 1])
        lower = abs(body) * self.u(1.2, 4.0) + v * self.u(0.0, 1.0)
        upper = 0.0 if self.rng.random() < 0.6 else v * self.u(0.0, 0.1)
        if up:  # body near the prior high
            top = prev_h + v * self.u(-0.2, 0.3)
        else:  # body near the prior low
            top = prev_l + abs(body) + v * self.u(-0.3, 0.2)
        o = top - abs(body) if body > 0 else top
        self.candle(o, body, upper, lower)
        self.normal(self.rng.randint(0, 2))

    def inverted_like(self):
        """Gap down + inverted hammer after a downtrend, or gap up + shooting star after an uptrend."""
        v = self.vol
        up = self.rng.random() < 0.5
        self.trend(self.rng.randint(3, 7), 1 if up else -1)
        po, pc = self.bars[-1][0], self.bars[-1][3]
        body = v * self.u(0.05, 0.5) * self.rng.choice([-1, 1])
        if up:
            bottom = max(po, pc) + v * self.u(0.0, 0.6)
        else:
            bottom = min(po, pc) - abs(body) - v * self.u(0.0, 0.6)
        o = bottom if body > 0 else bottom + abs(body)
        upper = abs(body) * self.u(1.2, 4.0) + v * self.u(0.0, 1.0)
        lower = 0.0 if self.rng.random() < 0.6 else v * self.u(0.0, 0.1)
        self.candle(o, body, upper, lower)
        self.normal(self.rng.randint(0, 2))

    def engulfing(self):
        v = self.vol
        bull = self.rng.random() < 0.5
        d = 1 if bull else -1
        self.trend(self.rng.randint(2, 5), -d)
        b1 = v * self.u(0.3, 1.2)
        o1 = self.price
        c1 = o1 - d * b1
        self.add(o1, max(o1, c1) + v * 0.2, min(o1, c1) - v * 0.2, c1)
        o1, c1 = self.bars[-1][0], self.bars[-1][3]
        kind = self.rng.random()
        o2 = c1 - d * v * self.u(0.05, 0.5)
        c2 = o1 + d * v * self.u(0.05, 0.8)
        if kind < 0.2:
            o2 = c1  # matching on the open side: TA-Lib answers 80
        elif kind < 0.4:
            c2 = o1  # matching on the close side: 80
        elif kind < 0.45:
            o2, c2 = c1, o1  # both ends match: not engulfing
        self.add(o2, max(o2, c2) + v * 0.1, min(o2, c2) - v * 0.1, c2)
        self.normal(self.rng.randint(0, 2))

    def harami(self):
        v = self.vol
        d = self.rng.choice([-1, 1])
        self.normal(self.rng.randint(1, 3))
        o1 = self.price
        c1 = o1 + d * v * self.u(1.5, 3.5)  # long first body
        self.add(o1, max(o1, c1) + v * 0.2, min(o1, c1) - v * 0.2, c1)
        o1, c1 = self.bars[-1][0], self.bars[-1][3]
        lo, hi = min(o1, c1), max(o1, c1)
        b2 = v * self.u(0.1, 0.8) * self.rng.choice([-1, 1])
        kind = self.rng.random()
        if kind < 0.2:
            bottom = lo  # second body sits on the first body's bottom: 80
        elif kind < 0.4:
            bottom = hi - abs(b2)  # ... on its top: 80
        else:
            bottom = lo + (hi - lo - abs(b2)) * self.u(0.05, 0.95)
        o2 = bottom if b2 > 0 else bottom + abs(b2)
        self.candle(o2, b2, v * self.u(0.0, 1.0), v * self.u(0.0, 1.0))
        self.normal(self.rng.randint(0, 2))

    def star(self, morning, pen=0.3, exact=None):
        """Morning star (long black, short star gapping down, white into the first body) or evening star.

        `exact`: put the third close exactly on the penetration threshold computed fused ("fused") or unfused
        ("unfused"), choosing first bodies where the two roundings differ.
        """
        v = self.vol
        d = -1 if morning else 1  # direction of the first candle
        self.trend(self.rng.randint(2, 5), d)
        while True:
            b1 = round(v * self.u(2.0, 4.0), 5)
            o1 = self.r5(self.price)
            c1 = self.r5(o1 + d * b1)
            body = abs(c1 - o1)
            plain = c1 - d * body * pen  # Python floats: one rounding per operation
            fma = fused(body, -d * pen, c1)
            if exact is None or plain != fma:
                break
        self.add(o1, max(o1, c1) + v * 0.1, min(o1, c1) - v * 0.1, c1, rounding=False)
        # the star: short body gapping away from the first body
        gap = v * self.u(0.1, 0.8)
        sb = v * self.u(0.0, 0.4) * self.rng.choice([-1, 1])
        if morning:
            s_top = min(o1, c1) - gap
            so = s_top if sb < 0 else s_top - abs(sb)
        else:
            s_bot = max(o1, c1) + gap
            so = s_bot if sb > 0 else s_bot + abs(sb)
        self.candle(so, sb, v * self.u(0.0, 0.5), v * self.u(0.0, 0.5))
        s_o, s_c = self.bars[-1][0], self.bars[-1][3]
        # the third candle: opposite colour, closing into the first body
        if exact == "fused":
            c3 = fma
        elif exact == "unfused":
            c3 = plain
        else:
            c3 = self.r5(c1 - d * body * self.u(0.1, 0.9))
        o3 = (min(s_o, s_c) - v * self.u(0.0, 0.3)) if morning else (max(s_o, s_c) + v * self.u(0.0, 0.3))
        o3 = self.r5(o3)
        self.add(o3, max(o3, c3) + v * 0.1, min(o3, c3) - v * 0.1, c3, rounding=False)
        self.normal(self.rng.randint(0, 2))

    def piercing_or_dark_cloud(self):
        v = self.vol
        piercing = self.rng.random() < 0.5
        d = -1 if piercing else 1
        self.trend(self.rng.randint(2, 5), d)
        o1 = self.price
        c1 = o1 + d * v * self.u(1.5, 3.0)
        self.add(o1, max(o1, c1) + v * 0.2, min(o1, c1) - v * 0.2, c1)
        o1, h1, l1, c1 = self.bars[-1]
        body = abs(c1 - o1)
        if piercing:
            o2 = l1 - v * self.u(0.05, 0.8)
            c2 = c1 + body * self.u(0.3, 0.99)
            if self.rng.random() < 0.15:
                c2 = c1 + body * 0.5  # exactly the midpoint: not above it
        else:
            o2 = h1 + v * self.u(0.05, 0.8)
            c2 = c1 - body * self.u(0.3, 0.99)
            if self.rng.random() < 0.15:
                c2 = c1 - body * 0.5
        self.add(o2, max(o2, c2) + v * 0.1, min(o2, c2) - v * 0.1, c2)
        self.normal(self.rng.randint(0, 2))

    def marubozu(self, n):
        v = self.vol
        for _ in range(n):
            body = self.rng.choice([-1, 1]) * v * self.u(1.0, 3.0)
            shave = self.rng.random()
            up = 0.0 if shave < 0.7 else v * self.u(0.0, 0.2)
            down = 0.0 if shave < 0.5 or shave > 0.85 else v * self.u(0.0, 0.2)
            self.candle(self.price, body, up, down)

    def spinning_tops(self, n):
        v = self.vol
        for _ in range(n):
            body = self.g(0.3 * v)
            self.candle(self.price, body, abs(body) + v * self.u(0.0, 1.5), abs(body) + v * self.u(0.0, 1.5))

    def binary_grid(self, n):
        """Prices on a 1/1024 grid with equal bodies and ranges: averages tie exactly with the current bar."""
        q = 1.0 / 1024.0
        base = math.floor(self.price / q) * q
        body = q * self.rng.choice([1, 2, 4])
        rng_ = body * self.rng.choice([1, 2, 3, 10, 20])
        for k in range(n):
            d = 1 if (k // self.rng.choice([1, 2, 3])) % 2 == 0 else -1
            o = base
            c = o + d * body
            extra = rng_ - body
            up = math.floor(extra / 2 / q) * q
            self.add(o, max(o, c) + up, min(o, c) - (extra - up), c, rounding=False)
            if self.rng.random() < 0.3:
                base = c

    def doji_thresholds(self):
        """CDLDOJI's threshold for the next bar from TA-Lib's running period total, and from two other orders.

        TA-Lib sums the high-low range of bars 0..10 once, then after each bar adds `(newest - oldest)`; the
        alternatives are a fresh 10-bar sum and `(total + newest) - oldest`.
        """
        ranges = [h - l for (_, h, l, _) in self.bars]
        period = 10
        total = 0.0
        for k in range(period):
            total += ranges[k]
        regrouped = total
        for i in range(period, len(ranges)):
            total += ranges[i] - ranges[i - period]
            regrouped = (regrouped + ranges[i]) - ranges[i - period]
        fresh = 0.0
        for k in range(len(ranges) - period, len(ranges)):
            fresh += ranges[k]

        def threshold(s):
            return 0.1 * (s / period) / 1.0

        return threshold(total), [threshold(fresh), threshold(regrouped)]

    def running_sum_probes(self):
        """A bad tick (range ~1e5) leaves rounding residue in TA-Lib's running totals for good; once it has left
        the 10-bar window, bars whose body lies strictly between TA-Lib's doji threshold and the threshold of
        another summation order tell the orders apart."""
        v = self.vol
        p = self.r5(self.price)
        self.add(p, p + 1e5 * self.u(0.5, 1.0), p - v, p)
        self.normal(11)
        for _ in range(3):
            running, others = self.doji_thresholds()
            for other in others:
                lo, hi = sorted((running, other))
                o = self.r5(self.price)
                c = o + (lo + hi) / 2 * self.rng.choice([-1, 1])
                if lo < abs(c - o) < hi:
                    self.add(o, max(o, c) + v * self.u(0.2, 1.0), min(o, c) - v * self.u(0.2, 1.0), c, rounding=False)
                self.normal(1)

    def unrounded(self, n):
        """Full-precision random floats (no 5-decimal rounding), to stress the running sums."""
        self.normal(n, rounding=False)

    def regime(self):
        self.vol = self.price * self.rng.choice([0.0005, 0.001, 0.002, 0.004])

    # -- driver --------------------------------------------------------------------------------------------------
    def build(self, n_bars):
        self.normal(30)
        segments = [
            (12, lambda: self.normal(self.rng.randint(5, 30))),
            (3, lambda: self.unrounded(self.rng.randint(5, 30))),
            (6, lambda: self.white_soldiers(self.rng.randint(3, 6))),
            (6, lambda: self.black_crows(self.rng.randint(3, 6))),
            (5, lambda: self.dojis(self.rng.randint(1, 6))),
            (2, lambda: self.flat(self.rng.randint(3, 25))),
            (3, self.gap),
            (2, lambda: self.extreme(self.rng.randint(1, 3))),
            (6, self.hammer_like),
            (6, self.inverted_like),
            (6, self.engulfing),
            (6, self.harami),
            (4, lambda: self.star(True)),
            (4, lambda: self.star(False)),
            (5, self.piercing_or_dark_cloud),
            (3, lambda: self.marubozu(self.rng.randint(1, 4))),
            (3, lambda: self.spinning_tops(self.rng.randint(1, 4))),
            (2, lambda: self.binary_grid(self.rng.randint(12, 30))),
            (2, self.regime),
            (1, self.running_sum_probes),
            (1, lambda: self.star(True, exact="fused")),
            (1, lambda: self.star(True, exact="unfused")),
            (1, lambda: self.star(False, exact="fused")),
            (1, lambda: self.star(False, exact="unfused")),
        ]
        weights = [w for w, _ in segments]
        while len(self.bars) < n_bars:
            _, seg = self.rng.choices(segments, weights=weights)[0]
            seg()
        bars = self.bars[:n_bars]
        return [list(x) for x in zip(*bars)]


# --------------------------------------------------------------------------------------------------------------
# Checks on the TA-Lib build
# --------------------------------------------------------------------------------------------------------------


def assert_morning_star_threshold_is_fused():
    """Builds one morning star whose third close equals the unfused threshold and checks TA-Lib fires on it."""
    n = 16
    o = [1.5] * n
    h = [1.5002] * n
    l = [1.4999] * n
    c = [1.5001] * n
    rng = random.Random(7)
    while True:
        o1 = round(rng.uniform(1.0, 2.0), 5)
        c1 = round(o1 - rng.uniform(0.01, 0.05), 5)
        plain = c1 + abs(c1 - o1) * 0.3
        if fused(abs(c1 - o1), 0.3, c1) < plain:
            break
    o[-3], h[-3], l[-3], c[-3] = o1, o1, c1, c1
    o[-2], h[-2], l[-2], c[-2] = c1 - 0.002, c1 - 0.002, c1 - 0.0021, c1 - 0.0021
    o[-1], h[-1], l[-1], c[-1] = c1 - 0.0015, plain, c1 - 0.0015, plain
    got = talib.CDLMORNINGSTAR(*(np.array(x) for x in (o, h, l, c)))[-1]
    if got != 100:
        sys.exit(
            "this TA-Lib build computes the morning-star threshold without FMA (CPU without FMA?); the golden "
            "files assume the fused result - regenerate on an FMA-capable x86-64 machine"
        )


def main():
    print(f"ta-lib {talib.__version__}, TA-Lib C {talib.__ta_version__.decode()}")
    assert_morning_star_threshold_is_fused()

    o, h, l, c = load_eurusd()
    write_golden(os.path.join(HERE, "candles_eurusd_h1.csv"), o, h, l, c)

    o, h, l, c = Gen(SEED).build(N_SYNTHETIC)
    write_golden(os.path.join(HERE, "candles_synthetic.csv"), o, h, l, c)

    o, h, l, c = Gen(SEED + 1).build(300)
    nan = float("nan")
    lead = [(nan, nan, nan, nan), (nan, nan, nan, nan), (1.2, nan, 1.1, 1.15), (nan, 1.3, 1.1, 1.15)]
    o = [b[0] for b in lead] + o
    h = [b[1] for b in lead] + h
    l = [b[2] for b in lead] + l
    c = [b[3] for b in lead] + c
    write_golden(os.path.join(HERE, "candles_edge.csv"), o, h, l, c)


if __name__ == "__main__":
    main()
