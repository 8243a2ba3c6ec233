//! The analysis loop: visible range → offscreen chart PNG → findings → fusion prompt → analyst (local model with
//! schema-constrained decoding, else the next in the chain, the rule-based analyst last) → guardrails → Pine
//! codegen and validation (auto-fix, one retry) → backtests in-sample and on a held-out tail → one result that
//! [`store`] writes to the library in one transaction.
//!
//! No GUI code: the workstation and `aio analyze` drive it alike, usually through the worker [`pool`]. Every stage
//! reports [`AnalysisEvent`]s and checks the cancel flag; an analyst that fails (does not load, times out,
//! answers something that does not validate or breaks a guardrail) hands over to the next one with the reason
//! recorded, and one that keeps failing is skipped for a while by its [`CircuitBreaker`].
//!
//! Besides `ai`'s own imports this module reads `render`, `backtest`, `pine` and `store`; none of them imports it.

pub mod context;
pub mod pool;
pub mod remote;
pub mod rules;
pub mod store;

use std::{
    ops::Range,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::{Value, json};

pub use context::{
    AnalystContext, AnalystOutput, INDICATOR_MENU, MenuItem, RiskPolicy, analyst_output_schema, sanitize,
};

use super::{
    engine::Engine,
    generate::{FinishReason, GenerateRequest, Prompt},
    sampling::SamplingParams,
    tokenizer::ChatMessage,
};
use crate::{
    backtest::{BacktestReport, MarketSpec, SeriesCache, run_range},
    domain::{Bars, Timeframe},
    patterns::{
        self,
        chart::{ChartConfig, ChartReading, chart_reading_schema},
        miner::{MinerConfig, MiningReport},
    },
    pine::{self, Diagnostic},
    render::{Annotations, ChartData, ChartTheme, ChartView, OffscreenRenderer},
    strategy::{MarketContext, check_guardrails},
};

/// Errors that end an analysis (an analyst's failure is not one: the next analyst takes over).
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The cancel flag was set.
    #[error("analysis cancelled")]
    Cancelled,
    /// The request cannot be analysed (no bars, an empty visible range, …).
    #[error("invalid analysis request: {0}")]
    Request(String),
    /// Every analyst of the chain failed; the reasons, in order.
    #[error("every analyst failed: {}", .0.join("; "))]
    AllAnalystsFailed(Vec<String>),
    /// A backtest could not run.
    #[error("backtest: {0}")]
    Backtest(String),
}

/// The stages of one analysis, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Drawing the visible range offscreen.
    Render,
    /// Reading the chart (patterns, regime, volatility).
    Findings,
    /// Mining the in-sample bars and building the fusion prompt.
    Prompt,
    /// An analyst writing the strategy.
    Analyst,
    /// Guardrails, Pine codegen and validation.
    Pine,
    /// In-sample and out-of-sample backtests.
    Backtest,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] =
        [Stage::Render, Stage::Findings, Stage::Prompt, Stage::Analyst, Stage::Pine, Stage::Backtest];

    /// Words for a progress bar, e.g. `writing the strategy`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Render => "drawing the chart",
            Self::Findings => "reading the chart",
            Self::Prompt => "mining history, building the prompt",
            Self::Analyst => "writing the strategy",
            Self::Pine => "checking guardrails and Pine",
            Self::Backtest => "backtesting",
        }
    }

    /// Fraction of the loop done when this stage starts (for a progress bar).
    pub fn progress(self) -> f32 {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) as f32 / Self::ALL.len() as f32
    }
}

/// What an analysis reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisEvent {
    /// A stage started.
    Stage {
        /// The stage.
        stage: Stage,
        /// Seconds since the analysis started.
        elapsed_secs: f64,
    },
    /// The chart reading is known (the first finding).
    Reading {
        /// The reading.
        reading: ChartReading,
        /// Seconds since the analysis started.
        elapsed_secs: f64,
    },
    /// A model streamed text.
    Text {
        /// The new text.
        piece: String,
        /// Tokens generated so far.
        tokens: usize,
    },
    /// An analyst failed and the next one takes over.
    Fallback {
        /// The analyst that failed.
        analyst: String,
        /// Why.
        reason: String,
    },
}

