//! Calendar features of bar times: UTC hour, minute and weekday, and which forex sessions are open.
//!
//! Sessions are local business hours of each centre, with its daylight-saving rules, Monday to Friday local time:
//! Sydney 07:00–16:00 (AEST UTC+10, AEDT UTC+11 from the first Sunday of October 02:00 to the first Sunday of
//! April 03:00 local; before 2008 the last Sundays of October and March), Tokyo 09:00–18:00 (UTC+9, no DST),
//! London 08:00–17:00 (GMT, BST from the last Sunday of March to the last Sunday of October at 01:00 UTC),
//! New York 08:00–17:00 (EST UTC−5, EDT UTC−4 from the second Sunday of March to the first Sunday of November at
//! 02:00 local; before 2007 the first Sunday of April to the last Sunday of October). The rules are written out
//! here rather than pulled from a time-zone database crate: four zones, fixed rules, and no 2 MB tz table in the
//! binary.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Weekday};

use crate::domain::NANOS_PER_SEC;

/// A forex trading session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Session {
    /// Sydney, 07:00–16:00 local.
    Sydney,
    /// Tokyo, 09:00–18:00 local.
    Tokyo,
    /// London, 08:00–17:00 local.
    London,
    /// New York, 08:00–17:00 local.
    NewYork,
}

impl Session {
    /// Every session, in the order the trading day meets them.
    pub const ALL: [Session; 4] = [Self::Sydney, Self::Tokyo, Self::London, Self::NewYork];

    /// Snake-case name used for columns (`sydney`, `tokyo`, `london`, `new_york`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sydney => "sydney",
            Self::Tokyo => "tokyo",
            Self::London => "london",
            Self::NewYork => "new_york",
        }
    }

    /// The centre's UTC offset in seconds at `ts_nanos`.
    pub fn utc_offset_secs(self, ts_nanos: i64) -> i64 {
        let secs = ts_nanos.div_euclid(NANOS_PER_SEC);
        let year = utc(secs).year();
        const HOUR: i64 = 3600;
        match self {
            Self::Tokyo => 9 * HOUR,
            Self::London => {
                let start = utc_secs(last_sunday(year, 3)) + HOUR;
                let end = utc_secs(last_sunday(year, 10)) + HOUR;
                if (start..end).contains(&secs) { HOUR } else { 0 }
            }
            Self::NewYork => {
                // 02:00 local standard time is 07:00 UTC; 02:00 local daylight time is 06:00 UTC.
                let (start, end) = if year >= 2007 {
                    (nth_sunday(year, 3, 2), nth_sunday(year, 11, 1))
                } else {
                    (nth_sunday(year, 4, 1), last_sunday(year, 10))
                };
                if (utc_secs(start) + 7 * HOUR..utc_secs(end) + 6 * HOUR).contains(&secs) {
                    -4 * HOUR
                } else {
                    -5 * HOUR
                }
            }
            Self::Sydney => {
                // Daylight time spans the new year: it ends in April (03:00 AEDT = 16:00 UTC the day before) and
                // starts in October (02:00 AEST = 16:00 UTC the day before).
                let (dst_end, dst_start) = if year >= 2008 {
                    (nth_sunday(year, 4, 1), nth_sunday(year, 10, 1))
                } else {
                    (last_sunday(year, 3), last_sunday(year, 10))
                };
                let end = utc_secs(dst_end) - 8 * HOUR;
                let start = utc_secs(dst_start) - 8 * HOUR;
                if secs < end || secs >= start { 11 * HOUR } else { 10 * HOUR }
            }
        }
    }

    /// Whether the session is open at `ts_nanos` (local weekday and business hours).
    pub fn is_open(self, ts_nanos: i64) -> bool {
        let local = utc(ts_nanos.div_euclid(NANOS_PER_SEC) + self.utc_offset_secs(ts_nanos));
        let (open, close) = match self {
            Self::Sydney => (7, 16),
            Self::Tokyo => (9, 18),
            Self::London | Self::NewYork => (8, 17),
        };
        !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) && (open..close).contains(&local.hour())
    }
}

