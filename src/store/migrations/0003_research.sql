-- Version 3: parameter sweeps and walk-forward runs, generated Pine scripts, and the trade list of a backtest.
CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY,
    strategy_id INTEGER NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets (id) ON DELETE SET NULL,
    -- 'sweep', 'walkforward_rolling' or 'walkforward_anchored'.
    kind TEXT NOT NULL,
    rank_by TEXT NOT NULL,
    result_json TEXT NOT NULL CHECK (json_valid(result_json)),
    created_at_nanos INTEGER NOT NULL
);
CREATE INDEX sweeps_strategy ON sweeps (strategy_id);

CREATE TABLE pine_scripts (
    id INTEGER PRIMARY KEY,
    strategy_id INTEGER NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    -- Validator diagnostics as a JSON array of {line, col, severity, message}.
    diagnostics_json TEXT NOT NULL CHECK (json_valid(diagnostics_json)),
    created_at_nanos INTEGER NOT NULL
);
CREATE INDEX pine_scripts_strategy ON pine_scripts (strategy_id);

ALTER TABLE backtests ADD COLUMN trades_json TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(trades_json));
