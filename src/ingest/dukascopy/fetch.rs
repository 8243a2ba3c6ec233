//! The downloader and the jobs built on it: bounded parallel requests on a tokio runtime, a token-bucket rate
//! limit, exponential back-off with jitter, a cache of raw files written through temporary files, then parallel
//! decoding into ticks or bars.
//!
//! Every downloaded file is decoded before it is cached, so a truncated or corrupt response is retried and never
//! stored; a file of an hour that has not ended yet is used but not cached. An interrupted run leaves only whole
//! files behind, so the next run resumes where it stopped.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{DAY_NANOS, Decoded, DukascopyError, HOUR_NANOS, PriceSide, Resource, Source};
use crate::{
    domain::{AssetClass, Bars, Instrument, InstrumentRegistry, Ticks, Timeframe},
    ingest::{
        Progress,
        aggregate::{TickBars, resample},
    },
};

/// Which files a job downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DataKind {
    /// Hourly tick files (24 a day); bars of any timeframe from S1 up, with tick counts.
    #[default]
    Ticks,
    /// Daily minute-candle files (one a day and side); bars of M1 and up, 24× fewer requests.
    MinuteCandles,
}

/// What to download.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    /// Instrument symbol (any case; `EURUSD`).
    pub symbol: String,
    /// First instant wanted, UTC nanoseconds (rounded down to the file's period).
    pub from_nanos: i64,
    /// End of the range, exclusive.
    pub to_nanos: i64,
    /// Tick or minute-candle files.
    pub kind: DataKind,
    /// Quote side; for minute candles `Mid` downloads both the bid and the ask files.
    pub side: PriceSide,
}

impl FetchRequest {
    /// A file name stem for the result: `EURUSD_M1_bid_20240115_20240119` (`tf` is a timeframe or `ticks`).
    pub fn file_stem(&self, tf: &str) -> String {
        let day = |nanos: i64| chrono::DateTime::from_timestamp_nanos(nanos).format("%Y%m%d").to_string();
        format!("{}_{tf}_{}_{}_{}", self.symbol, self.side, day(self.from_nanos), day(self.to_nanos - 1))
    }
}

/// How to download.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Directory of cached raw files (one sub-directory per source).
    pub cache_dir: PathBuf,
    /// Requests in flight at most, and threads that decode.
    pub jobs: usize,
    /// Token-bucket refill rate; 0 means unlimited.
    pub requests_per_sec: f64,
    /// Retries after the first attempt for timeouts, 429, 5xx and damaged responses.
    pub max_retries: u32,
    /// Limit for one request, connection to last byte.
    pub timeout: Duration,
    /// First back-off delay; doubles with each retry, with jitter.
    pub backoff_base: Duration,
    /// Back-off ceiling (also caps a server's `Retry-After`).
    pub backoff_max: Duration,
    /// Use cached files only; anything not cached is reported missing.
    pub offline: bool,
    /// The present, UTC nanoseconds (files of later hours are not requested, of the current one not cached);
    /// `None` reads the clock.
    pub now_nanos: Option<i64>,
}

impl FetchOptions {
    /// The default cache directory: the platform cache dir's `aio/dukascopy` (`~/.cache/aio/dukascopy`).
    pub fn default_cache_dir() -> PathBuf {
        directories::ProjectDirs::from("", "", "aio")
            .map(|d| d.cache_dir().join("dukascopy"))
            .unwrap_or_else(|| std::env::temp_dir().join("aio-dukascopy-cache"))
    }

    /// Default options with the given cache directory.
    pub fn with_cache_dir(cache_dir: PathBuf) -> Self {
        Self { cache_dir, ..Self::default() }
    }
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            cache_dir: Self::default_cache_dir(),
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(4),
            requests_per_sec: 20.0,
            max_retries: 5,
            timeout: Duration::from_secs(30),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(16),
            offline: false,
            now_nanos: None,
        }
    }
}

/// A file that could not be had.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingFile {
    /// Which file.
    pub resource: Resource,
    /// Where it was requested.
    pub url: String,
    /// The last reason (`HTTP 503 after 6 attempts`, `not on the server (404)`, `not in the cache (offline)`).
    pub reason: String,
}

