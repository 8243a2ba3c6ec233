//! Tags on datasets, strategies and analyses (case-insensitive names).

use rusqlite::params;

use super::{AnalysisId, DatasetId, Library, StoreError, StrategyId};

/// What a tag is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTarget {
    /// A dataset.
    Dataset(DatasetId),
    /// A strategy.
    Strategy(StrategyId),
    /// An analysis.
    Analysis(AnalysisId),
}

impl TagTarget {
    fn table_and_id(&self) -> (&'static str, &'static str, i64) {
        match self {
            Self::Dataset(id) => ("dataset_tags", "dataset_id", id.0),
            Self::Strategy(id) => ("strategy_tags", "strategy_id", id.0),
            Self::Analysis(id) => ("analysis_tags", "analysis_id", id.0),
        }
    }
}

impl Library {
    /// Attaches tag `name` to `target` (creating the tag; attaching twice is a no-op).
    pub fn tag(&mut self, target: TagTarget, name: &str) -> Result<(), StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid { field: "tag", message: "empty".into() });
        }
        let (table, column, id) = target.table_and_id();
        self.write(|tx| {
            tx.execute("INSERT INTO tags (name) VALUES (?1) ON CONFLICT (name) DO NOTHING", [name])?;
            let tag_id: i64 = tx.query_row("SELECT id FROM tags WHERE name = ?1", [name], |r| r.get(0))?;
            tx.execute(
                &format!("INSERT INTO {table} ({column}, tag_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"),
                params![id, tag_id],
            )?;
            Ok(())
        })
    }

    /// Removes tag `name` from `target`.
    pub fn untag(&mut self, target: TagTarget, name: &str) -> Result<(), StoreError> {
        let (table, column, id) = target.table_and_id();
        self.write(|tx| {
            tx.execute(
                &format!("DELETE FROM {table} WHERE {column} = ?1 AND tag_id = (SELECT id FROM tags WHERE name = ?2)"),
                params![id, name.trim()],
            )?;
            Ok(())
        })
    }

    /// The tags of `target`, sorted.
    pub fn tags_of(&self, target: TagTarget) -> Result<Vec<String>, StoreError> {
        let (table, column, id) = target.table_and_id();
        let mut stmt = self
            .conn()
            .prepare(&format!(
                "SELECT t.name FROM tags t JOIN {table} j ON j.tag_id = t.id WHERE j.{column} = ?1 ORDER BY t.name"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([id], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
