-- What each tracker (MLflow, TensorBoard, CSV, log, or one a Rust user
-- adds) has acknowledged, so that a back end that was down catches up
-- later (`expman sync`, after a restart too) without being sent anything
-- twice. `tracker` is the tracker's name and target (`mlflow@1a2b3c4d`).
--
-- kind: experiment | trial | run (local_id: its id; remote_id: the back
-- end's id for it) | cursor.metrics, cursor.hardware (local_id: the
-- experiment; remote_id: the last rowid sent). `data` is JSON the tracker
-- keeps (file lengths, fingerprints of what was sent); `done` marks an
-- entity whose end was sent.
CREATE TABLE tracker_state (
    tracker    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    local_id   INTEGER NOT NULL,
    remote_id  TEXT,
    data       TEXT,
    done       INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tracker, kind, local_id)
);

-- Per tracker: when it last worked, and the last failure.
CREATE TABLE tracker_status (
    tracker    TEXT    PRIMARY KEY,
    last_ok_at INTEGER,
    last_error TEXT,
    failures   INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
