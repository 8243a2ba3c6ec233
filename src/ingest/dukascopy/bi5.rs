//! The `.bi5` file format: an LZMA "alone" (`.lzma`) stream of fixed-size big-endian records.
//!
//! - hourly tick files: 20-byte records `u32 ms since the hour, u32 ask, u32 bid, f32 ask volume, f32 bid volume`;
//! - candle files (minute candles per day, hour candles per month, day candles per year): 24-byte records
//!   `u32 seconds since the file's start, u32 open, u32 close, u32 low, u32 high, f32 volume` (note the order).
//!
//! Prices are integers divided by the instrument's decimal factor. A 0-byte file is a closed-market period. The
//! encoders exist for tests and benchmarks, which write real files the same way Dukascopy's servers do.

use std::path::Path;

use liblzma::stream::{Action, LzmaOptions, Status, Stream};

use super::DukascopyError;
use crate::{
    domain::{Bars, NANOS_PER_SEC, Ticks},
    ingest::RawBars,
};

/// Bytes per tick record.
pub const TICK_RECORD_BYTES: usize = 20;
/// Bytes per candle record.
pub const CANDLE_RECORD_BYTES: usize = 24;
/// Size of the `.lzma` header: properties (1), dictionary size (4), uncompressed size (8, all ones if unknown).
const LZMA_HEADER_BYTES: usize = 13;
/// No bi5 file is anywhere near this large (an hour of the busiest instrument is well under 10 MB); a header
/// claiming more is corrupt, and we do not reserve memory for it.
const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;
const MS_PER_HOUR: u32 = 3_600_000;

/// Decompresses a bi5 file; an empty input is an empty output. `path` names the file in errors.
pub fn decompress(path: &Path, compressed: &[u8]) -> Result<Vec<u8>, DukascopyError> {
    if compressed.is_empty() {
        return Ok(Vec::new());
    }
    let corrupt = |message: String| DukascopyError::Corrupt { path: path.to_path_buf(), message };
    if compressed.len() < LZMA_HEADER_BYTES {
        return Err(corrupt(format!("{} bytes is shorter than an LZMA header", compressed.len())));
    }
    let mut size_bytes = [0u8; 8];
    size_bytes.copy_from_slice(&compressed[5..LZMA_HEADER_BYTES]);
    let declared = u64::from_le_bytes(size_bytes);
    let known_size = (declared != u64::MAX).then_some(declared);
    if known_size.is_some_and(|n| n > MAX_DECOMPRESSED_BYTES) {
        return Err(corrupt(format!("LZMA header declares {declared} bytes")));
    }
    // Tick files compress about 4:1; a header's size is a hint only, never trusted for a large allocation.
    let guess = compressed.len().saturating_mul(8).saturating_add(4096);
    let capacity = known_size.map_or(guess, |n| (n as usize).min(guess.saturating_mul(4)));
    let mut out = Vec::with_capacity(capacity);
    let mut stream = Stream::new_lzma_decoder(MAX_DECOMPRESSED_BYTES)
        .map_err(|e| corrupt(format!("cannot start the LZMA decoder: {e}")))?;
    loop {
        let consumed = stream.total_in() as usize;
        let before_out = out.len();
        let status = stream
            .process_vec(&compressed[consumed..], &mut out, Action::Finish)
            .map_err(|e| corrupt(format!("LZMA data error after {} output bytes: {e}", out.len())))?;
        if matches!(status, Status::StreamEnd) {
            break;
        }
        if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
            return Err(corrupt(format!("decodes to more than {MAX_DECOMPRESSED_BYTES} bytes")));
        }
        let progressed = stream.total_in() as usize > consumed || out.len() > before_out;
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        } else if !progressed {
            return Err(DukascopyError::Truncated {
                path: path.to_path_buf(),
                message: format!(
                    "LZMA stream ends early ({} compressed bytes, {} decoded{})",
                    compressed.len(),
                    out.len(),
                    known_size.map(|n| format!(" of {n}")).unwrap_or_default()
                ),
            });
        }
    }
    Ok(out)
}

fn be_u32(record: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
}

fn be_f32(record: &[u8], at: usize) -> f32 {
    f32::from_be_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
}

