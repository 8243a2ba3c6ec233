//! `aio backtest`, `aio sweep` and `aio walkforward`: a strategy spec run natively on a bar file, written as a
//! JSON report and CSVs and stored in the library.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Instant,
};

use anyhow::Context;

use crate::{
    backtest::{
        self, MarketSpec, SeriesCache,
        report::{equity_points, report_json, trades_json, write_equity_csv, write_report, write_trades_csv},
        sweep::{RankBy, SweepOptions, parse_grid, run_sweep},
        walkforward::{WalkForwardOptions, walk_forward},
    },
    ingest::{self, LoadOptions, LoadedBars, NoProgress},
    store::{Library, NewBacktest, NewDataset},
    strategy::{Guardrails, MarketContext, StrategySpec, check_guardrails},
};

/// Arguments shared by the three commands.
#[derive(Debug, clap::Args)]
pub struct RunInput {
    /// Bar file (CSV or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Strategy spec (JSON).
    #[arg(long)]
    pub strategy: PathBuf,
    /// Instrument for pip and tick sizes (default: the spec's symbol, else the file name's).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Enforce the default guardrails (max 30× leverage, 2 % risk per trade) and refuse a spec that breaks them.
    #[arg(long)]
    pub guardrails: bool,
    /// Do not store the run in the library.
    #[arg(long)]
    pub no_library: bool,
}

/// Arguments of `aio backtest`.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// Input, strategy and library options.
    #[command(flatten)]
    pub run: RunInput,
    /// JSON report: metrics at the top level (net_profit, return_pct, sharpe, …, trades, final_equity).
    #[arg(long)]
    pub report: PathBuf,
    /// Trade list CSV.
    #[arg(long)]
    pub trades: Option<PathBuf>,
    /// Equity CSV: time, equity, drawdown_pct.
    #[arg(long)]
    pub equity: Option<PathBuf>,
}

/// Arguments of `aio sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Input, strategy and library options.
    #[command(flatten)]
    pub run: RunInput,
    /// Grid: `fast.length=5:50:5;slow.length=20:200:10;stop_loss.pips=10,20,30` (repeat or separate with `;`).
    #[arg(long, required = true)]
    pub param: Vec<String>,
    /// Metric to rank by (a report key: sharpe, net_profit, return_pct, profit_factor, max_drawdown_pct, …).
    #[arg(long, default_value = "sharpe")]
    pub rank: String,
    /// Rows to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write every ranked row as CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `aio walkforward`.
