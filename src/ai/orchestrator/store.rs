//! An [`AnalysisResult`] into the library: one [`NewAnalysisRun`], written in one transaction.

use serde_json::json;

use super::{AnalysisResult, PartBacktest};
use crate::{
    backtest::report::{equity_points, trades_json},
    store::{AnalysisRunIds, Library, NewAnalysisRun, NewBacktest, StoreError, StrategyId},
};

fn backtest(part: &PartBacktest, dataset_id: Option<crate::store::DatasetId>) -> NewBacktest {
    NewBacktest {
        // Replaced by the stored strategy's id inside the transaction.
        strategy_id: StrategyId(0),
        dataset_id,
        metrics: serde_json::to_value(&part.report.metrics).unwrap_or_default(),
        equity: equity_points(&part.report),
        trades: trades_json(&part.report),
    }
}

/// The library row of `result`.
pub fn new_run(result: &AnalysisResult, dataset_id: Option<crate::store::DatasetId>) -> NewAnalysisRun {
    NewAnalysisRun {
        dataset_id,
        symbol: result.symbol.clone(),
        timeframe: result.timeframe.clone(),
        analyst: result.analyst.clone(),
        pattern: result.reading.pattern.clone(),
        chart_png: result.chart_png.clone(),
        findings: json!({"reading": result.reading, "patterns": result.context.findings}),
        prompt: format!("[system]\n{}\n\n[user]\n{}", result.prompt[0], result.prompt[1]),
        raw_output: result.raw_output.clone(),
        confidence: result.output.confidence.clamp(0.0, 1.0),
        seed: result.seed,
        strategy: (
            result.output.strategy.name.clone(),
            serde_json::to_value(&result.output.strategy).unwrap_or_default(),
        ),
        pine: (result.pine.clone(), crate::pine::diagnostics_json(&result.pine_diagnostics)),
        in_sample: backtest(&result.in_sample, dataset_id),
        out_of_sample: result.out_of_sample.as_ref().map(|p| backtest(p, dataset_id)),
        report: result.report(),
    }
}

/// Stores `result` in `library` (one transaction).
pub fn store_result(
    library: &mut Library,
    result: &AnalysisResult,
    dataset_id: Option<crate::store::DatasetId>,
) -> Result<AnalysisRunIds, StoreError> {
    library.add_analysis_run(&new_run(result, dataset_id))
}
