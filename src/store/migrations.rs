//! Versioned schema migrations: migration N (1-based) upgrades `user_version` N−1 to N.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// The migrations in order; index + 1 is the version each one produces.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    ("0002_results", include_str!("migrations/0002_results.sql")),
];

/// The newest schema version.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Upgrades `conn` to `target` (at most [`LATEST_VERSION`]), one transaction per migration.
/// A database newer than this program is refused rather than touched.
pub fn apply_migrations(conn: &mut Connection, target: i64, path: &Path) -> Result<(), StoreError> {
    let sql_err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql_err)?;
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found: current, supported: LATEST_VERSION });
    }
    let target = target.min(LATEST_VERSION);
    for version in (current + 1)..=target {
        let (name, sql) = MIGRATIONS[(version - 1) as usize];
        let tx = conn.transaction().map_err(sql_err)?;
        tx.execute_batch(sql).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", version).map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        tracing::info!(migration = name, version, "library schema upgraded");
    }
    Ok(())
}