/// Decodes the decompressed records of an hourly tick file. `hour_start_nanos` is the hour's UTC start,
/// `decimal_factor` the instrument's (EURUSD 100000). Checks record size, times inside the hour and in order,
/// positive prices and finite, non-negative volumes.
pub fn decode_ticks(
    path: &Path,
    records: &[u8],
    hour_start_nanos: i64,
    decimal_factor: f64,
) -> Result<Ticks, DukascopyError> {
    let corrupt = |message: String| DukascopyError::Corrupt { path: path.to_path_buf(), message };
    if !records.len().is_multiple_of(TICK_RECORD_BYTES) {
        return Err(DukascopyError::Truncated {
            path: path.to_path_buf(),
            message: format!("{} decoded bytes is not a whole number of 20-byte tick records", records.len()),
        });
    }
    let n = records.len() / TICK_RECORD_BYTES;
    let mut columns = TickColumns::with_capacity(n);
    let mut prev_ms = 0u32;
    for (index, record) in records.chunks_exact(TICK_RECORD_BYTES).enumerate() {
        let ms = be_u32(record, 0);
        let (ask, bid) = (be_u32(record, 4), be_u32(record, 8));
        let (ask_volume, bid_volume) = (be_f32(record, 12), be_f32(record, 16));
        // One combined test keeps the loop tight; the slow path says which check failed.
        let suspicious = ms >= MS_PER_HOUR
            || ms < prev_ms
            || ask == 0
            || bid == 0
            || !(ask_volume >= 0.0 && ask_volume.is_finite())
            || !(bid_volume >= 0.0 && bid_volume.is_finite());
        if suspicious {
            let what = if ms >= MS_PER_HOUR {
                format!("time offset {ms} ms is past the hour")
            } else if ms < prev_ms {
                format!("time offset {ms} ms is before the previous tick's {prev_ms} ms")
            } else if ask == 0 || bid == 0 {
                format!("zero price (ask {ask}, bid {bid})")
            } else {
                format!("invalid volume (ask {ask_volume}, bid {bid_volume})")
            };
            return Err(corrupt(format!("tick record {index}: {what}")));
        }
        prev_ms = ms;
        columns.ts_nanos.push(hour_start_nanos + i64::from(ms) * 1_000_000);
        columns.ask.push(f64::from(ask) / decimal_factor);
        columns.bid.push(f64::from(bid) / decimal_factor);
        columns.ask_volume.push(f64::from(ask_volume));
        columns.bid_volume.push(f64::from(bid_volume));
    }
    columns.into_ticks().map_err(|e| corrupt(e.to_string()))
}

/// Decodes the decompressed records of a day's minute-candle file starting at `file_start_nanos` (UTC midnight).
/// Flat candles with zero volume are the datafeed's filler for minutes without ticks (whole weekends come as
/// 1,440 of them): they are dropped, so closed markets stay gaps.
pub fn decode_candles(
    path: &Path,
    records: &[u8],
    file_start_nanos: i64,
    decimal_factor: f64,
) -> Result<Bars, DukascopyError> {
    let corrupt = |message: String| DukascopyError::Corrupt { path: path.to_path_buf(), message };
    if !records.len().is_multiple_of(CANDLE_RECORD_BYTES) {
        return Err(DukascopyError::Truncated {
            path: path.to_path_buf(),
            message: format!("{} decoded bytes is not a whole number of 24-byte candle records", records.len()),
        });
    }
    let mut raw = RawBars::default();
    let mut prev_secs: Option<u32> = None;
    for (index, record) in records.chunks_exact(CANDLE_RECORD_BYTES).enumerate() {
        let secs = be_u32(record, 0);
        let (open, close, low, high) = (be_u32(record, 4), be_u32(record, 8), be_u32(record, 12), be_u32(record, 16));
        let volume = be_f32(record, 20);
        if prev_secs.is_some_and(|p| secs <= p) {
            return Err(corrupt(format!("candle record {index}: offset {secs} s does not follow the previous one")));
        }
        if secs >= 86_400 || !secs.is_multiple_of(60) {
            return Err(corrupt(format!("candle record {index}: offset {secs} s is not a minute of the day")));
        }
        prev_secs = Some(secs);
        if !(volume.is_finite() && volume >= 0.0) {
            return Err(corrupt(format!("candle record {index}: invalid volume {volume}")));
        }
        if volume == 0.0 && open == close && low == high && open == low {
            continue;
        }
        if low == 0 || low > open.min(close) || high < open.max(close) {
            return Err(corrupt(format!(
                "candle record {index}: prices out of order (open {open}, close {close}, low {low}, high {high})"
            )));
        }
        raw.ts_nanos.push(file_start_nanos + i64::from(secs) * NANOS_PER_SEC);
        raw.open.push(f64::from(open) / decimal_factor);
        raw.high.push(f64::from(high) / decimal_factor);
        raw.low.push(f64::from(low) / decimal_factor);
        raw.close.push(f64::from(close) / decimal_factor);
        raw.volume.push(f64::from(volume));
    }
    Bars::new_checked(raw.ts_nanos, raw.open, raw.high, raw.low, raw.close, raw.volume)
        .map_err(|e| corrupt(e.to_string()))
}

