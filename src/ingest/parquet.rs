//! Parquet input: a `time` column (timestamp of any unit, or integer epoch) and `open, high, low, close
//! [, volume]` columns of any numeric type, names matched case-insensitively.

use std::{io::Cursor, path::Path};

use polars::prelude::*;

use super::{IngestError, RawBars};

/// Reads Parquet bytes into raw columns.
pub fn read_parquet_bytes(path: &Path, bytes: Vec<u8>) -> Result<RawBars, IngestError> {
    let format_err = |message: String| IngestError::Format { path: path.to_path_buf(), message };
    let df = ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|e| format_err(format!("not a readable Parquet file: {e}")))?;
    let find = |candidates: &[&str]| -> Option<&Column> {
        df.columns().iter().find(|c| candidates.contains(&c.name().to_ascii_lowercase().as_str()))
    };
    let missing = |what: &str| format_err(format!("no '{what}' column among {:?}", df.get_column_names()));

    let time = find(&["time", "timestamp", "datetime", "date", "ts", "ts_nanos"]).ok_or_else(|| missing("time"))?;
    let time_name = time.name().to_string();
    let ts_nanos: Vec<i64> = match time.dtype() {
        DataType::Datetime(_, _) => {
            let as_ns = time
                .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
                .and_then(|c| c.cast(&DataType::Int64))
                .map_err(|e| format_err(format!("column '{time_name}': {e}")))?;
            collect_i64(&as_ns, &time_name, path)?
        }
        DataType::Date => {
            let days = time.cast(&DataType::Int32).map_err(|e| format_err(e.to_string()))?;
            collect_i64(&days.cast(&DataType::Int64).map_err(|e| format_err(e.to_string()))?, &time_name, path)?
                .into_iter()
                .map(|d| d * 86_400 * crate::domain::NANOS_PER_SEC)
                .collect()
        }
        dt if dt.is_integer() => {
            let raw =
                collect_i64(&time.cast(&DataType::Int64).map_err(|e| format_err(e.to_string()))?, &time_name, path)?;
            let sample = raw.first().map(|v| v.to_string()).unwrap_or_default();
            let layout =
                super::time_parse::TimeLayout::detect(&sample).unwrap_or(super::time_parse::TimeLayout::UnixSeconds);
            raw.iter()
                .enumerate()
                .map(|(row, v)| {
                    layout.parse(&v.to_string()).ok_or_else(|| IngestError::Field {
                        path: path.to_path_buf(),
                        row: row + 1,
                        field: time_name.clone(),
                        value: v.to_string(),
                        reason: "time out of range".into(),
                    })
                })
                .collect::<Result<_, _>>()?
        }
        other => return Err(format_err(format!("column '{time_name}' has type {other}, expected a timestamp"))),
    };
    let float_column = |names: &[&str], what: &str, required: bool| -> Result<Vec<f64>, IngestError> {
        let Some(col) = find(names) else {
            return if required { Err(missing(what)) } else { Ok(vec![0.0; ts_nanos.len()]) };
        };
        let cast = col.cast(&DataType::Float64).map_err(|e| format_err(format!("column '{}': {e}", col.name())))?;
        let ca = cast.f64().map_err(|e| format_err(e.to_string()))?;
        Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    };
    Ok(RawBars {
        open: float_column(&["open", "o"], "open", true)?,
        high: float_column(&["high", "h"], "high", true)?,
        low: float_column(&["low", "l"], "low", true)?,
        close: float_column(&["close", "c"], "close", true)?,
        volume: float_column(&["volume", "vol", "v", "tick_volume"], "volume", false)?,
        ts_nanos,
    })
}

fn collect_i64(col: &Column, name: &str, path: &Path) -> Result<Vec<i64>, IngestError> {
    let ca = col
        .i64()
        .map_err(|e| IngestError::Format { path: path.to_path_buf(), message: format!("column '{name}': {e}") })?;
    ca.iter()
        .enumerate()
        .map(|(row, v)| {
            v.ok_or_else(|| IngestError::Field {
                path: path.to_path_buf(),
                row: row + 1,
                field: name.to_string(),
                value: String::new(),
                reason: "missing time".into(),
            })
        })
        .collect()
}
