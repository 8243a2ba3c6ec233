//! Writing bars as CSV or Parquet (zstd), always through a temporary file renamed into place.

use std::{
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use polars::prelude::*;

use super::IngestError;
use crate::domain::{Bars, Ticks, format_ts_nanos};

/// Output file kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `time,open,high,low,close,volume` with ISO-8601 UTC times.
    Csv,
    /// Parquet with zstd compression: `time` as timestamp[ns, UTC], f64 prices and volume.
    Parquet,
}

impl OutputFormat {
    /// The format named by a path's extension (`.csv`, `.parquet`/`.pq`).
    pub fn from_path(path: &Path) -> Result<Self, IngestError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(Self::Csv),
            Some("parquet" | "pq") => Ok(Self::Parquet),
            _ => Err(IngestError::Write {
                path: path.to_path_buf(),
                message: "unknown output format; use a .csv or .parquet extension".into(),
            }),
        }
    }
}

/// Runs `write` on a temporary file next to `path` and renames it to `path` only when `write` succeeds.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), IngestError> {
    let err = |message: String| IngestError::Write { path: path.to_path_buf(), message };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".aio-")
        .suffix(".aio-tmp")
        .tempfile_in(&dir)
        .map_err(|e| err(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
    write(tmp.as_file_mut()).map_err(err)?;
    // The temporary file is private (0600); the file it becomes keeps the mode of the one it replaces, or gets the
    // usual 0644 of a new file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| err(e.to_string()))?;
    }
    tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
    tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
    Ok(())
}

/// Writes bars as CSV (`time,open,high,low,close,volume`; floats in shortest round-trip form).
pub fn write_csv(path: &Path, bars: &Bars) -> Result<(), IngestError> {
    write_atomically(path, |file| {
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let io = |e: std::io::Error| e.to_string();
        writeln!(w, "time,open,high,low,close,volume").map_err(io)?;
        for bar in bars.iter() {
            writeln!(
                w,
                "{},{},{},{},{},{}",
                format_ts_nanos(bar.ts_nanos),
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                bar.volume
            )
            .map_err(io)?;
        }
        w.flush().map_err(io)
    })
}

/// The bars as a polars frame: `time` (Datetime ns UTC), `open`, `high`, `low`, `close`, `volume`.
pub fn bars_to_dataframe(bars: &Bars) -> PolarsResult<DataFrame> {
    DataFrame::new_infer_height(vec![
        utc_time_column(bars.ts_nanos())?,
        Column::new("open".into(), bars.open()),
        Column::new("high".into(), bars.high()),
        Column::new("low".into(), bars.low()),
        Column::new("close".into(), bars.close()),
        Column::new("volume".into(), bars.volume()),
    ])
}

/// Writes a frame as zstd-compressed Parquet through a temporary file.
fn write_frame_parquet(path: &Path, df: &mut DataFrame) -> Result<(), IngestError> {
    write_atomically(path, |file| {
        ParquetWriter::new(BufWriter::new(file))
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// A `time` column of UTC nanosecond timestamps.
fn utc_time_column(ts_nanos: &[i64]) -> PolarsResult<Column> {
    Ok(Int64Chunked::from_slice("time".into(), ts_nanos)
        .into_series()
        .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))?
        .into_column())
}

/// Writes bars as zstd-compressed Parquet.
pub fn write_parquet(path: &Path, bars: &Bars) -> Result<(), IngestError> {
    let mut df =
        bars_to_dataframe(bars).map_err(|e| IngestError::Write { path: path.to_path_buf(), message: e.to_string() })?;
    write_frame_parquet(path, &mut df)
}

/// Writes bars in the format named by `path`'s extension.
pub fn write_bars(path: &Path, bars: &Bars) -> Result<(), IngestError> {
    match OutputFormat::from_path(path)? {
        OutputFormat::Csv => write_csv(path, bars),
        OutputFormat::Parquet => write_parquet(path, bars),
    }
}

/// One extra column written beside bars by [`write_table`].
#[derive(Debug, Clone, Copy)]
pub enum ExtraColumn<'a> {
    /// Floating-point values; `NaN` is written as an empty cell (Parquet: null).
    F64(&'a str, &'a [f64]),
    /// Integer values (pattern signals).
    I32(&'a str, &'a [i32]),
    /// Counts (ticks per bar).
    U64(&'a str, &'a [u64]),
}

impl ExtraColumn<'_> {
    fn name(&self) -> &str {
        match self {
            Self::F64(name, _) | Self::I32(name, _) | Self::U64(name, _) => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::F64(_, v) => v.len(),
            Self::I32(_, v) => v.len(),
            Self::U64(_, v) => v.len(),
        }
    }
}

