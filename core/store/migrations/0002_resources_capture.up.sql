-- What each run cost the machine, summarized when it ends.
CREATE TABLE run_resources (
    run_id          INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    wall_ms         INTEGER,
    cpu_ms          INTEGER,
    mean_cpu_percent REAL,
    peak_cpu_percent REAL,
    peak_rss        INTEGER,
    mean_gpu_util   REAL,
    peak_gpu_util   REAL,
    mean_gpu_mem    INTEGER,
    peak_gpu_mem    INTEGER,
    samples         INTEGER NOT NULL
);

-- What is needed to reproduce a run, beyond its config and command.
CREATE TABLE run_capture (
    run_id      INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    env         TEXT,
    git_branch  TEXT,
    host        TEXT,
    expman_version TEXT
);
