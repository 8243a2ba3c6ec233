//! Analyses as the analysis loop stores them: the analysis row with everything it was made of, its strategy, its
//! Pine script and its two backtests, written in one transaction (all of it or none).

use rusqlite::{OptionalExtension, params};

use super::{
    AnalysisId, BacktestId, DatasetId, Library, NewBacktest, PineScriptId, StoreError, StrategyId, now_nanos,
    results::insert_backtest, strategies::insert_strategy,
};

/// One finished analysis to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysisRun {
    /// The dataset analysed, if registered.
    pub dataset_id: Option<DatasetId>,
    /// Instrument, e.g. `EURUSD`.
    pub symbol: String,
    /// Bar size, e.g. `H1`.
    pub timeframe: String,
    /// The analyst that answered (model id and version, or `rule-based v1`).
    pub analyst: String,
    /// The reading's pattern (`none` when there was none).
    pub pattern: String,
    /// The chart image the analyst saw (PNG bytes).
    pub chart_png: Option<Vec<u8>>,
    /// Findings JSON (the reading and the patterns).
    pub findings: serde_json::Value,
    /// The fusion prompt as sent.
    pub prompt: String,
    /// The analyst's raw output.
    pub raw_output: String,
    /// Confidence 0–1.
    pub confidence: f64,
    /// The sampling seed.
    pub seed: u64,
    /// Strategy name and spec.
    pub strategy: (String, serde_json::Value),
    /// Pine source and its diagnostics.
    pub pine: (String, serde_json::Value),
    /// In-sample backtest (its `strategy_id` is replaced by the stored strategy's).
    pub in_sample: NewBacktest,
    /// Out-of-sample backtest, if run.
    pub out_of_sample: Option<NewBacktest>,
    /// The full report JSON.
    pub report: serde_json::Value,
}

/// The rows [`Library::add_analysis_run`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisRunIds {
    /// The analysis.
    pub analysis: AnalysisId,
    /// Its strategy (an existing row when the same name and spec were stored before).
    pub strategy: StrategyId,
    /// Its Pine script.
    pub pine_script: PineScriptId,
    /// The in-sample backtest.
    pub in_sample: BacktestId,
    /// The out-of-sample backtest, if run.
    pub out_of_sample: Option<BacktestId>,
}

/// A stored analysis, as the Library panel lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSummary {
    /// Row id.
    pub id: AnalysisId,
    /// Instrument.
    pub symbol: Option<String>,
    /// Bar size.
    pub timeframe: Option<String>,
    /// Who answered.
    pub analyst: Option<String>,
    /// The reading's pattern.
    pub pattern: Option<String>,
    /// Confidence 0–1.
    pub confidence: Option<f64>,
    /// The strategy it produced.
    pub strategy_id: Option<StrategyId>,
    /// Its Pine script.
    pub pine_script_id: Option<PineScriptId>,
    /// In-sample backtest.
    pub in_sample_backtest_id: Option<BacktestId>,
    /// Out-of-sample backtest.
    pub out_of_sample_backtest_id: Option<BacktestId>,
    /// The Pine script's source.
    pub pine_source: Option<String>,
    /// The fusion prompt as sent.
    pub prompt: Option<String>,
    /// The analyst's raw output.
    pub raw_output: Option<String>,
    /// The report JSON (`null` for analyses stored before version 5).
    pub report: serde_json::Value,
    /// When, UTC nanoseconds.
    pub created_at_nanos: i64,
}

