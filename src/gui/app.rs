//! The workstation application state and its frame loop.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        mpsc::{Receiver, TryRecvError, sync_channel},
    },
};

use serde::{Deserialize, Serialize};

use super::{
    LaunchOptions,
    dock::{self, Tab},
    loader::{DownloadSpec, JobProgress, LibraryQuery, LibrarySnapshot, LoadJob, LoadSource},
    log::LogBuffer,
    panels::{
        self,
        analysis::{AnalysisAction, AnalysisPanel, FinishedAnalysis, RunningAnalysis},
        backtest::{BacktestAction, BacktestJob, BacktestOutcome, BacktestPanel},
        chart::{ChartPanel, TradeMarker},
        download::{DownloadChoice, DownloadDialog},
        library::{LibraryAction, LibraryPanel},
        log::LogPanel,
        patterns::PatternsAction,
        pine::PinePanel,
    },
    studies::{Studies, StudyJob, StudySettings},
    theme,
};
use crate::{
    ai::orchestrator::{AnalysisError, AnalysisRequest, AnalystChain, Orchestrator, pool::AnalysisPool},
    domain::format_ts_nanos,
    indicators::IndicatorSpec,
    ingest::{IngestError, LoadedBars},
    store::Library,
};

/// Recent files remembered.
const MAX_RECENT: usize = 10;

/// What survives a restart.
#[derive(Serialize, Deserialize)]
#[serde(default)]
struct Persisted {
    tree: egui_tiles::Tree<Tab>,
    recent_files: Vec<PathBuf>,
    last_file: Option<PathBuf>,
    studies: StudySettings,
    download: DownloadDialog,
    backtest: BacktestPanel,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            tree: dock::default_tree(),
            recent_files: Vec::new(),
            last_file: None,
            studies: StudySettings::default(),
            download: DownloadDialog::default(),
            backtest: BacktestPanel::default(),
        }
    }
}

/// The drawings read from the library (JSON objects), or why not.
type DrawingsRead = Result<Vec<serde_json::Value>, String>;

/// The workstation.
pub struct WorkstationApp {
    persisted: Persisted,
    persist: bool,
    dataset: Option<Arc<LoadedBars>>,
    /// The data as loaded; `dataset` is this or a resampling of it (the chart's timeframe switcher).
    base_dataset: Option<Arc<LoadedBars>>,
    /// Resampling for the timeframe switcher on the `aio-resample` thread.
    resample_job: Option<Receiver<Result<LoadedBars, String>>>,
    job: Option<LoadJob>,
    studies: Option<Arc<Studies>>,
    study_job: Option<StudyJob>,
    file_dialog: Option<Receiver<Option<PathBuf>>>,
    library_path: Option<PathBuf>,
    library_query: Option<LibraryQuery>,
    library: LibrarySnapshot,
    library_panel: LibraryPanel,
    library_error: Option<String>,
    error_dialog: Option<String>,
    log: LogBuffer,
    chart: ChartPanel,
    log_panel: LogPanel,
    backtest_job: Option<BacktestJob>,
    pine_panel: PinePanel,
    launch: LaunchOptions,
    /// Frames painted since the data arrived (or since start with `--empty`).
    frames_since_ready: u32,
    first_frame_reported: bool,
    /// The drawings of the dataset on screen being read from the library: (checksum, result).
    drawings_read: Option<(String, Receiver<DrawingsRead>)>,
    /// The analysis workers (started with the first analysis, restarted when the model changes).
    analysis_pool: Option<AnalysisPool>,
    /// The analysts the next pool runs.
    analyst_chain: Option<AnalystChain>,
    /// The bars analyses read, shared by every analysis of the data on screen (copied once per dataset).
    analysis_bars: Option<(Arc<LoadedBars>, Arc<crate::domain::Bars>)>,
    analysis_panel: AnalysisPanel,
    /// Frame-time probe of `--bench-analyses`.
    frame_probe: FrameProbe,
}

/// Frame times while the `--bench-analyses` analyses run, and as many idle frames after them.
#[derive(Default)]
struct FrameProbe {
    started: bool,
    busy_ms: Vec<f64>,
    idle_ms: Vec<f64>,
    /// Intervals between the starts of consecutive frames while the analyses run (update, paint and waiting).
    busy_interval_ms: Vec<f64>,
    /// The same after them, with nothing running.
    idle_interval_ms: Vec<f64>,
    last_frame_start: Option<std::time::Instant>,
    analyses_started: Option<std::time::Instant>,
    analyses_secs: f64,
}

/// Analysis workers: enough for eight analyses at once (the model engine serves them one by one).
pub const ANALYSIS_WORKERS: usize = 8;

/// Events drained from running analyses per frame (the rest wait for the next frame).
const ANALYSIS_EVENTS_PER_FRAME: usize = 400;