/// Writes `time` (plus `open,high,low,close,volume` when `with_ohlcv`) and `extra` columns as CSV or Parquet,
/// chosen by `path`'s extension, through a temporary file. Every extra column must have one value per bar.
pub fn write_table(path: &Path, bars: &Bars, with_ohlcv: bool, extra: &[ExtraColumn<'_>]) -> Result<(), IngestError> {
    let err = |message: String| IngestError::Write { path: path.to_path_buf(), message };
    if let Some(bad) = extra.iter().find(|c| c.len() != bars.len()) {
        return Err(err(format!("column {} has {} values for {} bars", bad.name(), bad.len(), bars.len())));
    }
    match OutputFormat::from_path(path)? {
        OutputFormat::Csv => write_atomically(path, |file| {
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let io = |e: std::io::Error| e.to_string();
            let mut header = String::from(if with_ohlcv { "time,open,high,low,close,volume" } else { "time" });
            for c in extra {
                header.push(',');
                header.push_str(c.name());
            }
            writeln!(w, "{header}").map_err(io)?;
            let mut line = String::with_capacity(64 + 24 * extra.len());
            for (i, bar) in bars.iter().enumerate() {
                use std::fmt::Write as _;
                line.clear();
                line.push_str(&format_ts_nanos(bar.ts_nanos));
                if with_ohlcv {
                    let _ = write!(line, ",{},{},{},{},{}", bar.open, bar.high, bar.low, bar.close, bar.volume);
                }
                for c in extra {
                    line.push(',');
                    match c {
                        ExtraColumn::F64(_, v) if v[i].is_nan() => {}
                        ExtraColumn::F64(_, v) => {
                            let _ = write!(line, "{}", v[i]);
                        }
                        ExtraColumn::I32(_, v) => {
                            let _ = write!(line, "{}", v[i]);
                        }
                        ExtraColumn::U64(_, v) => {
                            let _ = write!(line, "{}", v[i]);
                        }
                    }
                }
                line.push('\n');
                w.write_all(line.as_bytes()).map_err(io)?;
            }
            w.flush().map_err(io)
        }),
        OutputFormat::Parquet => {
            let mut df = bars_to_dataframe(bars).map_err(|e| err(e.to_string()))?;
            if !with_ohlcv {
                df = df.select(["time"]).map_err(|e| err(e.to_string()))?;
            }
            for c in extra {
                let column = match c {
                    ExtraColumn::F64(name, v) => {
                        let values: Float64Chunked = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                        values.with_name((*name).into()).into_column()
                    }
                    ExtraColumn::I32(name, v) => Column::new((*name).into(), *v),
                    ExtraColumn::U64(name, v) => Column::new((*name).into(), *v),
                };
                df.with_column(column).map_err(|e| err(e.to_string()))?;
            }
            write_frame_parquet(path, &mut df)
        }
    }
}

/// Writes ticks as CSV or Parquet (by extension): `time,bid,ask,bid_volume,ask_volume`, through a temporary file.
pub fn write_ticks(path: &Path, ticks: &Ticks) -> Result<(), IngestError> {
    let err = |message: String| IngestError::Write { path: path.to_path_buf(), message };
    match OutputFormat::from_path(path)? {
        OutputFormat::Csv => write_atomically(path, |file| {
            use std::fmt::Write as _;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let io = |e: std::io::Error| e.to_string();
            writeln!(w, "time,bid,ask,bid_volume,ask_volume").map_err(io)?;
            let mut line = String::with_capacity(96);
            for i in 0..ticks.len() {
                line.clear();
                line.push_str(&format_ts_nanos(ticks.ts_nanos()[i]));
                let _ = writeln!(
                    line,
                    ",{},{},{},{}",
                    ticks.bid()[i],
                    ticks.ask()[i],
                    ticks.bid_volume()[i],
                    ticks.ask_volume()[i]
                );
                w.write_all(line.as_bytes()).map_err(io)?;
            }
            w.flush().map_err(io)
        }),
        OutputFormat::Parquet => {
            let time = utc_time_column(ticks.ts_nanos()).map_err(|e| err(e.to_string()))?;
            let mut df = DataFrame::new_infer_height(vec![
                time,
                Column::new("bid".into(), ticks.bid()),
                Column::new("ask".into(), ticks.ask()),
                Column::new("bid_volume".into(), ticks.bid_volume()),
                Column::new("ask_volume".into(), ticks.ask_volume()),
            ])
            .map_err(|e| err(e.to_string()))?;
            write_frame_parquet(path, &mut df)
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn atomic_writes_give_new_files_0644_and_keep_the_mode_of_replaced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomically(&path, |f| std::io::Write::write_all(f, b"one").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, |f| std::io::Write::write_all(f, b"two").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }
}
