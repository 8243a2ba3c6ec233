//! Bar CSV reading with the dialect detected from the header: generic `time,open,high,low,close[,volume]`,
//! TradingView chart exports, MetaTrader 5 exports, Dukascopy/JForex CSV and the backtesting.py layout.
//! Polars splits and reads the file; the cells are then parsed here so that errors can name row and field.

use std::io::Cursor;

use polars::prelude::*;

use super::{IngestError, Progress, RawBars, time_parse::TimeLayout};

/// The CSV flavour a file was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Dialect {
    /// `time,open,high,low,close[,volume]` with ISO-8601, `YYYY-MM-DD HH:MM:SS` or unix times.
    Generic,
    /// TradingView "Export chart data": lower-case `time,open,high,low,close` plus plot columns.
    TradingView,
    /// MetaTrader 5 export: tab-separated `<DATE> <TIME> <OPEN> … <TICKVOL> <VOL> <SPREAD>`.
    MetaTrader5,
    /// Dukascopy / JForex: `Gmt time,Open,High,Low,Close,Volume` with `15.01.2024 00:00:00.000`.
    Dukascopy,
    /// backtesting.py / pandas: `[time],Open,High,Low,Close,Volume` with `YYYY-MM-DD HH:MM:SS`.
    BacktestingPy,
}

impl Dialect {
    /// Display name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Generic => "generic CSV",
            Self::TradingView => "TradingView export",
            Self::MetaTrader5 => "MetaTrader 5 export",
            Self::Dukascopy => "Dukascopy/JForex CSV",
            Self::BacktestingPy => "backtesting.py CSV",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeColumns {
    Single(usize),
    DateAndTime { date: usize, time: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VolumeColumns {
    None,
    Single(usize),
    /// MetaTrader: real volume when any row has it, else tick volume.
    RealOrTick {
        real: usize,
        tick: usize,
    },
}

/// Where each field lives in a recognised header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    /// The recognised dialect.
    pub dialect: Dialect,
    /// Field separator.
    pub separator: u8,
    headers: Vec<String>,
    time: TimeColumns,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: VolumeColumns,
}

fn normalize_header(h: &str) -> String {
    h.trim().trim_matches('"').trim_start_matches('<').trim_end_matches('>').trim().to_ascii_lowercase()
}

impl CsvLayout {
    /// Recognises the dialect and column positions from the header line.
    pub fn detect(header_line: &str) -> Result<Self, String> {
        let line = header_line.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
        let separator = [b',', b'\t', b';', b'|']
            .into_iter()
            .max_by_key(|&sep| line.bytes().filter(|&b| b == sep).count())
            .unwrap_or(b',');
        let raw: Vec<&str> = line.split(separator as char).collect();
        let names: Vec<String> = raw.iter().map(|h| normalize_header(h)).collect();
        let find = |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
        let missing = |what: &str| {
            format!(
                "no '{what}' column in header '{line}' (expected time,open,high,low,close[,volume], a MetaTrader \
                 <DATE>/<TIME> export or a Dukascopy 'Gmt time' export)"
            )
        };
        let open = find(&["open", "o"]).ok_or_else(|| missing("open"))?;
        let high = find(&["high", "h"]).ok_or_else(|| missing("high"))?;
        let low = find(&["low", "l"]).ok_or_else(|| missing("low"))?;
        let close = find(&["close", "c"]).ok_or_else(|| missing("close"))?;
        let is_mt5 = raw.iter().any(|h| h.trim().starts_with('<'));
        let time = match (find(&["date"]), find(&["time"])) {
            (Some(date), Some(time)) => TimeColumns::DateAndTime { date, time },
            _ => {
                let single = find(&[
                    "time",
                    "date",
                    "datetime",
                    "date_time",
                    "timestamp",
                    "gmt time",
                    "local time",
                    "time (utc)",
                    "open time",
                    "",
                ])
                .ok_or_else(|| missing("time"))?;
                TimeColumns::Single(single)
            }
        };
        let volume = match (find(&["vol", "real_volume"]), find(&["tickvol", "tick_volume"])) {
            (Some(real), Some(tick)) => VolumeColumns::RealOrTick { real, tick },
            _ => match find(&["volume", "vol", "tickvol", "tick_volume", "real_volume", "v"]) {
                Some(i) => VolumeColumns::Single(i),
                None => VolumeColumns::None,
            },
        };
        let time_header = match time {
            TimeColumns::Single(i) => names[i].as_str(),
            TimeColumns::DateAndTime { .. } => "date",
        };
        let known = 5 + usize::from(volume != VolumeColumns::None);
        let dialect = if is_mt5 {
            Dialect::MetaTrader5
        } else if matches!(time_header, "gmt time" | "local time") {
            Dialect::Dukascopy
        } else if raw.get(open).is_some_and(|h| h.trim() == "Open")
            && matches!(time_header, "" | "time")
            && separator == b','
        {
            Dialect::BacktestingPy
        } else if raw.get(open).is_some_and(|h| h.trim() == "open")
            && time_header == "time"
            && (names.len() > known || raw.iter().any(|h| h.trim() == "Volume"))
        {
            Dialect::TradingView
        } else {
            Dialect::Generic
        };
        Ok(Self {
            dialect,
            separator,
            headers: raw.iter().map(|h| h.trim().trim_matches('"').to_string()).collect(),
            time,
            open,
            high,
            low,
            close,
            volume,
        })
    }
}

/// First line of the text, without BOM.
fn first_line(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
    std::str::from_utf8(&bytes[..end]).unwrap_or("").trim_start_matches('\u{feff}')
}

/// Reads bar CSV bytes (the whole file) into raw columns in file order.
pub fn read_csv_bytes(
    path_label: &std::path::Path,
    bytes: Vec<u8>,
    progress: &dyn Progress,
) -> Result<(RawBars, CsvLayout, TimeLayout), IngestError> {
    let format_err = |message: String| IngestError::Format { path: path_label.to_path_buf(), message };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(format_err("the file is empty".into()));
    }
    let layout = CsvLayout::detect(first_line(&bytes)).map_err(format_err)?;
    progress.report("reading CSV", 0.05);
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .map_parse_options(|p| p.with_separator(layout.separator).with_truncate_ragged_lines(true))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| format_err(format!("not a readable CSV file: {e}")))?;
    if progress.is_cancelled() {
        return Err(IngestError::Cancelled);
    }
    progress.report("parsing rows", 0.35);
    let columns = df.columns();
    let string_column = |idx: usize| -> Result<&StringChunked, IngestError> {
        columns
            .get(idx)
            .ok_or_else(|| format_err(format!("column {} is missing", idx + 1)))?
            .str()
            .map_err(|e| format_err(e.to_string()))
    };
    let rows = df.height();
    let field_err = |row: usize, field: &str, value: &str, reason: String| IngestError::Field {
        path: path_label.to_path_buf(),
        row: row + 1,
        field: field.to_string(),
        value: value.to_string(),
        reason,
    };