/// What a job did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchReport {
    /// Files in the range.
    pub files_total: usize,
    /// Files read from the cache without a request.
    pub from_cache: usize,
    /// Files downloaded in this run.
    pub downloaded: usize,
    /// Files with no data (closed market), cached or downloaded.
    pub empty_files: usize,
    /// Files of hours that have not begun yet, not requested.
    pub future_files: usize,
    /// Files that stayed missing, with reasons.
    pub missing: Vec<MissingFile>,
    /// Compressed bytes downloaded.
    pub bytes_downloaded: u64,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Retries after failed attempts.
    pub retries: u64,
    /// Ticks (tick files) or candles (candle files) decoded.
    pub records: u64,
    /// Wall time of the download phase.
    pub download_secs: f64,
    /// Wall time of the decode and aggregate phase.
    pub decode_secs: f64,
}

impl FetchReport {
    /// One-paragraph human summary, then one line per missing file (at most `limit`).
    pub fn summary(&self, limit: usize) -> String {
        let mut s = format!(
            "{} files: {} from cache, {} downloaded ({:.1} MB, {} requests, {} retries), {} closed-market, {} missing{}; \
             {} records decoded in {:.3} s",
            self.files_total,
            self.from_cache,
            self.downloaded,
            self.bytes_downloaded as f64 / 1e6,
            self.requests,
            self.retries,
            self.empty_files,
            self.missing.len(),
            if self.future_files > 0 { format!(", {} not yet available", self.future_files) } else { String::new() },
            self.records,
            self.decode_secs,
        );
        for m in self.missing.iter().take(limit) {
            s.push_str(&format!("\nmissing: {} — {} ({})", m.resource, m.reason, m.url));
        }
        if self.missing.len() > limit {
            s.push_str(&format!("\n… and {} more missing files", self.missing.len() - limit));
        }
        s
    }
}

/// Bars of a fetch job.
#[derive(Debug, Clone)]
pub struct FetchedBars {
    /// The instrument.
    pub instrument: Instrument,
    /// The bars (closed-market periods and missing files are gaps).
    pub bars: Bars,
    /// Ticks per bar (tick files only).
    pub tick_counts: Option<Vec<u64>>,
    /// What the job did.
    pub report: FetchReport,
}

