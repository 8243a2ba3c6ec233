//! A writer process is killed (SIGKILL) in the middle of a stream of library writes, many times; afterwards
//! `PRAGMA integrity_check` passes and every write the child reported as committed is there.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use aio::store::{Library, NewBacktest, NewDataset, StrategyId};

const CHILD_ENV: &str = "AIO_CRASH_TEST_LIBRARY";

/// Not a test on its own: the body of the child process. Without the environment variable it returns at once.
#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else { return };
    let mut lib = Library::open(std::path::Path::new(&path)).expect("child opens library");
    let strategy = lib.add_strategy("crash test", &serde_json::json!({"version": 1})).expect("strategy");
    let mut i: i64 = 0;
    loop {
        i += 1;
        let dataset = lib
            .add_dataset(&NewDataset {
                source_path: format!("/crash/{i}.csv"),
                symbol: Some("EURUSD".into()),
                timeframe: Some("M1".into()),
                first_ts_nanos: i,
                last_ts_nanos: i + 1,
                rows: 2,
                checksum: format!("{i:016x}"),
                format: "generic CSV".into(),
            })
            .expect("dataset");
        // A large blob makes each transaction span many pages, so kills land mid-write.
        let equity: Vec<(i64, f64)> = (0..4_000).map(|k| (k, 100_000.0 + (k + i) as f64)).collect();
        lib.add_backtest(&NewBacktest {
            strategy_id: strategy,
            dataset_id: Some(dataset),
            metrics: serde_json::json!({"i": i}),
            equity,
            trades: serde_json::json!([]),
        })
        .expect("backtest");
        println!("committed {} {}", dataset.0, strategy.0);
    }
}

#[test]
fn killing_the_writer_mid_transaction_never_corrupts_or_loses_committed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut committed: Vec<(i64, i64)> = Vec::new();
    for round in 0..25 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_after = 1 + (seed % 20) as usize;
        let mut child = Command::new(&exe)
            .args(["crash_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("committed ") {
                let mut parts = rest.split(' ').map(|p| p.parse::<i64>().unwrap());
                committed.push((parts.next().unwrap(), parts.next().unwrap()));
                seen += 1;
                if seen == kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let lib = Library::open(&path).unwrap();
        assert_eq!(lib.integrity_check().unwrap(), vec!["ok".to_string()], "round {round}");
        let datasets: std::collections::HashSet<i64> = lib.datasets().unwrap().into_iter().map(|d| d.id.0).collect();
        for (dataset, strategy) in &committed {
            assert!(datasets.contains(dataset), "round {round}: committed dataset {dataset} lost");
            let backtests = lib.backtests_for_strategy(StrategyId(*strategy)).unwrap();
            assert!(
                backtests
                    .iter()
                    .any(|b| b.backtest.dataset_id.map(|d| d.0) == Some(*dataset) && b.backtest.equity.len() == 4_000),
                "round {round}: backtest of dataset {dataset} lost or torn"
            );
        }
    }
    assert!(committed.len() >= 25);
}
