//! The Dukascopy downloader against a real HTTP server on 127.0.0.1 that serves bi5 files the tests write (tick
//! records encoded and LZMA-compressed here), with scripted failures: 503s, stalls past the timeout, truncated
//! streams.

#[path = "common/datafeed_server.rs"]
mod datafeed_server;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use datafeed_server::{DatafeedServer, Fault, tick_file, walk};

use aio::{
    domain::{NANOS_PER_SEC, Timeframe},
    ingest::{
        NoProgress, Progress,
        dukascopy::{
            self, DataKind, Datafeed, FetchOptions, FetchRequest, PriceSide,
            bi5::{self, RawCandle, RawTick},
        },
        resample_with_counts,
    },
};

fn nanos(text: &str) -> i64 {
    dukascopy::parse_hour(text).unwrap()
}

fn options(cache: &Path) -> FetchOptions {
    FetchOptions {
        cache_dir: cache.to_path_buf(),
        jobs: 4,
        requests_per_sec: 0.0,
        max_retries: 3,
        timeout: Duration::from_secs(3),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        offline: false,
        now_nanos: Some(nanos("2025-01-01T00")),
    }
}

fn request(symbol: &str, from: &str, to: &str) -> FetchRequest {
    FetchRequest {
        symbol: symbol.into(),
        from_nanos: nanos(from),
        to_nanos: nanos(to),
        kind: DataKind::Ticks,
        side: PriceSide::Bid,
    }
}

/// Files under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk_dir(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk_dir(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk_dir(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn prices_are_exact_for_five_digit_jpy_and_metal_instruments() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let hour = nanos("2024-01-15T13");
    let cases = [
        ("EURUSD", 109_514u32, 1.09514, 1.09516),
        ("USDJPY", 147_123, 147.123, 147.125),
        ("XAUUSD", 2_051_455, 2051.455, 2051.457),
    ];
    for (symbol, bid, bid_price, ask_price) in cases {
        let ticks = [
            RawTick { ms: 1_250, ask: bid + 2, bid, ask_volume: 1.5, bid_volume: 0.25 },
            RawTick { ms: 1_250, ask: bid + 3, bid: bid + 1, ask_volume: 0.1, bid_volume: 0.2 },
        ];
        server.put(&dukascopy::hour_ticks_path(symbol, hour), tick_file(&ticks));
        let (instrument, got, report) = dukascopy::fetch_ticks(
            server.source(),
            &request(symbol, "2024-01-15T13", "2024-01-15T14"),
            &options(cache.path()),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(report.downloaded, 1, "{symbol}");
        assert_eq!(got.len(), 2);
        assert_eq!(got.bid()[0], bid_price, "{symbol} with decimal factor {}", instrument.decimal_factor);
        assert_eq!(got.ask()[0], ask_price, "{symbol}");
        assert_eq!(got.ts_nanos()[0], hour + 1_250_000_000);
        assert_eq!(got.bid_volume()[0], 0.25);
        assert_eq!(got.ask_volume()[1], f64::from(0.1f32));
    }
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn weekend_hours_are_empty_files_and_stay_gaps() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    // Friday 2024-01-19 20:00 … Sunday 22:00 … Monday 01:00: the weekend hours are 0-byte files.
    let from = nanos("2024-01-19T20");
    let to = nanos("2024-01-22T01");
    let open_hours = [nanos("2024-01-19T20"), nanos("2024-01-19T21"), nanos("2024-01-21T22"), nanos("2024-01-21T23")];
    let mut hour = from;
    let mut seed = 0;
    while hour < to {
        let body = if open_hours.contains(&hour) || hour >= nanos("2024-01-22T00") {
            seed += 1;
            tick_file(&walk(seed, 500, 108_900, 2))
        } else {
            Vec::new()
        };
        server.put(&dukascopy::hour_ticks_path("EURUSD", hour), body);
        hour += dukascopy::HOUR_NANOS;
    }
    let req = request("EURUSD", "2024-01-19T20", "2024-01-22T01");
    let fetched =
        dukascopy::fetch_bars(server.source(), &req, Timeframe::H1, 0, &options(cache.path()), &NoProgress).unwrap();
    assert_eq!(fetched.report.files_total, 53);
    assert_eq!(fetched.report.empty_files, 48, "Fri 22:00 … Sun 21:00");
    assert!(fetched.report.missing.is_empty(), "{:?}", fetched.report.missing);
    let hours: Vec<i64> = fetched.bars.ts_nanos().to_vec();
    assert_eq!(hours, [open_hours.as_slice(), &[nanos("2024-01-22T00")]].concat(), "no flat weekend bars");
    assert!(fetched.tick_counts.unwrap().iter().all(|&n| n == 500));
    // Empty hours are cached like any other, so the weekend is not asked for again.
    let again =
        dukascopy::fetch_bars(server.source(), &req, Timeframe::H1, 0, &options(cache.path()), &NoProgress).unwrap();
    assert_eq!(again.report.from_cache, 53);
    assert_eq!(server.requests().len(), 53);
}

