//! Results derived from datasets and strategies: backtests (metrics + equity curve), mined pattern statistics
//! and analyses (chart image, findings, model, confidence).

use rusqlite::params;

use super::{DatasetId, Library, StoreError, StrategyId, now_nanos};

/// Row id of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BacktestId(pub i64);

/// Row id of a pattern statistics row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PatternId(pub i64);

/// Row id of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AnalysisId(pub i64);

/// A backtest run to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBacktest {
    /// The strategy that was run.
    pub strategy_id: StrategyId,
    /// The data it ran on, if registered.
    pub dataset_id: Option<DatasetId>,
    /// Metrics object (net profit, drawdown, Sharpe, …).
    pub metrics: serde_json::Value,
    /// Equity curve as (time in UTC nanoseconds, equity).
    pub equity: Vec<(i64, f64)>,
    /// Closed trades as a JSON array (`[]` when not kept).
    pub trades: serde_json::Value,
}

/// A stored backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRecord {
    /// Row id.
    pub id: BacktestId,
    /// What was stored.
    pub backtest: NewBacktest,
    /// When, UTC nanoseconds.
    pub created_at_nanos: i64,
}

/// Pattern statistics from the miner.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPatternStats {
    /// The dataset mined.
    pub dataset_id: Option<DatasetId>,
    /// Pattern name (`engulfing`, `double_top`).
    pub name: String,
    /// Forward-return horizon in bars.
    pub horizon_bars: Option<u32>,
    /// Number of occurrences found.
    pub occurrences: u64,
    /// Statistics object (hit rate, mean, median, t-stat, …).
    pub stats: serde_json::Value,
}

/// Stored pattern statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternRecord {
    /// Row id.
    pub id: PatternId,
    /// What was stored.
    pub pattern: NewPatternStats,
}

/// An analysis to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysis {
    /// The dataset analysed.
    pub dataset_id: Option<DatasetId>,
    /// The strategy it produced, if any.
    pub strategy_id: Option<StrategyId>,
    /// The chart image the analyst saw (PNG bytes).
    pub chart_png: Option<Vec<u8>>,
    /// Findings JSON.
    pub findings: serde_json::Value,
    /// Model id and version, or `rule-based`.
    pub model: String,
    /// Confidence 0–1.
    pub confidence: Option<f64>,
}

/// A stored analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRecord {
    /// Row id.
    pub id: AnalysisId,
    /// What was stored.
    pub analysis: NewAnalysis,
    /// When, UTC nanoseconds.
    pub created_at_nanos: i64,
}

