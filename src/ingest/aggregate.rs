//! Resampling bars to a higher timeframe with standard OHLCV aggregation, and building bars from ticks.

use super::{IngestError, RawBars, dukascopy::PriceSide};
use crate::domain::{Bars, Ticks, Timeframe, TimeframeUnit};

/// Aggregates `bars` into `target` bars: open of the first bar, highest high, lowest low, close of the last
/// bar, summed volume, stamped with the bucket's start. Day, week and month buckets begin `day_start_secs`
/// after midnight UTC (0 for calendar days, 22 × 3600 for the forex trading day). Buckets without bars are
/// gaps, not flat bars.
pub fn resample(
    bars: &Bars,
    source: Option<Timeframe>,
    target: Timeframe,
    day_start_secs: i64,
) -> Result<Bars, IngestError> {
    if let Some(source) = source
        && target.approx_duration_nanos() < source.approx_duration_nanos()
    {
        return Err(IngestError::Resample(format!(
            "target timeframe {target} is shorter than the data's {source}; bars can only be aggregated upwards"
        )));
    }
    let n = bars.len();
    let (ts, open, high, low, close, volume) =
        (bars.ts_nanos(), bars.open(), bars.high(), bars.low(), bars.close(), bars.volume());
    let mut out_ts = Vec::new();
    let (mut o, mut h, mut l, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while i < n {
        let bucket = target.bucket_start_nanos(ts[i], day_start_secs);
        let (mut hi, mut lo, mut vol) = (high[i], low[i], volume[i]);
        let mut j = i + 1;
        while j < n && target.bucket_start_nanos(ts[j], day_start_secs) == bucket {
            hi = hi.max(high[j]);
            lo = lo.min(low[j]);
            vol += volume[j];
            j += 1;
        }
        out_ts.push(bucket);
        o.push(open[i]);
        h.push(hi);
        l.push(lo);
        c.push(close[j - 1]);
        v.push(vol);
        i = j;
    }
    Bars::new_checked(out_ts, o, h, l, c, v).map_err(|e| IngestError::Resample(e.to_string()))
}

/// Bars built from ticks, with the number of ticks in each. Built per file and merged with [`TickBars::append`],
/// so a long range never holds all its ticks at once. Volume is the side's summed volume (mid: the mean of bid and
/// ask volume), in Dukascopy units (millions).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickBars {
    /// The bars, stamped with their bucket starts.
    pub bars: RawBars,
    /// Ticks in each bar.
    pub tick_count: Vec<u64>,
}

impl TickBars {
    /// Aggregates time-ordered `ticks` into `timeframe` bars of `side` prices. Buckets are aligned as in
    /// [`resample`]; buckets without ticks are gaps.
    pub fn from_ticks(ticks: &Ticks, timeframe: Timeframe, side: PriceSide, day_start_secs: i64) -> Self {
        let (bid, ask, bv, av) = (ticks.bid(), ticks.ask(), ticks.bid_volume(), ticks.ask_volume());
        match side {
            PriceSide::Bid => Self::build(ticks.ts_nanos(), bid, bv, timeframe, day_start_secs),
            PriceSide::Ask => Self::build(ticks.ts_nanos(), ask, av, timeframe, day_start_secs),
            PriceSide::Mid => {
                let mid: Vec<f64> = bid.iter().zip(ask).map(|(b, a)| 0.5 * (b + a)).collect();
                let vol: Vec<f64> = bv.iter().zip(av).map(|(b, a)| 0.5 * (b + a)).collect();
                Self::build(ticks.ts_nanos(), &mid, &vol, timeframe, day_start_secs)
            }
        }
    }

