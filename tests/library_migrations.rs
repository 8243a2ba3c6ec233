//! The library schema: from empty, and from every earlier version to the latest, keeping data.

use aio::store::{LATEST_VERSION, Library, MIGRATIONS, NewDataset, apply_migrations};
use rusqlite::Connection;

fn schema(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn a_new_library_is_created_at_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/library.sqlite");
    let lib = Library::open(&path).unwrap();
    assert_eq!(lib.schema_version().unwrap(), LATEST_VERSION);
    assert_eq!(LATEST_VERSION as usize, MIGRATIONS.len());
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    for table in ["datasets", "strategies", "backtests", "patterns", "analyses", "tags"] {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "{table}");
    }
}

#[test]
fn every_earlier_version_upgrades_to_the_latest_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("fresh.sqlite");
    drop(Library::open(&fresh_path).unwrap());
    let fresh_schema = schema(&Connection::open(&fresh_path).unwrap());

    for version in 0..LATEST_VERSION {
        let path = dir.path().join(format!("v{version}.sqlite"));
        {
            let mut conn = Connection::open(&path).unwrap();
            apply_migrations(&mut conn, version, &path).unwrap();
            let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(v, version);
            if version >= 1 {
                conn.execute(
                    "INSERT INTO datasets (source_path, symbol, timeframe, first_ts_nanos, last_ts_nanos, rows, checksum,
                                           format, created_at_nanos)
                     VALUES ('/old.csv', 'EURUSD', 'H1', 1, 2, 2, 'c0ffee', 'generic CSV', 3)",
                    [],
                )
                .unwrap();
                conn.execute("INSERT INTO strategies (name, spec_json, created_at_nanos, updated_at_nanos) VALUES ('old', '{}', 1, 1)", [])
                    .unwrap();
            }
        }
        let mut lib = Library::open(&path).unwrap();
        assert_eq!(lib.schema_version().unwrap(), LATEST_VERSION, "from v{version}");
        let datasets = lib.datasets().unwrap();
        assert_eq!(datasets.len(), usize::from(version >= 1), "from v{version}");
        if version >= 1 {
            assert_eq!(datasets[0].dataset.checksum, "c0ffee");
            assert_eq!(lib.strategies().unwrap()[0].name, "old");
        }
        // The upgraded library works with the typed API and has exactly the fresh schema.
        lib.add_dataset(&NewDataset {
            source_path: "/new.csv".into(),
            symbol: None,
            timeframe: None,
            first_ts_nanos: 0,
            last_ts_nanos: 0,
            rows: 0,
            checksum: "x".into(),
            format: String::new(),
        })
        .unwrap();
        drop(lib);
        assert_eq!(schema(&Connection::open(&path).unwrap()), fresh_schema, "from v{version}");
    }
}

#[test]
fn a_library_from_a_newer_program_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1).unwrap();
    }
    let err = Library::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer than this program"), "{err}");
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, LATEST_VERSION + 1);
}

#[test]
fn opening_a_new_library_from_many_threads_at_once_migrates_it_once() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("race{round}.sqlite"));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Library::open(&path).map(|lib| lib.schema_version().unwrap())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), LATEST_VERSION, "round {round}");
        }
    }
}
