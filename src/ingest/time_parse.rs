//! Fast timestamp parsing for bar files: ISO-8601 and its common variants, MetaTrader's `2024.01.15`,
//! Dukascopy's `15.01.2024 00:00:00.000 [GMT+0200]`, and unix seconds/milliseconds/micro/nanoseconds.
//!
//! Hand-written rather than chrono's `parse_from_str`: a file uses one layout throughout, and parsing
//! digits at known offsets is several times faster on million-row imports.

use crate::domain::NANOS_PER_SEC;

/// The timestamp layout detected from a file's first value and used for every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLayout {
    /// Calendar text, year first (`2024-01-15 13:00:00`, `2024-01-15T13:00:00Z`, `2024.01.15 13:00`).
    YearFirst,
    /// Calendar text, day first with dots (`15.01.2024 13:00:00.000`).
    DayFirst,
    /// A number of seconds since the Unix epoch.
    UnixSeconds,
    /// A number of milliseconds since the Unix epoch.
    UnixMillis,
    /// A number of microseconds since the Unix epoch.
    UnixMicros,
    /// A number of nanoseconds since the Unix epoch.
    UnixNanos,
}

impl TimeLayout {
    /// Guesses the layout from one sample value.
    pub fn detect(sample: &str) -> Option<Self> {
        let s = sample.trim();
        if s.is_empty() {
            return None;
        }
        if let Ok(v) = s.parse::<f64>() {
            let magnitude = v.abs();
            return Some(if magnitude < 1e11 {
                Self::UnixSeconds
            } else if magnitude < 1e14 {
                Self::UnixMillis
            } else if magnitude < 1e17 {
                Self::UnixMicros
            } else {
                Self::UnixNanos
            });
        }
        let bytes = s.as_bytes();
        if bytes.len() >= 10 && bytes[..4].iter().all(u8::is_ascii_digit) && matches!(bytes[4], b'-' | b'.' | b'/') {
            return Some(Self::YearFirst);
        }
        if bytes.len() >= 10 && bytes[..2].iter().all(u8::is_ascii_digit) && bytes[2] == b'.' {
            return Some(Self::DayFirst);
        }
        None
    }

    /// Human name used in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::YearFirst => "YYYY-MM-DD[ HH:MM[:SS[.fff]]][zone]",
            Self::DayFirst => "DD.MM.YYYY HH:MM:SS[.fff]",
            Self::UnixSeconds => "unix seconds",
            Self::UnixMillis => "unix milliseconds",
            Self::UnixMicros => "unix microseconds",
            Self::UnixNanos => "unix nanoseconds",
        }
    }

    /// Parses one value in this layout to UTC nanoseconds.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let s = text.trim();
        match self {
            Self::YearFirst | Self::DayFirst => parse_calendar(s, *self == Self::DayFirst),
            Self::UnixSeconds => parse_unix(s, NANOS_PER_SEC),
            Self::UnixMillis => parse_unix(s, 1_000_000),
            Self::UnixMicros => parse_unix(s, 1_000),
            Self::UnixNanos => s.parse::<i64>().ok(),
        }
    }
}

fn parse_unix(s: &str, nanos_per_unit: i64) -> Option<i64> {
    if let Ok(v) = s.parse::<i64>() {
        return v.checked_mul(nanos_per_unit);
    }
    let v = s.parse::<f64>().ok()?;
    let nanos = (v * nanos_per_unit as f64).round();
    (nanos.is_finite() && nanos.abs() < 9.2e18).then_some(nanos as i64)
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            v = v * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn rest(&self) -> &[u8] {
        &self.b[self.i..]
    }
}

