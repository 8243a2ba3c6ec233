//! CSV → Parquet → CSV is exact, and resampling through the CLI matches an independent aggregation.

use std::{path::Path, process::Command};

use aio::{
    domain::{Bars, NANOS_PER_SEC, Timeframe},
    ingest::{self, LoadOptions, NoProgress},
};

fn aio(args: &[&str], library: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).arg("--library").arg(library).args(args).output().unwrap()
}

#[test]
fn csv_to_parquet_to_csv_round_trip_is_exact_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let csv_in = dir.path().join("eurusd_h1.csv");
    std::fs::write(&csv_in, ingest::SAMPLE_CSV).unwrap();
    let pq = dir.path().join("eurusd.parquet");
    let csv_out = dir.path().join("eurusd_out.csv");
    let csv_again = dir.path().join("eurusd_again.csv");

    let out = aio(&["import", csv_in.to_str().unwrap(), "--out", pq.to_str().unwrap()], &library);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = aio(&["import", pq.to_str().unwrap(), "--out", csv_out.to_str().unwrap()], &library);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = aio(&["import", csv_out.to_str().unwrap(), "--out", csv_again.to_str().unwrap()], &library);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let original = ingest::load_path(&csv_in, &LoadOptions::default(), &NoProgress).unwrap().bars;
    let via_parquet = ingest::load_path(&pq, &LoadOptions::default(), &NoProgress).unwrap().bars;
    let via_csv = ingest::load_path(&csv_out, &LoadOptions::default(), &NoProgress).unwrap().bars;
    assert_eq!(original.len(), 5000);
    // Bit-exact: f64 equality on every column.
    assert_eq!(original, via_parquet);
    assert_eq!(original, via_csv);
    // And the CSV text is stable once written by us.
    assert_eq!(std::fs::read(&csv_out).unwrap(), std::fs::read(&csv_again).unwrap());
    let text = std::fs::read_to_string(&csv_out).unwrap();
    assert!(
        text.starts_with("time,open,high,low,close,volume\n2017-04-19T09:00:00Z,1.0716,1.0722,1.07083,1.07219,1413\n")
    );
}

#[test]
fn resample_to_forex_days_matches_an_independent_aggregation() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let csv_in = dir.path().join("eurusd_h1.csv");
    std::fs::write(&csv_in, ingest::SAMPLE_CSV).unwrap();
    let out_path = dir.path().join("eurusd_d1.csv");
    let out = aio(
        &[
            "resample",
            "--input",
            csv_in.to_str().unwrap(),
            "--timeframe",
            "D1",
            "--out",
            out_path.to_str().unwrap(),
            "--day-start",
            "22:00",
        ],
        &library,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let daily = ingest::load_path(&out_path, &LoadOptions::default(), &NoProgress).unwrap().bars;
    let hourly = ingest::load_path(&csv_in, &LoadOptions::default(), &NoProgress).unwrap().bars;

    // Independent reference: group by floor((t − 22h) / 1 day).
    let day = 86_400 * NANOS_PER_SEC;
    let shift = 22 * 3_600 * NANOS_PER_SEC;
    let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, &t) in hourly.ts_nanos().iter().enumerate() {
        groups.entry((t - shift).div_euclid(day) * day + shift).or_default().push(i);
    }
    assert_eq!(daily.len(), groups.len());
    for (k, (start, idx)) in groups.iter().enumerate() {
        let bar = daily.get(k).unwrap();
        assert_eq!(bar.ts_nanos, *start);
        assert_eq!(bar.open, hourly.open()[idx[0]]);
        assert_eq!(bar.close, hourly.close()[*idx.last().unwrap()]);
        assert_eq!(bar.high, idx.iter().map(|&i| hourly.high()[i]).fold(f64::MIN, f64::max));
        assert_eq!(bar.low, idx.iter().map(|&i| hourly.low()[i]).fold(f64::MAX, f64::min));
        let vol: f64 = idx.iter().map(|&i| hourly.volume()[i]).sum();
        assert!((bar.volume - vol).abs() < 1e-9);
        // Forex days start at 22:00 UTC.
        assert_eq!((bar.ts_nanos / NANOS_PER_SEC) % 86_400, 22 * 3_600);
    }
}

#[test]
fn resample_refuses_a_lower_timeframe() {
    let bars =
        Bars::new(vec![0, 3_600 * NANOS_PER_SEC], vec![1.0; 2], vec![2.0; 2], vec![0.5; 2], vec![1.5; 2], vec![0.0; 2]);
    let err = ingest::resample(&bars, Some(Timeframe::H1), Timeframe::M5, 0).unwrap_err();
    assert!(err.to_string().contains("shorter than the data's H1"), "{err}");
}