impl WorkstationApp {
    /// Creates the app, restoring the persisted layout and starting the first load.
    pub fn new(cc: &eframe::CreationContext<'_>, launch: LaunchOptions, log: LogBuffer, persist: bool) -> Self {
        let mut persisted: Persisted = if persist {
            cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY)).unwrap_or_default()
        } else {
            Persisted::default()
        };
        if !dock::tree_is_complete(&persisted.tree) {
            persisted.tree = dock::default_tree();
        }
        if let Some(render_state) = cc.wgpu_render_state.as_ref() {
            crate::render::egui_bridge::install(render_state);
        }
        let library_path = match Library::resolve_path(launch.library.as_deref()) {
            Ok(p) => Some(p),
            Err(err) => {
                tracing::warn!("no library: {err}");
                None
            }
        };
        let mut app = Self {
            persisted,
            persist,
            dataset: None,
            base_dataset: None,
            resample_job: None,
            job: None,
            studies: None,
            study_job: None,
            file_dialog: None,
            library_path,
            library_query: None,
            library: LibrarySnapshot::default(),
            library_panel: LibraryPanel::default(),
            library_error: None,
            error_dialog: None,
            log,
            chart: ChartPanel::default(),
            log_panel: LogPanel::default(),
            backtest_job: None,
            pine_panel: PinePanel::default(),
            launch,
            frames_since_ready: 0,
            first_frame_reported: false,
            drawings_read: None,
            analysis_pool: None,
            analyst_chain: None,
            analysis_bars: None,
            analysis_panel: AnalysisPanel::default(),
            frame_probe: FrameProbe::default(),
        };
        app.analysis_panel.analysts = AnalystChain::rule_based().ids();
        if let Some(model) = panels::analysis::default_model()
            && let Err(err) = app.analysis_panel.load_model(model.display().to_string(), &cc.egui_ctx)
        {
            tracing::error!("cannot start the model loader: {err}");
        }
        let first = if app.launch.empty {
            None
        } else if let Some(file) = app.launch.file.clone() {
            Some(LoadSource::File(file))
        } else if app.launch.sample {
            Some(LoadSource::Sample)
        } else {
            match app.persisted.last_file.clone().filter(|p| p.is_file()) {
                Some(p) => Some(LoadSource::File(p)),
                None => Some(LoadSource::Sample),
            }
        };
        if let Some(source) = first {
            app.open(source, Some(cc.egui_ctx.clone()));
        }
        app.refresh_library(&cc.egui_ctx);
        app
    }

    /// Starts loading `source` in the background; the current data stays until the new data arrives.
    pub fn open(&mut self, source: LoadSource, ctx: Option<egui::Context>) {
        if let Some(job) = self.job.take() {
            job.progress.cancel();
        }
        tracing::info!("opening {}", source.label());
        let library = match &source {
            LoadSource::File(_) | LoadSource::Dukascopy(_) => self.library_path.clone(),
            LoadSource::Sample => None,
        };
        match LoadJob::spawn(source, library, ctx) {
            Ok(job) => self.job = Some(job),
            Err(err) => self.fail(format!("cannot start the loader thread: {err}")),
        }
    }

    /// The Download dialog's fields (open it with `open = true`).
    pub fn download_dialog_mut(&mut self) -> &mut DownloadDialog {
        &mut self.persisted.download
    }

    /// Starts a Dukascopy download on the loader thread; the bars open as a chart when it is done. The
    /// Parquet file goes into a `downloads` folder beside the library.
    pub fn start_download(&mut self, choice: DownloadChoice, ctx: &egui::Context) {
        let output_dir = match &self.library_path {
            Some(lib) => lib.parent().map(|p| p.join("downloads")).unwrap_or_else(|| PathBuf::from("downloads")),
            None => std::env::temp_dir().join("aio-downloads"),
        };
        let cache_dir = Some(self.persisted.download.cache_dir.trim())
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(crate::ingest::dukascopy::FetchOptions::default_cache_dir);
        let spec = DownloadSpec {
            request: choice.request,
            timeframe: choice.timeframe,
            base_url: choice.base_url,
            cache_dir,
            output_dir,
        };
        self.open(LoadSource::Dukascopy(spec), Some(ctx.clone()));
    }

    /// The chart panel (its view, drawings and last frame).
    pub fn chart(&self) -> &ChartPanel {
        &self.chart
    }

    /// The dataset on screen.
    pub fn dataset(&self) -> Option<&LoadedBars> {
        self.dataset.as_deref()
    }

    /// True while a file is being loaded.
    pub fn is_loading(&self) -> bool {
        self.job.is_some()
    }

    /// Progress of the running load, if any.
    pub fn load_progress(&self) -> Option<&JobProgress> {
        self.job.as_ref().map(|j| j.progress.as_ref())
    }

    /// Indicators and patterns of the loaded data, once computed.
    pub fn studies(&self) -> Option<&Studies> {
        self.studies.as_deref()
    }

    /// True while studies are being computed.
    pub fn is_computing_studies(&self) -> bool {
        self.study_job.is_some()
    }

    /// The indicator and pattern choices.
    pub fn study_settings(&self) -> &StudySettings {
        &self.persisted.studies
    }

    /// Changes the indicator and pattern choices and recomputes the studies.
    pub fn set_study_settings(&mut self, settings: StudySettings, ctx: &egui::Context) {
        self.persisted.studies = settings;
        self.start_studies(ctx);
    }

    /// (Re)starts the studies of the loaded data on the `aio-studies` thread, cancelling a running one.
    fn start_studies(&mut self, ctx: &egui::Context) {
        if let Some(job) = self.study_job.take() {
            job.progress.cancel();
        }
        let Some(data) = self.dataset.clone() else { return };
        match StudyJob::spawn(data, self.persisted.studies.active(), ctx.clone()) {
            Ok(job) => self.study_job = Some(job),
            Err(err) => self.fail(format!("cannot start the studies thread: {err}")),
        }
    }

    /// Backtests `spec` on the loaded data on the `aio-backtest` thread.
    pub fn start_backtest(&mut self, spec: crate::strategy::StrategySpec, ctx: &egui::Context) {
        let Some(data) = self.dataset.clone() else { return };
        tracing::info!("backtesting {} on {} bars", spec.name, data.bars.len());
        match BacktestJob::spawn(spec, data, self.library_path.clone(), ctx.clone()) {
            Ok(job) => self.backtest_job = Some(job),
            Err(err) => self.fail(format!("cannot start the backtest thread: {err}")),
        }
    }

    /// True while a backtest runs.
    pub fn is_backtesting(&self) -> bool {
        self.backtest_job.is_some()
    }

    /// The Backtest panel's state.
    pub fn backtest_panel(&self) -> &BacktestPanel {
        &self.persisted.backtest
    }

    /// The Backtest panel's state, mutable (tests edit the spec).
    pub fn backtest_panel_mut(&mut self) -> &mut BacktestPanel {
        &mut self.persisted.backtest
    }

    /// The Pine Script panel's state.
    pub fn pine_panel(&self) -> &PinePanel {
        &self.pine_panel
    }

    /// The Analysis panel's state.
    pub fn analysis_panel(&self) -> &AnalysisPanel {
        &self.analysis_panel
    }

    /// The Analysis panel's state, mutable (tests set the instruction).
    pub fn analysis_panel_mut(&mut self) -> &mut AnalysisPanel {
        &mut self.analysis_panel
    }

    /// True while an analysis runs.
    pub fn is_analyzing(&self) -> bool {
        self.analysis_panel.is_running()
    }

    /// Analyses the bars on screen on the analysis workers (started on first use).
    pub fn start_analysis(&mut self) {
        let Some(data) = self.dataset.clone() else { return };
        if self.analysis_pool.is_none() {
            let chain = self.analyst_chain.take().unwrap_or_else(AnalystChain::rule_based);
            let mut orchestrator = Orchestrator::new(chain);
            orchestrator.library = self.library_path.clone();
            match AnalysisPool::new(ANALYSIS_WORKERS, Arc::new(orchestrator)) {
                Ok(pool) => self.analysis_pool = Some(pool),
                Err(err) => return self.fail(format!("cannot start the analysis workers: {err}")),
            }
        }
        let Some(pool) = &self.analysis_pool else { return };
        let n = data.bars.len();
        let view = &self.chart.view;
        let start = (view.x_min.ceil().max(0.0) as usize).min(n.saturating_sub(1));
        let end = ((view.x_max.floor() + 1.0).max(0.0) as usize).clamp(start + 1, n);
        let symbol = data.symbol.clone().unwrap_or_else(|| "UNKNOWN".into());
        let bars = match &self.analysis_bars {
            Some((of, bars)) if Arc::ptr_eq(of, &data) => bars.clone(),
            _ => {
                let bars = Arc::new(data.bars.clone());
                self.analysis_bars = Some((data.clone(), bars.clone()));
                bars
            }
        };
        let mut request = AnalysisRequest::latest(bars, &symbol, data.timeframe, end - start);
        request.visible = start..end;
        request.instruction = self.analysis_panel.instruction.clone();
        request.price_digits = data.price_digits();
        tracing::info!("analysing {symbol} bars {start}..{end}");
        let ticket = pool.submit(request);
        self.analysis_panel.error = None;
        self.analysis_panel.running.push(RunningAnalysis {
            ticket,
            stage: None,
            text: String::new(),
            tokens: 0,
            fallbacks: Vec::new(),
            started: std::time::Instant::now(),
        });
    }

    /// Uses `chain` for the analyses started from now on (running ones finish on the old workers).
    fn use_chain(&mut self, chain: AnalystChain) {
        self.analysis_panel.analysts = chain.ids();
        self.analysis_panel.model = chain.model.clone();
        if let Some(old) = self.analysis_pool.take() {
            // Joining the old workers waits for their analyses: off the GUI thread.
            let _ = std::thread::Builder::new().name("aio-analysis-retire".into()).spawn(move || drop(old));
        }
        self.analyst_chain = Some(chain);
    }

    fn poll_analyses(&mut self, ctx: &egui::Context) {
        if let Some(load) = &self.analysis_panel.model_load
            && let Ok(chain) = load.rx.try_recv()
        {
            self.analysis_panel.model_load = None;
            tracing::info!("analysts: {}", chain.ids().join(" → "));
            self.use_chain(chain);
        }
        for outcome in self.analysis_panel.poll(ANALYSIS_EVENTS_PER_FRAME) {
            match outcome.result {
                Ok(result) => {
                    tracing::info!(
                        "analysis by {}: {} (confidence {:.2}) in {:.0} ms",
                        result.analyst,
                        result.output.strategy.name,
                        result.output.confidence,
                        result.total_secs * 1e3
                    );
                    let result = Arc::new(result);
                    self.show_analysis_strategy(&result, outcome.stored);
                    self.analysis_panel.last = Some(FinishedAnalysis {
                        result,
                        stored: outcome.stored,
                        store_error: outcome.store_error,
                        texture: None,
                    });
                    if outcome.stored.is_some() {
                        self.refresh_library(ctx);
                    }
                }
                Err(AnalysisError::Cancelled) => tracing::info!("analysis cancelled"),
                Err(e) => {
                    tracing::error!("analysis failed: {e}");
                    self.analysis_panel.error = Some(e.to_string());
                }
            }
        }
    }

    /// The library's analyses as last read.
    pub fn library_snapshot(&self) -> &LibrarySnapshot {
        &self.library
    }

    /// Restores a stored analysis: its strategy into the Backtest panel, its Pine Script into the Pine panel and,
    /// when the data on screen is its symbol's, the chart to the bars it read.
    pub fn restore_analysis(&mut self, id: crate::store::AnalysisId) {
        let Some(a) = self.library.analyses.iter().find(|a| a.id == id).cloned() else { return };
        match serde_json::from_value::<crate::strategy::StrategySpec>(a.report["strategy"].clone()) {
            Ok(spec) => {
                let panel = &mut self.persisted.backtest;
                panel.spec_text = spec.to_json_pretty();
                panel.spec_error = None;
                panel.editing = true;
                panel.outcome = None;
            }
            Err(e) => tracing::warn!("analysis #{}: its strategy does not read back: {e}", id.0),
        }
        if let Some(source) = &a.pine_source {
            let diagnostics = crate::pine::check(source);
            self.pine_panel.show_script(source.clone(), diagnostics);
        }
        let times: Vec<i64> = a.report["visible_time"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t.as_str()?).ok()?.timestamp_nanos_opt())
                    .collect()
            })
            .unwrap_or_default();
        match (&self.dataset, times.as_slice()) {
            (Some(d), [first, last]) if d.symbol.is_some() && d.symbol == a.symbol => {
                let ts = d.bars.ts_nanos();
                let (from, to) = (ts.partition_point(|&t| t < *first), ts.partition_point(|&t| t <= *last));
                if from < to {
                    self.chart.focus = Some((from, to - 1));
                }
                tracing::info!("analysis #{} restored (bars {from}..{to})", id.0);
            }
            _ => tracing::info!(
                "analysis #{} restored; open its {} data to see the bars it read",
                id.0,
                a.symbol.as_deref().unwrap_or("?")
            ),
        }
    }

    /// Puts an analysis's strategy into the Backtest panel (editable, with its in-sample run), its Pine Script
    /// into the Pine panel and its trades onto the chart.
    fn show_analysis_strategy(
        &mut self,
        result: &Arc<crate::ai::orchestrator::AnalysisResult>,
        stored: Option<crate::store::AnalysisRunIds>,
    ) {
        let report = result.in_sample.report.clone();
        self.chart.trades = trade_markers(&report);
        self.pine_panel.show_script(result.pine.clone(), result.pine_diagnostics.clone());
        let panel = &mut self.persisted.backtest;
        panel.spec_text = result.output.strategy.to_json_pretty();
        panel.spec_error = None;
        panel.run_error = None;
        panel.selected_trade = None;
        panel.editing = false;
        panel.outcome = Some(Arc::new(BacktestOutcome {
            spec: result.output.strategy.clone(),
            report,
            out_of_sample: result.out_of_sample.as_ref().map(|p| p.report.clone()),
            pine: result.pine.clone(),
            diagnostics: result.pine_diagnostics.clone(),
            stored: stored.map(|ids| ids.in_sample.0).ok_or_else(|| "not stored".to_string()),
        }));
    }

    fn poll_backtest(&mut self) {
        let Some(result) = self.backtest_job.as_ref().and_then(BacktestJob::poll) else { return };
        self.backtest_job = None;
        match result {
            Ok(outcome) => {
                let m = &outcome.report.metrics;
                tracing::info!(
                    "backtest {}: {} trades, net profit {:.2}, max drawdown {:.2} %, Sharpe {:.2}",
                    outcome.spec.name,
                    m.trades,
                    m.net_profit,
                    m.max_drawdown_pct,
                    m.sharpe
                );
                self.chart.trades = trade_markers(&outcome.report);
                self.pine_panel.show_script(outcome.pine.clone(), outcome.diagnostics.clone());
                let panel = &mut self.persisted.backtest;
                panel.outcome = Some(Arc::new(outcome));
                panel.run_error = None;
                panel.selected_trade = None;
            }
            Err(e) => {
                tracing::error!("backtest failed: {e}");
                self.persisted.backtest.run_error = Some(e);
            }
        }
    }

    /// The message of the error dialog, if one is open.
    pub fn error_message(&self) -> Option<&str> {
        self.error_dialog.as_deref()
    }

    fn fail(&mut self, message: String) {
        tracing::error!("{message}");
        self.error_dialog = Some(message);
    }

    fn refresh_library(&mut self, ctx: &egui::Context) {
        if let Some(path) = self.library_path.clone() {
            match LibraryQuery::spawn(path, ctx.clone()) {
                Ok(q) => self.library_query = Some(q),
                Err(err) => self.library_error = Some(err.to_string()),
            }
        }
    }

    /// Reads the drawings saved with the data of `checksum` on the `aio-drawings` thread.
    fn read_drawings(&mut self, checksum: &str, ctx: &egui::Context) {
        let Some(path) = self.library_path.clone() else { return };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (key, ctx) = (checksum.to_owned(), ctx.clone());
        let spawned = std::thread::Builder::new().name("aio-drawings".into()).spawn(move || {
            let result = Library::open(&path).and_then(|lib| lib.drawings(&key)).map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.drawings_read = Some((checksum.to_owned(), rx)),
            Err(err) => tracing::warn!("drawings not read: {err}"),
        }
    }

    /// Saves the chart's drawings with the dataset on the `aio-drawings` thread once a change is finished.
    fn save_drawings(&mut self) {
        if !self.chart.drawings_changed || self.chart.is_dragging() || self.drawings_read.is_some() {
            return;
        }
        self.chart.drawings_changed = false;
        let (Some(path), Some(dataset)) = (self.library_path.clone(), self.dataset.as_ref()) else { return };
        let checksum = dataset.checksum.clone();
        let drawings: Vec<serde_json::Value> =
            self.chart.drawings.iter().filter_map(|d| serde_json::to_value(d).ok()).collect();
        let spawned = std::thread::Builder::new().name("aio-drawings".into()).spawn(move || {
            // A library kept busy by other writers for longer than the busy timeout is tried again a few times:
            // the drawing must not be lost to a moment of contention.
            for attempt in 1..=5 {
                match Library::open(&path).and_then(|mut lib| lib.replace_drawings(&checksum, &drawings)) {
                    Ok(()) => return,
                    Err(err) if attempt == 5 => tracing::error!("drawings not saved: {err}"),
                    Err(err) => {
                        tracing::warn!("drawings not saved yet (attempt {attempt}): {err}");
                        std::thread::sleep(std::time::Duration::from_millis(200 * attempt));
                    }
                }
            }
        });
        if let Err(err) = spawned {
            tracing::error!("drawings not saved: {err}");
        }
    }

    fn poll_drawings(&mut self) {
        let Some((checksum, rx)) = &self.drawings_read else { return };
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(std::sync::mpsc::TryRecvError::Empty) => return,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Err("the reader stopped".into()),
        };
        let current = self.dataset.as_ref().is_some_and(|d| &d.checksum == checksum);
        match result {
            Ok(values) if current => {
                self.chart.drawings = values
                    .into_iter()
                    .filter_map(|v| match serde_json::from_value(v) {
                        Ok(d) => Some(d),
                        Err(err) => {
                            tracing::warn!("a saved drawing was skipped: {err}");
                            None
                        }
                    })
                    .collect();
                self.chart.drawings_changed = false;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("drawings not read: {err}"),
        }
        self.drawings_read = None;
    }

    /// Shows the loaded data at `timeframe` (`None`: as loaded), resampled on the `aio-resample` thread.
    pub fn set_timeframe(&mut self, timeframe: Option<crate::domain::Timeframe>, ctx: &egui::Context) {
        let Some(base) = self.base_dataset.clone() else { return };
        let Some(target) = timeframe.filter(|t| Some(*t) != base.timeframe) else {
            self.resample_job = None;
            self.show_resampled(base, ctx);
            return;
        };
        let (tx, rx) = sync_channel(1);
        let ctx2 = ctx.clone();
        let spawned = std::thread::Builder::new().name("aio-resample".into()).spawn(move || {
            let result = crate::ingest::resample(&base.bars, base.timeframe, target, 0)
                .map(|bars| LoadedBars { bars, timeframe: Some(target), findings: Vec::new(), ..(*base).clone() })
                .map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx2.request_repaint();
        });
        match spawned {
            Ok(_) => self.resample_job = Some(rx),
            Err(err) => self.fail(format!("cannot start the resampling thread: {err}")),
        }
    }

    /// True while the timeframe switcher resamples.
    pub fn is_resampling(&self) -> bool {
        self.resample_job.is_some()
    }

    /// Puts resampled (or the original) bars on screen, keeping the time in the middle of the view.
    fn show_resampled(&mut self, data: Arc<LoadedBars>, ctx: &egui::Context) {
        let centre_nanos = self.dataset.as_ref().map(|d| {
            let view = self.chart.view;
            crate::render::drawings::time_at(d.bars.ts_nanos(), 0.5 * (view.x_min + view.x_max))
        });
        let n = data.bars.len();
        if let Some(t) = centre_nanos {
            let centre = crate::render::drawings::bar_position(data.bars.ts_nanos(), t);
            let half = 0.5 * self.chart.view.span_bars();
            self.chart.view.x_min = centre - half;
            self.chart.view.x_max = centre + half;
            self.chart.view.clamp(n);
        }
        self.chart.keep_view = true;
        // Trade markers are bar indices of the other timeframe.
        self.chart.trades.clear();
        self.dataset = Some(data);
        self.start_studies(ctx);
    }

    fn poll_resample(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.resample_job else { return };
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the resampling thread stopped".into()),
        };
        self.resample_job = None;
        match result {
            Ok(data) => {
                tracing::info!(
                    "showing {} bars at {}",
                    data.bars.len(),
                    data.timeframe.map(|t| t.to_string()).unwrap_or_default()
                );
                self.show_resampled(Arc::new(data), ctx);
            }
            Err(err) => self.fail(format!("resampling failed: {err}")),
        }
    }

    fn poll_jobs(&mut self, ctx: &egui::Context) {
        self.poll_backtest();
        self.poll_analyses(ctx);
        self.poll_resample(ctx);
        if let Some(request) = self.chart.timeframe_request.take() {
            self.set_timeframe(request, ctx);
        }
        self.poll_drawings();
        self.save_drawings();
        if let Some(result) = self.job.as_ref().and_then(LoadJob::poll) {
            let source = self.job.take().map(|j| j.source);
            match result {
                Ok((loaded, dataset_id)) => {
                    let (first, last) = loaded.bars.time_range_nanos().unwrap_or((0, 0));
                    tracing::info!(
                        "loaded {} bars ({}, {} {}) {} … {}",
                        loaded.bars.len(),
                        loaded.format,
                        loaded.symbol.as_deref().unwrap_or("?"),
                        loaded.timeframe.map(|t| t.to_string()).unwrap_or_default(),
                        format_ts_nanos(first),
                        format_ts_nanos(last)
                    );
                    for f in loaded.findings.iter().take(50) {
                        if f.is_error() {
                            tracing::error!("{}: {f} (row dropped)", loaded.source.display());
                        } else {
                            tracing::warn!("{}: {f}", loaded.source.display());
                        }
                    }
                    match &source {
                        Some(LoadSource::File(path)) => self.remember(path.clone()),
                        Some(LoadSource::Dukascopy(_)) => self.remember(loaded.source.clone()),
                        _ => {}
                    }
                    if dataset_id.is_some() {
                        self.refresh_library(ctx);
                    }
                    self.chart.drawings.clear();
                    self.chart.selected = None;
                    self.read_drawings(&loaded.checksum, ctx);
                    let loaded = Arc::new(loaded);
                    self.base_dataset = Some(Arc::clone(&loaded));
                    self.resample_job = None;
                    self.chart.base_timeframe = loaded.timeframe;
                    self.dataset = Some(loaded);
                    self.chart.reset_view = true;
                    self.frames_since_ready = 0;
                    self.start_studies(ctx);
                }
                Err(IngestError::Cancelled) => tracing::info!("loading cancelled"),
                Err(IngestError::Invalid { path, findings }) => {
                    for f in findings.iter().take(50) {
                        tracing::warn!("{}: {f}", path.display());
                    }
                    self.fail(
                        IngestError::Invalid { path, findings }.to_string()
                            + "\nThe previous data is kept. Run `aio import --force` to drop bad rows.",
                    );
                }
                Err(err) => self.fail(format!("{err}\nThe previous data is kept.")),
            }
        }
        if let Some(result) = self.study_job.as_ref().and_then(StudyJob::poll) {
            self.study_job = None;
            match result {
                Some(Ok(studies)) => {
                    tracing::info!(
                        "studies: {} indicator(s), {} candlestick signal(s), {} chart pattern(s), {} mined pattern(s)",
                        studies.indicators.len(),
                        studies.markers.len(),
                        studies.chart.as_ref().map_or(0, |c| c.patterns.len()),
                        studies.mining.as_ref().map_or(0, |m| m.stats.len())
                    );
                    self.studies = Some(Arc::new(studies));
                }
                Some(Err(err)) => tracing::error!("studies failed: {err}"),
                None => tracing::debug!("studies cancelled"),
            }
        }
        if let Some(result) = self.library_query.as_ref().and_then(LibraryQuery::poll) {
            self.library_query = None;
            match result {
                Ok(snapshot) => {
                    self.library = snapshot;
                    self.library_error = None;
                }
                Err(err) => self.library_error = Some(err),
            }
        }
        if let Some(rx) = &self.file_dialog {
            match rx.try_recv() {
                Ok(picked) => {
                    self.file_dialog = None;
                    if let Some(path) = picked {
                        self.open(LoadSource::File(path), Some(ctx.clone()));
                    }
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.file_dialog = None,
            }
        }
    }

    fn remember(&mut self, path: PathBuf) {
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        self.persisted.recent_files.retain(|p| p != &path);
        self.persisted.recent_files.insert(0, path.clone());
        self.persisted.recent_files.truncate(MAX_RECENT);
        self.persisted.last_file = Some(path);
    }

    /// Opens the system file dialog on the `aio-file-dialog` thread so the UI keeps drawing.
    fn show_open_dialog(&mut self, ctx: &egui::Context) {
        if self.file_dialog.is_some() {
            return;
        }
        let (tx, rx) = sync_channel(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("aio-file-dialog".into()).spawn(move || {
            let picked = rfd::FileDialog::new()
                .set_title("Open bars")
                .add_filter("Bar files", &["csv", "txt", "parquet", "pq"])
                .add_filter("All files", &["*"])
                .pick_file();
            let _ = tx.send(picked);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.file_dialog = Some(rx),
            Err(err) => self.fail(format!("cannot open the file dialog: {err}")),
        }
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open…").clicked() {
                    self.show_open_dialog(ui.ctx());
                }
                ui.menu_button("Open Recent", |ui| {
                    if self.persisted.recent_files.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in self.persisted.recent_files.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.open(LoadSource::File(path), Some(ui.ctx().clone()));
                        }
                    }
                });
                if ui.button("Open Sample").clicked() {
                    self.open(LoadSource::Sample, Some(ui.ctx().clone()));
                }
                if ui.button("Download from Dukascopy…").clicked() {
                    self.persisted.download.open = true;
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Indicators", |ui| {
                let before = self.persisted.studies.clone();
                indicators_menu_ui(ui, &mut self.persisted.studies);
                if self.persisted.studies != before {
                    self.start_studies(ui.ctx());
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Reset layout").clicked() {
                    self.persisted.tree = dock::default_tree();
                    tracing::info!("layout reset");
                }
            });
            ui.separator();
            let analyze = ui
                .add_enabled(self.dataset.is_some(), egui::Button::new("Analyze"))
                .on_hover_text("Read the visible chart and propose a backtested strategy (Ctrl+Enter)");
            if analyze.clicked() {
                self.start_analysis();
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.job {
                // Fixed-size controls first, so the Cancel button stays put while the stage text changes.
                ui.spinner();
                if ui.button("Cancel").clicked() {
                    job.progress.cancel();
                }
                ui.add(egui::ProgressBar::new(job.progress.fraction()).desired_width(200.0).show_percentage());
                ui.label(format!("Loading {} — {}", job.source.label(), job.progress.stage()));
            } else if let Some(job) = &self.study_job {
                ui.spinner();
                if ui.button("Cancel").clicked() {
                    job.progress.cancel();
                }
                ui.add(egui::ProgressBar::new(job.progress.fraction()).desired_width(200.0).show_percentage());
                ui.label(format!("Studies: {}", job.progress.stage()));
            } else if let Some(d) = &self.dataset {
                ui.label(format!(
                    "{} · {} {} · {} bars",
                    d.source.display(),
                    d.symbol.as_deref().unwrap_or("?"),
                    d.timeframe.map(|t| t.to_string()).unwrap_or_default(),
                    d.bars.len()
                ));
            } else {
                ui.label("No data");
            }
        });
    }

    /// `--bench-analyses N`: starts N analyses once the chart is up, records how long each frame's update took
    /// while they run and for as many frames after, then prints both and closes.
    fn probe_frame(&mut self, ctx: &egui::Context, frame_ms: f64, interval_ms: Option<f64>) {
        let probe = &mut self.frame_probe;
        if !probe.started {
            if self.dataset.is_some() && self.frames_since_ready >= 3 {
                probe.started = true;
                probe.analyses_started = Some(std::time::Instant::now());
                for _ in 0..self.launch.bench_analyses {
                    self.start_analysis();
                }
            }
            ctx.request_repaint();
            return;
        }
        if self.analysis_panel.is_running() {
            probe.busy_ms.push(frame_ms);
            probe.busy_interval_ms.extend(interval_ms);
        } else if probe.idle_ms.len() < probe.busy_ms.len().max(30) {
            if probe.idle_ms.is_empty() {
                probe.analyses_secs = probe.analyses_started.map_or(0.0, |t| t.elapsed().as_secs_f64());
            }
            probe.idle_ms.push(frame_ms);
            probe.idle_interval_ms.extend(interval_ms);
        } else {
            let stats = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                (v.len(), v.last().copied().unwrap_or(0.0), v.get(v.len() / 2).copied().unwrap_or(0.0))
            };
            let (busy_frames, busy_worst, busy_median) = stats(&mut probe.busy_ms);
            let (idle_frames, idle_worst, idle_median) = stats(&mut probe.idle_ms);
            let (_, interval_worst, interval_median) = stats(&mut probe.busy_interval_ms);
            let (_, idle_interval_worst, idle_interval_median) = stats(&mut probe.idle_interval_ms);
            println!(
                "analyses={} analyses_ms={:.1} busy_frames={busy_frames} busy_worst_ms={busy_worst:.2} \
                 busy_median_ms={busy_median:.2} idle_frames={idle_frames} idle_worst_ms={idle_worst:.2} \
                 idle_median_ms={idle_median:.2} busy_interval_worst_ms={interval_worst:.2} \
                 busy_interval_median_ms={interval_median:.2} idle_interval_worst_ms={idle_interval_worst:.2} \
                 idle_interval_median_ms={idle_interval_median:.2}",
                self.launch.bench_analyses,
                probe.analyses_secs * 1e3
            );
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            self.launch.bench_analyses = 0;
        }
        ctx.request_repaint();
    }

    /// Ctrl+Enter analyses the visible chart; Ctrl+Shift+C copies the Pine Script; Ctrl+1 … Ctrl+4 bring the
    /// Chart, Analysis, Backtest and Pine Script panels to the front.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let analyze = KeyboardShortcut::new(Modifiers::COMMAND, Key::Enter);
        let copy_pine = KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::C);
        if ctx.input_mut(|i| i.consume_shortcut(&analyze)) && self.dataset.is_some() {
            self.start_analysis();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&copy_pine)) && !self.pine_panel.source.is_empty() {
            ctx.copy_text(self.pine_panel.source.clone());
            self.pine_panel.status = Some("copied (Ctrl+Shift+C)".into());
        }
        for (key, tab) in [
            (Key::Num1, Tab::Chart),
            (Key::Num2, Tab::Analysis),
            (Key::Num3, Tab::Backtest),
            (Key::Num4, Tab::PineScript),
        ] {
            if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, key))) {
                dock::focus(&mut self.persisted.tree, tab);
            }
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).filter(|p| !p.as_os_str().is_empty()).collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.open(LoadSource::File(path), Some(ctx.clone()));
        }
        if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
            let painter =
                ctx.layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("drop_overlay")));
            let rect = ctx.content_rect();
            painter.rect_filled(rect, 0.0, theme::DROP_OVERLAY);
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Drop a CSV or Parquet file to open it",
                egui::FontId::proportional(24.0),
                egui::Color32::WHITE,
            );
        }
    }

    fn error_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(message) = self.error_dialog.clone() else { return };
        let response = egui::Modal::new(egui::Id::unique("error_dialog")).show(ctx, |ui| {
            ui.set_max_width(560.0);
            ui.heading("Cannot open the file");
            ui.label(&message);
            ui.add_space(8.0);
            ui.button("OK").clicked()
        });
        if response.inner || response.should_close() {
            self.error_dialog = None;
        }
    }
}

