-- One row per execution. JSON columns hold lists/dicts as text. revision counts every change
-- (the id of the server-sent event that carries it); execution_events keeps one row per revision
-- so a client that reconnects with Last-Event-ID can be replayed what it missed.
CREATE TABLE executions (
    execution_id               TEXT PRIMARY KEY,
    algorithm_id               TEXT NOT NULL,
    algorithm_minor_version    TEXT,
    checkpoint_id              TEXT,
    input_dataset_ids          TEXT NOT NULL,
    execution_device_override  TEXT,
    resolved_execution_device  TEXT,
    device_class               TEXT NOT NULL,
    additional_parameters      TEXT NOT NULL,
    session_token              TEXT,
    output_dataset_ids         TEXT NOT NULL DEFAULT '[]',
    status                     TEXT NOT NULL,
    progress                   REAL NOT NULL DEFAULT 0,
    log                        TEXT NOT NULL DEFAULT '',
    time_started               REAL NOT NULL,
    time_completed             REAL,
    stop_requested             INTEGER NOT NULL DEFAULT 0,
    lease_owner                TEXT,
    lease_expires_at           REAL,
    queue_seq                  INTEGER NOT NULL,
    revision                   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX executions_status ON executions (status, device_class, queue_seq);
CREATE INDEX executions_completed ON executions (time_completed);

CREATE TABLE execution_events (
    execution_id  TEXT NOT NULL REFERENCES executions (execution_id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    status        TEXT NOT NULL,
    progress      REAL NOT NULL,
    log_length    INTEGER NOT NULL,
    PRIMARY KEY (execution_id, revision)
);
