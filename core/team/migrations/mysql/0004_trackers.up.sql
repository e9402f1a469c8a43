-- As ../0004_trackers.up.sql.
CREATE TABLE tracker_state (
    tracker    VARCHAR(255) NOT NULL,
    kind       VARCHAR(64)  NOT NULL,
    local_id   BIGINT       NOT NULL,
    remote_id  VARCHAR(255),
    data       MEDIUMTEXT,
    done       BIGINT       NOT NULL DEFAULT 0,
    updated_at BIGINT       NOT NULL,
    PRIMARY KEY (tracker, kind, local_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE tracker_status (
    tracker    VARCHAR(255) NOT NULL PRIMARY KEY,
    last_ok_at BIGINT,
    last_error MEDIUMTEXT,
    failures   BIGINT       NOT NULL DEFAULT 0,
    updated_at BIGINT       NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