/// Downloads (or reads from the cache) the tick files of `request` and returns the ticks in time order.
pub fn fetch_ticks(
    source: Arc<dyn Source>,
    request: &FetchRequest,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(Instrument, Ticks, FetchReport), DukascopyError> {
    let instrument = InstrumentRegistry::builtin().get(&request.symbol)?.clone();
    let request = FetchRequest { kind: DataKind::Ticks, ..request.clone() };
    with_cache_repair(|| {
        let (files, mut report) = download(&source, &instrument, &request, options, progress)?;
        let started = Instant::now();
        let decoded = decode_all(&source, &instrument, options, &files, progress, &mut report, Decoded::into_ticks)?;
        let mut ticks = Ticks::default();
        for part in decoded {
            ticks.append(part).map_err(|e| DukascopyError::Aggregate(e.to_string()))?;
        }
        let ticks = clip_ticks(ticks, request.from_nanos, request.to_nanos)?;
        report.decode_secs = started.elapsed().as_secs_f64();
        progress.report("done", 1.0);
        Ok((instrument.clone(), ticks, report))
    })
}

/// Downloads (or reads from the cache) what `request` needs and aggregates it to `timeframe` bars from the
/// request's side. Day and longer bars begin `day_start_secs` after midnight UTC.
pub fn fetch_bars(
    source: Arc<dyn Source>,
    request: &FetchRequest,
    timeframe: Timeframe,
    day_start_secs: i64,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<FetchedBars, DukascopyError> {
    let instrument = InstrumentRegistry::builtin().get(&request.symbol)?.clone();
    let minute = Timeframe::M1.approx_duration_nanos();
    if request.kind == DataKind::MinuteCandles && timeframe.approx_duration_nanos() % minute != 0 {
        return Err(DukascopyError::Request(format!(
            "minute candles cannot make {timeframe} bars (whole minutes only); use tick data"
        )));
    }
    with_cache_repair(|| {
        let (files, mut report) = download(&source, &instrument, request, options, progress)?;
        let started = Instant::now();
        let (from, to) = (request.from_nanos, request.to_nanos);
        let (bars, tick_counts) = match request.kind {
            DataKind::Ticks => {
                let side = request.side;
                let parts = decode_all(&source, &instrument, options, &files, progress, &mut report, |decoded| {
                    let ticks = clip_ticks(decoded.into_ticks()?, from, to)?;
                    Ok(TickBars::from_ticks(&ticks, timeframe, side, day_start_secs))
                })?;
                let mut all = TickBars::default();
                for part in parts {
                    all.append(part);
                }
                let (bars, counts) = all.into_bars().map_err(|e| DukascopyError::Aggregate(e.to_string()))?;
                (bars, Some(counts))
            }
            DataKind::MinuteCandles => {
                let parts =
                    decode_all(&source, &instrument, options, &files, progress, &mut report, Decoded::into_candles)?;
                let minutes = join_candle_days(&files, parts, request.side, from, to)?;
                let bars = if timeframe == Timeframe::M1 {
                    minutes
                } else {
                    resample(&minutes, Some(Timeframe::M1), timeframe, day_start_secs)
                        .map_err(|e| DukascopyError::Aggregate(e.to_string()))?
                };
                (bars, None)
            }
        };
        report.decode_secs = started.elapsed().as_secs_f64();
        progress.report("done", 1.0);
        Ok(FetchedBars { instrument: instrument.clone(), bars, tick_counts, report })
    })
}

/// Runs a fetch job; when a cached file turns out damaged (it was deleted by [`decode_all`]), runs it once more
/// so the file is downloaded again.
fn with_cache_repair<T>(mut job: impl FnMut() -> Result<T, DukascopyError>) -> Result<T, DukascopyError> {
    match job() {
        Err(e) if e.is_damaged_file() => {
            tracing::warn!("{e}; the file was removed from the cache and is downloaded again");
            job()
        }
        other => other,
    }
}

/// The files a request covers, in time order (for mid candles: bid then ask of each day).
fn resources(request: &FetchRequest) -> Result<Vec<Resource>, DukascopyError> {
    if request.to_nanos <= request.from_nanos {
        return Err(DukascopyError::Request("the range is empty: --to must be after --from".into()));
    }
    let span_days = request.to_nanos.saturating_sub(request.from_nanos) / DAY_NANOS;
    if span_days > 366 * 30 {
        return Err(DukascopyError::Request(format!("a range of {span_days} days is too long (30 years at most)")));
    }
    let mut out = Vec::new();
    match request.kind {
        DataKind::Ticks => {
            let mut hour = request.from_nanos.div_euclid(HOUR_NANOS) * HOUR_NANOS;
            while hour < request.to_nanos {
                out.push(Resource::HourTicks { hour_start_nanos: hour });
                hour += HOUR_NANOS;
            }
        }
        DataKind::MinuteCandles => {
            let sides: &[PriceSide] = match request.side {
                PriceSide::Mid => &[PriceSide::Bid, PriceSide::Ask],
                PriceSide::Bid => &[PriceSide::Bid],
                PriceSide::Ask => &[PriceSide::Ask],
            };
            let mut day = request.from_nanos.div_euclid(DAY_NANOS) * DAY_NANOS;
            while day < request.to_nanos {
                out.extend(sides.iter().map(|&side| Resource::DayMinuteCandles { day_start_nanos: day, side }));
                day += DAY_NANOS;
            }
        }
    }
    Ok(out)
}

/// A file that is ready to decode: in the cache, or downloaded but not cacheable (its hour is still running).
#[derive(Debug, Clone)]
struct ReadyFile {
    resource: Resource,
    fresh: Option<Arc<Vec<u8>>>,
}

fn now_nanos(options: &FetchOptions) -> i64 {
    options.now_nanos.unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX))
}

