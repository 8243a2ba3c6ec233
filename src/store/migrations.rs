//! Versioned schema migrations: migration N (1-based) upgrades `user_version` N−1 to N.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The migrations in order; index + 1 is the version each one produces.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    ("0002_results", include_str!("migrations/0002_results.sql")),
    ("0003_research", include_str!("migrations/0003_research.sql")),
    ("0004_drawings", include_str!("migrations/0004_drawings.sql")),
    ("0005_analysis_runs", include_str!("migrations/0005_analysis_runs.sql")),
];

/// The newest schema version.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Upgrades `conn` to `target` (at most [`LATEST_VERSION`]), one transaction per migration.
/// A database newer than this program is refused rather than touched. An up-to-date one is only read. Each step
/// takes the write lock first (`BEGIN IMMEDIATE`) and re-reads the version inside its transaction, so two
/// processes or threads opening a new library at the same time never apply the same migration twice.
pub fn apply_migrations(conn: &mut Connection, target: i64, path: &Path) -> Result<(), StoreError> {
    let sql_err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let target = target.min(LATEST_VERSION);
    // An up-to-date library is only read: opening it does not take the write lock (which a busy writer elsewhere
    // would have to wait for).
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql_err)?;
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found: current, supported: LATEST_VERSION });
    }
    if current >= target {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql_err)?;
        if current > LATEST_VERSION {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found: current, supported: LATEST_VERSION });
        }
        if current >= target {
            return Ok(());
        }
        let version = current + 1;
        let (name, sql) = MIGRATIONS[(version - 1) as usize];
        tx.execute_batch(sql).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", version).map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        tracing::info!(migration = name, version, "library schema upgraded");
    }
}
