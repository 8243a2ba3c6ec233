-- Chart drawings (trend lines, Fibonacci retracements, position boxes …) saved with the data they were drawn on,
-- keyed by the BLAKE3 checksum of the file's bytes so they follow the data wherever the file is opened from.
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY,
    dataset_checksum TEXT NOT NULL,
    position INTEGER NOT NULL,
    drawing TEXT NOT NULL CHECK (json_valid(drawing)),
    UNIQUE (dataset_checksum, position)
);
