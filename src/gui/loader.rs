//! Background jobs for the GUI: loading a bar file on a named worker thread with progress and cancellation,
//! and reading the library's dataset list.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
        mpsc::{Receiver, TryRecvError, sync_channel},
    },
};

use crate::{
    ingest::{self, IngestError, LoadOptions, LoadedBars, Progress},
    store::{DatasetId, DatasetRecord, Library},
};

/// What to load.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadSource {
    /// The embedded EUR/USD H1 sample.
    Sample,
    /// A file on disk.
    File(PathBuf),
}

impl LoadSource {
    /// Display name.
    pub fn label(&self) -> String {
        match self {
            Self::Sample => ingest::SAMPLE_NAME.to_string(),
            Self::File(p) => p.display().to_string(),
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
            };
            let result = result.map(|loaded| {
                let dataset_id = match (&job_source, library_path) {
                    (LoadSource::File(path), Some(lib)) => register(&lib, &loaded, path),
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
    rx: Receiver<Result<Vec<DatasetRecord>, String>>,
}

impl LibraryQuery {
    /// Starts the query.
    pub fn spawn(library_path: PathBuf, ctx: egui::Context) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new().name("aio-library".into()).spawn(move || {
            let result = Library::open(&library_path).and_then(|lib| lib.datasets()).map_err(|e| e.to_string());
            let _ = tx.send(result);
            ctx.request_repaint();
        })?;
        Ok(Self { rx })
    }

    /// The datasets, once read.
    pub fn poll(&self) -> Option<Result<Vec<DatasetRecord>, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("library query stopped".into())),
        }
    }
}