/// One analysis to run.
#[derive(Debug, Clone)]
pub struct AnalysisRequest {
    /// Every loaded bar (the backtests run on all of them).
    pub bars: Arc<Bars>,
    /// Instrument, e.g. `EURUSD`.
    pub symbol: String,
    /// Bar size, when known.
    pub timeframe: Option<Timeframe>,
    /// The bars on screen (end exclusive): what the analyst reads.
    pub visible: Range<usize>,
    /// The trader's instruction (sanitised before it reaches a prompt).
    pub instruction: String,
    /// Risk per trade and the caps.
    pub policy: RiskPolicy,
    /// Share of the bars, at the end, held out of the miner's statistics and backtested apart (0 = none).
    pub holdout_fraction: f64,
    /// Seed of every random draw (model sampling).
    pub seed: u64,
    /// Chart image size in pixels (`None` = no image).
    pub image_size: Option<[u32; 2]>,
    /// Decimal places of prices.
    pub price_digits: usize,
    /// The dataset's row id in the library, if registered.
    pub dataset_id: Option<crate::store::DatasetId>,
}

impl AnalysisRequest {
    /// A request for the last `visible_bars` of `bars` with the default policy, a 30 % hold-out and a
    /// 1280×720 image.
    pub fn latest(bars: Arc<Bars>, symbol: &str, timeframe: Option<Timeframe>, visible_bars: usize) -> Self {
        let n = bars.len();
        Self {
            bars,
            symbol: symbol.to_string(),
            timeframe,
            visible: n.saturating_sub(visible_bars.max(1))..n,
            instruction: String::new(),
            policy: RiskPolicy::default(),
            holdout_fraction: 0.3,
            seed: 0,
            image_size: Some([1280, 720]),
            price_digits: 5,
            dataset_id: None,
        }
    }

    fn timeframe_name(&self) -> String {
        self.timeframe.map_or_else(|| "unknown".to_string(), |t| t.to_string())
    }

    /// First bar of the held-out tail (`bars.len()` when nothing is held out).
    pub fn split_index(&self) -> usize {
        let n = self.bars.len();
        let f = if self.holdout_fraction.is_finite() { self.holdout_fraction.clamp(0.0, 0.9) } else { 0.0 };
        n - (n as f64 * f).round() as usize
    }
}

/// What an analyst is given.
pub struct AnalystJob<'a> {
    /// Context, reading, findings, instruction, policy.
    pub context: &'a AnalystContext,
    /// The miner's statistics of the in-sample bars.
    pub mining: Option<&'a MiningReport>,
    /// Last close, pip size and ATR(14) at the last visible bar (what the guardrails measure with too).
    pub market: MarketContext,
    /// Instrument.
    pub symbol: &'a str,
    /// Bar size name.
    pub timeframe: &'a str,
    /// Sampling seed.
    pub seed: u64,
    /// The analysis's cancel flag.
    pub cancel: &'a AtomicBool,
    /// Progress events.
    pub events: &'a (dyn Fn(AnalysisEvent) + Sync),
}

/// An analyst's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The parsed answer.
    pub output: AnalystOutput,
    /// The text as produced (the model's raw output, or the rule-based analyst's JSON).
    pub raw: String,
    /// Tokens generated (0 for the rule-based analyst).
    pub tokens: usize,
}

/// Why an analyst did not deliver.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalystFailure {
    /// The analysis was cancelled while this analyst worked.
    #[error("cancelled")]
    Cancelled,
    /// Anything else, in words.
    #[error("{0}")]
    Failed(String),
}

/// Something that turns a chart's context into a strategy.
pub trait Analyst: Send + Sync {
    /// Who answered, as stored with the analysis (model id and version, or `rule-based v1`).
    fn id(&self) -> String;
    /// Writes a strategy for `job`.
    fn propose(&self, job: &AnalystJob<'_>) -> Result<Proposal, AnalystFailure>;
}

/// The rule-based analyst ([`rules`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleAnalyst;

/// Id of the rule-based analyst.
pub const RULE_BASED_ID: &str = "rule-based v1";

impl Analyst for RuleAnalyst {
    fn id(&self) -> String {
        RULE_BASED_ID.to_string()
    }

