//! Resampling bars to a higher timeframe with standard OHLCV aggregation.

use super::IngestError;
use crate::domain::{Bars, Timeframe};

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