impl Library {
    /// Stores a finished analysis with its strategy (reusing a stored one with the same name and spec), Pine
    /// script and backtests, in one transaction.
    pub fn add_analysis_run(&mut self, run: &NewAnalysisRun) -> Result<AnalysisRunIds, StoreError> {
        if !(0.0..=1.0).contains(&run.confidence) {
            return Err(StoreError::Invalid {
                field: "confidence",
                message: format!("{} is outside 0–1", run.confidence),
            });
        }
        if run.strategy.0.trim().is_empty() {
            return Err(StoreError::Invalid { field: "strategy name", message: "empty".into() });
        }
        let seed = i64::try_from(run.seed).map_err(|_| StoreError::Invalid {
            field: "seed",
            message: format!("{} does not fit a signed 64-bit integer", run.seed),
        })?;
        let spec = run.strategy.1.to_string();
        self.write(|tx| {
            let now = now_nanos();
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM strategies WHERE name = ?1 AND spec_json = ?2 ORDER BY id LIMIT 1",
                    params![run.strategy.0, spec],
                    |r| r.get(0),
                )
                .optional()?;
            let strategy_id = match existing {
                Some(id) => id,
                None => insert_strategy(tx, &run.strategy.0, &spec, now)?.0,
            };
            let pine_id: i64 = tx.query_row(
                "INSERT INTO pine_scripts (strategy_id, source, diagnostics_json, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![strategy_id, run.pine.0, run.pine.1.to_string(), now],
                |r| r.get(0),
            )?;
            let in_sample = insert_backtest(tx, StrategyId(strategy_id), &run.in_sample)?.0;
            let out_of_sample = run
                .out_of_sample
                .as_ref()
                .map(|b| insert_backtest(tx, StrategyId(strategy_id), b))
                .transpose()?
                .map(|b| b.0);
            tx.query_row(
                "INSERT INTO analyses (dataset_id, strategy_id, chart_png, findings_json, model, confidence,
                                       created_at_nanos, symbol, timeframe, analyst, pattern, prompt, raw_output,
                                       seed, pine_script_id, in_sample_backtest_id, out_of_sample_backtest_id,
                                       report_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?5, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                 RETURNING id",
                params![
                    run.dataset_id.map(|d| d.0),
                    strategy_id,
                    run.chart_png,
                    run.findings.to_string(),
                    run.analyst,
                    run.confidence,
                    now,
                    run.symbol,
                    run.timeframe,
                    run.pattern,
                    run.prompt,
                    run.raw_output,
                    seed,
                    pine_id,
                    in_sample,
                    out_of_sample,
                    run.report.to_string()
                ],
                |r| r.get(0),
            )
            .map(|id| AnalysisRunIds {
                analysis: AnalysisId(id),
                strategy: StrategyId(strategy_id),
                pine_script: PineScriptId(pine_id),
                in_sample: BacktestId(in_sample),
                out_of_sample: out_of_sample.map(BacktestId),
            })
        })
    }

    /// Stored analyses, newest first; `search` (case-insensitive) keeps those whose symbol, timeframe, analyst or
    /// pattern contains it (empty keeps all).
    pub fn analysis_summaries(&self, search: &str) -> Result<Vec<AnalysisSummary>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT a.id, a.symbol, a.timeframe, a.analyst, a.pattern, a.confidence, a.strategy_id,
                        a.pine_script_id, a.in_sample_backtest_id, a.out_of_sample_backtest_id, a.report_json,
                        a.created_at_nanos, a.prompt, a.raw_output, p.source
                 FROM analyses a LEFT JOIN pine_scripts p ON p.id = a.pine_script_id
                 WHERE ?1 = '' OR instr(lower(coalesce(a.symbol, '') || ' ' || coalesce(a.timeframe, '') || ' ' ||
                                             coalesce(a.analyst, '') || ' ' || coalesce(a.pattern, '')), lower(?1)) > 0
                 ORDER BY a.created_at_nanos DESC, a.id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([search.trim()], |r| {
                let report: Option<String> = r.get(10)?;
                Ok(AnalysisSummary {
                    id: AnalysisId(r.get(0)?),
                    symbol: r.get(1)?,
                    timeframe: r.get(2)?,
                    analyst: r.get(3)?,
                    pattern: r.get(4)?,
                    confidence: r.get(5)?,
                    strategy_id: r.get::<_, Option<i64>>(6)?.map(StrategyId),
                    pine_script_id: r.get::<_, Option<i64>>(7)?.map(PineScriptId),
                    in_sample_backtest_id: r.get::<_, Option<i64>>(8)?.map(BacktestId),
                    out_of_sample_backtest_id: r.get::<_, Option<i64>>(9)?.map(BacktestId),
                    report: report.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(serde_json::Value::Null),
                    created_at_nanos: r.get(11)?,
                    prompt: r.get(12)?,
                    raw_output: r.get(13)?,
                    pine_source: r.get(14)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