/// Dispatches dock tabs to their panels.
struct Behavior<'a> {
    app: &'a mut WorkstationApp,
    library_actions: Vec<LibraryAction>,
    pattern_actions: Vec<PatternsAction>,
    backtest_actions: Vec<BacktestAction>,
    analysis_actions: Vec<AnalysisAction>,
}

impl egui_tiles::Behavior<Tab> for Behavior<'_> {
    fn tab_title_for_pane(&mut self, pane: &Tab) -> egui::WidgetText {
        pane.title().into()
    }

    fn pane_ui(&mut self, ui: &mut egui::Ui, _tile_id: egui_tiles::TileId, pane: &mut Tab) -> egui_tiles::UiResponse {
        egui::Frame::central_panel(ui.style()).show(ui, |ui| {
            let dataset = self.app.dataset.clone();
            match pane {
                Tab::Chart => {
                    let studies = self.app.studies.clone();
                    self.app.chart.ui(ui, dataset.as_ref(), studies.as_ref(), &self.app.persisted.studies);
                }
                Tab::Patterns => panels::patterns::ui(
                    ui,
                    self.app.studies.as_deref(),
                    self.app.study_job.as_ref().map(|j| j.progress.as_ref()),
                    &mut self.pattern_actions,
                ),
                Tab::Data => panels::data::ui(ui, dataset.as_deref()),
                Tab::Library => self.app.library_panel.ui(
                    ui,
                    self.app.library_path.as_deref(),
                    &self.app.library,
                    self.app.library_error.as_deref(),
                    &mut self.library_actions,
                ),
                Tab::Log => self.app.log_panel.ui(ui, &self.app.log),
                Tab::Backtest => {
                    let running = self.app.backtest_job.is_some();
                    self.app.persisted.backtest.ui(ui, running, dataset.is_some(), &mut self.backtest_actions);
                }
                Tab::PineScript => {
                    let spec_text = self.app.persisted.backtest.spec_text_mut().clone();
                    self.app.pine_panel.ui(ui, &spec_text);
                }
                Tab::Analysis => {
                    self.app.analysis_panel.ui(ui, dataset.is_some(), &mut self.analysis_actions);
                }
                Tab::Model => self.app.analysis_panel.model_ui(ui, &mut self.analysis_actions),
            }
        });
        egui_tiles::UiResponse::None
    }

    fn simplification_options(&self) -> egui_tiles::SimplificationOptions {
        egui_tiles::SimplificationOptions { all_panes_must_have_tabs: true, ..Default::default() }
    }
}

