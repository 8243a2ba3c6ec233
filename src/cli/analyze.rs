//! `aio analyze --input FILE [--model DIR] [--remote URL] [--last N] [--instruction TEXT] [--out DIR]`: the workstation's
//! Analyze button, headless. Writes `chart.png`, `findings.json`, `strategy.json`, `strategy.pine` and
//! `report.json` into `--out`, stores the analysis in the library and prints a summary. The exit code is non-zero
//! only on errors, never because the strategy is weak.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, atomic::AtomicBool},
};

use anyhow::Context;
use serde_json::json;

use super::write_json;
use crate::{
    ai::orchestrator::{
        AnalysisEvent, AnalysisRequest, AnalysisResult, AnalystChain, Orchestrator, RiskPolicy, remote::RemoteConfig,
    },
    ingest::{self, LoadOptions, NoProgress},
    render::OffscreenRenderer,
    store::{Library, NewDataset},
};

/// Arguments of `aio analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Bar file (CSV or Parquet); without it, the embedded EUR/USD H1 sample.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Model folder (Hugging Face layout) or hub id; without it (or when it fails to load) the rule-based analyst
    /// answers.
    #[arg(long)]
    pub model: Option<String>,
    /// A remote OpenAI-compatible endpoint (base URL up to the version, e.g. `http://127.0.0.1:8080/v1`), tried
    /// after the local model and before the rule-based analyst.
    #[arg(long)]
    pub remote: Option<String>,
    /// Model name sent to the remote endpoint.
    #[arg(long, default_value = "default")]
    pub remote_model: String,
    /// Environment variable holding the remote endpoint's API key (never written anywhere).
    #[arg(long)]
    pub remote_key_env: Option<String>,
    /// Bars on the chart the analyst reads (the latest ones).
    #[arg(long, default_value_t = 150)]
    pub last: usize,
    /// What the trader wants, in words (e.g. "long only, tight stops").
    #[arg(long, default_value = "")]
    pub instruction: String,
    /// Folder for chart.png, findings.json, strategy.json, strategy.pine and report.json.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Equity risked per trade at the stop, percent.
    #[arg(long, default_value_t = 1.0)]
    pub risk_percent: f64,
    /// Share of the bars at the end held out for the out-of-sample backtest.
    #[arg(long, default_value_t = 0.3)]
    pub holdout: f64,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Skip the chart image (no GPU or lavapipe needed).
    #[arg(long)]
    pub no_image: bool,
    /// Do not store the analysis in the library.
    #[arg(long)]
    pub no_library: bool,
    /// Drop invalid input rows instead of refusing the file.
    #[arg(long)]
    pub force: bool,
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    ingest::write_atomically(path, |file| file.write_all(bytes).map_err(|e| e.to_string()))?;
    Ok(())
}

/// Writes the five output files of `result` into `dir`.
pub fn write_outputs(dir: &Path, result: &AnalysisResult) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(png) = &result.chart_png {
        write_file(&dir.join("chart.png"), png)?;
    }
    write_json(
        &dir.join("findings.json"),
        &json!({"source": result.findings_source, "reading": result.reading, "patterns": result.context.findings}),
    )?;
    write_json(&dir.join("strategy.json"), &result.output.strategy)?;
    write_file(&dir.join("strategy.pine"), result.pine.as_bytes())?;
    write_json(&dir.join("report.json"), &result.report())
}

