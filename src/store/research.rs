//! Research results: parameter sweeps and walk-forward runs (ranked rows as JSON) and generated Pine scripts with
//! their validator diagnostics.

use rusqlite::params;

use super::{DatasetId, Library, StoreError, StrategyId, now_nanos};

/// Row id of a sweep or walk-forward run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SweepId(pub i64);

/// Row id of a stored Pine script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PineScriptId(pub i64);

/// A sweep or walk-forward run to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSweep {
    /// The base strategy.
    pub strategy_id: StrategyId,
    /// The data it ran on.
    pub dataset_id: Option<DatasetId>,
    /// `sweep`, `walkforward_rolling` or `walkforward_anchored`.
    pub kind: String,
    /// The ranking metric.
    pub rank_by: String,
    /// Ranked rows or windows.
    pub result: serde_json::Value,
}

/// A stored sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRecord {
    /// Row id.
    pub id: SweepId,
    /// What was stored.
    pub sweep: NewSweep,
    /// When, UTC nanoseconds.
    pub created_at_nanos: i64,
}

/// A stored Pine script.
#[derive(Debug, Clone, PartialEq)]
pub struct PineScriptRecord {
    /// Row id.
    pub id: PineScriptId,
    /// The strategy it was generated from.
    pub strategy_id: StrategyId,
    /// The script.
    pub source: String,
    /// Validator diagnostics.
    pub diagnostics: serde_json::Value,
    /// When, UTC nanoseconds.
    pub created_at_nanos: i64,
}

fn json_column(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

impl Library {
    /// Stores a sweep or walk-forward run.
    pub fn add_sweep(&mut self, s: &NewSweep) -> Result<SweepId, StoreError> {
        let result = s.result.to_string();
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO sweeps (strategy_id, dataset_id, kind, rank_by, result_json, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![s.strategy_id.0, s.dataset_id.map(|d| d.0), s.kind, s.rank_by, result, now_nanos()],
                |r| r.get(0),
            )
            .map(SweepId)
        })
    }

    /// Sweeps of one strategy, newest first.
    pub fn sweeps_for_strategy(&self, strategy_id: StrategyId) -> Result<Vec<SweepRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, strategy_id, dataset_id, kind, rank_by, result_json, created_at_nanos FROM sweeps
                 WHERE strategy_id = ?1 ORDER BY id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![strategy_id.0], |r| {
                Ok(SweepRecord {
                    id: SweepId(r.get(0)?),
                    sweep: NewSweep {
                        strategy_id: StrategyId(r.get(1)?),
                        dataset_id: r.get::<_, Option<i64>>(2)?.map(DatasetId),
                        kind: r.get(3)?,
                        rank_by: r.get(4)?,
                        result: json_column(r, 5)?,
                    },
                    created_at_nanos: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Stores a generated Pine script with its diagnostics.
    pub fn add_pine_script(
        &mut self,
        strategy_id: StrategyId,
        source: &str,
        diagnostics: &serde_json::Value,
    ) -> Result<PineScriptId, StoreError> {
        let diagnostics = diagnostics.to_string();
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO pine_scripts (strategy_id, source, diagnostics_json, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![strategy_id.0, source, diagnostics, now_nanos()],
                |r| r.get(0),
            )
            .map(PineScriptId)
        })
    }

    /// Pine scripts of one strategy, newest first.
    pub fn pine_scripts_for_strategy(&self, strategy_id: StrategyId) -> Result<Vec<PineScriptRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, strategy_id, source, diagnostics_json, created_at_nanos FROM pine_scripts
                 WHERE strategy_id = ?1 ORDER BY id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![strategy_id.0], |r| {
                Ok(PineScriptRecord {
                    id: PineScriptId(r.get(0)?),
                    strategy_id: StrategyId(r.get(1)?),
                    source: r.get(2)?,
                    diagnostics: json_column(r, 3)?,
                    created_at_nanos: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