    // Timestamps.
    let mut ts_nanos = Vec::with_capacity(rows);
    let time_layout = match layout.time {
        TimeColumns::Single(idx) => {
            let col = string_column(idx)?;
            let field = layout.headers[idx].as_str();
            let field = if field.is_empty() { "time" } else { field };
            let first = col.iter().flatten().next().unwrap_or("");
            let time_layout = TimeLayout::detect(first)
                .ok_or_else(|| field_err(0, field, first, "unrecognised time format".to_string()))?;
            for (row, cell) in col.iter().enumerate() {
                let value = cell.unwrap_or("");
                let ts = time_layout.parse(value).ok_or_else(|| {
                    field_err(
                        row,
                        field,
                        value,
                        format!("expected a time like the first row's ({})", time_layout.describe()),
                    )
                })?;
                ts_nanos.push(ts);
                if row % 262_144 == 0 && progress.is_cancelled() {
                    return Err(IngestError::Cancelled);
                }
            }
            time_layout
        }
        TimeColumns::DateAndTime { date, time } => {
            let dates = string_column(date)?;
            let times = string_column(time)?;
            let mut buf = String::with_capacity(32);
            let mut time_layout = None;
            for (row, (d, t)) in dates.iter().zip(times.iter()).enumerate() {
                buf.clear();
                buf.push_str(d.unwrap_or("").trim());
                if let Some(t) = t.filter(|t| !t.trim().is_empty()) {
                    buf.push(' ');
                    buf.push_str(t.trim());
                }
                let tl = match time_layout {
                    Some(tl) => tl,
                    None => {
                        let tl = TimeLayout::detect(&buf)
                            .ok_or_else(|| field_err(row, "date", &buf, "unrecognised date format".into()))?;
                        time_layout = Some(tl);
                        tl
                    }
                };
                let ts = tl
                    .parse(&buf)
                    .ok_or_else(|| field_err(row, "date/time", &buf, format!("expected {}", tl.describe())))?;
                ts_nanos.push(ts);
            }
            time_layout.unwrap_or(TimeLayout::YearFirst)
        }
    };
    progress.report("parsing rows", 0.55);

    let parse_prices = |idx: usize| -> Result<Vec<f64>, IngestError> {
        let col = string_column(idx)?;
        let field = layout.headers[idx].as_str();
        let mut out = Vec::with_capacity(rows);
        for (row, cell) in col.iter().enumerate() {
            let value = cell.map(str::trim).unwrap_or("");
            // An empty cell is a missing value; validation reports it as NaN.
            let v = if value.is_empty() {
                f64::NAN
            } else {
                value.parse::<f64>().map_err(|_| field_err(row, field, value, "not a number".into()))?
            };
            out.push(v);
        }
        Ok(out)
    };
    let open = parse_prices(layout.open)?;
    let high = parse_prices(layout.high)?;
    let low = parse_prices(layout.low)?;
    let close = parse_prices(layout.close)?;
    if progress.is_cancelled() {
        return Err(IngestError::Cancelled);
    }
    let volume = match layout.volume {
        VolumeColumns::None => vec![0.0; rows],
        VolumeColumns::Single(idx) => parse_prices(idx)?,
        VolumeColumns::RealOrTick { real, tick } => {
            let real = parse_prices(real)?;
            if real.iter().any(|&v| v != 0.0) { real } else { parse_prices(tick)? }
        }
    };
    progress.report("parsing rows", 0.8);
    Ok((RawBars { ts_nanos, open, high, low, close, volume }, layout, time_layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_dialects_from_headers() {
        let d = |h: &str| CsvLayout::detect(h).unwrap().dialect;
        assert_eq!(d("time,open,high,low,close,volume"), Dialect::Generic);
        assert_eq!(d("Timestamp;Open;High;Low;Close"), Dialect::Generic);
        assert_eq!(d("time,open,high,low,close,Volume,Volume MA"), Dialect::TradingView);
        assert_eq!(
            d("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"),
            Dialect::MetaTrader5
        );
        assert_eq!(d("Gmt time,Open,High,Low,Close,Volume"), Dialect::Dukascopy);
        assert_eq!(d("time,Open,High,Low,Close,Volume"), Dialect::BacktestingPy);
        assert_eq!(d(",Open,High,Low,Close,Volume"), Dialect::BacktestingPy);
        assert!(CsvLayout::detect("a\tb").unwrap_err().contains("no 'open' column"));
        assert_eq!(CsvLayout::detect("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>").unwrap().separator, b'\t');
    }
}
