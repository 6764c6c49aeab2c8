-- Uploaded files. expires_at is NULL while the file must not expire on its own.
CREATE TABLE files (
    file_id     TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL
);
CREATE INDEX files_expires_at ON files (expires_at);

-- A pin keeps a file from expiring while its holder ("sample:<id>", "execution:<id>") needs it.
CREATE TABLE file_pins (
    file_id  TEXT NOT NULL REFERENCES files (file_id) ON DELETE CASCADE,
    holder   TEXT NOT NULL,
    PRIMARY KEY (file_id, holder)
);
CREATE INDEX file_pins_holder ON file_pins (holder);
