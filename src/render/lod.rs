//! Levels of detail for millions of bars: a pyramid of min/max envelopes built once per dataset.
//!
//! Level 0 is the bars themselves (read from the `f64` columns, converted to `f32` only for the chunks uploaded);
//! level `L ≥ 1` merges `2^L` consecutive bars per bucket (first open, highest high, lowest low, last close,
//! summed volume) and is kept as `f32`. A view picks the level whose buckets are at least one pixel wide, so a
//! fully zoomed-out 10-million-bar chart draws about as many buckets as the screen has pixel columns.

use std::{ops::Range, sync::Arc};

use crate::domain::Bars;

/// One merged level of the pyramid, in columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Level {
    /// Bars per bucket (`2^level`).
    pub bucket_bars: usize,
    /// First open of each bucket.
    pub open: Vec<f32>,
    /// Highest high.
    pub high: Vec<f32>,
    /// Lowest low.
    pub low: Vec<f32>,
    /// Last close.
    pub close: Vec<f32>,
    /// Summed volume.
    pub volume: Vec<f32>,
}

impl Level {
    /// Buckets in this level.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when the level has no buckets.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Every level of detail of one dataset.
#[derive(Debug, Clone, Default)]
pub struct LodPyramid {
    bars: Arc<Bars>,
    /// Levels 1, 2, … (index `L - 1`).
    merged: Vec<Level>,
}

/// The bar whose value bucket `bucket` of `bucket_bars` bars shows for an indicator: its last one, the dataset's
/// last bar for a partial bucket (`sample_bar` in series.wgsl). `bar_count` must be positive.
pub fn sample_bar(bucket: usize, bucket_bars: usize, bar_count: usize) -> usize {
    ((bucket + 1) * bucket_bars).min(bar_count) - 1
}

/// Rounds `v` to the nearest `f32` at or above it, so an `f32` high never lies below the true high.
fn f32_up(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) < v { f.next_up() } else { f }
}

/// Rounds `v` to the nearest `f32` at or below it.
fn f32_down(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) > v { f.next_down() } else { f }
}

/// Level 1 straight from the bars (pairs of bars), so no `f32` copy of level 0 is ever made.
fn first_merged(bars: &Bars) -> Level {
    let n = bars.len();
    let len = n.div_ceil(2);
    let pair = |i: usize| (2 * i, (2 * i + 1).min(n - 1));
    let (open, high, low, close, volume) = (bars.open(), bars.high(), bars.low(), bars.close(), bars.volume());
    Level {
        bucket_bars: 2,
        open: (0..len).map(|i| open[2 * i] as f32).collect(),
        high: (0..len).map(|i| f32_up(high[pair(i).0].max(high[pair(i).1]))).collect(),
        low: (0..len).map(|i| f32_down(low[pair(i).0].min(low[pair(i).1]))).collect(),
        close: (0..len).map(|i| close[pair(i).1] as f32).collect(),
        volume: (0..len)
            .map(|i| {
                let (a, b) = pair(i);
                (if a == b { volume[a] } else { volume[a] + volume[b] }) as f32
            })
            .collect(),
    }
}

/// The next level: pairs of `prev`'s buckets.
fn merge(prev: &Level) -> Level {
    let len = prev.len().div_ceil(2);
    let pair = |i: usize| (2 * i, (2 * i + 1).min(prev.len() - 1));
    Level {
        bucket_bars: prev.bucket_bars * 2,
        open: (0..len).map(|i| prev.open[2 * i]).collect(),
        close: (0..len).map(|i| prev.close[pair(i).1]).collect(),
        high: (0..len).map(|i| prev.high[pair(i).0].max(prev.high[pair(i).1])).collect(),
        low: (0..len).map(|i| prev.low[pair(i).0].min(prev.low[pair(i).1])).collect(),
        volume: (0..len)
            .map(|i| {
                let (a, b) = pair(i);
                if a == b { prev.volume[a] } else { prev.volume[a] + prev.volume[b] }
            })
            .collect(),
    }
}