/// Packs an equity curve as little-endian (i64, f64) pairs.
pub fn encode_equity(points: &[(i64, f64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 16);
    for (t, v) in points {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Unpacks [`encode_equity`]'s format; `None` when the length is not a multiple of 16.
pub fn decode_equity(bytes: &[u8]) -> Option<Vec<(i64, f64)>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(16)
            .map(|c| {
                let (t, v) = c.split_at(8);
                (i64::from_le_bytes(t.try_into().unwrap_or([0; 8])), f64::from_le_bytes(v.try_into().unwrap_or([0; 8])))
            })
            .collect(),
    )
}

fn json_column(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

/// Inserts `b` as a backtest of `strategy_id` (which replaces `b.strategy_id`) inside `tx`.
pub(super) fn insert_backtest(
    tx: &rusqlite::Transaction<'_>,
    strategy_id: StrategyId,
    b: &NewBacktest,
) -> rusqlite::Result<BacktestId> {
    let trades = if b.trades.is_array() { b.trades.to_string() } else { "[]".to_string() };
    tx.query_row(
        "INSERT INTO backtests (strategy_id, dataset_id, metrics_json, equity, trades_json, created_at_nanos)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![
            strategy_id.0,
            b.dataset_id.map(|d| d.0),
            b.metrics.to_string(),
            encode_equity(&b.equity),
            trades,
            now_nanos()
        ],
        |r| r.get(0),
    )
    .map(BacktestId)
}

impl Library {
    /// Stores a backtest.
    pub fn add_backtest(&mut self, b: &NewBacktest) -> Result<BacktestId, StoreError> {
        self.write(|tx| insert_backtest(tx, b.strategy_id, b))
    }

    /// Backtests of one strategy, newest first.
    pub fn backtests_for_strategy(&self, strategy_id: StrategyId) -> Result<Vec<BacktestRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, strategy_id, dataset_id, metrics_json, equity, created_at_nanos, trades_json FROM backtests
                 WHERE strategy_id = ?1 ORDER BY created_at_nanos DESC, id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([strategy_id.0], |r| {
                let blob: Vec<u8> = r.get(4)?;
                let equity = decode_equity(&blob).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        4,
                        rusqlite::types::Type::Blob,
                        "equity blob length is not a multiple of 16".into(),
                    )
                })?;
                Ok(BacktestRecord {
                    id: BacktestId(r.get(0)?),
                    backtest: NewBacktest {
                        strategy_id: StrategyId(r.get(1)?),
                        dataset_id: r.get::<_, Option<i64>>(2)?.map(DatasetId),
                        metrics: json_column(r, 3)?,
                        equity,
                        trades: json_column(r, 6)?,
                    },
                    created_at_nanos: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Stores pattern statistics.
    pub fn add_pattern_stats(&mut self, p: &NewPatternStats) -> Result<PatternId, StoreError> {
        let occurrences = i64::try_from(p.occurrences)
            .map_err(|_| StoreError::Invalid { field: "occurrences", message: "too large".into() })?;
        let stats = p.stats.to_string();
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO patterns (dataset_id, name, horizon_bars, occurrences, stats_json, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![p.dataset_id.map(|d| d.0), p.name, p.horizon_bars, occurrences, stats, now_nanos()],
                |r| r.get(0),
            )
            .map(PatternId)
        })
    }

    /// Replaces a dataset's statistics for one horizon with `stats`, in one transaction (a re-run of the miner
    /// leaves one set, and a failure leaves the previous set untouched).
    pub fn replace_pattern_stats(
        &mut self,
        dataset_id: DatasetId,
        horizon_bars: u32,
        stats: &[NewPatternStats],
    ) -> Result<Vec<PatternId>, StoreError> {
        let rows = stats
            .iter()
            .map(|p| {
                let occurrences = i64::try_from(p.occurrences)
                    .map_err(|_| StoreError::Invalid { field: "occurrences", message: "too large".into() })?;
                Ok((p.name.clone(), occurrences, p.stats.to_string()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(|tx| {
            tx.execute(
                "DELETE FROM patterns WHERE dataset_id = ?1 AND horizon_bars = ?2",
                params![dataset_id.0, horizon_bars],
            )?;
            let now = now_nanos();
            let mut insert = tx.prepare(
                "INSERT INTO patterns (dataset_id, name, horizon_bars, occurrences, stats_json, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            )?;
            rows.iter()
                .map(|(name, occurrences, json)| {
                    insert
                        .query_row(params![dataset_id.0, name, horizon_bars, occurrences, json, now], |r| r.get(0))
                        .map(PatternId)
                })
                .collect()
        })
    }

    /// Pattern statistics of a dataset, by name.
    pub fn patterns_for_dataset(&self, dataset_id: DatasetId) -> Result<Vec<PatternRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, dataset_id, name, horizon_bars, occurrences, stats_json FROM patterns
                 WHERE dataset_id = ?1 ORDER BY name, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([dataset_id.0], |r| {
                Ok(PatternRecord {
                    id: PatternId(r.get(0)?),
                    pattern: NewPatternStats {
                        dataset_id: r.get::<_, Option<i64>>(1)?.map(DatasetId),
                        name: r.get(2)?,
                        horizon_bars: r.get(3)?,
                        occurrences: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                        stats: json_column(r, 5)?,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Stores an analysis.
    pub fn add_analysis(&mut self, a: &NewAnalysis) -> Result<AnalysisId, StoreError> {
        if let Some(c) = a.confidence
            && !(0.0..=1.0).contains(&c)
        {
            return Err(StoreError::Invalid { field: "confidence", message: format!("{c} is outside 0–1") });
        }
        let findings = a.findings.to_string();
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO analyses (dataset_id, strategy_id, chart_png, findings_json, model, confidence,
                                       created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![
                    a.dataset_id.map(|d| d.0),
                    a.strategy_id.map(|s| s.0),
                    a.chart_png,
                    findings,
                    a.model,
                    a.confidence,
                    now_nanos()
                ],
                |r| r.get(0),
            )
            .map(AnalysisId)
        })
    }

    /// All analyses, newest first.
    pub fn analyses(&self) -> Result<Vec<AnalysisRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, dataset_id, strategy_id, chart_png, findings_json, model, confidence, created_at_nanos
                 FROM analyses ORDER BY created_at_nanos DESC, id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AnalysisRecord {
                    id: AnalysisId(r.get(0)?),
                    analysis: NewAnalysis {
                        dataset_id: r.get::<_, Option<i64>>(1)?.map(DatasetId),
                        strategy_id: r.get::<_, Option<i64>>(2)?.map(StrategyId),
                        chart_png: r.get(3)?,
                        findings: json_column(r, 4)?,
                        model: r.get(5)?,
                        confidence: r.get(6)?,
                    },
                    created_at_nanos: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewDataset;

    fn dataset() -> NewDataset {
        NewDataset {
            source_path: "/data/eurusd.csv".into(),
            symbol: Some("EURUSD".into()),
            timeframe: Some("H1".into()),
            first_ts_nanos: 1,
            last_ts_nanos: 2,
            rows: 2,
            checksum: "abc".into(),
            format: "generic CSV".into(),
        }
    }

    #[test]
    fn typed_round_trip_of_every_table() {
        let mut lib = Library::open_in_memory().unwrap();
        let d = lib.add_dataset(&dataset()).unwrap();
        assert_eq!(lib.add_dataset(&dataset()).unwrap(), d, "same file registers once");
        let s = lib.add_strategy("SMA cross", &serde_json::json!({"version": 1})).unwrap();
        let b = NewBacktest {
            strategy_id: s,
            dataset_id: Some(d),
            metrics: serde_json::json!({"sharpe": 1.5}),
            equity: vec![(1, 100_000.0), (2, 100_250.5)],
            trades: serde_json::json!([{"side": "long", "pnl": 250.5}]),
        };
        lib.add_backtest(&b).unwrap();
        assert_eq!(lib.backtests_for_strategy(s).unwrap()[0].backtest, b);
        let p = NewPatternStats {
            dataset_id: Some(d),
            name: "engulfing".into(),
            horizon_bars: Some(10),
            occurrences: 42,
            stats: serde_json::json!({"hit_rate": 0.55}),
        };
        lib.add_pattern_stats(&p).unwrap();
        assert_eq!(lib.patterns_for_dataset(d).unwrap()[0].pattern, p);
        let a = NewAnalysis {
            dataset_id: Some(d),
            strategy_id: Some(s),
            chart_png: Some(vec![0x89, b'P', b'N', b'G']),
            findings: serde_json::json!({"pattern": "double_top"}),
            model: "rule-based".into(),
            confidence: Some(0.7),
        };
        let aid = lib.add_analysis(&a).unwrap();
        assert_eq!(lib.analyses().unwrap()[0].analysis, a);
        lib.tag(crate::store::TagTarget::Analysis(aid), "breakout").unwrap();
        assert_eq!(lib.tags_of(crate::store::TagTarget::Analysis(aid)).unwrap(), vec!["breakout".to_string()]);
        assert!(lib.add_analysis(&NewAnalysis { confidence: Some(1.5), ..a }).is_err());
        // Deleting the dataset cascades to patterns and nulls the references of results.
        assert!(lib.delete_dataset(d).unwrap());
        assert!(lib.patterns_for_dataset(d).unwrap().is_empty());
        assert_eq!(lib.backtests_for_strategy(s).unwrap()[0].backtest.dataset_id, None);
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let mut lib = Library::open_in_memory().unwrap();
        let missing = NewBacktest {
            strategy_id: StrategyId(99),
            dataset_id: None,
            metrics: serde_json::json!({}),
            equity: vec![],
            trades: serde_json::json!([]),
        };
        assert!(lib.add_backtest(&missing).is_err());
    }

    #[test]
    fn equity_blob_round_trips() {
        let pts = vec![(-5, -1.5), (i64::MAX, f64::MAX)];
        assert_eq!(decode_equity(&encode_equity(&pts)).unwrap(), pts);
        assert_eq!(decode_equity(&[1, 2, 3]), None);
    }
}
