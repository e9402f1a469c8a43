-- expman store, version 1. Portable SQL: integer keys, TEXT, REAL, INTEGER
-- timestamps in Unix milliseconds (UTC). Append-only: a released file is
-- never edited; changes come as new numbered files.

CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT,
    config_dir  TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE trials (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    base_name     TEXT    NOT NULL,
    sweep         TEXT,
    description   TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (experiment_id, name)
);

-- The processes that ran experiments: a run whose runner is gone is LOST.
CREATE TABLE runners (
    id           INTEGER PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    pid_started  INTEGER,
    user_name    TEXT,
    command      TEXT,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    ended_at     INTEGER
);

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    uid             TEXT    NOT NULL UNIQUE,
    experiment_id   INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    trial_id        INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    repeat          INTEGER NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 1,
    status          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER,
    host            TEXT,
    pid             INTEGER,
    pid_started     INTEGER,
    runner_id       INTEGER REFERENCES runners(id),
    exit_code       INTEGER,
    signal          INTEGER,
    error           TEXT,
    config          TEXT    NOT NULL,
    config_hash     TEXT    NOT NULL,
    seed            INTEGER,
    command         TEXT,
    run_dir         TEXT,
    git_commit      TEXT,
    git_dirty       INTEGER,
    events_offset   INTEGER NOT NULL DEFAULT 0,
    malformed_lines INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, status);
CREATE INDEX runs_by_trial ON runs (trial_id, repeat);
CREATE INDEX runs_by_identity ON runs (experiment_id, trial_id, repeat, config_hash);
CREATE INDEX runs_by_status ON runs (status);

-- Flattened dotted keys; the value in the column of its type.
CREATE TABLE params (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    value_type TEXT    NOT NULL,
    value_text TEXT,
    value_num  REAL,
    PRIMARY KEY (run_id, key)
);

-- value is NULL for NaN (SQL has no NaN).
CREATE TABLE metrics (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    step      INTEGER NOT NULL,
    epoch     INTEGER,
    value     REAL,
    timestamp INTEGER NOT NULL
);
CREATE INDEX metrics_by_run_key_step ON metrics (run_id, key, step);

CREATE TABLE tags (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE artifacts (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    path       TEXT    NOT NULL,
    size       INTEGER,
    sha256     TEXT,
    kind       TEXT    NOT NULL,
    epoch      INTEGER,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX artifacts_by_run ON artifacts (run_id);

-- Filled by the hardware sampler; run_id NULL for machine-wide samples.
CREATE TABLE hardware_samples (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    timestamp   INTEGER NOT NULL,
    host        TEXT,
    cpu_percent REAL,
    mem_used    INTEGER,
    mem_total   INTEGER,
    gpu_percent REAL,
    gpu_mem     INTEGER,
    data        TEXT
);
CREATE INDEX hardware_by_run_time ON hardware_samples (run_id, timestamp);

-- Append-only audit log: who ran what, when; notes trials wrote.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    timestamp     INTEGER NOT NULL,
    user_name     TEXT,
    host          TEXT,
    pid           INTEGER,
    experiment_id INTEGER REFERENCES experiments(id) ON DELETE CASCADE,
    run_id        INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    detail        TEXT
);
CREATE INDEX events_by_run ON events (run_id);