impl LodPyramid {
    /// Builds the merged levels of `bars` (about the memory of five `f32` columns, linear time).
    pub fn build(bars: &Arc<Bars>) -> Self {
        let mut merged = Vec::new();
        if bars.len() > 1 {
            merged.push(first_merged(bars));
            while let Some(prev) = merged.last().filter(|l| l.len() > 1) {
                let next = merge(prev);
                merged.push(next);
            }
        }
        Self { bars: Arc::clone(bars), merged }
    }

    /// Bars of level 0.
    pub fn bar_count(&self) -> usize {
        self.bars.len()
    }

    /// Levels, level 0 (the bars) included; the coarsest has one bucket.
    pub fn level_count(&self) -> usize {
        1 + self.merged.len()
    }

    /// Bars per bucket of `level`.
    pub fn bucket_bars(&self, level: usize) -> usize {
        1 << level.min(self.merged.len())
    }

    /// Buckets of `level`.
    pub fn level_len(&self, level: usize) -> usize {
        self.bar_count().div_ceil(self.bucket_bars(level))
    }

    /// Merged level `level ≥ 1`; `None` for level 0 or past the coarsest.
    pub fn merged(&self, level: usize) -> Option<&Level> {
        self.merged.get(level.checked_sub(1)?)
    }

    /// The `f32` columns (open, high, low, close, volume) of `level`'s buckets `range`, as uploaded to the GPU;
    /// highs rounded up and lows down at level 0 as in the merged levels. Empty past the level's end.
    pub fn columns(&self, level: usize, range: Range<usize>) -> [Vec<f32>; 5] {
        let range = range.start.min(self.level_len(level))..range.end.min(self.level_len(level));
        match self.merged(level) {
            Some(l) => [&l.open, &l.high, &l.low, &l.close, &l.volume].map(|c| c[range.clone()].to_vec()),
            None => {
                let b = &self.bars;
                [
                    b.open()[range.clone()].iter().map(|&v| v as f32).collect(),
                    b.high()[range.clone()].iter().map(|&v| f32_up(v)).collect(),
                    b.low()[range.clone()].iter().map(|&v| f32_down(v)).collect(),
                    b.close()[range.clone()].iter().map(|&v| v as f32).collect(),
                    b.volume()[range].iter().map(|&v| v as f32).collect(),
                ]
            }
        }
    }

    /// The level for a view showing `bars_per_px` bars per pixel: the finest whose buckets are at least
    /// `min_bucket_px` pixels wide.
    pub fn level_for(&self, bars_per_px: f64, min_bucket_px: f64) -> usize {
        let bars_per_bucket = bars_per_px * min_bucket_px;
        if !(bars_per_bucket.is_finite() && bars_per_bucket > 1.0) {
            return 0;
        }
        (bars_per_bucket.log2().ceil() as usize).min(self.merged.len())
    }

    /// The buckets of `level` that overlap bars `[start, end)`.
    pub fn buckets(&self, level: usize, start: usize, end: usize) -> (usize, usize) {
        if level >= self.level_count() {
            return (0, 0);
        }
        let bucket = self.bucket_bars(level);
        let first = start / bucket;
        let last = end.div_ceil(bucket).min(self.level_len(level));
        (first.min(last), last)
    }