    fn propose(&self, job: &AnalystJob<'_>) -> Result<Proposal, AnalystFailure> {
        let output = rules::propose(job.context, job.mining, &job.market, job.symbol, job.timeframe);
        let raw = serde_json::to_string_pretty(&output).map_err(|e| AnalystFailure::Failed(e.to_string()))?;
        Ok(Proposal { output, raw, tokens: 0 })
    }
}

/// A model that could not be loaded: every analysis records why and moves on to the next analyst.
#[derive(Debug, Clone)]
pub struct UnavailableAnalyst {
    /// What was asked for (a folder or hub id).
    pub id: String,
    /// Why it is unavailable.
    pub reason: String,
}

impl Analyst for UnavailableAnalyst {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn propose(&self, _job: &AnalystJob<'_>) -> Result<Proposal, AnalystFailure> {
        Err(AnalystFailure::Failed(format!("model not loaded: {}", self.reason)))
    }
}

/// A local MiniCPM model behind the engine's request channel, decoding under [`analyst_output_schema`].
pub struct ModelAnalyst {
    engine: Arc<Engine>,
    id: String,
    /// Most tokens one answer may take.
    pub max_tokens: usize,
    /// Longest wait for one answer (queue time included).
    pub timeout: Duration,
}

impl ModelAnalyst {
    /// An analyst on a started engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        let info = engine.info();
        let name = info.dir.file_name().map_or_else(|| info.dir.display().to_string(), |n| n.to_string_lossy().into());
        let id = format!("{} ({}, {}, {} parameters)", name, info.model_type, info.quantization, info.parameters);
        Self { engine, id, max_tokens: 1_500, timeout: Duration::from_secs(300) }
    }
}

impl Analyst for ModelAnalyst {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn propose(&self, job: &AnalystJob<'_>) -> Result<Proposal, AnalystFailure> {
        let messages = vec![
            ChatMessage { role: "system".into(), content: AnalystContext::system_prompt().into() },
            ChatMessage { role: "user".into(), content: job.context.user_prompt() },
        ];
        let request = GenerateRequest {
            prompt: Prompt::Chat { messages, thinking: false },
            max_tokens: self.max_tokens,
            sampling: SamplingParams { seed: job.seed, ..SamplingParams::greedy() },
            stop_strings: Vec::new(),
            stop_ids: Vec::new(),
            json_schema: Some(analyst_output_schema()),
            images: Vec::new(),
        };
        let generation = generate_watched(&self.engine, request, job.cancel, job.events, self.timeout)?;
        let tokens = generation.stats.generated_tokens;
        let raw = generation.text;
        let mut output: AnalystOutput = serde_json::from_str(&raw).map_err(|e| {
            AnalystFailure::Failed(format!(
                "the answer is not a strategy ({e}; finish {:?}, {tokens} tokens)",
                generation.finish
            ))
        })?;
        output.prune_indicators();
        Ok(Proposal { output, raw, tokens })
    }
}