/// Runs `aio analyze`.
pub fn run(args: AnalyzeArgs, library: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.last >= 3, "--last must be at least 3 bars");
    anyhow::ensure!(
        args.risk_percent.is_finite() && args.risk_percent > 0.0,
        "--risk-percent must be a positive number"
    );
    anyhow::ensure!((0.0..0.9).contains(&args.holdout), "--holdout must lie in 0..0.9");
    let (loaded, source) = match &args.input {
        Some(path) => (
            ingest::load_path(path, &LoadOptions { force: args.force, ..Default::default() }, &NoProgress)?,
            path.clone(),
        ),
        None => (ingest::load_sample()?, PathBuf::from(ingest::SAMPLE_NAME)),
    };
    anyhow::ensure!(loaded.bars.len() >= 3, "{}: fewer than 3 bars", source.display());
    let mut lib = if args.no_library {
        None
    } else {
        let path = Library::resolve_path(library)?;
        Some((Library::open(&path).context("opening the library")?, path))
    };
    let dataset_id = match &mut lib {
        Some((lib, _)) => Some(lib.add_dataset(&NewDataset::from_loaded(&loaded, &source))?),
        None => None,
    };
    let remote = args.remote.as_deref().map(|url| RemoteConfig {
        api_key_env: args.remote_key_env.clone(),
        ..RemoteConfig::new(url, &args.remote_model)
    });
    let chain = AnalystChain::from_sources(args.model.as_deref(), remote);
    let orchestrator = Orchestrator::new(chain);
    let symbol = loaded.symbol.clone().unwrap_or_else(|| "UNKNOWN".into());
    let mut request = AnalysisRequest::latest(Arc::new(loaded.bars.clone()), &symbol, loaded.timeframe, args.last);
    request.instruction = args.instruction.clone();
    request.policy = RiskPolicy { risk_percent: args.risk_percent, ..RiskPolicy::default() };
    request.holdout_fraction = args.holdout;
    request.seed = args.seed;
    request.price_digits = loaded.price_digits();
    request.dataset_id = dataset_id;
    if args.no_image {
        request.image_size = None;
    }
    let mut renderer = if args.no_image {
        None
    } else {
        match OffscreenRenderer::new() {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("no chart image: {e}");
                None
            }
        }
    };
    let cancel = AtomicBool::new(false);
    let events = |event: AnalysisEvent| match event {
        AnalysisEvent::Stage { stage, elapsed_secs } => eprintln!("[{elapsed_secs:6.2} s] {}", stage.label()),
        AnalysisEvent::Fallback { analyst, reason } => eprintln!("  {analyst} failed: {reason}; falling back"),
        AnalysisEvent::Reading { .. } | AnalysisEvent::Text { .. } => {}
    };
    let result = orchestrator.run(&request, renderer.as_mut(), &cancel, &events)?;
    write_outputs(&args.out, &result)?;
    let stored = match &mut lib {
        Some((lib, path)) => Some((
            crate::ai::orchestrator::store::store_result(lib, &result, dataset_id)
                .with_context(|| format!("storing the analysis in {}", path.display()))?,
            path.clone(),
        )),
        None => None,
    };

    let m = &result.in_sample.report.metrics;
    println!("analysis of {symbol} {} ({} bars shown) by {}", result.timeframe, result.visible.len(), result.analyst);
    for f in &result.fallbacks {
        println!("  fallback: {} — {}", f.analyst, f.reason);
    }
    println!(
        "  reading: {} (strength {:.2}), trend {}, volatility {}",
        result.reading.pattern, result.reading.strength, result.reading.trend, result.reading.volatility
    );
    println!("  strategy: {} (confidence {:.2})", result.output.strategy.name, result.output.confidence);
    for line in crate::strategy::describe(&result.output.strategy) {
        println!("    {line}");
    }
    println!("  rationale: {}", result.output.rationale);
    println!("  risk: {}", result.output.risk);
    println!(
        "  in-sample: {} trades, return {:.2} %, max drawdown {:.2} %, Sharpe {:.2}, profit factor {:.2}",
        m.trades, m.return_pct, m.max_drawdown_pct, m.sharpe, m.profit_factor
    );
    if let Some(oos) = &result.out_of_sample {
        let m = &oos.report.metrics;
        println!(
            "  out-of-sample: {} trades, return {:.2} %, max drawdown {:.2} %, Sharpe {:.2}, profit factor {:.2}",
            m.trades, m.return_pct, m.max_drawdown_pct, m.sharpe, m.profit_factor
        );
    }
    println!(
        "  Pine Script: {} lines, {} warning(s){}",
        result.pine.lines().count(),
        result.pine_diagnostics.len(),
        if result.pine_fixes.is_empty() { String::new() } else { format!(", {} fix(es)", result.pine_fixes.len()) }
    );
    if let Some(note) = &result.chart_note {
        println!("  chart image: none ({note})");
    }
    println!(
        "  first finding {:.0} ms, full result {:.0} ms; files in {}",
        result.first_finding_secs * 1e3,
        result.total_secs * 1e3,
        args.out.display()
    );
    if let Some((id, path)) = stored {
        println!("  stored as analysis {} in {}", id.analysis.0, path.display());
    }
    Ok(ExitCode::SUCCESS)
}
