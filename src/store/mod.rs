//! The local SQLite library: datasets, strategies, backtests, mined patterns, analyses, chart drawings and tags
//! in one file.
//!
//! Imports `domain` and `ingest` (the library is downstream of everything it stores). The schema is versioned
//! by `PRAGMA user_version` and upgraded by the SQL files in `migrations/`, each applied in its own transaction.
//! The connection runs in WAL mode with foreign keys on; every write of the typed API is one transaction, so a
//! crash leaves either all of a write or none of it.

mod analyses;
mod datasets;
mod drawings;
mod migrations;
mod research;
mod results;
mod strategies;
mod tags;

use std::path::{Path, PathBuf};

pub use analyses::{AnalysisRunIds, AnalysisSummary, NewAnalysisRun};
pub use datasets::{DatasetId, DatasetRecord, NewDataset};
pub use migrations::{LATEST_VERSION, MIGRATIONS, apply_migrations};
pub use research::{NewSweep, PineScriptId, PineScriptRecord, SweepId, SweepRecord};
pub use results::{
    AnalysisId, AnalysisRecord, BacktestId, BacktestRecord, NewAnalysis, NewBacktest, NewPatternStats, PatternId,
    PatternRecord, decode_equity, encode_equity,
};
pub use strategies::{StrategyId, StrategyRecord};
pub use tags::TagTarget;

use rusqlite::Connection;

/// Environment variable that overrides the library location.
pub const LIBRARY_ENV: &str = "AIO_LIBRARY";

/// Errors of the library. Paths come last in messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("library error: {source} in {}", path.display())]
    Sqlite {
        /// The library file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer program.
    #[error("library schema version {found} is newer than this program's {supported}; update aio to open {}", path.display())]
    TooNew {
        /// The library file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Latest version this program knows.
        supported: i64,
    },
    /// The library directory could not be created.
    #[error("cannot create the library directory: {source} for {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A value passed to the API is invalid.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// Which argument.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No home directory to put the default library in.
    #[error("no data directory found; set {LIBRARY_ENV} or pass --library PATH")]
    NoDataDir,
}

/// An open library.
#[derive(Debug)]
pub struct Library {
    conn: Connection,
    path: PathBuf,
}

/// True for SQLite's "database is busy/locked" answers.
fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Current time in UTC nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

impl Library {
    /// The library path: `explicit` if given, else `$AIO_LIBRARY`, else `<XDG data dir>/aio/library.sqlite`.
    pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf, StoreError> {
        if let Some(path) = explicit {
            return Ok(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os(LIBRARY_ENV).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let dirs = directories::ProjectDirs::from("", "", "aio").ok_or(StoreError::NoDataDir)?;
        Ok(dirs.data_dir().join("library.sqlite"))
    }

    /// Opens (creating if needed) the library at `path` and upgrades its schema to the latest version.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), source })?;
        Self::init(conn, path.to_path_buf())
    }

    /// Opens a private in-memory library (for previews and tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        Self::init(conn, path)
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        // While another connection switches a new file to WAL, SQLite can answer SQLITE_BUSY at once instead
        // of waiting in the busy handler; the whole (idempotent) set-up is retried until the deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Self::configure(&mut conn, &path) {
                Ok(()) => return Ok(Self { conn, path }),
                Err(StoreError::Sqlite { source, .. }) if is_busy(&source) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// WAL, `synchronous = NORMAL`, foreign keys, then the migrations.
    fn configure(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
        let sql_err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql_err)?;
        apply_migrations(conn, LATEST_VERSION, path)
    }

    /// Where the library lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Runs `PRAGMA integrity_check` and returns its report (`["ok"]` when healthy).
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// Runs `f` inside one transaction, committing only when it succeeds. The transaction takes the write lock
    /// when it begins (`BEGIN IMMEDIATE`): a deferred one that reads before it writes cannot wait for another
    /// writer (SQLite answers "database is locked" at once), an immediate one waits in the busy handler.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        let value = f(&tx).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(value)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins_over_environment() {
        let p = Library::resolve_path(Some(Path::new("/tmp/x.sqlite"))).unwrap();
        assert_eq!(p, PathBuf::from("/tmp/x.sqlite"));
    }

    #[test]
    fn fresh_library_is_at_latest_version_with_foreign_keys() {
        let lib = Library::open_in_memory().unwrap();
        assert_eq!(lib.schema_version().unwrap(), LATEST_VERSION);
        let fk: i64 = lib.conn().pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        assert_eq!(lib.integrity_check().unwrap(), vec!["ok".to_string()]);
    }
}
