//! Chart drawings saved with their dataset (keyed by the file's checksum), as JSON objects in drawing order.

use rusqlite::params;

use super::{Library, StoreError};

impl Library {
    /// The drawings saved for the data whose file has BLAKE3 `checksum`, in order.
    pub fn drawings(&self, checksum: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT drawing FROM drawings WHERE dataset_checksum = ?1 ORDER BY position")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map(params![checksum], |r| r.get::<_, String>(0)).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.err(e))?;
            let value = serde_json::from_str(&text)
                .map_err(|e| StoreError::Invalid { field: "drawing", message: e.to_string() })?;
            out.push(value);
        }
        Ok(out)
    }

    /// Replaces the drawings of `checksum` with `drawings`, in one transaction.
    pub fn replace_drawings(&mut self, checksum: &str, drawings: &[serde_json::Value]) -> Result<(), StoreError> {
        if checksum.trim().is_empty() {
            return Err(StoreError::Invalid { field: "dataset_checksum", message: "empty".into() });
        }
        self.write(|tx| {
            tx.execute("DELETE FROM drawings WHERE dataset_checksum = ?1", params![checksum])?;
            for (position, drawing) in drawings.iter().enumerate() {
                tx.execute(
                    "INSERT INTO drawings (dataset_checksum, position, drawing) VALUES (?1, ?2, ?3)",
                    params![checksum, position as i64, drawing.to_string()],
                )?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawings_are_replaced_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib.sqlite")).unwrap();
        let a = serde_json::json!({"kind": "trend_line", "n": 1});
        let b = serde_json::json!({"kind": "rectangle", "n": 2});
        lib.replace_drawings("abc", &[a.clone(), b.clone()]).unwrap();
        lib.replace_drawings("other", std::slice::from_ref(&a)).unwrap();
        assert_eq!(lib.drawings("abc").unwrap(), vec![a.clone(), b.clone()]);
        lib.replace_drawings("abc", std::slice::from_ref(&b)).unwrap();
        assert_eq!(lib.drawings("abc").unwrap(), vec![b]);
        assert_eq!(lib.drawings("other").unwrap(), vec![a]);
        assert!(lib.drawings("none").unwrap().is_empty());
        assert!(lib.replace_drawings(" ", &[]).is_err());
    }
}
