//! Technical indicators identical to TA-Lib (the C library), each as a batch function over columns and as a
//! streaming struct behind the [`Indicator`] trait; the batch functions run the streaming structs, so both give
//! bit-identical numbers. Warm-up values are `NaN` exactly where TA-Lib's are.
//!
//! TA-Lib's arithmetic order is reproduced on purpose (running sums updated by adding the newest and subtracting
//! the oldest value, Wilder smoothing as `(prev * (n - 1) + x) / n`, exact-zero tests before dividing), because traders
//! compare our numbers with TA-Lib and TradingView digit by digit. Imports `domain` only.

/// Implements `with_source` and [`Indicator`] for a one-input indicator with `period`, `source` and `value`
/// fields, a `next(x)` step and a `fresh(period)` constructor; `reset` rebuilds the fresh state.
macro_rules! single_input_indicator {
    ($ty:ident, lookback = $lookback:expr) => {
        impl $ty {
            /// The same indicator reading another price.
            pub fn with_source(mut self, source: $crate::indicators::Source) -> Self {
                self.source = source;
                self
            }
        }

        impl $crate::indicators::Indicator for $ty {
            type Output = f64;

            fn update(&mut self, bar: &$crate::domain::Bar) {
                self.next(self.source.of(bar));
            }

            fn value(&self) -> Option<f64> {
                self.value
            }

            fn reset(&mut self) {
                *self = Self::fresh(self.period).with_source(self.source);
            }

            fn lookback(&self) -> usize {
                let lookback: fn(usize) -> usize = $lookback;
                lookback(self.period)
            }
        }
    };
}

mod adx;
mod atr;
mod bbands;
mod ema;
mod macd;
mod rsi;
mod sma;
mod spec;
mod stoch;
pub mod time_features;
mod wma;

pub use adx::{Adx, AdxValue, adx};
pub use atr::{Atr, TrueRange, atr, true_range};
pub use bbands::{BollingerBands, BollingerValue, RollingVariance, bollinger_bands};
pub use ema::{Ema, ema};
pub use macd::{Macd, MacdValue, macd};
pub use rsi::{Rsi, rsi};
pub use sma::{Sma, sma, sma_pair};
pub use spec::{Column, IndicatorSpec, compute_columns, parse_spec_list};
pub use stoch::{Stoch, StochValue, stochastic};
pub use wma::{Wma, wma};

use crate::domain::Bar;

/// Errors of indicator parameters and specifications.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum IndicatorError {
    /// A period or other parameter outside its valid range.
    #[error("{indicator}: {parameter} must be {expected}, got {value}")]
    InvalidParameter {
        /// Indicator name (`sma`, `macd` …).
        indicator: &'static str,
        /// Parameter name (`period`, `fast` …).
        parameter: &'static str,
        /// The accepted range in words.
        expected: &'static str,
        /// The rejected value as written.
        value: String,
    },
    /// An item of a `--set` list that cannot be read.
    #[error("indicator spec `{item}`: {reason}")]
    InvalidSpec {
        /// The item as the user wrote it.
        item: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The price a single-input indicator reads from a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Open price.
    Open,
    /// High price.
    High,
    /// Low price.
    Low,
    /// Close price (the default).
    #[default]
    Close,
    /// (high + low) / 2.
    Hl2,
    /// (high + low + close) / 3.
    Hlc3,
    /// (open + high + low + close) / 4.
    Ohlc4,
}

impl Source {
    /// The source's value for one bar.
    #[inline]
    pub fn of(self, bar: &Bar) -> f64 {
        match self {
            Self::Open => bar.open,
            Self::High => bar.high,
            Self::Low => bar.low,
            Self::Close => bar.close,
            Self::Hl2 => (bar.high + bar.low) / 2.0,
            Self::Hlc3 => (bar.high + bar.low + bar.close) / 3.0,
            Self::Ohlc4 => (bar.open + bar.high + bar.low + bar.close) / 4.0,
        }
    }

    /// The lower-case name (`close`, `hl2`), as [`Source::parse`] reads it and Pine spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Hl2 => "hl2",
            Self::Hlc3 => "hlc3",
            Self::Ohlc4 => "ohlc4",
        }
    }

    /// Parses `open`, `high`, `low`, `close`, `hl2`, `hlc3` or `ohlc4`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "open" => Self::Open,
            "high" => Self::High,
            "low" => Self::Low,
            "close" => Self::Close,
            "hl2" => Self::Hl2,
            "hlc3" => Self::Hlc3,
            "ohlc4" => Self::Ohlc4,
            _ => return None,
        })
    }
}

/// A streaming indicator: feed bars in time order with [`update`](Indicator::update), read the latest output with
/// [`value`](Indicator::value) (`None` during the warm-up).
pub trait Indicator {
    /// One output (a number, or a struct for multi-line indicators).
    type Output: Copy;
    /// Feeds the next bar.
    fn update(&mut self, bar: &Bar);
    /// The output after the last bar, `None` while warming up.
    fn value(&self) -> Option<Self::Output>;
    /// Whether the warm-up is over.
    fn is_ready(&self) -> bool {
        self.value().is_some()
    }
    /// Forgets every bar seen so far.
    fn reset(&mut self);
    /// Bars consumed before the first output (TA-Lib's lookback).
    fn lookback(&self) -> usize;
}

