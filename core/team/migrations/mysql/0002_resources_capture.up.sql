-- As ../0002_resources_capture.up.sql.
CREATE TABLE run_resources (
    run_id           BIGINT NOT NULL PRIMARY KEY,
    wall_ms          BIGINT,
    cpu_ms           BIGINT,
    mean_cpu_percent DOUBLE,
    peak_cpu_percent DOUBLE,
    peak_rss         BIGINT,
    mean_gpu_util    DOUBLE,
    peak_gpu_util    DOUBLE,
    mean_gpu_mem     BIGINT,
    peak_gpu_mem     BIGINT,
    samples          BIGINT NOT NULL,
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE run_capture (
    run_id         BIGINT NOT NULL PRIMARY KEY,
    env            MEDIUMTEXT,
    git_branch     VARCHAR(255),
    host           MEDIUMTEXT,
    expman_version VARCHAR(64),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
