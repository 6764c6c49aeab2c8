"""Claims on v1 uploads being adopted (a part of the RecordStore actor).

A client that named an object and PUT it by URL has it adopted where the name is first referenced
(services/object_transfers.py): validated, stored as the file's blob, recorded. One caller at a
time may do that for a name, cluster-wide, so two first references of one name never both write
its blob: the blob a record points at is written once, before the record. A claim runs out at
``until`` (its holder died); the next caller then takes it over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from compox_ray import timestamps
from compox_ray.storage.change_notifier import ChangeNotifier
from compox_ray.storage.database import Database, fetch_all

UPLOADS_PREFIX = "uploads"


def upload_blob_key(file_id: str) -> str:
    """Where a v1 upload of ``file_id`` is staged until it is adopted (no record ever points here)."""
    return f"{UPLOADS_PREFIX}/{file_id}"


class FileAdoptionRecords:
    db: Database
    changes: ChangeNotifier
    insert_files_in: Callable[..., Awaitable[list[dict]]]  # FileRecords'

    async def claim_file_adoption(self, file_id: str, holder: str, now: float, hold_s: float) -> dict:
        """``{"record": <file record>}`` when the file has one already; else ``{"claimed": True}``
        when ``holder`` may adopt it now (until ``now + hold_s``), ``{"claimed": False}`` while
        another holder does."""
        async with self.db.write() as conn:
            records = await fetch_all(conn, "SELECT * FROM files WHERE file_id = ?", (file_id,))
            if records:
                return {"record": records[0], "claimed": False}
            claims = await fetch_all(conn, "SELECT holder, until FROM file_adoptions WHERE file_id = ?", (file_id,))
            if claims and claims[0]["holder"] != holder and claims[0]["until"] >= now:
                return {"record": None, "claimed": False}
            await conn.execute(
                "INSERT INTO file_adoptions (file_id, holder, until) VALUES (?, ?, ?) ON CONFLICT (file_id) "
                "DO UPDATE SET holder = excluded.holder, until = excluded.until", (file_id, holder, now + hold_s))
        return {"record": None, "claimed": True}

    async def finish_file_adoption(self, file_id: str, holder: str, size: int, now: float) -> dict | None:
        """Record the adopted file and release the claim in one transaction; None (nothing written)
        if the claim is no longer the holder's."""
        async with self.db.write() as conn:
            cursor = await conn.execute("DELETE FROM file_adoptions WHERE file_id = ? AND holder = ?",
                                        (file_id, holder))
            record = None
            if cursor.rowcount:
                record, = await self.insert_files_in(conn, [(file_id, size, now)])
        self.changes.notify(f"file_adoptions:{file_id}")
        return record

    async def release_file_adoption(self, file_id: str, holder: str) -> None:
        """An adoption that failed: the next reference may try again."""
        async with self.db.write() as conn:
            await conn.execute("DELETE FROM file_adoptions WHERE file_id = ? AND holder = ?", (file_id, holder))
        self.changes.notify(f"file_adoptions:{file_id}")

    async def wait_file_adoption(self, file_id: str, timeout_s: float) -> bool:
        """Wait until no live claim is held on ``file_id``; False if one still is after ``timeout_s``."""
        with self.changes.listening(f"file_adoptions:{file_id}") as changed:
            claim = await self.db.fetch_one("SELECT until FROM file_adoptions WHERE file_id = ?", (file_id,))
            if claim is None or claim["until"] < timestamps.now():
                return True
            return await self.changes.changed(changed, timeout_s)

    async def _sweep_file_adoptions(self, conn, now: float) -> list[str]:
        """Claims whose holders died go (their staged objects are swept by the Housekeeper)."""
        await conn.execute("DELETE FROM file_adoptions WHERE until < ?", (now,))
        return []