/// Shared by the download tasks.
struct Shared {
    client: reqwest::Client,
    source: Arc<dyn Source>,
    instrument: Instrument,
    cache_dir: PathBuf,
    now_nanos: i64,
    timeout: Duration,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    queue: Mutex<VecDeque<Resource>>,
    limiter: RateLimiter,
    cancel: AtomicBool,
    done: AtomicU64,
    bytes: AtomicU64,
    records: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    ready: Mutex<Vec<ReadyFile>>,
    missing: Mutex<Vec<MissingFile>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking task cannot leave these plain collections half-updated; keep going with the data.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes sure every file of `request` is cached (or held in memory), downloading what is not.
fn download(
    source: &Arc<dyn Source>,
    instrument: &Instrument,
    request: &FetchRequest,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(Vec<ReadyFile>, FetchReport), DukascopyError> {
    let started = Instant::now();
    let all = resources(request)?;
    let now = now_nanos(options);
    let symbol = instrument.symbol.as_str();
    let mut report = FetchReport { files_total: all.len(), ..Default::default() };
    let mut ready = Vec::with_capacity(all.len());
    let mut wanted = VecDeque::new();
    for resource in all {
        if resource.start_nanos() >= now {
            report.future_files += 1;
        } else if options.cache_dir.join(source.cache_path(symbol, resource)).is_file() {
            report.from_cache += 1;
            ready.push(ReadyFile { resource, fresh: None });
        } else if options.offline {
            report.missing.push(MissingFile {
                resource,
                url: source.url(symbol, resource),
                reason: "not in the cache (offline)".into(),
            });
        } else {
            wanted.push_back(resource);
        }
    }
    let total = report.files_total.max(1) as f32;
    let cached = report.from_cache;
    let wanted_all: Vec<Resource> = wanted.iter().copied().collect();
    if !wanted.is_empty() {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .user_agent(concat!("aio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DukascopyError::Client(e.to_string()))?;
        let jobs = options.jobs.clamp(1, 64).min(wanted.len());
        let shared = Arc::new(Shared {
            client,
            source: Arc::clone(source),
            instrument: instrument.clone(),
            cache_dir: options.cache_dir.clone(),
            now_nanos: now,
            timeout: options.timeout,
            max_retries: options.max_retries,
            backoff_base: options.backoff_base,
            backoff_max: options.backoff_max,
            queue: Mutex::new(wanted),
            limiter: RateLimiter::new(options.requests_per_sec, jobs),
            cancel: AtomicBool::new(false),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            records: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            ready: Mutex::new(Vec::new()),
            missing: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(jobs.min(4))
            .thread_name("aio-fetch")
            .enable_all()
            .build()
            .map_err(|e| DukascopyError::Client(format!("cannot start the download runtime: {e}")))?;
        let report_progress = |shared: &Shared| {
            let done = shared.done.load(Ordering::Relaxed) as usize;
            progress.report(
                &format!(
                    "downloading: {}/{} files · {:.1} MB · {} ticks",
                    cached + done,
                    report.files_total,
                    shared.bytes.load(Ordering::Relaxed) as f64 / 1e6,
                    shared.records.load(Ordering::Relaxed)
                ),
                0.9 * (cached + done) as f32 / total,
            );
        };
        let cancelled = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..jobs {
                tasks.spawn(worker(Arc::clone(&shared)));
            }
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut cancelled = false;
            loop {
                tokio::select! {
                    joined = tasks.join_next() => match joined {
                        None => break,
                        Some(Err(e)) if e.is_panic() => tracing::error!("a download task panicked: {e}"),
                        Some(_) => {}
                    },
                    _ = tick.tick() => {
                        report_progress(&shared);
                        if !cancelled && progress.is_cancelled() {
                            cancelled = true;
                            shared.cancel.store(true, Ordering::Relaxed);
                            tasks.abort_all();
                        }
                    }
                }
            }
            cancelled
        });
        report_progress(&shared);
        runtime.shutdown_timeout(Duration::from_secs(1));
        if cancelled {
            return Err(DukascopyError::Cancelled);
        }
        report.bytes_downloaded = shared.bytes.load(Ordering::Relaxed);
        report.requests = shared.requests.load(Ordering::Relaxed);
        report.retries = shared.retries.load(Ordering::Relaxed);
        let fetched: Vec<ReadyFile> = lock(&shared.ready).drain(..).collect();
        report.downloaded = fetched.len();
        let mut missing = std::mem::take(&mut *lock(&shared.missing));
        // Files a panicked task took off the queue, or never reached: neither fetched nor missing so far.
        let accounted: std::collections::HashSet<Resource> =
            fetched.iter().map(|f| f.resource).chain(missing.iter().map(|m| m.resource)).collect();
        for resource in wanted_all.iter().copied().filter(|r| !accounted.contains(r)) {
            missing.push(MissingFile {
                resource,
                url: source.url(symbol, resource),
                reason: "not fetched: a download task failed (see the log)".into(),
            });
        }
        ready.extend(fetched);
        report.missing.append(&mut missing);
    }
    ready.sort_by_key(|f| f.resource);
    report.missing.sort_by_key(|m| m.resource);
    report.download_secs = started.elapsed().as_secs_f64();
    Ok((ready, report))
}

/// One download task: takes files off the shared queue until it is empty.
async fn worker(shared: Arc<Shared>) {
    loop {
        if shared.cancel.load(Ordering::Relaxed) {
            return;
        }
        let Some(resource) = lock(&shared.queue).pop_front() else { return };
        let symbol = shared.instrument.symbol.clone();
        let url = shared.source.url(&symbol, resource);
        match fetch_one(&shared, url.clone(), resource).await {
            Ok(file) => lock(&shared.ready).push(file),
            Err(reason) => lock(&shared.missing).push(MissingFile { resource, url, reason }),
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Downloads, checks and caches one file, retrying what is worth retrying. The error is the reason it stayed
/// missing.
async fn fetch_one(shared: &Arc<Shared>, url: String, resource: Resource) -> Result<ReadyFile, String> {
    let symbol = &shared.instrument.symbol;
    let suspicious_if_empty = expects_data(&shared.instrument, resource);
    let mut empty_retried = false;
    let mut last_reason = String::new();
    for attempt in 0..=shared.max_retries {
        if attempt > 0 {
            shared.retries.fetch_add(1, Ordering::Relaxed);
        }
        shared.limiter.acquire().await;
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let mut retry_after = None;
        match shared.client.get(&url).send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    match response.bytes().await {
                        Ok(body)
                            if body.is_empty()
                                && suspicious_if_empty
                                && !empty_retried
                                && attempt < shared.max_retries =>
                        {
                            // The datafeed sometimes answers a throttled request with an empty file: ask once more.
                            empty_retried = true;
                            last_reason = "an empty file for an hour the market should be open".into();
                        }
                        Ok(body) => {
                            shared.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                            // An empty file where data is expected may be a holiday or a hiccup: use it, do not cache it.
                            let cache = !(body.is_empty() && suspicious_if_empty);
                            let job_shared = Arc::clone(shared);
                            let job_url = url.clone();
                            let accepted = tokio::task::spawn_blocking(move || {
                                accept_body(&job_shared, resource, &job_url, body.to_vec(), cache)
                            })
                            .await
                            .unwrap_or_else(|e| Err(Accept::Fatal(format!("the decoding task failed: {e}"))));
                            match accepted {
                                Ok(file) => return Ok(file),
                                Err(Accept::Damaged(reason)) => last_reason = reason,
                                Err(Accept::Fatal(reason)) => return Err(reason),
                            }
                        }
                        Err(e) => last_reason = format!("reading the response failed: {e}"),
                    }
                } else if status.as_u16() == 404 {
                    return Err("not on the server (HTTP 404)".into());
                } else if status.as_u16() == 429 || status.is_server_error() {
                    last_reason = format!("HTTP {}", status.as_u16());
                    retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                } else {
                    return Err(format!("HTTP {}", status.as_u16()));
                }
            }
            Err(e) if e.is_timeout() => last_reason = format!("timed out after {:?}", shared.timeout),
            Err(e) if e.is_connect() || e.is_request() || e.is_body() => last_reason = format!("network error: {e}"),
            Err(e) => return Err(format!("request failed: {e}")),
        }
        if attempt < shared.max_retries {
            let delay = backoff_delay(shared.backoff_base, shared.backoff_max, attempt);
            let delay = retry_after.map_or(delay, |r| r.min(shared.backoff_max).max(delay));
            tracing::debug!("{symbol} {resource}: {last_reason}; retrying in {delay:?}");
            tokio::time::sleep(delay).await;
        }
    }
    Err(format!("{last_reason} after {} attempts", shared.max_retries + 1))
}

/// True when a file of `resource` should hold data: hours of a weekday for forex and metals (outside
/// Friday 21:00 … Sunday 22:00 UTC, Christmas and New Year's Day), every hour for crypto. Other markets keep
/// exchange hours that the registry does not know, so an empty file there is taken as it comes.
fn expects_data(instrument: &Instrument, resource: Resource) -> bool {
    use chrono::{Datelike, Timelike, Weekday};
    let Resource::HourTicks { hour_start_nanos } = resource else { return false };
    match instrument.asset_class {
        AssetClass::Crypto => true,
        AssetClass::Fx | AssetClass::Metal => {
            let t = chrono::DateTime::from_timestamp_nanos(hour_start_nanos);
            let weekend = match t.weekday() {
                Weekday::Sat => true,
                Weekday::Fri => t.hour() >= 21,
                Weekday::Sun => t.hour() < 22,
                _ => false,
            };
            let holiday = (t.month(), t.day()) == (12, 25) || (t.month(), t.day()) == (1, 1);
            !weekend && !holiday
        }
        _ => false,
    }
}

enum Accept {
    /// The body is damaged; another attempt may do better.
    Damaged(String),
    /// The cache cannot be written; retrying will not help.
    Fatal(String),
}

/// Decodes a downloaded body and, when the file's period is over and `cache` holds, caches it through a
/// temporary file. The decoded data is dropped: the decode phase reads the file again, so a long range never holds
/// all its ticks in memory at once (one extra decode per downloaded file, cheap next to the download).
fn accept_body(
    shared: &Shared,
    resource: Resource,
    url: &str,
    body: Vec<u8>,
    cache: bool,
) -> Result<ReadyFile, Accept> {
    let symbol = &shared.instrument.symbol;
    let decoded = shared
        .source
        .decode(Path::new(url), &body, &shared.instrument, resource)
        .map_err(|e| Accept::Damaged(e.to_string()))?;
    shared.records.fetch_add(decoded.len() as u64, Ordering::Relaxed);
    if !cache || resource.end_nanos() > shared.now_nanos {
        return Ok(ReadyFile { resource, fresh: Some(Arc::new(body)) });
    }
    let path = shared.cache_dir.join(shared.source.cache_path(symbol, resource));
    write_cache_file(&path, &body).map_err(|e| Accept::Fatal(e.to_string()))?;
    Ok(ReadyFile { resource, fresh: None })
}

/// Writes a cache file through a temporary file in the same directory, renamed into place when complete.
pub fn write_cache_file(path: &Path, bytes: &[u8]) -> Result<(), DukascopyError> {
    use std::io::Write as _;
    let cache_err = |message: &str, source: std::io::Error| DukascopyError::Cache {
        path: path.to_path_buf(),
        message: message.into(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| cache_err("cannot create the cache directory", e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".aio-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| cache_err("cannot create a temporary file", e))?;
    tmp.write_all(bytes).map_err(|e| cache_err("cannot write", e))?;
    // On disk before the rename, so a power cut cannot leave an empty file that reads as a closed hour.
    tmp.as_file().sync_data().map_err(|e| cache_err("cannot write", e))?;
    tmp.persist(path).map_err(|e| cache_err("cannot rename the temporary file", e.error))?;
    Ok(())
}

/// `base · 2^attempt`, capped, with "equal jitter": half fixed, half random, so parallel workers that failed
/// together do not retry together.
pub(crate) fn backoff_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}

/// A token bucket shared by all tasks: `rate` tokens a second, at most `burst` saved up.
struct RateLimiter {
    rate_per_sec: f64,
    burst: f64,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl RateLimiter {
    fn new(rate_per_sec: f64, burst: usize) -> Self {
        let burst = burst.max(1) as f64;
        Self { rate_per_sec, burst, state: tokio::sync::Mutex::new((burst, Instant::now())) }
    }

    /// Waits until a request may be sent.
    async fn acquire(&self) {
        if !(self.rate_per_sec > 0.0 && self.rate_per_sec.is_finite()) {
            return;
        }
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let now = Instant::now();
                let (tokens, last) = *state;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.rate_per_sec).min(self.burst);
                if tokens >= 1.0 {
                    *state = (tokens - 1.0, now);
                    return;
                }
                *state = (tokens, now);
                Duration::try_from_secs_f64((1.0 - tokens) / self.rate_per_sec).unwrap_or(Duration::from_secs(3600))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Decodes ready files on `options.jobs` named threads, applies `each` to every file, and returns the results
/// in file order.
fn decode_all<T: Send>(
    source: &Arc<dyn Source>,
    instrument: &Instrument,
    options: &FetchOptions,
    files: &[ReadyFile],
    progress: &dyn Progress,
    report: &mut FetchReport,
    each: impl Fn(Decoded) -> Result<T, DukascopyError> + Sync,
) -> Result<Vec<T>, DukascopyError> {
    let symbol = instrument.symbol.as_str();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let records = AtomicU64::new(0);
    let empty = AtomicU64::new(0);
    let threads = options.jobs.clamp(1, 64).min(files.len().max(1));
    let decode_one = |file: &ReadyFile| -> Result<T, DukascopyError> {
        let path = options.cache_dir.join(source.cache_path(symbol, file.resource));
        let decoded = match &file.fresh {
            Some(bytes) => source.decode(&path, bytes, instrument, file.resource)?,
            None => {
                let bytes = std::fs::read(&path).map_err(|e| DukascopyError::Cache {
                    path: path.clone(),
                    message: "cannot read".into(),
                    source: e,
                })?;
                match source.decode(&path, &bytes, instrument, file.resource) {
                    Ok(decoded) => decoded,
                    Err(e) => {
                        if e.is_damaged_file() {
                            // A damaged cache file would fail every later run: remove it so it is fetched again.
                            let _ = std::fs::remove_file(&path);
                        }
                        return Err(e);
                    }
                }
            }
        };
        records.fetch_add(decoded.len() as u64, Ordering::Relaxed);
        if decoded.is_empty() {
            empty.fetch_add(1, Ordering::Relaxed);
        }
        each(decoded)
    };
    let results: Vec<Vec<(usize, Result<T, DukascopyError>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                std::thread::Builder::new().name(format!("aio-decode-{i}")).spawn_scoped(scope, || {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= files.len() || progress.is_cancelled() {
                            return out;
                        }
                        let result = decode_one(&files[k]);
                        let failed = result.is_err();
                        out.push((k, result));
                        if failed {
                            // Stop the others early: the job fails anyway.
                            next.store(files.len(), Ordering::Relaxed);
                            return out;
                        }
                    }
                })
            })
            .collect();
        let mut collected = Vec::with_capacity(threads);
        let mut spawn_error = None;
        for handle in handles {
            match handle {
                Ok(h) => match h.join() {
                    Ok(part) => collected.push(part),
                    Err(_) => spawn_error = Some("a decoding thread panicked".to_string()),
                },
                Err(e) => spawn_error = Some(format!("cannot start a decoding thread: {e}")),
            }
        }
        if let Some(message) = spawn_error {
            collected.push(vec![(usize::MAX, Err(DukascopyError::Aggregate(message)))]);
        }
        collected
    });
    if progress.is_cancelled() {
        return Err(DukascopyError::Cancelled);
    }
    report.records = records.load(Ordering::Relaxed);
    report.empty_files = empty.load(Ordering::Relaxed) as usize;
    let mut slots: Vec<Option<T>> = (0..files.len()).map(|_| None).collect();
    for (k, result) in results.into_iter().flatten() {
        match result {
            Ok(value) => slots[k] = Some(value),
            Err(e) => return Err(e),
        }
    }
    progress.report("decoding", 0.95);
    slots.into_iter().map(|s| s.ok_or_else(|| DukascopyError::Aggregate("a file was not decoded".into()))).collect()
}

/// The ticks within `[from, to)`.
fn clip_ticks(ticks: Ticks, from: i64, to: i64) -> Result<Ticks, DukascopyError> {
    let ts = ticks.ts_nanos();
    let (a, b) = (ts.partition_point(|&t| t < from), ts.partition_point(|&t| t < to));
    if a == 0 && b == ts.len() {
        return Ok(ticks);
    }
    Ticks::from_columns(
        ts[a..b].to_vec(),
        ticks.bid()[a..b].to_vec(),
        ticks.ask()[a..b].to_vec(),
        ticks.bid_volume()[a..b].to_vec(),
        ticks.ask_volume()[a..b].to_vec(),
    )
    .map_err(|e| DukascopyError::Aggregate(e.to_string()))
}

/// Concatenates daily minute candles within `[from, to)`; for `Mid`, averages the bid and ask candles of each
/// minute present on both sides (high and low are the averages of the sides' highs and lows).
fn join_candle_days(
    files: &[ReadyFile],
    parts: Vec<Bars>,
    side: PriceSide,
    from: i64,
    to: i64,
) -> Result<Bars, DukascopyError> {
    let mut bid_side: Vec<Bars> = Vec::new();
    let mut ask_side: Vec<Bars> = Vec::new();
    for (file, bars) in files.iter().zip(parts) {
        match file.resource {
            Resource::DayMinuteCandles { side: PriceSide::Ask, .. } => ask_side.push(bars),
            _ => bid_side.push(bars),
        }
    }
    let concat = |days: Vec<Bars>| -> crate::ingest::RawBars {
        let mut raw = crate::ingest::RawBars::default();
        for day in days {
            for bar in day.iter().filter(|b| b.ts_nanos >= from && b.ts_nanos < to) {
                raw.ts_nanos.push(bar.ts_nanos);
                raw.open.push(bar.open);
                raw.high.push(bar.high);
                raw.low.push(bar.low);
                raw.close.push(bar.close);
                raw.volume.push(bar.volume);
            }
        }
        raw
    };
    let raw = match side {
        PriceSide::Bid => concat(bid_side),
        PriceSide::Ask => concat(ask_side),
        PriceSide::Mid => {
            let (b, a) = (concat(bid_side), concat(ask_side));
            let mut out = crate::ingest::RawBars::default();
            let (mut i, mut j) = (0, 0);
            while i < b.len() && j < a.len() {
                match b.ts_nanos[i].cmp(&a.ts_nanos[j]) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        out.ts_nanos.push(b.ts_nanos[i]);
                        out.open.push(0.5 * (b.open[i] + a.open[j]));
                        out.high.push(0.5 * (b.high[i] + a.high[j]));
                        out.low.push(0.5 * (b.low[i] + a.low[j]));
                        out.close.push(0.5 * (b.close[i] + a.close[j]));
                        out.volume.push(0.5 * (b.volume[i] + a.volume[j]));
                        i += 1;
                        j += 1;
                    }
                }
            }
            out
        }
    };
    Bars::new_checked(raw.ts_nanos, raw.open, raw.high, raw.low, raw.close, raw.volume)
        .map_err(|e| DukascopyError::Aggregate(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_ceiling() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 0..8 {
            let ceiling = (base * (1 << attempt)).min(max);
            for _ in 0..20 {
                let d = backoff_delay(base, max, attempt);
                assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn ranges_become_hours_or_days() {
        let from = super::super::parse_bound("2024-01-15", false).unwrap();
        let to = super::super::parse_bound("2024-01-16", true).unwrap();
        let mut request = FetchRequest {
            symbol: "EURUSD".into(),
            from_nanos: from,
            to_nanos: to,
            kind: DataKind::Ticks,
            side: PriceSide::Bid,
        };
        assert_eq!(resources(&request).unwrap().len(), 48);
        request.kind = DataKind::MinuteCandles;
        request.side = PriceSide::Mid;
        assert_eq!(resources(&request).unwrap().len(), 4);
        request.to_nanos = from;
        assert!(resources(&request).is_err());
    }
}