/// Runs `request` on `engine`, streaming its text as [`AnalysisEvent::Text`], stopping it when `cancel` is set
/// ([`AnalystFailure::Cancelled`]) or after `timeout` (queue time included).
fn generate_watched(
    engine: &Engine,
    request: GenerateRequest,
    cancel: &AtomicBool,
    events: &(dyn Fn(AnalysisEvent) + Sync),
    timeout: Duration,
) -> Result<super::generate::Generation, AnalystFailure> {
    let fail = |m: String| AnalystFailure::Failed(m);
    let (text_tx, text_rx) = std::sync::mpsc::channel::<String>();
    let pending = engine.generate(request, Some(text_tx)).map_err(|e| fail(e.to_string()))?;
    let started = Instant::now();
    let mut tokens = 0;
    let drain = |tokens: &mut usize| {
        while let Ok(piece) = text_rx.try_recv() {
            *tokens += 1;
            events(AnalysisEvent::Text { piece, tokens: *tokens });
        }
    };
    let generation = loop {
        drain(&mut tokens);
        if let Some(result) = pending.try_result() {
            break result.map_err(|e| fail(e.to_string()))?;
        }
        if cancel.load(Ordering::Relaxed) {
            pending.cancel();
            return Err(AnalystFailure::Cancelled);
        }
        if started.elapsed() > timeout {
            pending.cancel();
            return Err(fail(format!("no answer within {:.0} s", timeout.as_secs_f64())));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drain(&mut tokens);
    if generation.finish == FinishReason::Cancelled {
        return Err(AnalystFailure::Cancelled);
    }
    Ok(generation)
}

/// A vision model's reading of a chart image, under [`chart_reading_schema`], validated.
fn vision_reading(
    engine: &Engine,
    png: &[u8],
    seed: u64,
    cancel: &AtomicBool,
    events: &(dyn Fn(AnalysisEvent) + Sync),
) -> Result<ChartReading, AnalystFailure> {
    let fail = |m: String| AnalystFailure::Failed(m);
    let image = super::vision::ImageData::from_png(png).map_err(|e| fail(e.to_string()))?;
    let mut request = GenerateRequest::chat(super::vision::CHART_READING_PROMPT, 600);
    request.sampling = SamplingParams { seed, ..SamplingParams::greedy() };
    request.json_schema = Some(chart_reading_schema());
    request.images = vec![image];
    let generation = generate_watched(engine, request, cancel, events, Duration::from_secs(300))?;
    let reading: ChartReading = serde_json::from_str(&generation.text)
        .map_err(|e| fail(format!("the reading is not a chart reading ({e}; finish {:?})", generation.finish)))?;
    reading.validate().map_err(|e| fail(format!("the reading is invalid: {e}")))?;
    Ok(reading)
}

/// Skips an analyst that failed `threshold` times in a row for `cooldown`, then lets one try through.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<(u32, Option<Instant>)>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold: threshold.max(1), cooldown, state: Mutex::new((0, None)) }
    }

    /// Whether calls may go through now; `Err` says until when they may not.
    pub fn allow(&self) -> Result<(), Duration> {
        let state = self.state.lock().map_or((0, None), |s| *s);
        match state.1 {
            Some(open_until) if Instant::now() < open_until => Err(open_until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Records a success (closes the breaker).
    pub fn success(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = (0, None);
        }
    }

    /// Records a failure (opens the breaker at the threshold).
    pub fn failure(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.0 += 1;
            if s.0 >= self.threshold {
                s.1 = Some(Instant::now() + self.cooldown);
                s.0 = 0;
            }
        }
    }
}

/// One analyst of the chain with its breaker.
pub struct ChainLink {
    /// The analyst.
    pub analyst: Box<dyn Analyst>,
    /// Its breaker.
    pub breaker: CircuitBreaker,
}

/// Analysts tried in order; the rule-based analyst closes every chain.
pub struct AnalystChain {
    links: Vec<ChainLink>,
    /// A loaded MiniCPM-V model reads the chart image for the findings (else the pattern engine does).
    pub vision: Option<Arc<Engine>>,
    /// The local model, when one loaded.
    pub model: Option<ModelSummary>,
}

/// What the Model panel shows of a loaded model.
#[derive(Debug, Clone)]
pub struct ModelSummary {
    /// Architecture, quantization, memory, load time.
    pub info: super::engine::ModelInfo,
    /// The licence its model card (`README.md` front matter) or `config.json` names.
    pub licence: Option<String>,
}

/// The `license:` of a model card's YAML front matter (`README.md`), else `config.json`'s `license`.
pub fn model_licence(dir: &std::path::Path) -> Option<String> {
    if let Ok(card) = std::fs::read_to_string(dir.join("README.md"))
        && let Some(front) = card.strip_prefix("---").and_then(|rest| rest.split("\n---").next())
        && let Some(line) = front.lines().find_map(|l| l.trim().strip_prefix("license:"))
    {
        let licence = line.trim().trim_matches(['"', '\'']).to_string();
        if !licence.is_empty() {
            return Some(licence);
        }
    }
    let config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).ok()?).ok()?;
    config.get("license").and_then(Value::as_str).map(str::to_string)
}

impl AnalystChain {
    /// `analysts` in order, then the rule-based analyst; each behind a breaker that opens after 3 failures in a
    /// row for 60 s.
    pub fn new(analysts: Vec<Box<dyn Analyst>>) -> Self {
        let mut links: Vec<ChainLink> = analysts
            .into_iter()
            .map(|analyst| ChainLink { analyst, breaker: CircuitBreaker::new(3, Duration::from_secs(60)) })
            .collect();
        links
            .push(ChainLink { analyst: Box::new(RuleAnalyst), breaker: CircuitBreaker::new(u32::MAX, Duration::ZERO) });
        Self { links, vision: None, model: None }
    }

    /// The rule-based analyst only.
    pub fn rule_based() -> Self {
        Self::new(Vec::new())
    }

    /// The chain for `model` (a folder or a hub id in the local Hugging Face cache): the local model when it
    /// loads (this waits for the load), else an [`UnavailableAnalyst`] that records why; the rule-based analyst
    /// closes it. `None` gives the rule-based analyst alone.
    pub fn for_model(model: Option<&str>) -> Self {
        Self::from_sources(model, None)
    }

