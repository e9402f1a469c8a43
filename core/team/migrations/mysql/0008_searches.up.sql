-- As ../0008_searches.up.sql: a search and its points. The version must
-- match the workspaces' SQLite files for replication to go on; the rows
-- themselves stay in the workspace that ran the search (its runs, with
-- their values as params, replicate as any run).
CREATE TABLE searches (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    experiment_id BIGINT       NOT NULL,
    trial         VARCHAR(255) NOT NULL,
    fingerprint   VARCHAR(64)  NOT NULL,
    definition    MEDIUMTEXT   NOT NULL,
    metric        VARCHAR(255) NOT NULL,
    mode          VARCHAR(8)   NOT NULL,
    budget        BIGINT       NOT NULL,
    created_at    BIGINT       NOT NULL,
    KEY searches_by_trial (experiment_id, trial, fingerprint),
    FOREIGN KEY (experiment_id) REFERENCES experiments (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE search_points (
    search_id  BIGINT     NOT NULL,
    number     BIGINT     NOT NULL,
    params     MEDIUMTEXT NOT NULL,
    run_id     BIGINT,
    created_at BIGINT     NOT NULL,
    PRIMARY KEY (search_id, number),
    KEY search_points_by_run (run_id),
    FOREIGN KEY (search_id) REFERENCES searches (id) ON DELETE CASCADE,
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
