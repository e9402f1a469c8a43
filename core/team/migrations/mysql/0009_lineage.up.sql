-- As ../0009_lineage.up.sql: what each run used, and artifact names. Run
-- inputs replicate with their run (the source run is a workspace's own id,
-- so it stays NULL here: a team database links runs by content, the
-- SHA-256 an input shares with an artifact). Aliases stay in the workspace.
CREATE TABLE run_inputs (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_id        BIGINT       NOT NULL,
    name          VARCHAR(255) NOT NULL,
    reference     TEXT         NOT NULL,
    kind          VARCHAR(16)  NOT NULL,
    path          TEXT         NOT NULL,
    sha256        VARCHAR(64)  NOT NULL,
    size          BIGINT       NOT NULL,
    source_run_id BIGINT,
    created_at    BIGINT       NOT NULL,
    KEY run_inputs_by_run (run_id),
    KEY run_inputs_by_source (source_run_id),
    KEY run_inputs_by_content (sha256),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE INDEX artifacts_by_content ON artifacts (sha256);

CREATE TABLE artifact_aliases (
    name        VARCHAR(255) NOT NULL PRIMARY KEY,
    artifact_id BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    FOREIGN KEY (artifact_id) REFERENCES artifacts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
