-- expman store on MySQL 8 / MariaDB 10.11, version 1: the same tables as
-- ../0001_init.up.sql in MySQL's dialect (BIGINT keys, VARCHAR where a
-- column is a key, DOUBLE, InnoDB, utf8mb4 with binary collation so that
-- names compare as SQLite compares them). Append-only, like the SQLite
-- files; each statement ends with a semicolon at the end of a line.

CREATE TABLE experiments (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255) NOT NULL UNIQUE,
    description MEDIUMTEXT,
    config_dir  TEXT,
    created_at  BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE trials (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    experiment_id BIGINT       NOT NULL,
    name          VARCHAR(512) NOT NULL,
    base_name     VARCHAR(255) NOT NULL,
    sweep         MEDIUMTEXT,
    description   MEDIUMTEXT,
    created_at    BIGINT       NOT NULL,
    UNIQUE KEY trials_by_name (experiment_id, name),
    FOREIGN KEY (experiment_id) REFERENCES experiments (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE runners (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    host         VARCHAR(255) NOT NULL,
    pid          BIGINT       NOT NULL,
    pid_started  BIGINT,
    user_name    VARCHAR(255),
    command      MEDIUMTEXT,
    started_at   BIGINT       NOT NULL,
    heartbeat_at BIGINT       NOT NULL,
    ended_at     BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE runs (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uid             VARCHAR(64)  NOT NULL UNIQUE,
    experiment_id   BIGINT       NOT NULL,
    trial_id        BIGINT       NOT NULL,
    `repeat`        BIGINT       NOT NULL,
    attempt         BIGINT       NOT NULL DEFAULT 1,
    status          VARCHAR(32)  NOT NULL,
    created_at      BIGINT       NOT NULL,
    started_at      BIGINT,
    ended_at        BIGINT,
    host            VARCHAR(255),
    pid             BIGINT,
    pid_started     BIGINT,
    runner_id       BIGINT,
    exit_code       BIGINT,
    `signal`        BIGINT,
    error           MEDIUMTEXT,
    config          MEDIUMTEXT   NOT NULL,
    config_hash     VARCHAR(128) NOT NULL,
    seed            BIGINT,
    command         MEDIUMTEXT,
    run_dir         TEXT,
    git_commit      VARCHAR(64),
    git_dirty       BIGINT,
    events_offset   BIGINT       NOT NULL DEFAULT 0,
    malformed_lines BIGINT       NOT NULL DEFAULT 0,
    KEY runs_by_experiment (experiment_id, status),
    KEY runs_by_trial (trial_id, `repeat`),
    KEY runs_by_identity (experiment_id, trial_id, `repeat`, config_hash),
    KEY runs_by_status (status),
    FOREIGN KEY (experiment_id) REFERENCES experiments (id) ON DELETE CASCADE,
    FOREIGN KEY (trial_id) REFERENCES trials (id) ON DELETE CASCADE,
    FOREIGN KEY (runner_id) REFERENCES runners (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE params (
    run_id     BIGINT       NOT NULL,
    `key`      VARCHAR(512) NOT NULL,
    value_type VARCHAR(16)  NOT NULL,
    value_text MEDIUMTEXT,
    value_num  DOUBLE,
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE metrics (
    -- SQLite's rowid: the order points were recorded in.
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_id      BIGINT       NOT NULL,
    `key`       VARCHAR(255) NOT NULL,
    step        BIGINT       NOT NULL,
    epoch       BIGINT,
    value       DOUBLE,
    `timestamp` BIGINT       NOT NULL,
    KEY metrics_by_run_key_step (run_id, `key`, step),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE tags (
    run_id BIGINT       NOT NULL,
    `key`  VARCHAR(255) NOT NULL,
    value  MEDIUMTEXT   NOT NULL,
    PRIMARY KEY (run_id, `key`),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE artifacts (
    id         BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_id     BIGINT      NOT NULL,
    path       TEXT        NOT NULL,
    size       BIGINT,
    sha256     VARCHAR(64),
    kind       VARCHAR(32) NOT NULL,
    epoch      BIGINT,
    created_at BIGINT      NOT NULL,
    deleted_at BIGINT,
    KEY artifacts_by_run (run_id),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE hardware_samples (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    run_id      BIGINT,
    `timestamp` BIGINT NOT NULL,
    host        VARCHAR(255),
    cpu_percent DOUBLE,
    mem_used    BIGINT,
    mem_total   BIGINT,
    gpu_percent DOUBLE,
    gpu_mem     BIGINT,
    data        MEDIUMTEXT,
    KEY hardware_by_run_time (run_id, `timestamp`),
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE events (
    id            BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    `timestamp`   BIGINT      NOT NULL,
    user_name     VARCHAR(255),
    host          VARCHAR(255),
    pid           BIGINT,
    experiment_id BIGINT,
    run_id        BIGINT,
    kind          VARCHAR(64) NOT NULL,
    detail        MEDIUMTEXT,
    KEY events_by_run (run_id),
    FOREIGN KEY (experiment_id) REFERENCES experiments (id) ON DELETE CASCADE,
    FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