#[derive(Debug, clap::Args)]
pub struct WalkForwardArgs {
    /// Input, strategy and library options.
    #[command(flatten)]
    pub run: RunInput,
    /// Grid, as for `aio sweep`.
    #[arg(long, required = true)]
    pub param: Vec<String>,
    /// Metric that picks each in-sample winner.
    #[arg(long, default_value = "sharpe")]
    pub rank: String,
    /// Bars per in-sample window.
    #[arg(long)]
    pub train: usize,
    /// Bars per out-of-sample window.
    #[arg(long)]
    pub test: usize,
    /// Anchored windows (in-sample always starts at the first bar) instead of rolling ones.
    #[arg(long)]
    pub anchored: bool,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the windows as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

struct Prepared {
    spec: StrategySpec,
    spec_json: serde_json::Value,
    loaded: LoadedBars,
    market: MarketSpec,
    cache: SeriesCache,
}

fn prepare(run: &RunInput) -> anyhow::Result<Prepared> {
    let text = std::fs::read_to_string(&run.strategy).with_context(|| format!("reading {}", run.strategy.display()))?;
    let spec = StrategySpec::from_json(&text).with_context(|| format!("in {}", run.strategy.display()))?;
    let spec_json = serde_json::to_value(&spec)?;
    let loaded = ingest::load_path(&run.input, &LoadOptions::default(), &NoProgress)?;
    let symbol = run
        .symbol
        .clone()
        .or_else(|| (!spec.symbol.is_empty()).then(|| spec.symbol.clone()))
        .or_else(|| loaded.symbol.clone())
        .unwrap_or_default();
    let market = MarketSpec::for_symbol(&symbol);
    let bars = Arc::new(loaded.bars.clone());
    let cache = SeriesCache::new(bars.clone());
    if run.guardrails {
        let last = bars.len().saturating_sub(1);
        let atr = match &spec.stop_loss {
            Some(crate::strategy::Level::Atr(a)) => cache
                .indicator(&crate::strategy::IndicatorKind::Atr { length: a.length })
                .ok()
                .and_then(|c| c[0].get(last).copied())
                .filter(|x| x.is_finite()),
            _ => None,
        };
        let context =
            MarketContext { price: bars.close().get(last).copied().unwrap_or(1.0), pip_size: market.pip_size, atr };
        check_guardrails(&spec, &Guardrails::default(), &context).context("the strategy breaks a guardrail")?;
    }
    Ok(Prepared { spec, spec_json, loaded, market, cache })
}

/// Stores the strategy (once per name and spec) and returns the open library with the strategy id.
fn store_strategy(
    library: Option<&Path>,
    p: &Prepared,
    source: &Path,
) -> anyhow::Result<(Library, crate::store::StrategyId, crate::store::DatasetId)> {
    let path = Library::resolve_path(library)?;
    let mut lib = Library::open(&path).context("opening the library")?;
    let strategy_id = lib.strategy_id_for(&p.spec.name, &p.spec_json)?;
    let dataset_id = lib.add_dataset(&NewDataset::from_loaded(&p.loaded, source))?;
    Ok((lib, strategy_id, dataset_id))
}

/// Runs `aio backtest`.
pub fn run(args: BacktestArgs, library: Option<&Path>) -> anyhow::Result<ExitCode> {
    let p = prepare(&args.run)?;
    let started = Instant::now();
    let report = backtest::run_with_cache(&p.spec, &p.cache, p.market)?;
    let elapsed = started.elapsed();
    write_report(&args.report, &report, &p.spec.name)?;
    if let Some(path) = &args.trades {
        write_trades_csv(path, &report.trades)?;
    }
    if let Some(path) = &args.equity {
        write_equity_csv(path, &report)?;
    }
    let m = &report.metrics;
    eprintln!(
        "{}: {} bars in {:.1} ms; {} trades, net profit {:.2} ({:.2} %), max drawdown {:.2} %, Sharpe {:.2}, \
         profit factor {:.2}, win rate {:.1} % -> {}",
        p.spec.name,
        report.equity.len(),
        elapsed.as_secs_f64() * 1e3,
        m.trades,
        m.net_profit,
        m.return_pct,
        m.max_drawdown_pct,
        m.sharpe,
        m.profit_factor,
        m.win_rate_pct,
        args.report.display()
    );
    if !args.run.no_library {
        let (mut lib, strategy_id, dataset_id) = store_strategy(library, &p, &args.run.input)?;
        let id = lib.add_backtest(&NewBacktest {
            strategy_id,
            dataset_id: Some(dataset_id),
            metrics: report_json(&report, &p.spec.name),
            equity: equity_points(&report),
            trades: trades_json(&report),
        })?;
        eprintln!("stored as backtest #{} of strategy #{} in the library", id.0, strategy_id.0);
    }
    Ok(ExitCode::SUCCESS)
}

fn grid(params: &[String]) -> anyhow::Result<Vec<backtest::sweep::ParamAxis>> {
    let mut axes = Vec::new();
    for p in params {
        axes.extend(parse_grid(p)?);
    }
    Ok(axes)
}

/// Runs `aio sweep`.
pub fn run_sweep_command(args: SweepArgs, library: Option<&Path>) -> anyhow::Result<ExitCode> {
    let p = prepare(&args.run)?;
    let axes = grid(&args.param)?;
    let rank_by = RankBy::new(&args.rank)?;
    let started = Instant::now();
    let result = run_sweep(
        &p.spec,
        &axes,
        &p.cache,
        p.market,
        &SweepOptions { rank_by, threads: args.threads, range: 0..p.cache.bars().len(), cancel: None, progress: None },
    )?;
    let elapsed = started.elapsed();
    eprintln!(
        "{} combinations ({} skipped{}) over {} bars in {:.2} s, ranked by {}",
        result.combinations,
        result.skipped,
        result.first_skip_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default(),
        p.cache.bars().len(),
        elapsed.as_secs_f64(),
        result.rank_by
    );
    for (rank, row) in result.rows.iter().take(args.top).enumerate() {
        let params: Vec<String> = row.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let m = &row.metrics;
        println!(
            "{:>3}. {}  {}={:.4}  net={:.2} trades={} dd={:.2}% pf={:.2}",
            rank + 1,
            params.join(" "),
            result.rank_by,
            RankBy { metric: result.rank_by.clone() }.value(m),
            m.net_profit,
            m.trades,
            m.max_drawdown_pct,
            m.profit_factor
        );
    }
    if let Some(out) = &args.out {
        write_sweep_csv(out, &result)?;
    }
    if !args.run.no_library {
        let (mut lib, strategy_id, dataset_id) = store_strategy(library, &p, &args.run.input)?;
        let id = lib.add_sweep(&crate::store::NewSweep {
            strategy_id,
            dataset_id: Some(dataset_id),
            kind: "sweep".into(),
            rank_by: result.rank_by.clone(),
            result: serde_json::to_value(&result)?,
        })?;
        eprintln!("stored as sweep #{} in the library", id.0);
    }
    Ok(ExitCode::SUCCESS)
}

fn write_sweep_csv(path: &Path, result: &backtest::sweep::SweepResult) -> anyhow::Result<()> {
    use std::io::Write;
    let names: Vec<String> =
        result.rows.first().map(|r| r.params.iter().map(|p| p.0.clone()).collect()).unwrap_or_default();
    let metric_names: Vec<String> = serde_json::to_value(backtest::Metrics::default())?
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    ingest::write_atomically(path, |f| {
        let mut w = std::io::BufWriter::new(f);
        let mut write = || -> std::io::Result<()> {
            writeln!(w, "rank,{},{}", names.join(","), metric_names.join(","))?;
            for (i, row) in result.rows.iter().enumerate() {
                let params: Vec<String> = row.params.iter().map(|p| p.1.to_string()).collect();
                let values: Vec<String> =
                    metric_names.iter().map(|n| row.metrics.get(n).map_or(String::new(), |x| x.to_string())).collect();
                writeln!(w, "{},{},{}", i + 1, params.join(","), values.join(","))?;
            }
            w.flush()
        };
        write().map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// Runs `aio walkforward`.
pub fn run_walkforward_command(args: WalkForwardArgs, library: Option<&Path>) -> anyhow::Result<ExitCode> {
    let p = prepare(&args.run)?;
    let axes = grid(&args.param)?;
    let options = WalkForwardOptions {
        train_bars: args.train,
        test_bars: args.test,
        anchored: args.anchored,
        rank_by: RankBy::new(&args.rank)?,
        threads: args.threads,
    };
    let started = Instant::now();
    let result = walk_forward(&p.spec, &axes, &p.cache, p.market, &options)?;
    let ts = p.cache.bars().ts_nanos();
    for w in &result.windows {
        let params: Vec<String> = w.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "IS {} → {}  OOS {} → {}  {}  IS {}={:.3}  OOS return {:.2} % ({} trades)",
            crate::domain::format_ts_nanos(ts[w.train.start]),
            crate::domain::format_ts_nanos(ts[w.train.end - 1]),
            crate::domain::format_ts_nanos(ts[w.test.start]),
            crate::domain::format_ts_nanos(ts[w.test.end - 1]),
            params.join(" "),
            options.rank_by.metric,
            options.rank_by.value(&w.in_sample),
            w.out_of_sample.return_pct,
            w.out_of_sample.trades
        );
    }
    eprintln!(
        "{} windows in {:.2} s: out-of-sample net profit {:.2}, mean return {:.2} % per window, {:.0} % of windows \
         profitable, efficiency {:.2}",
        result.windows.len(),
        started.elapsed().as_secs_f64(),
        result.oos_net_profit,
        result.oos_mean_return_pct,
        result.oos_profitable_windows_pct,
        result.efficiency
    );
    let json = serde_json::to_value(&result)?;
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&json)?;
        ingest::write_atomically(out, |f| std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string()))?;
    }
    if !args.run.no_library {
        let (mut lib, strategy_id, dataset_id) = store_strategy(library, &p, &args.run.input)?;
        let id = lib.add_sweep(&crate::store::NewSweep {
            strategy_id,
            dataset_id: Some(dataset_id),
            kind: if args.anchored { "walkforward_anchored" } else { "walkforward_rolling" }.into(),
            rank_by: options.rank_by.metric.clone(),
            result: json,
        })?;
        eprintln!("stored as walk-forward #{} in the library", id.0);
    }
    Ok(ExitCode::SUCCESS)
}
