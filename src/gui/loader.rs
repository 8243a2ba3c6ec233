//! Background jobs for the GUI: loading a bar file or downloading Dukascopy data on a named worker thread with
//! progress and cancellation, and reading the library's dataset list.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
        mpsc::{Receiver, TryRecvError, sync_channel},
    },
};

use crate::{
    domain::Timeframe,
    ingest::{
        self, ExtraColumn, IngestError, LoadOptions, LoadedBars, Progress, SourceFormat,
        dukascopy::{self, Datafeed, FetchOptions, FetchRequest},
    },
    store::{DatasetId, DatasetRecord, Library},
};

/// What to load.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadSource {
    /// The embedded EUR/USD H1 sample.
    Sample,
    /// A file on disk.
    File(PathBuf),
    /// A Dukascopy download, written to a Parquet file and opened from there.
    Dukascopy(DownloadSpec),
}

/// A Dukascopy download for the loader.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadSpec {
    /// What to fetch.
    pub request: FetchRequest,
    /// Bars to build.
    pub timeframe: Timeframe,
    /// Datafeed base URL override.
    pub base_url: Option<String>,
    /// Cache of raw bi5 files.
    pub cache_dir: PathBuf,
    /// Where the Parquet file of the bars is written.
    pub output_dir: PathBuf,
}

impl DownloadSpec {
    /// The output file.
    pub fn output_path(&self) -> PathBuf {
        self.output_dir.join(format!("{}.parquet", self.request.file_stem(&self.timeframe.to_string())))
    }
}

/// Downloads (or reads from the cache) a Dukascopy range, writes the bars with their tick counts as Parquet and
/// returns them as loaded bars.
pub fn download(spec: &DownloadSpec, progress: &dyn Progress) -> Result<LoadedBars, IngestError> {
    let source: Arc<dyn dukascopy::Source> = Arc::new(Datafeed::from_config(spec.base_url.as_deref()));
    let options = FetchOptions::with_cache_dir(spec.cache_dir.clone());
    let fetched = dukascopy::fetch_bars(source, &spec.request, spec.timeframe, 0, &options, progress)?;
    tracing::info!("Dukascopy {}: {}", fetched.instrument.symbol, fetched.report.summary(0));
    for m in fetched.report.missing.iter().take(50) {
        tracing::warn!("missing {}: {} ({})", m.resource, m.reason, m.url);
    }
    let path = spec.output_path();
    if fetched.bars.is_empty() {
        return Err(IngestError::Format {
            path,
            message: "no data in the range (closed market, not yet published, or every file missing)".into(),
        });
    }
    std::fs::create_dir_all(&spec.output_dir)
        .map_err(|e| IngestError::Write { path: path.clone(), message: format!("cannot create the folder: {e}") })?;
    match &fetched.tick_counts {
        Some(counts) => ingest::write_table(&path, &fetched.bars, true, &[ExtraColumn::U64("tick_count", counts)])?,
        None => ingest::write_bars(&path, &fetched.bars)?,
    }
    let bytes = std::fs::read(&path).map_err(|source| IngestError::Read { path: path.clone(), source })?;
    Ok(LoadedBars {
        bars: fetched.bars,
        source: path,
        format: SourceFormat::Dukascopy,
        symbol: Some(fetched.instrument.symbol),
        timeframe: Some(spec.timeframe),
        findings: Vec::new(),
        dropped_rows: 0,
        checksum: blake3::hash(&bytes).to_hex().to_string(),
    })
}

impl LoadSource {
    /// Display name.
    pub fn label(&self) -> String {
        match self {
            Self::Sample => ingest::SAMPLE_NAME.to_string(),
            Self::File(p) => p.display().to_string(),
            Self::Dukascopy(spec) => format!(
                "Dukascopy {} {} {} {} … {}",
                spec.request.symbol,
                spec.timeframe,
                spec.request.side,
                crate::domain::format_ts_nanos(spec.request.from_nanos),
                crate::domain::format_ts_nanos(spec.request.to_nanos)
            ),
        }
    }
}

/// Progress shared between a job and the UI.
#[derive(Debug, Default)]
pub struct JobProgress {
    fraction_bits: AtomicU32,
    stage: Mutex<String>,
    cancel: AtomicBool,
    ctx: Mutex<Option<egui::Context>>,
}

impl JobProgress {
    /// Fraction done, 0–1.
    pub fn fraction(&self) -> f32 {
        f32::from_bits(self.fraction_bits.load(Ordering::Relaxed))
    }

