-- As ../0003_metric_summaries.up.sql (without the backfill: a MySQL
-- database gets its metrics after this table exists).
CREATE TABLE metric_summaries (
    run_id     BIGINT       NOT NULL,
    `key`      VARCHAR(255) NOT NULL,
    last_step  BIGINT       NOT NULL,
    last_ts    BIGINT       NOT NULL,
    last_value DOUBLE,
    min_value  DOUBLE,
    max_value  DOUBLE,
    `count`    BIGINT       NOT NULL,
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
