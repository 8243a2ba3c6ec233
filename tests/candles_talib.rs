//! `aio::patterns::candles` against TA-Lib: every pattern, every bar, exact equality with the values the PyPI
//! `ta-lib` wrapper (TA-Lib C 0.8.1) returned for the same OHLC series. The golden CSVs and the script that writes
//! them live in `tests/golden/` (`make_candles_golden.py`); each row holds the bar's open, high, low and close
//! (written with Python `repr`, so they parse back bit-exact) followed by one column per pattern.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aio::patterns::candles::{CandlePattern, Ohlc, detect, detect_with_penetration};

/// One golden file: the OHLC inputs and TA-Lib's output columns by header name.
struct Golden {
    name: &'static str,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    columns: Vec<(String, Vec<i32>)>,
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden").join(name)
}

fn load(name: &'static str) -> Golden {
    let path = golden_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/golden/make_candles_golden.py)", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or_else(|| panic!("{name}: empty file")).split(',').collect();
    assert_eq!(header[..5], ["bar", "open", "high", "low", "close"], "{name}: unexpected header");
    let mut golden = Golden {
        name,
        open: Vec::new(),
        high: Vec::new(),
        low: Vec::new(),
        close: Vec::new(),
        columns: header[5..].iter().map(|h| (h.to_string(), Vec::new())).collect(),
    };
    for (row, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{name}: row {row} has {} fields", fields.len());
        assert_eq!(fields[0].parse::<usize>().ok(), Some(row), "{name}: rows out of order at {row}");
        let price = |k: usize| -> f64 {
            fields[k].parse().unwrap_or_else(|e| panic!("{name}: row {row} column {}: {e}", header[k]))
        };
        golden.open.push(price(1));
        golden.high.push(price(2));
        golden.low.push(price(3));
        golden.close.push(price(4));
        for (k, (_, values)) in golden.columns.iter_mut().enumerate() {
            let field = fields[5 + k];
            values.push(field.parse().unwrap_or_else(|e| panic!("{name}: row {row} column {}: {e}", header[5 + k])));
        }
    }
    golden
}

/// The pattern and penetration a column header names: `CDLDOJI`, or `CDLMORNINGSTAR@0.1`.
fn parse_column(header: &str) -> (CandlePattern, Option<f64>) {
    let (name, penetration) = match header.split_once('@') {
        Some((name, pen)) => (name, Some(pen.parse().unwrap_or_else(|e| panic!("column {header}: {e}")))),
        None => (header, None),
    };
    let pattern = CandlePattern::from_name(name).unwrap_or_else(|| panic!("column {header}: unknown pattern"));
    (pattern, penetration)
}

/// Compares every column of `golden` with our detection; panics at the first differing bar with context.
fn assert_matches_talib(golden: &Golden) {
    let bars = Ohlc::new(&golden.open, &golden.high, &golden.low, &golden.close);
    let mut seen = Vec::new();
    for (header, expected) in &golden.columns {
        let (pattern, penetration) = parse_column(header);
        let got = match penetration {
            Some(p) => detect_with_penetration(pattern, bars, p),
            None => detect(pattern, bars),
        };
        assert_eq!(got.len(), expected.len(), "{}: {header}: output length", golden.name);
        if let Some(row) = (0..got.len()).find(|&i| got[i] != expected[i]) {
            let context: Vec<String> = (row.saturating_sub(4)..=row)
                .map(|i| {
                    format!(
                        "    bar {i}: o={:?} h={:?} l={:?} c={:?}  talib={} ours={}",
                        golden.open[i], golden.high[i], golden.low[i], golden.close[i], expected[i], got[i]
                    )
                })
                .collect();
            let total = (0..got.len()).filter(|&i| got[i] != expected[i]).count();
            panic!(
                "{}: {header} differs from TA-Lib first at bar {row} (TA-Lib {}, ours {}; {total} bars differ)\n{}",
                golden.name,
                expected[row],
                got[row],
                context.join("\n")
            );
        }
        if penetration.is_none() {
            seen.push(pattern);
        }
    }
    for pattern in CandlePattern::ALL {
        assert!(seen.contains(&pattern), "{}: no {} column", golden.name, pattern.talib_name());
    }
}

#[test]
fn candlestick_patterns_match_talib_on_eurusd_h1() {
    assert_matches_talib(&load("candles_eurusd_h1.csv"));
}

#[test]
fn candlestick_patterns_match_talib_on_synthetic_edge_cases() {
    assert_matches_talib(&load("candles_synthetic.csv"));
}

#[test]
fn candlestick_patterns_match_talib_after_leading_nan_bars() {
    let golden = load("candles_edge.csv");
    assert!(golden.open[0].is_nan(), "the edge file starts with NaN bars");
    assert_matches_talib(&golden);
}

#[test]
fn every_candlestick_pattern_fires_in_the_golden_files() {
    let files = ["candles_eurusd_h1.csv", "candles_synthetic.csv"].map(load);
    // (pattern, file) -> number of bars where TA-Lib reports it, per distinct value
    let mut fires: BTreeMap<&str, BTreeMap<i32, usize>> = BTreeMap::new();
    for golden in &files {
        for (header, values) in &golden.columns {
            if header.contains('@') {
                continue;
            }
            for &v in values.iter().filter(|&&v| v != 0) {
                *fires.entry(header.as_str()).or_default().entry(v).or_default() += 1;
            }
        }
    }
    for pattern in CandlePattern::ALL {
        let best = files
            .iter()
            .map(|g| {
                g.columns
                    .iter()
                    .find(|(h, _)| h == pattern.talib_name())
                    .map_or(0, |(_, v)| v.iter().filter(|&&x| x != 0).count())
            })
            .max()
            .unwrap_or(0);
        assert!(best >= 5, "{} fires only {best} times in the best golden file", pattern.talib_name());
    }
    // TA-Lib's ±80 answers (bodies sharing an end) are covered too
    for pattern in [CandlePattern::Engulfing, CandlePattern::Harami] {
        let values = fires.get(pattern.talib_name()).map(|m| m.keys().copied().collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!(values, [-100, -80, 80, 100], "{} values seen in the golden files", pattern.talib_name());
    }
}