    /// The chain local model → remote endpoint → rule-based analyst, leaving out what is not given. A model or
    /// endpoint that cannot be set up stays in the chain as an [`UnavailableAnalyst`] saying why.
    pub fn from_sources(model: Option<&str>, remote: Option<remote::RemoteConfig>) -> Self {
        let mut analysts: Vec<Box<dyn Analyst>> = Vec::new();
        let mut vision = None;
        let mut summary = None;
        if let Some(name) = model {
            let started = super::hub::resolve_model(name, &super::hub::HubOptions::from_env())
                .and_then(|dir| Engine::start(&dir));
            analysts.push(match started {
                Ok(engine) => {
                    let engine = Arc::new(engine);
                    let info = engine.info().clone();
                    summary = Some(ModelSummary { licence: model_licence(&info.dir), info });
                    if engine.info().vision {
                        vision = Some(engine.clone());
                    }
                    Box::new(ModelAnalyst::new(engine))
                }
                Err(e) => {
                    tracing::warn!(model = name, error = %e, "the model did not load; the next analyst answers");
                    Box::new(UnavailableAnalyst { id: name.to_string(), reason: e.to_string() })
                }
            });
        }
        if let Some(config) = remote {
            let id = format!("{} at {}", config.model, config.base_url);
            analysts.push(match remote::RemoteAnalyst::new(config) {
                Ok(analyst) => Box::new(analyst),
                Err(reason) => Box::new(UnavailableAnalyst { id, reason }),
            });
        }
        Self { vision, model: summary, ..Self::new(analysts) }
    }

    /// Ids of the analysts, in order.
    pub fn ids(&self) -> Vec<String> {
        self.links.iter().map(|l| l.analyst.id()).collect()
    }
}

/// A fallback that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fallback {
    /// The analyst that failed.
    pub analyst: String,
    /// Why.
    pub reason: String,
}

/// A backtest of the analysis's strategy on one part of the data.
#[derive(Debug, Clone)]
pub struct PartBacktest {
    /// `in_sample` or `out_of_sample`.
    pub part: &'static str,
    /// The full report (trades, equity, metrics).
    pub report: BacktestReport,
}

/// Everything one analysis produced.
#[derive(Debug, Clone)]
pub struct AnalysisResult {
    /// The chart image the analyst saw (PNG), when drawn.
    pub chart_png: Option<Vec<u8>>,
    /// Why there is no image, when there is none.
    pub chart_note: Option<String>,
    /// The reading of the visible range.
    pub reading: ChartReading,
    /// Where the findings came from (`pattern engine`).
    pub findings_source: String,
    /// The context, reading and findings the analyst read.
    pub context: AnalystContext,
    /// The fusion prompt (system and user messages).
    pub prompt: [String; 2],
    /// The analyst that answered.
    pub analyst: String,
    /// Its raw output.
    pub raw_output: String,
    /// Tokens it generated.
    pub tokens: usize,
    /// The accepted answer.
    pub output: AnalystOutput,
    /// Analysts that failed before it.
    pub fallbacks: Vec<Fallback>,
    /// The generated Pine Script.
    pub pine: String,
    /// The validator's diagnostics of `pine` (warnings only when accepted).
    pub pine_diagnostics: Vec<Diagnostic>,
    /// What the fixer changed, if it had to run.
    pub pine_fixes: Vec<String>,
    /// In-sample backtest (bars before the hold-out).
    pub in_sample: PartBacktest,
    /// Out-of-sample backtest (the held-out tail), when the tail has enough bars.
    pub out_of_sample: Option<PartBacktest>,
    /// The request's seed.
    pub seed: u64,
    /// Seconds from the start to each stage's start.
    pub stage_secs: Vec<(Stage, f64)>,
    /// Seconds to the reading.
    pub first_finding_secs: f64,
    /// Seconds for the whole loop.
    pub total_secs: f64,
    /// Instrument.
    pub symbol: String,
    /// Bar size name.
    pub timeframe: String,
    /// The visible bars (end exclusive).
    pub visible: Range<usize>,
    /// Times of the first and last visible bar, UTC nanoseconds.
    pub visible_nanos: (i64, i64),
}

/// Fewest bars a held-out tail needs to be backtested.
pub const MIN_HOLDOUT_BARS: usize = 50;

impl AnalysisResult {
    /// The report JSON (`report.json`, and the library's `report_json`): everything but the image, the raw
    /// equity curves and trades.
    pub fn report(&self) -> Value {
        let part = |p: &PartBacktest| {
            json!({
                "bars": [p.report.range.start, p.report.range.end],
                "metrics": p.report.metrics,
            })
        };
        json!({
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "visible_bars": [self.visible.start, self.visible.end],
            "visible_time": [crate::patterns::chart::rfc3339_utc(self.visible_nanos.0),
                             crate::patterns::chart::rfc3339_utc(self.visible_nanos.1)],
            "analyst": self.analyst,
            "findings_source": self.findings_source,
            "fallbacks": self.fallbacks,
            "reading": self.reading,
            "strategy": self.output.strategy,
            "rules": crate::strategy::describe(&self.output.strategy),
            "rationale": self.output.rationale,
            "confidence": self.output.confidence,
            "assumptions": self.output.assumptions,
            "risk": self.output.risk,
            "pine_diagnostics": self.pine_diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "pine_fixes": self.pine_fixes,
            "in_sample": part(&self.in_sample),
            "out_of_sample": self.out_of_sample.as_ref().map(part),
            "chart_note": self.chart_note,
            "tokens": self.tokens,
            "seed": self.seed,
            "timings_secs": {
                "stages": self.stage_secs.iter().map(|(s, t)| json!({"stage": s, "start": t})).collect::<Vec<_>>(),
                "first_finding": self.first_finding_secs,
                "total": self.total_secs,
            },
        })
    }
}