fn parse_calendar(s: &str, day_first: bool) -> Option<i64> {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let (year, month, day) = if day_first {
        let day = c.digits(1, 2)?;
        let sep = c.peek()?;
        if !matches!(sep, b'.' | b'/' | b'-') {
            return None;
        }
        c.i += 1;
        let month = c.digits(1, 2)?;
        if !c.eat(sep) {
            return None;
        }
        (i64::from(c.digits(4, 4)?), month, day)
    } else {
        let year = c.digits(4, 4)?;
        let sep = c.peek()?;
        if !matches!(sep, b'-' | b'.' | b'/') {
            return None;
        }
        c.i += 1;
        let month = c.digits(1, 2)?;
        if !c.eat(sep) {
            return None;
        }
        (i64::from(year), month, c.digits(1, 2)?)
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs_of_day: i64 = 0;
    let mut frac_nanos: i64 = 0;
    if c.eat(b'T') || c.eat(b't') || (c.peek() == Some(b' ') && c.b.get(c.i + 1).is_some_and(u8::is_ascii_digit)) {
        if c.peek() == Some(b' ') {
            c.i += 1;
        }
        let hour = c.digits(1, 2)?;
        if !c.eat(b':') {
            return None;
        }
        let minute = c.digits(2, 2)?;
        let mut second = 0;
        if c.eat(b':') {
            second = c.digits(2, 2)?;
            if c.eat(b'.') || c.eat(b',') {
                let start = c.i;
                let mut digits = 0;
                while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                    if digits < 9 {
                        frac_nanos = frac_nanos * 10 + i64::from(d - b'0');
                        digits += 1;
                    }
                    c.i += 1;
                }
                if c.i == start {
                    return None;
                }
                frac_nanos *= 10_i64.pow(9 - digits);
            }
        }
        // 24:00:00 is not accepted; 60 seconds (leap) neither.
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        secs_of_day = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    }
    let offset_secs = parse_zone(c.rest())?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + secs_of_day - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac_nanos)
}

/// Parses a trailing zone: nothing, `Z`, `UTC`, `GMT`, `±HH`, `±HH:MM`, `±HHMM`, optionally after a space and
/// `GMT`/`UTC` (`GMT+0200`). Returns the offset east of UTC in seconds.
fn parse_zone(rest: &[u8]) -> Option<i64> {
    let mut r = rest;
    while let [b' ', tail @ ..] = r {
        r = tail;
    }
    if r.is_empty() || r == b"Z" || r == b"z" || r == b"UTC" || r == b"GMT" {
        return Some(0);
    }
    if r.starts_with(b"UTC") || r.starts_with(b"GMT") {
        r = &r[3..];
    }
    let sign = match r.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut c = Cursor { b: &r[1..], i: 0 };
    let hours = c.digits(2, 2)?;
    let _ = c.eat(b':');
    let minutes = if c.peek().is_some() { c.digits(2, 2)? } else { 0 };
    if c.peek().is_some() || hours > 18 || minutes > 59 {
        return None;
    }
    Some(sign * (i64::from(hours) * 3600 + i64::from(minutes) * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_nanos_opt().unwrap()
    }

    fn parse(s: &str) -> Option<i64> {
        TimeLayout::detect(s).and_then(|l| l.parse(s))
    }

    #[test]
    fn parses_every_supported_layout() {
        let t = iso("2024-01-15T13:45:30Z");
        assert_eq!(parse("2024-01-15 13:45:30"), Some(t));
        assert_eq!(parse("2024-01-15T13:45:30Z"), Some(t));
        assert_eq!(parse("2024-01-15T14:45:30+01:00"), Some(t));
        assert_eq!(parse("2024-01-15T08:45:30-0500"), Some(t));
        assert_eq!(parse("2024.01.15 13:45:30"), Some(t));
        assert_eq!(parse("15.01.2024 13:45:30.000"), Some(t));
        assert_eq!(parse("15.01.2024 15:45:30.000 GMT+0200"), Some(t));
        assert_eq!(parse("1705326330"), Some(t));
        assert_eq!(parse("1705326330000"), Some(t));
        assert_eq!(parse("1705326330000000"), Some(t));
        assert_eq!(parse("1705326330000000000"), Some(t));
        assert_eq!(parse("2024-01-15"), Some(iso("2024-01-15T00:00:00Z")));
        assert_eq!(parse("2024-01-15 13:45"), Some(iso("2024-01-15T13:45:00Z")));
        assert_eq!(parse("2024-01-15T13:45:30.123Z"), Some(t + 123_000_000));
        assert_eq!(parse("1705326330.5"), Some(t + 500_000_000));
    }

    #[test]
    fn rejects_impossible_dates_and_garbage() {
        for bad in [
            "2024-02-30 00:00:00",
            "2023-02-29",
            "2024-13-01",
            "2024-01-15 24:00:00",
            "2024-01-15 12:60:00",
            "2024-01-15 12:00:00 CET",
            "2024-01-15x",
            "hello",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("2024-02-29"), Some(iso("2024-02-29T00:00:00Z")));
        assert_eq!(TimeLayout::YearFirst.parse("15.01.2024 13:45:30"), None);
    }

    #[test]
    fn civil_days_match_chrono_over_centuries() {
        for (y, m, d) in [(1970, 1, 1), (1969, 12, 31), (2000, 2, 29), (1900, 3, 1), (2400, 12, 31), (1601, 1, 1)] {
            let expected = chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(i64::from(y), m, d), expected);
        }
    }
}