    /// Current stage text.
    pub fn stage(&self) -> String {
        self.stage.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Progress that asks `ctx` to repaint on every report.
    pub fn with_context(ctx: egui::Context) -> Self {
        let progress = Self::default();
        if let Ok(mut slot) = progress.ctx.lock() {
            *slot = Some(ctx);
        }
        progress
    }

    /// Asks the job to stop.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Progress for JobProgress {
    fn report(&self, stage: &str, fraction: f32) {
        self.fraction_bits.store(fraction.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
        if let Ok(mut s) = self.stage.lock() {
            stage.clone_into(&mut s);
        }
        if let Ok(ctx) = self.ctx.lock()
            && let Some(ctx) = ctx.as_ref()
        {
            ctx.request_repaint();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The result of a load: the bars and, when the library accepted them, their dataset id.
pub type LoadResult = Result<(LoadedBars, Option<DatasetId>), IngestError>;

/// A load running on the `aio-loader` thread.
pub struct LoadJob {
    /// What is being loaded.
    pub source: LoadSource,
    /// Its progress.
    pub progress: Arc<JobProgress>,
    rx: Receiver<LoadResult>,
}

impl LoadJob {
    /// Starts loading `source`; registers the result in the library at `library_path` when given.
    pub fn spawn(
        source: LoadSource,
        library_path: Option<PathBuf>,
        ctx: Option<egui::Context>,
    ) -> std::io::Result<Self> {
        let progress = Arc::new(JobProgress::default());
        if let Ok(mut slot) = progress.ctx.lock() {
            *slot = ctx.clone();
        }
        let (tx, rx) = sync_channel(1);
        let job_progress = Arc::clone(&progress);
        let job_source = source.clone();
        std::thread::Builder::new().name("aio-loader".into()).spawn(move || {
            let result = match &job_source {
                LoadSource::Sample => ingest::load_sample(),
                LoadSource::File(path) => ingest::load_path(path, &LoadOptions::default(), job_progress.as_ref()),
                LoadSource::Dukascopy(spec) => download(spec, job_progress.as_ref()),
            };
            let result = result.map(|loaded| {
                let dataset_id = match (&job_source, library_path) {
                    (LoadSource::File(path), Some(lib)) => register(&lib, &loaded, path),
                    (LoadSource::Dukascopy(_), Some(lib)) => register(&lib, &loaded, &loaded.source),
                    _ => None,
                };
                (loaded, dataset_id)
            });
            // The receiver may be gone when the UI moved on; nothing to do then.
            let _ = tx.send(result);
            if let Ok(ctx) = job_progress.ctx.lock()
                && let Some(ctx) = ctx.as_ref()
            {
                ctx.request_repaint();
            }
        })?;
        Ok(Self { source, progress, rx })
    }

    /// The result, once the job has finished.
    pub fn poll(&self) -> Option<LoadResult> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(IngestError::Cancelled)),
        }
    }
}

fn register(library_path: &std::path::Path, loaded: &LoadedBars, source: &std::path::Path) -> Option<DatasetId> {
    let entry = crate::store::NewDataset::from_loaded(loaded, source);
    match Library::open(library_path).and_then(|mut lib| lib.add_dataset(&entry)) {
        Ok(id) => Some(id),
        Err(err) => {
            tracing::warn!("the dataset was loaded but not registered in the library: {err}");
            None
        }
    }
}

/// Reads the library's datasets on the `aio-library` thread.
pub struct LibraryQuery {
    rx: Receiver<Result<LibrarySnapshot, String>>,
}

/// What the Library panel shows: every dataset and every analysis, newest first.
#[derive(Debug, Clone, Default)]
pub struct LibrarySnapshot {
    /// Registered datasets.
    pub datasets: Vec<DatasetRecord>,
    /// Stored analyses.
    pub analyses: Vec<crate::store::AnalysisSummary>,
}

impl LibraryQuery {
    /// Starts the query.
    pub fn spawn(library_path: PathBuf, ctx: egui::Context) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new().name("aio-library".into()).spawn(move || {
            let result = Library::open(&library_path)
                .and_then(|lib| {
                    Ok(LibrarySnapshot { datasets: lib.datasets()?, analyses: lib.analysis_summaries("")? })
                })
                .map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx.request_repaint();
        })?;
        Ok(Self { rx })
    }

    /// The snapshot, once read.
    pub fn poll(&self) -> Option<Result<LibrarySnapshot, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("library query stopped".into())),
        }
    }
}
