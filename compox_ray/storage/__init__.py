"""Storage: blobs (fsspec) and records (SQLite behind one actor)."""
