//! Strategies: named strategy specs stored as JSON.

use rusqlite::{OptionalExtension, params};

use super::{Library, StoreError, now_nanos};

/// Row id of a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StrategyId(pub i64);

/// A stored strategy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StrategyRecord {
    /// Row id.
    pub id: StrategyId,
    /// Display name.
    pub name: String,
    /// The strategy spec.
    pub spec: serde_json::Value,
    /// Creation time, UTC nanoseconds.
    pub created_at_nanos: i64,
    /// Last update, UTC nanoseconds.
    pub updated_at_nanos: i64,
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StrategyRecord> {
    let spec_text: String = r.get(2)?;
    let spec = serde_json::from_str(&spec_text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(StrategyRecord {
        id: StrategyId(r.get(0)?),
        name: r.get(1)?,
        spec,
        created_at_nanos: r.get(3)?,
        updated_at_nanos: r.get(4)?,
    })
}

/// Inserts a strategy (spec as JSON text) inside `tx`.
pub(super) fn insert_strategy(
    tx: &rusqlite::Transaction<'_>,
    name: &str,
    spec_json: &str,
    now_nanos: i64,
) -> rusqlite::Result<StrategyId> {
    tx.query_row(
        "INSERT INTO strategies (name, spec_json, created_at_nanos, updated_at_nanos)
         VALUES (?1, ?2, ?3, ?3) RETURNING id",
        params![name, spec_json, now_nanos],
        |r| r.get(0),
    )
    .map(StrategyId)
}

impl Library {
    /// Stores a new strategy.
    pub fn add_strategy(&mut self, name: &str, spec: &serde_json::Value) -> Result<StrategyId, StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid { field: "name", message: "empty".into() });
        }
        let now = now_nanos();
        let spec = spec.to_string();
        self.write(|tx| insert_strategy(tx, name, &spec, now))
    }

    /// The id of the strategy stored with exactly this name and spec, storing it first when there is none.
    pub fn strategy_id_for(&mut self, name: &str, spec: &serde_json::Value) -> Result<StrategyId, StoreError> {
        match self.strategies()?.into_iter().find(|s| s.name == name && &s.spec == spec) {
            Some(s) => Ok(s.id),
            None => self.add_strategy(name, spec),
        }
    }

    /// Replaces a strategy's name and spec; false when it does not exist.
    pub fn update_strategy(
        &mut self,
        id: StrategyId,
        name: &str,
        spec: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let spec = spec.to_string();
        self.write(|tx| {
            tx.execute(
                "UPDATE strategies SET name = ?2, spec_json = ?3, updated_at_nanos = ?4 WHERE id = ?1",
                params![id.0, name, spec, now_nanos()],
            )
            .map(|n| n > 0)
        })
    }

    /// All strategies, most recently updated first.
    pub fn strategies(&self) -> Result<Vec<StrategyRecord>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT id, name, spec_json, created_at_nanos, updated_at_nanos FROM strategies
                 ORDER BY updated_at_nanos DESC, id DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// One strategy by id.
    pub fn strategy(&self, id: StrategyId) -> Result<Option<StrategyRecord>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, name, spec_json, created_at_nanos, updated_at_nanos FROM strategies WHERE id = ?1",
                [id.0],
                from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