    fn build(ts: &[i64], price: &[f64], volume: &[f64], timeframe: Timeframe, day_start_secs: i64) -> Self {
        let mut out = Self::default();
        let fixed_len = (timeframe.unit() != TimeframeUnit::Month).then(|| timeframe.approx_duration_nanos());
        let month_span = i64::from(timeframe.count()) * 32 * 86_400 * crate::domain::NANOS_PER_SEC;
        let mut i = 0;
        while i < ts.len() {
            let start = timeframe.bucket_start_nanos(ts[i], day_start_secs);
            // Months vary in length: the bucket after `start` begins where a time 32 days per month later falls.
            let end = match fixed_len {
                Some(len) => start + len,
                None => timeframe.bucket_start_nanos(start + month_span, day_start_secs),
            };
            let (mut hi, mut lo, mut vol) = (price[i], price[i], volume[i]);
            let mut j = i + 1;
            while j < ts.len() && ts[j] < end {
                let p = price[j];
                hi = if p > hi { p } else { hi };
                lo = if p < lo { p } else { lo };
                vol += volume[j];
                j += 1;
            }
            let bars = &mut out.bars;
            bars.ts_nanos.push(start);
            bars.open.push(price[i]);
            bars.high.push(hi);
            bars.low.push(lo);
            bars.close.push(price[j - 1]);
            bars.volume.push(vol);
            out.tick_count.push((j - i) as u64);
            i = j;
        }
        out
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// True when there are no bars.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Appends bars of later ticks; a bar whose bucket continues across the seam is merged.
    pub fn append(&mut self, other: TickBars) {
        let (a, b) = (&mut self.bars, &other.bars);
        let mut skip = 0;
        if let (Some(last), Some(&first)) = (a.ts_nanos.len().checked_sub(1), b.ts_nanos.first())
            && a.ts_nanos[last] == first
        {
            a.high[last] = a.high[last].max(b.high[0]);
            a.low[last] = a.low[last].min(b.low[0]);
            a.close[last] = b.close[0];
            a.volume[last] += b.volume[0];
            self.tick_count[last] += other.tick_count[0];
            skip = 1;
        }
        a.ts_nanos.extend_from_slice(b.ts_nanos.get(skip..).unwrap_or_default());
        for (to, from) in [(&mut a.open, &b.open), (&mut a.high, &b.high), (&mut a.low, &b.low)] {
            to.extend_from_slice(from.get(skip..).unwrap_or_default());
        }
        for (to, from) in [(&mut a.close, &b.close), (&mut a.volume, &b.volume)] {
            to.extend_from_slice(from.get(skip..).unwrap_or_default());
        }
        self.tick_count.extend_from_slice(other.tick_count.get(skip..).unwrap_or_default());
    }

    /// The bars and their tick counts.
    pub fn into_bars(self) -> Result<(Bars, Vec<u64>), IngestError> {
        let b = self.bars;
        let bars = Bars::new_checked(b.ts_nanos, b.open, b.high, b.low, b.close, b.volume)
            .map_err(|e| IngestError::Resample(e.to_string()))?;
        Ok((bars, self.tick_count))
    }
}

/// Resamples bars together with their tick counts (summed per bucket).
pub fn resample_with_counts(
    bars: &Bars,
    tick_counts: &[u64],
    source: Option<Timeframe>,
    target: Timeframe,
    day_start_secs: i64,
) -> Result<(Bars, Vec<u64>), IngestError> {
    let out = resample(bars, source, target, day_start_secs)?;
    let mut counts = vec![0u64; out.len()];
    let mut k = 0;
    for (ts, count) in bars.ts_nanos().iter().zip(tick_counts) {
        let bucket = target.bucket_start_nanos(*ts, day_start_secs);
        while k + 1 < out.len() && out.ts_nanos()[k] != bucket {
            k += 1;
        }
        counts[k] += count;
    }
    Ok((out, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NANOS_PER_SEC;

    const H: i64 = 3600 * NANOS_PER_SEC;

    #[test]
    fn hourly_to_four_hours_and_forex_days() {
        // 2024-01-15 (Monday) 00:00 … 2024-01-16 23:00, one bar an hour with price = hour index.
        let start = 1_705_276_800 * NANOS_PER_SEC;
        let n = 48;
        let ts: Vec<i64> = (0..n).map(|i| start + i * H).collect();
        let open: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
        let high: Vec<f64> = open.iter().map(|x| x + 0.5).collect();
        let low: Vec<f64> = open.iter().map(|x| x - 0.5).collect();
        let close: Vec<f64> = open.iter().map(|x| x + 0.25).collect();
        let bars = Bars::new(ts, open, high, low, close, vec![1.0; n as usize]);

        let h4 = resample(&bars, Some(Timeframe::H1), Timeframe::H4, 0).unwrap();
        assert_eq!(h4.len(), 12);
        assert_eq!(
            (h4.open()[1], h4.high()[1], h4.low()[1], h4.close()[1], h4.volume()[1]),
            (104.0, 107.5, 103.5, 107.25, 4.0)
        );
        assert_eq!(h4.ts_nanos()[1], start + 4 * H);

        let d1 = resample(&bars, Some(Timeframe::H1), Timeframe::D1, 22 * 3600).unwrap();
        // Buckets: Sun 22:00 (00–21h = 22 bars), Mon 22:00 (24 bars), Tue 22:00 (2 bars).
        assert_eq!(d1.len(), 3);
        assert_eq!(d1.ts_nanos()[0], start - 2 * H);
        assert_eq!((d1.volume()[0], d1.volume()[1], d1.volume()[2]), (22.0, 24.0, 2.0));
        assert_eq!(d1.close()[0], 121.25);
        assert!(resample(&bars, Some(Timeframe::H1), Timeframe::M15, 0).is_err());
    }

    #[test]
    fn missing_hours_stay_gaps() {
        let ts = vec![0, H, 9 * H];
        let bars = Bars::new(ts, vec![1.0; 3], vec![2.0; 3], vec![0.5; 3], vec![1.5; 3], vec![1.0; 3]);
        let h4 = resample(&bars, Some(Timeframe::H1), Timeframe::H4, 0).unwrap();
        assert_eq!(h4.ts_nanos(), &[0, 8 * H]);
    }
}
