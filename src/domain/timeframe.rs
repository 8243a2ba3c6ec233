//! Bar timeframes (S1 … MN1) with parsing in MetaTrader (`M15`, `H1`, `MN1`) and suffix (`15m`, `1h`, `1M`) styles,
//! and bucketing of timestamps into bars.

use std::{fmt, str::FromStr};

use chrono::{Datelike, TimeZone, Utc};

use super::NANOS_PER_SEC;

/// The unit of a [`Timeframe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum TimeframeUnit {
    /// Seconds.
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Weeks (starting on Monday).
    Week,
    /// Calendar months.
    Month,
}

/// Why a timeframe string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeframeError {
    /// The text is not a timeframe.
    #[error("invalid timeframe '{0}': expected e.g. S1, M15, H1, H4, D1, W1, MN1, 15m, 1h, 1d")]
    Invalid(String),
}

/// A bar length: a count of a unit, e.g. 15 minutes or 1 month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timeframe {
    unit: TimeframeUnit,
    count: u32,
}

impl Timeframe {
    /// One second.
    pub const S1: Self = Self::new_const(TimeframeUnit::Second, 1);
    /// One minute.
    pub const M1: Self = Self::new_const(TimeframeUnit::Minute, 1);
    /// Five minutes.
    pub const M5: Self = Self::new_const(TimeframeUnit::Minute, 5);
    /// Fifteen minutes.
    pub const M15: Self = Self::new_const(TimeframeUnit::Minute, 15);
    /// Thirty minutes.
    pub const M30: Self = Self::new_const(TimeframeUnit::Minute, 30);
    /// One hour.
    pub const H1: Self = Self::new_const(TimeframeUnit::Hour, 1);
    /// Four hours.
    pub const H4: Self = Self::new_const(TimeframeUnit::Hour, 4);
    /// One day.
    pub const D1: Self = Self::new_const(TimeframeUnit::Day, 1);
    /// One week.
    pub const W1: Self = Self::new_const(TimeframeUnit::Week, 1);
    /// One calendar month.
    pub const MN1: Self = Self::new_const(TimeframeUnit::Month, 1);

    /// The timeframes offered in pickers, shortest first.
    pub const COMMON: [Self; 10] =
        [Self::S1, Self::M1, Self::M5, Self::M15, Self::M30, Self::H1, Self::H4, Self::D1, Self::W1, Self::MN1];

    const fn new_const(unit: TimeframeUnit, count: u32) -> Self {
        Self { unit, count }
    }

    /// Creates a timeframe; `None` when `count` is zero.
    pub fn new(unit: TimeframeUnit, count: u32) -> Option<Self> {
        (count > 0).then_some(Self { unit, count })
    }

    /// The unit.
    pub fn unit(&self) -> TimeframeUnit {
        self.unit
    }

    /// How many units one bar spans.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Fixed length in nanoseconds; `None` for months, whose length varies.
    pub fn duration_nanos(&self) -> Option<i64> {
        let unit_secs: i64 = match self.unit {
            TimeframeUnit::Second => 1,
            TimeframeUnit::Minute => 60,
            TimeframeUnit::Hour => 3_600,
            TimeframeUnit::Day => 86_400,
            TimeframeUnit::Week => 7 * 86_400,
            TimeframeUnit::Month => return None,
        };
        Some(unit_secs * i64::from(self.count) * NANOS_PER_SEC)
    }

    /// Approximate length in nanoseconds (a month counts as 30 days), for ordering and gap heuristics.
    pub fn approx_duration_nanos(&self) -> i64 {
        self.duration_nanos().unwrap_or(30 * 86_400 * NANOS_PER_SEC * i64::from(self.count))
    }

    /// The timeframe whose fixed length is exactly `nanos`, preferring the largest unit (3600 s → H1).
    pub fn from_duration_nanos(nanos: i64) -> Option<Self> {
        if nanos <= 0 || nanos % NANOS_PER_SEC != 0 {
            return None;
        }
        let secs = nanos / NANOS_PER_SEC;
        for (unit, unit_secs) in [
            (TimeframeUnit::Week, 7 * 86_400),
            (TimeframeUnit::Day, 86_400),
            (TimeframeUnit::Hour, 3_600),
            (TimeframeUnit::Minute, 60),
            (TimeframeUnit::Second, 1),
        ] {
            if secs % unit_secs == 0 {
                let count = u32::try_from(secs / unit_secs).ok()?;
                return Self::new(unit, count);
            }
        }
        None
    }

