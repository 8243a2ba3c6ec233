//! Analyses on background workers: named threads (`aio-analysis-N`) that take requests from one queue, share one
//! offscreen renderer (made on first use: one GPU device and one set of compiled pipelines, where a renderer per
//! worker would compile them eight times on lavapipe) and keep a library connection each, so that several
//! analyses run at once while the model engine serves their prompts one by one through its own channel. On Linux
//! the workers run at a lower scheduling priority (nice 10) so that the GUI thread gets the CPU first. Every
//! submitted analysis gets a [`AnalysisTicket`]: its events, its cancel flag and its result.

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
    /// The library rows, when stored.
    pub stored: Option<crate::store::AnalysisRunIds>,
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
        let renderer: SharedRenderer = Arc::new(Mutex::new(None));
        let mut handles = Vec::new();
        for w in 0..workers.max(1) {
            let (queue, orchestrator, renderer) = (queue.clone(), orchestrator.clone(), renderer.clone());
            let handle = std::thread::Builder::new()
                .name(format!("aio-analysis-{w}"))
                .spawn(move || worker(&queue, &orchestrator, &renderer))?;
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

/// The renderer the workers share: `None` until first needed, then the renderer or why there is none.
type SharedRenderer = Arc<Mutex<Option<Result<OffscreenRenderer, String>>>>;

/// A worker's long-lived resources.
#[derive(Default)]
struct WorkerState {
    library: Option<(PathBuf, Library)>,
}

/// Lowers the calling thread's scheduling priority (Linux: nice 10); elsewhere nothing.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority on this thread's id only changes its own nice value.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, u32::try_from(tid).unwrap_or(0), 10);
    }
}

fn worker(queue: &Mutex<Receiver<Job>>, orchestrator: &Orchestrator, renderer: &SharedRenderer) {
    lower_priority();
    let mut state = WorkerState::default();
    loop {
        let job = match queue.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let outcome = run_job(&job, orchestrator, renderer, &mut state);
        let _ = job.outcome.send(outcome);
    }
}

fn run_job(
    job: &Job,
    orchestrator: &Orchestrator,
    renderer: &SharedRenderer,
    state: &mut WorkerState,
) -> AnalysisOutcome {
    let send = |event: AnalysisEvent| {
        // A dropped receiver (the panel went away) is fine.
        let _ = job.events.send(event);
    };
    let draw = |request: &AnalysisRequest, shown: &Arc<crate::domain::Bars>, size: [u32; 2]| {
        let Ok(mut slot) = renderer.lock() else { return Err("the shared renderer is poisoned".to_string()) };
        match slot.get_or_insert_with(|| OffscreenRenderer::new().map_err(|e| format!("no offscreen renderer: {e}"))) {
            Ok(r) => super::render_png(r, shown, request, size),
            Err(e) => Err(e.clone()),
        }
    };
    let result = orchestrator.run_with(&job.request, &draw, &job.cancel, &send);
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
