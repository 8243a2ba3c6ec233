//! Datasets: bar files that were imported or downloaded, identified by source path and content checksum.

use rusqlite::{OptionalExtension, params};

use super::{Library, StoreError, now_nanos};

/// Row id of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DatasetId(pub i64);

/// A dataset to register.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewDataset {
    /// The file the bars came from.
    pub source_path: String,
    /// Instrument symbol, if known.
    pub symbol: Option<String>,
    /// Timeframe (`H1`), if known.
    pub timeframe: Option<String>,
    /// First bar time, UTC nanoseconds.
    pub first_ts_nanos: i64,
    /// Last bar time, UTC nanoseconds.
    pub last_ts_nanos: i64,
    /// Number of bars.
    pub rows: u64,
    /// BLAKE3 of the source file, hex.
    pub checksum: String,
    /// Source format / dialect, human-readable.
    pub format: String,
}

/// A registered dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatasetRecord {
    /// Row id.
    pub id: DatasetId,
    /// The registered fields.
    #[serde(flatten)]
    pub dataset: NewDataset,
    /// When it was registered, UTC nanoseconds.
    pub created_at_nanos: i64,
}

impl NewDataset {
    /// The dataset entry for bars loaded from `source` (its canonical path is stored).
    pub fn from_loaded(loaded: &crate::ingest::LoadedBars, source: &std::path::Path) -> Self {
        let (first_ts_nanos, last_ts_nanos) = loaded.bars.time_range_nanos().unwrap_or((0, 0));
        let source = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        Self {
            source_path: source.display().to_string(),
            symbol: loaded.symbol.clone(),
            timeframe: loaded.timeframe.map(|t| t.to_string()),
            first_ts_nanos,
            last_ts_nanos,
            rows: loaded.bars.len() as u64,
            checksum: loaded.checksum.clone(),
            format: loaded.format.to_string(),
        }
    }
}

const COLUMNS: &str =
    "id, source_path, symbol, timeframe, first_ts_nanos, last_ts_nanos, rows, checksum, format, created_at_nanos";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DatasetRecord> {
    Ok(DatasetRecord {
        id: DatasetId(r.get(0)?),
        dataset: NewDataset {
            source_path: r.get(1)?,
            symbol: r.get(2)?,
            timeframe: r.get(3)?,
            first_ts_nanos: r.get(4)?,
            last_ts_nanos: r.get(5)?,
            rows: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            checksum: r.get(7)?,
            format: r.get(8)?,
        },
        created_at_nanos: r.get(9)?,
    })
}

impl Library {
    /// Registers a dataset; registering the same source path and checksum again updates its metadata and
    /// returns the existing id.
    pub fn add_dataset(&mut self, d: &NewDataset) -> Result<DatasetId, StoreError> {
        if d.first_ts_nanos > d.last_ts_nanos {
            return Err(StoreError::Invalid { field: "first_ts_nanos", message: "after last_ts_nanos".into() });
        }
        let rows =
            i64::try_from(d.rows).map_err(|_| StoreError::Invalid { field: "rows", message: "too large".into() })?;
        self.write(|tx| {
            tx.query_row(
                "INSERT INTO datasets (source_path, symbol, timeframe, first_ts_nanos, last_ts_nanos, rows, checksum,
                                       format, created_at_nanos)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (source_path, checksum) DO UPDATE SET
                     symbol = excluded.symbol, timeframe = excluded.timeframe, first_ts_nanos = excluded.first_ts_nanos,
                     last_ts_nanos = excluded.last_ts_nanos, rows = excluded.rows, format = excluded.format
                 RETURNING id",
                params![
                    d.source_path,
                    d.symbol,
                    d.timeframe,
                    d.first_ts_nanos,
                    d.last_ts_nanos,
                    rows,
                    d.checksum,
                    d.format,
                    now_nanos()
                ],
                |r| r.get(0),
            )
            .map(DatasetId)
        })
    }

    /// All datasets, newest first.
    pub fn datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM datasets ORDER BY created_at_nanos DESC, id DESC"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One dataset by id.
    pub fn dataset(&self, id: DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        self.conn()
            .query_row(&format!("SELECT {COLUMNS} FROM datasets WHERE id = ?1"), [id.0], from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Deletes a dataset (its tags, patterns go with it; backtests and analyses keep a null reference).
    pub fn delete_dataset(&mut self, id: DatasetId) -> Result<bool, StoreError> {
        self.write(|tx| tx.execute("DELETE FROM datasets WHERE id = ?1", [id.0]).map(|n| n > 0))
    }
}
