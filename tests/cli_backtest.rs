//! `aio backtest`, `aio sweep`, `aio walkforward` and `aio pine generate|check|fix` as whole jobs on the EUR/USD
//! sample: the documented report keys and CSV columns, runs stored in a real library file, and Pine that validates.

use std::{path::Path, process::Command};

fn aio(library: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).arg("--library").arg(library).args(args).output().expect("run aio")
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/eurusd_h1_2017_2018.csv").display().to_string()
}

fn golden_spec(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/backtest/specs").join(name).display().to_string()
}

#[test]
fn backtest_writes_the_report_trades_and_equity_and_stores_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let (report, trades, equity) = (dir.path().join("r.json"), dir.path().join("t.csv"), dir.path().join("e.csv"));
    let run = aio(
        &library,
        &[
            "backtest",
            "--input",
            &sample(),
            "--strategy",
            &golden_spec("sma_cross_reverse.json"),
            "--report",
            report.to_str().unwrap(),
            "--trades",
            trades.to_str().unwrap(),
            "--equity",
            equity.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for key in [
        "net_profit",
        "return_pct",
        "buy_and_hold_return_pct",
        "max_drawdown_pct",
        "max_drawdown_duration_bars",
        "sharpe",
        "sortino",
        "calmar",
        "profit_factor",
        "win_rate_pct",
        "avg_trade_pct",
        "expectancy",
        "sqn",
        "exposure_pct",
        "trades",
        "final_equity",
    ] {
        assert!(json.get(key).is_some_and(|v| v.is_number()), "{key} missing in {json}");
    }
    // The golden run: 262 closed trades, backtesting.py's final equity (the same fills, TradingView bookkeeping).
    assert_eq!(json["trades"], 262);
    assert!(json["max_drawdown_pct"].as_f64().unwrap() > 0.0);
    let trades_text = std::fs::read_to_string(&trades).unwrap();
    let mut lines = trades_text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("entry_time,exit_time,side,units,entry_price,exit_price,pnl,return_pct,mae,mfe")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&first[..6], ["2017-04-20T22:00:00Z", "2017-04-23T22:00:00Z", "short", "10000", "1.07156", "1.08977"]);
    assert_eq!(trades_text.lines().count(), 263);
    let equity_text = std::fs::read_to_string(&equity).unwrap();
    assert!(
        equity_text.starts_with("time,equity,drawdown_pct\n2017-04-19T09:00:00Z,100000,0\n"),
        "{}",
        &equity_text[..80]
    );
    assert_eq!(equity_text.lines().count(), 5001);
    let stored = String::from_utf8_lossy(&run.stderr);
    assert!(stored.contains("stored as backtest #1"), "{stored}");
    let lib = aio::store::Library::open(&library).unwrap();
    let strategy = &lib.strategies().unwrap()[0];
    assert_eq!(lib.backtests_for_strategy(strategy.id).unwrap()[0].backtest.equity.len(), 5000);
}

#[test]
fn a_broken_spec_names_the_file_and_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.json");
    std::fs::write(
        &spec,
        r#"{"version": 1, "name": "x", "indicators": [{"id": "f", "kind": "sma", "length": 0}],
            "long_entry": {"gt": ["close", "f"]}, "position": {"units": 1}, "initial_capital": 1000}"#,
    )
    .unwrap();
    let report = dir.path().join("r.json");
    let run = aio(
        &dir.path().join("lib.sqlite"),
        &["backtest", "--input", &sample(), "--strategy", spec.to_str().unwrap(), "--report", report.to_str().unwrap()],
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("bad.json") && err.contains("indicators[0]"), "{err}");
    assert!(!report.exists());
}

#[test]
fn sweep_ranks_a_grid_and_walkforward_reports_windows() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let out = dir.path().join("sweep.csv");
    let run = aio(
        &library,
        &[
            "sweep",
            "--input",
            &sample(),
            "--strategy",
            &golden_spec("sma_cross_long.json"),
            "--param",
            "fast.length=5:15:5",
            "--param",
            "slow.length=20,30",
            "--rank",
            "net_profit",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(text.starts_with("rank,fast.length,slow.length,"), "{text}");
    // Ranked: net profit never increases down the list.
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "net_profit").unwrap();
    let profits: Vec<f64> = text.lines().skip(1).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect();
    assert!(profits.windows(2).all(|w| w[0] >= w[1]), "{profits:?}");

    let windows = dir.path().join("wf.json");
    let run = aio(
        &library,
        &[
            "walkforward",
            "--input",
            &sample(),
            "--strategy",
            &golden_spec("sma_cross_long.json"),
            "--param",
            "fast.length=5:15:5",
            "--train",
            "2000",
            "--test",
            "1000",
            "--rank",
            "net_profit",
            "--out",
            windows.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&windows).unwrap()).unwrap();
    assert_eq!(json["windows"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["windows"][0]["test"], serde_json::json!({"start": 2000, "end": 3000}));
    let lib = aio::store::Library::open(&library).unwrap();
    let strategy = &lib.strategies().unwrap()[0];
    assert_eq!(lib.sweeps_for_strategy(strategy.id).unwrap().len(), 2);
}

#[test]
fn pine_generate_check_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let script = dir.path().join("s.pine");
    let run = aio(
        &library,
        &["pine", "generate", "--strategy", &golden_spec("edge_mix.json"), "--out", script.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.starts_with("//@version=5\n") && text.contains("strategy(") && !text.contains("when="));
    let run = aio(&library, &["pine", "check", script.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));

    // A v4-style script with `when=` and a call broken over two lines: check fails with positions, fix repairs it.
    let broken = dir.path().join("broken.pine");
    std::fs::write(
        &broken,
        "//@version=5\nstrategy(\"x\", overlay=true)\nfast = sma(close, 10)\nslow = ta.sma(close,\n 20)\n\
         strategy.entry(\"L\", strategy.long, when=ta.crossover(fast, slow))\n",
    )
    .unwrap();
    let run = aio(&library, &["pine", "check", broken.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("broken.pine:") && out.contains(": error: "), "{out}");
    let fixed = dir.path().join("fixed.pine");
    let run = aio(&library, &["pine", "fix", broken.to_str().unwrap(), "--out", fixed.to_str().unwrap()]);
    assert!(run.status.success(), "{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let repaired = std::fs::read_to_string(&fixed).unwrap();
    assert!(repaired.contains("ta.sma(close, 10)") && !repaired.contains("when="), "{repaired}");
    assert!(aio::pine::check(&repaired).is_empty(), "{repaired}");
}
