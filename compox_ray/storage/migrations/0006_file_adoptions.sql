-- A v1 upload (an object a client named and PUT by URL) is adopted by one caller at a time,
-- cluster-wide: the holder of a row here validates and stores it, others wait for its record.
-- A row past `until` belongs to an adopter that died and may be taken over.
CREATE TABLE file_adoptions (
    file_id  TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    until    REAL NOT NULL
);