    /// Lowest low and highest high of bars `[start, end)`, read from `level`'s buckets (at most a bucket of
    /// slack on each side) as the `f32` the GPU draws; `None` when empty.
    pub fn price_range(&self, level: usize, start: usize, end: usize) -> Option<(f64, f64)> {
        let (first, last) = self.buckets(level, start, end);
        if first >= last {
            return None;
        }
        let (lo, hi) = match self.merged(level) {
            Some(l) => (
                l.low[first..last].iter().copied().fold(f32::INFINITY, f32::min),
                l.high[first..last].iter().copied().fold(f32::NEG_INFINITY, f32::max),
            ),
            None => (
                f32_down(self.bars.low()[first..last].iter().copied().fold(f64::INFINITY, f64::min)),
                f32_up(self.bars.high()[first..last].iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            ),
        };
        Some((lo as f64, hi as f64))
    }

    /// Largest bucket volume of `level` over bars `[start, end)`.
    pub fn max_volume(&self, level: usize, start: usize, end: usize) -> f64 {
        let (first, last) = self.buckets(level, start, end);
        if first >= last {
            return 0.0;
        }
        match self.merged(level) {
            Some(l) => l.volume[first..last].iter().copied().fold(0.0f32, f32::max) as f64,
            None => self.bars.volume()[first..last].iter().map(|&v| v as f32).fold(0.0f32, f32::max) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NANOS_PER_SEC;

    fn random_bars(n: usize, seed: u64) -> Bars {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut price = 1.1;
        let (mut o, mut h, mut l, mut c, mut v) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let open = price;
            price *= 1.0 + (rng.f64() - 0.5) * 0.004;
            let close = price;
            let high = open.max(close) * (1.0 + rng.f64() * 0.001);
            let low = open.min(close) * (1.0 - rng.f64() * 0.001);
            o.push(open);
            h.push(high);
            l.push(low);
            c.push(close);
            v.push(rng.f64() * 100.0);
        }
        let ts = (0..n as i64).map(|i| i * 60 * NANOS_PER_SEC).collect();
        Bars::new(ts, o, h, l, c, v)
    }

    #[test]
    fn every_envelope_contains_its_bars() {
        for n in [1, 2, 3, 1_000, 4_097] {
            let bars = Arc::new(random_bars(n, n as u64));
            let pyramid = LodPyramid::build(&bars);
            assert_eq!(pyramid.level_len(pyramid.level_count() - 1), 1);
            for l in 0..pyramid.level_count() {
                let bucket_bars = pyramid.bucket_bars(l);
                let len = pyramid.level_len(l);
                assert_eq!(len, n.div_ceil(bucket_bars));
                let [open, high, low, close, volume] = pyramid.columns(l, 0..len);
                assert!([&open, &high, &low, &close, &volume].iter().all(|c| c.len() == len));
                let level = Level { bucket_bars, open, high, low, close, volume };
                for (b, (&hi, &lo)) in level.high.iter().zip(&level.low).enumerate() {
                    let range = b * level.bucket_bars..((b + 1) * level.bucket_bars).min(n);
                    for i in range.clone() {
                        assert!(hi as f64 >= bars.high()[i] && lo as f64 <= bars.low()[i], "bar {i}");
                    }
                    assert_eq!(level.open[b], bars.open()[range.start] as f32);
                    assert_eq!(level.close[b], bars.close()[range.end - 1] as f32);
                    let volume: f64 = bars.volume()[range].iter().sum();
                    assert!((level.volume[b] as f64 - volume).abs() < 1e-3 * volume.max(1.0));
                }
            }
        }
    }

    #[test]
    fn a_level_has_buckets_of_at_least_a_pixel() {
        let bars = Arc::new(random_bars(10_000, 7));
        let pyramid = LodPyramid::build(&bars);
        assert_eq!(pyramid.level_for(0.2, 1.0), 0);
        assert_eq!(pyramid.level_for(1.0, 1.0), 0);
        let level = pyramid.level_for(10_000.0 / 1_920.0, 1.0);
        let bucket = pyramid.bucket_bars(level) as f64;
        assert!((10_000.0 / 1_920.0..2.0 * 10_000.0 / 1_920.0).contains(&bucket));
        assert_eq!(pyramid.level_for(1e12, 1.0), pyramid.level_count() - 1);
        let (first, last) = pyramid.buckets(level, 0, 10_000);
        assert!(last - first <= 1_920, "{} buckets", last - first);
        let (lo, hi) = pyramid.price_range(level, 0, 10_000).unwrap_or_default();
        let true_lo = bars.low().iter().copied().fold(f64::MAX, f64::min);
        let true_hi = bars.high().iter().copied().fold(f64::MIN, f64::max);
        assert!(lo <= true_lo && hi >= true_hi && (hi - true_hi) < 1e-6);
    }
}
