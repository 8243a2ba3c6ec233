//! Moving average convergence/divergence (TA-Lib `MACD`).

use super::{Ema, Indicator, IndicatorError, Source, check_period, column_with_capacity, with_fma};
use crate::domain::Bar;

/// One MACD output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// Fast EMA − slow EMA.
    pub macd: f64,
    /// EMA of the MACD line.
    pub signal: f64,
    /// MACD − signal.
    pub histogram: f64,
}

/// Streaming MACD.
///
/// TA-Lib starts both EMAs so that they are ready on the same bar: the fast EMA is seeded with the average of the
/// `fast` values just before that bar, not of the first `fast` values of the series. This struct feeds the fast EMA
/// only from bar `slow - fast` on, which gives the same numbers. A slow period below the fast one is swapped, as
/// TA-Lib does.
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    signal_period: usize,
    source: Source,
    fast: Ema,
    slow: Ema,
    signal: Ema,
    seen: usize,
    value: Option<MacdValue>,
}

impl Macd {
    /// A new MACD on closes; every period ≥ 2 except `signal` ≥ 1.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("macd", "fast period", fast, 2)?;
        check_period("macd", "slow period", slow, 2)?;
        check_period("macd", "signal period", signal, 1)?;
        let (fast, slow) = if slow < fast { (slow, fast) } else { (fast, slow) };
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            signal_period: signal,
            source: Source::Close,
            fast: Ema::new(fast)?,
            slow: Ema::new(slow)?,
            signal: Ema::new(signal)?,
            seen: 0,
            value: None,
        })
    }

    /// The same MACD reading another price.
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Feeds one value and returns the MACD once `slow + signal - 1` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<MacdValue> {
        self.seen += 1;
        let slow = self.slow.next(x);
        let fast = if self.seen > self.slow_period - self.fast_period { self.fast.next(x) } else { None };
        if let (Some(fast), Some(slow)) = (fast, slow) {
            let line = fast - slow;
            if let Some(signal) = self.signal.next(line) {
                self.value = Some(MacdValue { macd: line, signal, histogram: line - signal });
            }
        }
        self.value
    }
}

impl Indicator for Macd {
    type Output = MacdValue;

    fn update(&mut self, bar: &Bar) {
        self.next(self.source.of(bar));
    }

    fn value(&self) -> Option<MacdValue> {
        self.value
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.seen = 0;
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.slow_period - 1 + self.signal_period - 1
    }
}

/// MACD of `input` (TA-Lib `MACD(input, fast, slow, signal)`): the line, signal and histogram columns, `NaN` for
/// the first `slow + signal - 2` values.
pub fn macd(input: &[f64], fast: usize, slow: usize, signal: usize) -> Result<[Vec<f64>; 3], IndicatorError> {
    let mut state = Macd::new(fast, slow, signal)?;
    let n = input.len();
    let lookback = state.lookback();
    let mut out = [column_with_capacity(n), column_with_capacity(n), column_with_capacity(n)];
    // The warm-up runs the streaming struct; the rest continues its three EMAs in one tight loop with the same
    // arithmetic (bit-equal, tested).
    let split = (lookback + 1).min(n);
    for &x in &input[..split] {
        let v = state.next(x);
        out[0].push(v.map_or(f64::NAN, |v| v.macd));
        out[1].push(v.map_or(f64::NAN, |v| v.signal));
        out[2].push(v.map_or(f64::NAN, |v| v.histogram));
    }
    let (Some(mut slow_ema), Some(mut fast_ema), Some(mut signal_ema)) =
        (state.slow.value(), state.fast.value(), state.signal.value())
    else {
        return Ok(out);
    };
    let (ks, kf, kg) = (state.slow.k(), state.fast.k(), state.signal.k());
    with_fma(|| {
        let [out_line, out_signal, out_histogram] = &mut out;
        for &x in &input[split..] {
            slow_ema = (x - slow_ema).mul_add(ks, slow_ema);
            fast_ema = (x - fast_ema).mul_add(kf, fast_ema);
            let line = fast_ema - slow_ema;
            signal_ema = (line - signal_ema).mul_add(kg, signal_ema);
            out_line.push(line);
            out_signal.push(signal_ema);
            out_histogram.push(line - signal_ema);
        }
    });
    Ok(out)
}
