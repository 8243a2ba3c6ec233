-- Version 1: imported datasets, strategies and tags.
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    source_path TEXT NOT NULL,
    symbol TEXT,
    timeframe TEXT,
    first_ts_nanos INTEGER NOT NULL,
    last_ts_nanos INTEGER NOT NULL,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    checksum TEXT NOT NULL,
    format TEXT NOT NULL DEFAULT '',
    created_at_nanos INTEGER NOT NULL,
    UNIQUE (source_path, checksum)
);
CREATE INDEX datasets_symbol ON datasets (symbol, timeframe);

CREATE TABLE strategies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    spec_json TEXT NOT NULL CHECK (json_valid(spec_json)),
    created_at_nanos INTEGER NOT NULL,
    updated_at_nanos INTEGER NOT NULL
);

CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

CREATE TABLE dataset_tags (
    dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (dataset_id, tag_id)
);

CREATE TABLE strategy_tags (
    strategy_id INTEGER NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (strategy_id, tag_id)
);
