//! Writing a backtest: the JSON report (metrics at the top level, NaN as `null`), the trade list and the equity
//! curve as CSV with ISO-8601 UTC times; every file written to a temporary name first and renamed.

use std::{io::Write, path::Path};

use serde_json::{Value, json};

use super::{BacktestReport, Trade};
use crate::{domain::format_ts_nanos, ingest::IngestError, ingest::write_atomically};

/// The report object: every metric at the top level, then `strategy`, `bars`, `from`, `to` and `open_trade`.
pub fn report_json(report: &BacktestReport, strategy_name: &str) -> Value {
    let mut object = match serde_json::to_value(&report.metrics) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let ts = report.bars.ts_nanos();
    let range = report.range.clone();
    object.insert("strategy".into(), json!(strategy_name));
    object.insert("bars".into(), json!(range.len()));
    if let (Some(first), Some(last)) = (ts.get(range.start), ts.get(range.end.saturating_sub(1))) {
        object.insert("from".into(), json!(format_ts_nanos(*first)));
        object.insert("to".into(), json!(format_ts_nanos(*last)));
    }
    object.insert("open_trade".into(), report.open_trade.as_ref().map_or(Value::Null, trade_json));
    Value::Object(object)
}

/// The closed trades as a JSON array of [`trade_json`] objects (what the library keeps).
pub fn trades_json(report: &BacktestReport) -> Value {
    Value::Array(report.trades.iter().map(trade_json).collect())
}

/// The equity curve as (bar time in UTC nanoseconds, equity) pairs.
pub fn equity_points(report: &BacktestReport) -> Vec<(i64, f64)> {
    let ts = report.bars.ts_nanos();
    report.range.clone().zip(&report.equity).map(|(i, e)| (ts[i], *e)).collect()
}

/// One trade as JSON with ISO times.
pub fn trade_json(t: &Trade) -> Value {
    json!({
        "entry_time": format_ts_nanos(t.entry_time_nanos), "exit_time": format_ts_nanos(t.exit_time_nanos),
        "side": t.side, "units": t.units, "entry_price": t.entry_price, "exit_price": t.exit_price,
        "pnl": finite(t.pnl), "return_pct": finite(t.return_pct), "mae": t.mae, "mfe": t.mfe,
        "commission": t.commission, "exit_reason": t.exit_reason,
    })
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// Writes the JSON report.
pub fn write_report(path: &Path, report: &BacktestReport, strategy_name: &str) -> Result<(), IngestError> {
    let text = serde_json::to_string_pretty(&report_json(report, strategy_name)).unwrap_or_default();
    write_atomically(path, |f| f.write_all(text.as_bytes()).map_err(|e| e.to_string()))
}

/// Trade list CSV header.
pub const TRADES_HEADER: &str =
    "entry_time,exit_time,side,units,entry_price,exit_price,pnl,return_pct,mae,mfe,commission,exit_reason";

/// Writes the closed trades as CSV.
pub fn write_trades_csv(path: &Path, trades: &[Trade]) -> Result<(), IngestError> {
    write_atomically(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        let mut write = || -> std::io::Result<()> {
            writeln!(w, "{TRADES_HEADER}")?;
            for t in trades {
                let reason = serde_json::to_value(t.exit_reason).ok();
                let side = if t.side == super::Side::Long { "long" } else { "short" };
                writeln!(
                    w,
                    "{},{},{side},{},{},{},{},{},{},{},{},{}",
                    format_ts_nanos(t.entry_time_nanos),
                    format_ts_nanos(t.exit_time_nanos),
                    t.units,
                    t.entry_price,
                    t.exit_price,
                    t.pnl,
                    t.return_pct,
                    t.mae,
                    t.mfe,
                    t.commission,
                    reason.as_ref().and_then(Value::as_str).unwrap_or_default(),
                )?;
            }
            w.flush()
        };
        write().map_err(|e| e.to_string())
    })
}

/// Writes `time,equity,drawdown_pct` per bar.
pub fn write_equity_csv(path: &Path, report: &BacktestReport) -> Result<(), IngestError> {
    let ts = &report.bars.ts_nanos()[report.range.clone()];
    let drawdown = report.drawdown_pct();
    write_atomically(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        let mut write = || -> std::io::Result<()> {
            writeln!(w, "time,equity,drawdown_pct")?;
            for ((t, e), d) in ts.iter().zip(&report.equity).zip(&drawdown) {
                writeln!(w, "{},{e},{d}", format_ts_nanos(*t))?;
            }
            w.flush()
        };
        write().map_err(|e| e.to_string())
    })
}
