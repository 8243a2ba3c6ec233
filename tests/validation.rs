//! Every validation finding through `aio validate` (row numbers, exit codes), import refusal without
//! `--force`, and clear messages for malformed files.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use aio::{
    domain::NANOS_PER_SEC,
    ingest::{self, FindingKind, LoadOptions, NoProgress, RawBars, Severity, ValidateOptions, validate::validate},
};

fn invalid(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid").join(name)
}

fn aio_validate(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aio")).arg("validate").arg(path).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn expect_lines(name: &str, expected: &[&str]) {
    let (code, stdout, stderr) = aio_validate(&invalid(name));
    assert_eq!(code, 1, "{name}: {stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{name}: {stdout}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(line.contains(want), "{name}: '{line}' should contain '{want}'");
        assert!(line.starts_with(invalid(name).to_str().unwrap()), "{line}");
    }
}

#[test]
fn unsorted_rows_are_reported_with_their_row() {
    expect_lines("unsorted.csv", &["row 3: error: time 2017-04-19T10:00:00Z is before row 2's 2017-04-19T11:00:00Z"]);
}

#[test]
fn duplicate_times_are_reported() {
    expect_lines("duplicate.csv", &["row 3: error: time 2017-04-19T10:00:00Z repeats row 2"]);
}

#[test]
fn high_below_low_is_reported() {
    expect_lines("high_below_low.csv", &["row 2: error: high 1.07196 < low 1.07296"]);
}

#[test]
fn open_and_close_outside_the_range_are_reported() {
    expect_lines("open_outside_range.csv", &["row 2: error: open 1.07314 is outside [low 1.07214, high 1.07296]"]);
    expect_lines("close_outside_range.csv", &["row 2: error: close 1.0736 is outside [low 1.07214, high 1.07296]"]);
}

#[test]
fn nan_and_missing_values_are_reported() {
    expect_lines("nan.csv", &["row 2: error: high is NaN", "row 3: error: low is NaN"]);
}

#[test]
fn zero_and_negative_prices_are_reported() {
    expect_lines(
        "non_positive.csv",
        &[
            "row 2: error: open 0 is not positive",
            "row 2: error: low 0 is not positive",
            "row 3: error: open -1.07256 is not positive",
            "row 3: error: low -1.0717 is not positive",
        ],
    );
}

#[test]
fn malformed_cells_name_file_row_and_field() {
    expect_lines("bad_number.csv", &["row 2: error: invalid value 'abc' in field 'high': not a number"]);
    expect_lines("bad_time.csv", &["row 2: error: invalid value '2017-04-19 25:00:00' in field 'time'"]);
    let err = ingest::load_path(&invalid("bad_number.csv"), &LoadOptions::default(), &NoProgress).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("'abc'") && msg.contains("'high'") && msg.contains("row 2") && msg.contains("bad_number.csv"),
        "{msg}"
    );
}

#[test]
fn unreadable_structure_gets_a_clear_error() {
    let (code, _, stderr) = aio_validate(&invalid("no_ohlc_header.csv"));
    assert_eq!(code, 1);
    assert!(stderr.contains("no 'open' column") && stderr.contains("no_ohlc_header.csv"), "{stderr}");
    let (code, _, stderr) = aio_validate(&invalid("empty.csv"));
    assert_eq!(code, 1);
    assert!(stderr.contains("the file is empty"), "{stderr}");
    let (code, _, stderr) = aio_validate(&invalid("does_not_exist.csv"));
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read") && stderr.contains("does_not_exist.csv"), "{stderr}");
}

#[test]
fn the_sample_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eurusd_h1.csv");
    std::fs::write(&path, ingest::SAMPLE_CSV).unwrap();
    let (code, stdout, stderr) = aio_validate(&path);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("5000 rows (backtesting.py CSV), 0 error(s)"), "{stderr}");
}

