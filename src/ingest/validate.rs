//! Validation of raw bar columns: structural errors (order, duplicates, OHLC consistency, NaN, non-positive
//! prices) and warnings (gaps the market's closed hours do not explain, spikes beyond N × ATR).
//!
//! Row numbers in findings are 1-based data rows, header excluded, in file order.

use std::fmt;

use super::RawBars;
use crate::domain::{AssetClass, Bar, Bars, InstrumentRegistry, NANOS_PER_SEC, Timeframe, format_ts_nanos};

/// How serious a finding is: errors block an import (unless forced), warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row cannot be used as it is.
    Error,
    /// Suspicious but possible data.
    Warning,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Time is earlier than the previous row's.
    Unsorted,
    /// Same time as another row.
    DuplicateTime,
    /// High below low.
    HighBelowLow,
    /// Open or close outside [low, high].
    OutsideRange,
    /// A value is NaN, infinite or missing.
    NotANumber,
    /// A price is zero or negative.
    NonPositivePrice,
    /// Volume below zero.
    NegativeVolume,
    /// Bars missing for longer than the market's closed hours explain.
    Gap,
    /// True range far beyond the recent ATR.
    Spike,
}

/// One problem found in one row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// 1-based data row (header excluded).
    pub row: usize,
    /// Error or warning.
    pub severity: Severity,
    /// Category.
    pub kind: FindingKind,
    /// Human-readable detail naming the field and values.
    pub message: String,
}

impl Finding {
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn error(row_index: usize, kind: FindingKind, message: String) -> Self {
        Self { row: row_index + 1, severity: Severity::Error, kind, message }
    }

    fn warning(row_index: usize, kind: FindingKind, message: String) -> Self {
        Self { row: row_index + 1, severity: Severity::Warning, kind, message }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "row {}: {severity}: {}", self.row, self.message)
    }
}

/// When a market is closed, so that gaps over those hours are not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketHours {
    /// Forex and metals: closed from Friday 21:00 to Sunday 22:00 UTC (covering both DST settings).
    Weekdays24,
    /// Crypto: never closed.
    Continuous,
    /// Exchange-traded CFDs: closed Friday 20:00 to Monday 13:00 UTC and up to 18 hours overnight.
    Exchange,
}

impl MarketHours {
    /// The hours for a symbol's asset class; for unknown symbols, `Continuous` when the data has weekend bars,
    /// else `Weekdays24`.
    pub fn for_symbol(symbol: Option<&str>, raw: &RawBars) -> Self {
        if let Some(inst) = symbol.and_then(|s| InstrumentRegistry::builtin().get(s).ok()) {
            return match inst.asset_class {
                AssetClass::Fx | AssetClass::Metal => Self::Weekdays24,
                AssetClass::Crypto => Self::Continuous,
                AssetClass::Index | AssetClass::Commodity | AssetClass::Stock => Self::Exchange,
            };
        }
        let has_saturday_bars = raw.ts_nanos.iter().any(|&t| {
            let hours_into_week = (t - MONDAY_NANOS).rem_euclid(WEEK_NANOS) / HOUR_NANOS;
            (5 * 24 + 3..6 * 24 + 12).contains(&hours_into_week)
        });
        if has_saturday_bars { Self::Continuous } else { Self::Weekdays24 }
    }

    /// The weekly closed window as (start, end) offsets from Monday 00:00 UTC.
    fn weekly_window_nanos(&self) -> Option<(i64, i64)> {
        match self {
            Self::Weekdays24 => Some(((4 * 24 + 21) * HOUR_NANOS, (6 * 24 + 22) * HOUR_NANOS)),
            Self::Exchange => Some(((4 * 24 + 20) * HOUR_NANOS, (7 * 24 + 13) * HOUR_NANOS)),
            Self::Continuous => None,
        }
    }

    /// Nanoseconds of `[from, to)` that fall into closed hours.
    pub fn closed_nanos_within(&self, from: i64, to: i64) -> i64 {
        let Some((start, end)) = self.weekly_window_nanos() else { return 0 };
        if to <= from {
            return 0;
        }
        let first_week = (from - MONDAY_NANOS).div_euclid(WEEK_NANOS) - 1;
        let last_week = (to - MONDAY_NANOS).div_euclid(WEEK_NANOS);
        (first_week..=last_week)
            .map(|w| {
                let base = MONDAY_NANOS + w * WEEK_NANOS;
                let (a, b) = (base + start, base + end);
                (to.min(b) - from.max(a)).max(0)
            })
            .sum()
    }