impl eframe::App for WorkstationApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let frame_started = std::time::Instant::now();
        let ctx = ui.ctx().clone();
        self.poll_jobs(&ctx);
        self.handle_dropped_files(&ctx);
        self.shortcuts(&ctx);

        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_ui(ui));
        let mut tree = std::mem::replace(&mut self.persisted.tree, dock::default_tree());
        let mut behavior = Behavior {
            app: self,
            library_actions: Vec::new(),
            pattern_actions: Vec::new(),
            backtest_actions: Vec::new(),
            analysis_actions: Vec::new(),
        };
        egui::CentralPanel::default().show(ui, |ui| tree.ui(&mut behavior, ui));
        let actions = std::mem::take(&mut behavior.library_actions);
        let pattern_actions = std::mem::take(&mut behavior.pattern_actions);
        let backtest_actions = std::mem::take(&mut behavior.backtest_actions);
        let analysis_actions = std::mem::take(&mut behavior.analysis_actions);
        self.persisted.tree = tree;
        for action in actions {
            match action {
                LibraryAction::Refresh => self.refresh_library(&ctx),
                LibraryAction::Open(path) => self.open(LoadSource::File(path), Some(ctx.clone())),
                LibraryAction::OpenAnalysis(id) => self.restore_analysis(id),
            }
        }
        for action in pattern_actions {
            match action {
                PatternsAction::Focus(from, to) => self.chart.focus = Some((from, to)),
            }
        }
        for action in backtest_actions {
            match action {
                BacktestAction::Run(spec) => self.start_backtest(*spec, &ctx),
                BacktestAction::Focus(from, to) => self.chart.focus = Some((from, to)),
            }
        }
        for action in analysis_actions {
            match action {
                AnalysisAction::Analyze => self.start_analysis(),
                AnalysisAction::Cancel => self.analysis_panel.running.iter().for_each(|r| r.ticket.cancel()),
                AnalysisAction::LoadModel(name) => {
                    if let Err(err) = self.analysis_panel.load_model(name, &ctx) {
                        self.fail(format!("cannot start the model loader: {err}"));
                    }
                }
                AnalysisAction::UnloadModel => self.use_chain(AnalystChain::rule_based()),
                AnalysisAction::Focus(from, to) => self.chart.focus = Some((from, to)),
            }
        }
        if let Some(choice) = self.persisted.download.ui(&ctx, self.job.is_some()) {
            self.start_download(choice, &ctx);
        }
        self.error_dialog_ui(&ctx);

        if self.job.is_some()
            || self.study_job.is_some()
            || self.backtest_job.is_some()
            || self.analysis_panel.is_running()
            || self.analysis_panel.model_load.is_some()
        {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
        // Ready once the data is there, or at once with `--empty`.
        let ready = self.launch.empty || self.dataset.is_some();
        if self.launch.exit_after_first_frame && !self.first_frame_reported {
            // Both runs report once their first ready frame has been painted.
            if ready && self.frames_since_ready >= 1 {
                self.first_frame_reported = true;
                println!("first_frame_ms={:.1}", self.launch.started.elapsed().as_secs_f64() * 1e3);
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                ctx.request_repaint();
            }
        }
        if ready {
            self.frames_since_ready = self.frames_since_ready.saturating_add(1);
        }
        if self.launch.bench_analyses > 0 {
            let interval_ms = self.frame_probe.last_frame_start.map(|t| (frame_started - t).as_secs_f64() * 1e3);
            self.frame_probe.last_frame_start = Some(frame_started);
            self.probe_frame(&ctx, frame_started.elapsed().as_secs_f64() * 1e3, interval_ms);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
        }
    }
}

