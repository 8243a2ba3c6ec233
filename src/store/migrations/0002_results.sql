-- Version 2: results produced from datasets and strategies: backtests, mined patterns, analyses.
CREATE TABLE backtests (
    id INTEGER PRIMARY KEY,
    strategy_id INTEGER NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
    metrics_json TEXT NOT NULL CHECK (json_valid(metrics_json)),
    -- Equity curve: little-endian pairs of (i64 time in UTC nanoseconds, f64 equity).
    equity BLOB NOT NULL,
    created_at_nanos INTEGER NOT NULL
);
CREATE INDEX backtests_strategy ON backtests (strategy_id);

CREATE TABLE patterns (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER REFERENCES datasets (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    horizon_bars INTEGER,
    occurrences INTEGER NOT NULL DEFAULT 0 CHECK (occurrences >= 0),
    stats_json TEXT NOT NULL CHECK (json_valid(stats_json)),
    created_at_nanos INTEGER NOT NULL
);
CREATE INDEX patterns_dataset ON patterns (dataset_id, name);

CREATE TABLE analyses (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
    strategy_id INTEGER REFERENCES strategies (id) ON DELETE SET NULL,
    chart_png BLOB,
    findings_json TEXT NOT NULL CHECK (json_valid(findings_json)),
    model TEXT NOT NULL,
    confidence REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    created_at_nanos INTEGER NOT NULL
);
CREATE INDEX analyses_dataset ON analyses (dataset_id);

CREATE TABLE analysis_tags (
    analysis_id INTEGER NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (analysis_id, tag_id)
);