    /// Start of the bar containing `ts_nanos`. Day, week and month bars begin at `day_start_secs` after
    /// midnight UTC; shorter bars are aligned on the same anchor. A day start after noon opens the *next*
    /// day, as in forex where the 22:00 UTC open starts Monday's session: with 22:00, weeks begin on Sunday
    /// 22:00 and months on the previous month's last day at 22:00. Weeks begin on Monday.
    pub fn bucket_start_nanos(&self, ts_nanos: i64, day_start_secs: i64) -> i64 {
        let day_start_secs = day_start_secs.rem_euclid(86_400);
        let offset_secs = if day_start_secs > 12 * 3_600 { day_start_secs - 86_400 } else { day_start_secs };
        let offset = offset_secs * NANOS_PER_SEC;
        let shifted = ts_nanos - offset;
        let start = match self.unit {
            TimeframeUnit::Month => {
                let dt = chrono::DateTime::from_timestamp_nanos(shifted);
                let months_since_epoch = i64::from(dt.year() - 1970) * 12 + i64::from(dt.month0());
                let bucket = months_since_epoch.div_euclid(i64::from(self.count)) * i64::from(self.count);
                let year = 1970 + bucket.div_euclid(12);
                let month = bucket.rem_euclid(12) + 1;
                match i32::try_from(year)
                    .ok()
                    .and_then(|y| Utc.with_ymd_and_hms(y, month as u32, 1, 0, 0, 0).single())
                    .and_then(|d| d.timestamp_nanos_opt())
                {
                    Some(nanos) => nanos,
                    None => shifted,
                }
            }
            TimeframeUnit::Week => {
                // The Unix epoch was a Thursday; Monday 1970-01-05 anchors week buckets.
                let monday = 4 * 86_400 * NANOS_PER_SEC;
                let len = self.approx_duration_nanos();
                (shifted - monday).div_euclid(len) * len + monday
            }
            _ => {
                let len = self.approx_duration_nanos();
                shifted.div_euclid(len) * len
            }
        };
        start + offset
    }
}

impl fmt::Display for Timeframe {
    /// MetaTrader style: `S1`, `M15`, `H1`, `D1`, `W1`, `MN1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.unit {
            TimeframeUnit::Second => "S",
            TimeframeUnit::Minute => "M",
            TimeframeUnit::Hour => "H",
            TimeframeUnit::Day => "D",
            TimeframeUnit::Week => "W",
            TimeframeUnit::Month => "MN",
        };
        write!(f, "{prefix}{}", self.count)
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    /// Accepts `S1`, `M15`, `H4`, `D1`, `W1`, `MN1` (any case) and `30s`, `15m`, `15min`, `1h`, `1d`, `1w`,
    /// `1mo`, `1M` (upper-case `M` as a suffix means month, as on TradingView).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || TimeframeError::Invalid(text.to_string());
        let s = text.trim();
        if s.is_empty() {
            return Err(invalid());
        }
        let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (unit, count_str) = if digits_end == 0 {
            // Prefix style: letters then digits.
            let letters_end = s.find(|c: char| c.is_ascii_digit()).ok_or_else(invalid)?;
            let unit = match s[..letters_end].to_ascii_uppercase().as_str() {
                "S" => TimeframeUnit::Second,
                "M" => TimeframeUnit::Minute,
                "H" => TimeframeUnit::Hour,
                "D" => TimeframeUnit::Day,
                "W" => TimeframeUnit::Week,
                "MN" => TimeframeUnit::Month,
                _ => return Err(invalid()),
            };
            (unit, &s[letters_end..])
        } else {
            // Suffix style: digits then letters.
            let unit = match &s[digits_end..] {
                "M" | "mo" | "MO" | "Mo" | "mn" | "MN" => TimeframeUnit::Month,
                suffix => match suffix.to_ascii_lowercase().as_str() {
                    "s" | "sec" => TimeframeUnit::Second,
                    "m" | "min" => TimeframeUnit::Minute,
                    "h" | "hr" => TimeframeUnit::Hour,
                    "d" => TimeframeUnit::Day,
                    "w" | "wk" => TimeframeUnit::Week,
                    _ => return Err(invalid()),
                },
            };
            (unit, &s[..digits_end])
        };
        let count: u32 = count_str.parse().map_err(|_| invalid())?;
        Self::new(unit, count).ok_or_else(invalid)
    }
}

