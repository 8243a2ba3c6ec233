-- Version 5: an analysis keeps everything it was made of (issue: one-click analysis loop): what it read, who
-- answered and what, the Pine script and both backtests it led to, and the full report for the Library panel.
ALTER TABLE analyses ADD COLUMN symbol TEXT;
ALTER TABLE analyses ADD COLUMN timeframe TEXT;
ALTER TABLE analyses ADD COLUMN analyst TEXT;
ALTER TABLE analyses ADD COLUMN pattern TEXT;
ALTER TABLE analyses ADD COLUMN prompt TEXT;
ALTER TABLE analyses ADD COLUMN raw_output TEXT;
ALTER TABLE analyses ADD COLUMN seed INTEGER;
ALTER TABLE analyses ADD COLUMN pine_script_id INTEGER REFERENCES pine_scripts (id) ON DELETE SET NULL;
ALTER TABLE analyses ADD COLUMN in_sample_backtest_id INTEGER REFERENCES backtests (id) ON DELETE SET NULL;
ALTER TABLE analyses ADD COLUMN out_of_sample_backtest_id INTEGER REFERENCES backtests (id) ON DELETE SET NULL;
-- Everything else (reading, strategy, rationale, metrics, timings, fallbacks) as JSON.
ALTER TABLE analyses ADD COLUMN report_json TEXT CHECK (report_json IS NULL OR json_valid(report_json));
CREATE INDEX analyses_symbol ON analyses (symbol, created_at_nanos);
