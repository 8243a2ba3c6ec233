//! `aio indicators` and `aio patterns` as whole jobs: the files they write for the EUR/USD sample carry TA-Lib's
//! values from the golden files, with the documented column names and empty warm-up cells.

use std::{collections::HashMap, path::Path, process::Command};

fn aio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aio")).args(args).output().expect("run aio")
}

/// Reads a CSV into columns by header name (cells as text).
fn read_columns(path: &Path) -> HashMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(str::to_string).collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for line in lines {
        for (i, cell) in line.split(',').enumerate() {
            columns[i].push(cell.to_string());
        }
    }
    header.into_iter().zip(columns).collect()
}

fn golden(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

#[test]
fn indicators_command_writes_talib_values_with_documented_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ind.csv");
    let input = golden("indicators_eurusd_h1.csv");
    let set = "sma:20,ema:20,wma:10,rsi:14,macd:12:26:9,bb:20:2,stoch:14:3:3,atr:14,adx:14";
    let run = aio(&["indicators", "--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--set", set]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(
        "time,open,high,low,close,volume,sma_20,ema_20,wma_10,rsi_14,macd_12_26_9,macd_signal_12_26_9,\
         macd_hist_12_26_9,bb_upper_20_2,bb_middle_20_2,bb_lower_20_2,stoch_k_14_3_3,stoch_d_14_3_3,atr_14,adx_14,\
         plus_di_14,minus_di_14\n"
    ));
    let ours = read_columns(&out);
    let talib = read_columns(&input);
    let mut compared = 0;
    for name in text.lines().next().unwrap().split(',').skip(6) {
        let (a, b) = (&ours[name], &talib[name]);
        assert_eq!(a.len(), b.len(), "{name}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.is_empty(), y.is_empty(), "{name} row {i}: warm-up differs ('{x}' vs '{y}')");
            if !x.is_empty() {
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!((x - y).abs() <= 1e-9 * x.abs().max(y.abs()), "{name} row {i}: {x} vs TA-Lib {y}");
                compared += 1;
            }
        }
    }
    assert!(compared > 70_000, "{compared}");
}

#[test]
fn indicators_command_rejects_a_bad_spec_naming_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ind.csv");
    let input = golden("indicators_eurusd_h1.csv");
    let run = aio(&[
        "indicators",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--set",
        "sma:20,rsi:0",
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("rsi:0") && err.contains("period"), "{err}");
    assert!(!out.exists(), "no output file on error");
}

#[test]
fn patterns_command_writes_talib_candles_and_chart_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (out, json) = (dir.path().join("pat.csv"), dir.path().join("chart.json"));
    let reading_path = dir.path().join("reading.json");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/eurusd_h1_2017_2018.csv");
    let run = aio(&[
        "patterns",
        "--input",
        sample.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--chart-json",
        json.to_str().unwrap(),
        "--reading",
        reading_path.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(
        "time,doji,dragonflydoji,gravestonedoji,hammer,hangingman,invertedhammer,shootingstar,engulfing,harami,\
         piercing,darkcloudcover,morningstar,eveningstar,3whitesoldiers,3blackcrows,marubozu,spinningtop\n"
    ));
    let ours = read_columns(&out);
    let talib = read_columns(&golden("candles_eurusd_h1.csv"));
    for name in text.lines().next().unwrap().split(',').skip(1) {
        assert_eq!(ours[name], talib[&format!("CDL{}", name.to_uppercase())], "{name}");
    }
    let findings: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(!findings.is_empty());
    for f in &findings {
        for key in ["pattern", "strength", "volatility", "support_resistance", "start", "end"] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
        assert!(f["start"].as_str().unwrap().ends_with('Z'));
    }
    // The rule-based reading is the document `aio vision` answers with, and names one of the findings.
    let reading: aio::patterns::chart::ChartReading =
        serde_json::from_str(&std::fs::read_to_string(&reading_path).unwrap()).unwrap();
    reading.validate().unwrap();
    assert_eq!(reading.timeframe_hint, "H1");
    assert!(findings.iter().any(|f| f["pattern"] == reading.pattern.as_str()), "{}", reading.pattern);
}

#[test]
fn mine_command_reports_verdicts_and_stores_one_set_of_statistics_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("lib.sqlite");
    let input = golden("indicators_eurusd_h1.csv");
    let json = dir.path().join("report.json");
    let args = [
        "--library",
        library.to_str().unwrap(),
        "mine",
        "--input",
        input.to_str().unwrap(),
        "--horizon",
        "12",
        "--json",
        json.to_str().unwrap(),
    ];
    for _ in 0..2 {
        let run = aio(&args);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains("engulfing_bull") && stdout.contains("verdict"), "{stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["horizon_bars"], 12);
    assert_eq!(report["bars"], 5000);
    let stats = report["stats"].as_array().unwrap();
    assert!(stats.iter().any(|s| s["pattern"] == "double_bottom"), "chart patterns are mined too");

    let lib = aio::store::Library::open(&library).unwrap();
    let datasets = lib.datasets().unwrap();
    assert_eq!(datasets.len(), 1, "the same file is one dataset");
    let stored = lib.patterns_for_dataset(datasets[0].id).unwrap();
    assert_eq!(stored.len(), stats.len(), "a second run replaces the first run's statistics");
    let engulfing = stored.iter().find(|p| p.pattern.name == "engulfing_bull").unwrap();
    assert_eq!(engulfing.pattern.horizon_bars, Some(12));
    assert!(engulfing.pattern.stats["out_of_sample"]["count"].as_u64().unwrap() > 0);
    assert!(engulfing.pattern.stats["verdict"].as_str().is_some());
}
