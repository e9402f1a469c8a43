-- Last, min, max and count of each metric of each run, kept current at
-- ingest, so that listing thousands of runs never scans every point.
CREATE TABLE metric_summaries (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    last_step  INTEGER NOT NULL,
    last_ts    INTEGER NOT NULL,
    last_value REAL,
    min_value  REAL,
    max_value  REAL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
);

INSERT INTO metric_summaries (run_id, key, last_step, last_ts, last_value, min_value, max_value, count)
SELECT run_id, key, step, timestamp, value, mn, mx, n FROM (
    SELECT run_id, key, step, timestamp, value,
           MIN(value) OVER w AS mn, MAX(value) OVER w AS mx, COUNT(*) OVER w AS n,
           ROW_NUMBER() OVER (PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC) AS rn
    FROM metrics
    WINDOW w AS (PARTITION BY run_id, key)
) WHERE rn = 1;
