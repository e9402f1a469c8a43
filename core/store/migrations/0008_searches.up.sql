-- Adaptive searches (a trial's `search:`): the search, and each of its
-- suggestions with the run that tries it. A search's state is these rows
-- and its runs' records; nothing else (resuming and sharing need no more).
CREATE TABLE searches (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    -- The trial's declared name.
    trial         TEXT    NOT NULL,
    -- SHA-256 of its definition (the block without its budget keys, the
    -- trial's settings, base.yaml, the overrides): `--resume` continues
    -- only a search defined the same way.
    fingerprint   TEXT    NOT NULL,
    definition    TEXT    NOT NULL,
    metric        TEXT    NOT NULL,
    mode          TEXT    NOT NULL,
    budget        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX searches_by_trial ON searches (experiment_id, trial, fingerprint);

CREATE TABLE search_points (
    search_id  INTEGER NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
    -- 0, 1, 2, ... in the order suggested.
    number     INTEGER NOT NULL,
    -- One value per dimension of the space, as JSON.
    params     TEXT    NOT NULL,
    -- The run trying it now (a point interrupted and tried again points at
    -- its last run).
    run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (search_id, number)
);
CREATE INDEX search_points_by_run ON search_points (run_id);
