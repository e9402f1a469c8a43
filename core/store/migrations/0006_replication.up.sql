-- Replication between databases (`expman db copy`, the team database):
-- for each run a database holds that another database sent it, which
-- database that was (the run's origin: only it updates the run here), the
-- run's state when it was last sent (a run that ended and has not changed
-- since is not looked at again), and how far its append-only rows have
-- come (the origin's row ids). Written in the same transaction as the
-- rows, so a send cut off at any point is neither lost nor doubled.
CREATE TABLE replica_cursors (
    run_id        INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    origin        TEXT    NOT NULL,
    fingerprint   TEXT    NOT NULL,
    metrics_upto  INTEGER NOT NULL DEFAULT 0,
    hardware_upto INTEGER NOT NULL DEFAULT 0,
    events_upto   INTEGER NOT NULL DEFAULT 0
);