/// Chart markers of a backtest's trades.
fn trade_markers(report: &crate::backtest::BacktestReport) -> Vec<TradeMarker> {
    report
        .trades
        .iter()
        .map(|t| TradeMarker {
            entry_bar: t.entry_bar,
            exit_bar: t.exit_bar,
            entry_price: t.entry_price,
            exit_price: t.exit_price,
            long: t.side == crate::backtest::Side::Long,
            profit: t.pnl >= 0.0,
        })
        .collect()
}

/// The Indicators menu: each indicator with an on/off box and its parameters, and the pattern layers.
fn indicators_menu_ui(ui: &mut egui::Ui, settings: &mut StudySettings) {
    ui.set_min_width(320.0);
    egui::Grid::new("indicator_menu").num_columns(2).show(ui, |ui| {
        for item in &mut settings.indicators {
            let name = match item.spec {
                IndicatorSpec::Sma { .. } => "SMA",
                IndicatorSpec::Ema { .. } => "EMA",
                IndicatorSpec::Wma { .. } => "WMA",
                IndicatorSpec::Rsi { .. } => "RSI",
                IndicatorSpec::Macd { .. } => "MACD",
                IndicatorSpec::Bb { .. } => "Bollinger Bands",
                IndicatorSpec::Stoch { .. } => "Stochastic",
                IndicatorSpec::Atr { .. } => "ATR",
                IndicatorSpec::Adx { .. } => "ADX / DI",
                IndicatorSpec::Time => "Sessions",
            };
            ui.checkbox(&mut item.enabled, name);
            ui.horizontal(|ui| {
                let period = |ui: &mut egui::Ui, v: &mut usize, label: &str| {
                    ui.add(egui::DragValue::new(v).range(1..=5000).prefix(label));
                };
                match &mut item.spec {
                    IndicatorSpec::Sma { period: p }
                    | IndicatorSpec::Ema { period: p }
                    | IndicatorSpec::Wma { period: p }
                    | IndicatorSpec::Rsi { period: p }
                    | IndicatorSpec::Atr { period: p }
                    | IndicatorSpec::Adx { period: p } => period(ui, p, "length "),
                    IndicatorSpec::Macd { fast, slow, signal } => {
                        period(ui, fast, "fast ");
                        period(ui, slow, "slow ");
                        period(ui, signal, "signal ");
                    }
                    IndicatorSpec::Bb { period: p, deviations } => {
                        period(ui, p, "length ");
                        ui.add(egui::DragValue::new(deviations).range(0.1..=10.0).speed(0.1).prefix("dev "));
                    }
                    IndicatorSpec::Stoch { fast_k, slow_k, slow_d } => {
                        period(ui, fast_k, "%K ");
                        period(ui, slow_k, "slow ");
                        period(ui, slow_d, "%D ");
                    }
                    IndicatorSpec::Time => {}
                }
                if let Err(err) = item.spec.validate() {
                    ui.colored_label(theme::ERROR, "!").on_hover_text(err.to_string());
                }
            });
            ui.end_row();
        }
    });
    ui.separator();
    ui.checkbox(&mut settings.candle_markers, "Candlestick pattern markers");
    ui.checkbox(&mut settings.chart_patterns, "Chart patterns");
    if ui.button("Reset indicators").clicked() {
        *settings = StudySettings::default();
    }
}