/// `n` hourly EUR/USD-like bars from Wednesday 2024-01-17 00:00 UTC with ±2 pip ranges.
fn hourly(n: usize) -> RawBars {
    let start = 1_705_449_600 * NANOS_PER_SEC;
    let mut raw = RawBars::default();
    for i in 0..n {
        let base = 1.09 + 0.0001 * ((i % 7) as f64);
        raw.ts_nanos.push(start + i as i64 * 3_600 * NANOS_PER_SEC);
        raw.open.push(base);
        raw.high.push(base + 0.0002);
        raw.low.push(base - 0.0002);
        raw.close.push(base + 0.0001);
        raw.volume.push(100.0);
    }
    raw
}

#[test]
fn gaps_on_open_market_hours_warn_but_weekends_do_not() {
    // 160 hours from Wednesday 00:00: crosses one weekend. Remove Fri 21:00 … Sun 21:00 (closed) and Mon 05:00–10:00.
    let full = hourly(160);
    let keep: Vec<usize> = (0..full.len())
        .filter(|&i| {
            let h = i as i64; // hours since Wednesday 00:00
            let closed = (2 * 24 + 21..4 * 24 + 22).contains(&h);
            let hole = (5 * 24 + 5..5 * 24 + 11).contains(&h);
            !closed && !hole
        })
        .collect();
    let raw = RawBars {
        ts_nanos: keep.iter().map(|&i| full.ts_nanos[i]).collect(),
        open: keep.iter().map(|&i| full.open[i]).collect(),
        high: keep.iter().map(|&i| full.high[i]).collect(),
        low: keep.iter().map(|&i| full.low[i]).collect(),
        close: keep.iter().map(|&i| full.close[i]).collect(),
        volume: keep.iter().map(|&i| full.volume[i]).collect(),
    };
    let findings = validate(&raw, &ValidateOptions::default());
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!((f.kind, f.severity), (FindingKind::Gap, Severity::Warning));
    assert!(
        f.message.contains("gap of 7h") && f.message.contains("6h of it while the market is open"),
        "{}",
        f.message
    );
    // Row of the bar after the hole (1-based): position of hour 5*24+11 in `keep`.
    let row = keep.iter().position(|&i| i == 5 * 24 + 11).unwrap() + 1;
    assert_eq!(f.row, row);
    // Crypto trades at weekends: the same weekend is a gap there.
    let crypto = ValidateOptions { market: ingest::MarketHours::Continuous, ..ValidateOptions::default() };
    assert_eq!(validate(&raw, &crypto).iter().filter(|f| f.kind == FindingKind::Gap).count(), 2);
}

#[test]
fn spikes_beyond_n_atr_warn() {
    let mut raw = hourly(60);
    raw.high[40] = raw.open[40] + 0.02; // 200 pips against a ~4-pip ATR
    let findings = validate(&raw, &ValidateOptions::default());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].row, findings[0].kind), (41, FindingKind::Spike));
    let lenient = ValidateOptions { spike_atr_multiple: 100.0, ..ValidateOptions::default() };
    assert!(validate(&raw, &lenient).is_empty());
}

#[test]
fn import_refuses_errors_without_force_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let run = |force: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aio"));
        cmd.arg("--library")
            .arg(dir.path().join("lib.sqlite"))
            .arg("import")
            .arg(invalid("unsorted.csv"))
            .arg("--out")
            .arg(&out);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let refused = run(false);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("1 validation error(s)") && stderr.contains("nothing was written"), "{stderr}");
    assert!(!out.exists());
    // No temporary file left behind either.
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "aio-tmp"))
            .count(),
        0
    );

    let forced = run(true);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let bars = ingest::load_path(&out, &LoadOptions::default(), &NoProgress).unwrap().bars;
    assert_eq!(bars.len(), 3);
    assert!(bars.ts_nanos().windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn forced_import_drops_bad_rows_and_duplicates() {
    let loaded = ingest::load_path(
        &invalid("non_positive.csv"),
        &LoadOptions { force: true, ..Default::default() },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(loaded.bars.len(), 1);
    assert_eq!(loaded.dropped_rows, 2);
    let loaded =
        ingest::load_path(&invalid("duplicate.csv"), &LoadOptions { force: true, ..Default::default() }, &NoProgress)
            .unwrap();
    assert_eq!(loaded.bars.len(), 2);
}