#[test]
fn a_503_and_a_stall_are_retried_and_succeed() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let a = dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T08"));
    let b = dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T09"));
    server.put(&a, tick_file(&walk(1, 800, 109_000, 3)));
    server.put(&b, tick_file(&walk(2, 800, 109_000, 3)));
    server.fault(&a, Fault::Status(503));
    server.fault(&a, Fault::Status(429));
    server.fault(&b, Fault::Stall(Duration::from_secs(6)));
    let mut opts = options(cache.path());
    opts.timeout = Duration::from_millis(1_500);
    let (_, ticks, report) = dukascopy::fetch_ticks(
        server.source(),
        &request("EURUSD", "2024-01-16T08", "2024-01-16T10"),
        &opts,
        &NoProgress,
    )
    .unwrap();
    assert!(report.missing.is_empty(), "{}", report.summary(5));
    assert_eq!(ticks.len(), 1_600);
    assert_eq!(report.retries, 3, "two retries for the 503 and 429, one for the stall");
    assert_eq!(report.requests, 5);
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| **r == a).count(), 3);
}

#[test]
fn a_truncated_stream_is_reported_and_never_cached() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let good = dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T10"));
    let bad = dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T11"));
    let flaky = dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T12"));
    for (i, path) in [&good, &bad, &flaky].into_iter().enumerate() {
        server.put(path, tick_file(&walk(i as u64 + 10, 1_000, 109_000, 2)));
    }
    server.always(&bad, Fault::Truncate);
    server.fault(&flaky, Fault::Truncate);
    let mut opts = options(cache.path());
    opts.max_retries = 2;
    let req = request("EURUSD", "2024-01-16T10", "2024-01-16T13");
    let (_, ticks, report) = dukascopy::fetch_ticks(server.source(), &req, &opts, &NoProgress).unwrap();
    assert_eq!(ticks.len(), 2_000, "the good and the flaky hour");
    assert_eq!(report.missing.len(), 1);
    let missing = &report.missing[0];
    assert!(missing.url.ends_with("2024/00/16/11h_ticks.bi5"), "{}", missing.url);
    assert!(missing.reason.contains("truncated") && missing.reason.contains("after 3 attempts"), "{}", missing.reason);
    assert!(report.summary(5).contains("missing: ticks 2024-01-16 11:00"), "{}", report.summary(5));
    let cached = files_under(cache.path());
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cached.iter().all(|p| !p.ends_with("11h_ticks.bi5")));
    // Only the damaged hour is asked for again.
    let before = server.requests().len();
    let (_, _, again) = dukascopy::fetch_ticks(server.source(), &req, &opts, &NoProgress).unwrap();
    assert_eq!(again.from_cache, 2);
    assert!(server.requests()[before..].iter().all(|r| *r == bad));
}

/// Cancels the job once the server has answered `after` requests.
struct CancelAfter {
    served: Arc<AtomicUsize>,
    after: usize,
}