impl TryFrom<String> for Timeframe {
    type Error = TimeframeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Timeframe> for String {
    fn from(value: Timeframe) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap()
    }

    #[test]
    fn parses_both_styles() {
        assert_eq!("M15".parse::<Timeframe>().unwrap(), Timeframe::M15);
        assert_eq!("m15".parse::<Timeframe>().unwrap(), Timeframe::M15);
        assert_eq!("15m".parse::<Timeframe>().unwrap(), Timeframe::M15);
        assert_eq!("15min".parse::<Timeframe>().unwrap(), Timeframe::M15);
        assert_eq!("H1".parse::<Timeframe>().unwrap(), Timeframe::H1);
        assert_eq!("1h".parse::<Timeframe>().unwrap(), Timeframe::H1);
        assert_eq!("D1".parse::<Timeframe>().unwrap(), Timeframe::D1);
        assert_eq!("1d".parse::<Timeframe>().unwrap(), Timeframe::D1);
        assert_eq!("S1".parse::<Timeframe>().unwrap(), Timeframe::S1);
        assert_eq!("MN1".parse::<Timeframe>().unwrap(), Timeframe::MN1);
        assert_eq!("1M".parse::<Timeframe>().unwrap(), Timeframe::MN1);
        assert_eq!("1mo".parse::<Timeframe>().unwrap(), Timeframe::MN1);
        assert_eq!("W1".parse::<Timeframe>().unwrap(), Timeframe::W1);
        for bad in ["", "X1", "M0", "0m", "15", "H", "1y", "M1x"] {
            assert!(bad.parse::<Timeframe>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn display_round_trips() {
        for tf in Timeframe::COMMON {
            assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
        }
        assert_eq!(Timeframe::H4.to_string(), "H4");
        assert_eq!(Timeframe::from_duration_nanos(3_600 * NANOS_PER_SEC), Some(Timeframe::H1));
        assert_eq!(Timeframe::from_duration_nanos(90 * NANOS_PER_SEC).unwrap().to_string(), "S90");
    }

    #[test]
    fn buckets_days_weeks_and_months() {
        let t = ts("2024-01-17T13:45:00Z"); // a Wednesday
        assert_eq!(Timeframe::H1.bucket_start_nanos(t, 0), ts("2024-01-17T13:00:00Z"));
        assert_eq!(Timeframe::H4.bucket_start_nanos(t, 0), ts("2024-01-17T12:00:00Z"));
        assert_eq!(Timeframe::D1.bucket_start_nanos(t, 0), ts("2024-01-17T00:00:00Z"));
        assert_eq!(Timeframe::D1.bucket_start_nanos(t, 22 * 3600), ts("2024-01-16T22:00:00Z"));
        assert_eq!(Timeframe::D1.bucket_start_nanos(ts("2024-01-17T22:30:00Z"), 22 * 3600), ts("2024-01-17T22:00:00Z"));
        assert_eq!(Timeframe::W1.bucket_start_nanos(t, 0), ts("2024-01-15T00:00:00Z"));
        assert_eq!(Timeframe::W1.bucket_start_nanos(t, 22 * 3600), ts("2024-01-14T22:00:00Z"));
        assert_eq!(Timeframe::MN1.bucket_start_nanos(t, 0), ts("2024-01-01T00:00:00Z"));
        assert_eq!(
            Timeframe::MN1.bucket_start_nanos(ts("2024-01-31T23:00:00Z"), 22 * 3600),
            ts("2024-01-31T22:00:00Z")
        );
        assert_eq!(Timeframe::D1.bucket_start_nanos(t, 8 * 3600), ts("2024-01-17T08:00:00Z"));
        let three_months: Timeframe = "MN3".parse().unwrap();
        assert_eq!(three_months.bucket_start_nanos(ts("2024-05-17T00:00:00Z"), 0), ts("2024-04-01T00:00:00Z"));
        assert_eq!(Timeframe::H1.bucket_start_nanos(ts("1969-12-31T23:30:00Z"), 0), ts("1969-12-31T23:00:00Z"));
    }
}
