-- Deployed algorithms: one row per name + major version. name_key (lower-case name) makes the
-- lookup case-insensitive, as Compox's GET /algorithm/{name}/{major} is.
CREATE TABLE algorithms (
    algorithm_id  TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    major         TEXT NOT NULL,
    removable     INTEGER NOT NULL,
    exportable    INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    UNIQUE (name_key, major)
);

-- Minor versions. manifest is the validated [tool.compox] as JSON (parameters, devices, type of
-- this minor); package_digest names its content (package_files), shared by identical packages.
CREATE TABLE algorithm_versions (
    algorithm_id       TEXT NOT NULL REFERENCES algorithms (algorithm_id) ON DELETE CASCADE,
    minor              INTEGER NOT NULL,
    package_digest     TEXT NOT NULL,
    manifest           TEXT NOT NULL,
    deployed_at        REAL NOT NULL,
    PRIMARY KEY (algorithm_id, minor)
);
CREATE INDEX algorithm_versions_digest ON algorithm_versions (package_digest);

-- The files of a package: path -> content hash (blob content/<sha256>).
CREATE TABLE package_files (
    package_digest  TEXT NOT NULL,
    path            TEXT NOT NULL,
    content_sha256  TEXT NOT NULL,
    size            INTEGER NOT NULL,
    PRIMARY KEY (package_digest, path)
);
CREATE INDEX package_files_content ON package_files (content_sha256);

-- Content that nothing references (yet, or any more): uploaded by a deploy still in progress, or
-- released by a delete. The sweep deletes its blob once it is older than the grace period and
-- still unreferenced; registering a version that uses it removes the row.
CREATE TABLE package_content_pending (
    content_sha256  TEXT PRIMARY KEY,
    since           REAL NOT NULL
);

-- Asynchronous deploys (POST /api/v0/deploy/local-async). lease_until is renewed by the Api
-- replica running the deploy; a RUNNING deploy whose lease expired lost its replica.
CREATE TABLE deploy_jobs (
    deploy_id                TEXT PRIMARY KEY,
    status                   TEXT NOT NULL,
    path                     TEXT NOT NULL,
    algorithm_id             TEXT,
    algorithm_name           TEXT,
    algorithm_major_version  TEXT,
    algorithm_minor_version  TEXT,
    time_started             REAL NOT NULL,
    time_completed           REAL,
    log                      TEXT,
    lease_until              REAL
);
