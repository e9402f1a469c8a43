-- As ../0006_replication.up.sql.
CREATE TABLE replica_cursors (
    run_id        BIGINT       NOT NULL PRIMARY KEY,
    origin        VARCHAR(512) NOT NULL,
    fingerprint   VARCHAR(512) NOT NULL,
    metrics_upto  BIGINT       NOT NULL DEFAULT 0,
    hardware_upto BIGINT       NOT NULL DEFAULT 0,
    events_upto   BIGINT       NOT NULL DEFAULT 0,
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