    /// Longest stretch of missing time that is normal while the market is open (overnight for exchanges).
    fn open_hours_tolerance_nanos(&self) -> i64 {
        match self {
            Self::Exchange => 18 * HOUR_NANOS,
            Self::Weekdays24 | Self::Continuous => 0,
        }
    }
}

const HOUR_NANOS: i64 = 3_600 * NANOS_PER_SEC;
const WEEK_NANOS: i64 = 7 * 24 * HOUR_NANOS;
/// Monday 1970-01-05 00:00 UTC.
const MONDAY_NANOS: i64 = 4 * 24 * HOUR_NANOS;

/// Validation settings.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Expected bar spacing; inferred from the median spacing when `None`.
    pub timeframe: Option<Timeframe>,
    /// Closed hours of the market.
    pub market: MarketHours,
    /// A bar whose true range exceeds this many ATRs is reported as a spike.
    pub spike_atr_multiple: f64,
    /// ATR period (Wilder smoothing) for spike detection.
    pub atr_period: usize,
}

impl ValidateOptions {
    /// Default spike threshold.
    pub const DEFAULT_SPIKE_ATR_MULTIPLE: f64 = 10.0;
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            timeframe: None,
            market: MarketHours::Weekdays24,
            spike_atr_multiple: Self::DEFAULT_SPIKE_ATR_MULTIPLE,
            atr_period: 14,
        }
    }
}

/// Checks one row's values; the returned findings are all errors.
fn row_findings(raw: &RawBars, i: usize, out: &mut Vec<Finding>) {
    let fields = [
        ("open", raw.open[i]),
        ("high", raw.high[i]),
        ("low", raw.low[i]),
        ("close", raw.close[i]),
        ("volume", raw.volume[i]),
    ];
    let mut numeric_ok = true;
    for (field, value) in fields {
        if !value.is_finite() {
            out.push(Finding::error(i, FindingKind::NotANumber, format!("{field} is {value} (missing or not finite)")));
            numeric_ok = false;
        } else if field == "volume" {
            if value < 0.0 {
                out.push(Finding::error(i, FindingKind::NegativeVolume, format!("volume {value} is negative")));
            }
        } else if value <= 0.0 {
            out.push(Finding::error(i, FindingKind::NonPositivePrice, format!("{field} {value} is not positive")));
            numeric_ok = false;
        }
    }
    if !numeric_ok {
        return;
    }
    let (open, high, low, close) = (raw.open[i], raw.high[i], raw.low[i], raw.close[i]);
    if high < low {
        out.push(Finding::error(i, FindingKind::HighBelowLow, format!("high {high} < low {low}")));
        return;
    }
    for (field, value) in [("open", open), ("close", close)] {
        if value < low || value > high {
            out.push(Finding::error(
                i,
                FindingKind::OutsideRange,
                format!("{field} {value} is outside [low {low}, high {high}]"),
            ));
        }
    }
}

