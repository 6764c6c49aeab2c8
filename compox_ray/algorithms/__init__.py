"""Algorithm packages: their metadata, staging and storage by content hash, isolated import, loading."""