/// Runs analyses: the analyst chain, and where results go.
pub struct Orchestrator {
    chain: AnalystChain,
    /// Library file each result is stored in (`None`: not stored).
    pub library: Option<PathBuf>,
}

impl Orchestrator {
    /// An orchestrator over `chain` that stores nothing.
    pub fn new(chain: AnalystChain) -> Self {
        Self { chain, library: None }
    }

    /// The chain's analyst ids, in order.
    pub fn analyst_ids(&self) -> Vec<String> {
        self.chain.ids()
    }

    /// Runs the loop for `request`; `renderer` draws the chart (`None`, or a failing one, leaves the image out
    /// with the reason recorded). Checks `cancel` between stages and inside the model's generation.
    pub fn run(
        &self,
        request: &AnalysisRequest,
        renderer: Option<&mut OffscreenRenderer>,
        cancel: &AtomicBool,
        events: &(dyn Fn(AnalysisEvent) + Sync),
    ) -> Result<AnalysisResult, AnalysisError> {
        let renderer = Mutex::new(renderer);
        let draw = |request: &AnalysisRequest, shown: &Arc<Bars>, size: [u32; 2]| match renderer.lock() {
            Ok(mut r) => match r.as_deref_mut() {
                Some(r) => render_png(r, shown, request, size),
                None => Err("no renderer available".to_string()),
            },
            Err(_) => Err("the renderer is poisoned".to_string()),
        };
        self.run_with(request, &draw, cancel, events)
    }

