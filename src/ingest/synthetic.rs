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
