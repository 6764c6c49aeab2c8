"""SQLite through aiosqlite: one writer connection, one reader connection, versioned migrations.

The RecordStore actor opens the database for writing and migrates it. Write transactions are
serialised by a lock (one aiosqlite connection would otherwise share one transaction across
coroutines); reads go through a second connection and see every committed write (WAL). Other
processes on its node may open it ``query_only`` (see record_reads.py): a reader connection only.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import aiosqlite

from compox_ray import metrics

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) for every file in storage/migrations, in order."""
    found = []
    for entry in files("compox_ray.storage").joinpath("migrations").iterdir():
        if match := _MIGRATION_NAME.match(entry.name):
            found.append((int(match.group(1)), entry.read_text()))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {versions}")
    return found


class Database:
    def __init__(self, path: Path, query_only: bool = False):
        self.path = Path(path)
        self.query_only = query_only
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()

    async def _ensure_open(self) -> None:
        if self._reader is not None:
            return
        async with self._open_lock:
            if self._reader is not None:
                return
            writer = None
            if not self.query_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                writer = await aiosqlite.connect(self.path, isolation_level=None)
                await writer.execute("PRAGMA journal_mode=WAL")
                await writer.execute("PRAGMA synchronous=NORMAL")
                await writer.execute("PRAGMA foreign_keys=ON")
                await writer.execute("PRAGMA busy_timeout=5000")
                await self._migrate(writer)
                writer.row_factory = aiosqlite.Row
            reader = await aiosqlite.connect(self.path, isolation_level=None)
            await reader.execute("PRAGMA busy_timeout=5000")
            if self.query_only:
                await reader.execute("PRAGMA query_only=ON")
            reader.row_factory = aiosqlite.Row
            self._writer, self._reader = writer, reader

    @staticmethod
    async def _migrate(connection: aiosqlite.Connection) -> None:
        async with connection.execute("PRAGMA user_version") as cursor:
            (current,) = await cursor.fetchone()
        for version, sql in migrations():
            if version > current:
                await connection.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={version};\nCOMMIT;")

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return row["user_version"]

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; commits on success, rolls back on any error."""
        await self._ensure_open()
        if self._writer is None:
            raise RuntimeError(f"{self.path} is open query_only")
        started = time.perf_counter()
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
        metrics.observe_records_latency("write", time.perf_counter() - started)  # queueing for the lock included

    async def fetch_all(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        await self._ensure_open()
        started = time.perf_counter()
        rows = [dict(row) for row in await self._reader.execute_fetchall(sql, params)]
        metrics.observe_records_latency("read", time.perf_counter() - started)
        return rows

    async def fetch_one(self, sql: str, params: tuple | dict = ()) -> dict | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        for connection in (self._writer, self._reader):
            if connection is not None:
                await connection.close()
        self._writer = self._reader = None


async def fetch_all(connection: aiosqlite.Connection, sql: str, params: tuple | dict = ()) -> list[dict]:
    """Read inside a write transaction (sees its own uncommitted writes)."""
    # One hand-off to the connection's thread, not three (execute, fetch, close).
    return [dict(row) for row in await connection.execute_fetchall(sql, params)]
