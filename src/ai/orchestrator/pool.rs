//! Analyses on background workers: named threads (`aio-analysis-N`) that take requests from one queue, each
//! with its own offscreen renderer (made on first use) and library connection, so that several analyses run at
//! once while the model engine serves their prompts one by one through its own channel. Every submitted analysis
//! gets a [`AnalysisTicket`]: its events, its cancel flag and its result.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, Receiver, Sender},
    },
    thread::JoinHandle,
};

use super::{AnalysisError, AnalysisEvent, AnalysisRequest, AnalysisResult, Orchestrator};
use crate::{render::OffscreenRenderer, store::Library};

/// How a finished analysis ended.
#[derive(Debug)]
pub struct AnalysisOutcome {
    /// The result, or why there is none.
    pub result: Result<AnalysisResult, AnalysisError>,
    /// The library row, when stored.
    pub stored: Option<crate::store::AnalysisId>,
    /// Why storing failed, when it did (the result stands).
    pub store_error: Option<String>,
}

/// A submitted analysis.
pub struct AnalysisTicket {
    /// Sequence number (1, 2, …) within the pool.
    pub id: u64,
    /// Progress events, in order.
    pub events: Receiver<AnalysisEvent>,
    /// Set to cancel.
    pub cancel: Arc<AtomicBool>,
    /// The outcome, sent once.
    pub outcome: Receiver<AnalysisOutcome>,
}

impl AnalysisTicket {
    /// Asks the analysis to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the outcome (events stay in their channel).
    pub fn wait(self) -> AnalysisOutcome {
        self.outcome.recv().unwrap_or(AnalysisOutcome {
            result: Err(AnalysisError::Request("the analysis worker stopped".into())),
            stored: None,
            store_error: None,
        })
    }
}

struct Job {
    request: AnalysisRequest,
    events: Sender<AnalysisEvent>,
    cancel: Arc<AtomicBool>,
    outcome: Sender<AnalysisOutcome>,
}

/// Worker threads running analyses.
pub struct AnalysisPool {
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    next_id: AtomicU64,
    orchestrator: Arc<Orchestrator>,
}

impl AnalysisPool {
    /// Starts `workers` threads (at least one) over `orchestrator`.
    pub fn new(workers: usize, orchestrator: Arc<Orchestrator>) -> Result<Self, std::io::Error> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut handles = Vec::new();
        for w in 0..workers.max(1) {
            let (queue, orchestrator) = (queue.clone(), orchestrator.clone());
            let handle = std::thread::Builder::new()
                .name(format!("aio-analysis-{w}"))
                .spawn(move || worker(&queue, &orchestrator))?;
            handles.push(handle);
        }
        Ok(Self { jobs: Some(jobs), workers: handles, next_id: AtomicU64::new(1), orchestrator })
    }

    /// The orchestrator the workers run.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Queues `request`; the first free worker runs it.
    pub fn submit(&self, request: AnalysisRequest) -> AnalysisTicket {
        let (events_tx, events) = mpsc::channel();
        let (outcome_tx, outcome) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job { request, events: events_tx, cancel: cancel.clone(), outcome: outcome_tx };
        if let Some(jobs) = &self.jobs
            && let Err(mpsc::SendError(job)) = jobs.send(job)
        {
            let _ = job.outcome.send(AnalysisOutcome {
                result: Err(AnalysisError::Request("the analysis workers stopped".into())),
                stored: None,
                store_error: None,
            });
        }
        AnalysisTicket { id: self.next_id.fetch_add(1, Ordering::Relaxed), events, cancel, outcome }
    }
}

impl Drop for AnalysisPool {
    fn drop(&mut self) {
        // Closing the queue ends every worker after its current job.
        self.jobs = None;
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

/// A worker's long-lived resources.
#[derive(Default)]
struct WorkerState {
    renderer: Option<Result<OffscreenRenderer, String>>,
    library: Option<(PathBuf, Library)>,
}

fn worker(queue: &Mutex<Receiver<Job>>, orchestrator: &Orchestrator) {
    let mut state = WorkerState::default();
    loop {
        let job = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let outcome = run_job(&job, orchestrator, &mut state);
        let _ = job.outcome.send(outcome);
    }
}

fn run_job(job: &Job, orchestrator: &Orchestrator, state: &mut WorkerState) -> AnalysisOutcome {
    let wants_image = job.request.image_size.is_some();
    if wants_image && state.renderer.is_none() {
        state.renderer = Some(OffscreenRenderer::new().map_err(|e| format!("no offscreen renderer: {e}")));
    }
    let events = Mutex::new(job.events.clone());
    let send = |event: AnalysisEvent| {
        if let Ok(tx) = events.lock() {
            let _ = tx.send(event);
        }
    };
    let renderer = match state.renderer.as_mut() {
        Some(Ok(r)) if wants_image => Some(r),
        _ => None,
    };
    let mut result = orchestrator.run(&job.request, renderer, &job.cancel, &send);
    if let (Ok(r), Some(Some(Err(reason)))) = (&mut result, wants_image.then_some(state.renderer.as_ref())) {
        r.chart_note = Some(reason.clone());
    }
    let (mut stored, mut store_error) = (None, None);
    if let (Ok(r), Some(path)) = (&result, &orchestrator.library) {
        let library = match &mut state.library {
            Some((p, lib)) if p == path => Ok(lib),
            slot => Library::open(path).map(|lib| &mut slot.insert((path.clone(), lib)).1),
        };
        match library.and_then(|lib| super::store::store_result(lib, r, job.request.dataset_id)) {
            Ok(id) => stored = Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "the analysis could not be stored");
                store_error = Some(e.to_string());
            }
        }
    }
    AnalysisOutcome { result, stored, store_error }
}
