//! Every supported import dialect, read through the library API and through `aio import`.

use std::{path::PathBuf, process::Command};

use aio::{
    domain::{Timeframe, format_ts_nanos},
    ingest::{self, Dialect, LoadOptions, NoProgress, SourceFormat},
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dialects").join(name)
}

const TIMES: [&str; 4] =
    ["2017-04-19T09:00:00Z", "2017-04-19T10:00:00Z", "2017-04-19T11:00:00Z", "2017-04-19T12:00:00Z"];
const OPEN: [f64; 4] = [1.0716, 1.07214, 1.07256, 1.07195];
const HIGH: [f64; 4] = [1.0722, 1.07296, 1.07299, 1.0728];
const LOW: [f64; 4] = [1.07083, 1.07214, 1.0717, 1.07195];
const CLOSE: [f64; 4] = [1.07219, 1.0726, 1.07192, 1.07202];

fn check(name: &str, dialect: Dialect, with_volume: bool) {
    let loaded = ingest::load_path(&fixture(name), &LoadOptions::default(), &NoProgress)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(loaded.format, SourceFormat::Csv(dialect), "{name}");
    let bars = &loaded.bars;
    let times: Vec<String> = bars.ts_nanos().iter().map(|&t| format_ts_nanos(t)).collect();
    assert_eq!(times, TIMES, "{name}");
    assert_eq!(bars.open(), OPEN, "{name}");
    assert_eq!(bars.high(), HIGH, "{name}");
    assert_eq!(bars.low(), LOW, "{name}");
    assert_eq!(bars.close(), CLOSE, "{name}");
    let expected_volume = if with_volume { vec![1413.0, 1241.0, 1025.0, 1460.0] } else { vec![0.0; 4] };
    assert_eq!(bars.volume(), expected_volume, "{name}");
    assert_eq!(loaded.timeframe, Some(Timeframe::H1), "{name}");
}

#[test]
fn generic_csv_with_iso8601_times() {
    check("generic_iso.csv", Dialect::Generic, true);
}

#[test]
fn generic_csv_with_unix_seconds_and_no_volume() {
    check("generic_unix_seconds.csv", Dialect::Generic, false);
}

#[test]
fn generic_csv_with_unix_milliseconds_semicolons_and_crlf() {
    check("generic_unix_millis_semicolon.csv", Dialect::Generic, true);
}

#[test]
fn generic_csv_with_space_separated_times() {
    check("generic_space_no_volume.csv", Dialect::Generic, false);
}

#[test]
fn tradingview_export_with_unix_times_and_plot_columns() {
    check("tradingview_unix.csv", Dialect::TradingView, true);
}

#[test]
fn tradingview_export_with_iso_times_and_offsets() {
    check("tradingview_iso_offset.csv", Dialect::TradingView, true);
}

#[test]
fn metatrader5_tab_separated_export_uses_tick_volume_when_real_volume_is_zero() {
    check("metatrader5.csv", Dialect::MetaTrader5, true);
}

#[test]
fn dukascopy_gmt_time_export() {
    check("dukascopy_gmt.csv", Dialect::Dukascopy, true);
}

#[test]
fn dukascopy_local_time_export_with_gmt_offset() {
    check("dukascopy_local.csv", Dialect::Dukascopy, true);
}

#[test]
fn backtesting_py_layout_with_unnamed_index_and_with_time_header() {
    check("backtesting_py_index.csv", Dialect::BacktestingPy, true);
    check("backtesting_py_sample_head.csv", Dialect::BacktestingPy, true);
}

#[test]
fn parquet_files_import_like_csv() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = ingest::load_path(&fixture("metatrader5.csv"), &LoadOptions::default(), &NoProgress).unwrap();
    let pq = dir.path().join("bars.parquet");
    ingest::write_parquet(&pq, &loaded.bars).unwrap();
    let back = ingest::load_path(&pq, &LoadOptions::default(), &NoProgress).unwrap();
    assert_eq!(back.format, SourceFormat::Parquet);
    assert_eq!(back.bars, loaded.bars);
}

#[test]
fn cli_import_writes_parquet_and_registers_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eurusd.parquet");
    let library = dir.path().join("library.sqlite");
    let output = Command::new(env!("CARGO_BIN_EXE_aio"))
        .args(["--library", library.to_str().unwrap(), "import"])
        .arg(fixture("dukascopy_gmt.csv"))
        .args(["--out", out.to_str().unwrap(), "--symbol", "EURUSD"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("imported 4 bars (Dukascopy/JForex CSV, EURUSD H1"), "{stdout}");
    assert!(&std::fs::read(&out).unwrap()[..4] == b"PAR1");
    let lib = aio::store::Library::open(&library).unwrap();
    let datasets = lib.datasets().unwrap();
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0].dataset.symbol.as_deref(), Some("EURUSD"));
    assert_eq!(datasets[0].dataset.rows, 4);
    assert_eq!(datasets[0].dataset.timeframe.as_deref(), Some("H1"));

    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_aio")).arg("--library").arg(&library).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = run(&["library", "list"]);
    assert!(list.contains("1 dataset(s)") && list.contains("EURUSD") && list.contains("dukascopy_gmt.csv"), "{list}");
    assert_eq!(run(&["library", "check"]).trim(), "ok");
    assert_eq!(run(&["library", "path"]).trim(), library.to_str().unwrap());
}
