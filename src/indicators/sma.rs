//! Simple moving average (TA-Lib `SMA`).

use super::{IndicatorError, Ring, Source, check_period, warm_up_column};

/// Streaming simple moving average over `period` values.
///
/// Like TA-Lib, the window total is a running sum: the newest value is added, the output is read, and the oldest
/// value is subtracted, so long series give TA-Lib's exact digits.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    source: Source,
    window: Ring,
    total: f64,
    value: Option<f64>,
}

impl Sma {
    /// A new SMA on closes; `period` ≥ 1.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("sma", "period", period, 1)?;
        Ok(Self::fresh(period))
    }

    /// The state before the first value, for a checked `period`.
    fn fresh(period: usize) -> Self {
        Self { period, source: Source::Close, window: Ring::new(period), total: 0.0, value: None }
    }

    /// Feeds one value and returns the average once `period` values were seen.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        self.total += x;
        self.window.push(x);
        if self.window.is_full() {
            let value = self.total / self.period as f64;
            self.total -= self.window.oldest();
            self.value = Some(value);
        }
        self.value
    }
}

single_input_indicator!(Sma, lookback = |period| period - 1);

/// SMA of `input` (TA-Lib `SMA(input, period)`); the first `period - 1` values are `NaN`.
///
/// A tight loop with the streaming struct's arithmetic, in the same order (the tests check bit equality).
pub fn sma(input: &[f64], period: usize) -> Result<Vec<f64>, IndicatorError> {
    check_period("sma", "period", period, 1)?;
    let mut out = warm_up_column(input.len(), period - 1);
    if input.len() < period {
        return Ok(out);
    }
    let p = period as f64;
    let mut total = input[..period - 1].iter().fold(0.0, |t, &x| t + x);
    for (&x, &oldest) in input[period - 1..].iter().zip(input) {
        total += x;
        out.push(total / p);
        total -= oldest;
    }
    Ok(out)
}

/// Two SMAs of one input in one pass (`[sma(input, a), sma(input, b)]`, bit for bit: each running total is
/// updated in the same order as in [`sma`]). One running total is a chain of dependent additions the processor
/// cannot overlap with itself; two independent chains in one loop overlap, so both cost about as much as one.
pub fn sma_pair(input: &[f64], a: usize, b: usize) -> Result<[Vec<f64>; 2], IndicatorError> {
    check_period("sma", "period", a, 1)?;
    check_period("sma", "period", b, 1)?;
    let (short, long) = (a.min(b), a.max(b));
    if short == long || input.len() < long {
        return Ok([sma(input, a)?, sma(input, b)?]);
    }
    let n = input.len();
    let (mut short_out, mut long_out) = (warm_up_column(n, short - 1), warm_up_column(n, long - 1));
    let (short_len, long_len) = (short as f64, long as f64);
    let mut short_total = input[..short - 1].iter().fold(0.0, |t, &x| t + x);
    // The short average alone until the long one has its first value.
    for (&x, &oldest) in input[short - 1..long - 1].iter().zip(input) {
        short_total += x;
        short_out.push(short_total / short_len);
        short_total -= oldest;
    }
    let mut long_total = input[..long - 1].iter().fold(0.0, |t, &x| t + x);
    let short_oldest = &input[long - short..];
    for ((&x, &oldest_short), &oldest_long) in input[long - 1..].iter().zip(short_oldest).zip(input) {
        short_total += x;
        long_total += x;
        short_out.push(short_total / short_len);
        long_out.push(long_total / long_len);
        short_total -= oldest_short;
        long_total -= oldest_long;
    }
    Ok(if a <= b { [short_out, long_out] } else { [long_out, short_out] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_averages_the_last_period_values_after_warm_up() {
        let out = sma(&[1.0, 2.0, 3.0, 4.0, 5.0], 3).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[2.0, 3.0, 4.0]);
    }

    #[test]
    fn sma_pair_gives_the_bits_of_two_sma_calls() {
        let input: Vec<f64> =
            (0..500).map(|i| 1.1 + ((i * 7919) % 103) as f64 * 1e-4 - (i as f64).sin() * 1e-3).collect();
        for (a, b) in [(20, 50), (50, 20), (1, 7), (7, 7), (3, 499), (3, 500), (3, 501)] {
            let [x, y] = sma_pair(&input, a, b).unwrap();
            let (want_x, want_y) = (sma(&input, a).unwrap(), sma(&input, b).unwrap());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!((bits(&x), bits(&y)), (bits(&want_x), bits(&want_y)), "{a}, {b}");
        }
        assert!(sma_pair(&input, 0, 5).is_err());
    }

    #[test]
    fn sma_rejects_period_zero() {
        assert!(matches!(Sma::new(0), Err(IndicatorError::InvalidParameter { parameter: "period", .. })));
    }
}