fn utc(secs: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn utc_secs(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp())
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or_default()
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, 5).unwrap_or_else(|| nth_sunday(year, month, 4))
}

/// Calendar features of one bar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFeatures {
    /// UTC hour, 0‥23.
    pub hour: u32,
    /// UTC minute, 0‥59.
    pub minute: u32,
    /// UTC weekday, 0 = Monday ‥ 6 = Sunday.
    pub day_of_week: u32,
    /// Open sessions, in [`Session::ALL`] order.
    pub sessions: [bool; 4],
}

impl TimeFeatures {
    /// The features of `ts_nanos` (UTC nanoseconds).
    pub fn of(ts_nanos: i64) -> Self {
        let t = utc(ts_nanos.div_euclid(NANOS_PER_SEC));
        Self {
            hour: t.hour(),
            minute: t.minute(),
            day_of_week: t.weekday().num_days_from_monday(),
            sessions: Session::ALL.map(|s| s.is_open(ts_nanos)),
        }
    }
}

/// Features of every time in `ts_nanos`.
pub fn time_features(ts_nanos: &[i64]) -> Vec<TimeFeatures> {
    ts_nanos.iter().map(|&t| TimeFeatures::of(t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).map(|d| d.timestamp() * NANOS_PER_SEC).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn london_and_new_york_follow_their_own_dst_dates() {
        // 2024: US DST from 10 March, UK from 31 March; between them New York is UTC-4 while London is UTC+0.
        assert_eq!(Session::NewYork.utc_offset_secs(ts("2024-03-15T12:00:00Z")), -4 * 3600);
        assert_eq!(Session::London.utc_offset_secs(ts("2024-03-15T12:00:00Z")), 0);
        assert_eq!(Session::London.utc_offset_secs(ts("2024-03-31T00:59:59Z")), 0);
        assert_eq!(Session::London.utc_offset_secs(ts("2024-03-31T01:00:00Z")), 3600);
        assert_eq!(Session::NewYork.utc_offset_secs(ts("2024-11-03T05:59:59Z")), -4 * 3600);
        assert_eq!(Session::NewYork.utc_offset_secs(ts("2024-11-03T06:00:00Z")), -5 * 3600);
        // Before 2007 the US changed on the first Sunday of April.
        assert_eq!(Session::NewYork.utc_offset_secs(ts("2005-03-20T12:00:00Z")), -5 * 3600);
    }

    #[test]
    fn sydney_daylight_time_spans_the_new_year() {
        assert_eq!(Session::Sydney.utc_offset_secs(ts("2024-01-10T00:00:00Z")), 11 * 3600);
        assert_eq!(Session::Sydney.utc_offset_secs(ts("2024-04-06T15:59:59Z")), 11 * 3600);
        assert_eq!(Session::Sydney.utc_offset_secs(ts("2024-04-06T16:00:00Z")), 10 * 3600);
        assert_eq!(Session::Sydney.utc_offset_secs(ts("2024-07-01T00:00:00Z")), 10 * 3600);
        assert_eq!(Session::Sydney.utc_offset_secs(ts("2024-10-05T16:00:00Z")), 11 * 3600);
    }

    #[test]
    fn sessions_open_on_local_business_hours_only() {
        // Wednesday 2024-01-17 (winter): London 08-17 UTC, New York 13-22 UTC, Tokyo 00-09 UTC, Sydney 20-05 UTC.
        let f = TimeFeatures::of(ts("2024-01-17T14:30:00Z"));
        assert_eq!((f.hour, f.minute, f.day_of_week), (14, 30, 2));
        assert_eq!(f.sessions, [false, false, true, true]);
        assert_eq!(TimeFeatures::of(ts("2024-01-17T02:00:00Z")).sessions, [true, true, false, false]);
        // Sunday 21:00 UTC is Monday 08:00 in Sydney: the week opens there.
        assert_eq!(TimeFeatures::of(ts("2024-01-21T21:00:00Z")).sessions, [true, false, false, false]);
        // Saturday: nothing.
        assert_eq!(TimeFeatures::of(ts("2024-01-20T12:00:00Z")).sessions, [false; 4]);
    }
}