/// All findings for `raw`, ordered by row.
pub fn validate(raw: &RawBars, options: &ValidateOptions) -> Vec<Finding> {
    let n = raw.len();
    let mut findings = Vec::new();
    let mut row_ok = vec![true; n];
    for (i, ok) in row_ok.iter_mut().enumerate() {
        let before = findings.len();
        row_findings(raw, i, &mut findings);
        *ok = findings.len() == before;
    }

    // Order and duplicates.
    let ts = &raw.ts_nanos;
    let mut sorted = true;
    for i in 1..n {
        if ts[i] < ts[i - 1] {
            sorted = false;
            findings.push(Finding::error(
                i,
                FindingKind::Unsorted,
                format!("time {} is before row {}'s {}", format_ts_nanos(ts[i]), i, format_ts_nanos(ts[i - 1])),
            ));
        } else if ts[i] == ts[i - 1] {
            findings.push(Finding::error(
                i,
                FindingKind::DuplicateTime,
                format!("time {} repeats row {}", format_ts_nanos(ts[i]), i),
            ));
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    if !sorted {
        order.sort_by_key(|&i| (ts[i], i));
        for w in order.windows(2) {
            let (a, b) = (w[0], w[1]);
            // Adjacent repeats were reported above.
            if ts[a] == ts[b] && b != a + 1 {
                findings.push(Finding::error(
                    b,
                    FindingKind::DuplicateTime,
                    format!("time {} repeats row {}", format_ts_nanos(ts[b]), a + 1),
                ));
            }
        }
    }

    // Gaps and spikes over the usable rows in time order.
    let usable: Vec<usize> = order.into_iter().filter(|&i| row_ok[i]).collect();
    gap_findings(raw, &usable, options, &mut findings);
    spike_findings(raw, &usable, options, &mut findings);

    findings.sort_by_key(|f| (f.row, f.severity == Severity::Warning));
    findings
}

fn format_duration(nanos: i64) -> String {
    let minutes = nanos / (60 * NANOS_PER_SEC);
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

fn gap_findings(raw: &RawBars, usable: &[usize], options: &ValidateOptions, out: &mut Vec<Finding>) {
    let ts = &raw.ts_nanos;
    let step = match options.timeframe.and_then(|tf| tf.duration_nanos()) {
        Some(step) => step,
        None if options.timeframe.is_some() => return, // Monthly bars: no fixed step.
        None => {
            let mut diffs: Vec<i64> = usable.windows(2).map(|w| ts[w[1]] - ts[w[0]]).filter(|&d| d > 0).collect();
            if diffs.is_empty() {
                return;
            }
            let mid = diffs.len() / 2;
            *diffs.select_nth_unstable(mid).1
        }
    };
    let tolerance = options.market.open_hours_tolerance_nanos();
    for w in usable.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let spacing = ts[next] - ts[prev];
        if spacing <= step {
            continue;
        }
        let missing_from = ts[prev] + step;
        let missing = ts[next] - missing_from;
        let unexplained = missing - options.market.closed_nanos_within(missing_from, ts[next]);
        if unexplained >= step && unexplained > tolerance {
            out.push(Finding::warning(
                next,
                FindingKind::Gap,
                format!(
                    "gap of {} since row {} ({} to {}), {} of it while the market is open",
                    format_duration(spacing),
                    prev + 1,
                    format_ts_nanos(ts[prev]),
                    format_ts_nanos(ts[next]),
                    format_duration(unexplained)
                ),
            ));
        }
    }
}

fn spike_findings(raw: &RawBars, usable: &[usize], options: &ValidateOptions, out: &mut Vec<Finding>) {
    let period = options.atr_period.max(1);
    let mut atr: Option<f64> = None;
    let mut sum = 0.0;
    let mut prev_close: Option<f64> = None;
    for (k, &i) in usable.iter().enumerate() {
        let (high, low) = (raw.high[i], raw.low[i]);
        let tr = match prev_close {
            Some(pc) => (high - low).max((high - pc).abs()).max((low - pc).abs()),
            None => high - low,
        };
        match atr {
            Some(a) => {
                if a > 0.0 && tr > options.spike_atr_multiple * a {
                    out.push(Finding::warning(
                        i,
                        FindingKind::Spike,
                        format!("spike: true range {tr:.6} is {:.1} × ATR({period}) {a:.6}", tr / a),
                    ));
                }
                atr = Some((a * (period as f64 - 1.0) + tr) / period as f64);
            }
            None => {
                sum += tr;
                if k + 1 == period {
                    atr = Some(sum / period as f64);
                }
            }
        }
        prev_close = Some(raw.close[i]);
    }
}

/// Keeps the rows without row-level errors, sorts them by time and keeps the first of equal times.
pub fn repair(raw: RawBars) -> Bars {
    let mut rows: Vec<Bar> = (0..raw.len())
        .filter_map(|i| {
            Bar::new_checked(raw.ts_nanos[i], raw.open[i], raw.high[i], raw.low[i], raw.close[i], raw.volume[i]).ok()
        })
        .collect();
    if !rows.windows(2).all(|w| w[0].ts_nanos < w[1].ts_nanos) {
        rows.sort_by_key(|b| b.ts_nanos);
        rows.dedup_by_key(|b| b.ts_nanos);
    }
    // Every row passed Bar::new_checked and times are now strictly increasing.
    Bars::from_bars(&rows).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap()
    }

    #[test]
    fn weekend_is_closed_for_forex_but_not_crypto() {
        let fri = ts("2024-01-19T21:00:00Z");
        let sun = ts("2024-01-21T22:00:00Z");
        assert_eq!(MarketHours::Weekdays24.closed_nanos_within(fri, sun), sun - fri);
        assert_eq!(MarketHours::Continuous.closed_nanos_within(fri, sun), 0);
        let wed = ts("2024-01-17T00:00:00Z");
        assert_eq!(MarketHours::Weekdays24.closed_nanos_within(wed, wed + 6 * HOUR_NANOS), 0);
        // Two weekends inside one long gap.
        assert_eq!(MarketHours::Weekdays24.closed_nanos_within(wed, ts("2024-01-31T00:00:00Z")), 2 * 49 * HOUR_NANOS);
    }
}
