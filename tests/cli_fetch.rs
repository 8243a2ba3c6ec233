//! `aio fetch` and `aio import FILE.bi5` as whole jobs against a real local datafeed: the files they write, the
//! library entry, the cache that makes a second run request nothing, and the errors that name what is wrong.

#[path = "common/datafeed_server.rs"]
mod datafeed_server;

use std::process::Command;

use aio::{
    ingest::dukascopy::{self, bi5::RawTick},
    store::Library,
};
use datafeed_server::{DatafeedServer, tick_file, walk};

fn aio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).args(args).env_remove("AIO_DUKASCOPY_BASE_URL").output().expect("run aio")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn fetch_writes_bars_with_tick_counts_registers_them_and_reuses_the_cache() {
    let server = DatafeedServer::start();
    let from = dukascopy::parse_hour("2024-01-15T00").unwrap();
    for h in 0..48 {
        server.put(
            &dukascopy::hour_ticks_path("EURUSD", from + h * dukascopy::HOUR_NANOS),
            tick_file(&walk(h as u64, 600, 109_000, 2)),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, cache, lib) = (dir.path().join("eurusd_h1.csv"), dir.path().join("cache"), dir.path().join("lib.sqlite"));
    let args = [
        "fetch",
        "--symbol",
        "eurusd",
        "--from",
        "2024-01-15",
        "--to",
        "2024-01-16",
        "--timeframe",
        "H1",
        "--out",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--base-url",
        &server.base_url,
        "--jobs",
        "3",
        "--library",
        lib.to_str().unwrap(),
    ];
    let run = aio(&args);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("fetched 48 H1 bars (EURUSD bid, 2024-01-15T00:00:00Z … 2024-01-16T23:00:00Z)"));
    assert!(text(&run.stderr).contains("48 files: 0 from cache, 48 downloaded"), "{}", text(&run.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,open,high,low,close,volume,tick_count"));
    assert!(lines.next().unwrap().starts_with("2024-01-15T00:00:00Z,"));
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",600")), "600 ticks in every hour");
    let datasets = Library::open(&lib).unwrap().datasets().unwrap();
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0].dataset.symbol.as_deref(), Some("EURUSD"));
    assert_eq!(datasets[0].dataset.rows, 48);
    assert!(datasets[0].dataset.format.contains("Dukascopy"), "{}", datasets[0].dataset.format);

    // Again, from the cache: no request at all, the same file.
    let requests = server.requests().len();
    let again = aio(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(server.requests().len(), requests);
    assert!(text(&again.stderr).contains("48 from cache, 0 downloaded"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);

    // Ticks as Parquet, offline.
    let ticks = dir.path().join("ticks.parquet");
    let run = aio(&[
        "fetch",
        "--symbol",
        "EURUSD",
        "--from",
        "2024-01-15T10",
        "--to",
        "2024-01-15T11",
        "--timeframe",
        "ticks",
        "--out",
        ticks.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--offline",
        "--no-library",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(text(&run.stdout).contains("fetched 1200 ticks"), "{}", text(&run.stdout));
    assert!(std::fs::read(&ticks).unwrap().starts_with(b"PAR1"));
}

#[test]
fn fetch_reports_missing_hours_and_strict_writes_nothing() {
    let server = DatafeedServer::start();
    let hour = dukascopy::parse_hour("2024-01-15T10").unwrap();
    server.put(&dukascopy::hour_ticks_path("USDJPY", hour), tick_file(&walk(1, 300, 147_000, 3)));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("jpy.csv");
    let cache = dir.path().join("cache");
    let base = [
        "fetch",
        "--symbol",
        "USDJPY",
        "--from",
        "2024-01-15T10",
        "--to",
        "2024-01-15T11",
        "--cache",
        cache.to_str().unwrap(),
        "--base-url",
        &server.base_url,
        "--no-library",
        "--retries",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    let strict = aio(&[&base[..], &["--strict"]].concat());
    assert!(!strict.status.success());
    assert!(
        text(&strict.stderr).contains("1 of 2 files stayed missing; nothing was written"),
        "{}",
        text(&strict.stderr)
    );
    assert!(text(&strict.stderr).contains("missing: ticks 2024-01-15 11:00 — not on the server (HTTP 404)"));
    assert!(!out.exists());
    let lenient = aio(&base);
    assert!(lenient.status.success(), "{}", text(&lenient.stderr));
    assert!(text(&lenient.stderr).contains("warning: 1 of 2 files stayed missing"));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 1 + 60, "one hour of M1 bars");

    let bad = aio(&["fetch", "--symbol", "EURUSD", "--from", "2024-01-15", "--to", "2024-01-32", "--no-library"]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("invalid --to") && text(&bad.stderr).contains("2024-01-32"));
    let bad = aio(&["fetch", "--symbol", "EURUSX", "--from", "2024-01-15", "--to", "2024-01-16"]);
    assert!(text(&bad.stderr).contains("unknown instrument 'EURUSX'"), "{}", text(&bad.stderr));
}

#[test]
fn import_decodes_one_bi5_file_from_its_datafeed_path_or_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("XAUUSD/2024/00/15/13h_ticks.bi5");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ticks = [
        RawTick { ms: 0, ask: 2_051_460, bid: 2_051_455, ask_volume: 0.5, bid_volume: 0.25 },
        RawTick { ms: 61_000, ask: 2_051_470, bid: 2_051_465, ask_volume: 0.5, bid_volume: 0.25 },
    ];
    std::fs::write(&path, tick_file(&ticks)).unwrap();
    let out = dir.path().join("ticks.csv");
    let run = aio(&["import", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-library"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "time,bid,ask,bid_volume,ask_volume\n2024-01-15T13:00:00Z,2051.455,2051.46,0.25,0.5\n\
         2024-01-15T13:01:01Z,2051.465,2051.47,0.25,0.5\n"
    );
    // A file outside the layout needs --symbol and --hour; M1 bars with tick counts.
    let loose = dir.path().join("loose.bi5");
    std::fs::copy(&path, &loose).unwrap();
    let bars = dir.path().join("bars.csv");
    let run = aio(&["import", loose.to_str().unwrap(), "--out", bars.to_str().unwrap(), "--no-library"]);
    assert!(!run.status.success());
    assert!(text(&run.stderr).contains("--hour"), "{}", text(&run.stderr));
    let run = aio(&[
        "import",
        loose.to_str().unwrap(),
        "--symbol",
        "XAUUSD",
        "--hour",
        "2024-01-15T13",
        "--timeframe",
        "M1",
        "--out",
        bars.to_str().unwrap(),
        "--no-library",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        std::fs::read_to_string(&bars).unwrap(),
        "time,open,high,low,close,volume,tick_count\n2024-01-15T13:00:00Z,2051.455,2051.455,2051.455,2051.455,0.25,1\n\
         2024-01-15T13:01:00Z,2051.465,2051.465,2051.465,2051.465,0.25,1\n"
    );
    // A damaged file is named and nothing is written.
    let file = tick_file(&ticks);
    std::fs::write(&loose, &file[..file.len() - 4]).unwrap();
    let broken = dir.path().join("broken.csv");
    let run = aio(&[
        "import",
        loose.to_str().unwrap(),
        "--symbol",
        "XAUUSD",
        "--hour",
        "2024-01-15T13",
        "--out",
        broken.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("truncated file") && text(&run.stderr).contains("loose.bi5"),
        "{}",
        text(&run.stderr)
    );
    assert!(!broken.exists());
}
