-- Lineage: what each run used (its declared `inputs:`, resolved and
-- hashed before it started), and names given to artifacts (`expman
-- artifacts tag`) that later runs and commands can refer to.
CREATE TABLE run_inputs (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    -- The input's name (the key under `inputs:`, or the file name).
    name          TEXT    NOT NULL,
    -- As written: a path, `run:ID/PATH`, `trial:NAME/PATH` or `alias:NAME`.
    reference     TEXT    NOT NULL,
    -- `file`, `directory` or `artifact`.
    kind          TEXT    NOT NULL,
    -- The file or directory it resolved to, absolute.
    path          TEXT    NOT NULL,
    -- SHA-256 of the content (a directory: of its sorted file list with
    -- each file's digest).
    sha256        TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    -- The run whose artifact it is, for `run:`, `trial:` and `alias:`.
    source_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX run_inputs_by_run ON run_inputs (run_id);
CREATE INDEX run_inputs_by_source ON run_inputs (source_run_id);
CREATE INDEX run_inputs_by_content ON run_inputs (sha256);
CREATE INDEX artifacts_by_content ON artifacts (sha256);

CREATE TABLE artifact_aliases (
    name        TEXT    PRIMARY KEY,
    artifact_id INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);
