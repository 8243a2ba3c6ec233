//! Indicator and pattern studies of the loaded bars: the user's indicator choices, and their computation on the
//! `aio-studies` worker thread (indicators, candlestick and chart patterns, the historical miner) with progress
//! and cancellation, so the chart never waits for them.

use std::sync::{
    Arc,
    mpsc::{Receiver, TryRecvError, sync_channel},
};

use serde::{Deserialize, Serialize};

use super::loader::JobProgress;
use crate::{
    indicators::{Column, IndicatorSpec},
    ingest::{LoadedBars, Progress},
    patterns::{
        self,
        candles::CandlePattern,
        chart::{ChartAnalysis, ChartFinding},
        miner::{MinerConfig, MiningReport},
    },
};

/// One indicator of the menu with its on/off state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyIndicator {
    /// Kind and parameters.
    pub spec: IndicatorSpec,
    /// Drawn when true.
    pub enabled: bool,
}

/// The user's study choices; persisted with the layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StudySettings {
    /// Every indicator of the menu, in menu order.
    pub indicators: Vec<StudyIndicator>,
    /// Draw candlestick-pattern markers.
    pub candle_markers: bool,
    /// Draw chart patterns (double tops, triangles …).
    pub chart_patterns: bool,
}

impl Default for StudySettings {
    fn default() -> Self {
        let on = |spec| StudyIndicator { spec, enabled: true };
        let off = |spec| StudyIndicator { spec, enabled: false };
        Self {
            indicators: vec![
                on(IndicatorSpec::Sma { period: 20 }),
                off(IndicatorSpec::Ema { period: 50 }),
                off(IndicatorSpec::Wma { period: 10 }),
                on(IndicatorSpec::Bb { period: 20, deviations: 2.0 }),
                on(IndicatorSpec::Rsi { period: 14 }),
                on(IndicatorSpec::Macd { fast: 12, slow: 26, signal: 9 }),
                off(IndicatorSpec::Stoch { fast_k: 14, slow_k: 3, slow_d: 3 }),
                off(IndicatorSpec::Atr { period: 14 }),
                off(IndicatorSpec::Adx { period: 14 }),
            ],
            candle_markers: true,
            chart_patterns: true,
        }
    }
}

impl StudySettings {
    /// The enabled indicators whose parameters are valid.
    pub fn active(&self) -> Vec<IndicatorSpec> {
        self.indicators.iter().filter(|i| i.enabled && i.spec.validate().is_ok()).map(|i| i.spec.clone()).collect()
    }
}

/// A candlestick pattern at one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CandleMarker {
    /// Bar index.
    pub index: usize,
    /// The pattern.
    pub pattern: CandlePattern,
    /// TA-Lib's value (−100, −80, 80, 100).
    pub value: i32,
}

/// Everything computed for one dataset and one set of indicators.
#[derive(Debug, Default)]
pub struct Studies {
    /// Bars the studies were computed on (to match them with the dataset on screen).
    pub bars: usize,
    /// The indicators computed, with their columns.
    pub indicators: Vec<(IndicatorSpec, Vec<Column>)>,
    /// Candlestick patterns, sorted by bar.
    pub markers: Vec<CandleMarker>,
    /// Chart patterns, levels, regime and volatility.
    pub chart: Option<ChartAnalysis>,
    /// The chart patterns as findings JSON objects.
    pub findings: Vec<ChartFinding>,
    /// The historical miner's statistics.
    pub mining: Option<MiningReport>,
}

impl Studies {
    /// The candlestick patterns at bar `index`.
    pub fn markers_at(&self, index: usize) -> &[CandleMarker] {
        let start = self.markers.partition_point(|m| m.index < index);
        let end = self.markers.partition_point(|m| m.index <= index);
        &self.markers[start..end]
    }
}

/// Computes the studies of `data`; `None` when cancelled.
pub fn compute(data: &LoadedBars, specs: &[IndicatorSpec], progress: &dyn Progress) -> Option<Result<Studies, String>> {
    let bars = &data.bars;
    let mut studies = Studies { bars: bars.len(), ..Default::default() };
    progress.report("indicators", 0.05);
    for spec in specs {
        if progress.is_cancelled() {
            return None;
        }
        match spec.compute(bars) {
            Ok(columns) => studies.indicators.push((spec.clone(), columns)),
            Err(err) => return Some(Err(err.to_string())),
        }
    }
    progress.report("candlestick and chart patterns, pattern history", 0.2);
    let study = patterns::study(bars, &MinerConfig::default());
    for (pattern, values) in &study.candles {
        studies.markers.extend(
            values.iter().enumerate().filter(|(_, v)| **v != 0).map(|(index, &value)| CandleMarker {
                index,
                pattern: *pattern,
                value,
            }),
        );
    }
    studies.markers.sort_by_key(|m| m.index);
    match study.chart {
        Ok(analysis) => {
            studies.findings = analysis.findings(bars.ts_nanos());
            studies.chart = Some(analysis);
        }
        Err(err) => tracing::warn!("chart patterns: {err}"),
    }
    match study.mining {
        Ok(report) => studies.mining = Some(report),
        Err(err) => tracing::warn!("pattern miner: {err}"),
    }
    if progress.is_cancelled() {
        return None;
    }
    progress.report("done", 1.0);
    Some(Ok(studies))
}

/// Studies running on the `aio-studies` thread.
pub struct StudyJob {
    /// Its progress (and cancel flag).
    pub progress: Arc<JobProgress>,
    rx: Receiver<Option<Result<Studies, String>>>,
}

impl StudyJob {
    /// Starts computing the studies of `data` with `specs`.
    pub fn spawn(data: Arc<LoadedBars>, specs: Vec<IndicatorSpec>, ctx: egui::Context) -> std::io::Result<Self> {
        let progress = Arc::new(JobProgress::with_context(ctx.clone()));
        let job_progress = Arc::clone(&progress);
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new().name("aio-studies".into()).spawn(move || {
            let result = compute(&data, &specs, job_progress.as_ref());
            let _ = tx.send(result);
            ctx.request_repaint();
        })?;
        Ok(Self { progress, rx })
    }

    /// `Some(result)` once finished; the inner `None` means it was cancelled.
    pub fn poll(&self) -> Option<Option<Result<Studies, String>>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(None),
        }
    }
}