/// Decompresses and decodes an hourly tick file in one go.
pub fn read_ticks(
    path: &Path,
    compressed: &[u8],
    hour_start_nanos: i64,
    decimal_factor: f64,
) -> Result<Ticks, DukascopyError> {
    decode_ticks(path, &decompress(path, compressed)?, hour_start_nanos, decimal_factor)
}

/// Decompresses and decodes a candle file in one go.
pub fn read_candles(
    path: &Path,
    compressed: &[u8],
    file_start_nanos: i64,
    decimal_factor: f64,
) -> Result<Bars, DukascopyError> {
    decode_candles(path, &decompress(path, compressed)?, file_start_nanos, decimal_factor)
}

/// Column builders for ticks that were already checked record by record.
struct TickColumns {
    ts_nanos: Vec<i64>,
    bid: Vec<f64>,
    ask: Vec<f64>,
    bid_volume: Vec<f64>,
    ask_volume: Vec<f64>,
}

impl TickColumns {
    fn with_capacity(n: usize) -> Self {
        Self {
            ts_nanos: Vec::with_capacity(n),
            bid: Vec::with_capacity(n),
            ask: Vec::with_capacity(n),
            bid_volume: Vec::with_capacity(n),
            ask_volume: Vec::with_capacity(n),
        }
    }

    fn into_ticks(self) -> Result<Ticks, crate::domain::TickError> {
        Ticks::from_columns(self.ts_nanos, self.bid, self.ask, self.bid_volume, self.ask_volume)
    }
}

/// One tick as stored in a bi5 file: integer prices and f32 volumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawTick {
    /// Milliseconds since the start of the hour.
    pub ms: u32,
    /// Ask × decimal factor.
    pub ask: u32,
    /// Bid × decimal factor.
    pub bid: u32,
    /// Ask volume, millions.
    pub ask_volume: f32,
    /// Bid volume, millions.
    pub bid_volume: f32,
}

/// One candle as stored in a bi5 file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawCandle {
    /// Seconds since the start of the file's period.
    pub secs: u32,
    /// Open × decimal factor.
    pub open: u32,
    /// Close × decimal factor.
    pub close: u32,
    /// Low × decimal factor.
    pub low: u32,
    /// High × decimal factor.
    pub high: u32,
    /// Volume, millions.
    pub volume: f32,
}

/// Tick records in the bi5 byte layout (uncompressed).
pub fn tick_records(ticks: &[RawTick]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ticks.len() * TICK_RECORD_BYTES);
    for t in ticks {
        out.extend_from_slice(&t.ms.to_be_bytes());
        out.extend_from_slice(&t.ask.to_be_bytes());
        out.extend_from_slice(&t.bid.to_be_bytes());
        out.extend_from_slice(&t.ask_volume.to_be_bytes());
        out.extend_from_slice(&t.bid_volume.to_be_bytes());
    }
    out
}

/// Candle records in the bi5 byte layout (uncompressed).
pub fn candle_records(candles: &[RawCandle]) -> Vec<u8> {
    let mut out = Vec::with_capacity(candles.len() * CANDLE_RECORD_BYTES);
    for c in candles {
        for v in [c.secs, c.open, c.close, c.low, c.high] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&c.volume.to_be_bytes());
    }
    out
}