impl Progress for CancelAfter {
    fn is_cancelled(&self) -> bool {
        self.served.load(Ordering::SeqCst) >= self.after
    }
}

#[test]
fn an_interrupted_run_resumes_and_a_cached_range_makes_no_request() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let from = nanos("2024-01-16T00");
    for h in 0..24 {
        server.put(
            &dukascopy::hour_ticks_path("EURUSD", from + h * dukascopy::HOUR_NANOS),
            tick_file(&walk(100 + h as u64, 300, 109_000, 2)),
        );
    }
    let req = request("EURUSD", "2024-01-16T00", "2024-01-17T00");
    let mut opts = options(cache.path());
    opts.jobs = 2;
    opts.requests_per_sec = 20.0; // slow enough for the cancel to land mid-way
    let cancel = CancelAfter { served: Arc::clone(&server.served), after: 6 };
    let err = dukascopy::fetch_ticks(server.source(), &req, &opts, &cancel).unwrap_err();
    assert!(matches!(err, dukascopy::DukascopyError::Cancelled), "{err}");
    let partial = files_under(cache.path());
    assert!(!partial.is_empty() && partial.len() < 24, "{} files cached before the cancel", partial.len());
    assert!(partial.iter().all(|p| p.extension().is_some_and(|e| e == "bi5")), "no temporary files: {partial:?}");

    let before = server.requests().len();
    let (_, ticks, report) = dukascopy::fetch_ticks(server.source(), &req, &opts, &NoProgress).unwrap();
    assert_eq!(ticks.len(), 24 * 300);
    assert_eq!(report.from_cache, partial.len());
    assert_eq!(report.downloaded, 24 - partial.len());
    assert_eq!(report.requests as usize, 24 - partial.len(), "only the missing hours are requested");
    let cached: Vec<String> =
        partial.iter().map(|p| p.strip_prefix("datafeed").unwrap().display().to_string()).collect();
    let asked = &server.requests()[before..];
    assert!(asked.iter().all(|r| !cached.iter().any(|c| c.ends_with(r.as_str()))), "cached hours were requested");

    let before = server.requests().len();
    let (_, again, report) = dukascopy::fetch_ticks(server.source(), &req, &opts, &NoProgress).unwrap();
    assert_eq!(server.requests().len(), before, "a cached range makes no request");
    assert_eq!((report.from_cache, report.requests), (24, 0));
    assert_eq!(again, ticks);
    // Offline reads the same from the cache alone.
    opts.offline = true;
    let (_, offline, _) =
        dukascopy::fetch_ticks(Arc::new(Datafeed::new("http://127.0.0.1:9")), &req, &opts, &NoProgress).unwrap();
    assert_eq!(offline, ticks);
}

#[test]
fn ticks_to_m1_to_h1_equal_ticks_to_h1() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let from = nanos("2024-01-17T00");
    for h in 0..30 {
        let body = if (14..16).contains(&h) { Vec::new() } else { tick_file(&walk(h as u64, 2_000, 108_700, 2)) };
        server.put(&dukascopy::hour_ticks_path("EURUSD", from + h * dukascopy::HOUR_NANOS), body);
    }
    let req = request("EURUSD", "2024-01-17T00", "2024-01-18T06");
    let opts = options(cache.path());
    for side in PriceSide::ALL {
        let req = FetchRequest { side, ..req.clone() };
        let m1 = dukascopy::fetch_bars(server.source(), &req, Timeframe::M1, 0, &opts, &NoProgress).unwrap();
        let h1 = dukascopy::fetch_bars(server.source(), &req, Timeframe::H1, 0, &opts, &NoProgress).unwrap();
        let m1_counts = m1.tick_counts.unwrap();
        assert_eq!(m1_counts.iter().sum::<u64>(), 28 * 2_000);
        let (via_m1, via_counts) =
            resample_with_counts(&m1.bars, &m1_counts, Some(Timeframe::M1), Timeframe::H1, 0).unwrap();
        assert_eq!(via_m1, h1.bars, "{side}");
        assert_eq!(via_counts, h1.tick_counts.unwrap(), "{side}");
        assert_eq!(h1.bars.len(), 28, "two empty hours are gaps");
        // Bars across the day boundary merge correctly, too.
        let d1 = dukascopy::fetch_bars(server.source(), &req, Timeframe::D1, 0, &opts, &NoProgress).unwrap();
        let (via_h1, _) = resample_with_counts(&h1.bars, &via_counts, Some(Timeframe::H1), Timeframe::D1, 0).unwrap();
        assert_eq!(via_h1, d1.bars);
    }
    // Every later run read the 28 cached hours from the cache. The two empty weekday hours look like a throttled
    // answer: each run asks for them twice (one retry) and does not cache them: 28 + 9 runs × 2 hours × 2.
    assert_eq!(server.requests().len(), 28 + 9 * 2 * 2);
}

