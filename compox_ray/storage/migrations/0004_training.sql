-- Samples point at files (pinned through file_pins, holder "sample:<id>"); tags are normalised.
CREATE TABLE samples (
    sample_id     TEXT PRIMARY KEY,
    files         TEXT NOT NULL,
    time_created  REAL NOT NULL
);
CREATE TABLE sample_tags (
    sample_id  TEXT NOT NULL REFERENCES samples (sample_id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (sample_id, tag)
);
CREATE INDEX sample_tags_tag ON sample_tags (tag);

CREATE TABLE trainings (
    training_id              TEXT PRIMARY KEY,
    algorithm_id             TEXT NOT NULL,
    algorithm_minor_version  TEXT,
    checkpoint_id            TEXT,
    training_data            TEXT NOT NULL,
    additional_parameters    TEXT NOT NULL,
    tags                     TEXT NOT NULL,
    resources                TEXT NOT NULL DEFAULT '{}',
    state                    TEXT NOT NULL DEFAULT '{}',
    output_checkpoint_ids    TEXT NOT NULL DEFAULT '[]',
    status                   TEXT NOT NULL,
    progress                 REAL NOT NULL DEFAULT 0,
    log                      TEXT NOT NULL DEFAULT '',
    time_started             REAL NOT NULL,
    time_completed           REAL,
    stop_requested           INTEGER NOT NULL DEFAULT 0,
    lease_owner              TEXT,
    lease_expires_at         REAL,
    revision                 INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX trainings_status ON trainings (status);

CREATE TABLE training_events (
    training_id  TEXT NOT NULL REFERENCES trainings (training_id) ON DELETE CASCADE,
    revision     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    progress     REAL NOT NULL,
    log_length   INTEGER NOT NULL,
    PRIMARY KEY (training_id, revision)
);

-- assets: {relative path: sha256}; the bytes are blobs "content/<sha256>", shared by content.
CREATE TABLE checkpoints (
    checkpoint_id            TEXT PRIMARY KEY,
    training_id              TEXT NOT NULL,
    parent_algorithm_id      TEXT NOT NULL,
    algorithm_minor_version  TEXT,
    parent_checkpoint_id     TEXT,
    created_at               REAL NOT NULL,
    properties               TEXT NOT NULL,
    tags                     TEXT NOT NULL,
    assets                   TEXT NOT NULL
);
CREATE INDEX checkpoints_training ON checkpoints (training_id);
CREATE TABLE checkpoint_tags (
    checkpoint_id  TEXT NOT NULL REFERENCES checkpoints (checkpoint_id) ON DELETE CASCADE,
    tag            TEXT NOT NULL,
    PRIMARY KEY (checkpoint_id, tag)
);
CREATE INDEX checkpoint_tags_tag ON checkpoint_tags (tag);