/// Compresses bytes into an LZMA "alone" stream as Dukascopy serves them; no records give a 0-byte file.
pub fn compress(records: &[u8]) -> Result<Vec<u8>, DukascopyError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |e: liblzma::stream::Error| DukascopyError::Encode(e.to_string());
    let options = LzmaOptions::new_preset(6).map_err(fail)?;
    let mut stream = Stream::new_lzma_encoder(&options).map_err(fail)?;
    let mut out = Vec::with_capacity(records.len() / 3 + 64);
    loop {
        let consumed = stream.total_in() as usize;
        match stream.process_vec(&records[consumed..], &mut out, Action::Finish).map_err(fail)? {
            Status::StreamEnd => return Ok(out),
            _ => out.reserve(out.capacity().max(4096)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 1_705_323_600 * NANOS_PER_SEC; // 2024-01-15T13:00:00Z

    fn ticks() -> Vec<RawTick> {
        vec![
            RawTick { ms: 0, ask: 109_514, bid: 109_510, ask_volume: 1.5, bid_volume: 0.75 },
            RawTick { ms: 999, ask: 109_515, bid: 109_511, ask_volume: 0.1, bid_volume: 2.25 },
            RawTick { ms: 999, ask: 109_516, bid: 109_512, ask_volume: 0.0, bid_volume: 1.0 },
            RawTick { ms: 3_599_999, ask: 109_600, bid: 109_590, ask_volume: 3.0, bid_volume: 3.0 },
        ]
    }

    #[test]
    fn ticks_round_trip_through_lzma_with_exact_prices() {
        let path = Path::new("EURUSD/2024/00/15/13h_ticks.bi5");
        let file = compress(&tick_records(&ticks())).unwrap();
        let t = read_ticks(path, &file, HOUR, 100_000.0).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.ask()[0], 1.09514);
        assert_eq!(t.bid()[0], 1.0951);
        assert_eq!(t.ts_nanos()[1], HOUR + 999_000_000);
        assert_eq!(t.ts_nanos()[3], HOUR + 3_599_999_000_000);
        assert_eq!(t.ask_volume()[1], f64::from(0.1f32));
        assert_eq!(t.bid_volume()[1], 2.25);
    }

    #[test]
    fn empty_files_are_closed_hours_and_damage_is_named() {
        let path = Path::new("x/13h_ticks.bi5");
        assert!(read_ticks(path, &[], HOUR, 1e5).unwrap().is_empty());
        let file = compress(&tick_records(&ticks())).unwrap();
        for cut in [5, file.len() / 2, file.len() - 3] {
            let err = read_ticks(path, &file[..cut], HOUR, 1e5).unwrap_err();
            assert!(err.to_string().contains("13h_ticks.bi5"), "{err}");
            assert!(err.is_damaged_file(), "{err}");
        }
        let mut garbage = file.clone();
        garbage[20] ^= 0xff;
        garbage[30] ^= 0x55;
        assert!(read_ticks(path, &garbage, HOUR, 1e5).is_err());
        let mut late = ticks();
        late[3].ms = 3_600_000;
        let err = read_ticks(path, &compress(&tick_records(&late)).unwrap(), HOUR, 1e5).unwrap_err();
        assert!(err.to_string().contains("tick record 3: time offset 3600000 ms is past the hour"), "{err}");
        let mut zero = ticks();
        zero[1].bid = 0;
        assert!(read_ticks(path, &compress(&tick_records(&zero)).unwrap(), HOUR, 1e5).is_err());
        // A whole stream that decodes to a ragged record count is truncated, too.
        let ragged = compress(&tick_records(&ticks())[..45]).unwrap();
        assert!(matches!(read_ticks(path, &ragged, HOUR, 1e5), Err(DukascopyError::Truncated { .. })));
    }

    #[test]
    fn candles_read_open_close_low_high_and_drop_flat_fillers() {
        let day = 1_705_276_800 * NANOS_PER_SEC;
        let candles = [
            RawCandle { secs: 0, open: 147_120, close: 147_150, low: 147_100, high: 147_200, volume: 12.5 },
            RawCandle { secs: 60, open: 147_150, close: 147_150, low: 147_150, high: 147_150, volume: 0.0 },
            RawCandle { secs: 120, open: 147_150, close: 147_110, low: 147_090, high: 147_160, volume: 3.0 },
        ];
        let path = Path::new("USDJPY/2024/00/15/BID_candles_min_1.bi5");
        let bars = read_candles(path, &compress(&candle_records(&candles)).unwrap(), day, 1_000.0).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!((bars.open()[0], bars.high()[0], bars.low()[0], bars.close()[0]), (147.12, 147.2, 147.1, 147.15));
        assert_eq!(bars.ts_nanos()[1], day + 120 * NANOS_PER_SEC);
        let mut bad = candles;
        bad[0].low = 147_130;
        assert!(read_candles(path, &compress(&candle_records(&bad)).unwrap(), day, 1e3).is_err());
    }
}