    /// [`Self::run`] with the chart drawn by `draw` (the visible bars at a pixel size, to PNG bytes, or why not).
    pub fn run_with(
        &self,
        request: &AnalysisRequest,
        draw: &ChartDrawer<'_>,
        cancel: &AtomicBool,
        events: &(dyn Fn(AnalysisEvent) + Sync),
    ) -> Result<AnalysisResult, AnalysisError> {
        let started = Instant::now();
        let bars = &request.bars;
        let n = bars.len();
        let visible = request.visible.start.min(n)..request.visible.end.min(n);
        if visible.len() < 3 {
            return Err(AnalysisError::Request(format!(
                "the visible range {}..{} of {n} bars has fewer than 3 bars",
                request.visible.start, request.visible.end
            )));
        }
        let mut stage_secs = Vec::new();
        let mut stage = |stage: Stage| -> Result<(), AnalysisError> {
            if cancel.load(Ordering::Relaxed) {
                return Err(AnalysisError::Cancelled);
            }
            let elapsed_secs = started.elapsed().as_secs_f64();
            stage_secs.push((stage, elapsed_secs));
            events(AnalysisEvent::Stage { stage, elapsed_secs });
            Ok(())
        };
        let timeframe = request.timeframe_name();
        let shown = Arc::new(bars.slice(visible.clone()));

        // 1. The chart image.
        stage(Stage::Render)?;
        let (chart_png, chart_note) = match request.image_size {
            None => (None, Some("no image requested".to_string())),
            Some(size) => match draw(request, &shown, size) {
                Ok(png) => (Some(png), None),
                Err(e) => (None, Some(e)),
            },
        };

        // 2. Findings of the visible bars.
        stage(Stage::Findings)?;
        let analysis = patterns::analyze_chart(&shown, &ChartConfig::default())
            .map_err(|e| AnalysisError::Request(format!("reading the chart: {e}")))?;
        let mut reading = analysis.reading(&timeframe, shown.len());
        let mut findings_source = "pattern engine".to_string();
        let mut fallbacks = Vec::new();
        if let (Some(engine), Some(png)) = (&self.chain.vision, &chart_png) {
            let id = format!("vision: {}", engine.info().dir.display());
            match vision_reading(engine, png, request.seed, cancel, events) {
                Ok(seen) => {
                    reading = seen;
                    findings_source = format!("vision model ({})", engine.info().model_type);
                }
                Err(AnalystFailure::Cancelled) => return Err(AnalysisError::Cancelled),
                Err(AnalystFailure::Failed(reason)) => record_fallback(events, &mut fallbacks, &id, reason),
            }
        }
        let first_finding_secs = started.elapsed().as_secs_f64();
        events(AnalysisEvent::Reading { reading: reading.clone(), elapsed_secs: first_finding_secs });

        // 3. History statistics (in-sample bars only) and the prompt.
        stage(Stage::Prompt)?;
        let split = request.split_index();
        let market = MarketSpec::for_symbol(&request.symbol);
        let mining = mine_in_sample(bars, split);
        let context = AnalystContext::new(
            bars,
            visible.clone(),
            &request.symbol,
            &timeframe,
            &analysis,
            reading.clone(),
            &request.instruction,
            &request.policy,
            market.pip_size,
            request.price_digits,
        );
        let prompt = [AnalystContext::system_prompt().to_string(), context.user_prompt()];
        let atr = patterns::atr(&shown).last().copied().unwrap_or(f64::NAN);
        let last_close = shown.close().last().copied().unwrap_or(f64::NAN);
        let market_now = MarketContext { price: last_close, pip_size: market.pip_size, atr: Some(atr) };

        // 4.–5. Analysts in order until one passes every check.
        stage(Stage::Analyst)?;
        let job = AnalystJob {
            context: &context,
            mining: mining.as_ref(),
            market: market_now,
            symbol: &request.symbol,
            timeframe: &timeframe,
            seed: request.seed,
            cancel,
            events,
        };
        let mut accepted = None;
        let mut pine_stage_reported = false;
        for link in &self.chain.links {
            let id = link.analyst.id();
            let fall = |reason: String, fallbacks: &mut Vec<Fallback>| record_fallback(events, fallbacks, &id, reason);
            if let Err(wait) = link.breaker.allow() {
                fall(format!("skipped: failed repeatedly, retried in {:.0} s", wait.as_secs_f64()), &mut fallbacks);
                continue;
            }
            let proposal = match link.analyst.propose(&job) {
                Ok(p) => p,
                Err(AnalystFailure::Cancelled) => return Err(AnalysisError::Cancelled),
                Err(AnalystFailure::Failed(reason)) => {
                    link.breaker.failure();
                    fall(reason, &mut fallbacks);
                    continue;
                }
            };
            if !pine_stage_reported {
                stage(Stage::Pine)?;
                pine_stage_reported = true;
            }
            let checked = proposal
                .output
                .validate()
                .and_then(|()| {
                    check_guardrails(&proposal.output.strategy, &request.policy.guardrails, &job.market)
                        .map_err(|e| format!("guardrail: {e}"))
                })
                .and_then(|()| pine_for(&proposal.output));
            match checked {
                Ok((pine, diagnostics, fixes)) => {
                    link.breaker.success();
                    accepted = Some((id, proposal, pine, diagnostics, fixes));
                    break;
                }
                Err(reason) => {
                    link.breaker.failure();
                    fall(reason, &mut fallbacks);
                }
            }
        }
        let Some((analyst, proposal, pine, pine_diagnostics, pine_fixes)) = accepted else {
            return Err(AnalysisError::AllAnalystsFailed(
                fallbacks.iter().map(|f| format!("{}: {}", f.analyst, f.reason)).collect(),
            ));
        };

        // 6. Backtests: in-sample before the split, out-of-sample after it.
        stage(Stage::Backtest)?;
        let cache = SeriesCache::new(bars.clone());
        let spec = &proposal.output.strategy;
        let in_range = 0..split.max(2).min(n);
        let in_sample =
            run_range(spec, &cache, market, in_range).map_err(|e| AnalysisError::Backtest(e.to_string()))?;
        let out_of_sample = if n - split >= MIN_HOLDOUT_BARS {
            Some(run_range(spec, &cache, market, split..n).map_err(|e| AnalysisError::Backtest(e.to_string()))?)
        } else {
            None
        };
        if cancel.load(Ordering::Relaxed) {
            return Err(AnalysisError::Cancelled);
        }
        let ts = bars.ts_nanos();
        Ok(AnalysisResult {
            chart_png,
            chart_note,
            reading,
            findings_source,
            context,
            prompt,
            analyst,
            raw_output: proposal.raw,
            tokens: proposal.tokens,
            output: proposal.output,
            fallbacks,
            pine,
            pine_diagnostics,
            pine_fixes,
            in_sample: PartBacktest { part: "in_sample", report: in_sample },
            out_of_sample: out_of_sample.map(|report| PartBacktest { part: "out_of_sample", report }),
            seed: request.seed,
            stage_secs,
            first_finding_secs,
            total_secs: started.elapsed().as_secs_f64(),
            symbol: request.symbol.clone(),
            timeframe,
            visible_nanos: (ts[visible.start], ts[visible.end - 1]),
            visible,
        })
    }
}