/// TA-Lib's zero test for divisors. TA-Lib 0.4 treated |v| < 1e-8 as zero, which broke every indicator on
/// low-priced instruments; the 0.6+ C library (the reference here) divides whenever the divisor is not exactly
/// zero, down to subnormal numbers, and so do we.
#[inline]
pub(crate) fn talib_is_zero(v: f64) -> bool {
    v == 0.0
}

/// Checks `period >= min`, naming the indicator and parameter in the error.
pub(crate) fn check_period(
    indicator: &'static str,
    parameter: &'static str,
    period: usize,
    min: usize,
) -> Result<(), IndicatorError> {
    if period >= min && period <= 100_000 {
        Ok(())
    } else {
        Err(IndicatorError::InvalidParameter {
            indicator,
            parameter,
            expected: if min == 1 { "between 1 and 100000" } else { "between 2 and 100000" },
            value: period.to_string(),
        })
    }
}

/// Fixed-capacity ring of the last `capacity` values (no division on the hot path).
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    values: Vec<f64>,
    next: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { values: vec![0.0; capacity.max(1)], next: 0, len: 0 }
    }

    /// Pushes `x`, replacing the oldest value once the ring is full.
    #[inline(always)]
    pub(crate) fn push(&mut self, x: f64) {
        let capacity = self.values.len();
        self.values[self.next] = x;
        self.next += 1;
        if self.next == capacity {
            self.next = 0;
        }
        if self.len < capacity {
            self.len += 1;
        }
    }

    /// The oldest value held (the next to be replaced once full).
    #[inline(always)]
    pub(crate) fn oldest(&self) -> f64 {
        if self.len < self.values.len() { self.values[0] } else { self.values[self.next] }
    }

    #[inline(always)]
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.values.len()
    }

    /// The value that `better` prefers over all others (the latest among equals) and its age in pushes
    /// (0 = the newest value).
    pub(crate) fn extreme_with_age(&self, better: impl Fn(f64, f64) -> bool) -> (f64, usize) {
        let capacity = self.values.len();
        let mut best = (f64::NAN, 0);
        for age in 0..self.len {
            let x = self.values[(self.next + capacity - 1 - age) % capacity];
            if age == 0 || better(x, best.0) {
                best = (x, age);
            }
        }
        best
    }

    /// The held values in time order, oldest first, as two slices.
    #[inline(always)]
    pub(crate) fn time_ordered(&self) -> (&[f64], &[f64]) {
        if self.len < self.values.len() {
            (&self.values[..self.len], &[])
        } else {
            (&self.values[self.next..], &self.values[..self.next])
        }
    }

    pub(crate) fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
    }
}

/// Runs `body` compiled with FMA instructions when the CPU has them. `f64::mul_add` is correctly rounded either
/// way (TA-Lib's FMA build fuses the same operations, so the digits do not depend on this); without the CPU
/// feature enabled for the loop it becomes a libm call per value, three times slower.
#[inline(always)]
pub(crate) fn with_fma<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        fn fma_enabled<R>(body: impl FnOnce() -> R) -> R {
            body()
        }
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports FMA, checked just above.
            return unsafe { fma_enabled(body) };
        }
    }
    body()
}

/// An output column of `n` values whose first `warm_up` (capped at `n`) are `NaN`, with room for the rest.
#[inline]
pub(crate) fn warm_up_column(n: usize, warm_up: usize) -> Vec<f64> {
    let mut out = column_with_capacity(n);
    out.resize(warm_up.min(n), f64::NAN);
    out
}

/// A column of `n` `NaN`s.
pub(crate) fn nan_column(n: usize) -> Vec<f64> {
    let mut out = column_with_capacity(n);
    out.resize(n, f64::NAN);
    out
}

/// An empty column with room for `n` values. Columns of 4 MiB and more ask Linux for transparent huge pages
/// (as numpy does for its arrays): a 10-million-bar column then costs 40 page faults instead of 20,000, which
/// is a third of the time of a simple indicator.
pub(crate) fn column_with_capacity(n: usize) -> Vec<f64> {
    let out: Vec<f64> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    if n * std::mem::size_of::<f64>() >= 4 << 20 {
        const HUGE_PAGE: usize = 2 << 20;
        let start = (out.as_ptr() as usize).next_multiple_of(HUGE_PAGE);
        let end = (out.as_ptr() as usize + n * std::mem::size_of::<f64>()) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: the range lies inside the allocation `out` owns; madvise only advises the kernel about how
            // to back those pages and neither reads nor writes them.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    out
}

/// Runs a single-input streaming indicator over a column; `NaN` where it is not ready.
#[inline(always)]
pub(crate) fn run_single<I>(
    mut indicator: I,
    input: &[f64],
    mut update: impl FnMut(&mut I, f64) -> Option<f64>,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(input.len());
    out.extend(input.iter().map(|&x| update(&mut indicator, x).unwrap_or(f64::NAN)));
    out
}
