//! Synthetic bar files for benchmarks and tests: a deterministic EUR/USD-like random walk.

use std::{
    io::{BufWriter, Write},
    path::Path,
};

use crate::domain::{NANOS_PER_SEC, format_ts_nanos};

/// Writes `rows` one-minute bars from 2017-01-01 as generic CSV (`time,open,high,low,close,volume`, ISO times,
/// 5 decimals). The same `rows` always gives the same file.
pub fn write_random_walk_csv(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "time,open,high,low,close,volume")?;
    // xorshift64: fast, deterministic, good enough for price noise.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = 1_483_228_800 * NANOS_PER_SEC;
    let mut price: f64 = 1.05;
    for i in 0..rows {
        let open = price;
        let close = (open + (next() - 0.5) * 0.0008).max(0.5);
        let high = open.max(close) + next() * 0.0003;
        let low = open.min(close) - next() * 0.0003;
        let volume = (next() * 500.0).round();
        let ts = format_ts_nanos(start + i as i64 * 60 * NANOS_PER_SEC);
        writeln!(w, "{ts},{open:.5},{high:.5},{low:.5},{close:.5},{volume}")?;
        price = close;
    }
    w.flush()
}

/// `n` ticks of one hour as raw bi5 records: a EUR/USD-like random walk of integer prices around `mid` (in
/// decimal-factor units), spreads of 1–3 points, volumes in Dukascopy's steps, times spread over the hour with
/// bursts. The same `seed` always gives the same ticks.
pub fn random_walk_hour_ticks(seed: u64, n: u32, mid: u32) -> Vec<super::dukascopy::bi5::RawTick> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let n = n.max(1);
    let step_ms = (3_600_000 / n).max(1);
    let mut bid = mid;
    let mut ms = 0u32;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let r = next();
        bid = (bid + (r % 5) as u32).saturating_sub(2).max(1);
        // Ticks come in bursts: mostly close together, sometimes after a pause.
        ms = (ms + ((r >> 8) % u64::from(2 * step_ms)) as u32).min(3_599_999);
        let volume = |bits: u64| (1 + bits % 16) as f32 * 0.25;
        out.push(super::dukascopy::bi5::RawTick {
            ms,
            ask: bid + 1 + ((r >> 20) % 3) as u32,
            bid,
            ask_volume: volume(r >> 24),
            bid_volume: volume(r >> 28),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{LoadOptions, NoProgress, load_path};

    #[test]
    fn random_walk_files_are_valid_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        write_random_walk_csv(&a, 2_000).unwrap();
        write_random_walk_csv(&b, 2_000).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        let loaded = load_path(&a, &LoadOptions::default(), &NoProgress).unwrap();
        assert_eq!(loaded.bars.len(), 2_000);
        assert_eq!(loaded.timeframe, Some(crate::domain::Timeframe::M1));
        assert!(loaded.findings.iter().all(|f| !f.is_error()));
    }
}