/// Logs, reports and keeps one fallback: `analyst` failed for `reason` and the next one takes over.
fn record_fallback(
    events: &(dyn Fn(AnalysisEvent) + Sync),
    fallbacks: &mut Vec<Fallback>,
    analyst: &str,
    reason: String,
) {
    tracing::warn!(%analyst, %reason, "failed; the next analyst (or the pattern engine's reading) takes over");
    events(AnalysisEvent::Fallback { analyst: analyst.to_string(), reason: reason.clone() });
    fallbacks.push(Fallback { analyst: analyst.to_string(), reason });
}

/// Most in-sample bars the miner reads (the latest ones): its statistics stay quick on long histories.
pub const MAX_MINED_BARS: usize = 20_000;

/// The miner's report on the last [`MAX_MINED_BARS`] bars before `split`, robustness off; `None` when too few.
fn mine_in_sample(bars: &Bars, split: usize) -> Option<MiningReport> {
    let start = split.saturating_sub(MAX_MINED_BARS);
    if split - start < 200 {
        return None;
    }
    let cfg = MinerConfig { max_samples: 0, ..MinerConfig::default() };
    patterns::mine_bars(&bars.slice(start..split), &cfg).ok()
}

/// Pine for `output`'s strategy: generated, validated, fixed and re-validated once when the validator finds
/// errors. Returns the script, its remaining (warning) diagnostics and the fixes applied, or why it failed.
fn pine_for(output: &AnalystOutput) -> Result<(String, Vec<Diagnostic>, Vec<String>), String> {
    let source = pine::generate_pine(&output.strategy);
    let diagnostics = pine::check(&source);
    if !diagnostics.iter().any(Diagnostic::is_error) {
        return Ok((source, diagnostics, Vec::new()));
    }
    let fixed = pine::fix(&source);
    if fixed.remaining.iter().any(Diagnostic::is_error) {
        let first = fixed.remaining.iter().find(|d| d.is_error()).map(ToString::to_string).unwrap_or_default();
        return Err(format!("the generated Pine Script does not validate after a fix: {first}"));
    }
    Ok((fixed.source, fixed.remaining, fixed.changes))
}

/// Draws the visible bars of a request at a pixel size as PNG bytes, or says why it cannot.
pub type ChartDrawer<'a> = dyn Fn(&AnalysisRequest, &Arc<Bars>, [u32; 2]) -> Result<Vec<u8>, String> + Sync + 'a;

/// The visible bars drawn with EMA 20 and 50, as PNG bytes.
fn render_png(
    renderer: &mut OffscreenRenderer,
    shown: &Arc<Bars>,
    request: &AnalysisRequest,
    size: [u32; 2],
) -> Result<Vec<u8>, String> {
    let timeframe = request.timeframe_name();
    let theme = ChartTheme::DARK;
    let mut indicators = Vec::new();
    for text in ["ema:20", "ema:50"] {
        let spec: crate::indicators::IndicatorSpec = text.parse().map_err(|e| format!("{e}"))?;
        let columns = spec.compute(shown).map_err(|e| e.to_string())?;
        indicators.push((spec, columns));
    }
    let title = format!("{} · {timeframe}", request.symbol);
    let data = ChartData::new(shown.clone(), indicators, title, request.price_digits, &theme);
    let count = shown.len();
    let view = ChartView {
        x_min: -0.5,
        x_max: count as f64 - 0.5 + (count as f64 * 0.02).max(1.0),
        ..ChartView::latest(count)
    };
    let image =
        renderer.render_chart(&data, &view, size, &theme, &Annotations::default()).map_err(|e| e.to_string())?;
    image.to_png().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_licence_comes_from_the_model_card_then_the_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(model_licence(dir.path()), None);
        std::fs::write(dir.path().join("config.json"), r#"{"license": "mit"}"#).unwrap();
        assert_eq!(model_licence(dir.path()).as_deref(), Some("mit"));
        std::fs::write(dir.path().join("README.md"), "---\nlanguage: en\nlicense: \"apache-2.0\"\n---\n# Model\n")
            .unwrap();
        assert_eq!(model_licence(dir.path()).as_deref(), Some("apache-2.0"));
    }
}