#[test]
fn minute_candles_become_bars_and_mid_joins_both_sides() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    let day = dukascopy::parse_bound("2024-01-15", false).unwrap();
    let candles = |offset: u32| -> Vec<RawCandle> {
        (0..1_440u32)
            .map(|m| {
                let base = 147_000 + (m % 50) + offset;
                if (600..660).contains(&m) {
                    // No trades in 10:00–10:59: the datafeed fills such minutes with flat zero-volume candles.
                    return RawCandle { secs: m * 60, open: base, close: base, low: base, high: base, volume: 0.0 };
                }
                RawCandle { secs: m * 60, open: base, close: base + 2, low: base - 1, high: base + 4, volume: 1.5 }
            })
            .collect()
    };
    let put = |side: PriceSide, offset: u32| {
        let bytes = bi5::compress(&bi5::candle_records(&candles(offset))).unwrap();
        server.put(&dukascopy::day_candles_path("USDJPY", day, side), bytes);
    };
    put(PriceSide::Bid, 0);
    put(PriceSide::Ask, 6);
    let req = FetchRequest {
        symbol: "USDJPY".into(),
        from_nanos: day,
        to_nanos: day + dukascopy::DAY_NANOS,
        kind: DataKind::MinuteCandles,
        side: PriceSide::Mid,
    };
    let opts = options(cache.path());
    let m1 = dukascopy::fetch_bars(server.source(), &req, Timeframe::M1, 0, &opts, &NoProgress).unwrap();
    assert_eq!(m1.bars.len(), 1_380, "filler candles dropped");
    assert_eq!(m1.bars.open()[0], 147.003, "mid of 147.000 and 147.006");
    assert!(m1.tick_counts.is_none());
    let h1 = dukascopy::fetch_bars(server.source(), &req, Timeframe::H1, 0, &opts, &NoProgress).unwrap();
    assert_eq!(h1.bars.len(), 23, "the 10:00 hour had no trades");
    assert_eq!(h1.bars.volume()[0], 90.0);
    assert_eq!(server.requests().len(), 2);
    let err = dukascopy::fetch_bars(server.source(), &req, Timeframe::S1, 0, &opts, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("minute candles cannot make S1 bars"), "{err}");
}

#[test]
fn missing_hours_are_summarised_and_unknown_symbols_refused() {
    let server = DatafeedServer::start();
    let cache = tempfile::tempdir().unwrap();
    server.put(&dukascopy::hour_ticks_path("EURUSD", nanos("2024-01-16T08")), tick_file(&walk(5, 100, 109_000, 2)));
    let (_, ticks, report) = dukascopy::fetch_ticks(
        server.source(),
        &request("EURUSD", "2024-01-16T08", "2024-01-16T10"),
        &options(cache.path()),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(ticks.len(), 100);
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.missing[0].reason, "not on the server (HTTP 404)");
    let err = dukascopy::fetch_ticks(
        server.source(),
        &request("NOPE", "2024-01-16T08", "2024-01-16T10"),
        &options(cache.path()),
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown instrument 'NOPE'"), "{err}");
    let _ = NANOS_PER_SEC;
}
