"""Records of uploaded files, their expiry and their pins (a part of the RecordStore actor)."""

from __future__ import annotations

import json

from compox_ray.errors import CompoxError
from compox_ray.storage.database import Database, fetch_all
from compox_ray.storage.file_adoption_records import upload_blob_key

# The ids as one JSON parameter, not one per id: any number stays under SQLite's variable limit.
_PRESENT_SQL = "SELECT file_id FROM files WHERE file_id IN (SELECT value FROM json_each(?))"


def file_blob_key(file_id: str) -> str:
    return f"files/{file_id}"


class FileRecords:
    db: Database
    file_expiry_s: float

    async def insert_file(self, file_id: str, size: int, now: float) -> dict:
        async with self.db.write() as conn:
            record, = await self.insert_files_in(conn, [(file_id, size, now)])
        return record

    async def insert_files_in(self, conn, files: list[tuple[str, int, float]]) -> list[dict]:
        """Inside a write transaction: records for blobs already stored, as (file_id, size, created_at)."""
        records = [{"file_id": file_id, "size": size, "created_at": created_at,
                    "expires_at": created_at + self.file_expiry_s} for file_id, size, created_at in files]
        if records:  # most run reports carry none: spare the hand-off to the connection's thread
            await conn.executemany("INSERT INTO files (file_id, size, created_at, expires_at) "
                                   "VALUES (:file_id, :size, :created_at, :expires_at)", records)
        return records

    async def get_file(self, file_id: str) -> dict | None:
        return await self.db.fetch_one("SELECT * FROM files WHERE file_id = ?", (file_id,))

    async def missing_files(self, file_ids: list[str]) -> list[str]:
        """The ids among ``file_ids`` that have no record, in the order given."""
        if not file_ids:
            return []
        rows = await self.db.fetch_all(_PRESENT_SQL, (json.dumps(file_ids),))
        present = {row["file_id"] for row in rows}
        return [file_id for file_id in dict.fromkeys(file_ids) if file_id not in present]

    async def delete_file(self, file_id: str) -> bool:
        """Delete the record; False if there was none. A file a sample references, or an active
        execution reads, stays (409): deleting it would break the sample or fail the run."""
        async with self.db.write() as conn:
            holders = [row["holder"].split(":", 1) for row in await fetch_all(
                conn, "SELECT holder FROM file_pins WHERE file_id = ?", (file_id,))]
            if samples := sorted(key for kind, key in holders if kind == "sample"):
                raise CompoxError(409, "file_referenced_by_sample",
                                  f"File {file_id} is referenced by {len(samples)} sample(s); delete them first.",
                                  sample_ids=samples)
            if executions := sorted(key for kind, key in holders if kind == "execution"):
                raise CompoxError(409, "file_in_use",
                                  f"File {file_id} is an input of {len(executions)} active execution(s); delete it "
                                  "once they have ended.", retryable=True, execution_ids=executions)
            cursor = await conn.execute("DELETE FROM files WHERE file_id = ?", (file_id,))
            return cursor.rowcount > 0

    @staticmethod
    async def pin_files_in(conn, holder: str, file_ids: list[str]) -> list[str]:
        """Inside a write transaction: pin every file, or none and return the missing ids."""
        unique = list(dict.fromkeys(file_ids))
        if not unique:
            return []
        rows = await fetch_all(conn, _PRESENT_SQL, (json.dumps(unique),))
        present = {row["file_id"] for row in rows}
        missing = [file_id for file_id in unique if file_id not in present]
        if not missing:
            await conn.executemany("INSERT OR IGNORE INTO file_pins (file_id, holder) VALUES (?, ?)",
                                   [(file_id, holder) for file_id in unique])
        return missing

    async def pin_files(self, holder: str, file_ids: list[str]) -> list[str]:
        async with self.db.write() as conn:
            return await self.pin_files_in(conn, holder, file_ids)

    async def release_pins_in(self, conn, holder: str, now: float) -> None:
        """Inside a write transaction: drop the holder's pins; files left unpinned expire afresh."""
        rows = await fetch_all(conn, "SELECT file_id FROM file_pins WHERE holder = ?", (holder,))
        await conn.execute("DELETE FROM file_pins WHERE holder = ?", (holder,))
        released = [(now + self.file_expiry_s, row["file_id"]) for row in rows]
        await conn.executemany(
            "UPDATE files SET expires_at = MAX(COALESCE(expires_at, 0), ?) WHERE file_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM file_pins p WHERE p.file_id = files.file_id)", released)

    async def release_pins(self, holder: str, now: float) -> None:
        async with self.db.write() as conn:
            await self.release_pins_in(conn, holder, now)

    async def file_pins(self, file_id: str) -> list[str]:
        rows = await self.db.fetch_all("SELECT holder FROM file_pins WHERE file_id = ? ORDER BY holder", (file_id,))
        return [row["holder"] for row in rows]

    async def _sweep_files(self, conn, now: float) -> list[str]:
        """Expired, unpinned files: their records go now, their blob keys are returned."""
        rows = await fetch_all(
            conn,
            "DELETE FROM files WHERE expires_at IS NOT NULL AND expires_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM file_pins p WHERE p.file_id = files.file_id) RETURNING file_id",
            (now,))
        # A staged v1 upload of the name goes too (a PUT to an old URL after adoption): it must not
        # be adopted as the expired file's successor.
        return [key for row in rows for key in (file_blob_key(row["file_id"]), upload_blob_key(row["file_id"]))]
